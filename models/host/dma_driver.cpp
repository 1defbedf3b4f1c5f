#include "iommu_sim/host/dma_driver.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "iommu_sim/common/bits.h"
#include "iommu_sim/common/messages.h"

namespace iommu_sim {

using sc_core::sc_time;
using sc_core::SC_NS;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kVictimBytes = 64ULL << 10;
constexpr uint64_t kDoorbellBatch = 16;  // descriptors posted per doorbell while refilling
}  // namespace

uint32_t DmaDriverConfig::stride() const {
  if (buffer_stride) return buffer_stride;
  uint32_t s = 2048;
  while (s < message_size) s <<= 1;
  return s;
}

std::string validate(const DmaDriverConfig& c) {
  if (!is_power_of_two(c.ring_size) || c.ring_size > 4096)
    return "ring_size: must be a power of two up to 4096";
  if (c.message_size == 0 || c.message_size > kVictimBytes) return "message_size: must be 1..65536";
  if (c.stride() < c.message_size) return "buffer_stride: must be at least message_size";
  if (c.pool() <= c.ring_size) return "pool_buffers: must exceed ring_size";
  if (c.guest_base % kPage) return "guest_base: must be 4 KiB aligned";
  if (c.pool_base() + uint64_t(c.pool()) * c.stride() > c.guest_base + c.guest_size)
    return "guest_size: too small for the ring, the victim pages and the buffer pool";
  if (c.levels < 3 || c.levels > 5) return "levels: must be 3, 4 or 5";
  if (c.domain == 0) return "domain: 0 is reserved";
  if (c.ats && !c.queued_invalidation)
    return "ats: device-TLBs are invalidated through the queue only (invalidation: queued)";
  if (c.ats_queue_depth > 31) return "ats_queue_depth: 0..31 (0 stands for 32)";
  if (c.packets == 0) return "packets: must be at least 1";
  std::string e = validate(c.costs);
  if (!e.empty()) return "costs." + e;
  StrategyConfig s = c.strategy;
  s.memory_base = c.guest_base;
  s.memory_size = c.guest_size;
  e = validate(s);
  if (!e.empty()) return e;
  // The dynamic strategies' IOVAs must never alias the guest-physical addresses that the ring
  // and the victims occupy, or a violation could hit a mapping by accident.
  if (s.name != "direct-map" && s.name != "none" && s.iova_base < c.guest_base + c.guest_size &&
      c.guest_base < s.iova_base + s.iova_size)
    return "iova window: must not overlap the guest memory";
  return "";
}

DmaDriver::DmaDriver(sc_core::sc_module_name name, const DmaDriverConfig& config,
                     SparseMemory& memory, StatsRegistry& stats)
    : sc_module(name),
      bus("bus"),
      m_config(config),
      m_memory(memory),
      m_tables(memory, config.table_base, config.table_size),
      m_regs(bus, config.register_base, [this](const sc_time& d) { register_access_done(d); },
             [this] { poll_pause(); }),
      m_vtd(m_regs, memory),
      m_ledger(config.costs),
      m_probe(memory),
      m_mmio_accesses(stats.counter(std::string(this->name()) + ".mmio_accesses")) {
  const std::string err = validate(config);
  if (!err.empty()) report_config_error("driver: " + err);
  m_config.strategy.memory_base = config.guest_base;
  m_config.strategy.memory_size = config.guest_size;
  m_config.strategy.device_tlb = config.ats;
  m_strategy = make_protection_strategy(m_config.strategy, *this);
  m_device_address.resize(config.ring_size);
  m_channel.victim_bad_address = config.victim_bad_address();
  m_channel.victim_bad_device = config.victim_bad_device();

  const std::string base = this->name();
  auto g = [&](const std::string& leaf, std::function<double()> fn) { stats.cumulative(base + "." + leaf, std::move(fn)); };
  auto ratio = [&](const std::string& leaf, const std::string& num, const std::string& den, double scale) {
    stats.ratio(base + "." + leaf, base + "." + num, base + "." + den, scale);
  };
  g("packets", [this] { return double(m_reclaimed); });
  g("bytes", [this] { return double(m_bytes); });
  g("traffic_ns", [this] { return m_traffic_ns; });
  ratio("throughput_gbps", "bytes", "traffic_ns", 8.0);
  g("cpu_busy_ns", [this] { return m_busy_ns; });
  g("setup_cpu_ns", [this] { return m_setup_busy_ns; });
  ratio("cpu_utilisation", "cpu_busy_ns", "traffic_ns", 1.0);
  g("cpu_cycles", [this] { return m_busy_ns * m_config.costs.cpu_ghz; });
  ratio("cycles_per_byte", "cpu_cycles", "bytes", 1.0);
  ratio("cycles_per_packet", "cpu_cycles", "packets", 1.0);
  for (unsigned i = 0; i < static_cast<unsigned>(CostStep::Count); ++i) {
    const auto step = static_cast<CostStep>(i);
    g(std::string("cost.") + cost_step_name(step), [this, step] { return double(m_ledger.cycles(step)); });
    // During the traffic only (first post to last unmap), as cpu_cycles.
    g(std::string("traffic_cost.") + cost_step_name(step), [this, i, step] {
      const uint64_t end = m_traffic_done ? m_cost_at_end[i] : m_ledger.cycles(step);
      return double(end - m_cost_at_start[i]);
    });
  }
  m_strategy->register_stats(stats, base + ".strategy");
  for (unsigned i = 0; i < static_cast<unsigned>(Violation::Count); ++i) {
    const auto v = static_cast<Violation>(i);
    const std::string p = std::string("violations.") + violation_name(v) + ".";
    const ProtectionProbe* probe = &m_probe;
    g(p + "injected", [probe, v] { return double(probe->outcome(v).injected); });
    g(p + "caught", [probe, v] { return double(probe->outcome(v).caught()); });
    g(p + "corrupted", [probe, v] { return double(probe->outcome(v).corrupted()); });
    g(p + "dma_failed", [probe, v] { return double(probe->outcome(v).dma_failed); });
    g(p + "fault_recorded", [probe, v] { return double(probe->outcome(v).fault_recorded); });
  }
  SC_THREAD(driver_thread);
}

