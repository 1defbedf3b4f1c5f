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
    : ReplacementPolicy(sets, ways), m_stamp(static_cast<size_t>(sets) * ways) {
  reset();
}

void LruPolicy::reset() {
  // Way w gets stamp w: way 0 is the oldest, as the RTL's reset state.
  for (unsigned s = 0; s < m_sets; ++s)
    for (unsigned w = 0; w < m_ways; ++w) m_stamp[static_cast<size_t>(s) * m_ways + w] = w;
  m_clock = m_ways;
}

void LruPolicy::touch(unsigned set, unsigned way) {
  m_stamp[static_cast<size_t>(set) * m_ways + way] = m_clock++;
}

unsigned LruPolicy::victim(unsigned set) {
  const uint64_t* stamps = &m_stamp[static_cast<size_t>(set) * m_ways];
  unsigned best = 0;
  for (unsigned w = 1; w < m_ways; ++w)
    if (stamps[w] < stamps[best]) best = w;
  return best;
}

// ---- tree PLRU ----

PlruPolicy::PlruPolicy(unsigned sets, unsigned ways)
    : ReplacementPolicy(sets, ways), m_bits(static_cast<size_t>(sets) * ways, 0) {
  if (!is_power_of_two(ways)) throw std::invalid_argument("plru needs a power-of-two way count");
}

void PlruPolicy::reset() { std::fill(m_bits.begin(), m_bits.end(), 0); }

void PlruPolicy::touch(unsigned set, unsigned way) {
  uint8_t* bits = &m_bits[static_cast<size_t>(set) * m_ways];
  // Leaves sit at heap positions ways .. 2*ways-1; walk up and point every node away from w:
  // arriving from the left child (even index) means the pseudo-LRU side is now the right (1).
  for (unsigned child = m_ways + way; child > 1; child >>= 1)
    bits[child >> 1] = (child & 1) ? 0 : 1;
}

unsigned PlruPolicy::victim(unsigned set) {
  const uint8_t* bits = &m_bits[static_cast<size_t>(set) * m_ways];
  unsigned node = 1;
  while (node < m_ways) node = 2 * node + bits[node];
  return node - m_ways;
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
