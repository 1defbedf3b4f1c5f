#include "iommu_sim/host/iova_allocator.h"

#include <stdexcept>

namespace iommu_sim {

IovaAllocator::IovaAllocator(uint64_t base, uint64_t size)
    : m_first(base / kPage), m_end((base + size) / kPage) {
  if (base % kPage || size % kPage || size == 0)
    throw std::invalid_argument("IovaAllocator: the window must be whole 4 KiB pages");
  m_free.emplace(base / kPage, size / kPage);
}

unsigned IovaAllocator::order(uint64_t pages) {
  unsigned o = 0;
  while ((1ULL << o) < pages) ++o;
  return o;
}

bool IovaAllocator::allocate(uint64_t pages, uint64_t& iova) {
  if (pages == 0) return false;
  const uint64_t align = 1ULL << order(pages);
  for (auto it = m_free.begin(); it != m_free.end(); ++it) {
    const uint64_t first = it->first, count = it->second;
    const uint64_t start = (first + align - 1) & ~(align - 1);
    if (start + pages > first + count) continue;
    // Split the free range into what is left before and after the allocation.
    m_free.erase(it);
    if (start > first) m_free.emplace(first, start - first);
    if (first + count > start + pages) m_free.emplace(start + pages, first + count - start - pages);
    m_in_use += pages;
    ++m_allocations;
    iova = start * kPage;
    return true;
  }
  return false;
}

void IovaAllocator::free(uint64_t iova, uint64_t pages) {
  if (iova % kPage || pages == 0) throw std::invalid_argument("IovaAllocator::free: bad range");
  uint64_t first = iova / kPage, count = pages;
  if (first < m_first || first + count > m_end)
    throw std::invalid_argument("IovaAllocator::free: range outside the window");
  auto next = m_free.lower_bound(first);
  if (next != m_free.end() && next->first < first + count)
    throw std::invalid_argument("IovaAllocator::free: range is not allocated");
  if (next != m_free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > first)
      throw std::invalid_argument("IovaAllocator::free: range is not allocated");
    if (prev->first + prev->second == first) {  // merge with the range below
      first = prev->first;
      count += prev->second;
      m_free.erase(prev);
    }
  }
  if (next != m_free.end() && next->first == first + count) {  // and with the one above
    count += next->second;
    m_free.erase(next);
  }
  m_free.emplace(first, count);
  m_in_use -= pages;
}

}  // namespace iommu_sim