DmaDriver::~DmaDriver() = default;

std::unique_ptr<Workload> DmaDriver::make_device_workload(double rate_gbps) {
  StudyNicConfig c;
  c.ring = m_config.ring_phys();  // mapped with IOVA = guest-physical address
  c.ring_size = m_config.ring_size;
  c.packets = m_config.packets;
  c.rate_gbps = rate_gbps;
  c.inject = m_config.inject;
  const std::string err = validate(c);
  if (!err.empty()) throw std::invalid_argument("nic: " + err);
  return std::make_unique<StudyNicWorkload>(c, m_channel, m_probe);
}

DmaBuffer DmaDriver::buffer(uint64_t index) const {
  DmaBuffer b;
  b.phys = m_config.pool_base() + (index % m_config.pool()) * m_config.stride();
  b.size = m_config.message_size;
  b.device_writes = true;
  return b;
}

// ---------------------------------------------------------------- the driver's thread

bool DmaDriver::set_up() {
  if (m_config.strategy.name == "none") {
    // The baseline: the remapping hardware stays disabled and the device uses physical addresses.
    m_strategy->setup();
    m_probe.arm(Violation::BadAddress, m_config.victim_bad_address(), m_config.message_size);
    m_probe.arm(Violation::BadDevice, m_config.victim_bad_device(), 64);
    return true;
  }
  // Fault events stay masked: the driver reads the records itself at the end.
  if (m_config.queued_invalidation) {
    const uint64_t queue = m_tables.allocate_page();
    const uint64_t status = m_tables.allocate_page();
    if (!m_vtd.enable_queued_invalidation(queue, 0, status)) {
      fail("the IOMMU did not enable its invalidation queue (GSTS.QIES)");
      return false;
    }
  }
  m_tables.set_context(m_config.source_id, m_config.domain, m_config.levels,
                       m_config.ats ? TranslationType::AllowAts : TranslationType::Untranslated);
  // The ring lives as long as the device: mapped once, identity, outside every strategy (under
  // direct-map the guest memory mapping already covers it).
  const uint64_t ring_bytes = (uint64_t(m_config.ring_size) * StudyNicWorkload::kDescBytes + kPage - 1) & ~(kPage - 1);
  if (m_config.strategy.name != "direct-map")
    m_tables.map(m_config.domain, m_config.ring_phys(), m_config.ring_phys(), ring_bytes, true, true);
  m_memory.fill(m_config.ring_phys(), 0, ring_bytes);
  m_strategy->setup();
  if (!m_vtd.enable(m_tables.root_table())) {
    fail("the IOMMU did not enable translation (GSTS.RTPS/TES)");
    return false;
  }
  // The victims hold the pattern from the start: nothing legitimate ever writes them.
  m_probe.arm(Violation::BadAddress, m_config.victim_bad_address(), m_config.message_size);
  m_probe.arm(Violation::BadDevice, m_config.victim_bad_device(), 64);
  return true;
}

