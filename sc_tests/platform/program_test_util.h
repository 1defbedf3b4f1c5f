// Helpers of the tests that run the iommu-sim program itself (IOMMU_SIM_EXE, defined by the test
// target): a fresh scratch directory under the test's working directory, and one command line
// run with its exit code, its output discarded.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace iommu_sim {
namespace test {

// <cwd>/<area>/<name>, emptied.
inline std::string scratch(const std::string& area, const std::string& name) {
  const std::filesystem::path p = std::filesystem::current_path() / area / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// `iommu-sim ARGS`; the exit code, or -1 when a signal ended it.
inline int run_iommu_sim(const std::string& args) {
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " " + args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace test
}  // namespace iommu_sim
