// Helpers shared by the platform tests: a platform description from text or from a file of the
// source tree, read exactly as iommu-sim reads it (overrides, validation, unknown keys).
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/platform_config.h"

namespace iommu_sim {
namespace test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Errors name "test.yaml" (or `name`) with line and column.
inline PlatformConfig load(const std::string& text, const std::vector<std::string>& sets = {},
                           const std::string& name = "test.yaml") {
  ConfigReader reader = ConfigReader::from_text(text, name);
  for (const auto& s : sets) reader.apply_override(s);
  PlatformConfig pc = read_platform_config(reader.root());
  reader.finish();
  return pc;
}

}  // namespace test
}  // namespace iommu_sim