void DmaDriver::post(uint64_t index) {
  const DmaBuffer b = buffer(index);
  m_ledger.charge(CostStep::Packet);
  busy(sc_time(m_ledger.ns(m_config.costs.packet), SC_NS));
  uint64_t addr = m_strategy->map(b);
  m_device_address[index % m_config.ring_size] = addr;
  // Bad address: the descriptor points at guest memory the driver never mapped for the device.
  if (index + 1 == m_config.inject.bad_address_at) addr = m_config.victim_bad_address();
  const uint64_t desc = m_config.ring_phys() + (index % m_config.ring_size) * StudyNicWorkload::kDescBytes;
  m_memory.write64(desc, addr);
  m_memory.write64(desc + 8, m_config.message_size);
}

void DmaDriver::reclaim(uint64_t index) {
  const uint64_t desc = m_config.ring_phys() + (index % m_config.ring_size) * StudyNicWorkload::kDescBytes;
  const uint64_t status = m_memory.read64(desc + 8);
  if (!(status & StudyNicWorkload::kError)) m_bytes += static_cast<uint32_t>(status);
  const DmaBuffer b = buffer(index);
  m_strategy->unmap(b, m_device_address[index % m_config.ring_size]);
  // The buffer goes back to the stack, which fills it with other data: the target of a device
  // that keeps using it.
  if (index + 1 == m_config.inject.invalid_use_at) m_probe.arm(Violation::InvalidUse, b.phys, b.size);
  m_channel.released = index + 1;
  m_channel.release.notify(sc_core::SC_ZERO_TIME);
}

void DmaDriver::drain_faults() {
  for (const VtdFault& f : m_vtd.drain_faults()) m_probe.fault_recorded(f.source_id, f.address);
}

void DmaDriver::driver_thread() {
  if (!set_up()) return;
  m_ready = true;
  m_ready_event.notify(sc_core::SC_ZERO_TIME);
  const sc_time start = sc_core::sc_time_stamp();
  // Set-up work (a direct map of the whole guest) is reported apart from the traffic's.
  m_setup_busy_ns = m_busy_ns;
  m_busy_ns = 0;
  for (unsigned i = 0; i < static_cast<unsigned>(CostStep::Count); ++i)
    m_cost_at_start[i] = m_ledger.cycles(static_cast<CostStep>(i));
  const uint64_t packets = m_config.packets;
  uint64_t posted = 0;
  while (m_reclaimed < packets) {
    bool progress = false;
    while (m_reclaimed < m_channel.completed) {
      reclaim(m_reclaimed++);
      progress = true;
    }
    // Refill the ring, ringing the doorbell every kDoorbellBatch descriptors (as NIC drivers
    // batch their tail writes) so the device starts on the first ones while the rest are posted.
    uint64_t rung = posted;
    while (posted < packets && posted - m_reclaimed < m_config.ring_size) {
      post(posted++);
      if (posted - rung >= kDoorbellBatch) {
        m_channel.posted = rung = posted;
        m_channel.doorbell.notify(sc_core::SC_ZERO_TIME);
        progress = true;
      }
    }
    if (posted != rung) {
      m_channel.posted = posted;
      m_channel.doorbell.notify(sc_core::SC_ZERO_TIME);
      progress = true;
    }
    if (m_strategy->next_deadline_ns() <= now_ns() + ProtectionStrategy::kSlackNs) {
      m_strategy->on_timer();
      progress = true;
    }
    if (progress) continue;
    const double deadline = m_strategy->next_deadline_ns();
    if (deadline == ProtectionStrategy::kNever) {
      sc_core::wait(m_channel.completion);
    } else {
      // Rounded up to the next picosecond so that the wait always reaches the deadline.
      const double ps = std::ceil((deadline - now_ns()) * 1000.0);
      sc_core::wait(sc_time(std::max(ps, 1.0), sc_core::SC_PS), m_channel.completion);
    }
  }
  m_traffic_ns = now_ns() - start.to_seconds() * 1e9;
  for (unsigned i = 0; i < static_cast<unsigned>(CostStep::Count); ++i)
    m_cost_at_end[i] = m_ledger.cycles(static_cast<CostStep>(i));
  m_traffic_done = true;
  // The timers still armed (deferred flush, optimistic grace) run out as they would on a live
  // system, so that their windows are measured; that work is not the traffic's.
  const double traffic_busy = m_busy_ns;
  for (double t = m_strategy->next_deadline_ns(); t != ProtectionStrategy::kNever;
       t = m_strategy->next_deadline_ns()) {
    const double ps = std::ceil((t - now_ns()) * 1000.0);
    if (ps > 0) sc_core::wait(sc_time(ps, sc_core::SC_PS));
    m_strategy->on_timer();
  }
  m_strategy->finish();
  drain_faults();
  m_busy_ns = traffic_busy;
  m_done = true;
  m_done_event.notify(sc_core::SC_ZERO_TIME);
}

// ---------------------------------------------------------------- CPU time

