#include "iommu_sim/rtl/cosim/iotlb_stimulus.h"

#include <fstream>
#include <sstream>

namespace iommu_sim {

namespace {

// splitmix64: a cheap, well-mixed hash for the fixed "page table" functions.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t page_base(uint64_t vpn, PageSize size) {
  return vpn & ~((1ULL << page_shift_pages(size)) - 1);
}

// Domains sit 2^24 pages (64 GiB) apart so that their pages never share a region.
uint64_t domain_base(uint16_t domain) { return static_cast<uint64_t>(domain) << 24; }

RtlCycleIn lookup_of(uint16_t domain, uint64_t vpn) {
  RtlCycleIn in;
  in.lookup = true;
  in.lookup_domain = domain;
  in.lookup_vpn = vpn;
  return in;
}

RtlCycleIn fill_of(const IotlbEntry& e) {
  RtlCycleIn in;
  in.fill = true;
  in.fill_entry = e;
  return in;
}

RtlCycleIn inv_pages_of(uint16_t domain, uint64_t vpn, unsigned am) {
  RtlCycleIn in;
  in.invalidate = true;
  in.inv_kind = RtlCycleIn::InvPages;
  in.inv_domain = domain;
  in.inv_vpn = vpn;
  in.inv_am = am;
  return in;
}

RtlCycleIn inv_domain_of(uint16_t domain) {
  RtlCycleIn in;
  in.invalidate = true;
  in.inv_kind = RtlCycleIn::InvDomain;
  in.inv_domain = domain;
  return in;
}

RtlCycleIn inv_all() {
  RtlCycleIn in;
  in.invalidate = true;
  in.inv_kind = RtlCycleIn::InvGlobal;
  return in;
}

IotlbEntry entry_of(uint16_t domain, uint64_t vpn, uint64_t pfn, PageSize size, bool r = true,
                    bool w = true) {
  IotlbEntry e;
  e.domain = domain;
  e.vpn = vpn;
  e.pfn = pfn;
  e.size = size;
  e.read = r;
  e.write = w;
  return e;
}

}  // namespace

RandomStimulus::RandomStimulus(const StimulusKnobs& knobs) : m_knobs(knobs), m_rng(knobs.seed) {
  if (m_knobs.domains == 0) m_knobs.domains = 1;
  if (m_knobs.hot_pages == 0) m_knobs.hot_pages = 1;
  m_last_vpn = domain_base(1);
}

PageSize RandomStimulus::size_of(uint16_t domain, uint64_t vpn) const {
  const double g = static_cast<double>(mix((uint64_t{domain} << 40) ^ (vpn >> 18)) % 10000) / 1e4;
  if (g < m_knobs.size_1g) return PageSize::Size1G;
  const double m = static_cast<double>(mix((uint64_t{domain} << 44) ^ (vpn >> 9)) % 10000) / 1e4;
  if (m < m_knobs.size_2m) return PageSize::Size2M;
  return PageSize::Size4K;
}

IotlbEntry RandomStimulus::translation(uint16_t domain, uint64_t vpn, PageSize size) const {
  const uint64_t base = page_base(vpn, size);
  const uint64_t h = mix((uint64_t{domain} << 48) ^ base ^ (uint64_t{static_cast<uint8_t>(size)} << 60));
  // Frames below 2^40 pages (a 52-bit host address space).
  const uint64_t pfn = page_base(h & ((1ULL << 40) - 1), size);
  // Mostly read-write; some read-only, write-only and (rarely) no permission at all.
  const unsigned p = static_cast<unsigned>((h >> 41) % 16);
  return entry_of(domain, base, pfn, size, p != 1 && p != 2, p > 3);
}

uint64_t RandomStimulus::pick_vpn(uint16_t domain) {
  if (domain == m_last_domain && chance(m_knobs.sequential)) return m_last_vpn + 1;
  const uint64_t base = domain_base(domain);
  if (chance(m_knobs.hot)) {
    // Clusters of 16 pages (3 apart) in different 2 MiB regions: every set sees traffic and
    // superpages of the hot regions alias the 4 KiB pages inside them.
    const uint64_t i = m_rng() % m_knobs.hot_pages;
    return base + (i / 16) * 512 + (i % 16) * 3;
  }
  return base + m_rng() % (1ULL << 22);  // cold: anywhere in 16 GiB
}

