// SR-IOV scaling: simulated DMA bytes per host second with 1, 4, 16 and 64 VFs (every function
// runs the same NIC workload, so the DMA count grows with the functions), and the host cost per
// DMA relative to 1 VF, two ways:
//  - yaml/nic_sriov.yaml as shipped: every VF uses the same IOVAs and the default 128-entry IOTLB
//    and 16-entry context and paging-structure caches, so the modelled hardware itself does more
//    per DMA as functions are added (more misses, walks and context fetches);
//  - the simulator's own scaling: each function's rings and buffers at IOVAs of their own and
//    caches that hold every function's working set, so the modelled work per DMA stays the same
//    and what grows is the cost of simulating more functions;
//  - nic_sriov.yaml as shipped but with iommu.iotlb.index=page-xor-domain: the same shared IOVAs
//    and the same 128-entry IOTLB, whose set index now folds in each function's domain ID.
// Then the memory case: 64 VF domains with 1 GiB each mapped in 4 KiB pages, and the peak
// resident memory of that run.
//
// Each configuration is a separate iommu-sim process (the SystemC kernel cannot restart); wall
// time and peak RSS come from wait4(). Medians of R runs.
//
//   sriov-bench [--repeats R] [--packets N]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "timed_process.h"

namespace {

struct RunResult {
  double seconds = 0;
  long max_rss_kib = 0;
  double dmas = 0, bytes = 0, hit_rate = 0;
};

// Reads one number from the flat statistics JSON.
double stat(const std::string& json, const std::string& key) {
  const auto k = json.find("\"" + key + "\":");
  if (k == std::string::npos) return 0;
  return std::strtod(json.c_str() + k + key.size() + 3, nullptr);
}

RunResult run(const std::string& platform, const std::vector<std::string>& sets) {
  const std::string stats_path = "/tmp/sriov-bench-" + std::to_string(getpid()) + ".json";
  std::vector<std::string> args = {IOMMU_SIM_EXE, "run", platform, "--quiet", "--stats", stats_path};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  const iommu_sim::TimedRun t = iommu_sim::run_timed(args, false);
  if (t.status != 0) {
    std::fprintf(stderr, "sriov-bench: iommu-sim failed (status %d)\n", t.status);
    std::exit(1);
  }
  std::ifstream in(stats_path);
  std::stringstream ss;
  ss << in.rdbuf();
  RunResult r;
  r.seconds = t.seconds;
  r.max_rss_kib = t.max_rss_kib;
  r.dmas = stat(ss.str(), "summary.dmas");
  r.bytes = stat(ss.str(), "summary.bytes");
  r.hit_rate = stat(ss.str(), "summary.iotlb_hit_rate");
  std::remove(stats_path.c_str());
  std::remove((stats_path.substr(0, stats_path.size() - 5) + ".config.yaml").c_str());
  return r;
}

RunResult median_run(const std::string& platform, const std::vector<std::string>& sets, unsigned repeats) {
  std::vector<RunResult> runs;
  for (unsigned i = 0; i < repeats; ++i) runs.push_back(run(platform, sets));
  std::sort(runs.begin(), runs.end(), [](const RunResult& a, const RunResult& b) { return a.seconds < b.seconds; });
  return runs[runs.size() / 2];
}

// nic_sriov.yaml's NIC workload on every function, each at IOVAs of its own, with caches large
// enough for every function's rings and buffers. The IOTLB indexes sets by page number alone, so
// the functions are 16 MiB + 256 KiB apart: each one's pages land in sets of their own.
std::string distinct_iova_yaml(unsigned vfs, unsigned packets) {
  std::ostringstream y;
  y << "iommu:\n  iotlb: {sets: 1024, ways: 8}\n  context_cache: {ways: 128}\n  pscache: {ways: 256}\n"
       "pcie:\n  endpoints:\n    - name: nic0\n      total_vfs: 64\n";
  auto nic = [&](unsigned f) {
    const uint64_t base = 0x10000000ULL + uint64_t(f) * ((16ULL << 20) + (256ULL << 10));
    y << "{kind: nic, packets: " << packets << ", ring_size: 64, rx_ring: " << base
      << ", tx_ring: " << base + 0x10000 << ", buffer_base: " << base + 0x100000 << "}";
  };
  y << "      pf_workload: ";
  nic(0);
  y << "\n      vf_workloads:\n";
  for (unsigned v = 1; v <= vfs; ++v) {
    y << "        - ";
    nic(v);
    y << "\n";
  }
  y << "host:\n  driver: {num_vfs: " << vfs << "}\n";
  return y.str();
}

}  // namespace

