// A stand-in for `iommu-sim run` that the sweep tests spawn: it takes the same arguments, writes
// a statistics JSON and the effective configuration beside it, and (with --iotlb-trace) an IOTLB
// access stream. Its numbers are simple functions of the IOTLB size, so tests can check them.
// Keys under `fake.` steer it: fake.fail=1 (exit 1), fake.bad=1 (exit 2), fake.sleep_ms=N;
// fake.trace=conflict puts an access the one-pass exploration refuses at line 4 of the stream,
// fake.trace=malformed a malformed line there (both followed by the usual stream);
// fake.trace_ops=N the length of the usual stream (default 20000 accesses).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "run") {
    std::cerr << "fake: expected 'run'\n";
    return 2;
  }
  std::map<std::string, std::string> set;
  std::string stats, trace;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--set" && i + 1 < argc) {
      const std::string kv = argv[++i];
      set[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    } else if (a == "--stats" && i + 1 < argc) {
      stats = argv[++i];
    } else if (a == "--iotlb-trace" && i + 1 < argc) {
      trace = argv[++i];
    }
  }
  if (set.count("fake.sleep_ms"))
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(set["fake.sleep_ms"].c_str())));
  if (set["fake.bad"] == "1") {
    std::cerr << "fake: unknown key fake.bad\n";
    return 2;
  }
  if (set["fake.fail"] == "1") {
    std::cerr << "fake: simulation failed on purpose\n";
    return 1;
  }
  const long sets = set.count("iommu.iotlb.sets") ? std::atol(set["iommu.iotlb.sets"].c_str()) : 32;
  const long ways = set.count("iommu.iotlb.ways") ? std::atol(set["iommu.iotlb.ways"].c_str()) : 4;
  const long fa = set.count("iommu.iotlb.entries") ? std::atol(set["iommu.iotlb.entries"].c_str()) : 64;
  const std::string policy = set.count("iommu.iotlb.policy") ? set["iommu.iotlb.policy"] : "lru";
  const double entries = ways == 0 ? fa : sets * ways;
  const double hit = entries / (entries + 100.0);
  const double dmas = 10000;
  if (!stats.empty()) {
    std::ofstream j(stats);
    j << "{\"summary.dmas\": " << dmas << ", \"summary.iotlb_hit_rate\": " << hit
      << ", \"summary.iotlb_misses_per_1000_dmas\": " << 1000 * (1 - hit)
      << ", \"summary.walks\": " << static_cast<long>(dmas * (1 - hit))
      << ", \"summary.dma_latency_mean_ns\": " << 100 + 400 * (1 - hit)
      << ", \"summary.dma_latency_p99_ns\": " << 200 + 800 * (1 - hit)
      << ", \"summary.throughput_mbps\": " << 1000 * hit << ", \"summary.faults\": 0"
      << ", \"platform.dma_latency\": {\"count\": 10000, \"mean\": 1.5, \"p50\": 1, \"p99\": 4}"
      << ", \"note\": \"fake\", \"list\": [1, 2, {\"a\": 3}]}\n";
    std::string config = stats;
    if (config.size() > 5 && config.compare(config.size() - 5, 5, ".json") == 0)
      config.resize(config.size() - 5);
    std::ofstream c(config + ".config.yaml");
    c << "iommu:\n  iotlb:\n    sets: " << (ways == 0 ? 1 : sets) << "\n    ways: " << ways
      << "\n    entries: " << fa << "\n    policy: " << policy << "\n";
  }
  if (!trace.empty()) {
    // A small stream with reuse and page invalidations, in the IOTLB trace format.
    std::ofstream t(trace);
    std::mt19937 rng(7);
    t << "# fake platform run\n";
    if (set["fake.trace"] == "conflict")  // a 4K page inside a 2M one that is still cached
      t << "A 1 200 80200 rw 2M\nL 1 201\nA 1 201 80201 rw 4K\n";
    if (set["fake.trace"] == "malformed") t << "A 1 200 80200 rw 2M\nL 1 201\nA 1 201 80201 rw 8K\n";
    const long n = set.count("fake.trace_ops") ? std::atol(set["fake.trace_ops"].c_str()) : 20000;
    for (long i = 0; i < n; ++i) {
      const unsigned vpn = rng() % 4 ? rng() % 64 : rng() % 2000;
      const unsigned dom = 1 + rng() % 2;
      t << "A " << dom << " " << std::hex << vpn << " " << 0x80000 + vpn << std::dec << " rw 4K\n";
      if (i % 50 == 0) t << "IP " << dom << " " << std::hex << rng() % 2000 << std::dec << " 2\n";
      if (i % 7 == 0) t << "L " << dom << " " << std::hex << vpn << std::dec << "\n";
    }
  }
  std::cout << "fake: done\n";
  return 0;
}
