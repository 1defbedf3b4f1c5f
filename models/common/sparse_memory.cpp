#include "iommu_sim/common/sparse_memory.h"

#include <algorithm>

namespace iommu_sim {

void SparseMemory::read(uint64_t addr, void* dst, uint64_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  while (len > 0) {
    const uint64_t offset = addr % kPageSize;
    const uint64_t chunk = std::min(len, kPageSize - offset);
    auto it = m_pages.find(addr / kPageSize);
    if (it == m_pages.end()) {
      std::memset(out, 0, chunk);
    } else {
      std::memcpy(out, it->second->data() + offset, chunk);
    }
    out += chunk;
    addr += chunk;
    len -= chunk;
  }
}

void SparseMemory::write(uint64_t addr, const void* src, uint64_t len) {
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
  auto& page = m_pages[addr / kPageSize];
  if (!page) {
    page = std::make_unique<Page>();
    page->fill(0);
  }
  return page->data();
}

const uint8_t* SparseMemory::find_page(uint64_t addr) const {
  auto it = m_pages.find(addr / kPageSize);
  return it == m_pages.end() ? nullptr : it->second->data();
}

}  // namespace iommu_sim
