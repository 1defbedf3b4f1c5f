#include "iommu_sim/platform/platform.h"

#include <algorithm>

#include <tlm_utils/tlm_quantumkeeper.h>

#include "iommu_sim/common/messages.h"
#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/host/gated_workload.h"
#include "iommu_sim/iommu/vtd_format.h"
#include "iommu_sim/platform/workload_factory.h"
#ifdef IOMMU_SIM_HAVE_RTL
#include "iommu_sim/rtl/rtl_iotlb.h"
#endif

namespace iommu_sim {

namespace {
// A model's configuration error (msg::kConfig) is the description's fault: a ConfigError.
void throw_if_config_error(const sc_core::sc_report& e, const std::string& prefix = "") {
  if (std::string(e.get_msg_type()) == msg::kConfig) throw ConfigError(prefix + e.get_msg());
}

// The host's view of the physical address space: memory below 3 GiB and above 4 GiB; the hole
// between holds PCIe MMIO and ECAM, the IOMMU registers and the interrupt window.
constexpr uint64_t kLowMemoryEnd = 0xC0000000;
constexpr uint64_t kHighMemoryBase = 0x100000000ULL;
constexpr uint64_t kHighMemorySize = (1ULL << 52) - kHighMemoryBase;
}  // namespace

Platform::Platform(sc_core::sc_module_name name, const PlatformConfig& config, StatsRegistry& stats)
    : sc_module(name),
      m_config(config),
      m_stats(stats),
      m_memory("memory", config.memory, stats),
      m_host_bus("host_bus"),
      m_upstream("upstream"),
      m_interrupts("interrupts", stats),
      m_host("host", config.host, m_memory.storage(), stats) {
  if (!has_dma_source(config))
    throw ConfigError("the platform has no DMA source: add a `traffic:` item, or a "
                      "`pcie.endpoints` item with a workload other than none");
  tlm_utils::tlm_quantumkeeper::set_global_quantum(config.simulation.quantum);
  m_iommu = std::make_unique<Iommu>("iommu", config.iommu, stats, make_iotlb());
#ifdef IOMMU_SIM_HAVE_RTL
  // The IOMMU already publishes the IOTLB's counters; the RTL adds its clock cycle count.
  if (m_rtl_iotlb) {
    const RtlIotlb* rtl = m_rtl_iotlb;
    stats.cumulative(std::string(m_iommu->name()) + ".iotlb.rtl_cycles",
                     [rtl] { return static_cast<double>(rtl->rtl_cycles()); });
  }
#endif

  const uint64_t regs = config.iommu.register_base;
  const uint64_t regs_size = vtd::register_block_size(config.iommu.fault_records);
  if (regs < kLowMemoryEnd || regs + regs_size > kHighMemoryBase ||
      (regs + regs_size > InterruptSink::kMsiBase && regs < InterruptSink::kMsiBase + InterruptSink::kMsiSize)) {
    throw ConfigError("iommu.register_base: must lie in 0xC0000000-0xFFFFFFFF outside the "
                      "interrupt window 0xFEE00000-0xFEEFFFFF");
  }
  // Host bus: the windows are bound in the order they are added.
  const int memory_port = m_host_bus.add_window("memory_low", 0, kLowMemoryEnd, false);
  m_host_bus.initiator.bind(m_memory.socket);
  m_host_bus.add_window("iommu_regs", regs, regs_size, true);
  m_host_bus.initiator.bind(m_iommu->regs);
  m_host_bus.add_window("interrupts", InterruptSink::kMsiBase, InterruptSink::kMsiSize, false);
  m_host_bus.initiator.bind(m_interrupts.socket);
  m_host_bus.add_window("memory_high", kHighMemoryBase, kHighMemorySize, false, memory_port);
  m_host.bus.bind(m_host_bus.target);
  if (!config.pcie.endpoints.empty()) build_pcie();
  if (!config.devtlb_trace_path.empty()) {  // written even when no function has ATS
    m_devtlb_file = std::make_unique<std::ofstream>(config.devtlb_trace_path);
    if (!*m_devtlb_file)
      throw ConfigError("--devtlb-trace " + config.devtlb_trace_path + ": cannot open for writing");
    m_devtlb_trace = std::make_unique<IotlbTraceWriter>(*m_devtlb_file, config.devtlb_trace_style);
    m_devtlb_trace->comment("device-TLB access streams, one domain per function (its requester ID)");
    for (auto& ep : m_endpoints) ep->set_devtlb_trace(m_devtlb_trace.get());
  }

  m_iommu->memory.bind(m_memory.socket);
  if (m_config.interrupts_configured) {
    build_interrupts();
  } else {
    m_iommu->interrupt.bind(m_interrupts.socket);
  }
  m_interrupts.on_interrupt([this](const MsiMessage& msg) {
    if (msg.vector() == HostSetup::kFaultVector) m_host.fault_event();
  });

  // Every device's DMA enters the IOMMU through one upstream port.
  m_upstream.add_window("iommu", 0, UINT64_MAX, false);
  m_upstream.initiator.bind(m_iommu->upstream);
  if (m_root_complex) m_root_complex->upstream.bind(m_upstream.target);
  for (const TrafficSpec& t : config.traffic) {
    std::unique_ptr<Workload> inner = make_workload(t.workload);
    if (!inner) continue;
    auto workload = std::make_unique<GatedWorkload>(std::move(inner), m_host.ready_event(), m_host.ready());
    m_engines.push_back(std::make_unique<DmaEngine>(t.name.c_str(), t.requester_id,
                                                    std::move(workload), stats));
    if (t.has_pasid) m_engines.back()->set_pasid(t.pasid, t.privileged);
    m_engines.back()->socket.bind(m_upstream.target);
    m_active.push_back(m_engines.back().get());
  }
  SC_THREAD(completion_thread);
}

// The PCIe hierarchy: a root complex whose ECAM and BAR windows hang off the host bus, its
// upstream port into the IOMMU, and the endpoints. Workloads run on the PF and on every VF the
// host driver enables; the driver maps what each needs before devices may master the bus.
void Platform::build_pcie() {
  const PcieSpec& pcie = m_config.pcie;
  m_root_complex = std::make_unique<RootComplex>("root_complex", pcie.root_complex, m_stats);
  const RootComplexConfig& rc = pcie.root_complex;
  try {
    const int rc_port = m_host_bus.add_window("ecam", rc.ecam_base, rc.ecam_size(), false);
    m_host_bus.initiator.bind(m_root_complex->host);
    // The root complex's one host socket serves both of its windows.
    m_host_bus.add_window("pcie_mmio", rc.mmio_base, rc.mmio_size, false, rc_port);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("pcie: ") + e.what());
  } catch (const sc_core::sc_report& e) {
    throw_if_config_error(e, "pcie: ");
    throw;
  }
  const unsigned vfs = m_config.host.driver.num_vfs;
  for (const EndpointSpec& spec : pcie.endpoints) {
    std::vector<std::unique_ptr<Workload>> workloads;
    for (unsigned f = 0; f <= vfs; ++f) workloads.push_back(make_workload(spec.workload_of(f)));
    m_endpoints.push_back(std::make_unique<SriovEndpoint>(spec.name.c_str(), spec.endpoint,
                                                          std::move(workloads), m_stats));
    SriovEndpoint& ep = *m_endpoints.back();
    connect(*m_root_complex, ep);
    for (unsigned f = 0; f <= vfs; ++f) {
      if (spec.workload_of(f).kind != "none") m_active.push_back(&ep.engine(f));
    }
  }
  m_host.set_pcie_software([this](const DiscoveredFunction& f) { return software_of(f); });
  // ATS invalidate requests reach the functions through the root complex, routed by ID.
  if (m_config.iommu.device_tlbs) m_iommu->ats_invalidation.bind(m_root_complex->ats_in);
}

