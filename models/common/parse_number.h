// Strict parsing of the unsigned numbers that input files carry (traces, descriptions). The
// whole text must be the number: no sign, no blanks, no trailing characters. "0x" (or "0X")
// means hex; anything else is decimal, leading zeros included (never octal). A value that does
// not fit in 64 bits is refused, never wrapped or clamped.
#pragma once

#include <cstdint>
#include <string_view>

namespace iommu_sim {

// Digits in base 10 or 16 only (no prefix).
bool parse_digits_u64(std::string_view digits, unsigned base, uint64_t& out);
// Decimal, or hex with a 0x prefix.
bool parse_u64(std::string_view text, uint64_t& out);

}  // namespace iommu_sim
