// Counters shared by the IOTLB and the other translation caches.
#pragma once

#include <cstdint>
#include <string>

namespace iommu_sim {

class StatsRegistry;

struct CacheStats {
  uint64_t lookups = 0, hits = 0, misses = 0, fills = 0, evictions = 0,
           invalidations = 0,        // invalidation operations, whatever they matched
           invalidated_entries = 0;  // valid entries they made invalid
};

// Registers cumulative values "<prefix>.lookups", ".hits", ".misses", ".fills", ".evictions",
// ".invalidations", ".invalidated_entries" that read `stats` when the registry is read, and the
// ratio ".hit_rate". The cache owning `stats` must outlive every read of the registry.
void register_cache_stats(StatsRegistry& registry, const std::string& prefix,
                          const CacheStats& stats);

}  // namespace iommu_sim