int main(int argc, char** argv) {
  unsigned repeats = 5;
  unsigned packets = 10000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) {
      repeats = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--packets" && i + 1 < argc) {
      packets = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: sriov-bench [--repeats R] [--packets N]\n");
      return 2;
    }
  }
  if (repeats == 0 || packets == 0) {
    std::fprintf(stderr, "sriov-bench: --repeats and --packets must be positive\n");
    return 2;
  }
  std::printf("%u packets per function, median of %u runs\n", packets, repeats);
  const std::string scratch = "/tmp/sriov-bench-" + std::to_string(getpid()) + ".yaml";
  static const char* const titles[] = {
      "nic_sriov.yaml as shipped (shared IOVAs, default caches):\n",
      "IOVAs of their own, caches holding every working set:\n",
      "nic_sriov.yaml as shipped, IOTLB set index page-xor-domain:\n"};
  for (int mode = 0; mode < 3; ++mode) {
    std::printf("%s", titles[mode]);
    std::printf("  %5s %9s %10s %14s %12s %10s %9s\n", "VFs", "DMAs", "host s", "sim MB/host s", "ns/DMA",
                "vs 1 VF", "IOTLB hit");
    double base = 0;
    for (unsigned vfs : {1u, 4u, 16u, 64u}) {
      RunResult r;
      if (mode != 1) {
        std::vector<std::string> sets = {
            "pcie.endpoints.0.total_vfs=64", "host.driver.num_vfs=" + std::to_string(vfs),
            "pcie.endpoints.0.workload.packets=" + std::to_string(packets)};
        if (mode == 2) sets.push_back("iommu.iotlb.index=page-xor-domain");
        r = median_run(IOMMU_SIM_SOURCE_DIR "/yaml/nic_sriov.yaml", sets, repeats);
      } else {
        {
          std::ofstream out(scratch);
          out << distinct_iova_yaml(vfs, packets);
        }
        r = median_run(scratch, {}, repeats);
      }
      const double per_dma = r.seconds * 1e9 / r.dmas;
      if (base == 0) base = per_dma;
      std::printf("  %5u %9.0f %10.3f %14.1f %12.1f %9.2fx %8.1f%%\n", vfs, r.dmas, r.seconds,
                  r.bytes / 1e6 / r.seconds, per_dma, per_dma / base, 100 * r.hit_rate);
    }
  }
  std::remove(scratch.c_str());
  // 65 domains (the PF and 64 VFs), each with a 1 GiB buffer mapped in 4 KiB pages, read at random.
  const std::string memory_yaml = "/tmp/sriov-bench-" + std::to_string(getpid()) + ".yaml";
  {
    std::ofstream out(memory_yaml);
    out << "pcie:\n  endpoints:\n    - name: nic0\n      total_vfs: 64\n"
           "      workload: {kind: random, base: 0x40000000, window: 1G, size: 64, count: 2000}\n"
           "host:\n  table_size: 256M\n"
           "  driver: {num_vfs: 64, buffer_base: 0x100000000, buffer_size: 80G}\n";
  }
  const RunResult m = median_run(memory_yaml, {}, 1);
  std::remove(memory_yaml.c_str());
  std::printf("  64 VFs + PF, 1 GiB mapped per domain in 4 KiB pages: peak RSS %.1f MiB, %.2f host s\n",
              m.max_rss_kib / 1024.0, m.seconds);
  return 0;
}
