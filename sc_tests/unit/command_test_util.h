// For tests that drive an iommu-sim subcommand through its *_main function.
#pragma once

#include <filesystem>
#include <string>

namespace iommu_sim {

// What a subcommand returned and printed.
struct CommandRun {
  int code;
  std::string out, err;
};

// A fresh, empty directory `<current directory>/<area>/<name>` for one test.
inline std::string fresh_test_dir(const std::string& area, const std::string& name) {
  const std::filesystem::path p = std::filesystem::current_path() / area / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace iommu_sim
