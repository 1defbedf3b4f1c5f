#include "iommu_sim/host/interrupt_tables.h"

#include <stdexcept>

namespace iommu_sim {

namespace {
constexpr uint64_t kPage = 4096;
constexpr unsigned kEntriesPerPage = kPage / 16;
}  // namespace

InterruptTableBuilder::InterruptTableBuilder(SparseMemory& memory, VtdTableBuilder& pages,
                                             unsigned entries, bool x2apic)
    : m_memory(memory), m_pages(pages), m_entries(entries), m_x2apic(x2apic) {
  if (entries < 2 || entries > 65536 || !is_power_of_two(entries))
    throw std::invalid_argument("InterruptTableBuilder: entries must be a power of two, 2..65536");
  const unsigned npages = (entries + kEntriesPerPage - 1) / kEntriesPerPage;
  m_base = m_pages.allocate_page();
  for (unsigned i = 1; i < npages; ++i) {
    // The table is one physically contiguous range: the allocator hands out pages in order.
    if (m_pages.allocate_page() != m_base + i * kPage)
      throw std::runtime_error("InterruptTableBuilder: table pages are not contiguous");
  }
}

uint64_t InterruptTableBuilder::irta() const {
  uint64_t v = m_base;
  v = set_bit(v, irte::kIrtaEime, m_x2apic);
  return set_bits(v, irte::kIrtaSHi, irte::kIrtaSLo, log2_exact(m_entries) - 1);
}

uint64_t InterruptTableBuilder::entry_address(unsigned index) const {
  if (index >= m_entries) throw std::out_of_range("InterruptTableBuilder: index beyond the table");
  return m_base + 16ULL * index;
}

void InterruptTableBuilder::set_raw(unsigned index, const irte::Raw& raw) {
  const uint64_t a = entry_address(index);
  m_memory.write64(a, raw.lo);
  m_memory.write64(a + 8, raw.hi);
}

void InterruptTableBuilder::set_remapped(unsigned index, uint8_t vector, uint32_t destination,
                                         uint16_t sid, irte::SourceValidation svt, uint8_t sq) {
  set_raw(index, irte::encode_remapped(vector, destination, m_x2apic, sid, svt, sq));
}

void InterruptTableBuilder::set_posted(unsigned index, uint8_t vector, uint64_t pda, bool urgent,
                                       uint16_t sid, irte::SourceValidation svt, uint8_t sq) {
  set_raw(index, irte::encode_posted(vector, pda, urgent, sid, svt, sq));
}

void InterruptTableBuilder::clear(unsigned index) { set_raw(index, irte::Raw{}); }

uint64_t InterruptTableBuilder::allocate_descriptor(uint8_t nv, uint32_t destination) {
  if (m_pid_next == kPage / irte::kPidBytes) {
    m_pid_page = m_pages.allocate_page();
    m_pid_next = 0;
  }
  const uint64_t pda = m_pid_page + irte::kPidBytes * m_pid_next++;
  m_memory.fill(pda, 0, irte::kPidBytes);
  m_memory.write64(pda + 8 * irte::kPidControl, irte::make_pid_control(nv, destination, m_x2apic));
  return pda;
}

bool enable_interrupt_remapping(MmioAccess& mmio, VtdRegisterProgrammer& vtd, uint64_t irta,
                                bool allow_compatibility, unsigned max_polls) {
  const auto command = [&](uint32_t bit, bool set) {
    const uint32_t gsts = static_cast<uint32_t>(mmio.read(vtd::kRegGsts, 4));
    uint32_t cmd = gsts & vtd::kGcmdLevelBits;
    cmd = set ? (cmd | bit) : (cmd & ~bit);
    mmio.write(vtd::kRegGcmd, cmd, 4);
    for (unsigned i = 0; i < max_polls; ++i) {
      if (((mmio.read(vtd::kRegGsts, 4) & bit) != 0) == set) return true;
      mmio.poll_pause();
    }
    return false;
  };
  mmio.write(vtd::kRegIrta, irta, 8);
  if (!command(vtd::kGcmdSirtp, true)) return false;
  // The IEC may hold entries of an earlier table: invalidate it before use.
  if (vtd.queued_invalidation_enabled()) {
    vtd.submit(vtd::make_iec_desc(false));
    if (!vtd.sync()) return false;
  }
  if (!command(vtd::kGcmdCfi, allow_compatibility)) return false;
  return command(vtd::kGcmdIre, true);
}

}  // namespace iommu_sim
