// Replacement policies for the set-associative translation caches (IOTLB, context cache,
// paging-structure caches). Each policy is a small object that owns the replacement state of
// every set and knows nothing about tags or set indexing, so the same policy object serves every
// cache and the RTL IOTLB can be checked against it victim for victim. Semantics: docs/iotlb.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace iommu_sim {

enum class ReplacementKind : uint8_t { Lru, Plru, Fifo, Random };

// "lru", "plru", "fifo", "random" (lower case). Returns false and leaves out alone otherwise.
bool parse_replacement_kind(const std::string& text, ReplacementKind& out);
const char* to_string(ReplacementKind k);

class ReplacementPolicy {
 public:
  ReplacementPolicy(unsigned sets, unsigned ways) : m_sets(sets), m_ways(ways) {}
  virtual ~ReplacementPolicy() = default;

  // A hit on (set, way).
  virtual void touch(unsigned set, unsigned way) = 0;
  // (set, way) was just written by a fill (new entry or in-place overwrite). For every policy
  // but FIFO this is the same as a hit.
  virtual void fill(unsigned set, unsigned way) { touch(set, way); }
  // The way to evict when every way of the set is valid. Not const: the random policy advances
  // its generator here, and only here.
  virtual unsigned victim(unsigned set) = 0;
  // Back to the power-on state of every set (and the generator back to its seed).
  virtual void reset() = 0;
  virtual ReplacementKind kind() const = 0;

  unsigned sets() const { return m_sets; }
  unsigned ways() const { return m_ways; }

 protected:
  unsigned m_sets;
  unsigned m_ways;
};

// Least recently touched way; reset order way 0 oldest, way ways-1 newest. Per set, a circular
// doubly linked list of the ways in recency order: a touch relinks one way and the victim is the
// newest's neighbour, whatever the associativity.
class LruPolicy : public ReplacementPolicy {
 public:
  LruPolicy(unsigned sets, unsigned ways);
  // Inline: a hit mostly touches the way that is already the newest.
  void touch(unsigned set, unsigned way) override {
    if (m_newest[set] != way) make_newest(set, way);
  }
  unsigned victim(unsigned set) override;
  void reset() override;
  ReplacementKind kind() const override { return ReplacementKind::Lru; }

 private:
  void make_newest(unsigned set, unsigned way);
  // By line (set * ways + way): the next newer and next older way of the same set; the newest
  // way's "newer" is the oldest.
  std::vector<uint32_t> m_newer, m_older;
  std::vector<uint32_t> m_newest;  // by set
};

// Oldest fill; hits leave the order alone. LRU's list, updated on fills only.
class FifoPolicy : public LruPolicy {
 public:
  FifoPolicy(unsigned sets, unsigned ways) : LruPolicy(sets, ways) {}
  void touch(unsigned, unsigned) override {}
  void fill(unsigned set, unsigned way) override { LruPolicy::touch(set, way); }
  ReplacementKind kind() const override { return ReplacementKind::Fifo; }
};

// What a PLRU touch writes into a word of tree bits: word = (word & keep) | set.
struct PlruPathBits {
  uint64_t keep = ~uint64_t{0}, set = 0;
};

// Tree pseudo-LRU, ways-1 bits per set in heap order (node 1 the root). ways: a power of two.
// The tree is stored in 64-bit words of six levels each (63 nodes, in their own heap order), so
// that a touch rewrites one word per six levels from a table of the paths, and a victim reads
// one word per six levels.
class PlruPolicy : public ReplacementPolicy {
 public:
  PlruPolicy(unsigned sets, unsigned ways);
  void touch(unsigned set, unsigned way) override;
  unsigned victim(unsigned set) override;
  void reset() override;
  ReplacementKind kind() const override { return ReplacementKind::Plru; }
  // Bit of tree node n (1 .. ways-1) of a set, for tests and the co-simulation.
  bool node_bit(unsigned set, unsigned node) const;

 private:
  // Tree levels 6r .. 6r+depth-1: 2^(6r) words, one per subtree, from `offset` in the set's
  // words. A way's subtree is way >> chunk_shift; its path inside it, the next `depth` bits,
  // is (way >> path_shift) & path_mask, and `paths` has what a touch writes for each path.
  struct Row {
    uint32_t offset;
    unsigned depth;
    unsigned chunk_shift, path_shift, path_mask;
    const PlruPathBits* paths;
  };
  static constexpr unsigned kMaxRows = 4;  // 24 levels: more than 4M ways need
  Row m_rows[kMaxRows];
  unsigned m_row_count = 0;
  uint32_t m_words_per_set = 0;
  std::vector<uint64_t> m_words;
};

// xorshift64 shared by all sets, advanced once per victim choice.
class RandomPolicy : public ReplacementPolicy {
 public:
  RandomPolicy(unsigned sets, unsigned ways, uint64_t seed);
  void touch(unsigned, unsigned) override {}
  unsigned victim(unsigned set) override;
  void reset() override { m_state = m_seed; }
  ReplacementKind kind() const override { return ReplacementKind::Random; }
  uint64_t state() const { return m_state; }

 private:
  uint64_t m_seed;
  uint64_t m_state;
};

// The geometry must be valid (see validate_iotlb_config / validate_cache_geometry); throws
// std::invalid_argument otherwise.
std::unique_ptr<ReplacementPolicy> make_replacement_policy(ReplacementKind kind, unsigned sets,
                                                           unsigned ways, uint64_t seed);

// Shared geometry check used by both validators: "" or a message naming the field.
std::string validate_geometry(unsigned sets, unsigned ways, ReplacementKind policy);

}  // namespace iommu_sim
