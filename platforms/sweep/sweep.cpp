// `iommu-sim sweep`: its options, the merge of shards, and the Linux trace's IOTLB operations.
// The sweeps themselves are in grid_sweep.cpp and one_pass_sweep.cpp.
#include "iommu_sim/platform/command_line.h"
#include "iommu_sim/platform/sweep/sweep.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <thread>

#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/plots.h"
#include "iommu_sim/platform/sweep/sweep_options.h"

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {

const char* const kUsage =
    "usage:\n"
    "  iommu-sim sweep [PLATFORM.yaml] --grid KEY=V1,V2,... [--grid ...] --out DIR [options]\n"
    "  iommu-sim sweep [PLATFORM.yaml] --one-pass --out DIR [--set KEY=VALUE]... [limits]\n"
    "  iommu-sim sweep --one-pass --trace IOTLB.trace --out DIR [limits]\n"
    "  iommu-sim sweep --one-pass --devtlb-trace DEVTLB.trace --out DIR [limits]\n"
    "  iommu-sim sweep --one-pass --linux-trace TRACE.txt [--domain D] [--passes N] --out DIR\n"
    "  iommu-sim sweep merge OUT.csv IN1.csv IN2.csv ... [--no-plots]\n"
    "\n"
    "grid sweep (each point a full platform run in its own process):\n"
    "  --grid KEY=V1,V2,...  an axis; every combination of the axes is a point\n"
    "  --set KEY=VALUE       applied to every point, before the grid values\n"
    "  --out DIR             DIR/sweep.csv, DIR/sweep.meta.json, DIR/points/pNNNN.{json,config.yaml,log},\n"
    "                        plots\n"
    "  --metric KEY          one more CSV column: any statistic of the points' --stats files\n"
    "                        (platform.iommu.context_cache.hit_rate), or a summary name without\n"
    "                        `summary.` (context_cache_hit_rate, interrupt_latency_p99_ns); repeatable\n"
    "  --jobs N              points run at once (default: the number of CPUs)\n"
    "  --shard I/N           run only the I-th of N slices (1 <= I <= N), into\n"
    "                        DIR/sweep-shard-I-of-N.csv; join the slices with `sweep merge`\n"
    "  --timeout SECONDS     kill a point that runs longer and report it as failed\n"
    "one-pass LRU exploration (every geometry from one IOTLB access stream):\n"
    "  --one-pass            run the platform once, exploring its IOTLB access stream as it\n"
    "                        runs (through a pipe: no trace file)\n"
    "  --keep-trace          on a platform: also keep the streams, DIR/iotlb.trace and\n"
    "                        DIR/devtlb.trace (binary format; `iommu-sim trace convert` for text)\n"
    "  --trace FILE          explore a recorded IOTLB trace instead\n"
    "  --linux-trace FILE    explore a Linux iommu:map/unmap trace (ftrace or perf script)\n"
    "  --devtlb-trace FILE   explore a recorded device-TLB trace (ATS; one per function)\n"
    "  --domain D            domain of the Linux trace's mappings (default 1)\n"
    "  --passes N            accesses per mapped page of the Linux trace (default 1)\n"
    "  --max-sets N          set counts 1, 2, 4 .. N, a power of two (default 1024)\n"
    "  --max-ways N          associativities 1 .. N (default 16)\n"
    "  --max-entries N       fully associative sizes 1, 2, 4 .. N (default 4096)\n"
    "  --index page|page-xor-domain\n"
    "                        set index of the explored geometries (default page; the\n"
    "                        platform's iommu.iotlb.index only affects the recording run)\n"
    "  --verify N            on a platform: run N geometries again as timed runs and compare\n"
    "                        (default 3; 0: none); DIR/one_pass_check.csv\n"
    "  --verify-tolerance D  warn when a timed hit rate differs by more than D (default 0.02)\n"
    "both:\n"
    "  --target METRIC>=X    say which is the smallest geometry whose METRIC (a CSV column:\n"
    "  --target METRIC<=X    hit_rate, latency_p99_ns, devtlb_hit_rate, a --metric) meets X, or\n"
    "                        that none within the limits does and which limit to raise; repeatable\n"
    "  --no-plots            write the CSV only\n"
    "  --quiet               no progress lines\n"
    "exit status: 0 success, 2 bad input, 1 failure (including a grid with a failed point)\n";

// The columns a one-pass CSV has for a --target to name.
const std::vector<std::string>& one_pass_columns() {
  static const std::vector<std::string> columns = {
      "hit_rate", "misses_per_1000_accesses", "hits", "misses", "fills", "evictions", "devtlb_hit_rate"};
  return columns;
}

SweepOptions parse_options(const std::vector<std::string>& args) {
  SweepOptions o;
  o.args = args;
  bool index_given = false, verify_given = false;
  o.jobs = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--grid") {
      GridAxis axis;
      std::string error;
      if (!parse_grid_axis(value(), axis, error)) throw UsageError{error};
      for (const GridAxis& g : o.axes)
        if (g.key == axis.key) throw UsageError{"--grid " + axis.key + " is given twice"};
      o.axes.push_back(axis);
    } else if (a == "--set") {
      const std::string& kv = value();
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError{"--set expects KEY=VALUE, got '" + kv + "'"};
      o.sets.push_back(kv);
    } else if (a == "--metric") {
      const std::string& key = value();
      if (key.empty() || key.find_first_of(",\" \n") != std::string::npos)
        throw UsageError{"--metric expects a statistics key (e.g. platform.iommu.context_cache.hit_rate), got '" +
                         key + "'"};
      o.metrics.push_back(key);
    } else if (a == "--target") {
      SweepTarget t;
      std::string error;
      if (!parse_sweep_target(value(), t, error)) throw UsageError{error};
      o.targets.push_back(t);
    } else if (a == "--out") {
      o.out_dir = value();
    } else if (a == "--jobs" || a == "-j") {
      o.jobs = parse_jobs(value());
    } else if (a == "--shard") {
      std::string error;
      if (!parse_shard(value(), o.shard_index, o.shard_count, error)) throw UsageError{error};
      o.sharded = true;
    } else if (a == "--timeout") {
      o.timeout_s = parse_whole_number(a, value(), 1, 604800);
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--one-pass") {
      o.one_pass = true;
    } else if (a == "--keep-trace") {
      o.keep_trace = true;
    } else if (a == "--trace") {
      o.trace = value();
    } else if (a == "--linux-trace") {
      o.linux_trace = value();
    } else if (a == "--devtlb-trace") {
      o.devtlb_trace = value();
    } else if (a == "--domain") {
      o.domain = static_cast<uint16_t>(parse_whole_number(a, value(), 0, 65535));
    } else if (a == "--passes") {
      o.passes = parse_whole_number(a, value(), 1, 1000);
    } else if (a == "--max-sets") {
      o.limits.max_sets = parse_whole_number(a, value(), 1, 1u << 20);
    } else if (a == "--max-ways") {
      o.limits.max_ways = parse_whole_number(a, value(), 1, 1024);
    } else if (a == "--max-entries") {
      o.limits.max_entries = parse_whole_number(a, value(), 1, 1u << 24);
    } else if (a == "--index") {
      const std::string v = value();
      if (!parse_iotlb_index(v, o.limits.index))
        throw UsageError{"--index: '" + v + "' is not accepted; expected page or page-xor-domain"};
      index_given = true;
    } else if (a == "--verify") {
      o.verify = parse_whole_number(a, value(), 0, 64);
      verify_given = true;
    } else if (a == "--verify-tolerance") {
      const std::string v = value();
      char* end = nullptr;
      o.verify_tolerance = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(o.verify_tolerance >= 0 && o.verify_tolerance <= 1))
        throw UsageError{"--verify-tolerance expects a hit-rate difference from 0 to 1, got '" + v + "'"};
      verify_given = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a +
                       "': accepted are --grid, --set, --metric, --target, --out, --jobs, --shard, "
                       "--timeout, --no-plots, --quiet, --one-pass, --keep-trace, --trace, --linux-trace, --devtlb-trace, "
                       "--domain, --passes, --max-sets, --max-ways, --max-entries, --index, --verify, "
                       "--verify-tolerance, --help"};
    } else if (o.platform.empty()) {
      o.platform = a;
    } else {
      throw UsageError{"more than one platform file ('" + o.platform + "' and '" + a + "')"};
    }
  }
  if (o.out_dir.empty()) throw UsageError{"--out DIR is required"};
  if (!o.platform.empty() && !fs::is_regular_file(o.platform))
    throw UsageError{"platform file '" + o.platform + "' not found"};
  const bool from_file = !o.trace.empty() || !o.linux_trace.empty() || !o.devtlb_trace.empty();
  if (from_file && !o.one_pass)
    throw UsageError{"--trace, --linux-trace and --devtlb-trace need --one-pass"};
  if (o.keep_trace && (!o.one_pass || from_file))
    throw UsageError{"--keep-trace keeps the streams of the platform run of a one-pass sweep: it needs "
                     "--one-pass on a platform, not a grid or a trace file"};
  if (o.one_pass) {
    if (!o.axes.empty())
      throw UsageError{"--one-pass explores every IOTLB geometry itself; it takes no --grid"};
    if (o.sharded) throw UsageError{"--shard applies to grid sweeps, not to --one-pass"};
    if (!o.metrics.empty())
      throw UsageError{"--metric adds statistics of platform runs to a grid sweep's CSV; a one-pass "
                       "CSV has the cache's counts only"};
    if (!o.trace.empty() && !o.linux_trace.empty())
      throw UsageError{"give either --trace or --linux-trace, not both"};
    if (!o.devtlb_trace.empty() && !o.linux_trace.empty())
      throw UsageError{"a Linux trace has no device-TLB stream: give --devtlb-trace with --trace or alone"};
    if (from_file && (!o.platform.empty() || !o.sets.empty()))
      throw UsageError{"a platform file or --set has no effect on an existing trace"};
    if (from_file && verify_given)
      throw UsageError{"--verify runs the platform again with other geometries: it needs a platform, not a trace file"};
    const std::string err = validate_one_pass_limits(o.limits);
    if (!err.empty()) throw UsageError{err};
    for (const SweepTarget& t : o.targets) {
      const auto& cols = one_pass_columns();
      if (std::find(cols.begin(), cols.end(), t.metric) == cols.end()) {
        std::string accepted;
        for (const std::string& c : cols) accepted += (accepted.empty() ? "" : ", ") + c;
        throw UsageError{"--target " + t.text + ": a one-pass sweep has no '" + t.metric +
                         "' (it counts hits and misses; timing needs a grid); accepted: " + accepted};
      }
    }
  } else if (index_given) {
    throw UsageError{"--index applies to --one-pass; a grid sweep sets the index with "
                     "--set or --grid iommu.iotlb.index=..."};
  } else if (verify_given) {
    throw UsageError{"--verify applies to --one-pass: a grid sweep's points are timed runs already"};
  } else if (o.axes.empty()) {
    throw UsageError{"a grid sweep needs at least one --grid KEY=V1,V2,... (or --one-pass)"};
  } else {
    for (const SweepTarget& t : o.targets) {
      const std::vector<std::string> cols = sweep_result_columns(o.metrics);
      if (std::find(cols.begin(), cols.end(), t.metric) == cols.end())
        throw UsageError{"--target " + t.text + ": the sweep's CSV has no column '" + t.metric +
                         "'; name a result column (hit_rate, latency_p99_ns, throughput_mbps, ...) or "
                         "add the statistic with --metric " + t.metric};
    }
  }
  return o;
}

