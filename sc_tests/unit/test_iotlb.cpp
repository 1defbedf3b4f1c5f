// IOTLB reference model: lookups of every page size, fills, geometry, invalidation, counters.
#include <catch2/catch.hpp>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/iommu/caches/iotlb.h"

using namespace iommu_sim;

namespace {

IotlbEntry make(uint16_t domain, uint64_t vpn, uint64_t pfn, PageSize size = PageSize::Size4K,
                bool read = true, bool write = true) {
  IotlbEntry e;
  e.domain = domain;
  e.vpn = vpn;
  e.pfn = pfn;
  e.size = size;
  e.read = read;
  e.write = write;
  return e;
}

IotlbConfig geometry(unsigned sets, unsigned ways) {
  IotlbConfig c;
  c.sets = sets;
  c.ways = ways;
  return c;
}

}  // namespace

TEST_CASE("4K lookup hits only the same domain and page", "[unit]") {
  IotlbModel t(IotlbConfig{});
  IotlbFillResult f = t.fill(make(1, 0x12345, 0x777, PageSize::Size4K, true, false));
  CHECK(f.set == 0x05);  // 0x12345 & 31
  IotlbHit h = t.lookup(1, 0x12345);
  REQUIRE(h.hit);
  CHECK(h.set == 0x05);
  CHECK(h.way == f.way);
  CHECK(h.entry.pfn == 0x777);
  CHECK(h.entry.read);
  CHECK_FALSE(h.entry.write);
  CHECK(h.frame(0x12345) == 0x777);
  CHECK_FALSE(t.lookup(2, 0x12345).hit);
  CHECK_FALSE(t.lookup(1, 0x12346).hit);
  CHECK_FALSE(t.lookup(1, 0x12345 + 32).hit);  // same set, other page
}

TEST_CASE("2M lookup translates every 4K page inside it", "[unit]") {
  IotlbModel t(IotlbConfig{});
  IotlbFillResult f = t.fill(make(3, 0x400, 0x80200, PageSize::Size2M));
  CHECK(f.set == 2);  // (0x400 >> 9) & 31
  IotlbHit h = t.lookup(3, 0x5AB);
  REQUIRE(h.hit);
  CHECK(h.set == 2);
  CHECK(h.entry.size == PageSize::Size2M);
  CHECK(h.entry.vpn == 0x400);
  CHECK(h.frame(0x5AB) == 0x803AB);
  CHECK(t.lookup(3, 0x400).hit);
  CHECK(t.lookup(3, 0x5FF).hit);
  CHECK_FALSE(t.lookup(3, 0x3FF).hit);
  CHECK_FALSE(t.lookup(3, 0x600).hit);
}

TEST_CASE("1G lookup translates every 4K page inside it", "[unit]") {
  IotlbModel t(IotlbConfig{});
  IotlbFillResult f = t.fill(make(4, 0x40000, 0x1C0000, PageSize::Size1G));
  CHECK(f.set == 1);  // (0x40000 >> 18) & 31
  IotlbHit h = t.lookup(4, 0x4ABCD);
  REQUIRE(h.hit);
  CHECK(h.frame(0x4ABCD) == 0x1CABCD);
  CHECK(t.lookup(4, 0x7FFFF).frame(0x7FFFF) == 0x1FFFFF);
  CHECK_FALSE(t.lookup(4, 0x80000).hit);
  CHECK_FALSE(t.lookup(5, 0x40000).hit);
}

TEST_CASE("a 4K entry wins over a superpage covering the same page", "[unit]") {
  IotlbModel t(IotlbConfig{});
  t.fill(make(1, 0x400, 0x80200, PageSize::Size2M));
  t.fill(make(1, 0x401, 0x5555, PageSize::Size4K));
  CHECK(t.lookup(1, 0x401).frame(0x401) == 0x5555);
  CHECK(t.lookup(1, 0x402).frame(0x402) == 0x80202);
}

TEST_CASE("fill drops offset bits below the page size", "[unit]") {
  IotlbModel t(IotlbConfig{});
  IotlbFillResult f = t.fill(make(1, 0x5AB, 0x80377, PageSize::Size2M));
  auto e = t.entry_at(f.set, f.way);
  REQUIRE(e);
  CHECK(e->vpn == 0x400);
  CHECK(e->pfn == 0x80200);
  CHECK(t.lookup(1, 0x401).frame(0x401) == 0x80201);
  // Not a page size: nothing is stored and nothing counted.
  IotlbEntry bad = make(1, 0x10, 0x10);
  bad.size = static_cast<PageSize>(3);
  t.fill(bad);
  CHECK(t.valid_entries() == 1);
  CHECK(t.stats().fills == 1);
}

