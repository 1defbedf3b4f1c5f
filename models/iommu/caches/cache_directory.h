// The bookkeeping of a set-associative cache that is the same for the IOTLB and every
// TranslationCache: which line holds a key, which way a fill takes (the lowest invalid way of
// the set, InvalidWays, else the replacement policy's victim) and the replacement state. Every
// operation costs about the same whatever the associativity, so a fully associative cache of
// thousands of entries is as cheap per lookup as a 4-way one: sets of up to kScanWays ways are
// searched way by way (cheaper than hashing for so few), larger ones through a hash index of
// their keys (LineIndex). The owner keeps the line contents, in set-major order
// (line = set * ways + way), and says what its keys are: a 64-bit hash per key, and whether a
// line holds a key.
#pragma once

#include <cstdint>
#include <memory>

#include "iommu_sim/iommu/caches/invalid_ways.h"
#include "iommu_sim/iommu/caches/line_index.h"
#include "iommu_sim/iommu/caches/replacement_policy.h"

namespace iommu_sim {

class CacheDirectory {
 public:
  static constexpr uint32_t kNoLine = LineIndex::kNoLine;
  // Sets of at most this many ways are searched way by way, without an index.
  static constexpr unsigned kScanWays = 8;

  // An empty directory: for a cache that is disabled.
  CacheDirectory() = default;
  // Every line invalid, the policy in its reset state. The geometry must be valid
  // (validate_geometry); throws std::invalid_argument otherwise.
  CacheDirectory(unsigned sets, unsigned ways, ReplacementKind policy, uint64_t seed);

  // The line holding the key, or kNoLine: `set` is the key's set, `hash` its hash,
  // holds_key(line) whether a line holds it (false for an invalid line). Does not touch the
  // replacement state.
  template <typename HoldsKey>
  uint32_t find(unsigned set, uint64_t hash, HoldsKey holds_key) const {
    if (m_indexed) return m_index.find(hash, holds_key);
    const uint32_t first = set * m_ways;
    for (uint32_t line = first; line < first + m_ways; ++line)
      if (holds_key(line)) return line;
    return kNoLine;
  }
  // A hit on a valid line, at (set, way).
  void touch(unsigned set, unsigned way) {
    if (m_lru) {
      m_lru->LruPolicy::touch(set, way);  // the usual policy, without a virtual call
    } else {
      m_policy->touch(set, way);
    }
  }

  struct Placement {
    uint32_t line = kNoLine;
    bool evicted = false;  // the line was valid: its old contents are the victim
  };
  // Where a fill of a key that is not in the cache goes in `set`: the lowest invalid way, else
  // the policy's victim (evicted). The line is then valid, indexed under `hash` (the victim's
  // key no longer is) and touched as a fill; the owner writes the new contents into it after
  // reading the victim's.
  Placement place(unsigned set, uint64_t hash);
  // A fill that overwrites the valid line at (set, way) already holding the key: touched as a
  // fill.
  void refill(unsigned set, unsigned way) { m_policy->fill(set, way); }
  // The valid line becomes invalid. The replacement state is left alone (docs/iotlb.md).
  void invalidate(uint32_t line);
  // Every line invalid; the replacement state is left alone.
  void invalidate_all();
  // Power-on state: every line invalid, the policy (and its generator) reset.
  void reset();

  unsigned valid_lines() const { return m_valid; }
  const ReplacementPolicy& policy() const { return *m_policy; }

 private:
  unsigned set_of(uint32_t line) const { return line / m_ways; }
  unsigned way_of(uint32_t line) const { return line % m_ways; }

  unsigned m_ways = 0;
  bool m_indexed = false;  // ways > kScanWays: m_index and m_hash are in use
  LineIndex m_index;
  InvalidWays m_invalid;
  std::unique_ptr<ReplacementPolicy> m_policy;
  LruPolicy* m_lru = nullptr;  // m_policy when it is LRU itself (not a policy derived from it)
  std::vector<uint64_t> m_hash;  // by line: the hash it is indexed under, while valid
  unsigned m_valid = 0;
};

}  // namespace iommu_sim
