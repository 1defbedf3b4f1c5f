#include "iommu_sim/iommu/iommu_config.h"

#include "iommu_sim/iommu/vtd_format.h"

namespace iommu_sim {

std::string validate_iommu_config(const IommuConfig& c) {
  if (c.address_width < 32 || c.address_width > 57)
    return "address_width: must be 32..57, got " + std::to_string(c.address_width);
  if (c.host_address_width < 32 || c.host_address_width > 52)
    return "host_address_width: must be 32..52, got " + std::to_string(c.host_address_width);
  if (c.supported_levels.empty()) return "supported_levels: at least one of 3, 4, 5";
  for (unsigned l : c.supported_levels) {
    if (l < 3 || l > 5) return "supported_levels: " + std::to_string(l) + " is not 3, 4 or 5";
    // A table deeper than the address width needs would never be used: SAGAW advertises levels
    // up to the width only.
    if (vtd::levels_to_width(l - 1) >= c.address_width)
      return "supported_levels: " + std::to_string(l) + "-level tables need address_width > " +
             std::to_string(vtd::levels_to_width(l - 1));
  }
  if (c.domain_bits_nd > 6) return "domain_bits_nd: must be 0..6";
  if (c.fault_records < 1 || c.fault_records > 256) return "fault_records: must be 1..256";
  if (c.mamv > 63) return "mamv: must be 0..63";
  if (c.walkers < 1) return "walkers: at least 1";
  std::string e = validate_iotlb_config(c.iotlb);
  if (!e.empty()) return "iotlb." + e;
  e = validate_cache_geometry(c.context_cache);
  if (!e.empty()) return "context_cache." + e;
  e = validate_cache_geometry(c.pscache);
  if (!e.empty()) return "pscache." + e;
  e = validate_cache_geometry(c.interrupt_entry_cache);
  if (!e.empty()) return "interrupt_entry_cache." + e;
  // Device TLBs are invalidated only through the queue (descriptor 0x3).
  if (c.device_tlbs && !c.queued_invalidation) return "device_tlbs: needs queued_invalidation";
  if ((c.x2apic || c.posted_interrupts) && !c.interrupt_remapping)
    return "x2apic and posted_interrupts need interrupt_remapping";
  return validate_scalable_config(c.scalable, c.queued_invalidation);
}

}  // namespace iommu_sim
