// Configuration of scalable mode (ECAP.SMTS and what comes with it): which translation types the
// unit offers, the PASID size, the first-level page sizes and depth, and the caches scalable
// mode adds. Part of IommuConfig (iommu_config.h).
#pragma once

#include <string>

#include "iommu_sim/iommu/caches/translation_cache.h"

namespace iommu_sim {

struct ScalableConfig {
  bool enabled = false;              // ECAP.SMTS: RTADDR.TTM may select scalable-mode tables
  bool first_level = true;           // ECAP.FLTS: PASID entries with PGTT first-level
  bool second_level = true;          // ECAP.SLTS: PGTT second-level
  bool nested = true;                // ECAP.NEST: PGTT nested (needs both levels)
  bool pasid = true;                 // ECAP.PASID: requests with PASID
  unsigned pasid_bits = 20;          // ECAP.PSS + 1: widest PASID taken
  bool first_level_5level = false;   // CAP.FL5LP: 5-level first-level tables
  bool first_level_1g = true;        // CAP.FL1GP: 1 GiB first-level pages (2 MiB always)
  bool second_level_ad = true;       // ECAP.SLADS: PASID entries may set SLADE
  bool supervisor_requests = true;   // ECAP.SRS: PASID entries may set SRE
  CacheGeometry pasid_cache{true, 1, 16};          // PASID entries by (requester, PASID), tagged DID
  CacheGeometry first_level_pscache{true, 1, 16};  // per level (PML5E..PDE), tagged DID + PASID
  CacheGeometry nested_pscache{true, 1, 16};       // the same for nested translation: entries
                                                   // whose table pointers are host physical
};

// "" when valid, else a message naming the field ("scalable.nested: ..."). `queued` is
// ECAP.QI: scalable mode is invalidated through the queue only.
std::string validate_scalable_config(const ScalableConfig& config, bool queued);

}  // namespace iommu_sim
