// Soak: the default platform's two devices run N DMAs in all (two thirds dev0's random reads,
// one third dev1's writes with their strays) for N = 10^6, 10^7 and 10^8, and the peak resident
// memory of each run must stay flat; then the same with --waves (the VCD written to /dev/null,
// so that disk speed is not measured), and a one-pass sweep of a Linux trace whose mappings
// generate M accesses, and that import alone, collected as it was and streamed as it is. Each is
// a separate process; wall time and peak RSS from wait4().
//
//   soak-bench [--max N]      (default 10^8; --max 10000000 for a quicker look, --max 0 for the
//                             Linux-trace part alone)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "iommu_sim/host/linux_iommu_trace.h"
#include "bench_args.h"
#include "timed_process.h"

using namespace iommu_sim;

namespace {

using Result = TimedRun;

Result spawn(std::vector<std::string> args) { return run_timed(std::move(args), true); }

Result soak(uint64_t dmas, bool waves) {
  std::vector<std::string> args = {IOMMU_SIM_EXE, "run", "--quiet",
                                   "--set", "traffic.0.count=" + std::to_string(dmas * 2 / 3),
                                   "--set", "traffic.1.count=" + std::to_string(dmas / 3)};
  if (!waves) return spawn(args);
  // The format follows the file name's extension, so the sink is a .vcd name for /dev/null.
  const std::string sink = "/tmp/soak-bench-" + std::to_string(getpid()) + ".vcd";
  std::remove(sink.c_str());
  if (symlink("/dev/null", sink.c_str()) != 0) {
    std::perror(("soak-bench: " + sink).c_str());
    std::exit(1);
  }
  args.insert(args.end(), {"--waves", sink});
  const Result r = spawn(args);
  std::remove(sink.c_str());
  return r;
}

// A capture of `maps` map/unmap pairs of 1 GiB each, over four IOVA ranges in turn: 262,144
// accesses per map over 2^20 distinct pages in all (the one-pass exploration keeps state per
// distinct page, so that stays fixed while the accesses grow).
std::string linux_trace(unsigned maps) {
  const std::string path = "/tmp/soak-bench-" + std::to_string(getpid()) + ".txt";
  std::ofstream out(path);
  for (unsigned i = 0; i < maps; ++i) {
    char line[256];
    const unsigned long long iova = 0x100000000ULL + (1ULL << 30) * (i % 4);
    std::snprintf(line, sizeof line,
                  "bench-1 [000] ..... %u.000000: map: IOMMU: iova=0x%llx - 0x%llx paddr=0x%llx size=1073741824\n"
                  "bench-1 [000] ..... %u.500000: unmap: IOMMU: iova=0x%llx - 0x%llx size=1073741824 unmapped_size=1073741824\n",
                  i, iova, iova + (1ULL << 30), 0x4000000000ULL + iova, i, iova, iova + (1ULL << 30));
    out << line;
  }
  return path;
}

bool g_failed = false;  // a run failed: the exit status says so

void row(const char* what, uint64_t n, const Result& r) {
  if (r.status != 0) g_failed = true;
  std::printf("%-34s %12llu %9.1f %10.1f %s\n", what, static_cast<unsigned long long>(n), r.seconds,
              r.max_rss_kib / 1024.0, r.status == 0 ? "" : "(failed)");
  std::fflush(stdout);
}

}  // namespace

// The import alone, in a child process: `--import-child MAPS collect|stream` reads the capture
// and makes every access, either collected in vectors (parse_linux_iommu_trace(in) and
// linux_trace_to_dma_ops, what the sweep used to do) or streamed one at a time (what it does).
int import_child(unsigned maps, const std::string& mode) {
  const std::string trace = linux_trace(maps);
  std::ifstream in(trace);
  LinuxAccessRule rule;
  uint64_t accesses = 0;
  if (mode == "collect") {
    const LinuxTraceParseResult parsed = parse_linux_iommu_trace(in);
    accesses = linux_trace_to_dma_ops(parsed.events, rule).size();
  } else {
    parse_linux_iommu_trace(in, [&](const LinuxIommuEvent& e) {
      return linux_event_to_dma_ops(e, rule, [&](const LinuxDmaOp&) { return ++accesses > 0; });
    });
  }
  std::remove(trace.c_str());
  return accesses == uint64_t(maps) * (262144 + 1) ? 0 : 1;  // each unmap: one 1 GiB invalidation
}

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--import-child") return import_child(std::atoi(argv[2]), argv[3]);
  const BenchArgs args(argc, argv, "soak-bench", {"--max"});
  const uint64_t max = args.number("--max", 100000000, 0);
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  std::printf("%-34s %12s %9s %10s\n", "run", "DMAs", "seconds", "peak MiB");
  for (uint64_t n = 1000000; n <= max; n *= 10) row("default platform", n, soak(n, false));
  for (uint64_t n = 1000000; n <= max / 10; n *= 10) row("default platform, --waves", n, soak(n, true));
  for (unsigned maps : {4u, 40u, 400u}) {
    const std::string trace = linux_trace(maps);
    const std::string out = "/tmp/soak-bench-sweep-" + std::to_string(getpid());
    const Result r = spawn({IOMMU_SIM_EXE, "sweep", "--one-pass", "--linux-trace", trace, "--out", out,
                            "--no-plots", "--quiet", "--max-sets", "64", "--max-ways", "8",
                            "--max-entries", "512"});
    row("one-pass of a Linux trace (accesses)", uint64_t(maps) * 262144, r);
    std::remove(trace.c_str());
    std::system(("rm -rf " + out).c_str());
  }
  for (unsigned maps : {4u, 40u, 400u}) {
    for (const char* mode : {"collect", "stream"}) {
      if (maps == 400 && std::string(mode) == "collect") continue;  // about 11 GB
      const Result r = spawn({"/proc/self/exe", "--import-child", std::to_string(maps), mode});
      row((std::string("Linux trace import, ") + mode).c_str(), uint64_t(maps) * 262144, r);
    }
  }
  return g_failed ? 1 : 0;
}
