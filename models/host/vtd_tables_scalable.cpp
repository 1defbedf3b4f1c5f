#include "iommu_sim/host/vtd_tables_scalable.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "iommu_sim/host/radix_table.h"

namespace iommu_sim {

namespace fmt = vtd;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kAddrBits = bit_mask(51, 12);
constexpr uint64_t kFlTable = (1ULL << fmt::kFlPresent) | (1ULL << fmt::kFlRw) | (1ULL << fmt::kFlUs);

unsigned page_level(PageSize page) { return 1 + static_cast<unsigned>(page); }

bool canonical(uint64_t va, unsigned levels) {
  const unsigned width = fmt::levels_to_width(levels);
  const uint64_t top = va >> (width - 1);
  return top == 0 || top == (~0ULL >> (width - 1));
}
}  // namespace

// ---------------------------------------------------------------- FirstLevelTables

FirstLevelTables::FirstLevelTables(SparseMemory& memory, unsigned levels, Allocator allocate,
                                   ToHost to_host)
    : m_memory(memory), m_levels(levels), m_allocate(std::move(allocate)), m_to_host(std::move(to_host)) {
  if (levels != 4 && levels != 5) throw std::invalid_argument("FirstLevelTables: levels must be 4 or 5");
  m_root = m_allocate();
}

void FirstLevelTables::map(uint64_t va, uint64_t pa, uint64_t size, bool write, bool user,
                           PageSize page) {
  const unsigned leaf_level = page_level(page);
  const uint64_t bytes = fmt::level_span(leaf_level);
  if ((va | pa | size) & (bytes - 1))
    throw std::invalid_argument("FirstLevelTables::map: va, pa and size must be page aligned");
  if (!canonical(va, m_levels) || !canonical(va + size - 1, m_levels))
    throw std::invalid_argument("FirstLevelTables::map: the range is not canonical");
  for (uint64_t off = 0; off < size; off += bytes) {
    const uint64_t v = va + off;
    uint64_t table = m_root;
    for (unsigned l = m_levels; l > leaf_level; --l) {
      const uint64_t slot = m_to_host(table) + fmt::pte_index(v, l) * 8ULL;
      uint64_t e = m_memory.read64(slot);
      if (get_bit(e, fmt::kFlPresent) && get_bit(e, fmt::kFlPs))
        throw std::invalid_argument("FirstLevelTables::map: range overlaps a larger page");
      if (!get_bit(e, fmt::kFlPresent)) {
        e = m_allocate() | kFlTable;
        m_memory.write64(slot, e);
      }
      table = e & kAddrBits;
    }
    uint64_t leaf = (pa + off) | (1ULL << fmt::kFlPresent);
    leaf = set_bit(leaf, fmt::kFlRw, write);
    leaf = set_bit(leaf, fmt::kFlUs, user);
    if (leaf_level > 1) leaf = set_bit(leaf, fmt::kFlPs, true);
    m_memory.write64(m_to_host(table) + fmt::pte_index(v, leaf_level) * 8ULL, leaf);
  }
}

void FirstLevelTables::unmap(uint64_t va, uint64_t size) {
  clear_leaves(m_memory, m_root, m_levels, va, size, [](uint64_t e) { return get_bit(e, fmt::kFlPresent); },
               m_to_host, "FirstLevelTables::unmap");
}

std::optional<uint64_t> FirstLevelTables::translate(uint64_t va) const {
  if (!canonical(va, m_levels)) return std::nullopt;
  uint64_t table = m_root;
  for (unsigned l = m_levels; l >= 1; --l) {
    const uint64_t e = m_memory.read64(m_to_host(table) + fmt::pte_index(va, l) * 8ULL);
    if (!get_bit(e, fmt::kFlPresent)) return std::nullopt;
    const uint64_t span = fmt::level_span(l);
    if (l == 1 || get_bit(e, fmt::kFlPs)) return ((e & kAddrBits) & ~(span - 1)) + (va & (span - 1));
    table = e & kAddrBits;
  }
  return std::nullopt;
}

uint64_t FirstLevelTables::entry_address(uint64_t va, unsigned level) const {
  uint64_t table = m_root;
  for (unsigned l = m_levels; l > level; --l) {
    const uint64_t e = m_memory.read64(m_to_host(table) + fmt::pte_index(va, l) * 8ULL);
    if (!get_bit(e, fmt::kFlPresent) || get_bit(e, fmt::kFlPs)) return 0;
    table = e & kAddrBits;
  }
  return m_to_host(table) + fmt::pte_index(va, level) * 8ULL;
}

// ---------------------------------------------------------------- ScalableTables

ScalableTables::ScalableTables(SparseMemory& memory, Allocator allocate_page)
    : m_memory(memory), m_allocate(std::move(allocate_page)) {
  m_root = m_allocate();
}