TEST_CASE("fill of the same page overwrites in place", "[unit]") {
  IotlbModel t(geometry(4, 2));
  IotlbFillResult a = t.fill(make(7, 0x21, 0x100, PageSize::Size4K, true, false));
  t.fill(make(7, 0x25, 0x200));  // same set (1), other way
  IotlbFillResult b = t.fill(make(7, 0x21, 0x300, PageSize::Size4K, true, true));
  CHECK(b.set == a.set);
  CHECK(b.way == a.way);
  CHECK_FALSE(b.evicted);
  CHECK(t.valid_entries() == 2);
  IotlbHit h = t.lookup(7, 0x21);
  CHECK(h.entry.pfn == 0x300);
  CHECK(h.entry.write);
  // Same vpn in another domain or of another size is another entry.
  IotlbFillResult c = t.fill(make(8, 0x21, 0x400));
  CHECK(c.evicted);  // set 1 was full: not in place, so LRU evicts 0x25 (way 0 was touched)
  CHECK(c.way == 1);
  CHECK(c.victim.vpn == 0x25);
  CHECK(t.stats().evictions == 1);
}

TEST_CASE("fully associative holds any pages up to its size", "[unit]") {
  IotlbModel t(geometry(1, 8));
  const uint64_t vpns[] = {0x0, 0x8, 0x10, 0x100, 0x12345, 0xFFFFF, 0x7, 0x40};
  for (uint64_t v : vpns) CHECK_FALSE(t.fill(make(1, v, v)).evicted);
  for (uint64_t v : vpns) CHECK(t.lookup(1, v).hit);
  IotlbFillResult r = t.fill(make(1, 0x999, 0x999));
  CHECK(r.evicted);
  CHECK(r.way == 0);  // all eight hit in fill order: way 0 is least recent
  CHECK(r.victim.vpn == 0x0);
}

TEST_CASE("direct mapped conflicts on the set index", "[unit]") {
  IotlbModel t(geometry(8, 1));
  CHECK(t.fill(make(1, 3, 0x30)).set == 3);
  CHECK_FALSE(t.fill(make(1, 4, 0x40)).evicted);
  IotlbFillResult r = t.fill(make(1, 11, 0xB0));  // 11 & 7 == 3
  CHECK(r.evicted);
  CHECK(r.set == 3);
  CHECK(r.victim.vpn == 3);
  CHECK_FALSE(t.lookup(1, 3).hit);
  CHECK(t.lookup(1, 4).hit);
  CHECK(t.lookup(1, 11).hit);
  // Superpages index by their own number: 2M vpn 0x600 (page 3) also lands in set 3.
  CHECK(t.fill(make(1, 0x600, 0x600, PageSize::Size2M)).set == 3);
  CHECK(t.entry_at(3, 0)->size == PageSize::Size2M);
  CHECK_FALSE(t.entry_at(8, 0));
  CHECK_FALSE(t.entry_at(0, 1));
}

TEST_CASE("global and domain invalidation", "[unit]") {
  IotlbModel t(IotlbConfig{});
  for (uint64_t v = 0; v < 10; ++v) t.fill(make(v < 6 ? 1 : 2, v, v));
  t.fill(make(1, 0x400, 0x400, PageSize::Size2M));
  CHECK(t.invalidate_domain(3) == 0);
  CHECK(t.invalidate_domain(2) == 4);
  CHECK_FALSE(t.lookup(2, 7).hit);
  CHECK(t.lookup(1, 5).hit);
  CHECK(t.invalidate_all() == 7);
  CHECK(t.valid_entries() == 0);
  CHECK_FALSE(t.lookup(1, 0x401).hit);
  CHECK(t.stats().invalidations == 3);
  CHECK(t.stats().invalidated_entries == 11);
}

