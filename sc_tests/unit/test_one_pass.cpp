// One-pass LRU exploration against the per-configuration reference: IotlbModel (lru) replaying
// the same stream with replay_access(), geometry by geometry, every counter.
#include <catch2/catch.hpp>

#include <random>
#include <sstream>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/one_pass.h"

using namespace iommu_sim;

namespace {

IotlbOp access(uint16_t domain, uint64_t vpn, PageSize size = PageSize::Size4K) {
  IotlbOp op;
  op.kind = IotlbOp::Access;
  op.entry.domain = domain;
  op.entry.vpn = vpn;
  const uint64_t mask = (1ULL << page_shift_pages(size)) - 1;
  op.entry.pfn = (0x80000 + vpn) & ~mask;
  op.entry.read = op.entry.write = true;
  op.entry.size = size;
  return op;
}

IotlbOp inv_pages(uint16_t domain, uint64_t vpn, unsigned am) {
  IotlbOp op;
  op.kind = IotlbOp::InvalidatePages;
  op.entry.domain = domain;
  op.entry.vpn = vpn;
  op.am = am;
  return op;
}

IotlbOp inv_domain(uint16_t domain) {
  IotlbOp op;
  op.kind = IotlbOp::InvalidateDomain;
  op.entry.domain = domain;
  return op;
}

IotlbOp inv_all() {
  IotlbOp op;
  op.kind = IotlbOp::InvalidateAll;
  return op;
}

OnePassLimits limits_of(unsigned max_sets, unsigned max_ways, unsigned max_entries) {
  OnePassLimits limits;
  limits.max_sets = max_sets;
  limits.max_ways = max_ways;
  limits.max_entries = max_entries;
  return limits;
}

// A random stream with locality, three domains, 2 MiB and 1 GiB pages in regions of their own
// (one translation per address, as a correct driver keeps it), invalidations of every kind at the
// given rates (per thousand ops), and stray Lookup/Fill lines that replay ignores.
std::vector<IotlbOp> random_stream(uint64_t seed, size_t n, unsigned inv_per_mille,
                                   unsigned global_per_mille) {
  std::mt19937_64 rng(seed);
  std::vector<IotlbOp> ops;
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  uint64_t hot = 0;
  for (size_t i = 0; i < n; ++i) {
    const unsigned r = static_cast<unsigned>(pick(0, 999));
    if (r < global_per_mille) {
      ops.push_back(inv_all());
    } else if (r < inv_per_mille) {
      const unsigned k = static_cast<unsigned>(pick(0, 9));
      if (k == 0) ops.push_back(inv_domain(static_cast<uint16_t>(pick(1, 3))));
      else if (k < 3) ops.push_back(inv_pages(2, 0x100000 + pick(0, 7) * 512 + pick(0, 511), static_cast<unsigned>(pick(0, 10))));
      else ops.push_back(inv_pages(static_cast<uint16_t>(pick(1, 3)), pick(0, 600), static_cast<unsigned>(pick(0, 4))));
    } else if (r < 30) {
      IotlbOp op = access(static_cast<uint16_t>(pick(1, 3)), pick(0, 600));
      op.kind = r < 20 ? IotlbOp::Lookup : IotlbOp::Fill;
      ops.push_back(op);
    } else if (r < 80) {
      // 2 MiB pages of domain 2, accessed anywhere inside the page.
      ops.push_back(access(2, 0x100000 + pick(0, 7) * 512 + pick(0, 511), PageSize::Size2M));
    } else if (r < 95) {
      ops.push_back(access(3, (8ULL << 18) + pick(0, 3) * (1ULL << 18) + pick(0, 4095),
                           PageSize::Size1G));
    } else {
      // A hot region that drifts, plus a uniform background.
      if (pick(0, 99) < 3) hot = pick(0, 500);
      const uint64_t vpn = pick(0, 3) ? hot + pick(0, 40) : pick(0, 600);
      ops.push_back(access(static_cast<uint16_t>(pick(1, 3)), vpn));
    }
  }
  return ops;
}

void check_all_geometries(const std::vector<IotlbOp>& ops, const OnePassLimits& limits) {
  OnePassExplorer ex(limits);
  for (const IotlbOp& op : ops) REQUIRE(ex.feed(op));
  unsigned compared = 0;
  for (const GeometryCounts& g : ex.results()) {
    const unsigned ways = g.ways == 0 ? g.entries : g.ways;
    const CacheStats want =
        replay_one_geometry(ops, g.sets, ways, ReplacementKind::Lru, 1, limits.index);
    INFO("sets " << g.sets << " ways " << g.ways << " entries " << g.entries);
    CHECK(g.stats.lookups == want.lookups);
    CHECK(g.stats.hits == want.hits);
    CHECK(g.stats.misses == want.misses);
    CHECK(g.stats.fills == want.fills);
    CHECK(g.stats.evictions == want.evictions);
    CHECK(g.stats.invalidations == want.invalidations);
    CHECK(g.stats.invalidated_entries == want.invalidated_entries);
    ++compared;
  }
  CHECK(compared == ex.results().size());
}

// Many domains with one IOVA layout (SR-IOV functions): every domain walks the same pages, with
// page and domain invalidations now and then.
std::vector<IotlbOp> same_layout_stream(uint64_t seed, size_t n, uint16_t domains,
                                        uint64_t pages) {
  std::mt19937_64 rng(seed);
  std::vector<IotlbOp> ops;
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  for (size_t i = 0; i < n; ++i) {
    const uint16_t d = static_cast<uint16_t>(pick(1, domains));
    const unsigned r = static_cast<unsigned>(pick(0, 999));
    if (r < 10) ops.push_back(inv_pages(d, pick(0, pages - 1), static_cast<unsigned>(pick(0, 3))));
    else if (r < 13) ops.push_back(inv_domain(d));
    else ops.push_back(access(d, pick(0, pages - 1)));
  }
  return ops;
}

}  // namespace