// The host's CPUs and guests behind the IOMMU's interrupt socket, and the host software that
// gives every function's MSI-X vectors an IRTE (VF g: guest g, remapped or posted; the PF: the
// host) once translation is on and before the devices may master the bus.
void Platform::build_interrupts() {
  try {
    m_apic = std::make_unique<ApicSystem>("apic", m_config.interrupts, m_memory.storage(),
                                          [this] { return m_host.tables().allocate_page(); }, m_stats);
    // Built now, while nothing else allocates: the table's pages must be contiguous.
    m_interrupt_setup = std::make_unique<InterruptSetup>(m_config.interrupt_setup, m_memory.storage(),
                                                         m_host.tables(), *m_apic);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  } catch (const sc_core::sc_report& e) {
    throw_if_config_error(e);
    throw;
  }
  m_iommu->interrupt.bind(m_apic->socket);
  m_apic->host_out.bind(m_interrupts.socket);
  // The probe that lets the host model time a posted interrupt from the device's MSI write.
  m_iommu->interrupt_remapper().on_posted = [this](const InterruptRemapper::PostedRecord& r) {
    m_apic->posted_requested(r.pda, r.vector, r.notified, r.time);
  };
  m_host.set_interrupt_software([this](MmioAccess& bus, MmioAccess& iommu, VtdRegisterProgrammer& vtd,
                                       const std::vector<DiscoveredFunction>& functions) {
    if (m_interrupt_setup->run(bus, iommu, vtd, functions)) return std::string();
    return "interrupt set-up: " + m_interrupt_setup->error();
  });
}

