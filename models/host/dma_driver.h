// The network driver of the protection-strategies study: a host CPU thread that, for every
// packet, maps a receive buffer through a ProtectionStrategy, posts its descriptor and rings the
// doorbell, and when the device has completed it, unmaps it as the strategy says. Every software
// step costs CPU cycles from a SoftwareCostConfig, spent as simulated time on this CPU; every
// invalidation really goes to the IOMMU (invalidation queue or registers, over `bus`), and the CPU
// spins until the IOMMU model reports it complete. Throughput and CPU utilisation therefore come
// out of the simulation.
//
// With `ats`, the NIC has a device-TLB: its context entry allows device TLBs (TT = 01b) and the
// strategy follows every IOTLB invalidation with a device-TLB invalidation (descriptor 0x3).
//
// Set-up (in simulated time): fault reporting, the invalidation queue, the domain's context entry,
// the ring mapped once (identity), the strategy's own set-up, translation on. Then the device is
// released (ready()) and the packets flow. At the end the driver drains the IOMMU's fault records
// and hands them to the protection probe.
//
// Guest memory, from guest_base: the ring (page 0), two victim regions of 64 KiB at +1 MiB (memory
// the driver never gives the device: the targets of bad-address and bad-device violations), the
// buffer pool at +2 MiB: pool_buffers buffers of buffer_stride bytes, used round robin.
//
// Statistics under the driver's name: packets, bytes, traffic_ns (first post to last unmap),
// throughput_gbps, cpu_busy_ns (during the traffic), setup_cpu_ns, cpu_utilisation, cpu_cycles,
// cycles_per_byte, cycles_per_packet (the last four during the traffic), cost.<step> (cycles per
// step, set-up included), traffic_cost.<step> (during the traffic), strategy.*
// (ProtectionStrategy::register_stats), violations.<name>.{injected,caught,corrupted,dma_failed,
// fault_recorded}.
//
// Invalidation hardware time: every register access and poll the CPU makes between issuing an
// invalidation and seeing it complete is time spent waiting on the IOMMU model; when the costs
// give a published hardware figure (invalidation_hardware), the CPU waits at least that long per
// request, the model's time counted toward it (cost_model.h). The ledger records it as
// invalidation_hardware.
//
// Strategy `none` is the baseline without an IOMMU: the driver leaves translation off.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/cost_model.h"
#include "iommu_sim/host/dma_driver_nic.h"
#include "iommu_sim/host/mapping_strategies.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"

namespace iommu_sim {

struct DmaDriverConfig {
  uint64_t register_base = 0xFED90000;  // the IOMMU's registers on the host bus
  uint64_t table_base = 0x1000000;      // where VT-d tables and the queue are built
  uint64_t table_size = 64ULL << 20;
  bool queued_invalidation = true;      // else the IOTLB invalidation registers
  uint16_t source_id = 0x0200;          // the NIC's requester ID
  bool ats = false;                     // the NIC caches translations (ATS): its context allows
                                        // device TLBs and every invalidation covers its device-TLB
  unsigned ats_queue_depth = 0;         // its ATS Invalidate Queue Depth (0 = 32)
  uint16_t domain = 1;
  unsigned levels = 4;
  uint64_t guest_base = 0x40000000;
  uint64_t guest_size = 64ULL << 20;
  uint32_t ring_size = 256;
  uint32_t message_size = 1500;
  uint32_t buffer_stride = 0;  // 0: the message size rounded up to a power of two, >= 2 KiB
  uint32_t pool_buffers = 0;   // 0: twice the ring
  uint64_t packets = 2000;
  StrategyConfig strategy;     // memory_base/memory_size are filled from the guest memory
  SoftwareCostConfig costs;
  FaultInjection inject;

  uint32_t stride() const;
  uint32_t pool() const { return pool_buffers ? pool_buffers : 2 * ring_size; }
  uint64_t ring_phys() const { return guest_base; }
  uint64_t victim_bad_address() const { return guest_base + (1ULL << 20); }
  uint64_t victim_bad_device() const { return guest_base + (1ULL << 20) + (64ULL << 10); }
  uint64_t pool_base() const { return guest_base + (2ULL << 20); }
};

std::string validate(const DmaDriverConfig& config);

class DmaDriver : public sc_core::sc_module, private MappingBackend {
 public:
  tlm_utils::simple_initiator_socket<DmaDriver> bus;  // IOMMU registers (absolute addresses)

