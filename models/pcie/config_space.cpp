#include "iommu_sim/pcie/config_space.h"

namespace iommu_sim {

namespace {
bool valid_access(uint16_t offset, unsigned len) {
  if (len != 1 && len != 2 && len != 4) return false;
  if (offset + len > ConfigSpace::kSize) return false;
  return (offset & 3u) + len <= 4;  // stays inside one dword
}
}  // namespace

ConfigSpace::ConfigSpace() = default;

uint32_t ConfigSpace::raw(uint16_t offset, unsigned len) const {
  uint32_t v = 0;
  for (unsigned i = 0; i < len && offset + i < kSize; ++i) {
    v |= static_cast<uint32_t>(m_data[offset + i]) << (8 * i);
  }
  return v;
}

void ConfigSpace::set_raw(uint16_t offset, unsigned len, uint32_t value) {
  ++m_generation;
  for (unsigned i = 0; i < len && offset + i < kSize; ++i) {
    m_data[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

uint32_t ConfigSpace::read(uint16_t offset, unsigned len) const {
  if (!valid_access(offset, len)) return 0xFFFFFFFFu;
  return raw(offset, len);
}

bool ConfigSpace::write(uint16_t offset, unsigned len, uint32_t value) {
  if (!valid_access(offset, len)) return false;
  const uint16_t dword = offset & ~3u;
  const uint32_t old = raw(dword, 4);
  ++m_generation;
  for (unsigned i = 0; i < len; ++i) {
    const uint8_t b = static_cast<uint8_t>(value >> (8 * i));
    uint8_t& d = m_data[offset + i];
    const uint8_t wm = m_writable[offset + i];
    const uint8_t w1c = m_w1c[offset + i];
    d = static_cast<uint8_t>((d & ~wm) | (b & wm));
    d = static_cast<uint8_t>(d & ~(b & w1c));
  }
  on_write(dword, old);
  return true;
}

void ConfigSpace::init(uint16_t offset, unsigned len, uint32_t value, uint32_t writable,
                       uint32_t w1c) {
  ++m_generation;
  for (unsigned i = 0; i < len && offset + i < kSize; ++i) {
    m_data[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    m_writable[offset + i] = static_cast<uint8_t>(writable >> (8 * i));
    m_w1c[offset + i] = static_cast<uint8_t>(w1c >> (8 * i));
  }
}

void ConfigSpace::set_writable(uint16_t offset, unsigned len, uint32_t writable) {
  for (unsigned i = 0; i < len && offset + i < kSize; ++i) {
    m_writable[offset + i] = static_cast<uint8_t>(writable >> (8 * i));
  }
}

void ConfigSpace::add_capability(uint16_t offset, uint8_t id) {
  init(offset, 1, id);
  init(offset + 1, 1, 0);  // next: end of list until another is appended
  if (m_last_cap == 0) {
    init(pci::kCapPtr, 1, offset);
    set_raw(pci::kStatus, 2, raw(pci::kStatus, 2) | pci::kStatusCapList);
  } else {
    set_raw(m_last_cap + 1, 1, offset);
  }
  m_last_cap = offset;
}

void ConfigSpace::add_ext_capability(uint16_t offset, uint16_t id, uint8_t version) {
  // Header: ID 15:0, version 19:16, next offset 31:20.
  init(offset, 4, id | (static_cast<uint32_t>(version & 0xF) << 16));
  if (m_last_ext_cap != 0) {
    const uint32_t hdr = raw(m_last_ext_cap, 4);
    set_raw(m_last_ext_cap, 4, (hdr & 0x000FFFFFu) | (static_cast<uint32_t>(offset) << 20));
  }
  m_last_ext_cap = offset;
}

}  // namespace iommu_sim
