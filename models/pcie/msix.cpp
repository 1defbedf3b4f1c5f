#include "iommu_sim/pcie/msix.h"

#include <cstring>

namespace iommu_sim {

namespace {
uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // the host is little endian, as PCIe is
  return v;
}
}  // namespace

std::optional<MsixMessage> msix_message(const uint8_t* entry16) {
  if (load32(entry16 + 12) & 1) return std::nullopt;
  MsixMessage m;
  m.address = (static_cast<uint64_t>(load32(entry16 + 4)) << 32) | load32(entry16);
  m.data = load32(entry16 + 8);
  return m;
}

MsixTable::MsixTable(unsigned vectors)
    : m_vectors(vectors), m_table(vectors * kEntryBytes, 0), m_pending(vectors, false) {
  // Every entry comes out of reset masked.
  for (unsigned v = 0; v < vectors; ++v) m_table[v * kEntryBytes + 12] = 1;
}

uint64_t MsixTable::read_table(uint32_t offset, unsigned len) const {
  if ((len != 4 && len != 8) || offset % len != 0 || offset + len > m_table.size()) return 0;
  uint64_t v = 0;
  std::memcpy(&v, &m_table[offset], len);
  return v;
}

std::optional<MsixMessage> MsixTable::write_table(uint32_t offset, unsigned len, uint64_t value) {
  if ((len != 4 && len != 8) || offset % len != 0 || offset + len > m_table.size()) {
    return std::nullopt;
  }
  const unsigned vector = offset / kEntryBytes;
  const bool was_masked = entry_masked(vector);
  std::memcpy(&m_table[offset], &value, len);
  if (was_masked && !entry_masked(vector)) return deliver_pending(vector);
  return std::nullopt;
}

uint64_t MsixTable::read_pba(uint32_t offset, unsigned len) const {
  if ((len != 4 && len != 8) || offset % len != 0 || offset + len > pba_bytes()) return 0;
  uint64_t v = 0;
  for (unsigned b = 0; b < len * 8; ++b) {
    const unsigned vector = offset * 8 + b;
    if (vector < m_vectors && m_pending[vector]) v |= 1ULL << b;
  }
  return v;
}

std::optional<MsixMessage> MsixTable::set_function_mask(bool on) {
  const bool was = m_function_mask;
  m_function_mask = on;
  if (!was || on) return std::nullopt;
  // Only one message can be handed back; the others stay pending until the next trigger or
  // unmask. Function-mask toggling with several pending vectors is rare in the workloads.
  for (unsigned v = 0; v < m_vectors; ++v) {
    if (m_pending[v] && !entry_masked(v)) return deliver_pending(v);
  }
  return std::nullopt;
}

bool MsixTable::entry_masked(unsigned vector) const {
  return m_function_mask || (m_table[vector * kEntryBytes + 12] & 1);
}

std::optional<MsixMessage> MsixTable::deliver_pending(unsigned vector) {
  if (!m_pending[vector] || !m_enabled) return std::nullopt;
  auto msg = msix_message(&m_table[vector * kEntryBytes]);
  if (msg) m_pending[vector] = false;
  return msg;
}

MsixTable::Trigger MsixTable::trigger(unsigned vector, MsixMessage& out) {
  if (vector >= m_vectors) return Trigger::NoSuchVector;
  if (!m_enabled) return Trigger::Disabled;
  if (entry_masked(vector)) {
    m_pending[vector] = true;
    return Trigger::Pending;
  }
  out = *msix_message(&m_table[vector * kEntryBytes]);
  return Trigger::Sent;
}

bool MsixTable::pending(unsigned vector) const {
  return vector < m_vectors && m_pending[vector];
}

}  // namespace iommu_sim
