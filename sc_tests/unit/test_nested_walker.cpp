// The page walker on its own: first-level (IA-32e) walks, second-level walks with accessed/dirty
// flags, and the two-dimensional nested walk: 24 memory references for 4 x 4 levels with cold
// caches, and how each paging-structure cache cuts them.
#include <catch2/catch.hpp>

#include <memory>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/host/vtd_tables_scalable.h"
#include "iommu_sim/iommu/nested_walker.h"
#include "iommu_sim/iommu/vtd_format_scalable.h"

using namespace iommu_sim;
namespace fmt = iommu_sim::vtd;

namespace {

constexpr uint16_t kDid = 7;
constexpr uint32_t kPasid = 5;
constexpr uint64_t kHostBase = 0x100000000ULL;  // guest physical 0 lives here
constexpr uint64_t kGuestSize = 64ULL << 20;
constexpr uint64_t kGuestTables = 0x3000000;    // guest physical pages for the first level
constexpr uint64_t kIova = 0x7F0000000000ULL;   // PML4 index 254
constexpr uint64_t kGpa = 0x2000000;

// Table memory that counts what the walker does; reads above `limit` fail like a bus error.
class CountingMemory : public WalkMemory {
 public:
  explicit CountingMemory(SparseMemory& m) : mem(m) {}
  bool read(uint64_t addr, uint64_t& value) override {
    ++reads;
    if (addr >= limit) return false;
    value = mem.read64(addr);
    return true;
  }
  bool write(uint64_t addr, uint64_t value) override {
    ++writes;
    mem.write64(addr, value);
    return true;
  }
  void cache_probe(unsigned) override { ++probes; }
  SparseMemory& mem;
  uint64_t limit = 1ULL << 40;
  unsigned reads = 0, writes = 0, probes = 0;
};

using PsCache = TranslationCache<PsEntry>;

// A guest: the host's second level maps guest physical [0, 64 MiB) to host physical
// kHostBase + gpa with 4 KiB pages; the guest's first level (4 levels, tables in guest memory)
// maps 16 pages at kIova to kGpa.
struct Guest {
  SparseMemory mem;
  VtdTableBuilder host{mem, 0x1000000, 0x4000000};
  uint64_t next_table = kGuestTables;
  std::unique_ptr<FirstLevelTables> fl;
  SecondLevelTable sl;
  FirstLevelTable flt;

  explicit Guest(unsigned sl_levels = 4, unsigned fl_levels = 4, PageSize s2_page = PageSize::Size4K) {
    host.create_domain(kDid, sl_levels);
    host.map(kDid, 0, kHostBase, kGuestSize, true, true, s2_page);
    fl = std::make_unique<FirstLevelTables>(
        mem, fl_levels, [this] { const uint64_t p = next_table; next_table += 4096; return p; },
        [this](uint64_t gpa) { return *host.translate(kDid, gpa); });
    fl->map(kIova, kGpa, 16 * 4096, true, true);
    sl.root = host.domain_root(kDid);
    sl.levels = sl_levels;
    sl.did = kDid;
    sl.width = fmt::levels_to_width(sl_levels);
    flt.root = fl->root();
    flt.levels = fl_levels;
    flt.did = kDid;
    flt.pasid = kPasid;
  }
};

struct Caches {
  std::unique_ptr<PsCache> sl[4], fl[4];
  NestedWalker::Caches view(bool second_level, bool first_level) {
    NestedWalker::Caches c;
    for (unsigned i = 0; i < 4; ++i) {
      if (!sl[i]) sl[i] = std::make_unique<PsCache>(CacheGeometry{true, 1, 64});
      if (!fl[i]) fl[i] = std::make_unique<PsCache>(CacheGeometry{true, 1, 64});
      if (second_level) c.second_level[i] = sl[i].get();
      if (first_level) c.first_level[i] = fl[i].get();
    }
    return c;
  }
};

WalkResult nested_walk(Guest& g, CountingMemory& m, const NestedWalker::Caches& c, uint64_t va,
                       bool write = false, WalkCounts* counts = nullptr) {
  NestedWalker w(m, WalkFeatures{}, c);
  const WalkResult r = w.first_level(g.flt, &g.sl, va, write, true);
  if (counts) *counts = w.counts();
  return r;
}

}  // namespace