  // An invalid configuration is an SC_ERROR of type msg::kConfig (report_config_error).
  DmaDriver(sc_core::sc_module_name name, const DmaDriverConfig& config, SparseMemory& memory,
            StatsRegistry& stats);
  ~DmaDriver() override;

  // The device's workload, bound to this driver's ring, channel and probe.
  std::unique_ptr<Workload> make_device_workload(double rate_gbps);

  // Set-up done: the device may start.
  const sc_core::sc_event& ready_event() const { return m_ready_event; }
  bool ready() const { return m_ready; }
  // Every packet completed and unmapped, faults drained.
  const sc_core::sc_event& done_event() const { return m_done_event; }
  bool done() const { return m_done; }
  // False once the IOMMU refused a command; also reported as an SC_ERROR of type msg::kHost.
  bool ok() const { return m_error.empty(); }
  const std::string& error() const { return m_error; }

  const ProtectionStrategy& strategy() const { return *m_strategy; }
  const ProtectionProbe& probe() const { return m_probe; }
  const CostLedger& ledger() const { return m_ledger; }
  const NicChannel& channel() const { return m_channel; }
  VtdTableBuilder& tables() { return m_tables; }
  double cpu_busy_ns() const { return m_busy_ns; }
  double traffic_ns() const { return m_traffic_ns; }

 private:
  // Records the failure (ok(), error()) and reports it (msg::kHost, SC_ERROR).
  void fail(const std::string& what);
  SC_HAS_PROCESS(DmaDriver);
  void driver_thread();
  bool set_up();
  void post(uint64_t index);
  void reclaim(uint64_t index);
  void drain_faults();
  DmaBuffer buffer(uint64_t index) const;
  void busy(const sc_core::sc_time& t);

  // The IOMMU's registers: an uncached register access stalls the CPU for as long as the IOMMU
  // model takes (including the descriptors it fetches when IQT is written); so does every
  // iteration of a poll loop.
  void register_access_done(const sc_core::sc_time& delay);
  void poll_pause();

  // MappingBackend: the strategy's steps.
  void map_range(uint64_t iova, uint64_t phys, uint64_t size, bool write, PageSize page) override;
  void unmap_range(uint64_t iova, uint64_t size) override;
  void invalidate_pages(uint64_t iova, unsigned am) override;
  void invalidate_domain() override;
  void invalidate_device_tlb_pages(uint64_t iova, unsigned am) override;
  void invalidate_device_tlb_all() override;
  void invalidate_device_tlb(const ats::Range& range);
  void wait_invalidations() override;
  void charge(CostStep step, uint64_t times) override;
  double now_ns() const override;
  uint64_t dmas_done() const override { return m_channel.completed; }

  DmaDriverConfig m_config;
  SparseMemory& m_memory;
  VtdTableBuilder m_tables;
  SocketMmio m_regs;
  VtdRegisterProgrammer m_vtd;
  CostLedger m_ledger;
  ProtectionProbe m_probe;
  NicChannel m_channel;
  std::unique_ptr<ProtectionStrategy> m_strategy;
  std::vector<uint64_t> m_device_address;  // per ring slot: what map() returned
  uint64_t m_reclaimed = 0;
  bool m_ready = false, m_done = false;
  std::string m_error;
  sc_core::sc_event m_ready_event, m_done_event;
  double m_busy_ns = 0, m_setup_busy_ns = 0, m_traffic_ns = 0;
  // Invalidation requests issued since the last wait, and the time the CPU spent waiting on the
  // IOMMU for them (register accesses and polls made while m_in_invalidation).
  uint64_t m_pending_invalidations = 0;
  double m_pending_hw_ns = 0;
  bool m_in_invalidation = false;
  // The ledger at the first post and after the last unmap: the traffic's own cycles per step.
  std::array<uint64_t, static_cast<unsigned>(CostStep::Count)> m_cost_at_start{}, m_cost_at_end{};
  bool m_traffic_done = false;
  uint64_t m_bytes = 0;
  Counter& m_mmio_accesses;
};

}  // namespace iommu_sim
