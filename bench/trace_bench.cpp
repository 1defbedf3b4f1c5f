// Reading and writing IOTLB traces, text and binary: a stream as the remapper records it (a
// lookup per DMA, a fill after each miss of a 32x4 IOTLB, the access itself, and page
// invalidations of unmapped buffers), written to files and read back with IotlbTraceReader.
// Prints ns and bytes per operation for each (median of the repeats) and checks that every
// operation read back is the one written. Under bench/callgrind-per-op each step's first repeat
// is a measured section.
//
//   trace-bench [--ops N] [--repeats R] [--dir DIR]   (DIR: where the trace files go; default
//                                                      a fresh directory under /tmp)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_args.h"
#include "callgrind_section.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

bool same(const IotlbOp& a, const IotlbOp& b) {
  return a.kind == b.kind && a.entry == b.entry && a.am == b.am;
}

// NIC-like traffic of four domains (descriptor rings and a pool of packet buffers, unmapped now
// and then) and a storage domain with a random working set, recorded through a 32x4 IOTLB.
std::vector<IotlbOp> recorded_stream(uint64_t n) {
  std::mt19937_64 rng(11);
  IotlbModel iotlb(IotlbConfig{});
  std::vector<IotlbOp> ops;
  ops.reserve(n + 16);
  uint64_t ring[4] = {0, 0, 0, 0};
  while (ops.size() < n) {
    const unsigned r = static_cast<unsigned>(rng() % 100);
    IotlbEntry e;
    e.read = e.write = true;
    if (r < 70) {
      const unsigned d = static_cast<unsigned>(rng() % 4);
      e.domain = static_cast<uint16_t>(1 + d);
      e.vpn = (rng() % 2) ? 0xFFFF0000 + 0x100 * d + (ring[d] / 64) % 8
                          : 0xFFF00000 + 0x1000 * d + ring[d]++ % 512;
    } else {
      e.domain = 6;
      e.vpn = 0x7F0000000 + rng() % 16384;
    }
    e.pfn = 0x100000 + (e.vpn & 0xFFFFF);
    IotlbOp lookup;
    lookup.kind = IotlbOp::Lookup;
    lookup.entry.domain = e.domain;
    lookup.entry.vpn = e.vpn;
    ops.push_back(lookup);
    if (!iotlb.lookup(e.domain, e.vpn).hit) {
      iotlb.fill(e);
      IotlbOp fill;
      fill.kind = IotlbOp::Fill;
      fill.entry = e;
      ops.push_back(fill);
    }
    IotlbOp access;
    access.kind = IotlbOp::Access;
    access.entry = e;
    ops.push_back(access);
    if (r < 70 && rng() % 16 == 0) {
      IotlbOp inv;
      inv.kind = IotlbOp::InvalidatePages;
      inv.entry.domain = e.domain;
      inv.entry.vpn = e.vpn;
      iotlb.invalidate_pages(e.domain, e.vpn, 0);
      ops.push_back(inv);
    }
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  const BenchArgs args(argc, argv, "trace-bench", {"--ops", "--repeats", "--dir"});
  const uint64_t n = args.number("--ops", 2000000);
  const unsigned repeats = static_cast<unsigned>(args.number("--repeats", 5));
  std::string dir = args.text("--dir");
  bool own_dir = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/trace-bench.XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::perror("trace-bench: mkdtemp");
      return 1;
    }
    dir = tmpl;
    own_dir = true;
  }

  const std::vector<IotlbOp> ops = recorded_stream(n);
  std::printf("trace-bench: %zu operations as recorded (lookup, fill after a miss, access, "
              "invalidations), median of %u\n",
              ops.size(), repeats);
  std::printf("%-8s %12s %12s %12s %10s\n", "format", "write ns/op", "read ns/op", "bytes/op",
              "read MB/s");
  int rc = 0;
  std::vector<IotlbOp> back(ops.size());  // what is read back, written before any timing
  for (IotlbTraceFormat format : {IotlbTraceFormat::Text, IotlbTraceFormat::Binary}) {
    const std::string name = to_string(format);
    const std::string path = dir + "/trace." + name;
    std::vector<double> write_ns, read_ns;
    for (unsigned r = 0; r < repeats; ++r) {
      {
        std::ofstream out(path, std::ios::binary);
        const auto t0 = Clock::now();
        {
          CallgrindSection section(r == 0 ? "write " + name : "write " + name + " (repeat)",
                                   ops.size());
          IotlbTraceWriter writer(out, format);
          for (const IotlbOp& op : ops) writer.write(op);
          out.flush();
        }
        write_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
      }
      std::ifstream in(path, std::ios::binary);
      back.clear();  // keeps its pages from the previous repeat: no page faults in the timing
      const auto t0 = Clock::now();
      {
        CallgrindSection section(r == 0 ? "read " + name : "read " + name + " (repeat)",
                                 ops.size());
        IotlbTraceReader reader(in);
        IotlbOp op;
        while (reader.next(op)) back.push_back(op);
        if (!reader.error().empty()) {
          std::fprintf(stderr, "trace-bench: %s: %s\n", path.c_str(), reader.error().c_str());
          rc = 1;
        }
      }
      read_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
      uint64_t wrong = 0;
      for (size_t i = 0; i < back.size() && i < ops.size(); ++i) wrong += same(back[i], ops[i]) ? 0 : 1;
      if (back.size() != ops.size() || wrong != 0) {
        std::fprintf(stderr, "trace-bench: %s: read %zu operations (%llu wrong) of %zu\n",
                     path.c_str(), back.size(), static_cast<unsigned long long>(wrong),
                     ops.size());
        rc = 1;
      }
    }
    const double size = static_cast<double>(fs::file_size(path));
    const double per_op = static_cast<double>(ops.size());
    const double read_median = median(read_ns);
    std::printf("%-8s %12.1f %12.1f %12.1f %10.0f\n", name.c_str(), median(write_ns) / per_op,
                read_median / per_op, size / per_op, size / (read_median / 1e9) / 1e6);
    fs::remove(path);
  }
  if (own_dir) fs::remove(dir);
  return rc;
}
