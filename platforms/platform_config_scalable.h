// The YAML front end's scalable-mode keys (platform_config_scalable.cpp), and the readers
// platform_config.cpp shares with it.
#pragma once

#include <string>
#include <vector>

#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/platform_config.h"

namespace iommu_sim {

// Shared readers (platform_config.cpp).
CacheGeometry read_cache(Section s, const CacheGeometry& def);
PageSize read_page_size(Section& s, const std::string& key, const std::string& def = "4K");

// iommu.scalable: ECAP.SMTS and what comes with it, and the caches scalable mode adds (after
// iommu.iotlb: the RTL IOTLB has no PASID tag for first-level and nested translation).
void read_scalable_iommu(Section s, PlatformConfig& pc);
// host.tables, checked against what the IOMMU offers and the invalidation interface.
void read_host_tables(Section& host, HostSetupConfig& h, const IommuConfig& iommu);
// The translation types a domain may name: scalable-mode tables add first-level and nested.
const std::vector<std::string>& domain_translations(bool scalable);
// A domain's keys of scalable-mode tables (pasid, first_level_levels, parent, guest_tables,
// supervisor_requests, second_level_ad), read before its devices and mappings; `earlier` are
// the domains listed before it (a nested domain's parent is one of them).
void read_scalable_domain(Section& d, DomainSpec& dom, const std::vector<DomainSpec>& earlier,
                          const IommuConfig& iommu);
// A mapping's keys and checks of first-level tables: `user`, and addresses in one canonical half
// (second-level mappings are checked as in legacy mode).
void read_mapping_scalable(Section& m, MappingSpec& map, const DomainSpec& dom);
// A traffic item's `pasid` and `privileged`.
void read_traffic_pasid(Section& t, TrafficSpec& spec, const PlatformConfig& pc);

}  // namespace iommu_sim
