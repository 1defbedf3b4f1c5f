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
  m_directory = CacheDirectory(config.sets, config.ways, config.policy, config.seed);
}

IotlbHit IotlbModel::lookup_pasid(uint16_t domain, uint32_t pasid, uint64_t vpn) {
  ++m_stats.lookups;
  vpn &= kPageNumberMask;
  const unsigned mix = index_mix(domain);
  for (unsigned s = 0; s < 3; ++s) {
    if (m_size_count[s] == 0) continue;  // no entry of this size anywhere: nothing to probe
    const PageSize size = static_cast<PageSize>(s);
    const uint64_t page = vpn & ~((1ULL << page_shift_pages(size)) - 1);
    const unsigned set = set_of(vpn, size, mix);
    // A fill overwrites its key in place, so a set never holds two lines with one key: the
    // line found is the lowest matching way of docs/iotlb.md's probe.
    const uint32_t line = find(set, make_tag(domain, size), page, pasid);
    if (line == CacheDirectory::kNoLine) continue;
    ++m_stats.hits;
    const unsigned way = line - set * m_config.ways;
    m_directory.touch(set, way);
    IotlbHit hit;
    hit.hit = true;
    hit.set = set;
    hit.way = way;
    hit.entry = entry_of(m_lines[line]);
    return hit;
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
  ++m_stats.fills;
  result.set = set;

  uint32_t line = find(set, tag, vpn, in.pasid);
  if (line != CacheDirectory::kNoLine) {
    m_directory.refill(set, line - set * m_config.ways);  // same page: overwrite in place
  } else {
    const CacheDirectory::Placement p = m_directory.place(set, key_hash(tag, vpn, in.pasid));
    line = p.line;
    if (p.evicted) {
      result.evicted = true;
      result.victim = entry_of(m_lines[line]);
      ++m_stats.evictions;
      --m_size_count[(m_lines[line].tag >> 16) & 3];
      if (m_lines[line].pasid != kNoPasid) --m_pasid_entries;
    }
    ++m_size_count[s];
    if (in.pasid != kNoPasid) ++m_pasid_entries;
  }
  Line& l = m_lines[line];
  l.vpn = vpn;
  l.tag = tag;
  l.pfn = in.pfn & page_mask;
  l.read = in.read;
  l.write = in.write;
  l.pasid = in.pasid;
  result.way = line - set * m_config.ways;
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

void IotlbModel::invalidate_line(uint32_t line) {
  Line& l = m_lines[line];
  --m_size_count[(l.tag >> 16) & 3];
  if (l.pasid != kNoPasid) --m_pasid_entries;
  l.tag = 0;
  m_directory.invalidate(line);
}

template <typename Match>
unsigned IotlbModel::invalidate_matching(Match match) {
  // Invalidation leaves the replacement state alone (docs/iotlb.md).
  ++m_stats.invalidations;
  unsigned n = 0;
  for (uint32_t line = 0; line < m_lines.size(); ++line) {
    if (m_lines[line].tag != 0 && match(m_lines[line])) {
      invalidate_line(line);
      ++n;
    }
  }
  m_stats.invalidated_entries += n;
  return n;
}

unsigned IotlbModel::invalidate_all() {
  ++m_stats.invalidations;
  const unsigned n = valid_entries();
  for (Line& line : m_lines) line.tag = 0;
  m_size_count[0] = m_size_count[1] = m_size_count[2] = 0;
  m_pasid_entries = 0;
  m_directory.invalidate_all();
  m_stats.invalidated_entries += n;
  return n;
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
  return invalidate_range(domain, kAnyPasid, vpn, am);
}

unsigned IotlbModel::invalidate_pasid(uint16_t domain, uint32_t pasid) {
  return invalidate_matching([domain, pasid](const Line& l) {
    return static_cast<uint16_t>(l.tag & 0xFFFF) == domain && l.pasid == pasid;
  });
}

unsigned IotlbModel::invalidate_pasid_pages(uint16_t domain, uint32_t pasid, uint64_t vpn,
                                            unsigned am) {
  return invalidate_range(domain, pasid, vpn, am);
}

unsigned IotlbModel::invalidate_range(uint16_t domain, uint32_t pasid, uint64_t vpn, unsigned am) {
  vpn &= kPageNumberMask;
  // A range that holds few pages of a size is looked up page by page in the directory (a
  // single-page invalidation is one lookup per size in use); a larger one is a scan of every
  // line, whichever is cheaper. The directory finds one PASID tag per probe, so every PASID tag
  // of the domain is a scan once any entry carries a PASID.
  unsigned candidates_per_size[3];
  uint64_t probes = 0;
  for (unsigned s = 0; s < 3; ++s) {
    const unsigned k = std::min(63u, std::max(9u * s, am));
    const unsigned pages_log2 = k - 9u * s;
    candidates_per_size[s] = m_size_count[s] == 0 ? 0 : pages_log2 >= 20 ? ~0u : 1u << pages_log2;
    probes += candidates_per_size[s];
  }
  if (probes * 4 > m_lines.size() || (pasid == kAnyPasid && m_pasid_entries > 0)) {
    return invalidate_matching([domain, pasid, vpn, am](const Line& l) {
      return static_cast<uint16_t>(l.tag & 0xFFFF) == domain &&
             (pasid == kAnyPasid || l.pasid == pasid) && overlaps(l, vpn, am);
    });
  }
  const uint32_t key_pasid = pasid == kAnyPasid ? kNoPasid : pasid;
  ++m_stats.invalidations;
  unsigned n = 0;
  for (unsigned s = 0; s < 3; ++s) {
    const PageSize size = static_cast<PageSize>(s);
    const unsigned k = std::min(63u, std::max(9u * s, am));
    const uint64_t first = (vpn >> k) << k;
    const uint32_t tag = make_tag(domain, size);
    for (uint64_t i = 0; i < candidates_per_size[s]; ++i) {
      const uint64_t page = first + (i << page_shift_pages(size));
      const uint32_t line = find(set_of(page, size, index_mix(domain)), tag, page, key_pasid);
      if (line != CacheDirectory::kNoLine) {
        invalidate_line(line);
        ++n;
      }
    }
  }
  m_stats.invalidated_entries += n;
  return n;
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
  m_pasid_entries = 0;
  m_directory.reset();
}

}  // namespace iommu_sim
