// Lookup, fill and replacement cost of the translation caches across geometries: the IOTLB
// (IotlbModel) and the generic TranslationCache (context, paging-structure and interrupt-entry
// caches), every replacement policy, from 32 sets of 4 ways to fully associative 4,096 entries.
//
// Two streams per cache, both "a lookup, and a fill when it misses":
//   hit:  uniform over half as many pages (keys) as the cache has entries, chosen so that no
//         set gets more than it holds: after warm-up every lookup hits;
//   miss: a new page (key) every time, on a full cache: a lookup that misses, then a fill that
//         evicts (the policy's victim choice).
// Prints ns per access (median of the repeats) and the ratio to the same policy's 32x4 figure.
// Under bench/callgrind-per-op each stream's first repeat is a measured section.
//
//   cache-bench [--accesses N] [--repeats R] [--only TEXT]   (TEXT: run rows whose name has it)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_args.h"
#include "callgrind_section.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/translation_cache.h"

using namespace iommu_sim;

namespace {

using Clock = std::chrono::steady_clock;

struct Geometry {
  unsigned sets, ways;
};
const Geometry kGeometries[] = {{32, 4}, {16, 16}, {4096, 1}, {1, 128}, {1, 1024}, {1, 4096}};
const ReplacementKind kPolicies[] = {ReplacementKind::Lru, ReplacementKind::Plru,
                                     ReplacementKind::Fifo, ReplacementKind::Random};

// The two caches behind one face: a lookup and, on a miss, a fill of the same page or key.
struct IotlbUnderTest {
  explicit IotlbUnderTest(const IotlbConfig& c) : cache(c) {}
  unsigned set_of(uint64_t page) const { return static_cast<unsigned>(page) & (cache.config().sets - 1); }
  bool access(uint64_t page) {
    if (cache.lookup(1, page).hit) return true;
    IotlbEntry e;
    e.domain = 1;
    e.vpn = page;
    e.pfn = page + 0x100000;
    e.read = e.write = true;
    cache.fill(e);
    return false;
  }
  IotlbModel cache;
};

struct TranslationCacheUnderTest {
  explicit TranslationCacheUnderTest(const CacheGeometry& g) : cache(g) {}
  unsigned set_of(uint64_t key) const { return cache_set_index(key, cache.geometry().sets); }
  bool access(uint64_t key) {
    if (cache.lookup(key)) return true;
    cache.insert(key, 1, key + 0x100000);
    return false;
  }
  TranslationCache<uint64_t> cache;
};

struct Row {
  std::string name;
  std::string policy;
  Geometry geometry;
  double ns = 0;
};

// Runs `accesses` accesses of the stream `repeats` times after a warm-up; returns the median ns
// per access and checks that the stream did what it says (every access a hit, or every one a
// miss).
template <typename Cache>
double measure(Cache& cache, const std::string& name, bool hits, const Geometry& g,
               uint64_t accesses, unsigned repeats) {
  std::vector<uint64_t> pages(accesses);
  const uint64_t base = 0x40000;
  const unsigned entries = g.sets * g.ways;
  uint64_t next_new = base;
  if (hits) {
    // Half the entries, spread so that no set gets more than half its ways (or one way).
    std::vector<uint64_t> working_set;
    std::vector<unsigned> per_set(g.sets, 0);
    const unsigned set_limit = std::max(1u, g.ways / 2);
    for (uint64_t k = base; working_set.size() < std::max(1u, entries / 2); ++k) {
      unsigned& n = per_set[cache.set_of(k)];
      if (n < set_limit) {
        ++n;
        working_set.push_back(k);
      }
    }
    std::mt19937_64 rng(7);
    for (uint64_t& p : pages) p = working_set[rng() % working_set.size()];
    for (uint64_t k : working_set) cache.access(k);
  } else {
    for (unsigned i = 0; i < 2 * entries; ++i) cache.access(next_new++);
  }
  std::vector<double> ns;
  for (unsigned r = 0; r < repeats; ++r) {
    if (!hits)
      for (uint64_t& p : pages) p = next_new++;
    uint64_t hit_count = 0;
    const auto t0 = Clock::now();
    {
      CallgrindSection section(r == 0 ? name : name + " (repeat)", accesses);
      for (uint64_t p : pages) hit_count += cache.access(p) ? 1 : 0;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                 static_cast<double>(accesses));
    if (hit_count != (hits ? accesses : 0)) {
      std::fprintf(stderr, "cache-bench: %s: %llu hits out of %llu accesses, expected %s\n",
                   name.c_str(), static_cast<unsigned long long>(hit_count),
                   static_cast<unsigned long long>(accesses), hits ? "all" : "none");
      std::exit(1);
    }
  }
  return median(ns);
}

}  // namespace

int main(int argc, char** argv) {
  const BenchArgs args(argc, argv, "cache-bench", {"--accesses", "--repeats", "--only"});
  const uint64_t accesses = args.number("--accesses", 1000000);
  const unsigned repeats = static_cast<unsigned>(args.number("--repeats", 5));
  const std::string only = args.text("--only");

  std::vector<Row> rows;
  for (const char* cache_kind : {"iotlb", "translation-cache"}) {
    for (const char* stream : {"hit", "miss"}) {
      for (ReplacementKind policy : kPolicies) {
        for (const Geometry& g : kGeometries) {
          Row row;
          row.policy = to_string(policy);
          row.geometry = g;
          row.name = std::string(cache_kind) + " " + stream + " " + row.policy + " " +
                     std::to_string(g.sets) + "x" + std::to_string(g.ways);
          if (!only.empty() && row.name.find(only) == std::string::npos) continue;
          const bool hits = std::string(stream) == "hit";
          if (std::string(cache_kind) == "iotlb") {
            IotlbConfig c;
            c.sets = g.sets;
            c.ways = g.ways;
            c.policy = policy;
            IotlbUnderTest t(c);
            row.ns = measure(t, row.name, hits, g, accesses, repeats);
          } else {
            CacheGeometry c;
            c.sets = g.sets;
            c.ways = g.ways;
            c.policy = policy;
            TranslationCacheUnderTest t(c);
            row.ns = measure(t, row.name, hits, g, accesses, repeats);
          }
          rows.push_back(row);
          std::fflush(stdout);
        }
      }
    }
  }

  std::printf("cache-bench: %llu accesses per stream, median of %u\n",
              static_cast<unsigned long long>(accesses), repeats);
  std::printf("%-40s %10s %12s\n", "cache stream policy geometry", "ns/access", "vs 32x4");
  for (const Row& r : rows) {
    double base = 0;
    for (const Row& b : rows)
      if (b.geometry.sets == 32 && b.geometry.ways == 4 &&
          b.name.substr(0, b.name.rfind(' ')) == r.name.substr(0, r.name.rfind(' ')))
        base = b.ns;
    if (base > 0)
      std::printf("%-40s %10.1f %11.2fx\n", r.name.c_str(), r.ns, r.ns / base);
    else
      std::printf("%-40s %10.1f %12s\n", r.name.c_str(), r.ns, "-");
  }
  return 0;
}
