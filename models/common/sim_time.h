// Simulated times as integral picoseconds, for statistics and waves on the per-transaction path:
// building an sc_time from a double and a unit costs more than the rest of a statistic.
#pragma once

#include <cstdint>

#include <systemc>

namespace iommu_sim {

// Ticks of the time resolution in one picosecond (the resolution is fixed once the first
// non-zero sc_time exists, so the first call's answer holds for the whole process).
inline uint64_t ticks_per_ps() {
  static const uint64_t ticks = sc_core::sc_time(1, sc_core::SC_PS).value();
  return ticks;
}

// t in whole picoseconds (rounded down). At the usual 1 ps resolution, no division.
inline uint64_t to_ps(const sc_core::sc_time& t) {
  const uint64_t ticks = ticks_per_ps();
  return ticks == 1 ? t.value() : t.value() / ticks;
}

}  // namespace iommu_sim