TEST_CASE("one pass equals per geometry replay under the page xor domain index", "[unit]") {
  OnePassLimits limits = limits_of(64, 8, 512);
  limits.fa_entries = {1, 16, 100, 512};
  limits.index = IotlbIndex::PageXorDomain;
  check_all_geometries(random_stream(11, 15000, 60, 2), limits);
  check_all_geometries(same_layout_stream(12, 20000, 24, 64), limits);
  // 16 domains on the same 4 pages: under the page index they share 4 of the 16 sets (16
  // entries each for 8 ways); XORed with the domain, 64 entries spread over all 16 sets.
  const std::vector<IotlbOp> sriov = same_layout_stream(13, 20000, 16, 4);
  check_all_geometries(sriov, limits);
  OnePassExplorer page(OnePassLimits{}), mixed(limits);
  for (const IotlbOp& op : sriov) {
    REQUIRE(page.feed(op));
    REQUIRE(mixed.feed(op));
  }
  CHECK(mixed.stats(16, 8).misses * 2 < page.stats(16, 8).misses);
  CHECK(mixed.stats(16, 8).hits ==
        replay_one_geometry(sriov, 16, 8, ReplacementKind::Lru, 1, IotlbIndex::PageXorDomain).hits);
  CHECK(page.stats(16, 8).hits == replay_one_geometry(sriov, 16, 8).hits);
  // One set: the index cannot matter.
  CHECK(mixed.stats(1, 8).hits == page.stats(1, 8).hits);
}

TEST_CASE("one pass equals per geometry replay without invalidations", "[unit]") {
  OnePassLimits limits = limits_of(64, 8, 512);
  check_all_geometries(random_stream(1, 20000, 0, 0), limits);
}

TEST_CASE("one pass equals per geometry replay with page and domain invalidations", "[unit]") {
  OnePassLimits limits = limits_of(64, 8, 512);
  limits.fa_entries = {1, 3, 7, 16, 100, 256, 512};
  for (uint64_t seed = 2; seed < 6; ++seed) {
    INFO("seed " << seed);
    check_all_geometries(random_stream(seed, 15000, 60, 0), limits);
  }
}

TEST_CASE("one pass equals per geometry replay with global invalidations", "[unit]") {
  OnePassLimits limits = limits_of(16, 12, 300);
  limits.fa_entries = {5, 64, 300};
  check_all_geometries(random_stream(7, 20000, 40, 2), limits);
}

