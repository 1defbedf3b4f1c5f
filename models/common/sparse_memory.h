// Sparse 64-bit physical memory: 4 KiB pages allocated on first write, unwritten memory reads as
// zero. Plain C++ (no SystemC) so that tests and tools can build tables in it directly.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace iommu_sim {

class SparseMemory {
 public:
  static constexpr uint64_t kPageSize = 4096;
  using Page = std::array<uint8_t, kPageSize>;

  // Inline for an access inside one page, the common case (a DMA burst, a table entry).
  void read(uint64_t addr, void* dst, uint64_t len) const {
    const uint64_t offset = addr % kPageSize;
    if (len > kPageSize - offset) return read_pages(addr, dst, len);
    if (const Page* page = find(addr / kPageSize)) {
      std::memcpy(dst, page->data() + offset, len);
    } else {
      std::memset(dst, 0, len);
    }
  }
  void write(uint64_t addr, const void* src, uint64_t len) {
    const uint64_t offset = addr % kPageSize;
    if (len > kPageSize - offset) return write_pages(addr, src, len);
    Page* page = find(addr / kPageSize);
    std::memcpy(page ? page->data() + offset : page_for_dmi(addr) + offset, src, len);
  }

  uint64_t read64(uint64_t addr) const { uint64_t v; read(addr, &v, 8); return v; }
  uint32_t read32(uint64_t addr) const { uint32_t v; read(addr, &v, 4); return v; }
  void write64(uint64_t addr, uint64_t v) { write(addr, &v, 8); }
  void write32(uint64_t addr, uint32_t v) { write(addr, &v, 4); }
  void fill(uint64_t addr, uint8_t byte, uint64_t len);

  // The page holding addr, allocated (zeroed) if needed: the backing store DMI hands out.
  uint8_t* page_for_dmi(uint64_t addr);
  // nullptr when the page was never written.
  const uint8_t* find_page(uint64_t addr) const;

  // Every page written so far, in no particular order: fn(page address, its 4 KiB).
  template <class Fn>
  void for_each_page(Fn fn) const {
    for (const auto& [number, page] : m_pages) fn(number * kPageSize, page->data());
  }

  uint64_t allocated_pages() const { return m_pages.size(); }
  uint64_t allocated_bytes() const { return m_pages.size() * kPageSize; }

  SparseMemory() = default;
  // The cache of recent pages points into this object's own pages: not to be copied or moved.
  SparseMemory(const SparseMemory&) = delete;
  SparseMemory& operator=(const SparseMemory&) = delete;

 private:
  // The page numbered `number`, nullptr when it was never written. Accesses come back to a few
  // pages (the tables a walk reads, a ring's descriptors, the buffers in flight): the pages
  // looked up recently are kept at hand in a small direct-mapped cache, written or not (the
  // first write of a page puts it there). Pages are never freed and never move, so its pointers
  // stay good.
  Page* find(uint64_t number) const {
    const Recent& r = m_recent[number % kRecentPages];
    if (r.number == number) return r.page;
    return find_slow(number);
  }
  Page* find_slow(uint64_t number) const;
  // Accesses that cross pages.
  void read_pages(uint64_t addr, void* dst, uint64_t len) const;
  void write_pages(uint64_t addr, const void* src, uint64_t len);

  struct Recent {
    uint64_t number = UINT64_MAX;  // no page has this number (addresses have 64 bits)
    Page* page = nullptr;          // nullptr: the page was never written
  };
  static constexpr unsigned kRecentPages = 64;

  std::unordered_map<uint64_t, std::unique_ptr<Page>> m_pages;  // key: page number
  mutable std::array<Recent, kRecentPages> m_recent{};
};

}  // namespace iommu_sim
