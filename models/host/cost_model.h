// Software cost model of the protection strategies: CPU cycles for each step host software takes
// to map and unmap DMA buffers, and the CPU's frequency, so that a driver can charge them as
// simulated time on its CPU. Plain C++.
//
// What is charged here is the CPU's own work. The hardware side is not: the invalidation itself
// really goes to the IOMMU model (queued descriptors or registers) and the CPU spins, busy, for as
// long as the model takes to complete it; `invalidation_wait` is what each poll of the completion
// status costs the CPU on top of that.
//
// Presets (cycles; docs/strategies.md says where each figure comes from):
//             iova_alloc  iova_free  page_table_update  iotlb_invalidation  invalidation_wait
//   calgary      167         167          673               10207                 0
//   vtd          167         167          991                1217                 0
//   gart         167         167           27                 486                 0
// page_table_update and iotlb_invalidation are the published map and IOTLB-update costs of those
// platforms; the IOVA allocator figures are derived from the published software cost of a strict
// map+unmap on VT-d (2316 cycles less two page-table updates, split between alloc and free).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace iommu_sim {

enum class CostStep : unsigned {
  IovaAlloc,
  IovaFree,
  PageTableUpdate,   // per 4 KiB page (or superpage) entry written or cleared
  IotlbInvalidation, // per invalidation request issued (one descriptor, or one register command)
  InvalidationWait,  // per poll of the completion status
  Packet,            // the driver's own per-packet work, protection aside (default 0)
  Count
};

const char* cost_step_name(CostStep step);

struct SoftwareCostConfig {
  double cpu_ghz = 3.0;
  uint64_t iova_alloc = 167;
  uint64_t iova_free = 167;
  uint64_t page_table_update = 991;
  uint64_t iotlb_invalidation = 1217;
  uint64_t invalidation_wait = 0;
  uint64_t packet = 0;

  uint64_t cycles(CostStep step) const;
};

// The preset's figures, or false for an unknown name. Names: cost_presets().
bool cost_preset(const std::string& name, SoftwareCostConfig& out);
const std::vector<std::string>& cost_presets();
std::string validate(const SoftwareCostConfig& config);

// Cycles charged so far, per step.
class CostLedger {
 public:
  explicit CostLedger(const SoftwareCostConfig& config) : m_config(config) {}
  // Records `times` occurrences of `step`; returns the cycles they cost.
  uint64_t charge(CostStep step, uint64_t times = 1);
  uint64_t cycles(CostStep step) const { return m_cycles[static_cast<unsigned>(step)]; }
  uint64_t count(CostStep step) const { return m_counts[static_cast<unsigned>(step)]; }
  uint64_t total_cycles() const;
  // Cycles as nanoseconds at the configured frequency.
  double ns(uint64_t cycles) const { return cycles / m_config.cpu_ghz; }
  const SoftwareCostConfig& config() const { return m_config; }

 private:
  SoftwareCostConfig m_config;
  std::array<uint64_t, static_cast<unsigned>(CostStep::Count)> m_cycles{};
  std::array<uint64_t, static_cast<unsigned>(CostStep::Count)> m_counts{};
};

}  // namespace iommu_sim
