#include "iommu_sim/iommu/caches/line_index.h"

#include <cassert>
#include <cstddef>

namespace iommu_sim {

LineIndex::LineIndex(uint32_t lines) {
  // At least twice as many slots as lines (a power of two, 2 at least so that m_shift < 32):
  // linear probing then stays short.
  unsigned bits = 1;
  while ((uint64_t{1} << bits) < 2 * static_cast<uint64_t>(lines)) ++bits;
  m_slots.assign(size_t{1} << bits, Slot{});
  m_mask = static_cast<uint32_t>(m_slots.size() - 1);
  m_shift = 32 - bits;
}

void LineIndex::insert(uint64_t hash, uint32_t line) {
  const uint32_t h = static_cast<uint32_t>(hash >> 32);
  uint32_t i = home(h);
  while (m_slots[i].line != LineIndex::kNoLine) i = (i + 1) & m_mask;
  m_slots[i].hash = h;
  m_slots[i].line = line;
}

void LineIndex::erase(uint64_t hash, uint32_t line) {
  uint32_t i = home(static_cast<uint32_t>(hash >> 32));
  while (m_slots[i].line != line) {
    assert(m_slots[i].line != kNoLine && "erasing a line that is not indexed");
    i = (i + 1) & m_mask;
  }
  // Backward-shift deletion: pull later slots of the probe run into the gap when their home
  // is not between the gap and them, so that no run is broken and no tombstones pile up.
  for (uint32_t j = (i + 1) & m_mask; m_slots[j].line != kNoLine; j = (j + 1) & m_mask) {
    const uint32_t from_home = (j - home(m_slots[j].hash)) & m_mask;
    if (from_home >= ((j - i) & m_mask)) {
      m_slots[i] = m_slots[j];
      i = j;
    }
  }
  m_slots[i] = Slot{};
}

void LineIndex::clear() { m_slots.assign(m_slots.size(), Slot{}); }

}  // namespace iommu_sim