uint64_t Platform::interrupts_in_flight() const {
  if (!m_apic) return 0;
  uint64_t n = 0;
  for (unsigned g = 0; g < m_config.interrupts.guests.size(); ++g) {
    const ApicSystem::GuestStats& s = m_apic->guest_stats(g);
    n += s.requested->value() - std::min(s.requested->value(), s.seen->value());
  }
  return n;
}

FunctionSoftware Platform::software_of(const DiscoveredFunction& f) const {
  for (size_t e = 0; e < m_endpoints.size(); ++e) {
    const SriovEndpoint& ep = *m_endpoints[e];
    for (unsigned fn = 0; fn < ep.function_count(); ++fn) {
      if (ep.routing_id(fn) != f.rid) continue;
      const EndpointSpec& spec = m_config.pcie.endpoints[e];
      return software_for(spec.workload_of(fn),
                          std::min(m_config.iommu.address_width,
                                   vtd::levels_to_width(m_config.host.driver.levels)));
    }
  }
  return FunctionSoftware{};
}

std::unique_ptr<Iotlb> Platform::make_iotlb() {
  if (m_config.iotlb_impl != "rtl") return nullptr;  // the IOMMU builds the C++ model
#ifdef IOMMU_SIM_HAVE_RTL
  std::string error;
  auto rtl = make_rtl_iotlb_adapter(m_config.iommu.iotlb, error, "iotlb_rtl");
  if (!rtl) throw ConfigError("iommu.iotlb.impl: rtl: " + error);
  m_rtl_iotlb = rtl.get();
  return rtl;
#else
  throw ConfigError(
      "iommu.iotlb.impl: rtl: this build has no RTL IOTLB (configure with -DIOMMU_RTL=ON; needs "
      "Verilator)");
#endif
}

void Platform::trace_to(VcdWriter& vcd, const std::string& rtl_waves_path) {
  // Every block records at sc_time_stamp() + its annotated delay: nothing earlier than the
  // kernel's time can come any more (less a nanosecond for the blocks' own rounding to ps).
  vcd.set_watermark([] {
    const uint64_t now = static_cast<uint64_t>(sc_core::sc_time_stamp().to_seconds() * 1e12);
    return now > 1000 ? now - 1000 : 0;
  });
  // Each DMA engine has one request in flight at a time: a lane per engine draws every
  // translation (one spare for the host's own accesses).
  m_iommu->trace_to(vcd, static_cast<unsigned>(m_active.size()) + 1);  // the interrupt remapper's too
  for (auto& ep : m_endpoints) ep->trace_to(vcd);  // each function's ATS signals
  if (m_apic) m_apic->trace_to(vcd);  // each vCPU's state and pending interrupts
#ifdef IOMMU_SIM_HAVE_RTL
  // On the platform's time base (ps), at the kernel's time of each cycle.
  if (m_rtl_iotlb && !rtl_waves_path.empty())
    m_rtl_iotlb->trace_to(rtl_waves_path, [] {
      return static_cast<uint64_t>(sc_core::sc_time_stamp().to_seconds() * 1e12 + 0.5);
    });
#else
  static_cast<void>(rtl_waves_path);
#endif
}

void Platform::completion_thread() {
  for (DmaEngine* e : m_active) {
    if (!e->finished()) sc_core::wait(e->done());
  }
  m_done = true;
  m_end_time = sc_core::sc_time_stamp();
  // Interrupts waiting for a descheduled vCPU arrive at its next schedule-in: run on until the
  // guests have seen all they were sent, so that the latency figures include them. A vCPU is
  // off for at most one period, so two of the longest bound the wait.
  sc_core::sc_time longest = sc_core::SC_ZERO_TIME;
  for (const GuestSpec& g : m_config.interrupts.guests)
    for (const VcpuSpec& v : g.vcpus) longest = std::max(longest, v.schedule.run + v.schedule.off);
  const sc_core::sc_time give_up = sc_core::sc_time_stamp() + 2 * longest;
  while (interrupts_in_flight() > 0 && sc_core::sc_time_stamp() < give_up)
    sc_core::wait(m_config.simulation.quantum);
  sc_core::sc_stop();
}

