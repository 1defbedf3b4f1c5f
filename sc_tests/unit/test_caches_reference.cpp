// The IOTLB and TranslationCache against a literal reading of docs/iotlb.md, on long random
// streams: every result (hit, set, way, entry; fill way, eviction, victim; invalidation counts)
// must be the same, for every policy, both set indexes, and geometries from direct mapped to
// fully associative. The reference below is written for clarity, not speed: each set is a vector
// of ways that is scanned, LRU and FIFO keep explicit ages, PLRU keeps the tree in heap order.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/translation_cache.h"

using namespace iommu_sim;

namespace {

// Replacement state of one set, exactly as docs/iotlb.md words it.
class SpecPolicy {
 public:
  SpecPolicy(ReplacementKind kind, unsigned sets, unsigned ways, uint64_t seed)
      : m_kind(kind), m_ways(ways), m_seed(seed ? seed : 1) {
    m_age.resize(sets, std::vector<uint64_t>(ways));
    m_bits.resize(sets, std::vector<int>(ways, 0));
    reset();
  }
  void reset() {
    for (auto& set : m_age)
      for (unsigned w = 0; w < m_ways; ++w) set[w] = w;  // way 0 oldest
    m_clock = m_ways;
    for (auto& set : m_bits) std::fill(set.begin(), set.end(), 0);
    m_x = m_seed;
  }
  void hit(unsigned set, unsigned way) {
    if (m_kind == ReplacementKind::Lru) m_age[set][way] = m_clock++;
    if (m_kind == ReplacementKind::Plru) plru_touch(set, way);
  }
  void fill(unsigned set, unsigned way) {
    if (m_kind == ReplacementKind::Lru || m_kind == ReplacementKind::Fifo)
      m_age[set][way] = m_clock++;
    if (m_kind == ReplacementKind::Plru) plru_touch(set, way);
  }
  unsigned victim(unsigned set) {
    switch (m_kind) {
      case ReplacementKind::Lru:
      case ReplacementKind::Fifo: {
        unsigned oldest = 0;
        for (unsigned w = 1; w < m_ways; ++w)
          if (m_age[set][w] < m_age[set][oldest]) oldest = w;
        return oldest;
      }
      case ReplacementKind::Plru: {
        unsigned node = 1;
        while (node < m_ways) node = 2 * node + static_cast<unsigned>(m_bits[set][node]);
        return node - m_ways;
      }
      case ReplacementKind::Random:
        m_x ^= m_x << 13;
        m_x ^= m_x >> 7;
        m_x ^= m_x << 17;
        return static_cast<unsigned>(m_x % m_ways);
    }
    return 0;
  }
  bool plru_bit(unsigned set, unsigned node) const { return m_bits[set][node] != 0; }

 private:
  void plru_touch(unsigned set, unsigned way) {
    // On the path from the root to the way's leaf, every node points away from the way.
    for (unsigned leaf = m_ways + way; leaf > 1; leaf /= 2)
      m_bits[set][leaf / 2] = leaf % 2 == 0 ? 1 : 0;
  }

  ReplacementKind m_kind;
  unsigned m_ways;
  uint64_t m_seed, m_x = 1, m_clock = 0;
  std::vector<std::vector<uint64_t>> m_age;
  std::vector<std::vector<int>> m_bits;  // index 0 unused
};

class SpecIotlb {
 public:
  explicit SpecIotlb(const IotlbConfig& c)
      : m_c(c), m_ways(c.sets, std::vector<Way>(c.ways)), m_policy(c.policy, c.sets, c.ways, c.seed) {}

  IotlbHit lookup(uint16_t domain, uint64_t vpn) {
    vpn &= kPageNumberMask;
    for (unsigned s = 0; s < 3; ++s) {
      const PageSize size = static_cast<PageSize>(s);
      const uint64_t page = vpn & ~((1ULL << (9 * s)) - 1);
      const unsigned set = set_of(size, domain, vpn);
      for (unsigned w = 0; w < m_c.ways; ++w) {
        const Way& way = m_ways[set][w];
        if (way.valid && way.e.domain == domain && way.e.size == size && way.e.vpn == page) {
          m_policy.hit(set, w);
          IotlbHit h;
          h.hit = true;
          h.set = set;
          h.way = w;
          h.entry = way.e;
          return h;
        }
      }
    }
    return IotlbHit{};
  }

