// Host-side VT-d software: a table builder that writes root, context and second-level tables
// into memory, and a register programmer that enables translation and invalidates through an
// abstract MMIO interface. Plain C++; formats come from iommu/vtd_format.h (shared with the
// hardware model). Misuse by the caller (bad alignment, memory exhausted) throws: it is a bug in
// the host model, not a modelled fault.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/vtd_format.h"
#include "iommu_sim/iommu/vtd_format_scalable.h"

namespace iommu_sim {

using vtd::TranslationType;

// The builder's page allocator ran out of the memory it was given.
class TableMemoryExhausted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class VtdTableBuilder {
 public:
  // Tables are allocated, one zeroed 4 KiB page at a time, from [alloc_base, alloc_base +
  // alloc_size). The root table is the first page.
  VtdTableBuilder(SparseMemory& memory, uint64_t alloc_base, uint64_t alloc_size);

  uint64_t root_table() const { return m_root; }
  // A zeroed page from the allocator (queues, status words, test buffers).
  uint64_t allocate_page();

  // Declares a domain and its page-table depth (3, 4 or 5); set_context does it on first use.
  void create_domain(uint16_t domain, unsigned levels);
  // Writes the context entry of source_id (bus<<8 | devfn), creating the bus's context table.
  // For PassThrough no page table is needed, but `levels` still goes into AW.
  void set_context(uint16_t source_id, uint16_t domain, unsigned levels, TranslationType tt,
                   bool fpd = false);
  void clear_context(uint16_t source_id);
  // Maps [iova, iova + size) to [phys, phys + size) with pages of `page` size; iova, phys and
  // size must be multiples of it. Overwrites existing leaves.
  void map(uint16_t domain, uint64_t iova, uint64_t phys, uint64_t size, bool read, bool write,
           PageSize page = PageSize::Size4K);
  // Clears the leaves over [iova, iova + size); a superpage must be covered whole. Tables stay.
  void unmap(uint16_t domain, uint64_t iova, uint64_t size);

  // Software walk of the domain's table: the physical address, or nullopt if not mapped.
  std::optional<uint64_t> translate(uint16_t domain, uint64_t iova) const;
  // Addresses of entries, for tests that corrupt them: 0 if the table does not exist.
  uint64_t root_entry_address(uint8_t bus) const { return m_root + bus * 16ULL; }
  uint64_t context_entry_address(uint16_t source_id) const;
  uint64_t pte_address(uint16_t domain, uint64_t iova, unsigned level) const;
  uint64_t domain_root(uint16_t domain) const;
  unsigned domain_levels(uint16_t domain) const;

  uint64_t pages_allocated() const { return m_next_page; }

 private:
  struct Domain {
    uint64_t root;
    unsigned levels;
  };
  const Domain& domain(uint16_t id) const;

  SparseMemory& m_memory;
  uint64_t m_base, m_pages, m_next_page = 0;
  uint64_t m_root;
  std::map<uint16_t, Domain> m_domains;
};

// Register access as the host sees it: offsets from the remapping unit's register base.
class MmioAccess {
 public:
  virtual ~MmioAccess() = default;
  virtual uint64_t read(uint64_t offset, unsigned size) = 0;
  virtual void write(uint64_t offset, uint64_t value, unsigned size) = 0;
  // Called between polls of a status bit or word (an SC_THREAD waits here).
  virtual void poll_pause() {}
};

struct VtdFault {
  uint16_t source_id;
  uint8_t reason;
  uint64_t address;  // faulting page (FRCD 63:12)
  bool is_read;
};

class VtdRegisterProgrammer {
 public:
  // `memory` holds the invalidation queue and the wait-descriptor status word.
  VtdRegisterProgrammer(MmioAccess& mmio, SparseMemory& memory, unsigned max_polls = 1000);

  uint64_t cap() { return m_mmio.read(vtd::kRegCap, 8); }
  uint64_t ecap() { return m_mmio.read(vtd::kRegEcap, 8); }

  // RTADDR, SRTP/RTPS, global context and IOTLB invalidation, TE/TES. False if a status bit
  // never came up. `scalable`: RTADDR.TTM selects scalable-mode tables, and the PASID cache is
  // invalidated too (queued invalidation only).
  bool enable(uint64_t root_table, bool scalable = false);
  bool disable();
  // IQT = 0, IQA, QIE/QIES. The queue is 2^qs pages at queue_base; status_addr is a 4-byte word
  // the wait descriptors write. `wide`: 256-bit descriptors (IQA.DW, scalable mode).
  bool enable_queued_invalidation(uint64_t queue_base, unsigned qs, uint64_t status_addr,
                                  bool wide = false);
  bool queued_invalidation_enabled() const { return m_qi; }

  // Register-based invalidation (CCMD / IOTLB+IVA). Return the granularity the hardware
  // reports it performed (CAIG / IAIG; 0 = refused).
  unsigned invalidate_context_register(vtd::InvalidationScope g, uint16_t did = 0,
                                       uint16_t sid = 0, unsigned fm = 0);
  unsigned invalidate_iotlb_register(vtd::InvalidationScope g, uint16_t did = 0,
                                     uint64_t addr = 0, unsigned am = 0, bool ih = false);

  // Queued invalidation: descriptors go into the queue at IQT, then IQT is bumped. A 128-bit
  // descriptor fills a 256-bit slot with zeros; a 256-bit one needs a wide queue.
  void submit(const vtd::Descriptor& d) { submit(vtd::widen(d)); }
  void submit(const vtd::WideDescriptor& d);
  // Submits a wait descriptor with a status write and polls the status word. False on timeout
  // (e.g. the queue stopped with FSTS.IQE).
  bool sync(bool interrupt = false);

  // Services the fault records as Linux's dmar_fault() does: when FSTS.PPF is set, from the
  // record FSTS.FRI names on, reading and clearing each until one with F clear; then clears PFO.
  std::vector<VtdFault> drain_faults();

 private:
  bool command(uint32_t cmd_bit, bool set);
  bool poll32(uint64_t offset, uint32_t mask, uint32_t want);

  MmioAccess& m_mmio;
  SparseMemory& m_memory;
  unsigned m_max_polls;
  bool m_qi = false;
  bool m_wide = false;
  uint64_t m_queue_base = 0, m_queue_bytes = 0, m_tail = 0, m_status_addr = 0;
  uint32_t m_sequence = 0;
};

}  // namespace iommu_sim