TEST_CASE("page invalidation with address masks at several alignments", "[unit]") {
  IotlbModel t(IotlbConfig{});
  auto refill = [&t] {
    t.invalidate_all();
    for (uint64_t v = 0x100; v < 0x110; ++v) t.fill(make(1, v, v));
    t.fill(make(2, 0x104, 0x104));
  };
  refill();
  CHECK(t.invalidate_pages(1, 0x101, 0) == 1);  // just 0x101
  CHECK_FALSE(t.lookup(1, 0x101).hit);
  CHECK(t.lookup(1, 0x100).hit);
  CHECK(t.invalidate_pages(1, 0x103, 1) == 2);  // base 0x102: 0x102, 0x103
  CHECK(t.lookup(1, 0x104).hit);
  CHECK(t.invalidate_pages(1, 0x105, 2) == 4);  // base 0x104: 0x104 .. 0x107
  CHECK(t.lookup(2, 0x104).hit);                // other domain untouched
  CHECK(t.lookup(1, 0x108).hit);
  refill();
  CHECK(t.invalidate_pages(1, 0x10F, 3) == 8);  // base 0x108: 0x108 .. 0x10F
  CHECK(t.invalidate_pages(1, 0x100, 4) == 8);  // base 0x100: the rest
  CHECK(t.invalidate_pages(1, 0x100, 4) == 0);
  refill();
  CHECK(t.invalidate_pages(1, 0x0, 8) == 0);  // [0, 0x100) ends just below them ...
  CHECK(t.invalidate_pages(1, 0x0, 9) == 16);  // ... [0, 0x200) covers them all
  CHECK(t.invalidate_pages(1, 0x0, 63) == 0);
  CHECK(t.invalidate_pages(2, 0x0, 63) == 1);
}

TEST_CASE("page invalidation removes a superpage partly covered by the mask", "[unit]") {
  IotlbModel t(IotlbConfig{});
  const IotlbEntry two_m = make(1, 0x400, 0x80200, PageSize::Size2M);
  const IotlbEntry one_g = make(1, 0x40000, 0x1C0000, PageSize::Size1G);
  t.fill(two_m);
  t.fill(one_g);
  CHECK(t.invalidate_pages(1, 0x3F0, 4) == 0);   // [0x3F0, 0x400): just below
  CHECK(t.invalidate_pages(1, 0x600, 0) == 0);   // just above
  CHECK(t.invalidate_pages(1, 0x4A0, 0) == 1);   // one 4K page inside the 2M page
  CHECK_FALSE(t.lookup(1, 0x400).hit);
  t.fill(two_m);
  CHECK(t.invalidate_pages(1, 0x0, 10) == 0);    // [0, 0x400)
  CHECK(t.invalidate_pages(1, 0x0, 11) == 1);    // [0, 0x800) holds it
  CHECK(t.invalidate_pages(1, 0x7FFFF, 9) == 1); // last 2M of the 1G page
  CHECK(t.valid_entries() == 0);
  t.fill(one_g);
  CHECK(t.invalidate_pages(1, 0x0, 19) == 1);    // [0, 0x80000) holds the 1G page
}

TEST_CASE("counters count lookups fills evictions and invalidations", "[unit]") {
  IotlbModel t(geometry(1, 2));
  t.lookup(1, 1);                   // miss
  t.fill(make(1, 1, 1));
  t.fill(make(1, 2, 2));
  t.lookup(1, 1);                   // hit
  t.lookup(1, 2);                   // hit
  t.fill(make(1, 3, 3));            // evicts 1
  t.fill(make(1, 3, 4));            // in place
  t.lookup(1, 1);                   // miss
  t.invalidate_pages(1, 3, 0);      // 1 entry
  t.invalidate_domain(9);           // none
  const CacheStats& s = t.stats();
  CHECK(s.lookups == 4);
  CHECK(s.hits == 2);
  CHECK(s.misses == 2);
  CHECK(s.fills == 4);
  CHECK(s.evictions == 1);
  CHECK(s.invalidations == 2);
  CHECK(s.invalidated_entries == 1);

  StatsRegistry reg;
  register_cache_stats(reg, "p.iommu.iotlb", t.stats());
  t.lookup(1, 2);
  CHECK(reg.value("p.iommu.iotlb.hits") == 3);
  CHECK(reg.value("p.iommu.iotlb.hit_rate") == Approx(0.6));
  t.reset_stats();
  CHECK(reg.value("p.iommu.iotlb.lookups") == 0);
}