RtlCycleIn RandomStimulus::next(bool last_missed) {
  RtlCycleIn in;
  if (last_missed && chance(m_knobs.fill_on_miss)) {
    PageSize size = size_of(m_last_domain, m_last_vpn);
    if (chance(m_knobs.alias_fill))
      size = static_cast<PageSize>((static_cast<unsigned>(size) + 1 + m_rng() % 2) % 3);
    in.fill = true;
    in.fill_entry = translation(m_last_domain, m_last_vpn, size);
  } else if (chance(m_knobs.invalidate)) {
    in.invalidate = true;
    const unsigned k = static_cast<unsigned>(m_rng() % 20);
    in.inv_domain = static_cast<uint16_t>(1 + m_rng() % m_knobs.domains);
    if (k < 15) {
      in.inv_kind = RtlCycleIn::InvPages;
      in.inv_vpn = chance(0.5) ? m_last_vpn : pick_vpn(in.inv_domain);
      if (chance(0.5)) in.inv_domain = m_last_domain;
      const unsigned a = static_cast<unsigned>(m_rng() % 100);
      in.inv_am = a < 50   ? 0
                  : a < 75 ? 1 + static_cast<unsigned>(m_rng() % 9)
                  : a < 95 ? 10 + static_cast<unsigned>(m_rng() % 11)
                           : 21 + static_cast<unsigned>(m_rng() % 43);
    } else if (k < 19) {
      in.inv_kind = RtlCycleIn::InvDomain;
    } else {
      in.inv_kind = RtlCycleIn::InvGlobal;
    }
  } else {
    in.lookup = true;
    // Now and then a domain nobody maps.
    m_last_domain = chance(0.01) ? 0 : static_cast<uint16_t>(1 + m_rng() % m_knobs.domains);
    m_last_vpn = pick_vpn(m_last_domain) & kPageNumberMask;
    in.lookup_domain = m_last_domain;
    in.lookup_vpn = m_last_vpn;
    return in;
  }
  // A fill or an invalidation; sometimes with a lookup in the same cycle.
  if (chance(m_knobs.same_cycle)) {
    in.lookup = true;
    m_last_domain = in.fill ? in.fill_entry.domain : m_last_domain;
    in.lookup_domain = m_last_domain;
    in.lookup_vpn = chance(0.5) ? m_last_vpn : pick_vpn(m_last_domain);
    m_last_vpn = in.lookup_vpn;
  }
  return in;
}

