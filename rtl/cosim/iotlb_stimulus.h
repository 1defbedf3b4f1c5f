// Transaction streams for the IOTLB co-simulation: seeded constrained-random traffic with
// locality knobs, directed corner cases, and replay of a recorded IOTLB trace. Each transaction
// is what the bench presents to the RTL in one cycle (RtlCycleIn); plain C++.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/rtl/rtl_iotlb.h"

namespace iommu_sim {

// Knobs of the random stream. Defaults give a hit rate around 60-80% on a 32x4 IOTLB with a
// steady trickle of evictions and invalidations.
struct StimulusKnobs {
  uint64_t seed = 1;
  unsigned domains = 4;          // domain IDs 1..domains (plus the odd stray lookup of 0)
  unsigned hot_pages = 96;       // working set per domain, in 4 KiB pages
  double hot = 0.85;             // share of accesses inside the working set
  double sequential = 0.25;      // share of accesses to the previous page + 1 (streaming)
  double size_2m = 0.08;         // share of translations mapped by 2 MiB pages
  double size_1g = 0.02;         // by 1 GiB pages
  double fill_on_miss = 0.9;     // a miss is followed by the fill of its translation
  double alias_fill = 0.03;      // fill of another page size over the same region
  double invalidate = 0.02;      // invalidations per transaction
  double same_cycle = 0.3;       // an invalidation or fill comes with a lookup in its cycle
};

class RandomStimulus {
 public:
  explicit RandomStimulus(const StimulusKnobs& knobs);
  // The next transaction. `last_missed`: the previous lookup missed (in the reference), which
  // makes the fill of its translation likely, as a remapper would do after the page walk.
  RtlCycleIn next(bool last_missed);

  // The translation the "page tables" give for (domain, vpn): size, frame and permissions are
  // a fixed function of the region, so fills of the same page always agree.
  IotlbEntry translation(uint16_t domain, uint64_t vpn, PageSize size) const;

 private:
  uint64_t pick_vpn(uint16_t domain);
  PageSize size_of(uint16_t domain, uint64_t vpn) const;
  bool chance(double p) { return m_unit(m_rng) < p; }

  StimulusKnobs m_knobs;
  std::mt19937_64 m_rng;
  std::uniform_real_distribution<double> m_unit{0.0, 1.0};
  uint16_t m_last_domain = 1;
  uint64_t m_last_vpn = 0;
};

// Directed corner cases for a geometry: full sets and evictions in every policy order,
// superpage and 4 KiB aliases, page invalidation masks at each alignment, invalidation in the
// same cycle as a lookup and right after one, fill and lookup in one cycle, in-place refill,
// domain and global invalidation, stray domains.
std::vector<RtlCycleIn> directed_stimulus(const IotlbConfig& config);

// A recorded IOTLB trace (iotlb_trace.h format) as transactions; Access lines are skipped (they
// record translations, not IOTLB calls). False with `error` set if the file is unreadable or
// malformed.
bool trace_stimulus(const std::string& path, std::vector<RtlCycleIn>& out, std::string& error);
RtlCycleIn to_cycle(const IotlbOp& op);

// One line describing the requests of a transaction, for mismatch reports.
std::string describe(const RtlCycleIn& in);

}  // namespace iommu_sim