TEST_CASE("one pass equals per geometry replay on a deep fully associative stack", "[unit]") {
  // More distinct pages than the Fenwick tree's first size, so it has to grow; sizes up to 2048.
  std::mt19937_64 rng(11);
  std::vector<IotlbOp> ops;
  for (int i = 0; i < 90000; ++i) {
    ops.push_back(access(1, rng() % 3000));
    if (i % 97 == 0) ops.push_back(inv_pages(1, rng() % 3000, static_cast<unsigned>(rng() % 6)));
  }
  OnePassLimits limits = limits_of(4, 4, 2048);
  limits.fa_entries = {1000, 2048};
  check_all_geometries(ops, limits);
}

TEST_CASE("one pass stays exact when the fully associative stack renumbers its slots", "[unit]") {
  // The stack renumbers itself whenever its 65,536 times run out, keeping its top max-entries
  // slots: 400,000 ops renumber it several times, with holes from every kind of invalidation
  // and items that fell below the deepest explored size coming back. Domain 4's 150 pages are
  // invalidated every 40 ops, so that the stack always has holes when it renumbers.
  OnePassLimits limits = limits_of(8, 4, 200);
  limits.fa_entries = {1, 7, 64, 199, 200};
  std::vector<IotlbOp> ops = random_stream(21, 400000, 30, 1);
  std::mt19937_64 rng(22);
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i % 40 == 0) ops[i] = inv_domain(4);
    else if (i % 3 == 0) ops[i] = access(1, 1000 + rng() % 5000);
    else if (i % 3 == 1) ops[i] = access(4, rng() % 150);
  }
  check_all_geometries(ops, limits);
}

TEST_CASE("one pass stays exact when the kept slots make the stack's times double", "[unit]") {
  // 40,000 entries: the kept top slots fill more than half of the 65,536 times, so renumbering
  // doubles them.
  std::mt19937_64 rng(23);
  std::vector<IotlbOp> ops;
  for (int i = 0; i < 200000; ++i) {
    ops.push_back(access(1, rng() % 50000));
    if (i % 1009 == 0) ops.push_back(inv_pages(1, rng() % 50000, static_cast<unsigned>(rng() % 8)));
  }
  OnePassLimits limits = limits_of(1, 1, 40000);
  limits.fa_entries = {30000, 40000};
  check_all_geometries(ops, limits);
}

TEST_CASE("an invalidated entry leaves a hole instead of pulling evicted entries back", "[unit]") {
  // 2-way, one set: a, b, c evicts a; invalidating c leaves {b}. Removing c from the stack
  // outright would bring a back into the top two slots and count the next access to a as a hit.
  std::vector<IotlbOp> ops = {access(1, 0xa), access(1, 0xb), access(1, 0xc),
                              inv_pages(1, 0xc, 0), access(1, 0xa), access(1, 0xb)};
  OnePassLimits limits = limits_of(1, 4, 4);
  OnePassExplorer ex(limits);
  for (const IotlbOp& op : ops) REQUIRE(ex.feed(op));
  const CacheStats two = ex.stats(1, 2);
  CHECK(two.hits == 1);  // only the final b: a was evicted, and fills c's invalid way
  CHECK(two.evictions == 1);
  CHECK(two.invalidated_entries == 1);
  CHECK(two.hits == replay_one_geometry(ops, 1, 2).hits);
  CHECK(two.evictions == replay_one_geometry(ops, 1, 2).evictions);
  const CacheStats three = ex.stats(1, 3);
  CHECK(three.hits == 2);
  CHECK(three.evictions == 0);
}

TEST_CASE("one pass refuses overlapping translations of two page sizes", "[unit]") {
  OnePassLimits limits = limits_of(4, 4, 8);
  OnePassExplorer ex(limits);
  REQUIRE(ex.feed(access(1, 0x200, PageSize::Size2M)));
  REQUIRE_FALSE(ex.feed(access(1, 0x201, PageSize::Size4K)));
  CHECK(ex.error().find("2M") != std::string::npos);
  CHECK(ex.error().find("grid") != std::string::npos);

  // With the large page invalidated first, the same accesses are fine.
  OnePassExplorer ok(limits);
  REQUIRE(ok.feed(access(1, 0x200, PageSize::Size2M)));
  REQUIRE(ok.feed(inv_pages(1, 0x200, 9)));
  CHECK(ok.feed(access(1, 0x201, PageSize::Size4K)));
  CHECK(ok.error().empty());
}