int merge_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  bool plots = true;
  for (const std::string& a : args) {
    if (a == "--no-plots") plots = false;
    else if (!a.empty() && a[0] == '-' && a != "-") {
      err << "sweep merge: unknown option '" << a << "': accepted is --no-plots\n";
      return kExitBadInput;
    } else files.push_back(a);
  }
  if (files.size() < 2) {
    err << "sweep merge: usage: iommu-sim sweep merge OUT.csv IN1.csv [IN2.csv ...] "
           "[--no-plots]\n";
    return kExitBadInput;
  }
  const std::string output = files[0];
  files.erase(files.begin());
  size_t rows = 0;
  const std::string error = merge_sweep_csvs(files, output, rows);
  if (!error.empty()) {
    err << "sweep merge: " << error << "\n";
    return kExitBadInput;
  }
  out << "sweep merge: " << rows << " points from " << files.size() << " files -> " << output
      << "\n";
  // The shards' metadata is the same in each (one grid, one platform): the first one's goes with
  // the merged CSV.
  const auto meta_of = [](std::string csv) {
    if (csv.size() > 4 && csv.compare(csv.size() - 4, 4, ".csv") == 0) csv.resize(csv.size() - 4);
    return csv + ".meta.json";
  };
  std::error_code ec;
  if (fs::is_regular_file(meta_of(files[0])))
    fs::copy_file(meta_of(files[0]), meta_of(output), fs::copy_options::overwrite_existing, ec);
  if (plots) {
    const fs::path parent = fs::path(output).parent_path();
    make_plots("plot_sweep.py", output, parent.empty() ? "." : parent.string(), out, err);
  }
  return kExitOk;
}

}  // namespace

