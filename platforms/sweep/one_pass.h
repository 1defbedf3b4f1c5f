// One-pass exploration of LRU IOTLB geometries: the hit, miss, fill, eviction and invalidation
// counts of every geometry (set counts 1, 2, 4 .. max_sets, every associativity 1 .. max_ways, and
// fully associative up to max_entries) from a single pass over an IOTLB access stream.
//
// It gives exactly what IotlbModel with the lru policy gives when the stream is replayed with
// replay_access() (Access = lookup, fill on a miss; invalidations applied; Lookup and Fill lines
// ignored). How, and why it is exact with invalidations: docs/sweeps.md, "One-pass exploration".
// In short, per set count there is one recency stack per set; a W-way cache holds the top W
// slots of it. An invalidated entry leaves a hole in its slot; the next push fills the first hole
// from the top instead of pushing every slot down, which is what the cache does when it fills the
// lowest invalid way instead of evicting.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "iommu_sim/iommu/caches/cache_stats.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"

namespace iommu_sim {

struct OnePassLimits {
  unsigned max_sets = 1024;     // a power of two
  unsigned max_ways = 16;       // associativities 1 .. max_ways for every set count
  unsigned max_entries = 4096;  // fully associative sizes up to this
  // Fully associative sizes to report; empty: the powers of two up to max_entries.
  std::vector<unsigned> fa_entries;
  // The set index of every explored geometry (IotlbConfig::index). Both are exact: the set of an
  // access depends on its page and, with PageXorDomain, its domain, and the stream carries both.
  IotlbIndex index = IotlbIndex::Page;
};

// "" if usable, else what is wrong and what is accepted.
std::string validate_one_pass_limits(const OnePassLimits& limits);

struct GeometryCounts {
  unsigned sets = 1;
  unsigned ways = 1;      // 0: fully associative with `entries` entries
  unsigned entries = 1;   // sets * ways, or the fully associative size
  CacheStats stats;
};

class OnePassExplorer {
 public:
  // Throws std::invalid_argument if the limits are not valid.
  explicit OnePassExplorer(const OnePassLimits& limits);
  ~OnePassExplorer();
  OnePassExplorer(const OnePassExplorer&) = delete;
  OnePassExplorer& operator=(const OnePassExplorer&) = delete;

  // Consumes one operation. Returns false, with error() set, when the stream cannot be explored
  // exactly: an Access whose address also matches a live entry of another page size that some
  // explored geometry may still hold (a lookup would hit different entries in different
  // geometries). Lookup and Fill ops are ignored, as replay_access() ignores them.
  bool feed(const IotlbOp& op);
  const std::string& error() const { return m_error; }

  uint64_t accesses() const { return m_accesses; }
  uint64_t ops() const { return m_ops; }

  // Counts of one geometry: sets a power of two <= max_sets, 1 <= ways <= max_ways; or
  // sets == 1 and ways <= max_entries (fully associative). Throws std::out_of_range otherwise.
  CacheStats stats(unsigned sets, unsigned ways) const;
  // Every set-associative geometry, then the fully associative sizes.
  std::vector<GeometryCounts> results() const;

  const OnePassLimits& limits() const { return m_limits; }

 private:
  struct Key {
    uint64_t vpn;
    uint16_t domain;
    uint8_t size;
    bool operator==(const Key& o) const {
      return vpn == o.vpn && domain == o.domain && size == o.size;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t h = k.vpn * 0x9E3779B97F4A7C15ULL;
      h ^= (static_cast<uint64_t>(k.domain) << 2 | k.size) * 0xC2B2AE3D27D4EB4FULL;
      return static_cast<size_t>(h ^ (h >> 29));
    }
  };
  class Stack;       // one set count: its recency stacks and histograms
  class ArrayStack;  // set counts > 1: per set, the top max_ways slots
  class TreeStack;   // set count 1: unbounded, depth by a Fenwick tree over push times

  bool access(const IotlbOp& op);
  void invalidate_matching(uint16_t domain, bool whole_domain, uint64_t vpn, unsigned am);
  void kill(uint32_t id);
  uint32_t intern(const Key& k);

  OnePassLimits m_limits;
  std::vector<std::unique_ptr<Stack>> m_stacks;  // index log2(sets)
  std::unordered_map<Key, uint32_t, KeyHash> m_ids;
  std::vector<Key> m_keys;    // by id
  std::vector<uint8_t> m_live;  // by id: inserted and not invalidated since
  // Live ids of a domain, per size and ordered by vpn, for domain and range invalidations.
  struct DomainIndex;
  std::unordered_map<uint16_t, std::unique_ptr<DomainIndex>> m_by_domain;
  uint64_t m_live_per_size[3] = {0, 0, 0};
  uint64_t m_accesses = 0, m_ops = 0, m_invalidations = 0;
  std::string m_error;
};

// Replays `ops` with replay_access() into an IotlbModel of that geometry and policy: the
// per-configuration reference the one-pass result must equal (tests, benchmark).
CacheStats replay_one_geometry(const std::vector<IotlbOp>& ops, unsigned sets, unsigned ways,
                               ReplacementKind policy = ReplacementKind::Lru, uint64_t seed = 1,
                               IotlbIndex index = IotlbIndex::Page);

}  // namespace iommu_sim
