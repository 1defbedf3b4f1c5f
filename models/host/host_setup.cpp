#include "iommu_sim/host/host_setup.h"

#include <cstring>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/common/messages.h"

namespace iommu_sim {

namespace {
TranslationType translation_type(const std::string& t) {
  if (t == "pass-through") return TranslationType::PassThrough;
  if (t == "blocked") return TranslationType::Reserved;  // TT=3: an invalid context (0x3)
  return TranslationType::Untranslated;
}
}  // namespace

HostSetup::HostSetup(sc_core::sc_module_name name, const HostSetupConfig& config,
                     SparseMemory& memory, StatsRegistry& stats)
    : sc_module(name),
      bus("bus"),
      m_config(config),
      m_memory(memory),
      m_tables(memory, config.table_base, config.table_size),
      m_iommu_regs(bus, config.register_base, [this](const sc_core::sc_time& d) { synchronise(d); }),
      m_bus(bus, 0, [this](const sc_core::sc_time& d) { synchronise(d); }),
      m_mmio_accesses(stats.counter(std::string(this->name()) + ".mmio_accesses")),
      m_faults_handled(stats.counter(std::string(this->name()) + ".faults_handled")) {
  // Tables first: they are plain memory contents, ready before time 0.
  try {
    if (m_config.tables == "scalable") {
      build_scalable_tables();
    } else {
      for (const DomainSpec& d : m_config.domains) {
        m_tables.create_domain(d.id, d.levels);
        for (uint16_t rid : d.devices) {
          m_tables.set_context(rid, d.id, d.levels, translation_type(d.translation),
                               d.fault_processing_disable);
        }
        for (const MappingSpec& m : d.mappings) {
          m_tables.map(d.id, m.iova, m.phys, m.size, m.read, m.write, m.page);
        }
      }
    }
  } catch (const TableMemoryExhausted& e) {
    fail_table_memory(e);
  } catch (const std::runtime_error& e) {
    fail_input("host.domains", e.what());  // a guest's table region is full
  }
  SC_THREAD(setup_thread);
  SC_THREAD(fault_handler_thread);
}

bool HostSetup::run_pcie_driver() {
  m_strategy = std::make_unique<MapOnceStrategy>(m_tables);
  m_driver = std::make_unique<HostDriver>(m_config.driver, m_bus, m_memory, m_tables, *m_strategy);
  m_functions = m_driver->enumerate();
  if (!m_driver->ok()) {
    fail_input("pcie.mmio_size", "PCIe enumeration: " + m_driver->error());
    return false;
  }
  m_driver->enable_ats(get_bit(m_iommu_regs.read(vtd::kRegEcap, 8), vtd::kEcapDt));
  m_driver->assign_domains();
  m_functions = m_driver->functions();
  for (unsigned i = 0; i < m_functions.size(); ++i) {
    const FunctionSoftware sw = m_software_for ? m_software_for(m_functions[i]) : FunctionSoftware{};
    const IovaWriter writer = m_driver->map_regions(i, sw.regions);
    if (!m_driver->ok()) {
      fail_input("host.driver.buffer_size", "PCIe driver: " + m_driver->error());
      return false;
    }
    if (sw.fill) sw.fill(writer);
  }
  return true;
}

void HostSetup::fault_handler_thread() {
  for (;;) {
    sc_core::wait(m_fault_event);
    VtdRegisterProgrammer vtd(m_iommu_regs, m_memory);
    for (const VtdFault& f : vtd.drain_faults()) {
      m_faults.push_back(f);
      m_faults_handled.inc();
    }
  }
}

void HostSetup::setup_thread() {
  // The table builder and the driver throw when the memory they were given runs out: the
  // description asked for more than it provided, which is the user's to fix, not a crash.
  if (!m_ok) return;  // the static tables did not fit
  try {
    set_up();
  } catch (const TableMemoryExhausted& e) {
    fail_table_memory(e);
  }
}

void HostSetup::fail_table_memory(const TableMemoryExhausted& e) {
  fail_input("host.table_size", std::string(e.what()) + " (host.table_size is " +
                                    std::to_string(m_config.table_size) + " bytes)");
}

void HostSetup::fail_input(const std::string& key, const std::string& message) {
  m_ok = false;
  m_error_key = key;
  m_error = message;
}

void HostSetup::set_up() {
  VtdRegisterProgrammer vtd(m_iommu_regs, m_memory);
  // Fault events go to the host's interrupt window (CPU 0, the driver's fault vector), unmasked.
  m_iommu_regs.write(vtd::kRegFedata, kFaultVector, 4);
  m_iommu_regs.write(vtd::kRegFeaddr, kFaultEventAddress, 4);
  m_iommu_regs.write(vtd::kRegFeuaddr, 0, 4);
  m_iommu_regs.write(vtd::kRegFectl, 0, 4);
  if (m_config.pcie && !run_pcie_driver()) return;
  if (m_scalable) attach_functions_scalable();
  if (m_config.invalidation == "queued") {
    const uint64_t queue = m_tables.allocate_page();
    const uint64_t status = m_tables.allocate_page();
    // Scalable mode: 256-bit descriptors (IQA.DW), as the PASID-based ones may need.
    if (!vtd.enable_queued_invalidation(queue, 0, status, m_scalable != nullptr)) {
      fail("the IOMMU did not enable its invalidation queue (GSTS.QIES)");
      return;
    }
  }
  if (!vtd.enable(m_scalable ? m_scalable->root_table() : m_tables.root_table(), m_scalable != nullptr)) {
    fail("the IOMMU did not enable translation (GSTS.RTPS/TES)");
    return;
  }
  if (!flush_device_tlbs(vtd)) return;
  if (m_interrupt_software) {
    const std::string err = m_interrupt_software(m_bus, m_iommu_regs, vtd, m_functions);
    if (!err.empty()) {
      fail(err);
      return;
    }
  }
  if (m_ready_hook) m_ready_hook();
  // Devices start only once their domains translate: Bus Master Enable comes last.
  if (m_driver) m_driver->start_devices();
  m_ready = true;
  m_ready_event.notify(sc_core::SC_ZERO_TIME);
}

bool HostSetup::flush_device_tlbs(VtdRegisterProgrammer& vtd) {
  // The functions came from the host's own domain to their guests': what their device-TLBs may
  // hold from before goes, as Linux invalidates a function's device-TLB whole when it takes the
  // function out of a domain (domain_context_clear_one).
  bool any = false;
  for (const DiscoveredFunction& f : m_functions) {
    if (!f.ats) continue;
    if (!vtd.queued_invalidation_enabled()) {
      fail("ATS needs queued invalidation (host.invalidation: queued) to invalidate device-TLBs");
      return false;
    }
    bool s = false;
    const uint64_t all = ats::encode_range(ats::Range{0, 64}, s);
    // PFSID names a VF's PF; Linux leaves it 0 for a function that is no VF.
    vtd.submit(vtd::make_device_tlb_desc(f.rid, f.is_vf ? f.pf_rid : 0,
                                         f.ats_queue_depth >= 32 ? 0 : f.ats_queue_depth, all, s));
    any = true;
  }
  if (any && !vtd.sync()) {
    fail("a function never completed a device-TLB invalidation (FSTS.ITE)");
    return false;
  }
  return true;
}

void HostSetup::fail(const std::string& what) {
  m_ok = false;
  m_error = what;
  SC_REPORT_ERROR(msg::kHost, (std::string(name()) + ": " + what).c_str());
}

// Register programming is not on a hot path: the host thread waits out every access.
void HostSetup::synchronise(const sc_core::sc_time& delay) {
  m_mmio_accesses.inc();
  sc_core::wait(delay);
}

}  // namespace iommu_sim
