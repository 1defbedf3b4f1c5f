// Host-side VT-d software for scalable mode: first-level tables in the IA-32e format (in host
// memory, or for a guest in guest memory beneath the host's second level), and the scalable-mode
// root table with its lower and upper context tables, 256-bit context entries, PASID directories
// and 512-bit PASID entries. Second-level tables are VtdTableBuilder domains (vtd_tables.h): the
// format is the same in both modes. Formats come from iommu/vtd_format_scalable.h. Plain C++;
// misuse by the caller (misaligned ranges, an unmapped guest page, memory exhausted) throws.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/vtd_format_scalable.h"

namespace iommu_sim {

// First-level (IA-32e) tables of 4 or 5 levels. The tables live in an address space of their
// own: `allocate` hands out zeroed table pages there, `to_host` turns an address of that space
// into host physical (the identity for tables in host memory; the host's second-level
// translation for tables in guest memory). Entries hold addresses of that space.
class FirstLevelTables {
 public:
  using Allocator = std::function<uint64_t()>;
  using ToHost = std::function<uint64_t(uint64_t)>;
  FirstLevelTables(SparseMemory& memory, unsigned levels, Allocator allocate, ToHost to_host);

  uint64_t root() const { return m_root; }  // in the tables' own address space
  unsigned levels() const { return m_levels; }
  // Maps [va, va + size) to [pa, pa + size) with pages of `page` size (2 MiB and 1 GiB leaves
  // set PS); va, pa and size must be multiples of it and va canonical. Present entries are
  // readable; `write` sets R/W, `user` U/S. Non-leaf entries allow everything: the leaf decides.
  void map(uint64_t va, uint64_t pa, uint64_t size, bool write, bool user,
           PageSize page = PageSize::Size4K);
  // Clears the leaves over [va, va + size); a large page must be covered whole.
  void unmap(uint64_t va, uint64_t size);
  // Software walk: the output address, or nullopt if not mapped.
  std::optional<uint64_t> translate(uint64_t va) const;
  // Host physical address of the entry of `level` on va's path (0 if the path stops above it).
  uint64_t entry_address(uint64_t va, unsigned level) const;

 private:
  SparseMemory& m_memory;
  unsigned m_levels;
  Allocator m_allocate;
  ToHost m_to_host;
  uint64_t m_root;
};

// What one PASID entry says.
struct PasidEntrySpec {
  vtd::Pgtt pgtt = vtd::Pgtt::SecondLevel;
  uint16_t did = 1;
  bool fpd = false;
  uint64_t sl_root = 0;       // second level and nested
  unsigned sl_levels = 4;
  bool slade = false;         // second-level accessed/dirty flags
  uint64_t fl_root = 0;       // first level and nested (guest physical under nested)
  unsigned fl_levels = 4;
  bool sre = false;           // supervisor requests allowed
  bool wpe = false;           // supervisor writes obey R/W
};

class ScalableTables {
 public:
  // Table pages come from `allocate_page` (zeroed 4 KiB pages of host memory); a directory of
  // more than one page needs consecutive pages from it.
  using Allocator = std::function<uint64_t()>;
  ScalableTables(SparseMemory& memory, Allocator allocate_page);

  uint64_t root_table() const { return m_root; }
  // The context entry of source_id with a PASID directory of `pdts` (2^(pdts+7) entries; the
  // default covers PASIDs 0-32767 in one page), created on first use; RID_PASID 0.
  // `pasid_enable` sets PASIDE: requests with PASID are accepted; `dte` sets DTE: translation
  // requests and translated requests are accepted (the function's ATS is on; needs ECAP.DT).
  void set_context(uint16_t source_id, bool pasid_enable = true, bool fpd = false, unsigned pdts = 2,
                   bool dte = false);
  // The PASID entry (and its PASID table) of source_id's `pasid`; set_context first.
  void set_pasid_entry(uint16_t source_id, uint32_t pasid, const PasidEntrySpec& entry);
  void clear_pasid_entry(uint16_t source_id, uint32_t pasid);

  // Addresses of entries, for tests that corrupt them: 0 where the structure does not exist.
  uint64_t root_entry_address(uint8_t bus) const { return m_root + bus * 16ULL; }
  uint64_t context_entry_address(uint16_t source_id) const;
  uint64_t pasid_dir_entry_address(uint16_t source_id, uint32_t pasid) const;
  uint64_t pasid_entry_address(uint16_t source_id, uint32_t pasid) const;

 private:
  SparseMemory& m_memory;
  Allocator m_allocate;
  uint64_t m_root;
  std::map<uint16_t, unsigned> m_pdts;  // per source-id with a context entry
};

}  // namespace iommu_sim