  IotlbFillResult fill(IotlbEntry e) {
    IotlbFillResult r;
    if (static_cast<unsigned>(e.size) > 2) return r;
    const uint64_t mask = kPageNumberMask & ~((1ULL << (9 * static_cast<unsigned>(e.size))) - 1);
    e.vpn &= mask;
    e.pfn &= mask;
    const unsigned set = set_of(e.size, e.domain, e.vpn);
    r.set = set;
    std::vector<Way>& ways = m_ways[set];
    unsigned target = m_c.ways;
    for (unsigned w = 0; w < m_c.ways && target == m_c.ways; ++w)
      if (ways[w].valid && ways[w].e.domain == e.domain && ways[w].e.size == e.size &&
          ways[w].e.vpn == e.vpn)
        target = w;
    for (unsigned w = 0; w < m_c.ways && target == m_c.ways; ++w)
      if (!ways[w].valid) target = w;
    if (target == m_c.ways) {
      target = m_policy.victim(set);
      r.evicted = true;
      r.victim = ways[target].e;
    }
    ways[target].valid = true;
    ways[target].e = e;
    m_policy.fill(set, target);
    r.way = target;
    return r;
  }

  template <typename Match>
  unsigned invalidate(Match match) {
    unsigned n = 0;
    for (auto& set : m_ways)
      for (Way& w : set)
        if (w.valid && match(w.e)) {
          w.valid = false;
          ++n;
        }
    return n;
  }
  unsigned invalidate_pages(uint16_t domain, uint64_t vpn, unsigned am) {
    vpn &= kPageNumberMask;
    // Overlap of [entry.vpn, entry.vpn + 2^(9s)) and [base, base + 2^am), base = vpn aligned.
    const unsigned __int128 base = vpn & ~((1ULL << am) - 1);
    const unsigned __int128 end = base + (static_cast<unsigned __int128>(1) << am);
    return invalidate([&](const IotlbEntry& e) {
      const unsigned __int128 lo = e.vpn;
      const unsigned __int128 hi = lo + (static_cast<unsigned __int128>(1) << (9 * static_cast<unsigned>(e.size)));
      return e.domain == domain && lo < end && base < hi;
    });
  }
  void reset() {
    for (auto& set : m_ways)
      for (Way& w : set) w.valid = false;
    m_policy.reset();
  }
  std::optional<IotlbEntry> entry_at(unsigned set, unsigned way) const {
    if (!m_ways[set][way].valid) return std::nullopt;
    return m_ways[set][way].e;
  }
  const SpecPolicy& policy() const { return m_policy; }

 private:
  struct Way {
    bool valid = false;
    IotlbEntry e;
  };
  unsigned set_of(PageSize s, uint16_t domain, uint64_t vpn) const {
    const unsigned did = m_c.index == IotlbIndex::PageXorDomain ? domain : 0;
    return static_cast<unsigned>(((vpn >> (9 * static_cast<unsigned>(s))) ^ did) & (m_c.sets - 1));
  }

