// Host-side interrupt-remapping software: builds the interrupt-remapping table and the
// posted-interrupt descriptors in memory, and enables remapping through the registers. Plain C++;
// formats come from iommu/irte.h (shared with the hardware model). Misuse (an index beyond the
// table, memory exhausted) throws: a bug in the host model, not a modelled fault.
#pragma once

#include <cstdint>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/irte.h"

namespace iommu_sim {

class InterruptTableBuilder {
 public:
  // A table of `entries` (a power of two, 2..65536) in contiguous pages from `pages`.
  InterruptTableBuilder(SparseMemory& memory, VtdTableBuilder& pages, unsigned entries,
                        bool x2apic);

  uint64_t table_base() const { return m_base; }
  unsigned entries() const { return m_entries; }
  bool x2apic() const { return m_x2apic; }
  // The IRTA value: base, EIME, size.
  uint64_t irta() const;
  uint64_t entry_address(unsigned index) const;

  void set_remapped(unsigned index, uint8_t vector, uint32_t destination, uint16_t sid = 0,
                    irte::SourceValidation svt = irte::SourceValidation::None, uint8_t sq = 0);
  void set_posted(unsigned index, uint8_t vector, uint64_t pda, bool urgent = false,
                  uint16_t sid = 0, irte::SourceValidation svt = irte::SourceValidation::None,
                  uint8_t sq = 0);
  void set_raw(unsigned index, const irte::Raw& raw);
  void clear(unsigned index);

  // A zeroed, 64-byte aligned posted-interrupt descriptor with ON = SN = 0.
  uint64_t allocate_descriptor(uint8_t notification_vector, uint32_t destination);

 private:
  SparseMemory& m_memory;
  VtdTableBuilder& m_pages;
  unsigned m_entries;
  bool m_x2apic;
  uint64_t m_base = 0;
  uint64_t m_pid_page = 0;
  unsigned m_pid_next = 64;  // descriptors handed out in the current page (64 = page full)
};

// IRTA, SIRTP/IRTPS, a global interrupt-entry-cache invalidation (queued when the programmer has
// the queue on: the IEC has no register-based invalidation), CFI as asked, then IRE/IRES. False
// when a status bit never came up.
bool enable_interrupt_remapping(MmioAccess& mmio, VtdRegisterProgrammer& vtd, uint64_t irta,
                                bool allow_compatibility, unsigned max_polls = 1000);

}  // namespace iommu_sim
