// Replacement policies against access sequences worked out by hand (docs/iotlb.md). The victims
// are written out literally here; none is computed by the code under test.
#include <catch2/catch.hpp>

#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/replacement_policy.h"

using namespace iommu_sim;

namespace {

IotlbEntry page(uint64_t vpn, uint16_t domain = 1) {
  IotlbEntry e;
  e.domain = domain;
  e.vpn = vpn;
  e.pfn = vpn + 0x1000;
  e.read = true;
  return e;
}

IotlbModel one_set(ReplacementKind kind, unsigned ways = 4, uint64_t seed = 1) {
  IotlbConfig c;
  c.sets = 1;
  c.ways = ways;
  c.policy = kind;
  c.seed = seed;
  return IotlbModel(c);
}

// Fills vpns 0x10.. into ways 0..3 of a fresh one-set IOTLB and checks where they went.
void fill_four(IotlbModel& t) {
  for (unsigned w = 0; w < 4; ++w) {
    IotlbFillResult r = t.fill(page(0x10 + w));
    REQUIRE(r.way == w);
    REQUIRE_FALSE(r.evicted);
  }
}

}  // namespace

TEST_CASE("lru evicts the least recently touched way", "[unit]") {
  IotlbModel t = one_set(ReplacementKind::Lru);
  fill_four(t);                        // order, oldest first: 0 1 2 3
  REQUIRE(t.lookup(1, 0x10).hit);      // 1 2 3 0
  IotlbFillResult r = t.fill(page(0x20));
  CHECK(r.evicted);
  CHECK(r.way == 1);                   // 2 3 0 1
  CHECK(r.victim.vpn == 0x11);
  REQUIRE(t.lookup(1, 0x12).hit);      // 3 0 1 2
  r = t.fill(page(0x21));
  CHECK(r.way == 3);                   // 0 1 2 3
  CHECK(r.victim.vpn == 0x13);
  r = t.fill(page(0x22));
  CHECK(r.way == 0);
  CHECK(r.victim.vpn == 0x10);
  CHECK_FALSE(t.lookup(1, 0x13).hit);  // a miss touches nothing: way 1 is next
  CHECK(t.fill(page(0x23)).way == 1);
}

TEST_CASE("fifo ignores hits and counts an in place overwrite as a fill", "[unit]") {
  IotlbModel t = one_set(ReplacementKind::Fifo);
  fill_four(t);                        // fill order 0 1 2 3
  REQUIRE(t.lookup(1, 0x10).hit);      // no change
  IotlbFillResult r = t.fill(page(0x20));
  CHECK(r.way == 0);                   // 1 2 3 0
  CHECK(r.victim.vpn == 0x10);
  REQUIRE(t.lookup(1, 0x12).hit);
  r = t.fill(page(0x21));
  CHECK(r.way == 1);                   // 2 3 0 1
  IotlbEntry again = page(0x12);       // in place in way 2: 3 0 1 2
  again.pfn = 0x9999;
  r = t.fill(again);
  CHECK(r.way == 2);
  CHECK_FALSE(r.evicted);
  r = t.fill(page(0x22));
  CHECK(r.way == 3);
  CHECK(r.victim.vpn == 0x13);
  r = t.fill(page(0x23));
  CHECK(r.way == 0);
}

TEST_CASE("plru follows the tree bits", "[unit]") {
  // Bits b1 b2 b3 all 0 at reset; fills of ways 0 1 2 3 leave them 0 0 0.
  IotlbModel t = one_set(ReplacementKind::Plru);
  fill_four(t);
  REQUIRE(t.lookup(1, 0x10).hit);      // touch way 0: b1=1 b2=1
  IotlbFillResult r = t.fill(page(0x20));
  CHECK(r.way == 2);                   // root 1 -> node 3, b3=0 -> way 2 (true LRU says 1)
  CHECK(r.victim.vpn == 0x12);         // touch way 2: b1=0 b3=1
  REQUIRE(t.lookup(1, 0x11).hit);      // touch way 1: b1=1 b2=0
  r = t.fill(page(0x21));
  CHECK(r.way == 3);                   // node 3, b3=1 -> way 3; touch: b1=0 b3=0
  r = t.fill(page(0x22));
  CHECK(r.way == 0);                   // node 2, b2=0 -> way 0
}

TEST_CASE("plru node bits point away from the touched way", "[unit]") {
  PlruPolicy p(1, 8);
  CHECK(p.victim(0) == 0);
  p.touch(0, 5);  // path: leaf 13 -> node 6 (right child) -> node 3 (left) -> node 1 (right)
  CHECK(p.node_bit(0, 1) == false);
  CHECK(p.node_bit(0, 3) == true);
  CHECK(p.node_bit(0, 6) == false);
  CHECK(p.victim(0) == 0);
  p.touch(0, 0);  // node 1 -> 1, node 2 -> 1, node 4 -> 1
  CHECK(p.victim(0) == 6);  // 1 -> 3 (bit 1) -> 7 (bit 1) -> leaf 14 (bit 0)
  PlruPolicy one(2, 1);
  one.touch(1, 0);
  CHECK(one.victim(1) == 0);
}

