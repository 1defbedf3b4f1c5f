// One-pass LRU exploration of a synthetic IOTLB access stream, recorded as the remapper records
// it (a lookup per DMA, a fill after each miss of a 32x4 IOTLB, the access): in memory, from a
// text and a binary trace file (reading included), from the command line (`iommu-sim sweep
// --one-pass --trace`, a process of its own), and against running every geometry separately
// with IotlbModel, all in one run. Checks that the one pass and the per-geometry runs give the
// same counts for every geometry, and that the file explorations give the in-memory counts
// (exit 1 if not). Under bench/callgrind-per-op the in-memory and file explorations are
// measured sections.
//
//   one-pass-bench [--accesses N] [--max-sets S] [--max-ways W] [--max-entries E] [--repeats R]
//                  [--trace FILE]   (FILE: a recorded trace to use instead of the synthetic one)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/one_pass.h"
#include "bench_args.h"
#include "callgrind_section.h"
#include "iommu_sim/platform/sweep/process_pool.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

IotlbOp make_access(uint16_t domain, uint64_t vpn, PageSize size) {
  IotlbOp op;
  op.kind = IotlbOp::Access;
  op.entry.domain = domain;
  // As the remapper records it: the page the entry translates, not the address in it.
  op.entry.vpn = vpn & ~((1ULL << page_shift_pages(size)) - 1);
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

// The stream as the remapper writes it: before each access a lookup and, when a 32x4 LRU IOTLB
// misses, its fill; invalidations as they come.
std::vector<IotlbOp> as_recorded(const std::vector<IotlbOp>& stream) {
  IotlbModel iotlb(IotlbConfig{});
  std::vector<IotlbOp> ops;
  ops.reserve(stream.size() * 2 + stream.size() / 2);
  for (const IotlbOp& op : stream) {
    if (op.kind == IotlbOp::Access) {
      IotlbOp lookup = op;
      lookup.kind = IotlbOp::Lookup;
      lookup.entry = IotlbEntry{op.entry.domain, op.entry.vpn, 0, false, false, PageSize::Size4K};
      ops.push_back(lookup);
      if (!iotlb.lookup(op.entry.domain, op.entry.vpn).hit) {
        iotlb.fill(op.entry);
        IotlbOp fill = op;
        fill.kind = IotlbOp::Fill;
        ops.push_back(fill);
      }
    } else {
      apply(iotlb, op);
    }
    ops.push_back(op);
  }
  return ops;
}

uint64_t accesses_in(const std::vector<IotlbOp>& ops) {
  uint64_t n = 0;
  for (const IotlbOp& op : ops) n += op.kind == IotlbOp::Access ? 1 : 0;
  return n;
}

bool same_counts(const std::vector<GeometryCounts>& a, const std::vector<GeometryCounts>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const CacheStats& x = a[i].stats;
    const CacheStats& y = b[i].stats;
    if (x.lookups != y.lookups || x.hits != y.hits || x.evictions != y.evictions ||
        x.invalidations != y.invalidations || x.invalidated_entries != y.invalidated_entries)
      return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const BenchArgs args(argc, argv, "one-pass-bench",
                       {"--accesses", "--max-sets", "--max-ways", "--max-entries", "--repeats",
                        "--trace"});
  OnePassLimits limits;
  const unsigned accesses = static_cast<unsigned>(args.number("--accesses", 1000000));
  const unsigned repeats = static_cast<unsigned>(args.number("--repeats", 3));
  limits.max_sets = static_cast<unsigned>(args.number("--max-sets", 64));
  limits.max_ways = static_cast<unsigned>(args.number("--max-ways", 8));
  limits.max_entries = static_cast<unsigned>(args.number("--max-entries", 1024));
  const std::string bad = validate_one_pass_limits(limits);
  if (!bad.empty()) {
    std::fprintf(stderr, "one-pass-bench: %s\n", bad.c_str());
    return 2;
  }

  std::vector<IotlbOp> ops;
  const std::string trace = args.text("--trace");
  if (trace.empty()) {
    ops = as_recorded(synthetic_stream(accesses));
  } else {
    std::ifstream in(trace, std::ios::binary);
    std::string error;
    if (!in || !read_iotlb_trace(in, ops, error)) {
      std::fprintf(stderr, "one-pass-bench: %s: %s\n", trace.c_str(),
                   in ? error.c_str() : "cannot open");
      return 2;
    }
  }
  char tmpl[] = "/tmp/one-pass-bench.XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("one-pass-bench: mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  const IotlbTraceFormat formats[2] = {IotlbTraceFormat::Text, IotlbTraceFormat::Binary};
  std::string paths[2];
  double file_mb[2];
  for (unsigned f = 0; f < 2; ++f) {
    paths[f] = dir + "/stream." + to_string(formats[f]);
    std::ofstream out(paths[f], std::ios::binary);
    IotlbTraceWriter writer(out, formats[f]);
    for (const IotlbOp& op : ops) writer.write(op);
    out.close();
    file_mb[f] = static_cast<double>(fs::file_size(paths[f])) / 1e6;
  }

  // Every way of exploring, interleaved within each repeat so that they share the machine's
  // load; the first repeat's in-process runs are the measured sections under callgrind.
  std::vector<double> in_memory, from_file[2], command_line[2];
  std::vector<GeometryCounts> one;
  int rc = 0;
  for (unsigned r = 0; r < repeats && rc == 0; ++r) {
    auto t0 = Clock::now();
    OnePassExplorer ex(limits);
    {
      CallgrindSection section(r == 0 ? "explore in memory" : "(repeat)", ops.size());
      for (const IotlbOp& op : ops) {
        if (!ex.feed(op)) {
          std::fprintf(stderr, "one-pass-bench: %s\n", ex.error().c_str());
          return 1;
        }
      }
    }
    one = ex.results();
    in_memory.push_back(seconds_since(t0));

    for (unsigned f = 0; f < 2; ++f) {
      const std::string name = to_string(formats[f]);
      t0 = Clock::now();
      OnePassExplorer explorer(limits);
      std::ifstream in(paths[f], std::ios::binary);
      std::string error;
      bool ok;
      {
        CallgrindSection section(r == 0 ? "explore from a " + name + " trace" : "(repeat)",
                                 ops.size());
        ok = explore_iotlb_trace(in, explorer, error);
      }
      from_file[f].push_back(seconds_since(t0));
      if (!ok || !same_counts(explorer.results(), one)) {
        std::fprintf(stderr, "one-pass-bench: %s: %s\n", paths[f].c_str(),
                     ok ? "the counts differ from the in-memory exploration" : error.c_str());
        rc = 1;
      }

      ProcessSpec spec;
      spec.argv = {IOMMU_SIM_EXE, "sweep", "--one-pass", "--trace", paths[f], "--out",
                   dir + "/sweep-" + name, "--no-plots", "--quiet",
                   "--max-sets", std::to_string(limits.max_sets),
                   "--max-ways", std::to_string(limits.max_ways),
                   "--max-entries", std::to_string(limits.max_entries)};
      spec.log_path = dir + "/sweep-" + name + ".log";
      const ProcessResult result = run_process(spec);
      if (!result.ok()) {
        std::fprintf(stderr, "one-pass-bench: iommu-sim sweep on the %s trace: %s (log %s)\n",
                     name.c_str(), result.describe(0).c_str(), spec.log_path.c_str());
        rc = 1;
      }
      command_line[f].push_back(result.seconds);
    }
  }
  if (rc == 0) fs::remove_all(dir);

  auto t0 = Clock::now();
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

  const double t_one = median(in_memory);
  std::printf("one-pass-bench: %s, %llu accesses (%zu operations as recorded), %zu LRU "
              "geometries (sets 1..%u x ways 1..%u, fully associative 1..%u), median of %u\n",
              trace.empty() ? "synthetic stream" : trace.c_str(),
              static_cast<unsigned long long>(accesses_in(ops)), ops.size(), one.size(),
              limits.max_sets, limits.max_ways, limits.max_entries, repeats);
  std::printf("  hit rates from %.3f to %.3f\n", hit_min, hit_max);
  std::printf("  one pass, in memory:           %8.3f s\n", t_one);
  for (unsigned f = 0; f < 2; ++f) {
    const double t_file = median(from_file[f]), t_cli = median(command_line[f]);
    std::printf("  one pass, %-6s trace (%5.1f MB): %8.3f s (%.2fx in memory); from the command "
                "line %.3f s (%.2fx)\n",
                to_string(formats[f]), file_mb[f], t_file, t_file / t_one, t_cli, t_cli / t_one);
  }
  std::printf("  each geometry (model):         %8.3f s (%.3f s per geometry)\n", t_each,
              t_each / static_cast<double>(one.size()));
  std::printf("  speed-up:                      %8.1fx\n", t_each / t_one);
  std::printf("  geometries that disagree: %u\n", mismatches);
  return mismatches == 0 ? rc : 1;
}
