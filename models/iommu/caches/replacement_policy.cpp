#include "iommu_sim/iommu/caches/replacement_policy.h"

#include <algorithm>
#include <stdexcept>

#include "iommu_sim/common/bits.h"

namespace iommu_sim {

bool parse_replacement_kind(const std::string& text, ReplacementKind& out) {
  if (text == "lru") out = ReplacementKind::Lru;
  else if (text == "plru") out = ReplacementKind::Plru;
  else if (text == "fifo") out = ReplacementKind::Fifo;
  else if (text == "random") out = ReplacementKind::Random;
  else return false;
  return true;
}

const char* to_string(ReplacementKind k) {
  switch (k) {
    case ReplacementKind::Lru: return "lru";
    case ReplacementKind::Plru: return "plru";
    case ReplacementKind::Fifo: return "fifo";
    case ReplacementKind::Random: return "random";
  }
  return "unknown";
}

// ---- LRU / FIFO ----

LruPolicy::LruPolicy(unsigned sets, unsigned ways)
    : ReplacementPolicy(sets, ways),
      m_newer(static_cast<size_t>(sets) * ways),
      m_older(static_cast<size_t>(sets) * ways),
      m_newest(sets) {
  reset();
}

void LruPolicy::reset() {
  // Way 0 the oldest, way ways-1 the newest, as the RTL's reset state.
  for (unsigned s = 0; s < m_sets; ++s) {
    uint32_t* newer = &m_newer[static_cast<size_t>(s) * m_ways];
    uint32_t* older = &m_older[static_cast<size_t>(s) * m_ways];
    for (unsigned w = 0; w < m_ways; ++w) {
      newer[w] = w + 1 == m_ways ? 0 : w + 1;
      older[w] = w == 0 ? m_ways - 1 : w - 1;
    }
    m_newest[s] = m_ways - 1;
  }
}

void LruPolicy::make_newest(unsigned set, unsigned way) {
  uint32_t& newest = m_newest[set];
  uint32_t* newer = &m_newer[static_cast<size_t>(set) * m_ways];
  uint32_t* older = &m_older[static_cast<size_t>(set) * m_ways];
  // Unlink the way, then put it between the newest and the oldest: it is the new newest.
  newer[older[way]] = newer[way];
  older[newer[way]] = older[way];
  const uint32_t oldest = newer[newest];
  older[way] = newest;
  newer[way] = oldest;
  newer[newest] = way;
  older[oldest] = way;
  newest = way;
}

unsigned LruPolicy::victim(unsigned set) {
  return m_newer[static_cast<size_t>(set) * m_ways + m_newest[set]];
}

// ---- tree PLRU ----

namespace {

// What a touch writes into one six-level word: for a subtree of `depth` levels and the path p
// (depth bits, the top one first) to a leaf, every node on the path points away from it (1
// where the path goes left). Indexed by (1 << depth) + p.
struct PlruPaths {
  PlruPathBits path[128];
  constexpr PlruPaths() {
    for (unsigned depth = 1; depth <= 6; ++depth) {
      for (unsigned p = 0; p < (1u << depth); ++p) {
        PlruPathBits& t = path[(1u << depth) + p];
        for (unsigned level = 0; level < depth; ++level) {
          const unsigned node = (1u << level) | (p >> (depth - level));
          const unsigned went_right = (p >> (depth - level - 1)) & 1;
          t.keep &= ~(uint64_t{1} << node);
          if (!went_right) t.set |= uint64_t{1} << node;
        }
      }
    }
  }
};

constexpr PlruPaths kPlruPaths;  // built at compile time

}  // namespace

PlruPolicy::PlruPolicy(unsigned sets, unsigned ways) : ReplacementPolicy(sets, ways) {
  if (!is_power_of_two(ways)) throw std::invalid_argument("plru needs a power-of-two way count");
  const unsigned levels = log2_exact(ways);
  if (levels > 6 * kMaxRows) throw std::invalid_argument("plru: too many ways");
  uint32_t offset = 0;
  for (unsigned first = 0; first < levels; first += 6) {
    Row& row = m_rows[m_row_count++];
    row.offset = offset;
    row.depth = std::min(6u, levels - first);
    row.chunk_shift = levels - first;
    row.path_shift = row.chunk_shift - row.depth;
    row.path_mask = (1u << row.depth) - 1;
    row.paths = &kPlruPaths.path[1u << row.depth];
    offset += 1u << first;  // one word per subtree: 2^first subtrees start at level `first`
  }
  m_words_per_set = offset;
  m_words.assign(static_cast<size_t>(sets) * m_words_per_set, 0);
}

void PlruPolicy::reset() { std::fill(m_words.begin(), m_words.end(), 0); }

void PlruPolicy::touch(unsigned set, unsigned way) {
  if (m_row_count == 0) return;  // one way: no tree
  uint64_t* words = &m_words[static_cast<size_t>(set) * m_words_per_set];
  for (unsigned r = 0; r < m_row_count; ++r) {
    const Row& row = m_rows[r];
    uint64_t& word = words[row.offset + (static_cast<uint64_t>(way) >> row.chunk_shift)];
    const PlruPathBits& t = row.paths[(way >> row.path_shift) & row.path_mask];
    word = (word & t.keep) | t.set;
  }
}

unsigned PlruPolicy::victim(unsigned set) {
  if (m_row_count == 0) return 0;  // one way: no tree
  const uint64_t* words = &m_words[static_cast<size_t>(set) * m_words_per_set];
  unsigned way = 0;
  for (unsigned r = 0; r < m_row_count; ++r) {
    const Row& row = m_rows[r];
    const uint64_t word = words[row.offset + way];
    unsigned node = 1;
    for (unsigned level = 0; level < row.depth; ++level)
      node = 2 * node + static_cast<unsigned>((word >> node) & 1);
    way = (way << row.depth) | (node - (1u << row.depth));
  }
  return way;
}

bool PlruPolicy::node_bit(unsigned set, unsigned node) const {
  const unsigned level = log2_exact(node);
  const Row& row = m_rows[level / 6];  // level < log2(ways): a row exists
  const unsigned local_level = level % 6;
  const unsigned position = node - (1u << level);  // within its tree level
  const unsigned subtree = position >> local_level;
  const unsigned local_node = (1u << local_level) | (position & ((1u << local_level) - 1));
  const uint64_t word = m_words[static_cast<size_t>(set) * m_words_per_set + row.offset + subtree];
  return (word >> local_node) & 1;
}

// ---- random ----

RandomPolicy::RandomPolicy(unsigned sets, unsigned ways, uint64_t seed)
    : ReplacementPolicy(sets, ways), m_seed(seed ? seed : 1), m_state(m_seed) {}

unsigned RandomPolicy::victim(unsigned) {
  uint64_t x = m_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  m_state = x;
  return static_cast<unsigned>(x % m_ways);
}

// ---- factory and validation ----

std::string validate_geometry(unsigned sets, unsigned ways, ReplacementKind policy) {
  if (!is_power_of_two(sets))
    return "sets must be a power of two (1 or more), got " + std::to_string(sets);
  if (ways == 0) return "ways must be 1 or more, got 0";
  // Bound the arrays a typo could ask for (and keep set*ways inside unsigned arithmetic).
  constexpr uint64_t kMaxEntries = 1u << 22;
  if (static_cast<uint64_t>(sets) * ways > kMaxEntries)
    return "sets * ways must be at most " + std::to_string(kMaxEntries) + ", got " +
           std::to_string(static_cast<uint64_t>(sets) * ways);
  switch (policy) {
    case ReplacementKind::Lru:
    case ReplacementKind::Fifo:
    case ReplacementKind::Random:
      break;
    case ReplacementKind::Plru:
      if (!is_power_of_two(ways))
        return "ways must be a power of two for policy plru, got " + std::to_string(ways);
      break;
    default:
      return "policy must be one of lru, plru, fifo, random";
  }
  return "";
}

std::unique_ptr<ReplacementPolicy> make_replacement_policy(ReplacementKind kind, unsigned sets,
                                                           unsigned ways, uint64_t seed) {
  std::string err = validate_geometry(sets, ways, kind);
  if (!err.empty()) throw std::invalid_argument(err);
  switch (kind) {
    case ReplacementKind::Lru: return std::make_unique<LruPolicy>(sets, ways);
    case ReplacementKind::Plru: return std::make_unique<PlruPolicy>(sets, ways);
    case ReplacementKind::Fifo: return std::make_unique<FifoPolicy>(sets, ways);
    case ReplacementKind::Random: return std::make_unique<RandomPolicy>(sets, ways, seed);
  }
  throw std::invalid_argument("unknown replacement policy");
}

}  // namespace iommu_sim
