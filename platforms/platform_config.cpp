#include "platform_config.h"

#include <cstdio>
#include <set>

#include "common/bits.h"
#include "config_reader.h"

namespace iommu_sim {

namespace {

using sc_core::SC_NS;
using sc_core::sc_time;

sc_time ns(double v) { return sc_time(v, SC_NS); }

PageSize read_page_size(Section& s, const std::string& key) {
  const std::string p = s.get_enum(key, "4K", {"4K", "2M", "1G"});
  return p == "1G" ? PageSize::Size1G : p == "2M" ? PageSize::Size2M : PageSize::Size4K;
}

uint16_t read_requester(Section& s, const std::string& key, const std::string& text) {
  uint16_t rid = 0;
  if (!parse_requester_id(text, rid))
    s.fail(key, "'" + text + "' is not a requester ID; expected bus:device.function, e.g. 00:02.0");
  return rid;
}

CacheGeometry read_cache(Section s, const CacheGeometry& def) {
  CacheGeometry g = def;
  g.enabled = s.get_bool("enabled", def.enabled);
  g.sets = s.get_uint("sets", def.sets, 1, 1u << 16);
  g.ways = s.get_uint("ways", def.ways, 1, 1024);
  ReplacementKind kind = def.policy;
  parse_replacement_kind(s.get_enum("policy", to_string(def.policy), {"lru", "plru", "fifo", "random"}),
                         kind);
  g.policy = kind;
  if (!is_power_of_two(g.sets)) s.fail("sets", "must be a power of two (got " + std::to_string(g.sets) + ")");
  if (g.policy == ReplacementKind::Plru && !is_power_of_two(g.ways))
    s.fail("ways", "plru needs a power-of-two number of ways (got " + std::to_string(g.ways) + ")");
  return g;
}

void read_iotlb(Section s, PlatformConfig& pc) {
  IotlbConfig& c = pc.iommu.iotlb;
  pc.iotlb_impl = s.get_enum("impl", "model", {"model", "rtl"});
  const unsigned ways = s.get_uint("ways", c.ways, 0, 4096);
  if (ways == 0) {
    // Fully associative: one set holding `entries` ways.
    if (!s.has("entries")) s.fail("ways", "ways 0 (fully associative) needs iommu.iotlb.entries");
    const unsigned sets = s.get_uint("sets", 1, 1, 1);
    static_cast<void>(sets);
    c.sets = 1;
    c.ways = s.get_uint("entries", 64, 1, 4096);
  } else {
    c.sets = s.get_uint("sets", c.sets, 1, 1u << 16);
    c.ways = ways;
    if (s.has("entries") && s.get_uint("entries", 0, 1, UINT32_MAX) != c.sets * c.ways)
      s.fail("entries", "must equal sets x ways (" + std::to_string(c.sets * c.ways) + ") or be left out");
    if (!is_power_of_two(c.sets))
      s.fail("sets", "must be a power of two (got " + std::to_string(c.sets) + ")");
  }
  ReplacementKind kind = c.policy;
  parse_replacement_kind(s.get_enum("policy", to_string(c.policy), {"lru", "plru", "fifo", "random"}), kind);
  c.policy = kind;
  if (kind == ReplacementKind::Plru && !is_power_of_two(c.ways))
    s.fail("ways", "plru needs a power-of-two number of ways (got " + std::to_string(c.ways) + ")");
  c.seed = s.get_u64("seed", c.seed);
  pc.iommu.iotlb_hit_latency = ns(s.get_double("hit_latency_ns", 2, 0, 1e6));
  const std::string problem = validate_iotlb_config(c);
  if (!problem.empty()) s.fail("", problem);
}

void read_iommu(Section s, PlatformConfig& pc) {
  IommuConfig& c = pc.iommu;
  c.register_base = s.get_u64("register_base", c.register_base);
  if (c.register_base % 4096) s.fail("register_base", "must be 4 KiB aligned");
  c.address_width = s.get_uint("address_width", c.address_width, 39, 57);
  c.supported_levels = s.get_uint_list("levels", c.supported_levels, 3, 5);
  if (c.supported_levels.empty()) s.fail("levels", "needs at least one of 3, 4, 5");
  c.superpages_2m = s.get_bool("superpages_2m", c.superpages_2m);
  c.superpages_1g = s.get_bool("superpages_1g", c.superpages_1g);
  c.domain_bits_nd = s.get_uint("nd", c.domain_bits_nd, 0, 6);
  c.fault_records = s.get_uint("fault_records", c.fault_records, 1, 256);
  c.pass_through = s.get_bool("pass_through", c.pass_through);
  c.queued_invalidation = s.get_bool("queued_invalidation", c.queued_invalidation);
  c.page_selective = s.get_bool("page_selective_invalidation", c.page_selective);
  c.mamv = s.get_uint("mamv", c.mamv, 0, 63);
  c.walkers = s.get_uint("walkers", c.walkers, 1, 256);
  c.cache_latency = ns(s.get_double("cache_latency_ns", 2, 0, 1e6));
  c.register_latency = ns(s.get_double("register_latency_ns", 1, 0, 1e6));
  read_iotlb(s.section("iotlb"), pc);
  c.context_cache = read_cache(s.section("context_cache"), c.context_cache);
  c.pscache = read_cache(s.section("pscache"), c.pscache);
  const std::string problem = validate_iommu_config(c);
  if (!problem.empty()) s.fail("", problem);
}

void read_host(Section s, PlatformConfig& pc) {
  HostSetupConfig& h = pc.host;
  h.register_base = pc.iommu.register_base;
  h.table_base = s.get_size("table_base", h.table_base);
  h.table_size = s.get_size("table_size", h.table_size, 64 * 1024);
  if (h.table_base % 4096) s.fail("table_base", "must be 4 KiB aligned");
  h.invalidation = s.get_enum("invalidation", h.invalidation, {"queued", "register"});
  std::set<uint16_t> ids, devices;
  for (Section d : s.list("domains")) {
    DomainSpec dom;
    const unsigned max_domain = (1u << (4 + 2 * pc.iommu.domain_bits_nd)) - 1;
    dom.id = static_cast<uint16_t>(d.get_uint("id", 1, 1, std::min(max_domain, 65535u)));
    if (!ids.insert(dom.id).second) d.fail("id", "domain " + std::to_string(dom.id) + " is defined twice");
    dom.levels = d.get_uint("levels", 4, 3, 5);
    dom.translation = d.get_enum("translation", "translate", {"translate", "pass-through", "blocked"});
    dom.fault_processing_disable = d.get_bool("fault_processing_disable", false);
    for (const std::string& text : d.get_string_list("devices")) {
      const uint16_t rid = read_requester(d, "devices", text);
      if (!devices.insert(rid).second) d.fail("devices", text + " is in more than one domain");
      dom.devices.push_back(rid);
    }
    for (Section m : d.list("mappings")) {
      MappingSpec map;
      map.page = read_page_size(m, "page");
      const uint64_t align = 4096ULL << (9 * static_cast<unsigned>(map.page));
      map.iova = m.get_size("iova", 0);
      map.phys = m.get_size("phys", 0);
      map.size = m.get_size("size", align, 1);
      map.read = m.get_bool("read", true);
      map.write = m.get_bool("write", true);
      if (map.iova % align) m.fail("iova", "must be aligned to the page size");
      if (map.phys % align) m.fail("phys", "must be aligned to the page size");
      if (map.size % align) m.fail("size", "must be a multiple of the page size");
      if (map.iova + map.size > (1ULL << pc.iommu.address_width))
        m.fail("iova", "the mapping ends above the IOMMU's address width");
      dom.mappings.push_back(map);
    }
    h.domains.push_back(dom);
  }
}

void read_traffic(Section root, PlatformConfig& pc) {
  std::set<std::string> names;
  for (Section t : root.list("traffic")) {
    TrafficSpec spec;
    spec.name = t.get_string("name", "dev" + std::to_string(pc.traffic.size()));
    if (!names.insert(spec.name).second) t.fail("name", "'" + spec.name + "' is used twice");
    spec.requester_id = read_requester(t, "requester", t.get_string("requester", "00:02.0"));
    t.get_enum("workload", "random", {"random"});
    RandomWorkloadConfig& r = spec.random;
    r.base = t.get_size("base", r.base);
    r.window = t.get_size("window", r.window, 1);
    r.size = static_cast<uint32_t>(t.get_size("size", r.size, 1, 1 << 20));
    const std::string dir = t.get_enum("direction", "read", {"read", "write", "mixed"});
    r.direction = dir == "write" ? RandomWorkloadConfig::Write
                  : dir == "mixed" ? RandomWorkloadConfig::Mixed
                                   : RandomWorkloadConfig::Read;
    r.count = t.get_u64("count", r.count, 1);
    r.gap = ns(t.get_double("gap_ns", 10, 0, 1e9));
    r.seed = t.get_u64("seed", pc.traffic.size() + 1);
    r.stray_every = t.get_u64("stray_every", 0);
    r.stray_base = t.get_size("stray_base", 0);
    const std::string problem = validate(r);
    if (!problem.empty()) t.fail("", problem);
    pc.traffic.push_back(spec);
  }
}

}  // namespace

bool parse_requester_id(const std::string& text, uint16_t& out) {
  unsigned bus = 0, dev = 0, fn = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3) return false;
  if (bus > 0xFF || dev > 0x1F || fn > 7) return false;
  out = static_cast<uint16_t>(bus << 8 | dev << 3 | fn);
  return true;
}

std::string format_requester_id(uint16_t rid) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1F, rid & 7);
  return buf;
}

PlatformConfig read_platform_config(Section root) {
  PlatformConfig pc;
  Section sim = root.section("simulation");
  pc.simulation.quantum = ns(sim.get_double("quantum_ns", 1000, 1, 1e9));
  pc.simulation.max_time = sc_time(sim.get_double("max_time_us", 0, 0, 1e12), sc_core::SC_US);

  Section mem = root.section("memory");
  pc.memory.read_latency = ns(mem.get_double("read_latency_ns", 80, 0, 1e6));
  pc.memory.write_latency = ns(mem.get_double("write_latency_ns", 80, 0, 1e6));
  pc.memory.dmi = mem.get_bool("dmi", true);

  read_iommu(root.section("iommu"), pc);
  read_host(root.section("host"), pc);
  read_traffic(root, pc);
  return pc;
}

}  // namespace iommu_sim