TEST_CASE("validate iotlb config names the field", "[unit]") {
  CHECK(validate_iotlb_config(IotlbConfig{}) == "");
  IotlbConfig c;
  c.sets = 3;
  CHECK_THAT(validate_iotlb_config(c), Catch::Contains("sets") && Catch::Contains("power of two"));
  c.sets = 0;
  CHECK_THAT(validate_iotlb_config(c), Catch::Contains("sets"));
  c = IotlbConfig{};
  c.ways = 0;
  CHECK_THAT(validate_iotlb_config(c), Catch::StartsWith("ways"));
  c = IotlbConfig{};
  c.ways = 3;
  CHECK(validate_iotlb_config(c) == "");  // lru takes any way count
  c.policy = ReplacementKind::Plru;
  CHECK_THAT(validate_iotlb_config(c), Catch::Contains("ways") && Catch::Contains("plru"));
  c.policy = static_cast<ReplacementKind>(9);
  CHECK_THAT(validate_iotlb_config(c), Catch::StartsWith("policy"));
  c = IotlbConfig{};
  c.sets = 1u << 20;
  c.ways = 8;
  CHECK_THAT(validate_iotlb_config(c), Catch::Contains("sets * ways"));
  c.sets = 3;
  CHECK_THROWS_WITH(IotlbModel(c), Catch::Contains("sets"));
}

TEST_CASE("power on reset empties the iotlb", "[unit]") {
  IotlbModel t(IotlbConfig{});
  t.fill(make(1, 1, 1));
  t.fill(make(1, 0x400, 0x400, PageSize::Size2M));
  t.reset();
  CHECK(t.valid_entries() == 0);
  CHECK_FALSE(t.lookup(1, 0x401).hit);
  CHECK(t.stats().fills == 2);  // counters survive
}

namespace {

IotlbConfig xor_geometry(unsigned sets, unsigned ways) {
  IotlbConfig c = geometry(sets, ways);
  c.index = IotlbIndex::PageXorDomain;
  return c;
}

}  // namespace

TEST_CASE("set index names parse and print", "[unit]") {
  IotlbIndex index = IotlbIndex::Page;
  REQUIRE(parse_iotlb_index("page-xor-domain", index));
  CHECK(index == IotlbIndex::PageXorDomain);
  REQUIRE(parse_iotlb_index("page", index));
  CHECK(index == IotlbIndex::Page);
  index = IotlbIndex::PageXorDomain;
  CHECK_FALSE(parse_iotlb_index("xor", index));
  CHECK_FALSE(parse_iotlb_index("", index));
  CHECK(index == IotlbIndex::PageXorDomain);  // untouched on failure
  CHECK(std::string(to_string(IotlbIndex::Page)) == "page");
  CHECK(std::string(to_string(IotlbIndex::PageXorDomain)) == "page-xor-domain");
  CHECK(IotlbConfig{}.index == IotlbIndex::Page);
  IotlbConfig c;
  c.index = static_cast<IotlbIndex>(5);
  CHECK_THAT(validate_iotlb_config(c), Catch::StartsWith("index"));
  CHECK_THROWS_WITH(IotlbModel(c), Catch::Contains("index"));
}

TEST_CASE("page index places every size by page number alone", "[unit]") {
  IotlbModel t(geometry(32, 4));
  // 4K: 0x12345 & 31 = 0x05, whatever the domain.
  CHECK(t.fill(make(7, 0x12345, 0x1)).set == 0x05);
  CHECK(t.fill(make(0x1234, 0x12345, 0x2)).set == 0x05);
  // 2M: (0x12200 >> 9) & 31 = 0x91 & 31 = 0x11.
  CHECK(t.fill(make(7, 0x12200, 0x200, PageSize::Size2M)).set == 0x11);
  // 1G: (0x140000 >> 18) & 31 = 5.
  CHECK(t.fill(make(0x23, 0x140000, 0x40000, PageSize::Size1G)).set == 5);
  CHECK(t.lookup(0x1234, 0x12345).set == 0x05);
  CHECK(t.lookup(7, 0x12345).set == 0x05);
  CHECK(t.lookup(0x23, 0x140000 + 0x12345).set == 5);
}

