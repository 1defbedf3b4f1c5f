// A one-pass sweep of a platform against a plain run of the same platform: `iommu-sim sweep
// PLATFORM --one-pass --verify 0` (the run, its IOTLB and device-TLB streams explored as it runs)
// and `iommu-sim run PLATFORM --quiet`, with the same settings, interleaved. Wall time and CPU
// time (user and system, the sweep's child included) from wait4(); medians of R repeats and
// their ratios. --exe compares another build of iommu-sim (e.g. the previous code).
//
//   one-pass-run-bench [--platform YAML] [--set KEY=VALUE]... [--repeats R] [--exe PATH]
//   (default: yaml/nic_sriov.yaml with 8 VFs and 60,000 packets per function)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_args.h"
#include "timed_process.h"

namespace {

// One run; exits if the command fails.
iommu_sim::TimedRun run_checked(const std::vector<std::string>& args) {
  const iommu_sim::TimedRun t = iommu_sim::run_timed(args, true);  // not the sweep's summary line
  if (t.status != 0) {
    std::string command;
    for (const std::string& a : args) command += " " + a;
    std::fprintf(stderr, "one-pass-run-bench: failed (status %d):%s\n", t.status, command.c_str());
    std::exit(1);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string platform = std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/nic_sriov.yaml";
  std::string exe = IOMMU_SIM_EXE;
  std::vector<std::string> sets;
  unsigned repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = i + 1 < argc ? argv[i] : "";  // every option takes a value
    if (a == "--platform") platform = argv[++i];
    else if (a == "--exe") exe = argv[++i];
    else if (a == "--set") sets.push_back(argv[++i]);
    else if (a == "--repeats")
      repeats = static_cast<unsigned>(iommu_sim::parse_count("one-pass-run-bench", a, argv[++i]));
    else {
      std::fprintf(stderr, "usage: one-pass-run-bench [--platform YAML] [--set KEY=VALUE]... [--repeats R] "
                           "[--exe PATH]\n");
      return 2;
    }
  }
  if (sets.empty() && platform.size() >= 14 && platform.compare(platform.size() - 14, 14, "nic_sriov.yaml") == 0)
    sets = {"pcie.endpoints.0.workload.packets=60000", "host.driver.num_vfs=8"};
  const std::string out = "/tmp/one-pass-run-bench-" + std::to_string(getpid());
  std::vector<std::string> run = {exe, "run", platform, "--quiet"};
  std::vector<std::string> sweep = {exe, "sweep", platform, "--one-pass", "--verify", "0", "--no-plots",
                                    "--quiet", "--out", out};
  std::printf("%s", platform.c_str());
  for (const std::string& s : sets) {
    run.insert(run.end(), {"--set", s});
    sweep.insert(sweep.end(), {"--set", s});
    std::printf(" --set %s", s.c_str());
  }
  std::printf("\n%s, median of %u interleaved runs\n", exe.c_str(), repeats);
  std::vector<double> run_wall, run_cpu, sweep_wall, sweep_cpu;
  for (unsigned i = 0; i < repeats; ++i) {
    const iommu_sim::TimedRun r = run_checked(run);
    const iommu_sim::TimedRun s = run_checked(sweep);
    std::filesystem::remove_all(out);
    run_wall.push_back(r.seconds);
    run_cpu.push_back(r.cpu_seconds);
    sweep_wall.push_back(s.seconds);
    sweep_cpu.push_back(s.cpu_seconds);
  }
  using iommu_sim::median;
  const double rw = median(run_wall), rc = median(run_cpu), sw = median(sweep_wall), sc = median(sweep_cpu);
  std::printf("%-34s %8s %8s\n", "", "wall, s", "CPU, s");
  std::printf("%-34s %8.3f %8.3f\n", "run --quiet", rw, rc);
  std::printf("%-34s %8.3f %8.3f\n", "sweep --one-pass --verify 0", sw, sc);
  std::printf("%-34s %7.2fx %7.2fx\n", "sweep / run", sw / rw, sc / rc);
  return 0;
}