TEST_CASE("one pass reads a text trace and rejects bad limits", "[unit]") {
  std::istringstream text(
      "# recorded by the remapper\n"
      "A 1 10 8010 rw 4K\nA 1 11 8011 rw 4K\nL 1 10\nA 1 10 8010 rw 4K\nIP 1 10 0\n"
      "A 1 10 8010 rw 4K\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(text, ops, error));
  OnePassLimits limits = limits_of(2, 2, 2);
  OnePassExplorer ex(limits);
  for (const IotlbOp& op : ops) REQUIRE(ex.feed(op));
  CHECK(ex.accesses() == 4);
  // An unbounded IOTLB: the first touches miss, and so does the touch after the invalidation.
  CHECK(ex.unbounded_hits() == 1);
  CHECK(ex.stats(1, 2).hits == 1);
  CHECK(ex.stats(1, 2).invalidated_entries == 1);

  OnePassLimits bad;
  bad.max_sets = 3;
  CHECK(validate_one_pass_limits(bad).find("power of two") != std::string::npos);
  CHECK_THROWS_AS(OnePassExplorer(bad), std::invalid_argument);
  CHECK_THROWS_AS(ex.stats(4, 1), std::out_of_range);
}

TEST_CASE("one pass explores a trace file of either format as it reads it", "[unit]") {
  // Longer than the reader's 64 KiB blocks, with invalidations; accesses carry the page that
  // translated them, as the remapper records them.
  std::vector<IotlbOp> ops = random_stream(7, 40000, 20, 1);
  for (IotlbOp& op : ops)
    if (op.kind == IotlbOp::Access || op.kind == IotlbOp::Fill)
      op.entry.vpn &= ~((1ULL << page_shift_pages(op.entry.size)) - 1);
  OnePassLimits limits = limits_of(16, 4, 256);
  OnePassExplorer in_memory(limits);
  for (const IotlbOp& op : ops) REQUIRE(in_memory.feed(op));
  for (IotlbTraceFormat format : {IotlbTraceFormat::Text, IotlbTraceFormat::Binary}) {
    INFO(to_string(format));
    std::ostringstream out;
    IotlbTraceWriter writer(out, format);
    for (const IotlbOp& op : ops) writer.write(op);
    std::istringstream in(out.str());
    OnePassExplorer from_trace(limits);
    std::string error;
    REQUIRE(explore_iotlb_trace(in, from_trace, error));
    CHECK(error.empty());
    CHECK(from_trace.ops() == ops.size());
    const std::vector<GeometryCounts> want = in_memory.results(), got = from_trace.results();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].stats.hits == want[i].stats.hits);
      CHECK(got[i].stats.evictions == want[i].stats.evictions);
      CHECK(got[i].stats.invalidated_entries == want[i].stats.invalidated_entries);
    }
  }
}

TEST_CASE("one pass names the line or record it cannot explore", "[unit]") {
  // Line 3 accesses a 4 KiB page inside a live 2 MiB entry: not explorable in one pass.
  const std::string text = "# two sizes\nA 1 200 80200 rw 2M\nA 1 201 90201 rw 4K\n";
  OnePassExplorer ex(OnePassLimits{});
  std::istringstream in(text);
  std::string error;
  CHECK_FALSE(explore_iotlb_trace(in, ex, error));
  CHECK_THAT(error, Catch::StartsWith("line 3: "));

  std::istringstream text_in(text);
  std::ostringstream binary;
  REQUIRE(convert_iotlb_trace(text_in, binary, IotlbTraceFormat::Binary, error));
  OnePassExplorer ex2(OnePassLimits{});
  std::istringstream binary_in(binary.str());
  CHECK_FALSE(explore_iotlb_trace(binary_in, ex2, error));
  CHECK_THAT(error, Catch::StartsWith("record 3: "));  // the comment is record 1

  std::istringstream malformed("A 1 10 8010 rw 4K\nA 1 zz 8010 rw 4K\n");
  OnePassExplorer ex3(OnePassLimits{});
  CHECK_FALSE(explore_iotlb_trace(malformed, ex3, error));
  CHECK_THAT(error, Catch::StartsWith("line 2: vpn"));
  CHECK(ex3.accesses() == 1);
}