TEST_CASE("page xor domain index places every size by page number xor domain", "[unit]") {
  IotlbModel t(xor_geometry(32, 4));
  // 4K: (0x12345 ^ 7) & 31 = 0x05 ^ 0x07 = 0x02; (0x12345 ^ 0x1234) & 31 = 0x05 ^ 0x14 = 0x11.
  CHECK(t.fill(make(7, 0x12345, 0x1)).set == 0x02);
  CHECK(t.fill(make(0x1234, 0x12345, 0x2)).set == 0x11);
  // 2M: ((0x12200 >> 9) ^ 7) & 31 = (0x91 ^ 7) & 31 = 0x96 & 31 = 0x16.
  CHECK(t.fill(make(7, 0x12200, 0x200, PageSize::Size2M)).set == 0x16);
  // 1G: ((0x140000 >> 18) ^ 0x23) & 31 = 0x26 & 31 = 6.
  CHECK(t.fill(make(0x23, 0x140000, 0x40000, PageSize::Size1G)).set == 6);
  // Lookups probe the same sets and translate as before.
  IotlbHit h = t.lookup(7, 0x12345);
  REQUIRE(h.hit);
  CHECK(h.set == 0x02);
  CHECK(h.frame(0x12345) == 0x1);
  h = t.lookup(0x1234, 0x12345);
  REQUIRE(h.hit);
  CHECK(h.set == 0x11);
  CHECK(h.entry.pfn == 0x2);
  h = t.lookup(7, 0x12201);  // a 4K page inside the 2M entry: 4K probe misses, 2M hits
  REQUIRE(h.hit);
  CHECK(h.set == 0x16);
  CHECK(h.frame(0x12201) == 0x201);
  h = t.lookup(0x23, 0x140000 + 0x12345);
  REQUIRE(h.hit);
  CHECK(h.set == 6);
  CHECK(h.frame(0x140000 + 0x12345) == 0x40000 + 0x12345);
  CHECK_FALSE(t.lookup(8, 0x12345).hit);  // another domain still misses
  // Domain bits above the index width do not matter: 4096 sets take twelve of them.
  IotlbModel big(xor_geometry(4096, 1));
  CHECK(big.fill(make(0x1234, 0x0, 0x9)).set == 0x234);
  CHECK(big.lookup(0x1234, 0x0).set == 0x234);
  // One set: everything in set 0.
  IotlbModel one(xor_geometry(1, 4));
  CHECK(one.fill(make(0xFFFF, 0x12345, 0x9)).set == 0);
  CHECK(one.lookup(0xFFFF, 0x12345).hit);
}

TEST_CASE("same page in two domains conflicts under page and not under page xor domain",
          "[unit]") {
  // Direct mapped, 8 sets: vpn 0x40 is set 0 for everybody under the page index.
  IotlbModel page(geometry(8, 1));
  CHECK(page.fill(make(1, 0x40, 0x100)).set == 0);
  IotlbFillResult second = page.fill(make(2, 0x40, 0x200));
  CHECK(second.set == 0);
  CHECK(second.evicted);
  CHECK(second.victim.domain == 1);
  CHECK_FALSE(page.lookup(1, 0x40).hit);
  CHECK(page.lookup(2, 0x40).hit);

  // Under the XOR index domain 1 goes to set 1 and domain 2 to set 2: both stay.
  IotlbModel mixed(xor_geometry(8, 1));
  CHECK(mixed.fill(make(1, 0x40, 0x100)).set == 1);
  second = mixed.fill(make(2, 0x40, 0x200));
  CHECK(second.set == 2);
  CHECK_FALSE(second.evicted);
  IotlbHit h1 = mixed.lookup(1, 0x40), h2 = mixed.lookup(2, 0x40);
  REQUIRE(h1.hit);
  REQUIRE(h2.hit);
  CHECK(h1.entry.pfn == 0x100);
  CHECK(h2.entry.pfn == 0x200);
  CHECK(mixed.stats().evictions == 0);
  // ... and domains 1 and 2 conflict under XOR when their pages differ in the same bits.
  IotlbFillResult third = mixed.fill(make(2, 0x43, 0x300));  // (0x43 ^ 2) & 7 = 1
  CHECK(third.set == 1);
  CHECK(third.evicted);
  CHECK(third.victim.domain == 1);
}