TEST_CASE("a cold 4 x 4 nested walk makes 24 memory references", "[walker]") {
  Guest g;
  CountingMemory m(g.mem);
  WalkCounts n;
  const WalkResult r = nested_walk(g, m, NestedWalker::Caches{}, kIova + 0x3123, false, &n);
  REQUIRE(r.fault == 0);
  CHECK(r.phys == kHostBase + kGpa + 0x3123);
  CHECK(r.page_bytes == 4096);
  // Four first-level entries, and five second-level walks of four: the root table pointer, the
  // three lower table pointers and the output.
  CHECK(n.first_level_reads == 4);
  CHECK(n.second_level_reads == 20);
  CHECK(m.reads == 24);
}

TEST_CASE("a cold 5 x 5 nested walk makes 35 memory references", "[walker]") {
  Guest g(5, 5);
  CountingMemory m(g.mem);
  WalkCounts n;
  const WalkResult r = nested_walk(g, m, NestedWalker::Caches{}, kIova, false, &n);
  REQUIRE(r.fault == 0);
  CHECK(r.phys == kHostBase + kGpa);
  CHECK(n.first_level_reads == 5);
  CHECK(n.second_level_reads == 30);
}

TEST_CASE("each paging-structure cache cuts the references of the next nested walk", "[walker]") {
  // The first walk fills the caches (24 references); the second walks a neighbouring page, whose
  // tables are the same and whose output lies in the same 2 MiB of guest memory.
  const uint64_t next = kIova + 0x1000;
  SECTION("second-level caches: every second-level walk is down to its leaf") {
    Guest g;
    CountingMemory m(g.mem);
    Caches c;
    REQUIRE(nested_walk(g, m, c.view(true, false), kIova).fault == 0);
    WalkCounts n;
    REQUIRE(nested_walk(g, m, c.view(true, false), next, false, &n).fault == 0);
    CHECK(n.first_level_reads == 4);
    CHECK(n.second_level_reads == 5);
  }
  SECTION("nested (first-level) caches: only the leaf table, then the output's second level") {
    Guest g;
    CountingMemory m(g.mem);
    Caches c;
    REQUIRE(nested_walk(g, m, c.view(false, true), kIova).fault == 0);
    WalkCounts n;
    REQUIRE(nested_walk(g, m, c.view(false, true), next, false, &n).fault == 0);
    CHECK(n.first_level_reads == 1);
    CHECK(n.second_level_reads == 4);
  }
  SECTION("both") {
    Guest g;
    CountingMemory m(g.mem);
    Caches c;
    REQUIRE(nested_walk(g, m, c.view(true, true), kIova).fault == 0);
    WalkCounts n;
    const WalkResult r = nested_walk(g, m, c.view(true, true), next, false, &n);
    REQUIRE(r.fault == 0);
    CHECK(r.phys == kHostBase + kGpa + 0x1000);
    CHECK(n.first_level_reads == 1);
    CHECK(n.second_level_reads == 1);
  }
}

TEST_CASE("nested translation: the combined page is the smaller of the two", "[walker]") {
  Guest g(4, 4, PageSize::Size2M);  // the host backs guest memory with 2 MiB pages
  g.fl->map(0x40000000, 0x200000, 0x200000, true, true, PageSize::Size2M);
  CountingMemory m(g.mem);
  WalkCounts n;
  // 4 KiB guest pages over 2 MiB host pages: 4 KiB; each second-level walk stops at level 2.
  WalkResult r = nested_walk(g, m, NestedWalker::Caches{}, kIova + 0x5000, false, &n);
  REQUIRE(r.fault == 0);
  CHECK(r.page_bytes == 4096);
  CHECK(n.second_level_reads == 15);
  // A 2 MiB guest page over 2 MiB host pages: 2 MiB, and a first-level walk of three entries.
  r = nested_walk(g, m, NestedWalker::Caches{}, 0x40012345, false, &n);
  REQUIRE(r.fault == 0);
  CHECK(r.page_bytes == 0x200000);
  CHECK(r.phys == kHostBase + 0x212345);
  CHECK(n.first_level_reads == 3);
}