std::vector<RtlCycleIn> directed_stimulus(const IotlbConfig& config) {
  std::vector<RtlCycleIn> out;
  const unsigned sets = config.sets, ways = config.ways;
  const uint16_t d = 7, other = 8;
  auto lookup = [&](uint16_t dom, uint64_t vpn) { out.push_back(lookup_of(dom, vpn)); };
  auto fill = [&](const IotlbEntry& e) { out.push_back(fill_of(e)); };

  // 1. One set filled past capacity, then hits in an order that makes each policy choose a
  //    different victim, then more fills. vpn = s0 + k*sets all index set s0 at 4 KiB.
  const uint64_t s0 = 3 % sets;
  const uint64_t base = 0x1000;  // a multiple of every set count we build
  auto in_set = [&](unsigned k) { return base * sets + s0 + uint64_t{k} * sets; };
  for (unsigned k = 0; k < ways + 2; ++k) fill(entry_of(d, in_set(k), 0x500 + k, PageSize::Size4K));
  for (unsigned r = 0; r < 3; ++r) {
    for (unsigned k = ways + 2; k-- > 0;) lookup(d, in_set(k));
    for (unsigned i = 0; i < ways; i += 2) lookup(d, in_set((i * 3 + r) % (ways + 2)));
    fill(entry_of(d, in_set(ways + 2 + r), 0x600 + r, PageSize::Size4K));
  }
  for (unsigned i = 0; i < 4 * ways + 4; ++i) {
    lookup(d, in_set((i * 5) % (ways + 5)));
    if (i % 3 == 0) fill(entry_of(d, in_set(ways + 5 + i), 0x700 + i, PageSize::Size4K));
  }
  for (unsigned k = 0; k < 2 * ways + 8; ++k) lookup(d, in_set(k));

  // 2. Superpage and 4 KiB aliases of one region.
  const uint64_t g = uint64_t{5} << 18;   // a 1 GiB region
  const uint64_t m = g + (uint64_t{2} << 9);  // a 2 MiB region inside it
  auto aliases = [&]() {
    fill(entry_of(d, m, 0x20000, PageSize::Size2M, true, false));
    fill(entry_of(d, m + 1, 0x30001, PageSize::Size4K, false, true));
    fill(entry_of(d, g, 0x4000000, PageSize::Size1G));
    lookup(d, m + 1);            // the 4 KiB entry wins
    lookup(d, m + 2);            // the 2 MiB entry
    lookup(d, g + (100 << 9));   // the 1 GiB entry
    lookup(other, m + 1);        // another domain: miss
  };
  aliases();
  out.push_back(inv_pages_of(d, m + 1, 0));  // overlaps all three
  lookup(d, m + 1);
  lookup(d, m + 2);
  aliases();
  out.push_back(inv_pages_of(d, m + 3, 0));  // the 2 MiB and the 1 GiB entries, not the 4 KiB one
  lookup(d, m + 1);
  lookup(d, m + 3);
  out.push_back(inv_pages_of(d, g, 9));      // a 2 MiB range at the start of the 1 GiB region
  lookup(d, m + 1);
  aliases();
  out.push_back(inv_pages_of(d, g + (9 << 9), 9));  // another 2 MiB range: only the 1 GiB one
  lookup(d, g + (100 << 9));
  lookup(d, m + 2);
  // A fill whose page number has offset bits: they are dropped.
  fill(entry_of(d, g + (7 << 9) + 5, 0x70000 + 5, PageSize::Size2M));
  lookup(d, g + (7 << 9) + 9);

  // 3. Page-invalidation masks at every alignment, with an unaligned address.
  std::vector<unsigned> ams;
  for (unsigned am = 0; am <= 20; ++am) ams.push_back(am);
  for (unsigned am : {26u, 27u, 30u, 40u, 51u, 52u, 53u, 63u}) ams.push_back(am);
  uint64_t region = uint64_t{9} << 24;
  for (unsigned am : ams) {
    region += uint64_t{1} << 22;
    const uint64_t offsets[] = {0, 1, 2, 5, 100, 511, 512, 513, 4096, uint64_t{1} << (am < 40 ? am : 0)};
    for (uint64_t off : offsets)
      fill(entry_of(d, region + off, 0x9000 + off, PageSize::Size4K));
    fill(entry_of(d, region + 1024, 0x80000, PageSize::Size2M));
    fill(entry_of(other, region + 1, 0x9999, PageSize::Size4K));
    out.push_back(inv_pages_of(d, region + 3 + (am > 1 ? (uint64_t{1} << (am - 1)) % 4096 : 0), am));
    for (uint64_t off : offsets) lookup(d, region + off);
    lookup(d, region + 1030);
    lookup(other, region + 1);
  }

  // 4. Invalidation while a lookup is in flight: in the same cycle (the lookup sees the entry),
  //    and in the cycle right after one.
  const uint64_t x = (uint64_t{11} << 24) + 17;
  fill(entry_of(d, x, 0x1717, PageSize::Size4K));
  RtlCycleIn both = inv_pages_of(d, x, 0);
  both.lookup = true;
  both.lookup_domain = d;
  both.lookup_vpn = x;
  out.push_back(both);
  lookup(d, x);
  fill(entry_of(d, x, 0x1718, PageSize::Size4K));
  lookup(d, x);
  out.push_back(inv_pages_of(d, x, 0));
  lookup(d, x);
  fill(entry_of(d, x, 0x1719, PageSize::Size4K));
  RtlCycleIn dom = inv_domain_of(d);
  dom.lookup = true;
  dom.lookup_domain = d;
  dom.lookup_vpn = x;
  out.push_back(dom);
  lookup(d, x);

  // 5. Fill and lookup of the same page in one cycle: the lookup waits a cycle and hits.
  const uint64_t y = (uint64_t{12} << 24) + 33;
  RtlCycleIn fl = fill_of(entry_of(d, y, 0x3333, PageSize::Size4K, true, false));
  fl.lookup = true;
  fl.lookup_domain = d;
  fl.lookup_vpn = y;
  out.push_back(fl);
  // Fill, invalidation and lookup together: lookup, invalidation, then the fill.
  RtlCycleIn all3 = inv_pages_of(d, y, 0);
  all3.fill = true;
  all3.fill_entry = entry_of(d, y, 0x3334, PageSize::Size4K);
  all3.lookup = true;
  all3.lookup_domain = d;
  all3.lookup_vpn = y;
  out.push_back(all3);
  lookup(d, y);

  // 6. In-place refill: same page, new frame and permissions, no eviction.
  const uint64_t z = (uint64_t{13} << 24) + 5;
  fill(entry_of(d, z, 0xAAAA, PageSize::Size4K, true, false));
  fill(entry_of(d, z, 0xBBBB, PageSize::Size4K, false, true));
  lookup(d, z);

  // 7. Domain and global invalidation; stray domains and high page numbers.
  for (unsigned k = 0; k < ways + 1; ++k) {
    fill(entry_of(other, in_set(k), 0xC00 + k, PageSize::Size4K));
    fill(entry_of(d, in_set(k) + sets * 64, 0xD00 + k, PageSize::Size4K));
  }
  out.push_back(inv_domain_of(other));
  for (unsigned k = 0; k < ways + 1; ++k) lookup(other, in_set(k));
  lookup(0, in_set(0));
  const uint64_t high = (uint64_t{1} << 51) + 77;
  fill(entry_of(65535, high, 0xFFFFFFFFFF, PageSize::Size4K));
  lookup(65535, high);
  lookup(65535, high & ~(uint64_t{1} << 51));
  out.push_back(inv_all());
  lookup(65535, high);
  lookup(d, z);
  out.push_back(inv_all());  // an empty IOTLB: nothing to count
  return out;
}

