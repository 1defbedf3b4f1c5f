#include "iommu_sim/iommu/scalable_config.h"

namespace iommu_sim {

std::string validate_scalable_config(const ScalableConfig& c, bool queued) {
  if (c.pasid_bits < 1 || c.pasid_bits > 20) return "scalable.pasid_bits: must be 1..20";
  if (c.enabled) {
    if (!c.first_level && !c.second_level)
      return "scalable: needs first_level or second_level translation";
    if (c.nested && !(c.first_level && c.second_level))
      return "scalable.nested: needs first_level and second_level";
    if (!queued)
      return "scalable: needs queued_invalidation (scalable mode is invalidated through the queue)";
  }
  // The caches are checked even when scalable mode is off, so that turning it on never uncovers
  // a bad geometry.
  std::string e = validate_cache_geometry(c.pasid_cache);
  if (!e.empty()) return "scalable.pasid_cache." + e;
  e = validate_cache_geometry(c.first_level_pscache);
  if (!e.empty()) return "scalable.first_level_pscache." + e;
  e = validate_cache_geometry(c.nested_pscache);
  if (!e.empty()) return "scalable.nested_pscache." + e;
  return "";
}

}  // namespace iommu_sim
