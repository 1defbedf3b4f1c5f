#include "iommu_sim/iommu/caches/translation_cache.h"

namespace iommu_sim {

std::string validate_cache_geometry(const CacheGeometry& geometry) {
  return validate_geometry(geometry.sets, geometry.ways, geometry.policy);
}

}  // namespace iommu_sim