TEST_CASE("first-level walks set accessed and dirty flags; a clean page is cached read-only", "[walker]") {
  SparseMemory mem;
  uint64_t next = 0x10000;
  FirstLevelTables fl(mem, 4, [&] { const uint64_t p = next; next += 4096; return p; },
                      [](uint64_t a) { return a; });
  fl.map(0x400000, 0x900000, 0x1000, true, true);
  CountingMemory m(mem);
  FirstLevelTable t;
  t.root = fl.root();
  NestedWalker w(m, WalkFeatures{}, NestedWalker::Caches{});
  WalkResult r = w.first_level(t, nullptr, 0x400010, false, true);
  REQUIRE(r.fault == 0);
  CHECK(r.phys == 0x900010);
  CHECK(w.counts().first_level_reads == 4);
  CHECK(w.counts().writes == 4);  // A in every entry
  CHECK(r.read);
  CHECK_FALSE(r.write);  // writable, but not dirty yet: a write must walk again to set D
  for (unsigned level = 4; level >= 1; --level)
    CHECK(get_bit(mem.read64(fl.entry_address(0x400000, level)), fmt::kFlAccessed));
  CHECK_FALSE(get_bit(mem.read64(fl.entry_address(0x400000, 1)), fmt::kFlDirty));
  r = w.first_level(t, nullptr, 0x400010, true, true);
  REQUIRE(r.fault == 0);
  CHECK(r.write);
  CHECK(w.counts().writes == 5);  // D in the leaf only
  CHECK(get_bit(mem.read64(fl.entry_address(0x400000, 1)), fmt::kFlDirty));
}

TEST_CASE("first-level faults", "[walker]") {
  SparseMemory mem;
  uint64_t next = 0x10000;
  FirstLevelTables fl(mem, 4, [&] { const uint64_t p = next; next += 4096; return p; },
                      [](uint64_t a) { return a; });
  fl.map(0x400000, 0x900000, 0x1000, false, true);         // read-only, user
  fl.map(0x401000, 0x901000, 0x1000, true, false);         // supervisor
  CountingMemory m(mem);
  FirstLevelTable t;
  t.root = fl.root();
  NestedWalker w(m, WalkFeatures{}, NestedWalker::Caches{});
  CHECK(w.first_level(t, nullptr, 0x500000, false, true).fault == fmt::kSmFaultFlNotPresent);
  CHECK(w.first_level(t, nullptr, 0x0000800000000000ULL, false, true).fault == fmt::kSmFaultNonCanonical);
  CHECK(w.first_level(t, nullptr, 0xFFFF800000000000ULL, false, true).fault == fmt::kSmFaultFlNotPresent);
  CHECK(w.first_level(t, nullptr, 0x400000, true, true).fault == fmt::kSmFaultWrite);
  CHECK(w.first_level(t, nullptr, 0x401000, false, true).fault == fmt::kSmFaultUserSupervisor);
  // A supervisor request may write a read-only page unless WPE is set.
  CHECK(w.first_level(t, nullptr, 0x400000, true, false).fault == 0);
  t.wpe = true;
  CHECK(w.first_level(t, nullptr, 0x400000, true, false).fault == fmt::kSmFaultWrite);
  // PS in a PML4 entry is reserved; so are frame bits below a large page's size.
  const uint64_t pml4e = fl.entry_address(0x400000, 4);
  mem.write64(pml4e, mem.read64(pml4e) | (1ULL << fmt::kFlPs));
  CHECK(w.first_level(t, nullptr, 0x400000, false, false).fault == fmt::kSmFaultFlReserved);
  mem.write64(pml4e, mem.read64(pml4e) & ~(1ULL << fmt::kFlPs));
  fl.map(0x40000000, 0x80000000, 0x200000, true, true, PageSize::Size2M);
  const uint64_t pde = fl.entry_address(0x40000000, 2);
  mem.write64(pde, mem.read64(pde) | (1ULL << 13));
  CHECK(w.first_level(t, nullptr, 0x40000000, false, true).fault == fmt::kSmFaultFlReserved);
  // Bits 51:HAW are reserved; 1 GiB pages need FL1GP.
  WalkFeatures no1g;
  no1g.fl_1g = false;
  no1g.haw_reserved = bit_mask(51, 39);
  mem.write64(pde, mem.read64(pde) & ~(1ULL << 13));
  fl.map(0x80000000, 0x40000000, 0x40000000, true, true, PageSize::Size1G);
  NestedWalker w2(m, no1g, NestedWalker::Caches{});
  CHECK(w2.first_level(t, nullptr, 0x80000000, false, true).fault == fmt::kSmFaultFlReserved);
  CHECK(w.first_level(t, nullptr, 0x80001234, false, true).phys == 0x40001234);
  mem.write64(pde, mem.read64(pde) | (1ULL << 40));
  CHECK(w2.first_level(t, nullptr, 0x40000000, false, true).fault == fmt::kSmFaultFlReserved);
  // A table read that fails: the root table's is 0x73, a lower one's 0x70.
  m.limit = fl.root();
  CHECK(w.first_level(t, nullptr, 0x40000000, false, true).fault == fmt::kSmFaultFlRootAccess);
  m.limit = fl.root() + 4096;
  CHECK(w.first_level(t, nullptr, 0x40000000, false, true).fault == fmt::kSmFaultFlAccess);
}

