// IOVA allocator of the protection strategies: hands out page ranges of one domain's I/O virtual
// address space. Plain C++.
//
// Every range is aligned to its own size rounded up to a power of two (as Linux's allocator
// aligns), so one page-selective IOTLB invalidation with address mask AM = log2(that size)
// covers it exactly. First fit from the lowest address; freed ranges merge with their
// neighbours, so the allocator is deterministic and a test can compute its answers by hand.
#pragma once

#include <cstdint>
#include <map>

namespace iommu_sim {

class IovaAllocator {
 public:
  static constexpr uint64_t kPage = 4096;

  // The window [base, base + size); both 4 KiB multiples. Throws std::invalid_argument.
  IovaAllocator(uint64_t base, uint64_t size);

  // `pages` contiguous pages, aligned as above. Returns false when no free range fits.
  bool allocate(uint64_t pages, uint64_t& iova);
  // Gives back a range from allocate(). Throws std::invalid_argument on a range that is not
  // wholly allocated (a double free is a bug of the strategy, not a modelled event).
  void free(uint64_t iova, uint64_t pages);

  uint64_t pages_in_use() const { return m_in_use; }
  uint64_t allocations() const { return m_allocations; }
  // log2 of `pages` rounded up to a power of two: the AM of the range's invalidation.
  static unsigned order(uint64_t pages);

 private:
  uint64_t m_first, m_end;               // the window, in page numbers
  std::map<uint64_t, uint64_t> m_free;  // first page number -> page count
  uint64_t m_in_use = 0;
  uint64_t m_allocations = 0;
};

}  // namespace iommu_sim
