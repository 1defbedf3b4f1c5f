#include "iommu_sim/common/parse_number.h"

namespace iommu_sim {

bool parse_digits_u64(std::string_view digits, unsigned base, uint64_t& out) {
  if (digits.empty() || (base != 10 && base != 16)) return false;
  uint64_t v = 0;
  for (char c : digits) {
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return false;
    }
    if (v > (UINT64_MAX - d) / base) return false;  // would not fit in 64 bits
    v = v * base + d;
  }
  out = v;
  return true;
}

bool parse_u64(std::string_view text, uint64_t& out) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    return parse_digits_u64(text.substr(2), 16, out);
  return parse_digits_u64(text, 10, out);
}

}  // namespace iommu_sim
