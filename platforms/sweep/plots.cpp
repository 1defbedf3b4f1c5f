#include "iommu_sim/platform/sweep/plots.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "iommu_sim/platform/sweep/process_pool.h"

#ifndef IOMMU_SIM_SOURCE_DIR
#define IOMMU_SIM_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {

// Where the plot scripts are: beside an installed program (<prefix>/bin/iommu-sim finds
// <prefix>/share/iommu_sim/scripts), else in the source tree the program was built from.
std::string script_path(const std::string& script_name) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "iommu_sim" / "scripts" / script_name;
    if (fs::is_regular_file(installed, ec)) return installed.string();
  }
  return std::string(IOMMU_SIM_SOURCE_DIR) + "/scripts/" + script_name;
}

}  // namespace

void make_plots(const std::string& script_name, const std::string& csv, const std::string& dir,
                std::ostream& out, std::ostream& err, const std::string& who) {
  const char* script_env = script_name == "plot_sweep.py" ? std::getenv("IOMMU_SIM_PLOT_SCRIPT") : nullptr;
  const std::string script = script_env && *script_env ? script_env : script_path(script_name);
  const std::string log = (fs::path(dir) / "plot.log").string();
  if (!fs::is_regular_file(script)) {
    err << who << ": plots skipped: the plot script " << script
        << " is not there; the CSV is complete: " << csv << "\n";
    return;
  }
  // The python3 first in PATH may be a private one without matplotlib (pyenv, a virtualenv):
  // then try the system's, where python3-matplotlib installs. IOMMU_SIM_PYTHON picks one.
  const char* py_env = std::getenv("IOMMU_SIM_PYTHON");
  std::vector<std::string> candidates;
  if (py_env && *py_env) candidates = {py_env};
  else candidates = {"python3", "/usr/bin/python3"};
  std::string python;
  for (const std::string& c : candidates) {
    if (run_process({{c, "-c", "import matplotlib"}, log, {}}).ok()) {
      python = c;
      break;
    }
  }
  if (python.empty()) {
    err << who << ": plots skipped: no python3 with matplotlib (tried";
    for (const std::string& c : candidates) err << " " << c;
    err << "; Debian: apt-get install python3-matplotlib, or set IOMMU_SIM_PYTHON); the CSV is "
           "complete: "
        << csv << "\n";
    return;
  }
  const ProcessResult r = run_process({{python, script, csv, "--out", dir}, log, {}});
  if (!r.ok()) {
    err << who << ": plotting failed (" << r.describe(0) << ", see " << log
        << "); the CSV is complete: " << csv << "\n";
    return;
  }
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out << who << ": " << line << "\n";
}

}  // namespace iommu_sim
