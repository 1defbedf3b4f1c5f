// One-pass LRU exploration against running every geometry separately with IotlbModel, on the
// same synthetic IOTLB access stream, measured in one run. Also checks that both give the same
// counts for every geometry (exit 1 if not).
//
//   one-pass-bench [--accesses N] [--max-sets S] [--max-ways W] [--max-entries E]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/one_pass.h"

using namespace iommu_sim;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

IotlbOp make_access(uint16_t domain, uint64_t vpn, PageSize size) {
  IotlbOp op;
  op.kind = IotlbOp::Access;
  op.entry.domain = domain;
  op.entry.vpn = vpn;
  op.entry.pfn = (0x100000 + vpn) & ~((1ULL << page_shift_pages(size)) - 1);
  op.entry.read = op.entry.write = true;
  op.entry.size = size;
  return op;
}

// Four NIC-like domains streaming through descriptor rings and packet buffers that are unmapped
// (page invalidation) after use, a storage domain with a random working set, and a domain on
// 2 MiB pages.
std::vector<IotlbOp> synthetic_stream(uint64_t accesses) {
  std::mt19937_64 rng(2024);
  std::vector<IotlbOp> ops;
  ops.reserve(accesses + accesses / 16);
  uint64_t ring_pos[4] = {0, 0, 0, 0};
  uint64_t n = 0;
  while (n < accesses) {
    const unsigned r = static_cast<unsigned>(rng() % 100);
    if (r < 55) {
      const unsigned d = static_cast<unsigned>(rng() % 4);
      // Descriptor ring page, then a packet buffer from a pool of 512 pages.
      ops.push_back(make_access(static_cast<uint16_t>(1 + d), 0x1000 * (d + 1) + (ring_pos[d] / 64) % 8,
                                PageSize::Size4K));
      const uint64_t buf = 0x20000 * (d + 1) + ring_pos[d] % 512;
      ops.push_back(make_access(static_cast<uint16_t>(1 + d), buf, PageSize::Size4K));
      n += 2;
      ++ring_pos[d];
      if (rng() % 8 == 0) {
        IotlbOp inv;
        inv.kind = IotlbOp::InvalidatePages;
        inv.entry.domain = static_cast<uint16_t>(1 + d);
        inv.entry.vpn = buf;
        inv.am = 0;
        ops.push_back(inv);
      }
    } else if (r < 90) {
      // Storage: a Zipf-like working set of 16384 pages (squared uniform favours low pages).
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      ops.push_back(make_access(6, 0x400000 + static_cast<uint64_t>(u * u * 16384),
                                PageSize::Size4K));
      ++n;
    } else {
      ops.push_back(make_access(7, 0x800000 + (rng() % 64) * 512 + rng() % 512, PageSize::Size2M));
      ++n;
    }
  }
  return ops;
}

unsigned arg_value(int argc, char** argv, const char* name, unsigned def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a != "--accesses" && a != "--max-sets" && a != "--max-ways" && a != "--max-entries") {
      std::fprintf(stderr,
                   "one-pass-bench: unknown argument '%s': accepted are --accesses N, "
                   "--max-sets S, --max-ways W, --max-entries E\n",
                   argv[i]);
      return 2;
    }
    ++i;
  }
  OnePassLimits limits;
  const unsigned accesses = arg_value(argc, argv, "--accesses", 1000000);
  limits.max_sets = arg_value(argc, argv, "--max-sets", 64);
  limits.max_ways = arg_value(argc, argv, "--max-ways", 8);
  limits.max_entries = arg_value(argc, argv, "--max-entries", 1024);
  const std::string bad = validate_one_pass_limits(limits);
  if (accesses == 0 || !bad.empty()) {
    std::fprintf(stderr, "one-pass-bench: %s\n", bad.empty() ? "--accesses must be at least 1" : bad.c_str());
    return 2;
  }

  const std::vector<IotlbOp> ops = synthetic_stream(accesses);

  auto t0 = Clock::now();
  OnePassExplorer ex(limits);
  for (const IotlbOp& op : ops) {
    if (!ex.feed(op)) {
      std::fprintf(stderr, "one-pass-bench: %s\n", ex.error().c_str());
      return 1;
    }
  }
  const std::vector<GeometryCounts> one = ex.results();
  const double t_one = seconds_since(t0);

  t0 = Clock::now();
  unsigned mismatches = 0;
  double hit_min = 1, hit_max = 0;
  for (const GeometryCounts& g : one) {
    const CacheStats s = replay_one_geometry(ops, g.sets, g.ways == 0 ? g.entries : g.ways);
    if (s.hits != g.stats.hits || s.misses != g.stats.misses ||
        s.evictions != g.stats.evictions || s.invalidated_entries != g.stats.invalidated_entries)
      ++mismatches;
    const double h = static_cast<double>(s.hits) / static_cast<double>(s.lookups);
    hit_min = std::min(hit_min, h);
    hit_max = std::max(hit_max, h);
  }
  const double t_each = seconds_since(t0);

  std::printf("one-pass-bench: %llu accesses (%zu ops), %zu LRU geometries "
              "(sets 1..%u x ways 1..%u, fully associative 1..%u)\n",
              static_cast<unsigned long long>(ex.accesses()), ops.size(), one.size(),
              limits.max_sets, limits.max_ways, limits.max_entries);
  std::printf("  hit rates from %.3f to %.3f\n", hit_min, hit_max);
  std::printf("  one pass:              %8.3f s\n", t_one);
  std::printf("  each geometry (model): %8.3f s (%.3f s per geometry)\n", t_each,
              t_each / static_cast<double>(one.size()));
  std::printf("  speed-up:              %8.1fx\n", t_each / t_one);
  std::printf("  geometries that disagree: %u\n", mismatches);
  return mismatches == 0 ? 0 : 1;
}