std::vector<std::string> sweep_result_columns(const std::vector<std::string>& metrics) {
  std::vector<std::string> columns = {
      "status",          "exit_code",      "iotlb_sets",      "iotlb_ways",
      "iotlb_entries",   "iotlb_policy",   "iotlb_index",     "dmas",
      "hit_rate",        "misses_per_1000_dmas", "walks",     "latency_mean_ns",
      "latency_p50_ns",  "latency_p50_error_ns", "latency_p99_ns", "latency_p99_error_ns",
      "throughput_mbps", "faults",         "devtlb_sets",     "devtlb_ways",
      "devtlb_entries",  "devtlb_hit_rate", "translation_requests_per_1000_dmas"};
  columns.insert(columns.end(), metrics.begin(), metrics.end());
  columns.insert(columns.end(), {"seconds", "config", "error"});
  return columns;
}

IotlbOp linux_dma_op_to_iotlb_op(const LinuxDmaOp& d, uint16_t domain) {
  IotlbOp op;
  op.entry.domain = domain;
  op.entry.vpn = d.vpn & kPageNumberMask;
  if (d.kind == LinuxDmaOp::Access) {
    op.kind = IotlbOp::Access;
    op.entry.pfn = d.entry_pfn & kPageNumberMask;
    op.entry.read = true;
    op.entry.write = d.write;
    op.entry.size = d.page_order == 18   ? PageSize::Size1G
                    : d.page_order == 9 ? PageSize::Size2M
                                        : PageSize::Size4K;
  } else {
    op.kind = IotlbOp::InvalidatePages;
    op.am = std::min(d.am, 63u);
  }
  return op;
}

std::vector<IotlbOp> linux_dma_ops_to_iotlb_ops(const std::vector<LinuxDmaOp>& ops,
                                                uint16_t domain) {
  std::vector<IotlbOp> out;
  out.reserve(ops.size());
  for (const LinuxDmaOp& d : ops) out.push_back(linux_dma_op_to_iotlb_op(d, domain));
  return out;
}

int sweep_main(const std::vector<std::string>& args, const std::string& self_exe,
               std::ostream& out, std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h" || a == "help") {
      out << kUsage;
      return kExitOk;
    }
  }
  if (!args.empty() && args[0] == "merge")
    return merge_main(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  SweepOptions o;
  try {
    o = parse_options(args);
  } catch (const UsageError& e) {
    err << "iommu-sim sweep: " << e.message << "\n(iommu-sim sweep --help lists the options)\n";
    return kExitBadInput;
  }
  try {
    return o.one_pass ? one_pass_sweep(o, self_exe, out, err) : grid_sweep(o, self_exe, out, err);
  } catch (const std::exception& e) {
    err << "iommu-sim sweep: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace iommu_sim
