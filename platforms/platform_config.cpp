#include "iommu_sim/platform/platform_config.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "iommu_sim/common/bits.h"
#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/iommu/vtd_format.h"
#include "iommu_sim/platform/platform_config_scalable.h"

namespace iommu_sim {

namespace {

using sc_core::SC_NS;
using sc_core::sc_time;

sc_time ns(double v) { return sc_time(v, SC_NS); }

uint16_t read_requester(Section& s, const std::string& key, const std::string& text) {
  uint16_t rid = 0;
  if (!parse_requester_id(text, rid))
    s.fail(key, "'" + text + "' is not a requester ID; expected bus:device.function, e.g. 00:02.0");
  return rid;
}

// Physical memory as the platform decodes it (platform.cpp): below 3 GiB and from 4 GiB to
// 2^52; between them the PCIe, register and interrupt windows.
constexpr uint64_t kLowMemoryEnd = 0xC0000000;
constexpr uint64_t kHighMemoryBase = 0x100000000ULL;
constexpr uint64_t kMemoryEnd = 1ULL << 52;

// [base, base + size) without wrapping past 2^64, as first and last byte.
bool range_of(uint64_t base, uint64_t size, uint64_t& last) {
  if (size == 0 || size - 1 > UINT64_MAX - base) return false;
  last = base + size - 1;
  return true;
}
bool overlaps(uint64_t a, uint64_t a_last, uint64_t b, uint64_t b_last) {
  return a <= b_last && b <= a_last;
}
bool in_memory(uint64_t first, uint64_t last) {
  return (last < kLowMemoryEnd) || (first >= kHighMemoryBase && last < kMemoryEnd);
}
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// A physical region the host software owns (`what` at `key` of `s`): it must lie in memory.
void check_memory_region(Section& s, const std::string& key, const std::string& what,
                         uint64_t base, uint64_t size, uint64_t& last) {
  if (!range_of(base, size, last))
    s.fail(key, what + " at " + hex(base) + " of " + hex(size) + " bytes runs past 2^64");
  if (!in_memory(base, last))
    s.fail(key, what + " " + hex(base) + "-" + hex(last) +
                    " is not in memory (0-0xbfffffff or 0x100000000-2^52)");
}

}  // namespace

PageSize read_page_size(Section& s, const std::string& key, const std::string& def) {
  const std::string p = s.get_enum(key, def, {"4K", "2M", "1G"});
  return p == "1G" ? PageSize::Size1G : p == "2M" ? PageSize::Size2M : PageSize::Size4K;
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

namespace {

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
  IotlbIndex index = c.index;
  parse_iotlb_index(s.get_enum("index", to_string(c.index), {"page", "page-xor-domain"}), index);
  c.index = index;
  pc.iommu.iotlb_hit_latency = ns(s.get_double("hit_latency_ns", 2, 0, 1e6));
  const std::string problem = validate_iotlb_config(c);
  if (!problem.empty()) s.fail("", problem);
}

// iommu.interrupt_remapping: the hardware's interrupt remapper (ECAP.IR, EIM, CAP.PI) and its
// interrupt-entry cache. Whether the host turns remapping on is the `interrupts:` section's call.
void read_interrupt_remapping(Section s, IommuConfig& c) {
  c.interrupt_remapping = s.get_bool("enabled", c.interrupt_remapping);
  c.x2apic = s.get_bool("x2apic", c.x2apic);
  c.posted_interrupts = s.get_bool("posted", c.posted_interrupts);
  c.interrupt_entry_cache = read_cache(s.section("iec"), c.interrupt_entry_cache);
  c.iec_latency = ns(s.get_double("iec_latency_ns", c.iec_latency.to_seconds() * 1e9, 0, 1e6));
  if (!c.interrupt_remapping && (c.x2apic || c.posted_interrupts))
    s.fail(c.x2apic ? "x2apic" : "posted", "needs iommu.interrupt_remapping.enabled: true");
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
  read_interrupt_remapping(s.section("interrupt_remapping"), c);
  read_scalable_iommu(s.section("scalable"), pc);
  const std::string problem = validate_iommu_config(c);
  if (!problem.empty()) s.fail("", problem);
}

// Page-table depths the hardware offers (CAP.SAGAW): a domain with another depth could never
// translate (every DMA would fault 0x3).
void check_levels(Section& s, const std::string& key, unsigned levels, const IommuConfig& iommu) {
  const auto& l = iommu.supported_levels;
  if (std::find(l.begin(), l.end(), levels) == l.end())
    s.fail(key, std::to_string(levels) + "-level tables are not among iommu.levels");
}

void read_driver(Section s, PlatformConfig& pc) {
  HostDriverConfig& d = pc.host.driver;
  d.num_vfs = static_cast<uint16_t>(s.get_uint("num_vfs", 0, 0, 255));
  d.ari = s.get_bool("ari", d.ari);
  d.levels = s.get_uint("levels", d.levels, 3, 5);
  check_levels(s, "levels", d.levels, pc.iommu);
  d.buffer_base = s.get_size("buffer_base", d.buffer_base);
  d.buffer_size = s.get_size("buffer_size", d.buffer_size, 1 << 20);
  uint64_t buffer_last = 0;
  check_memory_region(s, "buffer_base", "the driver's buffer region", d.buffer_base, d.buffer_size,
                      buffer_last);
  uint64_t table_last = 0;
  range_of(pc.host.table_base, pc.host.table_size, table_last);  // checked by read_host
  if (overlaps(d.buffer_base, buffer_last, pc.host.table_base, table_last))
    s.fail("buffer_base", "the driver's buffers " + hex(d.buffer_base) + "-" + hex(buffer_last) +
                              " overlap the VT-d table region (host.table_base, host.table_size)");
  const unsigned domains = 1u << (4 + 2 * pc.iommu.domain_bits_nd);
  for (unsigned id : s.get_uint_list("domains", {}, 1, 65535)) {
    if (id >= domains)
      s.fail("domains", "domain " + std::to_string(id) + " is beyond the " + std::to_string(domains) +
                            " domains of iommu.nd " + std::to_string(pc.iommu.domain_bits_nd));
    d.domains.push_back(static_cast<uint16_t>(id));
  }
  d.ecam_base = pc.pcie.root_complex.ecam_base;
  d.bus_first = pc.pcie.root_complex.bus_first;
  d.bus_last = pc.pcie.root_complex.bus_last;
  d.mmio_base = pc.pcie.root_complex.mmio_base;
  d.mmio_size = pc.pcie.root_complex.mmio_size;
  for (const EndpointSpec& ep : pc.pcie.endpoints)
    if (ep.ats_enabled) d.ats.push_back({ep.endpoint.pf_rid(), ep.ats_stu});
  if (const std::string p = validate(d); !p.empty()) s.fail("", p);
  unsigned functions = 0;
  for (const auto& ep : pc.pcie.endpoints) {
    if (d.num_vfs > ep.endpoint.device.sriov.total_vfs)
      s.fail("num_vfs", "endpoint '" + ep.name + "' has only " +
                            std::to_string(ep.endpoint.device.sriov.total_vfs) + " VFs (total_vfs)");
    functions += 1 + d.num_vfs;
  }
  // Functions beyond the driver's domain list get domain index + 1: the last one must exist.
  if (functions > d.domains.size() && functions >= domains)
    s.fail("num_vfs", std::to_string(functions) + " PCIe functions each get a domain of their own, "
                      "but iommu.nd " + std::to_string(pc.iommu.domain_bits_nd) + " gives domains 1-" +
                      std::to_string(domains - 1) + " (raise iommu.nd or list host.driver.domains)");
}

void read_host(Section s, PlatformConfig& pc) {
  HostSetupConfig& h = pc.host;
  h.register_base = pc.iommu.register_base;
  h.table_base = s.get_size("table_base", h.table_base);
  h.table_size = s.get_size("table_size", h.table_size, 64 * 1024);
  if (h.table_base % 4096) s.fail("table_base", "must be 4 KiB aligned");
  uint64_t table_last = 0;
  check_memory_region(s, "table_base", "the VT-d table region", h.table_base, h.table_size, table_last);
  h.invalidation = s.get_enum("invalidation", h.invalidation, {"queued", "register"});
  for (const EndpointSpec& ep : pc.pcie.endpoints)
    if (ep.ats_enabled && pc.iommu.device_tlbs && h.invalidation != "queued")
      s.fail("invalidation", "endpoint '" + ep.name + "' has ATS enabled: device-TLBs are invalidated "
                             "through the invalidation queue only (use queued)");
  read_host_tables(s, h, pc.iommu);
  const bool scalable = h.tables == "scalable";
  h.pcie = !pc.pcie.endpoints.empty();
  if (h.pcie) read_driver(s.section("driver"), pc);
  std::set<uint16_t> ids;
  std::set<uint64_t> devices;  // requester ID << 32 | PASID
  for (Section d : s.list("domains")) {
    DomainSpec dom;
    const unsigned max_domain = (1u << (4 + 2 * pc.iommu.domain_bits_nd)) - 1;
    dom.id = static_cast<uint16_t>(d.get_uint("id", 1, 1, std::min(max_domain, 65535u)));
    if (!ids.insert(dom.id).second) d.fail("id", "domain " + std::to_string(dom.id) + " is defined twice");
    dom.levels = d.get_uint("levels", 4, 3, 5);
    check_levels(d, "levels", dom.levels, pc.iommu);
    dom.translation = d.get_enum("translation", "translate", domain_translations(scalable));
    dom.fault_processing_disable = d.get_bool("fault_processing_disable", false);
    if (scalable) read_scalable_domain(d, dom, h.domains, pc.iommu);
    for (const std::string& text : d.get_string_list("devices")) {
      const uint16_t rid = read_requester(d, "devices", text);
      if (!devices.insert(uint64_t(rid) << 32 | dom.pasid).second)
        d.fail("devices", text + " is in more than one domain" + (scalable ? " at this PASID" : ""));
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
      // First-level tables: `user`, and addresses in one canonical half of their width.
      read_mapping_scalable(m, map, dom);
      const bool first_level = dom.translation == "first-level" || dom.translation == "nested";
      uint64_t iova_last = 0, phys_last = 0;
      if (!range_of(map.iova, map.size, iova_last)) {
        m.fail("iova", "the mapping " + hex(map.iova) + " + " + hex(map.size) + " runs past 2^64");
      } else if (!first_level) {
        // The table indexes the IOVA bits below its own width (and the hardware's).
        const unsigned width = std::min(pc.iommu.address_width, vtd::levels_to_width(dom.levels));
        if ((iova_last >> width) != 0)
          m.fail("iova", "the mapping " + hex(map.iova) + " + " + hex(map.size) + " ends above the " +
                             std::to_string(width) + "-bit input address width of a " +
                             std::to_string(dom.levels) + "-level domain");
      }
      // The frame bits stop at the host address width. A nested domain's frames are guest
      // physical: its parent's mappings are checked against the host.
      if (dom.translation != "nested") {
        if (!range_of(map.phys, map.size, phys_last) || (phys_last >> pc.iommu.host_address_width) != 0)
          m.fail("phys", "the mapping's physical range " + hex(map.phys) + " + " + hex(map.size) +
                             " ends above the " + std::to_string(pc.iommu.host_address_width) +
                             "-bit host address width");
        // A device that could write the remapping structures could rewrite its own permissions.
        if (overlaps(map.phys, phys_last, h.table_base, table_last))
          m.fail("phys", "the mapping " + hex(map.phys) + "-" + hex(phys_last) +
                             " exposes the VT-d table region " + hex(h.table_base) + "-" +
                             hex(table_last) + " (host.table_base, host.table_size) to the device");
      }
      for (size_t i = 0; i < dom.mappings.size(); ++i) {
        const MappingSpec& o = dom.mappings[i];
        if (overlaps(map.iova, iova_last, o.iova, o.iova + o.size - 1))
          m.fail("iova", "the mapping " + hex(map.iova) + "-" + hex(iova_last) + " overlaps mapping " +
                             std::to_string(i) + " (" + hex(o.iova) + "-" + hex(o.iova + o.size - 1) +
                             ") of domain " + std::to_string(dom.id));
      }
      dom.mappings.push_back(map);
    }
    h.domains.push_back(dom);
  }
}

// The keys of one workload kind, read from `s` (a traffic item or a `workload:` section).
void read_workload_fields(Section& s, WorkloadSpec& w, uint64_t default_seed, unsigned address_width) {
  const std::string problem_prefix = w.kind + " workload: ";
  std::string problem;
  if (w.kind == "random") {
    RandomWorkloadConfig& r = w.random;
    r.base = s.get_size("base", r.base);
    r.window = s.get_size("window", r.window, 1);
    r.size = static_cast<uint32_t>(s.get_size("size", r.size, 1, 1 << 20));
    const std::string dir = s.get_enum("direction", "read", {"read", "write", "mixed"});
    r.direction = dir == "write"   ? RandomWorkloadConfig::Write
                  : dir == "mixed" ? RandomWorkloadConfig::Mixed
                                   : RandomWorkloadConfig::Read;
    r.count = s.get_u64("count", r.count, 1);
    r.gap = ns(s.get_double("gap_ns", 10, 0, 1e9));
    r.seed = s.get_u64("seed", default_seed);
    r.stray_every = s.get_u64("stray_every", 0);
    r.stray_base = s.get_size("stray_base", 0);
    problem = validate(r);
  } else if (w.kind == "nic") {
    NicWorkloadConfig& n = w.nic;
    n.rx_ring = s.get_size("rx_ring", n.rx_ring);
    n.tx_ring = s.get_size("tx_ring", n.tx_ring);
    n.buffer_base = s.get_size("buffer_base", n.buffer_base);
    n.buffer_stride = static_cast<uint32_t>(s.get_size("buffer_stride", n.buffer_stride, 64, 1 << 20));
    n.ring_size = s.get_uint("ring_size", n.ring_size, 2, 65536);
    n.packet_size = static_cast<uint32_t>(s.get_size("packet_size", n.packet_size, 1, 65536));
    n.packets = s.get_u64("packets", n.packets, 1);
    const std::string mode = s.get_enum("mode", "both", {"rx", "tx", "both"});
    n.mode = mode == "rx" ? NicWorkloadConfig::Rx : mode == "tx" ? NicWorkloadConfig::Tx : NicWorkloadConfig::Both;
    n.rate_gbps = s.get_double("rate_gbps", n.rate_gbps, 0.001, 1000);
    n.coalesce_packets = s.get_uint("coalesce_packets", n.coalesce_packets, 1, 65536);
    n.coalesce_time = ns(s.get_double("coalesce_time_ns", 20000, 0, 1e9));
    problem = validate(n);
  } else if (w.kind == "storage") {
    StorageWorkloadConfig& st = w.storage;
    st.sgl_base = s.get_size("sgl_base", st.sgl_base);
    st.completion_base = s.get_size("completion_base", st.completion_base);
    st.data_base = s.get_size("data_base", st.data_base);
    st.data_window = s.get_size("data_window", st.data_window, 4096);
    st.transfer_size = static_cast<uint32_t>(s.get_size("transfer_size", st.transfer_size, 512, 1ULL << 30));
    st.segment_size = static_cast<uint32_t>(s.get_size("segment_size", st.segment_size, 512, 1ULL << 30));
    st.max_payload = static_cast<uint32_t>(s.get_size("max_payload", st.max_payload, 64, 4096));
    st.sgl_slots = s.get_uint("sgl_slots", st.sgl_slots, 1, 65536);
    const std::string dir = s.get_enum("direction", "from-device", {"from-device", "to-device", "mixed"});
    st.direction = dir == "to-device" ? StorageWorkloadConfig::ToDevice
                   : dir == "mixed"   ? StorageWorkloadConfig::Mixed
                                      : StorageWorkloadConfig::FromDevice;
    st.requests = s.get_u64("requests", st.requests, 1);
    st.gap = ns(s.get_double("gap_ns", 1000, 0, 1e9));
    st.seed = s.get_u64("seed", default_seed);
    problem = validate(st);
  } else if (w.kind == "trace") {
    TraceWorkloadConfig& t = w.trace;
    t.path = s.get_string("path", "");
    t.time_scale = s.get_double("time_scale", 1.0, 1e-6, 1e6);
    if (s.has("requester")) {
      uint16_t rid = 0;
      const std::string text = s.get_string("requester", "");
      if (!parse_requester_id(text, rid)) s.fail("requester", "'" + text + "' is not a requester ID");
      t.requester = rid;
    }
    problem = validate(t);
  }
  if (!problem.empty()) s.fail("", problem_prefix + problem);
  // Every region the workload touches (and the host maps for it) ends below the IOMMU's input
  // width: one that wraps past 2^64, or lies above the width, could never be mapped.
  std::vector<DmaRegion> regions;
  if (w.kind == "random") regions = {{w.random.base, w.random.window, false}};
  if (w.kind == "nic") regions = nic_regions(w.nic);
  if (w.kind == "storage") regions = storage_regions(w.storage);
  for (const DmaRegion& r : regions) {
    uint64_t last = 0;
    if (!range_of(r.iova, r.size, last) || (last >> address_width) != 0)
      s.fail("", problem_prefix + "touches " + hex(r.iova) + " + " + hex(r.size) + ", above the " +
                     std::to_string(address_width) + "-bit input address width");
  }
}

const std::vector<std::string> kWorkloadKinds = {"random", "nic", "storage", "trace", "none"};

WorkloadSpec read_workload_section(Section s, uint64_t default_seed, const std::string& def_kind,
                                   unsigned address_width) {
  WorkloadSpec w;
  w.kind = s.get_enum("kind", def_kind, kWorkloadKinds);
  read_workload_fields(s, w, default_seed, address_width);
  return w;
}

void read_traffic(Section root, PlatformConfig& pc) {
  std::set<std::string> names;
  for (Section t : root.list("traffic")) {
    TrafficSpec spec;
    spec.name = t.get_string("name", "dev" + std::to_string(pc.traffic.size()));
    if (!names.insert(spec.name).second) t.fail("name", "'" + spec.name + "' is used twice");
    spec.requester_id = read_requester(t, "requester", t.get_string("requester", "00:02.0"));
    spec.workload.kind = t.get_enum("workload", "random", kWorkloadKinds);
    read_traffic_pasid(t, spec, pc);
    read_workload_fields(t, spec.workload, pc.simulation.seed + pc.traffic.size(), pc.iommu.address_width);
    pc.traffic.push_back(spec);
  }
}

// pcie.endpoints.N.ats: the ATS capability in every function of the endpoint, whether the host
// driver enables it, and each function's device-TLB.
void read_ats(Section a, EndpointSpec& ep) {
  ep.ats_enabled = a.get_bool("enabled", true);
  ep.ats_stu = a.get_uint("stu", 0, 0, 31);
  FunctionConfig& pf = ep.endpoint.device.pf;
  pf.ats.present = true;
  pf.ats.invalidate_queue_depth = a.get_uint("invalidate_queue_depth", 0, 0, 31);
  AtsClientConfig& c = ep.endpoint.ats;
  Section t = a.section("devtlb");
  DeviceTlbConfig& d = c.devtlb;
  d.sets = t.get_uint("sets", d.sets, 1, 1u << 16);
  if (!is_power_of_two(d.sets)) t.fail("sets", "must be a power of two (got " + std::to_string(d.sets) + ")");
  d.ways = t.get_uint("ways", d.ways, 1, 4096);
  parse_replacement_kind(t.get_enum("policy", to_string(d.policy), {"lru", "plru", "fifo", "random"}), d.policy);
  if (d.policy == ReplacementKind::Plru && !is_power_of_two(d.ways))
    t.fail("ways", "plru needs a power-of-two number of ways (got " + std::to_string(d.ways) + ")");
  d.seed = t.get_u64("seed", d.seed);
  d.largest_page = read_page_size(t, "largest_page", "1G");
  if (const std::string p = validate(d); !p.empty()) t.fail("", p);
  c.lookup_latency = ns(a.get_double("lookup_latency_ns", 2, 0, 1e6));
  c.invalidation_latency = ns(a.get_double("invalidation_latency_ns", 500, 0, 1e9));
}

void read_pcie(Section s, PlatformConfig& pc) {
  RootComplexConfig& rc = pc.pcie.root_complex;
  rc.ecam_base = s.get_size("ecam_base", rc.ecam_base);
  rc.bus_last = static_cast<uint8_t>(s.get_uint("bus_last", 15, 1, 255));
  rc.mmio_base = s.get_size("mmio_base", rc.mmio_base);
  rc.mmio_size = s.get_size("mmio_size", rc.mmio_size, 1 << 20);
  rc.config_latency = ns(s.get_double("config_latency_ns", 100, 0, 1e6));
  rc.mmio_latency = ns(s.get_double("mmio_latency_ns", 50, 0, 1e6));
  rc.upstream_latency = ns(s.get_double("upstream_latency_ns", 20, 0, 1e6));
  if (const std::string p = validate(rc); !p.empty()) s.fail("", p);
  std::set<std::string> names;
  std::set<unsigned> buses;
  for (Section e : s.list("endpoints")) {
    EndpointSpec ep;
    ep.name = e.get_string("name", "ep" + std::to_string(pc.pcie.endpoints.size()));
    if (!names.insert(ep.name).second) e.fail("name", "'" + ep.name + "' is used twice");
    ep.endpoint.bus = static_cast<uint8_t>(e.get_uint("bus", 1, rc.bus_first, rc.bus_last));
    if (!buses.insert(ep.endpoint.bus).second) e.fail("bus", "two endpoints on one bus");
    SriovConfig& sr = ep.endpoint.device.sriov;
    sr.total_vfs = static_cast<uint16_t>(e.get_uint("total_vfs", sr.total_vfs, 0, 255));
    sr.ari = e.get_bool("ari", sr.ari);
    sr.vf_msix_vectors = e.get_uint("vf_msix_vectors", sr.vf_msix_vectors, 0, 2048);
    ep.endpoint.device.pf.msix_vectors = e.get_uint("pf_msix_vectors", ep.endpoint.device.pf.msix_vectors, 0, 2048);
    if (e.has("ats")) read_ats(e.section("ats"), ep);
    if (const std::string p = validate(ep.endpoint); !p.empty()) e.fail("", p);
    const uint64_t seed = pc.simulation.seed + pc.pcie.endpoints.size() * 1000;
    const unsigned width = pc.iommu.address_width;
    ep.vf_workload = read_workload_section(e.section("workload"), seed, "nic", width);
    ep.pf_workload = e.has("pf_workload") ? read_workload_section(e.section("pf_workload"), seed, "nic", width)
                                          : ep.vf_workload;
    unsigned n = 0;
    for (Section w : e.list("vf_workloads")) {
      if (n >= sr.total_vfs) w.fail("", "more VF workloads than total_vfs");
      ep.vf_workloads.push_back(read_workload_section(w, seed + 1 + n, "nic", width));
      ++n;
    }
    pc.pcie.endpoints.push_back(ep);
  }
}

// iommu.device_tlbs (ECAP.DT): on by default when some endpoint's driver enables ATS.
void read_device_tlbs(Section s, PlatformConfig& pc) {
  bool asked = false;
  for (const EndpointSpec& ep : pc.pcie.endpoints) asked = asked || ep.ats_enabled;
  pc.iommu.device_tlbs = s.get_bool("device_tlbs", asked);
  if (const std::string p = validate_iommu_config(pc.iommu); !p.empty()) {
    const size_t colon = p.find(": ");
    s.fail(p.substr(0, colon), p.substr(colon + 2));
  }
}

sc_time us(double v) { return sc_time(v, sc_core::SC_US); }

// One vCPU: the CPU it runs on (or the CPUs it migrates between) and its schedule. A vCPU with
// neither preempted_us nor halted_us always runs.
VcpuSpec read_vcpu(Section v, unsigned cpus) {
  VcpuSpec spec;
  if (v.has("cpu") && v.has("cpus")) v.fail("cpus", "give either cpu or cpus (the CPUs it migrates between), not both");
  if (v.has("cpus")) {
    const std::vector<unsigned> list = v.get_uint_list("cpus", {}, 0, cpus - 1);
    if (list.empty()) v.fail("cpus", "needs at least one CPU");
    spec.cpu = list.front();
    spec.moves.assign(list.begin() + 1, list.end());
  } else {
    spec.cpu = v.get_uint("cpu", 0, 0, cpus - 1);
  }
  VcpuSchedule& s = spec.schedule;
  if (v.has("preempted_us") && v.has("halted_us"))
    v.fail("halted_us", "a vCPU is either preempted or halted while descheduled, not both");
  s.halted = v.has("halted_us");
  const double off = v.get_double(s.halted ? "halted_us" : "preempted_us", 0, 0, 1e9);
  s.off = us(off);
  s.run = us(v.get_double("run_us", 0, 0, 1e9));
  s.phase = us(v.get_double("phase_us", 0, 0, 1e9));
  if (off > 0 && s.run == sc_core::SC_ZERO_TIME)
    v.fail("run_us", "a vCPU that is descheduled needs run_us > 0");
  if (off == 0 && s.phase > sc_core::SC_ZERO_TIME)
    v.fail("phase_us", "only a vCPU with a schedule (run_us and preempted_us or halted_us) has a phase");
  if (off == 0 && !spec.moves.empty())
    v.fail("cpus", "a vCPU migrates at its schedule-ins: give run_us and preempted_us or halted_us");
  if (off > 0 && s.phase >= s.run + s.off)
    v.fail("phase_us", "must be below run_us + the descheduled time (one period)");
  // Every period is a few scheduling events: periods far shorter than a VM exit would only
  // make the kernel spin (a 1 ps schedule is 10^12 events per simulated second).
  constexpr double kShortestUs = 0.1;
  if (off > 0 && s.run < us(kShortestUs))
    v.fail("run_us", "a vCPU schedule period must be at least 0.1 us");
  if (off > 0 && off < kShortestUs)
    v.fail(s.halted ? "halted_us" : "preempted_us", "a vCPU schedule period must be at least 0.1 us");
  return spec;
}

// The `interrupts:` section: CPUs, guests and their vCPUs, delivery mode and costs, the host's
// timer, and the host software's interrupt-remapping table. VF g belongs to guest g.
void read_interrupts(Section s, PlatformConfig& pc) {
  pc.interrupts_configured = true;
  if (!pc.iommu.interrupt_remapping)
    s.fail("", "needs the interrupt remapper: set iommu.interrupt_remapping.enabled: true");
  if (pc.pcie.endpoints.empty())
    s.fail("", "needs pcie endpoints: the host routes their MSI-X vectors");
  HostInterruptConfig& h = pc.interrupts;
  // The host uses x2APIC mode (IRTA.EIME, 32-bit destinations) when the IOMMU supports it.
  h.x2apic = pc.iommu.x2apic;
  h.cpus = s.get_uint("cpus", h.cpus, 1, h.x2apic ? 4096 : 255);
  parse_interrupt_delivery(s.get_enum("delivery", to_string(h.delivery), {"remapped", "eli", "posted"}),
                           h.delivery);
  const bool posted = h.delivery == InterruptDelivery::Posted;
  if (posted && !pc.iommu.posted_interrupts)
    s.fail("delivery", "posted delivery needs iommu.interrupt_remapping.posted: true");
  // APIC virtualization: posted delivery needs it, ELI cannot have it; remapped delivery runs
  // without it unless asked.
  h.apicv = s.get_bool("apicv", posted);
  if (posted && !h.apicv) s.fail("apicv", "posted delivery needs APIC virtualization (apicv: true)");
  if (h.delivery == InterruptDelivery::Eli && h.apicv)
    s.fail("apicv", "eli gives the guest the physical APIC's EOI, which APIC virtualization would take over: "
                    "use apicv: false");
  h.host_affinity = s.get_enum("affinity", "vcpu", {"vcpu", "host-cpu"}) == "host-cpu";
  if (posted && h.host_affinity)
    s.fail("affinity", "posted interrupts go to the vCPU's descriptor: host-cpu applies to remapped and eli");
  h.host_cpu = s.get_uint("host_cpu", h.host_cpu, 0, h.cpus - 1);
  h.host_timer_hz = s.get_double("host_timer_hz", h.host_timer_hz, 0, 1e6);
  h.notification_vector = static_cast<uint8_t>(s.get_uint("notification_vector", h.notification_vector, 0x20, 0xFF));
  h.wakeup_vector = static_cast<uint8_t>(s.get_uint("wakeup_vector", h.wakeup_vector, 0x20, 0xFF));
  if (h.wakeup_vector == h.notification_vector)
    s.fail("wakeup_vector", "must differ from notification_vector");
  Section k = s.section("costs");
  const auto cost = [&k](const std::string& key, sc_time& value) {
    value = ns(k.get_double(key, value.to_seconds() * 1e9, 0, 1e9));
  };
  cost("vm_exit_ns", h.costs.vm_exit);
  cost("host_handler_ns", h.costs.host_handler);
  cost("injection_ns", h.costs.injection);
  cost("eoi_emulation_ns", h.costs.eoi_emulation);
  cost("shadow_idt_ns", h.costs.shadow_idt);
  cost("notification_ns", h.costs.notification);
  cost("posted_delivery_ns", h.costs.posted_delivery);
  cost("eli_delivery_ns", h.costs.eli_delivery);
  cost("wakeup_ns", h.costs.wakeup);

  InterruptSetupConfig& is = pc.interrupt_setup;
  is.x2apic = h.x2apic;
  is.ecam_base = pc.pcie.root_complex.ecam_base;
  is.table_entries = s.get_uint("irt_entries", is.table_entries, 2, 65536);
  if (!is_power_of_two(is.table_entries))
    s.fail("irt_entries", "must be a power of two (got " + std::to_string(is.table_entries) + ")");
  is.allow_compatibility = s.get_bool("allow_compatibility", is.allow_compatibility);
  is.guest_vector_base = static_cast<uint8_t>(s.get_uint("guest_vector_base", is.guest_vector_base, 0x20, 0xFF));

  // Every function's MSI-X vectors take one IRTE each.
  const unsigned vfs = pc.host.driver.num_vfs;
  unsigned vectors = 0, vf_vectors = 0, enabled_vfs = 0;
  for (const EndpointSpec& ep : pc.pcie.endpoints) {
    vectors += ep.endpoint.device.pf.msix_vectors + vfs * ep.endpoint.device.sriov.vf_msix_vectors;
    vf_vectors = std::max(vf_vectors, ep.endpoint.device.sriov.vf_msix_vectors);
    enabled_vfs += vfs;
  }
  if (vectors > is.table_entries)
    s.fail("irt_entries", std::to_string(vectors) + " MSI-X vectors need as many entries (got " +
                              std::to_string(is.table_entries) + ")");
  if (vf_vectors > 0 && is.guest_vector_base + vf_vectors - 1 > 0xFF)
    s.fail("guest_vector_base", "a VF's " + std::to_string(vf_vectors) + " vectors go beyond 0xFF");

  std::set<std::string> names;
  for (Section g : s.list("guests")) {
    GuestSpec guest;
    guest.name = g.get_string("name", "vm" + std::to_string(h.guests.size()));
    if (guest.name.empty() || guest.name.find('.') != std::string::npos)
      g.fail("name", "must be a non-empty name without dots (it names statistics)");
    if (!names.insert(guest.name).second) g.fail("name", "'" + guest.name + "' is used twice");
    for (Section v : g.list("vcpus")) guest.vcpus.push_back(read_vcpu(v, h.cpus));
    if (guest.vcpus.empty()) g.fail("vcpus", "a guest needs at least one vCPU");
    h.guests.push_back(guest);
  }
  if (h.guests.size() > enabled_vfs)
    s.fail("guests", std::to_string(h.guests.size()) + " guests but only " + std::to_string(enabled_vfs) +
                         " VFs are enabled (host.driver.num_vfs): VF g belongs to guest g");
  // The model's own checks (CPUs shared by vCPUs among them) name the key they are about.
  if (const std::string p = validate(h); !p.empty()) {
    const size_t colon = p.find(": ");
    s.fail(p.substr(0, colon), p.substr(colon + 2));
  }
}

// simulation.seed, warmup_us, stats_interval_us. The seed is where every random choice without a
// seed of its own starts: the IOTLB's and the caches' random policy, and each workload (the
// n-th bare source gets seed + n, endpoint e's functions seed + 1000 e + f).
void read_measurement(Section& sim, PlatformConfig& pc) {
  pc.simulation.seed = sim.get_u64("seed", pc.simulation.seed);
  for (CacheGeometry* g : {&pc.iommu.context_cache, &pc.iommu.pscache, &pc.iommu.interrupt_entry_cache})
    g->seed = pc.simulation.seed;
  pc.iommu.iotlb.seed = pc.simulation.seed;
  pc.simulation.warmup = sc_time(sim.get_double("warmup_us", 0, 0, 1e12), sc_core::SC_US);
  pc.simulation.stats_interval = sc_time(sim.get_double("stats_interval_us", 0, 0, 1e12), sc_core::SC_US);
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

bool has_dma_source(const PlatformConfig& pc) {
  for (const TrafficSpec& t : pc.traffic)
    if (t.workload.kind != "none") return true;
  for (const EndpointSpec& ep : pc.pcie.endpoints)
    for (unsigned f = 0; f <= pc.host.driver.num_vfs; ++f)
      if (ep.workload_of(f).kind != "none") return true;
  return false;
}

std::string describe_workloads(const PlatformConfig& pc) {
  std::string text;
  const auto add = [&text](const std::string& item) { text += (text.empty() ? "" : ", ") + item; };
  for (const TrafficSpec& t : pc.traffic)
    if (t.workload.kind != "none") add(t.name + " " + t.workload.kind);
  for (const EndpointSpec& ep : pc.pcie.endpoints) {
    // Kinds in the order the functions run them, each with how many functions run it.
    std::vector<std::pair<std::string, unsigned>> kinds;
    const unsigned vfs = std::min<unsigned>(pc.host.driver.num_vfs, ep.endpoint.device.sriov.total_vfs);
    for (unsigned f = 0; f <= vfs; ++f) {
      const std::string& kind = ep.workload_of(f).kind;
      if (kind == "none") continue;
      auto it = std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == kind; });
      if (it == kinds.end()) kinds.emplace_back(kind, 1);
      else ++it->second;
    }
    for (const auto& [kind, n] : kinds) add(ep.name + " " + kind + (n > 1 ? " x" + std::to_string(n) : ""));
  }
  return text;
}

PlatformConfig read_platform_config(Section root) {
  PlatformConfig pc;
  Section sim = root.section("simulation");
  pc.simulation.quantum = ns(sim.get_double("quantum_ns", 1000, 1, 1e9));
  pc.simulation.max_time = sc_time(sim.get_double("max_time_us", 0, 0, 1e12), sc_core::SC_US);
  read_measurement(sim, pc);

  Section mem = root.section("memory");
  pc.memory.read_latency = ns(mem.get_double("read_latency_ns", 80, 0, 1e6));
  pc.memory.write_latency = ns(mem.get_double("write_latency_ns", 80, 0, 1e6));
  pc.memory.dmi = mem.get_bool("dmi", true);

  read_iommu(root.section("iommu"), pc);
  read_pcie(root.section("pcie"), pc);
  read_device_tlbs(root.section("iommu"), pc);
  read_host(root.section("host"), pc);
  if (root.has("interrupts")) read_interrupts(root.section("interrupts"), pc);
  read_traffic(root, pc);
  return pc;
}

}  // namespace iommu_sim
