// Software cost model of the protection strategies: CPU cycles for each step host software takes
// to map and unmap DMA buffers, and the CPU's frequency, so that a driver can charge them as
// simulated time on its CPU. Plain C++.
//
// Hardware time is never counted twice. The invalidation really goes to the IOMMU model (queued
// descriptors or registers) and the CPU is busy for as long as the model takes to complete it:
// that is the invalidation's hardware time, measured, not charged from a figure. Where a
// published figure includes the hardware's time (an IOTLB update as measured on a real
// platform), it is given as `invalidation_hardware`: the least the CPU waits for one invalidation
// request, the model's own time counted toward it (the CPU keeps waiting until the published time
// has passed), never added on top. `iotlb_invalidation` is the software's own work per request.
//
// Presets (cycles; docs/strategies.md says where each figure comes from):
//              page_table   iova alloc/free   iotlb_invalidation   invalidation   invalidation
//              _update                        (software)           _hardware      interface
//   calgary       673           0 / 0              0                 10207          register
//   vtd           991           0 / 0              0                  1217          queued
//   gart           27           0 / 0              0                   486          register
//   linux-2011    991         167 / 167            0                  4593          queued
// calgary, vtd and gart: the published per-platform page-table update and IOTLB update (facts
// sheet section 10), so a strict map+unmap of one page costs 2 x update + IOTLB update; those
// studies used guest-physical addresses as IOVAs, so no allocator. linux-2011: Linux of the
// vIOMMU study, a strict map+unmap of ~6,900 cycles, 2,316 software + 4,593 hardware; the
// software is split into two VT-d page-table updates and the allocator (the remainder, halved).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace iommu_sim {

enum class CostStep : unsigned {
  IovaAlloc,
  IovaFree,
  PageTableUpdate,       // per 4 KiB page (or superpage) entry written by a map
  PageTableClear,        // per entry cleared by an unmap (costs page_table_update)
  IotlbInvalidation,     // software, per invalidation request (one descriptor or register command)
  InvalidationWait,      // software, per poll of the completion status
  InvalidationHardware,  // measured: the CPU waiting on the IOMMU's invalidation (never charged)
  Packet,                // the driver's own per-packet work, protection aside (default 0)
  Count
};

const char* cost_step_name(CostStep step);

struct SoftwareCostConfig {
  double cpu_ghz = 3.0;
  uint64_t iova_alloc = 0;
  uint64_t iova_free = 0;
  uint64_t page_table_update = 991;
  uint64_t iotlb_invalidation = 0;
  uint64_t invalidation_wait = 0;
  uint64_t invalidation_hardware = 1217;  // published floor per request; 0: the model's time only
  uint64_t packet = 0;

  // Cycles of one occurrence of a charged step (InvalidationHardware: 0, it is measured).
  uint64_t cycles(CostStep step) const;
};

struct CostPreset {
  std::string name;
  SoftwareCostConfig costs;
  bool queued_invalidation = true;  // how that platform's software invalidates the IOTLB
  // The published strict map+unmap of one 4 KiB page it reproduces, and where that comes from.
  uint64_t published_map_unmap = 0;
  std::string source;
};

// Names: cost_presets(). Null for an unknown name.
const CostPreset* find_cost_preset(const std::string& name);
// The preset's figures, or false for an unknown name.
bool cost_preset(const std::string& name, SoftwareCostConfig& out);
const std::vector<std::string>& cost_presets();
std::string validate(const SoftwareCostConfig& config);

// Cycles spent so far, per step.
class CostLedger {
 public:
  explicit CostLedger(const SoftwareCostConfig& config) : m_config(config) {}
  // Records `times` occurrences of a charged step; returns the cycles they cost.
  uint64_t charge(CostStep step, uint64_t times = 1);
  // Records cycles measured rather than charged (InvalidationHardware).
  void record(CostStep step, uint64_t cycles, uint64_t times = 1);
  uint64_t cycles(CostStep step) const { return m_cycles[static_cast<unsigned>(step)]; }
  uint64_t count(CostStep step) const { return m_counts[static_cast<unsigned>(step)]; }
  uint64_t total_cycles() const;
  // Cycles as nanoseconds at the configured frequency, and back.
  double ns(uint64_t cycles) const { return cycles / m_config.cpu_ghz; }
  uint64_t cycles_of_ns(double ns) const;
  const SoftwareCostConfig& config() const { return m_config; }

 private:
  SoftwareCostConfig m_config;
  std::array<uint64_t, static_cast<unsigned>(CostStep::Count)> m_cycles{};
  std::array<uint64_t, static_cast<unsigned>(CostStep::Count)> m_counts{};
};

}  // namespace iommu_sim
