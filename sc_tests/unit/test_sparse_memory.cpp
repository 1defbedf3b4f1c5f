// SparseMemory: unwritten memory reads as zero, a write is seen by every later read, whatever
// the cache of recent pages held.
#include <catch2/catch.hpp>

#include <cstdint>

#include "iommu_sim/common/sparse_memory.h"

using namespace iommu_sim;

TEST_CASE("a page read before it was written shows its first write", "[unit]") {
  SparseMemory m;
  const uint64_t a = 0x40000000;
  CHECK(m.read64(a) == 0);
  CHECK(m.find_page(a) == nullptr);
  m.write64(a + 8, 0x1122334455667788ULL);
  CHECK(m.read64(a + 8) == 0x1122334455667788ULL);
  CHECK(m.find_page(a) != nullptr);
  CHECK(m.allocated_pages() == 1);
}

TEST_CASE("pages that share a slot of the recent-page cache keep their own contents", "[unit]") {
  SparseMemory m;
  // Page numbers 64 apart land in one slot of the direct-mapped cache of recent pages.
  for (uint64_t i = 0; i < 8; ++i) {
    const uint64_t a = i * 64 * SparseMemory::kPageSize + 16;
    CHECK(m.read32(a) == 0);
    m.write32(a, static_cast<uint32_t>(0xA0 + i));
  }
  for (int pass = 0; pass < 2; ++pass) {
    for (uint64_t i = 0; i < 8; ++i) {
      const uint64_t a = i * 64 * SparseMemory::kPageSize + 16;
      CHECK(m.read32(a) == 0xA0 + i);
      CHECK(m.read32(a + SparseMemory::kPageSize) == 0);  // the next page, never written
    }
  }
  // An access that spans two pages, one written and one not.
  const uint64_t edge = 3 * SparseMemory::kPageSize - 4;
  m.write32(edge, 0xDEADBEEF);
  CHECK(m.read64(edge) == 0xDEADBEEFULL);
  m.write32(edge + 4, 0x01020304);
  CHECK(m.read64(edge) == 0x01020304DEADBEEFULL);
}