void ScalableTables::set_context(uint16_t source_id, bool pasid_enable, bool fpd, unsigned pdts,
                                 bool dte) {
  if (pdts > 7) throw std::invalid_argument("ScalableTables::set_context: pdts must be 0..7");
  const uint8_t devfn = source_id & 0xFF;
  // The root entry's lower half points at devfn 0-127's context table, the upper at 128-255's.
  const uint64_t half = root_entry_address(static_cast<uint8_t>(source_id >> 8)) + 8 * (devfn >> 7);
  uint64_t re = m_memory.read64(half);
  if (!get_bit(re, fmt::kSmRootPresent)) {
    re = m_allocate() | 1;
    m_memory.write64(half, re);
  }
  const uint64_t ce = (re & kAddrBits) + (devfn & 0x7F) * uint64_t(fmt::kSmContextBytes);
  uint64_t directory = m_memory.read64(ce) & kAddrBits;
  if (!get_bit(m_memory.read64(ce), fmt::kSmCtxPresent) || m_pdts[source_id] != pdts) {
    // 2^(pdts+7) entries of 8 bytes: 2^(pdts+10) bytes, at least a page, in consecutive pages.
    const uint64_t pages = std::max<uint64_t>(1, (1ULL << (pdts + 10)) / kPage);
    directory = m_allocate();
    for (uint64_t i = 1; i < pages; ++i)
      if (m_allocate() != directory + i * kPage)
        throw std::runtime_error("ScalableTables: the PASID directory's pages are not consecutive");
  }
  m_pdts[source_id] = pdts;
  uint64_t lo = directory | 1;
  lo = set_bit(lo, fmt::kSmCtxFpd, fpd);
  lo = set_bit(lo, fmt::kSmCtxPaside, pasid_enable);
  lo = set_bit(lo, fmt::kSmCtxDte, dte);
  lo = set_bits(lo, fmt::kSmCtxPdtsHi, fmt::kSmCtxPdtsLo, pdts);
  m_memory.write64(ce + 8, 0);  // RID_PASID 0
  m_memory.write64(ce + 16, 0);
  m_memory.write64(ce + 24, 0);
  m_memory.write64(ce, lo);
}

uint64_t ScalableTables::context_entry_address(uint16_t source_id) const {
  const uint8_t devfn = source_id & 0xFF;
  const uint64_t re = m_memory.read64(root_entry_address(static_cast<uint8_t>(source_id >> 8)) + 8 * (devfn >> 7));
  if (!get_bit(re, fmt::kSmRootPresent)) return 0;
  return (re & kAddrBits) + (devfn & 0x7F) * uint64_t(fmt::kSmContextBytes);
}

uint64_t ScalableTables::pasid_dir_entry_address(uint16_t source_id, uint32_t pasid) const {
  const uint64_t ce = context_entry_address(source_id);
  if (ce == 0 || !get_bit(m_memory.read64(ce), fmt::kSmCtxPresent)) return 0;
  return (m_memory.read64(ce) & kAddrBits) + fmt::pasid_dir_index(pasid) * 8;
}

uint64_t ScalableTables::pasid_entry_address(uint16_t source_id, uint32_t pasid) const {
  const uint64_t de = pasid_dir_entry_address(source_id, pasid);
  if (de == 0) return 0;
  const uint64_t dir = m_memory.read64(de);
  if (!get_bit(dir, fmt::kPasidDirPresent)) return 0;
  return (dir & kAddrBits) + fmt::pasid_table_index(pasid) * fmt::kPasidEntryBytes;
}

void ScalableTables::set_pasid_entry(uint16_t source_id, uint32_t pasid, const PasidEntrySpec& e) {
  const auto pdts = m_pdts.find(source_id);
  if (pdts == m_pdts.end())
    throw std::invalid_argument("ScalableTables::set_pasid_entry: no context entry for the source-id");
  if (pasid > fmt::kPasidMask || pasid >= fmt::pasids_covered(pdts->second))
    throw std::invalid_argument("ScalableTables::set_pasid_entry: PASID " + std::to_string(pasid) +
                                " is beyond the PASID directory");
  const uint64_t de = pasid_dir_entry_address(source_id, pasid);
  if (!get_bit(m_memory.read64(de), fmt::kPasidDirPresent)) m_memory.write64(de, m_allocate() | 1);
  const uint64_t pe = pasid_entry_address(source_id, pasid);
  uint64_t qw[8] = {};
  qw[0] = set_bit(qw[0], fmt::kPePresent, true);
  qw[0] = set_bit(qw[0], fmt::kPeFpd, e.fpd);
  qw[0] = set_bits(qw[0], fmt::kPePgttHi, fmt::kPePgttLo, static_cast<uint64_t>(e.pgtt));
  if (e.pgtt == fmt::Pgtt::SecondLevel || e.pgtt == fmt::Pgtt::Nested) {
    qw[0] |= e.sl_root & kAddrBits;
    qw[0] = set_bits(qw[0], fmt::kPeAwHi, fmt::kPeAwLo, fmt::levels_to_aw(e.sl_levels));
    qw[0] = set_bit(qw[0], fmt::kPeSlade, e.slade);
  }
  qw[1] = set_bits(qw[1], fmt::kPeDidHi, fmt::kPeDidLo, e.did);
  if (e.pgtt == fmt::Pgtt::FirstLevel || e.pgtt == fmt::Pgtt::Nested) {
    qw[2] |= e.fl_root & kAddrBits;
    qw[2] = set_bits(qw[2], fmt::kPeFlpmHi, fmt::kPeFlpmLo, fmt::levels_to_flpm(e.fl_levels));
    qw[2] = set_bit(qw[2], fmt::kPeWpe, e.wpe);
  }
  qw[2] = set_bit(qw[2], fmt::kPeSre, e.sre);
  // The present bit last, as software must (the entry is live once P is set).
  for (unsigned i = 7; i >= 1; --i) m_memory.write64(pe + 8 * i, qw[i]);
  m_memory.write64(pe, qw[0]);
}

void ScalableTables::clear_pasid_entry(uint16_t source_id, uint32_t pasid) {
  const uint64_t pe = pasid_entry_address(source_id, pasid);
  if (pe == 0) return;
  m_memory.write64(pe, 0);
  for (unsigned i = 1; i < 8; ++i) m_memory.write64(pe + 8 * i, 0);
}

}  // namespace iommu_sim