PlatformOutcome Platform::run_setup() {
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  // Stop at once when the host is ready, from its own thread: nothing it releases may start.
  sc_core::sc_set_stop_mode(sc_core::SC_STOP_IMMEDIATE);
  bool set_up = false;
  m_host.set_ready_hook([&set_up] {
    set_up = true;
    sc_core::sc_stop();
  });
  sc_core::sc_start();  // stops at ready, or runs dry when the set-up failed
  PlatformOutcome outcome;
  outcome.ok = m_host.ok() && set_up;
  if (!outcome.ok) outcome.message = m_host.ok() ? "the host set-up did not finish" : m_host.error();
  outcome.input_key = m_host.error_key();
  return outcome;
}

PlatformOutcome Platform::run(const IntervalSink& on_interval) {
  // The kernel's own notes ("simulation stopped by user") are not news to our users.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  const sc_core::sc_time limit = m_config.simulation.max_time;
  const MeasurementConfig measure{m_config.simulation.warmup, m_config.simulation.stats_interval};
  const sc_core::sc_time measured_from = run_measured(m_stats, measure, limit, on_interval);
  PlatformOutcome outcome;
  outcome.workloads_done = m_done;
  outcome.end_time = m_done ? m_end_time : sc_core::sc_time_stamp();
  outcome.measured_from = std::min(measured_from, outcome.end_time);
  if (!m_host.ok()) {
    outcome.ok = false;
    outcome.message = m_host.error();
    outcome.input_key = m_host.error_key();
  } else if (!m_done && limit == sc_core::SC_ZERO_TIME) {
    outcome.ok = false;
    outcome.message = "nothing left to simulate but some workloads never finished";
  }
  std::vector<std::string> engines;
  for (DmaEngine* e : m_active) engines.push_back(e->name());
  register_summary(m_stats, m_iommu->name(), engines, outcome);
  if (m_config.iommu.scalable.enabled) register_scalable_summary(m_stats, m_iommu->name());
  if (m_apic) {
    m_apic->settle(sc_core::sc_time_stamp());
    std::vector<std::string> guests;
    for (const GuestSpec& g : m_config.interrupts.guests) guests.push_back(g.name);
    register_interrupt_summary(m_stats, m_iommu->name(), m_apic->name(), guests);
  }
  return outcome;
}

std::vector<DmaSource> Platform::dma_sources() const {
  std::vector<DmaSource> out;
  auto domain_of = [this](uint16_t rid, uint32_t pasid = 0) -> uint16_t {
    for (const DomainSpec& d : m_config.host.domains)
      for (uint16_t dev : d.devices)
        if (dev == rid && d.pasid == pasid) return d.id;
    for (const DiscoveredFunction& f : m_host.functions())
      if (f.rid == rid) return f.domain;
    return 0;
  };
  for (size_t i = 0; i < m_engines.size(); ++i) {
    const DmaEngine& e = *m_engines[i];
    out.push_back(DmaSource{e.basename(), e.name(), e.requester_id(),
                            domain_of(e.requester_id(), e.has_pasid() ? e.pasid() : 0)});
  }
  for (const auto& ep : m_endpoints) {
    for (unsigned f = 0; f < ep->function_count(); ++f) {
      DmaEngine& e = ep->engine(f);
      if (std::find(m_active.begin(), m_active.end(), &e) == m_active.end()) continue;
      const uint16_t rid = ep->routing_id(f);
      out.push_back(DmaSource{std::string(ep->basename()) + "." + e.basename(), e.name(), rid, domain_of(rid)});
    }
  }
  return out;
}

std::vector<FaultRecord> Platform::fault_records() const {
  // What the host's fault handler read, then whatever is still in the ring.
  std::vector<FaultRecord> out;
  for (const VtdFault& f : m_host.faults_handled())
    out.push_back(FaultRecord{f.source_id, f.reason, f.address, f.is_read});
  for (unsigned i = 0; i < m_config.iommu.fault_records; ++i) {
    const uint64_t lo = m_iommu->peek_register(vtd::kRegFrcd + i * vtd::kFrcdSize, 8);
    const uint64_t hi = m_iommu->peek_register(vtd::kRegFrcd + i * vtd::kFrcdSize + 8, 8);
    if (!(hi >> 63)) continue;
    out.push_back(FaultRecord{static_cast<uint16_t>(hi & 0xFFFF), static_cast<uint8_t>((hi >> 32) & 0xFF),
                              lo & ~0xFFFULL, static_cast<bool>((hi >> 62) & 1)});
  }
  return out;
}

}  // namespace iommu_sim
