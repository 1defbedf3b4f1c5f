#include "iommu_sim/host/vtd_tables.h"

#include <stdexcept>
#include <string>

#include "iommu_sim/host/radix_table.h"

namespace iommu_sim {

namespace fmt = vtd;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kRw = (1ULL << fmt::kPteRead) | (1ULL << fmt::kPteWrite);
constexpr uint64_t kAddrBits = bit_mask(51, 12);

unsigned page_level(PageSize page) { return 1 + static_cast<unsigned>(page); }
}  // namespace

// ---------------------------------------------------------------- VtdTableBuilder

VtdTableBuilder::VtdTableBuilder(SparseMemory& memory, uint64_t alloc_base, uint64_t alloc_size)
    : m_memory(memory), m_base(alloc_base), m_pages(alloc_size / kPage) {
  if (alloc_base % kPage) throw std::invalid_argument("VtdTableBuilder: alloc_base not 4 KiB aligned");
  m_root = allocate_page();
}

uint64_t VtdTableBuilder::allocate_page() {
  if (m_next_page >= m_pages)
    throw TableMemoryExhausted("the VT-d tables need more than the " + std::to_string(m_pages) +
                               " pages of table memory");
  const uint64_t addr = m_base + kPage * m_next_page++;
  m_memory.fill(addr, 0, kPage);  // the range may have held something before
  return addr;
}

void VtdTableBuilder::create_domain(uint16_t domain, unsigned levels) {
  if (levels < 3 || levels > 5) throw std::invalid_argument("VtdTableBuilder: levels must be 3..5");
  auto it = m_domains.find(domain);
  if (it != m_domains.end()) {
    if (it->second.levels != levels)
      throw std::invalid_argument("VtdTableBuilder: domain " + std::to_string(domain) +
                                  " already has " + std::to_string(it->second.levels) + " levels");
    return;
  }
  m_domains.emplace(domain, Domain{allocate_page(), levels});
}

const VtdTableBuilder::Domain& VtdTableBuilder::domain(uint16_t id) const {
  auto it = m_domains.find(id);
  if (it == m_domains.end())
    throw std::invalid_argument("VtdTableBuilder: unknown domain " + std::to_string(id));
  return it->second;
}

uint64_t VtdTableBuilder::domain_root(uint16_t id) const { return domain(id).root; }
unsigned VtdTableBuilder::domain_levels(uint16_t id) const { return domain(id).levels; }

void VtdTableBuilder::set_context(uint16_t source_id, uint16_t dom, unsigned levels,
                                  TranslationType tt, bool fpd) {
  uint64_t slptptr = 0;
  if (tt != TranslationType::PassThrough) {
    create_domain(dom, levels);
    slptptr = domain(dom).root;
  } else if (levels < 3 || levels > 5) {
    throw std::invalid_argument("VtdTableBuilder: levels must be 3..5");
  }
  const uint64_t root_entry = root_entry_address(static_cast<uint8_t>(source_id >> 8));
  uint64_t re = m_memory.read64(root_entry);
  if (!get_bit(re, fmt::kEntryPresent)) {
    re = allocate_page() | 1;
    m_memory.write64(root_entry, re);
    m_memory.write64(root_entry + 8, 0);
  }
  const uint64_t ce = (re & kAddrBits) + (source_id & 0xFF) * 16ULL;
  uint64_t lo = slptptr | 1;
  lo = set_bit(lo, fmt::kCtxFpd, fpd);
  lo = set_bits(lo, fmt::kCtxTtHi, fmt::kCtxTtLo, static_cast<uint64_t>(tt));
  uint64_t hi = 0;
  hi = set_bits(hi, fmt::kCtxAwHi, fmt::kCtxAwLo, fmt::levels_to_aw(levels));
  hi = set_bits(hi, fmt::kCtxDidHi, fmt::kCtxDidLo, dom);
  m_memory.write64(ce + 8, hi);
  m_memory.write64(ce, lo);
}

void VtdTableBuilder::clear_context(uint16_t source_id) {
  const uint64_t ce = context_entry_address(source_id);
  if (ce == 0) return;
  m_memory.write64(ce, 0);
  m_memory.write64(ce + 8, 0);
}

