// Histogram::add on a DMA-latency-like stream (84/86 ns hits, 166-169 ns misses): ns per add,
// best of 7 runs. `build/bench/stats-bench`; `valgrind --tool=callgrind` for repeatable counts.
#include <chrono>
#include <cstdio>
#include <vector>
#include "iommu_sim/common/stats.h"
using namespace iommu_sim;
int main(int argc, char**) {
  if (argc > 1) {
    std::fprintf(stderr, "usage: stats-bench   (no arguments)\n");
    return 2;
  }
  std::vector<uint64_t> v(1 << 16);
  uint64_t x = 88172645463325252ULL;
  for (auto& e : v) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; e = (x % 4 == 0) ? 166000 + (x >> 40) % 3000 : 84000 + 2000 * ((x >> 20) & 1); }
  double best = 1e9; uint64_t sink = 0;
  for (int r = 0; r < 7; ++r) {
    Histogram h;
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 300; ++k) for (uint64_t e : v) h.add(e);
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    sink += h.count() + h.quantile(0.99);
  }
  std::printf("%.2f ns/add (best of 7, %zu adds each) %llu\n", best * 1e9 / (300.0 * v.size()), 300 * v.size(), (unsigned long long)sink);
}
