// Which line of a cache holds a key: an open-addressing hash table beside the ways, so that a
// lookup costs the same whatever the associativity (a fully associative cache would otherwise
// compare every way). It stores line numbers and 32 bits of each key's hash; the cache that owns
// the lines says whether a line holds the key, so keys of any width work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace iommu_sim {

class LineIndex {
 public:
  static constexpr uint32_t kNoLine = 0xFFFFFFFFu;

  // Room for `lines` lines at a load of at most one half.
  explicit LineIndex(uint32_t lines = 0);

  // The indexed line for which holds_key(line) is true among those indexed under `hash`, or
  // kNoLine. `hash` should be well mixed in its high 32 bits (a multiplicative hash).
  template <typename HoldsKey>
  uint32_t find(uint64_t hash, HoldsKey holds_key) const {
    const uint32_t h = static_cast<uint32_t>(hash >> 32);
    for (uint32_t i = home(h);; i = (i + 1) & m_mask) {
      const Slot& s = m_slots[i];
      if (s.line == kNoLine) return kNoLine;
      if (s.hash == h && holds_key(s.line)) return s.line;
    }
  }
  // Indexes `line` under `hash`. The line must not be indexed already.
  void insert(uint64_t hash, uint32_t line);
  // Removes `line`, indexed under `hash`.
  void erase(uint64_t hash, uint32_t line);
  void clear();

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t line = kNoLine;
  };
  uint32_t home(uint32_t h) const { return h >> m_shift; }

  std::vector<Slot> m_slots;
  uint32_t m_mask = 0;
  unsigned m_shift = 32;
};

}  // namespace iommu_sim