uint64_t VtdTableBuilder::context_entry_address(uint16_t source_id) const {
  const uint64_t re = m_memory.read64(root_entry_address(static_cast<uint8_t>(source_id >> 8)));
  if (!get_bit(re, fmt::kEntryPresent)) return 0;
  return (re & kAddrBits) + (source_id & 0xFF) * 16ULL;
}

uint64_t VtdTableBuilder::pte_address(uint16_t dom, uint64_t iova, unsigned level) const {
  const Domain& d = domain(dom);
  uint64_t table = d.root;
  for (unsigned l = d.levels; l > level; --l) {
    const uint64_t e = m_memory.read64(table + fmt::pte_index(iova, l) * 8ULL);
    if (!(e & kRw) || get_bit(e, fmt::kPteSuperpage)) return 0;
    table = e & kAddrBits;
  }
  return table + fmt::pte_index(iova, level) * 8ULL;
}

void VtdTableBuilder::map(uint16_t dom, uint64_t iova, uint64_t phys, uint64_t size, bool read,
                          bool write, PageSize page) {
  const Domain& d = domain(dom);
  const unsigned leaf_level = page_level(page);
  const uint64_t bytes = fmt::level_span(leaf_level);
  if ((iova | phys | size) & (bytes - 1))
    throw std::invalid_argument("VtdTableBuilder::map: iova, phys and size must be page aligned");
  if (!read && !write) throw std::invalid_argument("VtdTableBuilder::map: no permission");
  // The table indexes the IOVA bits below its width: a range above it would alias a lower one.
  const unsigned width = fmt::levels_to_width(d.levels);
  if (size == 0 || size - 1 > UINT64_MAX - iova || ((iova + size - 1) >> width) != 0 ||
      ((phys + size - 1) >> 52) != 0 || phys + size < phys)
    throw std::invalid_argument("VtdTableBuilder::map: the range lies above the table's " +
                                std::to_string(width) + "-bit width or 2^52");
  for (uint64_t off = 0; off < size; off += bytes) {
    const uint64_t va = iova + off;
    uint64_t table = d.root;
    for (unsigned l = d.levels; l > leaf_level; --l) {
      const uint64_t slot = table + fmt::pte_index(va, l) * 8ULL;
      uint64_t e = m_memory.read64(slot);
      if ((e & kRw) && get_bit(e, fmt::kPteSuperpage))
        throw std::invalid_argument("VtdTableBuilder::map: range overlaps a larger page");
      if (!(e & kRw)) {  // non-leaf entries allow everything; the leaf decides
        e = allocate_page() | kRw;
        m_memory.write64(slot, e);
      }
      table = e & kAddrBits;
    }
    uint64_t leaf = (phys + off) | (read ? 1ULL : 0) | (write ? 2ULL : 0);
    if (leaf_level > 1) leaf |= 1ULL << fmt::kPteSuperpage;
    m_memory.write64(table + fmt::pte_index(va, leaf_level) * 8ULL, leaf);
  }
}

void VtdTableBuilder::unmap(uint16_t dom, uint64_t iova, uint64_t size) {
  const Domain& d = domain(dom);
  clear_leaves(m_memory, d.root, d.levels, iova, size, [](uint64_t e) { return (e & kRw) != 0; },
               [](uint64_t a) { return a; }, "VtdTableBuilder::unmap");
}

