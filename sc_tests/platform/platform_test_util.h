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

// Two VFs of one NIC, each in its own domain: VF1 reads a buffer at IOVA 0x50000000 in its own
// domain; VF0 writes its own buffer, and every second write goes to 0x50000000 + offset instead:
// mapped for VF1, never for VF0.
inline const char* const kStrayVfYaml = R"(
pcie:
  endpoints:
    - name: nic0
      total_vfs: 4
      pf_workload: {kind: none}
      vf_workloads:
        - {kind: random, base: 0x10000000, window: 64K, size: 64, direction: write, count: 400,
           stray_every: 2, stray_base: 0x50000000}
        - {kind: random, base: 0x50000000, window: 64K, size: 64, direction: read, count: 400}
host:
  driver: {num_vfs: 2}
)";

}  // namespace test
}  // namespace iommu_sim