  IotlbConfig m_c;
  std::vector<std::vector<Way>> m_ways;
  SpecPolicy m_policy;
};

bool same_hit(const IotlbHit& a, const IotlbHit& b) {
  if (a.hit != b.hit) return false;
  return !a.hit || (a.set == b.set && a.way == b.way && a.entry == b.entry);
}

bool same_fill(const IotlbFillResult& a, const IotlbFillResult& b) {
  return a.set == b.set && a.way == b.way && a.evicted == b.evicted &&
         (!a.evicted || a.victim == b.victim);
}

// A stream that keeps every geometry busy: pages drawn from a pool somewhat larger than the
// cache, three domains, every page size (sometimes misaligned), refills of present pages, and
// every kind of invalidation, with an occasional reset.
void run_iotlb_stream(const IotlbConfig& c, uint64_t seed, unsigned ops) {
  IotlbModel model(c);
  SpecIotlb spec(c);
  std::mt19937_64 rng(seed);
  const uint64_t pool = 2 * static_cast<uint64_t>(c.sets) * c.ways + 8;
  auto pick = [&](uint64_t n) { return rng() % n; };
  auto random_vpn = [&](PageSize& size) {
    const unsigned r = static_cast<unsigned>(pick(10));
    size = r < 8 ? PageSize::Size4K : r < 9 ? PageSize::Size2M : PageSize::Size1G;
    uint64_t vpn;
    if (size == PageSize::Size4K) vpn = 0x100 + pick(pool);
    else if (size == PageSize::Size2M) vpn = (0x1000 + pick(pool / 8 + 2)) << 9;
    else vpn = (0x40 + pick(pool / 64 + 2)) << 18;
    if (pick(16) == 0) vpn |= pick(1ULL << (9 * static_cast<unsigned>(size)) | 1);  // misaligned
    if (pick(64) == 0) vpn |= 1ULL << 55;  // above the 52 page-number bits
    return vpn;
  };
  for (unsigned i = 0; i < ops; ++i) {
    INFO("op " << i << " of seed " << seed);
    const uint16_t domain = static_cast<uint16_t>(1 + pick(3));
    const unsigned r = static_cast<unsigned>(pick(1000));
    if (r < 500) {
      PageSize size;
      const uint64_t vpn = random_vpn(size);
      const uint64_t addr = vpn | pick(1ULL << (9 * static_cast<unsigned>(size)));  // any offset
      REQUIRE(same_hit(model.lookup(domain, addr), spec.lookup(domain, addr)));
    } else if (r < 950) {
      IotlbEntry e;
      e.domain = domain;
      e.vpn = random_vpn(e.size);
      e.pfn = (0x80000 + pick(1 << 20)) << (9 * static_cast<unsigned>(e.size));
      e.read = pick(2);
      e.write = pick(2);
      REQUIRE(same_fill(model.fill(e), spec.fill(e)));
    } else if (r < 985) {
      PageSize size;
      const uint64_t vpn = random_vpn(size);
      const unsigned am = pick(4) ? static_cast<unsigned>(pick(12)) : static_cast<unsigned>(pick(64));
      REQUIRE(model.invalidate_pages(domain, vpn, am) == spec.invalidate_pages(domain, vpn, am));
    } else if (r < 995) {
      REQUIRE(model.invalidate_domain(domain) ==
              spec.invalidate([&](const IotlbEntry& e) { return e.domain == domain; }));
    } else if (r < 999) {
      REQUIRE(model.invalidate_all() == spec.invalidate([](const IotlbEntry&) { return true; }));
    } else {
      model.reset();
      spec.reset();
    }
  }
  for (unsigned s = 0; s < c.sets; ++s)
    for (unsigned w = 0; w < c.ways; ++w) REQUIRE(model.entry_at(s, w) == spec.entry_at(s, w));
}

}  // namespace

TEST_CASE("iotlb matches the documented behaviour on random streams, every geometry and policy",
          "[unit]") {
  struct Geometry {
    unsigned sets, ways;
  };
  const Geometry geometries[] = {{1, 1},  {1, 2},   {1, 3},   {1, 64},  {1, 65},   {1, 256},
                                 {1, 4096}, {2, 64}, {4, 128}, {32, 4},  {16, 16}, {64, 1}};
  for (ReplacementKind policy : {ReplacementKind::Lru, ReplacementKind::Plru,
                                 ReplacementKind::Fifo, ReplacementKind::Random}) {
    for (const Geometry& g : geometries) {
      if (policy == ReplacementKind::Plru && (g.ways & (g.ways - 1)) != 0) continue;
      for (IotlbIndex index : {IotlbIndex::Page, IotlbIndex::PageXorDomain}) {
        IotlbConfig c;
        c.sets = g.sets;
        c.ways = g.ways;
        c.policy = policy;
        c.seed = 12345;
        c.index = index;
        INFO(to_string(policy) << " " << g.sets << "x" << g.ways << " " << to_string(index));
        const unsigned ops = g.sets * g.ways >= 1024 ? 60000 : 20000;
        run_iotlb_stream(c, 1 + g.sets * 131 + g.ways, ops);
      }
    }
  }
}