std::optional<uint64_t> VtdTableBuilder::translate(uint16_t dom, uint64_t iova) const {
  const Domain& d = domain(dom);
  uint64_t table = d.root;
  for (unsigned l = d.levels; l >= 1; --l) {
    const uint64_t e = m_memory.read64(table + fmt::pte_index(iova, l) * 8ULL);
    if (!(e & kRw)) return std::nullopt;
    if (l == 1 || get_bit(e, fmt::kPteSuperpage))
      return (e & kAddrBits) + (iova & (fmt::level_span(l) - 1));
    table = e & kAddrBits;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- VtdRegisterProgrammer

VtdRegisterProgrammer::VtdRegisterProgrammer(MmioAccess& mmio, SparseMemory& memory,
                                             unsigned max_polls)
    : m_mmio(mmio), m_memory(memory), m_max_polls(max_polls) {}

bool VtdRegisterProgrammer::poll32(uint64_t offset, uint32_t mask, uint32_t want) {
  for (unsigned i = 0; i < m_max_polls; ++i) {
    if ((static_cast<uint32_t>(m_mmio.read(offset, 4)) & mask) == want) return true;
    m_mmio.poll_pause();
  }
  return false;
}

bool VtdRegisterProgrammer::command(uint32_t cmd_bit, bool set) {
  // GCMD takes the persistent commands as they stand in GSTS plus the one being changed.
  const uint32_t gsts = static_cast<uint32_t>(m_mmio.read(fmt::kRegGsts, 4));
  uint32_t cmd = gsts & fmt::kGcmdLevelBits;
  cmd = set ? (cmd | cmd_bit) : (cmd & ~cmd_bit);
  m_mmio.write(fmt::kRegGcmd, cmd, 4);
  return poll32(fmt::kRegGsts, cmd_bit, set ? cmd_bit : 0);
}

bool VtdRegisterProgrammer::enable(uint64_t root_table, bool scalable) {
  if (scalable && !m_qi) return false;  // scalable mode is invalidated through the queue only
  uint64_t rtaddr = root_table & fmt::kTableAddrMask;
  if (scalable)
    rtaddr = set_bits(rtaddr, fmt::kRtaddrTtmHi, fmt::kRtaddrTtmLo, uint64_t(fmt::TableMode::Scalable));
  m_mmio.write(fmt::kRegRtaddr, rtaddr, 8);
  if (!command(fmt::kGcmdSrtp, true)) return false;
  if (m_qi) {
    submit(fmt::make_context_cache_desc(fmt::InvalidationScope::Global));
    if (scalable) submit(fmt::make_pasid_cache_desc(fmt::PasidCacheScope::Global));
    submit(fmt::make_iotlb_desc(fmt::InvalidationScope::Global));
    if (!sync()) return false;
  } else {
    if (invalidate_context_register(fmt::InvalidationScope::Global) == 0) return false;
    if (invalidate_iotlb_register(fmt::InvalidationScope::Global) == 0) return false;
  }
  return command(fmt::kGcmdTe, true);
}

bool VtdRegisterProgrammer::disable() { return command(fmt::kGcmdTe, false); }

bool VtdRegisterProgrammer::enable_queued_invalidation(uint64_t queue_base, unsigned qs,
                                                       uint64_t status_addr, bool wide) {
  m_queue_base = queue_base;
  m_queue_bytes = 4096ULL << qs;
  m_status_addr = status_addr;
  m_tail = 0;
  m_wide = wide;
  m_mmio.write(fmt::kRegIqt, 0, 8);
  m_mmio.write(fmt::kRegIqa,
               (queue_base & fmt::kTableAddrMask) | (uint64_t(wide) << fmt::kIqaDw) | (qs & 7), 8);
  m_qi = command(fmt::kGcmdQie, true);
  return m_qi;
}

unsigned VtdRegisterProgrammer::invalidate_context_register(fmt::InvalidationScope g,
                                                            uint16_t did, uint16_t sid,
                                                            unsigned fm) {
  uint64_t v = 0;
  v = set_bit(v, fmt::kCcmdIcc, true);
  v = set_bits(v, fmt::kCcmdCirgHi, fmt::kCcmdCirgLo, static_cast<uint64_t>(g));
  v = set_bits(v, fmt::kCcmdFmHi, fmt::kCcmdFmLo, fm);
  v = set_bits(v, fmt::kCcmdSidHi, fmt::kCcmdSidLo, sid);
  v = set_bits(v, fmt::kCcmdDidHi, fmt::kCcmdDidLo, did);
  m_mmio.write(fmt::kRegCcmd, v, 8);
  for (unsigned i = 0; i < m_max_polls; ++i) {
    const uint64_t r = m_mmio.read(fmt::kRegCcmd, 8);
    if (!get_bit(r, fmt::kCcmdIcc))
      return static_cast<unsigned>(get_bits(r, fmt::kCcmdCaigHi, fmt::kCcmdCaigLo));
    m_mmio.poll_pause();
  }
  return 0;
}

unsigned VtdRegisterProgrammer::invalidate_iotlb_register(fmt::InvalidationScope g, uint16_t did,
                                                          uint64_t addr, unsigned am, bool ih) {
  if (g == fmt::InvalidationScope::Selective)
    m_mmio.write(fmt::kRegIva, (addr & fmt::kTableAddrMask) | (uint64_t(ih) << fmt::kIvaIh) | (am & 0x3F), 8);
  uint64_t v = 0;
  v = set_bit(v, fmt::kIotlbIvt, true);
  v = set_bits(v, fmt::kIotlbIirgHi, fmt::kIotlbIirgLo, static_cast<uint64_t>(g));
  v = set_bit(v, fmt::kIotlbDr, true);
  v = set_bit(v, fmt::kIotlbDw, true);
  v = set_bits(v, fmt::kIotlbDidHi, fmt::kIotlbDidLo, did);
  m_mmio.write(fmt::kRegIotlb, v, 8);
  for (unsigned i = 0; i < m_max_polls; ++i) {
    const uint64_t r = m_mmio.read(fmt::kRegIotlb, 8);
    if (!get_bit(r, fmt::kIotlbIvt))
      return static_cast<unsigned>(get_bits(r, fmt::kIotlbIaigHi, fmt::kIotlbIaigLo));
    m_mmio.poll_pause();
  }
  return 0;
}

void VtdRegisterProgrammer::submit(const fmt::WideDescriptor& d) {
  const unsigned qwords = m_wide ? 4 : 2;
  if (!m_wide && (d.qw[2] || d.qw[3]))
    throw std::invalid_argument("VtdRegisterProgrammer::submit: a 256-bit descriptor needs a wide queue");
  for (unsigned i = 0; i < qwords; ++i) m_memory.write64(m_queue_base + m_tail + 8 * i, d.qw[i]);
  m_tail = (m_tail + 8 * qwords) % m_queue_bytes;
  m_mmio.write(fmt::kRegIqt, m_tail, 8);
}

bool VtdRegisterProgrammer::sync(bool interrupt) {
  const uint32_t token = ++m_sequence;
  m_memory.write32(m_status_addr, token - 1);  // anything but the token
  submit(fmt::make_wait_desc(interrupt, true, token, m_status_addr));
  for (unsigned i = 0; i < m_max_polls; ++i) {
    if (m_memory.read32(m_status_addr) == token) return true;
    m_mmio.poll_pause();
  }
  return false;
}

std::vector<VtdFault> VtdRegisterProgrammer::drain_faults() {
  // As Linux's dmar_fault() services them: nothing unless PPF; from the record FSTS.FRI names
  // (the first pending fault), clearing each, until a record with F clear.
  std::vector<VtdFault> faults;
  const uint32_t fsts = static_cast<uint32_t>(m_mmio.read(fmt::kRegFsts, 4));
  if (fsts & fmt::kFstsPpf) {
    const uint64_t cap = m_mmio.read(fmt::kRegCap, 8);
    const unsigned records = static_cast<unsigned>(get_bits(cap, fmt::kCapNfrHi, fmt::kCapNfrLo)) + 1;
    const uint64_t frcd = 16ULL * get_bits(cap, fmt::kCapFroHi, fmt::kCapFroLo);
    unsigned index = static_cast<unsigned>(get_bits(fsts, fmt::kFstsFriHi, fmt::kFstsFriLo));
    for (unsigned n = 0; n < records; ++n, index = (index + 1) % records) {
      const uint64_t hi = m_mmio.read(frcd + index * 16ULL + 8, 8);
      if (!get_bit(hi, fmt::kFrcdF)) break;
      const uint64_t lo = m_mmio.read(frcd + index * 16ULL, 8);
      faults.push_back(VtdFault{static_cast<uint16_t>(get_bits(hi, fmt::kFrcdSidHi, fmt::kFrcdSidLo)),
                                static_cast<uint8_t>(get_bits(hi, fmt::kFrcdFrHi, fmt::kFrcdFrLo)),
                                lo & fmt::kTableAddrMask, get_bit(hi, fmt::kFrcdT)});
      m_mmio.write(frcd + index * 16ULL + 12, 0x80000000u, 4);
    }
  }
  m_mmio.write(fmt::kRegFsts, fmt::kFstsPfo | fmt::kFstsPpf, 4);
  return faults;
}

}  // namespace iommu_sim