void DmaDriver::busy(const sc_time& t) {
  if (t == sc_core::SC_ZERO_TIME) return;
  m_busy_ns += t.to_seconds() * 1e9;
  sc_core::wait(t);
}

double DmaDriver::now_ns() const { return sc_core::sc_time_stamp().to_seconds() * 1e9; }

void DmaDriver::charge(CostStep step, uint64_t times) {
  busy(sc_time(m_ledger.ns(m_ledger.charge(step, times)), SC_NS));
}

// ---------------------------------------------------------------- MappingBackend

void DmaDriver::map_range(uint64_t iova, uint64_t phys, uint64_t size, bool write, PageSize page) {
  m_tables.map(m_config.domain, iova, phys, size, true, write, page);
}

void DmaDriver::unmap_range(uint64_t iova, uint64_t size) { m_tables.unmap(m_config.domain, iova, size); }

void DmaDriver::invalidate_pages(uint64_t iova, unsigned am) {
  m_in_invalidation = true;
  ++m_pending_invalidations;
  if (m_config.queued_invalidation) {
    m_vtd.submit(vtd::make_iotlb_desc(vtd::InvalidationScope::Selective, m_config.domain, iova, am));
  } else if (m_vtd.invalidate_iotlb_register(vtd::InvalidationScope::Selective, m_config.domain,
                                             iova, am) == 0) {
    fail("the IOMMU refused a page-selective IOTLB invalidation");
  }
  m_in_invalidation = false;
}

void DmaDriver::invalidate_domain() {
  m_in_invalidation = true;
  ++m_pending_invalidations;
  if (m_config.queued_invalidation) {
    m_vtd.submit(vtd::make_iotlb_desc(vtd::InvalidationScope::Domain, m_config.domain));
  } else if (m_vtd.invalidate_iotlb_register(vtd::InvalidationScope::Domain, m_config.domain) == 0) {
    fail("the IOMMU refused a domain IOTLB invalidation");
  }
  m_in_invalidation = false;
}

void DmaDriver::invalidate_device_tlb(const ats::Range& range) {
  bool s = false;
  const uint64_t address = ats::encode_range(range, s);
  // The NIC is no VF: PFSID 0, as Linux leaves it.
  m_vtd.submit(vtd::make_device_tlb_desc(m_config.source_id, 0, m_config.ats_queue_depth, address, s));
}

void DmaDriver::invalidate_device_tlb_pages(uint64_t iova, unsigned am) {
  invalidate_device_tlb(ats::Range{iova, 12 + am});
}

void DmaDriver::invalidate_device_tlb_all() { invalidate_device_tlb(ats::Range{0, 64}); }

void DmaDriver::wait_invalidations() {
  // One look at the completion status at least; poll_pause() charges every further one.
  charge(CostStep::InvalidationWait, 1);
  // Register invalidations were polled to completion when issued.
  m_in_invalidation = true;
  if (m_config.queued_invalidation && !m_vtd.sync())
    fail("an invalidation wait descriptor never completed");
  m_in_invalidation = false;
  // The invalidations' hardware time is what the CPU waited on the IOMMU model; a published
  // figure that includes the hardware is the least it waits per request, the model's time
  // counted toward it (cost_model.h).
  const double floor_ns = m_ledger.ns(m_config.costs.invalidation_hardware * m_pending_invalidations);
  if (m_pending_hw_ns < floor_ns) {
    busy(sc_time(floor_ns - m_pending_hw_ns, SC_NS));
    m_pending_hw_ns = floor_ns;
  }
  if (m_pending_invalidations || m_pending_hw_ns > 0)
    m_ledger.record(CostStep::InvalidationHardware, m_ledger.cycles_of_ns(m_pending_hw_ns),
                    m_pending_invalidations);
  m_pending_invalidations = 0;
  m_pending_hw_ns = 0;
}

void DmaDriver::fail(const std::string& what) {
  m_error = what;
  SC_REPORT_ERROR(msg::kHost, (std::string(name()) + ": " + what).c_str());
}

// ---------------------------------------------------------------- MmioAccess

void DmaDriver::register_access_done(const sc_time& delay) {
  m_mmio_accesses.inc();
  busy(delay);
  if (m_in_invalidation) m_pending_hw_ns += delay.to_seconds() * 1e9;
}

void DmaDriver::poll_pause() {
  // A spin-loop iteration; at least a nanosecond so that time moves while polling. The polls'
  // own cycles are software; the nanosecond is waiting on the hardware.
  charge(CostStep::InvalidationWait, 1);
  if (m_config.costs.invalidation_wait == 0) {
    busy(sc_time(1, SC_NS));
    if (m_in_invalidation) m_pending_hw_ns += 1.0;
  }
}

}  // namespace iommu_sim