TEST_CASE("plru tree bits match the heap-order tree for large trees", "[unit]") {
  // 4,096 ways: two six-level words deep. After random touches, every node bit must be the
  // one the heap-order tree of docs/iotlb.md has, and so must every victim.
  PlruPolicy p(2, 4096);
  SpecPolicy spec(ReplacementKind::Plru, 2, 4096, 1);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {
    const unsigned set = static_cast<unsigned>(rng() % 2);
    const unsigned way = static_cast<unsigned>(rng() % 4096);
    p.touch(set, way);
    spec.hit(set, way);
    REQUIRE(p.victim(set) == spec.victim(set));
  }
  for (unsigned set = 0; set < 2; ++set)
    for (unsigned node = 1; node < 4096; ++node) REQUIRE(p.node_bit(set, node) == spec.plru_bit(set, node));
}

namespace {

// TranslationCache as docs/iotlb.md words it ("Translation caches").
class SpecTranslationCache {
 public:
  explicit SpecTranslationCache(const CacheGeometry& g)
      : m_g(g), m_ways(g.sets, std::vector<Way>(g.ways)), m_policy(g.policy, g.sets, g.ways, g.seed) {}
  bool lookup(uint64_t key, int& value) { return probe(key, false, 0, value); }
  // A line of the key but of another domain is a miss, and touches nothing.
  bool lookup(uint64_t key, uint16_t domain, int& value) { return probe(key, true, domain, value); }
  bool probe(uint64_t key, bool match_domain, uint16_t domain, int& value) {
    const unsigned set = cache_set_index(key, m_g.sets);
    for (unsigned w = 0; w < m_g.ways; ++w) {
      if (m_ways[set][w].valid && m_ways[set][w].key == key &&
          (!match_domain || m_ways[set][w].domain == domain)) {
        m_policy.hit(set, w);
        value = m_ways[set][w].value;
        return true;
      }
    }
    return false;
  }
  bool insert(uint64_t key, uint16_t domain, int value) {  // true on an eviction
    const unsigned set = cache_set_index(key, m_g.sets);
    std::vector<Way>& ways = m_ways[set];
    unsigned target = m_g.ways;
    bool evicted = false;
    for (unsigned w = 0; w < m_g.ways && target == m_g.ways; ++w)
      if (ways[w].valid && ways[w].key == key) target = w;
    for (unsigned w = 0; w < m_g.ways && target == m_g.ways; ++w)
      if (!ways[w].valid) target = w;
    if (target == m_g.ways) {
      target = m_policy.victim(set);
      evicted = true;
    }
    ways[target] = Way{true, key, domain, value};
    m_policy.fill(set, target);
    return evicted;
  }
  unsigned invalidate_domain(uint16_t domain) {
    unsigned n = 0;
    for (auto& set : m_ways)
      for (Way& w : set)
        if (w.valid && w.domain == domain) {
          w.valid = false;
          ++n;
        }
    return n;
  }

 private:
  struct Way {
    bool valid = false;
    uint64_t key = 0;
    uint16_t domain = 0;
    int value = 0;
  };
  CacheGeometry m_g;
  std::vector<std::vector<Way>> m_ways;
  SpecPolicy m_policy;
};

// A TranslationCache and the documented one, given the same operations: every answer, eviction
// count and invalidation count must agree.
class CacheAgainstSpec {
 public:
  explicit CacheAgainstSpec(const CacheGeometry& g) : m_cache(g), m_spec(g) {}
  void lookup(uint64_t key) {
    int want = 0;
    const bool hit = m_spec.lookup(key, want);
    check_answer(hit, m_cache.lookup(key), want);
  }
  void lookup(uint64_t key, uint16_t domain) {
    int want = 0;
    const bool hit = m_spec.lookup(key, domain, want);
    check_answer(hit, m_cache.lookup(key, domain), want);
  }
  void insert(uint64_t key, uint16_t domain, int value) {
    m_evictions += m_spec.insert(key, domain, value) ? 1 : 0;
    m_cache.insert(key, domain, value);
    REQUIRE(m_cache.stats().evictions == m_evictions);
  }
  void invalidate_domain(uint16_t domain) {
    REQUIRE(m_cache.invalidate_domain(domain) == m_spec.invalidate_domain(domain));
  }

