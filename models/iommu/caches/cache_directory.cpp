#include "iommu_sim/iommu/caches/cache_directory.h"

namespace iommu_sim {

CacheDirectory::CacheDirectory(unsigned sets, unsigned ways, ReplacementKind policy,
                               uint64_t seed)
    : m_ways(ways),
      m_indexed(ways > kScanWays),
      m_policy(make_replacement_policy(policy, sets, ways, seed)) {
  if (m_policy->kind() == ReplacementKind::Lru) m_lru = static_cast<LruPolicy*>(m_policy.get());
  const uint32_t lines = sets * ways;  // validated: at most 4M
  m_invalid = InvalidWays(sets, ways);
  if (m_indexed) {
    m_index = LineIndex(lines);
    m_hash.assign(lines, 0);
  }
}

CacheDirectory::Placement CacheDirectory::place(unsigned set, uint64_t hash) {
  Placement p;
  unsigned way = m_invalid.lowest(set);
  if (way == m_ways) {
    way = m_policy->victim(set);
    p.evicted = true;
  }
  p.line = set * m_ways + way;
  if (!p.evicted) {
    m_invalid.mark_valid(set, way);
    ++m_valid;
  }
  if (m_indexed) {
    if (p.evicted) m_index.erase(m_hash[p.line], p.line);
    m_hash[p.line] = hash;
    m_index.insert(hash, p.line);
  }
  m_policy->fill(set, way);
  return p;
}

void CacheDirectory::invalidate(uint32_t line) {
  if (m_indexed) m_index.erase(m_hash[line], line);
  m_invalid.mark_invalid(set_of(line), way_of(line));
  --m_valid;
}

void CacheDirectory::invalidate_all() {
  if (m_indexed) m_index.clear();
  m_invalid.invalidate_all();
  m_valid = 0;
}

void CacheDirectory::reset() {
  invalidate_all();
  m_policy->reset();
}

}  // namespace iommu_sim
