// The invalid ways of every set of a cache, and the lowest of them: a fill takes the lowest
// invalid way of its set (docs/iotlb.md). Per set, a tree of 64-bit words: the bottom level has
// a bit per way, each level above a bit per word below that is not zero, so that finding the
// lowest invalid way, or marking a way valid or invalid, costs one word per level (one level up
// to 64 ways, two up to 4,096, four for the largest caches) instead of a scan of the ways.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace iommu_sim {

class InvalidWays {
 public:
  InvalidWays() = default;
  // Every way of every set starts invalid.
  InvalidWays(unsigned sets, unsigned ways);

  // The lowest invalid way of the set, or ways() when every way is valid.
  unsigned lowest(unsigned set) const {
    const uint64_t* words = &m_words[static_cast<size_t>(set) * m_words_per_set];
    if (words[0] == 0) return m_ways;  // words[0] is the top level
    uint32_t index = 0;
    for (const Level& level : m_levels)
      index = index * 64 + static_cast<uint32_t>(__builtin_ctzll(words[level.offset + index]));
    return index;
  }
  void mark_valid(unsigned set, unsigned way);
  void mark_invalid(unsigned set, unsigned way);
  // Every way of every set invalid.
  void invalidate_all();

 private:
  struct Level {
    uint32_t offset;  // of the level's first word within a set's words
    uint32_t words;
  };

  unsigned m_sets = 0;
  unsigned m_ways = 0;
  std::vector<Level> m_levels;  // top (one word) first, the bit-per-way level last
  uint32_t m_words_per_set = 0;
  std::vector<uint64_t> m_words;
};

}  // namespace iommu_sim