 private:
  static void check_answer(bool hit, const int* got, int want) {
    REQUIRE((got != nullptr) == hit);
    if (hit) REQUIRE(*got == want);
  }
  TranslationCache<int> m_cache;
  SpecTranslationCache m_spec;
  uint64_t m_evictions = 0;
};

}  // namespace

TEST_CASE("translation cache matches the documented behaviour on random streams", "[unit]") {
  struct Geometry {
    unsigned sets, ways;
  };
  const Geometry geometries[] = {{1, 1}, {1, 3}, {1, 16}, {1, 128}, {1, 1024}, {4, 4}, {16, 1}, {8, 64}};
  for (ReplacementKind policy : {ReplacementKind::Lru, ReplacementKind::Plru,
                                 ReplacementKind::Fifo, ReplacementKind::Random}) {
    for (const Geometry& g : geometries) {
      if (policy == ReplacementKind::Plru && (g.ways & (g.ways - 1)) != 0) continue;
      CacheGeometry c;
      c.sets = g.sets;
      c.ways = g.ways;
      c.policy = policy;
      c.seed = 99;
      INFO(to_string(policy) << " " << g.sets << "x" << g.ways);
      CacheAgainstSpec caches(c);
      std::mt19937_64 rng(g.sets * 7 + g.ways);
      const uint64_t pool = 2 * static_cast<uint64_t>(g.sets) * g.ways + 4;
      for (int i = 0; i < 20000; ++i) {
        INFO("op " << i);
        const uint64_t key = 0x100 + rng() % pool;
        const unsigned r = static_cast<unsigned>(rng() % 100);
        if (r < 50) {
          caches.lookup(key);
        } else if (r < 98) {
          const int value = static_cast<int>(rng() % 1000000);
          caches.insert(key, static_cast<uint16_t>(rng() % 4), value);
        } else {
          caches.invalidate_domain(static_cast<uint16_t>(rng() % 4));
        }
      }
    }
  }
}

// Lookups come in runs of one key (a requester's context entry, a walk's upper tables), which the
// cache answers from the line it hit last: runs, domain-matching lookups that miss on the domain,
// fills and invalidations in between must all leave it where the documented cache is.
TEST_CASE("translation cache matches the documented behaviour on runs of one key", "[unit]") {
  for (ReplacementKind policy : {ReplacementKind::Lru, ReplacementKind::Plru,
                                 ReplacementKind::Fifo, ReplacementKind::Random}) {
    for (unsigned ways : {1u, 4u, 16u}) {
      CacheGeometry c;
      c.sets = 4;
      c.ways = ways;
      c.policy = policy;
      c.seed = 7;
      INFO(to_string(policy) << " 4x" << ways);
      CacheAgainstSpec caches(c);
      std::mt19937_64 rng(ways * 31 + static_cast<unsigned>(policy));
      const uint64_t pool = 2 * 4 * static_cast<uint64_t>(ways) + 4;
      uint64_t key = 0x100;
      for (int i = 0; i < 20000; ++i) {
        INFO("op " << i);
        if (rng() % 100 >= 70) key = 0x100 + rng() % pool;  // else the run goes on
        const unsigned r = static_cast<unsigned>(rng() % 100);
        if (r < 75) {
          const bool by_domain = rng() % 2 == 0;
          const uint16_t domain = static_cast<uint16_t>(rng() % 3);
          if (by_domain) caches.lookup(key, domain);
          else caches.lookup(key);
        } else if (r < 97) {
          const int value = static_cast<int>(rng() % 1000000);
          caches.insert(key, static_cast<uint16_t>(rng() % 3), value);
        } else {
          caches.invalidate_domain(static_cast<uint16_t>(rng() % 3));
        }
      }
    }
  }
}
