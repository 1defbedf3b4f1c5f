// A generic set-associative cache for the context cache and the paging-structure caches, on the
// same replacement policies as the IOTLB. The key is whatever the user makes of its lookup
// (e.g. source-id for the context cache, domain and IOVA bits for a paging-structure cache); the
// domain is kept beside it for domain-selective invalidation. Lookups, fills and replacement
// cost the same whatever the associativity (CacheDirectory).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/cache_stats.h"
#include "iommu_sim/iommu/caches/replacement_policy.h"
#include "iommu_sim/iommu/caches/cache_directory.h"

namespace iommu_sim {

struct CacheGeometry {
  bool enabled = true;
  unsigned sets = 1;   // a power of two
  unsigned ways = 16;  // 1 or more; a power of two for plru
  ReplacementKind policy = ReplacementKind::Lru;
  uint64_t seed = 1;   // random policy only; 0 means 1
};

// "" when valid, else a message naming the field. Checked even when disabled, so that turning
// a cache on never uncovers a bad geometry.
std::string validate_cache_geometry(const CacheGeometry& geometry);

// Set index of a key: the key times the 64-bit golden-ratio constant, folded (high half xor low
// half), masked to the set count. Cheap, and spreads the strided keys the walkers produce.
inline unsigned cache_set_index(uint64_t key, unsigned sets) {
  uint64_t h = key * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 32;
  return static_cast<unsigned>(h) & (sets - 1);
}

template <typename Value>
class TranslationCache {
 public:
  // Throws std::invalid_argument if the geometry is invalid.
  explicit TranslationCache(const CacheGeometry& geometry);

  // Counts a lookup and a hit or miss, and touches on a hit. Disabled: nullptr, counts nothing.
  // The pointer stays valid until the next insert or invalidation.
  const Value* lookup(uint64_t key) { return probe(key, false, 0); }
  // As lookup(key), and the entry's domain must equal `domain` too: for caches whose 64-bit key
  // cannot hold every tag (first-level entries are tagged by domain and PASID).
  const Value* lookup(uint64_t key, uint16_t domain) { return probe(key, true, domain); }
  // A fill: overwrites the same key in place, else the lowest invalid way, else the policy's
  // victim (an eviction). Disabled: does nothing.
  void insert(uint64_t key, uint16_t domain, const Value& value);
  unsigned invalidate_all();
  unsigned invalidate_domain(uint16_t domain);
  // Invalidates every valid entry for which p(key, domain, const Value&) is true.
  template <typename Pred>
  unsigned invalidate_if(Pred p);

  const CacheStats& stats() const { return m_stats; }
  bool enabled() const { return m_geometry.enabled; }
  const CacheGeometry& geometry() const { return m_geometry; }
  unsigned valid_entries() const;

 private:
  struct Line {
    uint64_t key = 0;
    uint16_t domain = 0;
    bool valid = false;
    Value value{};
  };
  // The directory's hash of a key: another multiplier than the set index's, so that the keys
  // of one set spread over the whole index.
  static uint64_t key_hash(uint64_t key) { return key * 0xC2B2AE3D27D4EB4FULL; }
  const Value* probe(uint64_t key, bool match_domain, uint16_t domain);
  uint32_t find(unsigned set, uint64_t key) const {
    return m_directory.find(set, key_hash(key), [&](uint32_t l) {
      return m_lines[l].valid && m_lines[l].key == key;
    });
  }

  CacheGeometry m_geometry;
  std::vector<Line> m_lines;  // line (set, way) at set * ways + way
  CacheDirectory m_directory;
  CacheStats m_stats;
  // The line of the last hit, while no fill or invalidation has changed the cache since: lookups
  // come in runs of one key (a requester's context, a walk's upper tables), and a run is answered
  // without probing. Exact for every policy: touching the way touched last changes no policy's
  // state.
  uint32_t m_repeat_line = CacheDirectory::kNoLine;
};

// ---- implementation (a template: it has to live in the header) ----

template <typename Value>
TranslationCache<Value>::TranslationCache(const CacheGeometry& geometry) : m_geometry(geometry) {
  std::string err = validate_cache_geometry(geometry);
  if (!err.empty()) throw std::invalid_argument("cache: " + err);
  if (!geometry.enabled) return;  // no storage for a cache that is off
  m_lines.resize(static_cast<size_t>(geometry.sets) * geometry.ways);
  m_directory = CacheDirectory(geometry.sets, geometry.ways, geometry.policy, geometry.seed);
}

template <typename Value>
const Value* TranslationCache<Value>::probe(uint64_t key, bool match_domain, uint16_t domain) {
  if (!m_geometry.enabled) return nullptr;
  ++m_stats.lookups;
  if (m_repeat_line != CacheDirectory::kNoLine && m_lines[m_repeat_line].key == key &&
      (!match_domain || m_lines[m_repeat_line].domain == domain)) {
    ++m_stats.hits;
    return &m_lines[m_repeat_line].value;
  }
  const unsigned set = cache_set_index(key, m_geometry.sets);
  // A set holds a key once (a fill overwrites it in place), so another domain's line under the
  // key is a miss.
  const uint32_t line = find(set, key);
  if (line == CacheDirectory::kNoLine || (match_domain && m_lines[line].domain != domain)) {
    ++m_stats.misses;
    return nullptr;
  }
  ++m_stats.hits;
  m_directory.touch(set, line - set * m_geometry.ways);
  m_repeat_line = line;
  return &m_lines[line].value;
}

template <typename Value>
void TranslationCache<Value>::insert(uint64_t key, uint16_t domain, const Value& value) {
  if (!m_geometry.enabled) return;
  m_repeat_line = CacheDirectory::kNoLine;
  ++m_stats.fills;
  const unsigned set = cache_set_index(key, m_geometry.sets);
  uint32_t line = find(set, key);
  if (line != CacheDirectory::kNoLine) {
    m_directory.refill(set, line - set * m_geometry.ways);  // the same key: overwrite in place
  } else {
    const CacheDirectory::Placement p = m_directory.place(set, key_hash(key));
    line = p.line;
    if (p.evicted) ++m_stats.evictions;
  }
  Line& l = m_lines[line];
  l.key = key;
  l.domain = domain;
  l.valid = true;
  l.value = value;
}

template <typename Value>
template <typename Pred>
unsigned TranslationCache<Value>::invalidate_if(Pred p) {
  if (!m_geometry.enabled) return 0;
  m_repeat_line = CacheDirectory::kNoLine;
  ++m_stats.invalidations;
  unsigned n = 0;
  for (uint32_t line = 0; line < m_lines.size(); ++line) {
    Line& l = m_lines[line];
    if (l.valid && p(l.key, l.domain, static_cast<const Value&>(l.value))) {
      l.valid = false;
      m_directory.invalidate(line);
      ++n;
    }
  }
  m_stats.invalidated_entries += n;
  return n;
}

template <typename Value>
unsigned TranslationCache<Value>::invalidate_all() {
  return invalidate_if([](uint64_t, uint16_t, const Value&) { return true; });
}

template <typename Value>
unsigned TranslationCache<Value>::invalidate_domain(uint16_t domain) {
  return invalidate_if([domain](uint64_t, uint16_t d, const Value&) { return d == domain; });
}

template <typename Value>
unsigned TranslationCache<Value>::valid_entries() const {
  return m_geometry.enabled ? m_directory.valid_lines() : 0;
}

}  // namespace iommu_sim