TEST_CASE("random follows xorshift64 from the seed", "[unit]") {
  // xorshift64 from 12345, mod 4: 1 1 1 0 2 3 2 3.
  IotlbModel t = one_set(ReplacementKind::Random, 4, 12345);
  fill_four(t);
  REQUIRE(t.lookup(1, 0x13).hit);  // hits do not advance the generator
  const unsigned expected[] = {1, 1, 1, 0, 2, 3, 2, 3};
  for (unsigned i = 0; i < 8; ++i) {
    IotlbFillResult r = t.fill(page(0x100 + i));
    CHECK(r.evicted);
    CHECK(r.way == expected[i]);
  }
}

TEST_CASE("random with three ways and seed zero meaning one", "[unit]") {
  // xorshift64 from 1, mod 3: 0 2 0 2 2 1.
  IotlbModel t = one_set(ReplacementKind::Random, 3, 0);
  for (unsigned w = 0; w < 3; ++w) REQUIRE(t.fill(page(0x10 + w)).way == w);
  const unsigned expected[] = {0, 2, 0, 2, 2, 1};
  for (unsigned i = 0; i < 6; ++i) CHECK(t.fill(page(0x100 + i)).way == expected[i]);
}

TEST_CASE("random is reproducible for a seed and the generator is shared by all sets", "[unit]") {
  IotlbConfig c;
  c.sets = 4;
  c.ways = 2;
  c.policy = ReplacementKind::Random;
  c.seed = 99;
  IotlbModel a(c), b(c);
  c.seed = 100;
  IotlbModel other(c);
  std::vector<unsigned> va, vb, vo;
  for (uint64_t v = 0; v < 200; ++v) {
    IotlbEntry e = page(v * 7);
    va.push_back(a.fill(e).way);
    vb.push_back(b.fill(e).way);
    vo.push_back(other.fill(e).way);
  }
  CHECK(va == vb);
  CHECK(va != vo);
  CHECK(a.stats().evictions == 200 - 8);

  // One generator for all sets: a victim chosen in set 1 changes the next choice in set 0.
  RandomPolicy p(2, 4, 12345);
  CHECK(p.victim(1) == 1);
  CHECK(p.victim(0) == 1);
  CHECK(p.victim(1) == 1);
  CHECK(p.victim(0) == 0);
  p.reset();
  CHECK(p.victim(0) == 1);
}

TEST_CASE("invalidation leaves replacement state alone", "[unit]") {
  IotlbModel t = one_set(ReplacementKind::Lru);
  t.fill(page(0x10, 1));
  t.fill(page(0x11, 2));
  t.fill(page(0x12, 1));
  t.fill(page(0x13, 1));
  REQUIRE(t.lookup(1, 0x12).hit);
  REQUIRE(t.lookup(1, 0x10).hit);  // order: 1 3 2 0
  REQUIRE(t.invalidate_domain(2) == 1);
  CHECK(t.fill(page(0x20)).way == 1);  // lowest invalid way; order 3 2 0 1
  CHECK(t.fill(page(0x21)).way == 3);

  // The random generator is not reseeded by a global invalidation.
  IotlbModel r = one_set(ReplacementKind::Random, 4, 12345);
  fill_four(r);
  CHECK(r.fill(page(0x30)).way == 1);
  CHECK(r.fill(page(0x31)).way == 1);
  CHECK(r.fill(page(0x32)).way == 1);
  REQUIRE(r.invalidate_all() == 4);
  fill_four(r);
  CHECK(r.fill(page(0x33)).way == 0);  // fourth number of the sequence
  r.reset();                           // power-on reset does reseed
  fill_four(r);
  CHECK(r.fill(page(0x34)).way == 1);
}

TEST_CASE("policy names parse and print", "[unit]") {
  ReplacementKind k = ReplacementKind::Lru;
  CHECK(parse_replacement_kind("plru", k));
  CHECK(k == ReplacementKind::Plru);
  CHECK(parse_replacement_kind("random", k));
  CHECK(k == ReplacementKind::Random);
  CHECK(parse_replacement_kind("fifo", k));
  CHECK(k == ReplacementKind::Fifo);
  CHECK_FALSE(parse_replacement_kind("LRU ", k));
  CHECK(k == ReplacementKind::Fifo);
  CHECK(std::string(to_string(ReplacementKind::Lru)) == "lru");
  CHECK(make_replacement_policy(ReplacementKind::Fifo, 2, 3, 0)->kind() == ReplacementKind::Fifo);
  CHECK_THROWS_AS(make_replacement_policy(ReplacementKind::Plru, 1, 3, 1), std::invalid_argument);
}