RtlCycleIn to_cycle(const IotlbOp& op) {
  const IotlbEntry& e = op.entry;
  switch (op.kind) {
    case IotlbOp::Lookup: return lookup_of(e.domain, e.vpn);
    case IotlbOp::Fill: return fill_of(e);
    case IotlbOp::InvalidateAll: return inv_all();
    case IotlbOp::InvalidateDomain: return inv_domain_of(e.domain);
    case IotlbOp::InvalidatePages: return inv_pages_of(e.domain, e.vpn, op.am);
    case IotlbOp::Access: break;
  }
  return RtlCycleIn{};
}

bool trace_stimulus(const std::string& path, std::vector<RtlCycleIn>& out, std::string& error) {
  std::ifstream is(path);
  if (!is) {
    error = path + ": cannot open";
    return false;
  }
  std::vector<IotlbOp> ops;
  if (!read_iotlb_trace(is, ops, error)) {
    error = path + ": " + error;
    return false;
  }
  for (const IotlbOp& op : ops)
    if (op.kind != IotlbOp::Access) out.push_back(to_cycle(op));
  return true;
}

std::string describe(const RtlCycleIn& in) {
  std::ostringstream os;
  os << std::hex;
  bool any = false;
  if (in.lookup) {
    os << "lookup(domain " << std::dec << in.lookup_domain << ", vpn 0x" << std::hex
       << in.lookup_vpn << ")";
    any = true;
  }
  if (in.fill) {
    const IotlbEntry& e = in.fill_entry;
    os << (any ? " + " : "") << "fill(domain " << std::dec << e.domain << ", vpn 0x" << std::hex
       << e.vpn << ", pfn 0x" << e.pfn << ", " << (e.read ? "r" : "-") << (e.write ? "w" : "-")
       << ", " << to_string(e.size) << ")";
    any = true;
  }
  if (in.invalidate) {
    static const char* kinds[] = {"global", "domain", "pages"};
    os << (any ? " + " : "") << "invalidate " << kinds[in.inv_kind % 3];
    if (in.inv_kind != RtlCycleIn::InvGlobal) os << "(domain " << std::dec << in.inv_domain;
    if (in.inv_kind == RtlCycleIn::InvPages)
      os << ", vpn 0x" << std::hex << in.inv_vpn << ", am " << std::dec << in.inv_am;
    if (in.inv_kind != RtlCycleIn::InvGlobal) os << ")";
    any = true;
  }
  if (!any) os << "idle";
  return os.str();
}

}  // namespace iommu_sim
