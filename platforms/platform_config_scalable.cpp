#include "iommu_sim/platform/platform_config_scalable.h"

#include <cstdio>

#include "iommu_sim/common/bits.h"
#include "iommu_sim/iommu/vtd_format.h"

namespace iommu_sim {

namespace {
bool uses_first_level(const DomainSpec& d) {
  return d.translation == "first-level" || d.translation == "nested";
}
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

void read_scalable_iommu(Section s, PlatformConfig& pc) {
  IommuConfig& c = pc.iommu;
  ScalableConfig& sc = c.scalable;
  sc.enabled = s.get_bool("enabled", sc.enabled);
  sc.first_level = s.get_bool("first_level", sc.first_level);
  sc.second_level = s.get_bool("second_level", sc.second_level);
  sc.nested = s.get_bool("nested", sc.first_level && sc.second_level);
  sc.pasid = s.get_bool("pasid", sc.pasid);
  sc.pasid_bits = s.get_uint("pasid_bits", sc.pasid_bits, 1, 20);
  sc.first_level_5level = s.get_bool("first_level_5level", sc.first_level_5level);
  sc.first_level_1g = s.get_bool("first_level_1g", sc.first_level_1g);
  sc.second_level_ad = s.get_bool("second_level_ad", sc.second_level_ad);
  sc.supervisor_requests = s.get_bool("supervisor_requests", sc.supervisor_requests);
  sc.pasid_cache = read_cache(s.section("pasid_cache"), sc.pasid_cache);
  sc.first_level_pscache = read_cache(s.section("first_level_pscache"), sc.first_level_pscache);
  sc.nested_pscache = read_cache(s.section("nested_pscache"), sc.nested_pscache);
  if (sc.enabled && (sc.first_level || sc.nested) && pc.iotlb_impl == "rtl")
    s.fail("first_level", "the RTL IOTLB has no PASID tag for first-level and nested translations: "
                          "use iommu.iotlb.impl: model, or first_level: false");
  const std::string problem = validate_scalable_config(sc, c.queued_invalidation);
  if (!problem.empty()) {
    // "scalable.nested: needs ..." names the key below this section.
    const size_t colon = problem.find(": ");
    const std::string field = problem.substr(0, colon);
    const size_t dot = field.find('.');
    s.fail(dot == std::string::npos ? "" : field.substr(dot + 1, field.find('.', dot + 1) - dot - 1),
           problem.substr(colon + 2));
  }
}

void read_host_tables(Section& host, HostSetupConfig& h, const IommuConfig& iommu) {
  h.tables = host.get_enum("tables", h.tables, {"legacy", "scalable"});
  if (h.tables != "scalable") return;
  if (!iommu.scalable.enabled)
    host.fail("tables", "scalable tables need iommu.scalable.enabled: true");
  if (h.invalidation != "queued")
    host.fail("tables", "scalable tables are invalidated through the queue: use invalidation: queued");
}

const std::vector<std::string>& domain_translations(bool scalable) {
  static const std::vector<std::string> legacy = {"translate", "pass-through", "blocked"};
  static const std::vector<std::string> scalable_types = {"translate", "pass-through", "blocked",
                                                          "first-level", "nested"};
  return scalable ? scalable_types : legacy;
}

void read_scalable_domain(Section& d, DomainSpec& dom, const std::vector<DomainSpec>& earlier,
                          const IommuConfig& iommu) {
  const ScalableConfig& sc = iommu.scalable;
  dom.pasid = d.get_uint("pasid", 0, 0, (1u << sc.pasid_bits) - 1);
  if (dom.pasid != 0 && !sc.pasid) d.fail("pasid", "requests with PASID need iommu.scalable.pasid: true");
  dom.supervisor_requests = d.get_bool("supervisor_requests", false);
  if (dom.supervisor_requests && !sc.supervisor_requests)
    d.fail("supervisor_requests", "needs iommu.scalable.supervisor_requests: true");
  dom.second_level_ad = d.get_bool("second_level_ad", false);
  if (dom.second_level_ad && !(sc.second_level && sc.second_level_ad))
    d.fail("second_level_ad", "needs iommu.scalable.second_level_ad: true");
  const std::string& t = dom.translation;
  if (t == "translate" && !sc.second_level)
    d.fail("translation", "second-level translation needs iommu.scalable.second_level: true");
  if (t == "first-level" && !sc.first_level)
    d.fail("translation", "first-level translation needs iommu.scalable.first_level: true");
  if (t == "nested" && !sc.nested)
    d.fail("translation", "nested translation needs iommu.scalable.nested: true");
  if (uses_first_level(dom)) {
    dom.first_level_levels = d.get_uint("first_level_levels", 4, 4, 5);
    if (dom.first_level_levels == 5 && !sc.first_level_5level)
      d.fail("first_level_levels", "5-level first-level tables need iommu.scalable.first_level_5level: true");
  }
  if (t != "nested") return;
  dom.parent = static_cast<uint16_t>(d.get_uint("parent", 0, 1, 65535));
  const DomainSpec* parent = nullptr;
  for (const DomainSpec& e : earlier)
    if (e.id == dom.parent) parent = &e;
  if (!parent || parent->translation != "translate")
    d.fail("parent", "must name a second-level (translate) domain listed before this one");
  Section g = d.section("guest_tables");
  dom.guest_tables_base = g.get_size("base", 0);
  dom.guest_tables_size = g.get_size("size", 1 << 20, 4096);
  if (dom.guest_tables_base % 4096 || dom.guest_tables_size % 4096)
    d.fail("guest_tables", "base and size must be 4 KiB aligned");
  // Every page of the region must be guest memory the parent maps, or the guest could not
  // write its tables there.
  for (uint64_t a = dom.guest_tables_base; a < dom.guest_tables_base + dom.guest_tables_size; a += 4096) {
    bool mapped = false;
    for (const MappingSpec& m : parent->mappings) mapped = mapped || (a >= m.iova && a - m.iova < m.size);
    if (!mapped)
      d.fail("guest_tables", "guest-physical page " + hex(a) + " is not mapped by domain " +
                                 std::to_string(dom.parent));
  }
}

void read_mapping_scalable(Section& m, MappingSpec& map, const DomainSpec& dom) {
  if (!uses_first_level(dom)) return;  // second level: checked as in legacy mode
  map.user = m.get_bool("user", true);
  if (!map.read) m.fail("read", "a present first-level page is always readable");
  const unsigned width = vtd::levels_to_width(dom.first_level_levels);
  const auto canonical = [width](uint64_t va) {
    const uint64_t top = va >> (width - 1);
    return top == 0 || top == (~0ULL >> (width - 1));
  };
  if (!canonical(map.iova) || !canonical(map.iova + map.size - 1) ||
      (map.iova >> (width - 1)) != ((map.iova + map.size - 1) >> (width - 1)))
    m.fail("iova", "the mapping must lie in one canonical half of the " + std::to_string(width) +
                       "-bit first-level address space");
}

void read_traffic_pasid(Section& t, TrafficSpec& spec, const PlatformConfig& pc) {
  if (!t.has("pasid") && !t.has("privileged")) return;
  if (!pc.iommu.scalable.enabled || !pc.iommu.scalable.pasid)
    t.fail(t.has("pasid") ? "pasid" : "privileged",
           "requests with PASID need iommu.scalable.enabled and iommu.scalable.pasid");
  spec.has_pasid = true;
  spec.pasid = t.get_uint("pasid", 0, 0, (1u << pc.iommu.scalable.pasid_bits) - 1);
  spec.privileged = t.get_bool("privileged", false);
}

}  // namespace iommu_sim
