// Bit-field helpers for register and table formats. Ranges are inclusive, hi:lo, as in the specs.
#pragma once

#include <cstdint>

namespace iommu_sim {

constexpr uint64_t bit_mask(unsigned hi, unsigned lo) {
  return (hi - lo >= 63) ? ~0ULL : (((1ULL << (hi - lo + 1)) - 1) << lo);
}
constexpr uint64_t get_bits(uint64_t v, unsigned hi, unsigned lo) {
  return (v & bit_mask(hi, lo)) >> lo;
}
constexpr uint64_t set_bits(uint64_t v, unsigned hi, unsigned lo, uint64_t field) {
  return (v & ~bit_mask(hi, lo)) | ((field << lo) & bit_mask(hi, lo));
}
constexpr bool get_bit(uint64_t v, unsigned b) { return (v >> b) & 1; }
constexpr uint64_t set_bit(uint64_t v, unsigned b, bool on) {
  return on ? (v | (1ULL << b)) : (v & ~(1ULL << b));
}
constexpr bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
constexpr unsigned log2_exact(uint64_t v) {
  unsigned n = 0;
  while (v > 1) { v >>= 1; ++n; }
  return n;
}

}  // namespace iommu_sim
