#include "iommu_sim/platform/command_line.h"

#include "iommu_sim/common/parse_number.h"

#include <cstdint>

namespace iommu_sim {

const std::string& option_value(const std::vector<std::string>& args, size_t& i) {
  if (i + 1 >= args.size()) throw UsageError{args[i] + " needs a value"};
  return args[++i];
}

const std::string& checked_assignment(const std::string& kv) {
  if (kv.find('=') == std::string::npos || kv.front() == '=')
    throw UsageError{"--set expects KEY=VALUE, got '" + kv + "'"};
  return kv;
}

unsigned parse_whole_number(const std::string& option, const std::string& text, unsigned lo,
                            unsigned hi) {
  uint64_t v = 0;
  const bool decimal = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (!decimal || !parse_u64(text, v) || v < lo || v > hi)
    throw UsageError{option + " expects a whole number from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", got '" + text + "'"};
  return static_cast<unsigned>(v);
}

unsigned parse_jobs(const std::string& text) { return parse_whole_number("--jobs", text, 1, 1024); }

}  // namespace iommu_sim
