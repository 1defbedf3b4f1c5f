#include "iommu_sim/iommu/caches/cache_stats.h"

#include "iommu_sim/common/stats.h"

namespace iommu_sim {

void register_cache_stats(StatsRegistry& registry, const std::string& prefix,
                          const CacheStats& stats) {
  const CacheStats* s = &stats;
  registry.cumulative(prefix + ".lookups", [s] { return static_cast<double>(s->lookups); });
  registry.cumulative(prefix + ".hits", [s] { return static_cast<double>(s->hits); });
  registry.cumulative(prefix + ".misses", [s] { return static_cast<double>(s->misses); });
  registry.cumulative(prefix + ".fills", [s] { return static_cast<double>(s->fills); });
  registry.cumulative(prefix + ".evictions", [s] { return static_cast<double>(s->evictions); });
  registry.cumulative(prefix + ".invalidations",
                      [s] { return static_cast<double>(s->invalidations); });
  registry.cumulative(prefix + ".invalidated_entries",
                      [s] { return static_cast<double>(s->invalidated_entries); });
  registry.ratio(prefix + ".hit_rate", prefix + ".hits", prefix + ".lookups");
}

}  // namespace iommu_sim
