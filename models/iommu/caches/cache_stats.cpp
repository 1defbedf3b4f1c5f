#include "iommu_sim/iommu/caches/cache_stats.h"

#include "iommu_sim/common/stats.h"

namespace iommu_sim {

void register_cache_stats(StatsRegistry& registry, const std::string& prefix,
                          const CacheStats& stats) {
  const CacheStats* s = &stats;
  registry.gauge(prefix + ".lookups", [s] { return static_cast<double>(s->lookups); });
  registry.gauge(prefix + ".hits", [s] { return static_cast<double>(s->hits); });
  registry.gauge(prefix + ".misses", [s] { return static_cast<double>(s->misses); });
  registry.gauge(prefix + ".fills", [s] { return static_cast<double>(s->fills); });
  registry.gauge(prefix + ".evictions", [s] { return static_cast<double>(s->evictions); });
  registry.gauge(prefix + ".invalidations",
                 [s] { return static_cast<double>(s->invalidations); });
  registry.gauge(prefix + ".invalidated_entries",
                 [s] { return static_cast<double>(s->invalidated_entries); });
  registry.gauge(prefix + ".hit_rate", [s] {
    return s->lookups ? static_cast<double>(s->hits) / static_cast<double>(s->lookups) : 0.0;
  });
}

}  // namespace iommu_sim