TEST_CASE("nested faults come from the dimension that failed", "[walker]") {
  Guest g;
  CountingMemory m(g.mem);
  const NestedWalker::Caches none;
  SECTION("a first-level table the host does not map") {
    g.host.unmap(kDid, kGuestTables + 0x1000, 0x1000);  // the PML4's next table
    CHECK(nested_walk(g, m, none, kIova).fault == fmt::kSmFaultSlNotPresent);
  }
  SECTION("the root table is not readable through the second level") {
    g.host.unmap(kDid, kGuestTables, 0x1000);
    g.host.map(kDid, kGuestTables, kHostBase + kGuestTables, 0x1000, false, true);
    CHECK(nested_walk(g, m, none, kIova).fault == fmt::kSmFaultNestedRootRead);
  }
  SECTION("a lower table is not readable") {
    g.host.unmap(kDid, kGuestTables + 0x1000, 0x1000);
    g.host.map(kDid, kGuestTables + 0x1000, kHostBase + kGuestTables + 0x1000, 0x1000, false, true);
    CHECK(nested_walk(g, m, none, kIova).fault == fmt::kSmFaultNestedTableRead);
  }
  SECTION("an accessed-flag update into a table the host maps read-only") {
    g.host.unmap(kDid, kGuestTables, 0x1000);
    g.host.map(kDid, kGuestTables, kHostBase + kGuestTables, 0x1000, true, false);
    CHECK(nested_walk(g, m, none, kIova).fault == fmt::kSmFaultNestedTableWrite);
  }
  SECTION("a guest address beyond the second level's width") {
    g.fl->map(0x80000000, 1ULL << 40, 0x1000, true, true);
    g.sl.width = 39;
    CHECK(nested_walk(g, m, none, 0x80000000).fault == fmt::kSmFaultNestedAddress);
  }
  SECTION("the output page is read-only in the second level") {
    g.host.unmap(kDid, kGpa, 0x1000);
    g.host.map(kDid, kGpa, kHostBase + kGpa, 0x1000, true, false);
    CHECK(nested_walk(g, m, none, kIova, false).fault == 0);
    CHECK(nested_walk(g, m, none, kIova, true).fault == fmt::kSmFaultWrite);
  }
}

TEST_CASE("second-level accessed and dirty flags with SLADE", "[walker]") {
  SparseMemory mem;
  VtdTableBuilder host(mem, 0x1000000, 0x1000000);
  host.create_domain(1, 4);
  host.map(1, 0x10000000, 0x80000000, 0x2000, true, true);
  CountingMemory m(mem);
  SecondLevelTable sl;
  sl.root = host.domain_root(1);
  sl.did = 1;
  sl.ad = true;
  const SecondLevelFaults faults{fmt::kSmFaultSlAccess, fmt::kSmFaultSlNotPresent, fmt::kSmFaultSlReserved,
                                 fmt::kSmFaultRead};
  NestedWalker w(m, WalkFeatures{}, NestedWalker::Caches{});
  WalkResult r = w.second_level(sl, 0x10000008, false, faults);
  REQUIRE(r.fault == 0);
  CHECK(r.phys == 0x80000008);
  CHECK(w.counts().writes == 4);
  CHECK_FALSE(r.write);  // not dirty yet
  for (unsigned level = 4; level >= 1; --level)
    CHECK(get_bit(mem.read64(host.pte_address(1, 0x10000000, level)), fmt::kSlAccessed));
  r = w.second_level(sl, 0x10000008, true, faults);
  CHECK(r.write);
  CHECK(get_bit(mem.read64(host.pte_address(1, 0x10000000, 1)), fmt::kSlDirty));
  // Without SLADE the walk writes nothing and a writable page is cached writable.
  sl.ad = false;
  NestedWalker quiet(m, WalkFeatures{}, NestedWalker::Caches{});
  r = quiet.second_level(sl, 0x10001000, false, faults);
  CHECK(r.write);
  CHECK(quiet.counts().writes == 0);
  CHECK_FALSE(get_bit(mem.read64(host.pte_address(1, 0x10001000, 1)), fmt::kSlAccessed));
}
