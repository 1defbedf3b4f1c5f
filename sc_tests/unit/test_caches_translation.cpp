// The generic translation cache used for the context cache and the paging-structure caches.
#include <catch2/catch.hpp>

#include <set>

#include "iommu_sim/iommu/caches/translation_cache.h"

using namespace iommu_sim;

namespace {
struct Ctx {
  uint64_t table = 0;
  uint16_t did = 0;
};
}  // namespace

TEST_CASE("translation cache hits misses and evicts by lru", "[unit]") {
  CacheGeometry g;
  g.sets = 1;
  g.ways = 2;
  TranslationCache<Ctx> c(g);
  CHECK(c.lookup(0x10) == nullptr);
  c.insert(0x10, 1, Ctx{0x1000, 1});
  c.insert(0x11, 2, Ctx{0x2000, 2});
  const Ctx* v = c.lookup(0x10);
  REQUIRE(v != nullptr);
  CHECK(v->table == 0x1000);
  c.insert(0x12, 1, Ctx{0x3000, 1});  // evicts 0x11, the least recently used
  CHECK(c.lookup(0x11) == nullptr);
  CHECK(c.lookup(0x10) != nullptr);
  c.insert(0x12, 1, Ctx{0x4000, 1});  // in place
  CHECK(c.lookup(0x12)->table == 0x4000);
  CHECK(c.valid_entries() == 2);
  const CacheStats& s = c.stats();
  CHECK(s.lookups == 5);
  CHECK(s.hits == 3);
  CHECK(s.misses == 2);
  CHECK(s.fills == 4);
  CHECK(s.evictions == 1);
}

TEST_CASE("translation cache invalidation by domain and predicate", "[unit]") {
  CacheGeometry g;
  g.sets = 4;
  g.ways = 4;
  g.policy = ReplacementKind::Fifo;
  TranslationCache<int> c(g);
  for (uint64_t k = 0; k < 8; ++k) c.insert(k, k < 3 ? 5 : 6, static_cast<int>(k * 10));
  REQUIRE(c.valid_entries() == 8);
  CHECK(c.invalidate_domain(5) == 3);
  CHECK(c.lookup(1) == nullptr);
  CHECK(*c.lookup(4) == 40);
  CHECK(c.invalidate_if([](uint64_t key, uint16_t, const int& v) { return key == 7 && v == 70; }) ==
        1);
  CHECK(c.invalidate_if([](uint64_t, uint16_t d, const int&) { return d == 5; }) == 0);
  CHECK(c.invalidate_all() == 4);
  CHECK(c.valid_entries() == 0);
  CHECK(c.stats().invalidations == 4);
  CHECK(c.stats().invalidated_entries == 8);
}

TEST_CASE("disabled translation cache stores and counts nothing", "[unit]") {
  CacheGeometry g;
  g.enabled = false;
  TranslationCache<int> c(g);
  CHECK_FALSE(c.enabled());
  c.insert(1, 1, 1);
  CHECK(c.lookup(1) == nullptr);
  CHECK(c.invalidate_all() == 0);
  CHECK(c.stats().lookups == 0);
  CHECK(c.stats().fills == 0);
  CHECK(c.stats().invalidations == 0);
}

TEST_CASE("translation cache set index spreads strided keys", "[unit]") {
  std::set<unsigned> seen;
  for (uint64_t k = 0; k < 64; ++k) {
    unsigned s = cache_set_index(k << 12, 16);  // page-strided keys
    CHECK(s < 16);
    seen.insert(s);
  }
  CHECK(seen.size() == 16);
  CHECK(cache_set_index(0xDEADBEEF, 1) == 0);

  // Direct mapped with 16 sets holds 16 keys that land in 16 different sets.
  CacheGeometry g;
  g.sets = 16;
  g.ways = 1;
  TranslationCache<int> c(g);
  std::set<unsigned> sets;
  uint64_t k = 0;
  std::vector<uint64_t> keys;
  while (sets.size() < 16) {
    if (sets.insert(cache_set_index(k, 16)).second) keys.push_back(k);
    ++k;
  }
  for (uint64_t key : keys) c.insert(key, 0, static_cast<int>(key));
  CHECK(c.stats().evictions == 0);
  for (uint64_t key : keys) CHECK(c.lookup(key) != nullptr);
}

TEST_CASE("validate cache geometry names the field", "[unit]") {
  CHECK(validate_cache_geometry(CacheGeometry{}) == "");
  CacheGeometry g;
  g.sets = 6;
  CHECK_THAT(validate_cache_geometry(g), Catch::Contains("sets"));
  g.sets = 2;
  g.ways = 0;
  CHECK_THAT(validate_cache_geometry(g), Catch::Contains("ways"));
  g.ways = 3;
  g.policy = ReplacementKind::Plru;
  CHECK_THAT(validate_cache_geometry(g), Catch::Contains("plru"));
  g.enabled = false;  // checked even when off
  CHECK(validate_cache_geometry(g) != "");
  CHECK_THROWS_AS(TranslationCache<int>(g), std::invalid_argument);
}

TEST_CASE("translation cache lookup by key and domain", "[unit]") {
  TranslationCache<int> c(CacheGeometry{true, 1, 4});
  c.insert(0x10, 1, 11);
  c.insert(0x20, 2, 22);
  REQUIRE(c.lookup(0x10, 1));
  CHECK(*c.lookup(0x10, 1) == 11);
  CHECK_FALSE(c.lookup(0x10, 2));  // same key, other domain: a miss
  CHECK(c.lookup(0x10));            // the key alone still hits
  CHECK(c.stats().hits == 3);
  CHECK(c.stats().misses == 1);
}
