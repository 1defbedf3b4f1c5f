#include "iommu_sim/iommu/caches/invalid_ways.h"

#include <algorithm>

namespace iommu_sim {

InvalidWays::InvalidWays(unsigned sets, unsigned ways) : m_sets(sets), m_ways(ways) {
  // Level sizes from the bottom (a bit per way) up to a single word.
  std::vector<uint32_t> sizes;
  uint64_t bits = ways;
  do {
    const uint32_t words = static_cast<uint32_t>((bits + 63) / 64);
    sizes.push_back(words);
    bits = words;
  } while (sizes.back() > 1);
  uint32_t offset = 0;
  for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) {
    m_levels.push_back(Level{offset, *it});
    offset += *it;
  }
  m_words_per_set = offset;
  m_words.assign(static_cast<size_t>(sets) * m_words_per_set, 0);
  invalidate_all();
}

void InvalidWays::mark_valid(unsigned set, unsigned way) {
  uint64_t* words = &m_words[static_cast<size_t>(set) * m_words_per_set];
  uint32_t index = way;
  for (size_t l = m_levels.size(); l-- > 0;) {
    uint64_t& word = words[m_levels[l].offset + index / 64];
    word &= ~(uint64_t{1} << (index % 64));
    if (word != 0) return;  // the levels above still see an invalid way below
    index /= 64;
  }
}

void InvalidWays::mark_invalid(unsigned set, unsigned way) {
  uint64_t* words = &m_words[static_cast<size_t>(set) * m_words_per_set];
  uint32_t index = way;
  for (size_t l = m_levels.size(); l-- > 0;) {
    uint64_t& word = words[m_levels[l].offset + index / 64];
    const bool was_zero = word == 0;
    word |= uint64_t{1} << (index % 64);
    if (!was_zero) return;  // the levels above already knew
    index /= 64;
  }
}

void InvalidWays::invalidate_all() {
  // Within each level, one bit per item below: every bit of the full words, the low bits of the
  // last one.
  std::vector<uint64_t> pattern(m_words_per_set, 0);
  uint64_t items = m_ways;
  for (size_t l = m_levels.size(); l-- > 0;) {
    const Level& level = m_levels[l];
    for (uint32_t w = 0; w < level.words; ++w) {
      const uint64_t left = items - uint64_t{w} * 64;
      pattern[level.offset + w] = left >= 64 ? ~uint64_t{0} : (uint64_t{1} << left) - 1;
    }
    items = level.words;
  }
  for (unsigned s = 0; s < m_sets; ++s)
    std::copy(pattern.begin(), pattern.end(),
              m_words.begin() + static_cast<std::ptrdiff_t>(s) * m_words_per_set);
}

}  // namespace iommu_sim
