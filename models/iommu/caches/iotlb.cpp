#include "iommu_sim/iommu/caches/iotlb.h"

#include <algorithm>
#include <stdexcept>

namespace iommu_sim {

bool operator==(const IotlbEntry& a, const IotlbEntry& b) {
  return a.domain == b.domain && a.vpn == b.vpn && a.pfn == b.pfn && a.read == b.read &&
         a.write == b.write && a.size == b.size && a.pasid == b.pasid;
}

const char* to_string(PageSize s) {
  switch (s) {
    case PageSize::Size4K: return "4K";
    case PageSize::Size2M: return "2M";
    case PageSize::Size1G: return "1G";
  }
  return "?";
}

const char* to_string(IotlbIndex index) {
  switch (index) {
    case IotlbIndex::Page: return "page";
    case IotlbIndex::PageXorDomain: return "page-xor-domain";
  }
  return "?";
}

bool parse_iotlb_index(const std::string& text, IotlbIndex& out) {
  if (text == "page") {
    out = IotlbIndex::Page;
  } else if (text == "page-xor-domain") {
    out = IotlbIndex::PageXorDomain;
  } else {
    return false;
  }
  return true;
}

std::string validate_iotlb_config(const IotlbConfig& config) {
  if (config.index != IotlbIndex::Page && config.index != IotlbIndex::PageXorDomain)
    return "index must be page or page-xor-domain";
  return validate_geometry(config.sets, config.ways, config.policy);
}

IotlbModel::IotlbModel(const IotlbConfig& config) : m_config(config) {
  std::string err = validate_iotlb_config(config);
  if (!err.empty()) throw std::invalid_argument("iotlb: " + err);
  m_set_mask = config.sets - 1;
  m_domain_mask = config.index == IotlbIndex::PageXorDomain ? 0xFFFFu : 0u;
  m_lines.resize(static_cast<size_t>(config.sets) * config.ways);
  m_policy = make_replacement_policy(config.policy, config.sets, config.ways, config.seed);
}

IotlbHit IotlbModel::lookup_pasid(uint16_t domain, uint32_t pasid, uint64_t vpn) {
  ++m_stats.lookups;
  vpn &= kPageNumberMask;
  const unsigned ways = m_config.ways;
  const unsigned mix = index_mix(domain);
  for (unsigned s = 0; s < 3; ++s) {
    if (m_size_count[s] == 0) continue;  // no entry of this size anywhere: nothing to probe
    const PageSize size = static_cast<PageSize>(s);
    const unsigned shift = page_shift_pages(size);
    const uint64_t page = vpn & ~((1ULL << shift) - 1);
    const uint32_t tag = make_tag(domain, size);
    const unsigned set = set_of(vpn, size, mix);
    const Line* line = &m_lines[static_cast<size_t>(set) * ways];
    for (unsigned w = 0; w < ways; ++w) {
      if (line[w].tag == tag && line[w].vpn == page && line[w].pasid == pasid) {
        ++m_stats.hits;
        m_policy->touch(set, w);
        IotlbHit hit;
        hit.hit = true;
        hit.set = set;
        hit.way = w;
        hit.entry = entry_of(line[w]);
        return hit;
      }
    }
  }
  ++m_stats.misses;
  return IotlbHit{};
}

IotlbFillResult IotlbModel::fill(const IotlbEntry& in) {
  IotlbFillResult result;
  const unsigned s = static_cast<unsigned>(in.size);
  if (s > 2) return result;  // not a page size: nothing stored (documented in docs/iotlb.md)
  // Offset bits inside the page are not part of a page number: drop them, as the RTL's
  // fixed-width ports would.
  const uint64_t page_mask = kPageNumberMask & ~((1ULL << page_shift_pages(in.size)) - 1);
  const uint64_t vpn = in.vpn & page_mask;
  const uint32_t tag = make_tag(in.domain, in.size);
  const unsigned set = set_of(vpn, in.size, index_mix(in.domain));
  const unsigned ways = m_config.ways;
  Line* line = &m_lines[static_cast<size_t>(set) * ways];
  ++m_stats.fills;
  result.set = set;

  unsigned way = ways;
  for (unsigned w = 0; w < ways && way == ways; ++w)
    if (line[w].tag == tag && line[w].vpn == vpn && line[w].pasid == in.pasid)
      way = w;  // same page: overwrite in place
  if (way == ways) {
    for (unsigned w = 0; w < ways && way == ways; ++w)
      if (line[w].tag == 0) way = w;  // lowest invalid way
    if (way == ways) {
      way = m_policy->victim(set);
      result.evicted = true;
      result.victim = entry_of(line[way]);
      ++m_stats.evictions;
    }
    if (line[way].tag != 0) --m_size_count[(line[way].tag >> 16) & 3];
    ++m_size_count[s];
  }
  line[way].vpn = vpn;
  line[way].tag = tag;
  line[way].pfn = in.pfn & page_mask;
  line[way].read = in.read;
  line[way].write = in.write;
  line[way].pasid = in.pasid;
  m_policy->fill(set, way);
  result.way = way;
  return result;
}

IotlbEntry IotlbModel::entry_of(const Line& line) const {
  IotlbEntry e;
  e.domain = static_cast<uint16_t>(line.tag & 0xFFFF);
  e.size = static_cast<PageSize>((line.tag >> 16) & 3);
  e.vpn = line.vpn;
  e.pfn = line.pfn;
  e.read = line.read;
  e.write = line.write;
  e.pasid = line.pasid;
  return e;
}

void IotlbModel::invalidate_line(Line& line) {
  --m_size_count[(line.tag >> 16) & 3];
  line.tag = 0;
}

template <typename Match>
unsigned IotlbModel::invalidate_matching(Match match) {
  // Invalidation leaves the replacement state alone (docs/iotlb.md).
  ++m_stats.invalidations;
  unsigned n = 0;
  for (Line& line : m_lines) {
    if (line.tag != 0 && match(line)) {
      invalidate_line(line);
      ++n;
    }
  }
  m_stats.invalidated_entries += n;
  return n;
}

unsigned IotlbModel::invalidate_all() {
  return invalidate_matching([](const Line&) { return true; });
}

unsigned IotlbModel::invalidate_domain(uint16_t domain) {
  return invalidate_matching(
      [domain](const Line& l) { return static_cast<uint16_t>(l.tag & 0xFFFF) == domain; });
}

bool IotlbModel::overlaps(const Line& l, uint64_t vpn, unsigned am) {
  // Both ranges are naturally aligned power-of-two blocks, so they overlap exactly when the
  // larger block contains the smaller: equal page numbers above the larger of the two sizes.
  const unsigned k = std::min(63u, std::max(9u * ((l.tag >> 16) & 3), am));
  return (l.vpn >> k) == (vpn >> k);
}

unsigned IotlbModel::invalidate_pages(uint16_t domain, uint64_t vpn, unsigned am) {
  vpn &= kPageNumberMask;
  return invalidate_matching([domain, vpn, am](const Line& l) {
    return static_cast<uint16_t>(l.tag & 0xFFFF) == domain && overlaps(l, vpn, am);
  });
}

unsigned IotlbModel::invalidate_pasid(uint16_t domain, uint32_t pasid) {
  return invalidate_matching([domain, pasid](const Line& l) {
    return static_cast<uint16_t>(l.tag & 0xFFFF) == domain && l.pasid == pasid;
  });
}

unsigned IotlbModel::invalidate_pasid_pages(uint16_t domain, uint32_t pasid, uint64_t vpn,
                                            unsigned am) {
  vpn &= kPageNumberMask;
  return invalidate_matching([domain, pasid, vpn, am](const Line& l) {
    return static_cast<uint16_t>(l.tag & 0xFFFF) == domain && l.pasid == pasid &&
           overlaps(l, vpn, am);
  });
}

std::optional<IotlbEntry> IotlbModel::entry_at(unsigned set, unsigned way) const {
  if (set >= m_config.sets || way >= m_config.ways) return std::nullopt;
  const Line& line = m_lines[static_cast<size_t>(set) * m_config.ways + way];
  if (line.tag == 0) return std::nullopt;
  return entry_of(line);
}

unsigned IotlbModel::valid_entries() const {
  return m_size_count[0] + m_size_count[1] + m_size_count[2];
}

void IotlbModel::reset() {
  for (Line& line : m_lines) line = Line{};
  m_size_count[0] = m_size_count[1] = m_size_count[2] = 0;
  m_policy->reset();
}

}  // namespace iommu_sim
