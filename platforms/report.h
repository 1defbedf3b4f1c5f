// The human summary `iommu-sim run` prints, and the `summary.*` statistics behind it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/platform/platform_config.h"

namespace iommu_sim {

// A fault record as the IOMMU holds it in its FRCD ring.
struct FaultRecord {
  uint16_t source_id = 0;
  uint8_t reason = 0;
  uint64_t page = 0;
  bool is_read = false;
};

// Short name of a VT-d fault reason (DMA remapping 0x1-0xD, interrupt remapping 0x20-0x26).
const char* fault_reason_name(unsigned reason);

// One DMA source as the report lists it.
struct DmaSource {
  std::string label;   // "dev0", "nic0.vf2"
  std::string engine;  // hierarchical name of its DMA engine (statistics prefix)
  uint16_t requester_id = 0;
  uint16_t domain = 0;  // 0: none known
};

struct PlatformOutcome {
  bool ok = true;                 // false: the simulation itself failed (message says why)
  std::string message;
  std::string input_key;          // set when the failure is the description's: the key to fix
  bool workloads_done = false;    // false: stopped by simulation.max_time_us
  sc_core::sc_time end_time;      // when the last workload finished (or the time limit)
  sc_core::sc_time measured_from;  // where the statistics begin (simulation.warmup_us)
};

// Registers `summary.*` numbers computed from the blocks' statistics: dmas, bytes, dma_errors,
// sim_time_ns (the end of the run), measured_ns (from the warm-up to the end: what throughput is
// over), throughput_mbps, iotlb_hit_rate, iotlb_misses_per_1000_dmas, walks,
// dma_latency_{mean,p50,p99}_ns and dma_latency_{p50,p99}_error_ns (the quantiles' error: 0 when
// exact), faults, dma_faults, interrupt_faults; with ATS (some engine's function used its
// device-TLB) also devtlb_hit_rate, translation_requests, translation_requests_per_1000_dmas and
// devtlb_invalidations. `engines` are the hierarchical names of the DMA sources.
void register_summary(StatsRegistry& stats, const std::string& iommu_name,
                      const std::vector<std::string>& engines, const PlatformOutcome& outcome);

// With an `interrupts:` section, registers from the host model's per-guest figures and the
// interrupt remapper's: summary.interrupts (sent to guests), summary.interrupts_seen,
// summary.vm_exits, summary.vm_exits_per_1000_interrupts and, by cause,
// summary.exits_per_1000_interrupts.{arrival,eoi,host,wakeup}, summary.hypervisor_us and
// summary.hypervisor_ns_per_interrupt (host CPU time on the guests' behalf),
// summary.interrupt_latency_{p50,p99}_ns (the device's MSI write to the guest seeing it) and
// their _error_ns,
// summary.notifications, summary.notifications_suppressed, summary.iec_hit_rate. `guests` are
// the guests' names.
void register_interrupt_summary(StatsRegistry& stats, const std::string& iommu_name,
                                const std::string& apic_name, const std::vector<std::string>& guests);

// With scalable mode offered, registers summary.walk_reads_per_walk,
// summary.walk_first_level_reads_per_walk, summary.walk_second_level_reads_per_walk and
// summary.walk_latency_{p50,p99}_ns from the remapper's per-walk figures (report_scalable.cpp).
void register_scalable_summary(StatsRegistry& stats, const std::string& iommu_name);
// The report's scalable-mode lines: PASID cache, first-level and nested paging-structure caches,
// table reads per walk by dimension, the walk-latency distribution.
void print_scalable_report(std::ostream& os, const PlatformConfig& config, const StatsRegistry& stats);

void print_report(std::ostream& os, const std::string& source, const PlatformConfig& config,
                  const StatsRegistry& stats, const PlatformOutcome& outcome,
                  const std::vector<FaultRecord>& records, const std::vector<DmaSource>& sources);

}  // namespace iommu_sim