TEST_CASE("invalidation of every granularity under page xor domain", "[unit]") {
  IotlbModel t(xor_geometry(32, 4));
  auto fill_all = [&t] {
    t.fill(make(3, 0x100, 0x1));                            // set (0x100 ^ 3) & 31 = 3
    t.fill(make(3, 0x101, 0x2));                            // set 2
    t.fill(make(3, 0x200, 0x400, PageSize::Size2M));        // set (1 ^ 3) = 2
    t.fill(make(3, 0x40000, 0x80000, PageSize::Size1G));    // set (1 ^ 3) = 2
    t.fill(make(4, 0x100, 0x3));                            // set 4
    t.fill(make(5, 0x100, 0x4));                            // set 5
  };
  fill_all();
  REQUIRE(t.valid_entries() == 6);

  // Page, 4K, am 0: only that domain's page, wherever its set is.
  CHECK(t.invalidate_pages(3, 0x100, 0) == 1);
  CHECK_FALSE(t.lookup(3, 0x100).hit);
  CHECK(t.lookup(4, 0x100).hit);
  CHECK(t.lookup(5, 0x100).hit);
  CHECK(t.lookup(3, 0x101).hit);
  // Page with an address mask: 0x100-0x101 takes 0x101 (0x100 is gone already).
  CHECK(t.invalidate_pages(3, 0x100, 1) == 1);
  CHECK_FALSE(t.lookup(3, 0x101).hit);
  // A 4K page inside the 2M entry takes the 2M entry.
  CHECK(t.lookup(3, 0x2A5).hit);
  CHECK(t.invalidate_pages(3, 0x2A5, 0) == 1);
  CHECK_FALSE(t.lookup(3, 0x2A5).hit);
  // A 4K page inside the 1G entry takes the 1G entry.
  CHECK(t.lookup(3, 0x41234).hit);
  CHECK(t.invalidate_pages(3, 0x41234, 0) == 1);
  CHECK_FALSE(t.lookup(3, 0x41234).hit);
  CHECK(t.valid_entries() == 2);

  // Domain: every entry of that domain, none of the others.
  t.invalidate_all();
  fill_all();
  CHECK(t.invalidate_domain(3) == 4);
  CHECK_FALSE(t.lookup(3, 0x101).hit);
  CHECK_FALSE(t.lookup(3, 0x200).hit);
  CHECK(t.lookup(4, 0x100).hit);
  CHECK(t.invalidate_domain(4) == 1);
  CHECK_FALSE(t.lookup(4, 0x100).hit);
  CHECK(t.lookup(5, 0x100).hit);

  // Global: everything.
  t.invalidate_all();
  fill_all();
  CHECK(t.invalidate_all() == 6);
  CHECK(t.valid_entries() == 0);
  CHECK_FALSE(t.lookup(5, 0x100).hit);
  // After invalidation the same pages fill the same sets again.
  CHECK(t.fill(make(3, 0x100, 0x1)).set == 3);
  CHECK(t.fill(make(4, 0x100, 0x3)).set == 4);
}

TEST_CASE("PASID tags: entries of one page and domain are told apart by PASID", "[unit]") {
  IotlbModel t(geometry(1, 8));
  CHECK(t.pasid_tags());
  IotlbEntry untagged = make(3, 0x100, 0xA00);
  IotlbEntry p5 = make(3, 0x100, 0xB00);
  p5.pasid = 5;
  IotlbEntry p6 = make(3, 0x100, 0xC00);
  p6.pasid = 6;
  const unsigned way5 = t.fill(p5).way;
  t.fill(p6);
  CHECK_FALSE(t.lookup(3, 0x100).hit);  // lookup() sees kNoPasid entries only
  t.fill(untagged);
  CHECK(t.valid_entries() == 3);
  CHECK(t.lookup(3, 0x100).entry.pfn == 0xA00);
  CHECK(t.lookup_pasid(3, kNoPasid, 0x100).entry.pfn == 0xA00);
  CHECK(t.lookup_pasid(3, 5, 0x100).entry.pfn == 0xB00);
  CHECK(t.lookup_pasid(3, 6, 0x100).entry == p6);
  CHECK_FALSE(t.lookup_pasid(3, 7, 0x100).hit);
  CHECK_FALSE(t.lookup_pasid(4, 5, 0x100).hit);
  // A fill of the same domain, page and PASID overwrites in place.
  p5.pfn = 0xD00;
  CHECK(t.fill(p5).way == way5);
  CHECK(t.valid_entries() == 3);
  // PASID-selective invalidation leaves the other tags; page-selective looks at the range too.
  CHECK(t.invalidate_pasid(3, 6) == 1);
  CHECK_FALSE(t.lookup_pasid(3, 6, 0x100).hit);
  CHECK(t.invalidate_pasid_pages(3, 5, 0x101, 0) == 0);
  CHECK(t.invalidate_pasid_pages(3, 5, 0x101, 1) == 1);
  CHECK(t.lookup(3, 0x100).hit);
  // Domain and page invalidations take every tag of the domain.
  t.fill(p6);
  CHECK(t.invalidate_pages(3, 0x100, 0) == 2);
  t.fill(p6);
  t.fill(untagged);
  CHECK(t.invalidate_domain(3) == 2);
  CHECK(t.valid_entries() == 0);
}
