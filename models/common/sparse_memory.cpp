#include "iommu_sim/common/sparse_memory.h"

#include <algorithm>

namespace iommu_sim {

void SparseMemory::read_pages(uint64_t addr, void* dst, uint64_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  while (len > 0) {
    const uint64_t offset = addr % kPageSize;
    const uint64_t chunk = std::min(len, kPageSize - offset);
    if (const Page* page = find(addr / kPageSize)) {
      std::memcpy(out, page->data() + offset, chunk);
    } else {
      std::memset(out, 0, chunk);
    }
    out += chunk;
    addr += chunk;
    len -= chunk;
  }
}

void SparseMemory::write_pages(uint64_t addr, const void* src, uint64_t len) {
  auto* in = static_cast<const uint8_t*>(src);
  while (len > 0) {
    const uint64_t offset = addr % kPageSize;
    const uint64_t chunk = std::min(len, kPageSize - offset);
    std::memcpy(page_for_dmi(addr) + offset, in, chunk);
    in += chunk;
    addr += chunk;
    len -= chunk;
  }
}

void SparseMemory::fill(uint64_t addr, uint8_t byte, uint64_t len) {
  while (len > 0) {
    const uint64_t offset = addr % kPageSize;
    const uint64_t chunk = std::min(len, kPageSize - offset);
    std::memset(page_for_dmi(addr) + offset, byte, chunk);
    addr += chunk;
    len -= chunk;
  }
}

uint8_t* SparseMemory::page_for_dmi(uint64_t addr) {
  const uint64_t number = addr / kPageSize;
  if (Page* page = find(number)) return page->data();
  auto& page = m_pages[number];
  page = std::make_unique<Page>();
  page->fill(0);
  m_recent[number % kRecentPages] = Recent{number, page.get()};
  return page->data();
}

const uint8_t* SparseMemory::find_page(uint64_t addr) const {
  const Page* page = find(addr / kPageSize);
  return page ? page->data() : nullptr;
}

SparseMemory::Page* SparseMemory::find_slow(uint64_t number) const {
  auto it = m_pages.find(number);
  Page* page = it == m_pages.end() ? nullptr : it->second.get();
  m_recent[number % kRecentPages] = Recent{number, page};
  return page;
}

}  // namespace iommu_sim
