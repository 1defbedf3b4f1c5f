#include "iommu_sim/platform/sweep/sweep.h"
#include "iommu_sim/platform/exit_codes.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/grid.h"
#include "iommu_sim/platform/sweep/one_pass.h"
#include "iommu_sim/platform/sweep/plots.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"

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
    "  --out DIR             DIR/sweep.csv, DIR/points/pNNNN.{json,config.yaml,log}, plots\n"
    "  --jobs N              points run at once (default: the number of CPUs)\n"
    "  --shard I/N           run only the I-th of N slices (1 <= I <= N), into\n"
    "                        DIR/sweep-shard-I-of-N.csv; join the slices with `sweep merge`\n"
    "  --timeout SECONDS     kill a point that runs longer and report it as failed\n"
    "  --no-plots            write the CSV only\n"
    "  --quiet               no progress lines\n"
    "one-pass LRU exploration (every geometry from one IOTLB access stream):\n"
    "  --one-pass            run the platform once with --iotlb-trace, then explore\n"
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
    "exit status: 0 success, 2 bad input, 1 failure (including a grid with a failed point)\n";

struct UsageError {
  std::string message;
};

struct Options {
  std::string platform;
  std::vector<GridAxis> axes;
  std::vector<std::string> sets;  // KEY=VALUE, for every point
  std::string out_dir;
  unsigned jobs = 0;
  bool sharded = false;
  unsigned shard_index = 1, shard_count = 1;
  double timeout_s = 0;
  bool plots = true;
  bool quiet = false;
  bool one_pass = false;
  OnePassLimits limits;
  std::string trace, linux_trace, devtlb_trace;
  uint16_t domain = 1;
  unsigned passes = 1;
};

unsigned parse_unsigned(const std::string& opt, const std::string& text, unsigned lo,
                        unsigned hi) {
  bool ok = !text.empty() && text.size() <= 9;
  for (char c : text) ok = ok && c >= '0' && c <= '9';
  const unsigned long v = ok ? std::strtoul(text.c_str(), nullptr, 10) : 0;
  if (!ok || v < lo || v > hi)
    throw UsageError{opt + " expects a whole number from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", got '" + text + "'"};
  return static_cast<unsigned>(v);
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  bool index_given = false;
  o.jobs = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError{a + " needs a value"};
      return args[++i];
    };
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
    } else if (a == "--out") {
      o.out_dir = value();
    } else if (a == "--jobs" || a == "-j") {
      o.jobs = parse_unsigned(a, value(), 1, 1024);
    } else if (a == "--shard") {
      std::string error;
      if (!parse_shard(value(), o.shard_index, o.shard_count, error)) throw UsageError{error};
      o.sharded = true;
    } else if (a == "--timeout") {
      o.timeout_s = parse_unsigned(a, value(), 1, 604800);
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--one-pass") {
      o.one_pass = true;
    } else if (a == "--trace") {
      o.trace = value();
    } else if (a == "--linux-trace") {
      o.linux_trace = value();
    } else if (a == "--devtlb-trace") {
      o.devtlb_trace = value();
    } else if (a == "--domain") {
      o.domain = static_cast<uint16_t>(parse_unsigned(a, value(), 0, 65535));
    } else if (a == "--passes") {
      o.passes = parse_unsigned(a, value(), 1, 1000);
    } else if (a == "--max-sets") {
      o.limits.max_sets = parse_unsigned(a, value(), 1, 1u << 20);
    } else if (a == "--max-ways") {
      o.limits.max_ways = parse_unsigned(a, value(), 1, 1024);
    } else if (a == "--max-entries") {
      o.limits.max_entries = parse_unsigned(a, value(), 1, 1u << 24);
    } else if (a == "--index") {
      const std::string v = value();
      if (!parse_iotlb_index(v, o.limits.index))
        throw UsageError{"--index: '" + v + "' is not accepted; expected page or page-xor-domain"};
      index_given = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a +
                       "': accepted are --grid, --set, --out, --jobs, --shard, --timeout, "
                       "--no-plots, --quiet, --one-pass, --trace, --linux-trace, --devtlb-trace, --domain, "
                       "--passes, --max-sets, --max-ways, --max-entries, --index, --help"};
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
  if (o.one_pass) {
    if (!o.axes.empty())
      throw UsageError{"--one-pass explores every IOTLB geometry itself; it takes no --grid"};
    if (o.sharded) throw UsageError{"--shard applies to grid sweeps, not to --one-pass"};
    if (!o.trace.empty() && !o.linux_trace.empty())
      throw UsageError{"give either --trace or --linux-trace, not both"};
    if (!o.devtlb_trace.empty() && !o.linux_trace.empty())
      throw UsageError{"a Linux trace has no device-TLB stream: give --devtlb-trace with --trace or alone"};
    if (from_file && (!o.platform.empty() || !o.sets.empty()))
      throw UsageError{"a platform file or --set has no effect on an existing trace"};
    const std::string err = validate_one_pass_limits(o.limits);
    if (!err.empty()) throw UsageError{err};
  } else if (index_given) {
    throw UsageError{"--index applies to --one-pass; a grid sweep sets the index with "
                     "--set or --grid iommu.iotlb.index=..."};
  } else if (o.axes.empty()) {
    throw UsageError{"a grid sweep needs at least one --grid KEY=V1,V2,... (or --one-pass)"};
  }
  return o;
}

std::string fmt_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string point_name(size_t index) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "p%04zu", index);
  return buf;
}

// FILE.json -> FILE.config.yaml, as `iommu-sim run --stats` names it.
std::string config_path_for(const std::string& stats_path) {
  const std::string ext = ".json";
  std::string base = stats_path;
  if (base.size() > ext.size() && base.compare(base.size() - ext.size(), ext.size(), ext) == 0)
    base.resize(base.size() - ext.size());
  return base + ".config.yaml";
}

// The IOTLB geometry a point ran with: from its effective configuration when it was written,
// else from the --set and grid values.
struct Geometry {
  std::string sets, ways, entries, policy;
  std::string devtlb_sets, devtlb_ways, devtlb_entries;  // the first endpoint's, with ATS
};

Geometry point_geometry(const std::string& config_path,
                        const std::map<std::string, std::string>& settings) {
  Geometry g;
  auto setting = [&](const char* key) {
    auto it = settings.find(key);
    return it == settings.end() ? std::string() : it->second;
  };
  g.sets = setting("iommu.iotlb.sets");
  g.ways = setting("iommu.iotlb.ways");
  g.entries = setting("iommu.iotlb.entries");
  g.policy = setting("iommu.iotlb.policy");
  g.devtlb_sets = setting("pcie.endpoints.0.ats.devtlb.sets");
  g.devtlb_ways = setting("pcie.endpoints.0.ats.devtlb.ways");
  try {
    if (fs::is_regular_file(config_path)) {
      const YAML::Node root = YAML::LoadFile(config_path);
      const YAML::Node iommu = root["iommu"];
      const YAML::Node iotlb = iommu ? iommu["iotlb"] : YAML::Node();
      if (iotlb && iotlb.IsMap()) {
        if (iotlb["sets"]) g.sets = iotlb["sets"].as<std::string>();
        if (iotlb["ways"]) g.ways = iotlb["ways"].as<std::string>();
        if (iotlb["entries"]) g.entries = iotlb["entries"].as<std::string>();
        if (iotlb["policy"]) g.policy = iotlb["policy"].as<std::string>();
      }
      const YAML::Node endpoints = root["pcie"] ? root["pcie"]["endpoints"] : YAML::Node();
      if (endpoints && endpoints.IsSequence() && endpoints.size() > 0 && endpoints[0]["ats"]) {
        const YAML::Node devtlb = endpoints[0]["ats"]["devtlb"];
        if (devtlb && devtlb["sets"]) g.devtlb_sets = devtlb["sets"].as<std::string>();
        if (devtlb && devtlb["ways"]) g.devtlb_ways = devtlb["ways"].as<std::string>();
      }
    }
  } catch (const std::exception&) {
    // An unreadable configuration leaves the values given on the command line.
  }
  // Size: sets x ways, or the fully associative size when ways is 0.
  char* end = nullptr;
  const unsigned long sets = std::strtoul(g.sets.c_str(), &end, 10);
  const bool sets_ok = !g.sets.empty() && *end == '\0';
  const unsigned long ways = std::strtoul(g.ways.c_str(), &end, 10);
  const bool ways_ok = !g.ways.empty() && *end == '\0';
  if (ways_ok && ways == 0) {
    g.sets = "1";
  } else if (sets_ok && ways_ok) {
    g.entries = std::to_string(sets * ways);
  }
  const unsigned long dsets = std::strtoul(g.devtlb_sets.c_str(), &end, 10);
  const bool dsets_ok = !g.devtlb_sets.empty() && *end == '\0';
  const unsigned long dways = std::strtoul(g.devtlb_ways.c_str(), &end, 10);
  if (dsets_ok && !g.devtlb_ways.empty() && *end == '\0') g.devtlb_entries = std::to_string(dsets * dways);
  return g;
}

int grid_sweep(const Options& o, const std::string& self_exe, std::ostream& out,
               std::ostream& err) {
  std::vector<GridPoint> points = expand_grid(o.axes);
  const size_t total_points = points.size();
  if (o.sharded) points = shard_points(points, o.shard_index, o.shard_count);
  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir / "points", ec);
  if (ec) {
    err << "sweep: cannot create " << (dir / "points").string() << ": " << ec.message() << "\n";
    return kExitBadInput;
  }

  std::map<std::string, std::string> base_settings;
  for (const std::string& kv : o.sets) {
    const size_t eq = kv.find('=');
    base_settings[kv.substr(0, eq)] = kv.substr(eq + 1);
  }

  std::vector<ProcessSpec> specs;
  for (const GridPoint& p : points) {
    ProcessSpec s;
    s.argv = {self_exe, "run"};
    if (!o.platform.empty()) s.argv.push_back(o.platform);
    for (const std::string& kv : o.sets) s.argv.insert(s.argv.end(), {"--set", kv});
    for (const auto& kv : p.settings) s.argv.insert(s.argv.end(), {"--set", kv.first + "=" + kv.second});
    const fs::path stats = dir / "points" / (point_name(p.index) + ".json");
    s.argv.insert(s.argv.end(), {"--stats", stats.string(), "--quiet"});
    s.log_path = (dir / "points" / (point_name(p.index) + ".log")).string();
    specs.push_back(s);
  }

  const std::vector<std::pair<std::string, std::string>> summary = {
      {"dmas", "summary.dmas"},
      {"hit_rate", "summary.iotlb_hit_rate"},
      {"misses_per_1000_dmas", "summary.iotlb_misses_per_1000_dmas"},
      {"walks", "summary.walks"},
      {"latency_mean_ns", "summary.dma_latency_mean_ns"},
      {"latency_p99_ns", "summary.dma_latency_p99_ns"},
      {"latency_p99_error_ns", "summary.dma_latency_p99_error_ns"},
      {"throughput_mbps", "summary.throughput_mbps"},
      {"faults", "summary.faults"},
  };
  const std::vector<std::pair<std::string, std::string>> ats_summary = {
      {"devtlb_hit_rate", "summary.devtlb_hit_rate"},
      {"translation_requests_per_1000_dmas", "summary.translation_requests_per_1000_dmas"},
  };

  std::vector<CsvRow> rows(points.size());
  size_t done_count = 0, failed = 0, bad_input = 0;
  std::string first_failure;
  if (!o.quiet)
    err << "sweep: " << points.size() << " points"
        << (o.sharded ? " (shard " + std::to_string(o.shard_index) + "/" +
                            std::to_string(o.shard_count) + " of " +
                            std::to_string(total_points) + ")"
                      : std::string())
        << ", " << o.jobs << " at a time\n";

  run_processes(specs, o.jobs, o.timeout_s, [&](size_t i, const ProcessResult& r) {
    const GridPoint& p = points[i];
    const std::string name = point_name(p.index);
    const fs::path stats_path = dir / "points" / (name + ".json");
    const std::string config_path = config_path_for(stats_path.string());
    std::map<std::string, std::string> settings = base_settings;
    for (const auto& kv : p.settings) settings[kv.first] = kv.second;

    std::map<std::string, double> stats;
    std::string error;
    bool ok = r.ok();
    if (!ok) {
      error = r.describe(o.timeout_s);
      const std::string tail = last_log_line(specs[i].log_path);
      if (!tail.empty()) error += ": " + tail;
      if (r.started && r.exit_code == kExitBadInput) ++bad_input;
    } else {
      std::ifstream in(stats_path);
      std::string json_error;
      if (!in) {
        ok = false;
        error = "exit 0 but no statistics file " + stats_path.string();
      } else if (!read_stats_json(in, stats, json_error)) {
        ok = false;
        error = "statistics file " + stats_path.string() + ": " + json_error;
      }
    }
    const Geometry g = point_geometry(config_path, settings);
    CsvRow row{std::to_string(p.index)};
    for (const auto& kv : p.settings) row.push_back(kv.second);
    row.push_back(ok ? "ok" : "failed");
    row.push_back(r.started && !r.timed_out && r.signal == 0 ? std::to_string(r.exit_code) : "");
    row.insert(row.end(), {g.sets, g.ways, g.entries, g.policy});
    for (const auto& col : summary) {
      auto it = stats.find(col.second);
      row.push_back(it == stats.end() ? "" : fmt_number(it->second));
    }
    row.insert(row.end(), {g.devtlb_sets, g.devtlb_ways, g.devtlb_entries});
    for (const auto& col : ats_summary) {
      auto it = stats.find(col.second);
      row.push_back(it == stats.end() ? "" : fmt_number(it->second));
    }
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3f", r.seconds);
    row.push_back(secs);
    row.push_back(fs::is_regular_file(config_path) ? "points/" + name + ".config.yaml" : "");
    row.push_back(error);
    rows[i] = row;

    ++done_count;
    if (!ok) {
      ++failed;
      if (first_failure.empty()) first_failure = "point " + std::to_string(p.index) + ": " + error;
    }
    if (!o.quiet) {
      err << "sweep: [" << done_count << "/" << points.size() << "] point " << p.index << " "
          << (ok ? "ok" : "FAILED (" + error + ")");
      for (const auto& kv : p.settings) err << " " << kv.first << "=" << kv.second;
      err << " " << secs << " s, " << failed << " failed so far\n";
    }
  });

  CsvRow header{"point"};
  for (const GridAxis& a : o.axes) header.push_back(a.key);
  for (const std::string& c : sweep_result_columns()) header.push_back(c);
  const std::string csv_name =
      o.sharded ? "sweep-shard-" + std::to_string(o.shard_index) + "-of-" +
                      std::to_string(o.shard_count) + ".csv"
                : "sweep.csv";
  const std::string csv = (dir / csv_name).string();
  {
    std::ofstream f(csv);
    write_csv_row(f, header);
    for (const CsvRow& row : rows) write_csv_row(f, row);
    f.flush();
    if (!f) {
      err << "sweep: cannot write " << csv << "\n";
      return kExitFailure;
    }
  }
  out << "sweep: " << points.size() << " points, " << points.size() - failed << " ok, " << failed
      << " failed -> " << csv << "\n";
  if (o.plots && !o.sharded) make_plots("plot_sweep.py", csv, dir.string(), out, err);
  if (failed == 0) return kExitOk;
  if (bad_input == points.size()) {
    err << "sweep: every point was rejected as bad input; first: " << first_failure << "\n";
    return kExitBadInput;
  }
  err << "sweep: " << failed << " point(s) failed; first: " << first_failure << "\n";
  return kExitFailure;
}

// Feeds a trace file (the IOTLB's, or device-TLBs') to the explorer (OnePassExplorer or
// DevtlbExplorer). Returns an exit code.
template <typename Explorer>
int explore_trace_file(const std::string& path, Explorer& ex, std::ostream& err) {
  std::ifstream in(path);
  if (!in) {
    err << "sweep: cannot open the trace " << path << "\n";
    return kExitBadInput;
  }
  IotlbTraceReader reader(in);
  IotlbOp op;
  while (reader.next(op)) {
    if (!ex.feed(op)) {
      err << "sweep: " << path << " line " << reader.line_number() << ": " << ex.error() << "\n";
      return kExitBadInput;
    }
  }
  if (!reader.error().empty()) {
    err << "sweep: " << path << ": " << reader.error() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

// Device-TLBs: every function has its own (the stream's domain is the function's requester ID),
// so each function's stream is explored apart and every geometry's counts are summed over the
// functions: what the platform gives with that geometry in every function's device-TLB.
class DevtlbExplorer {
 public:
  explicit DevtlbExplorer(const OnePassLimits& limits) : m_limits(limits) { m_limits.index = IotlbIndex::Page; }
  bool feed(const IotlbOp& op) {
    auto& ex = m_functions[op.entry.domain];
    if (!ex) ex = std::make_unique<OnePassExplorer>(m_limits);
    if (!ex->feed(op)) {
      m_error = ex->error();
      return false;
    }
    return true;
  }
  const std::string& error() const { return m_error; }
  size_t functions() const { return m_functions.size(); }
  uint64_t accesses() const {
    uint64_t n = 0;
    for (const auto& [rid, ex] : m_functions) n += ex->accesses();
    return n;
  }
  std::vector<GeometryCounts> results() const {
    std::vector<GeometryCounts> sum;
    for (const auto& [rid, ex] : m_functions) {
      const std::vector<GeometryCounts> r = ex->results();
      if (sum.empty()) {
        sum = r;
        continue;
      }
      for (size_t i = 0; i < r.size(); ++i) {
        CacheStats& a = sum[i].stats;
        const CacheStats& b = r[i].stats;
        a.lookups += b.lookups;
        a.hits += b.hits;
        a.misses += b.misses;
        a.fills += b.fills;
        a.evictions += b.evictions;
        a.invalidations += b.invalidations;
        a.invalidated_entries += b.invalidated_entries;
      }
    }
    return sum;
  }

 private:
  OnePassLimits m_limits;
  std::map<uint16_t, std::unique_ptr<OnePassExplorer>> m_functions;
  std::string m_error;
};

// One row per geometry. `cache` names the geometry columns and the hit rate: "iotlb" (columns
// iotlb_*, hit_rate) or "devtlb" (devtlb_*, devtlb_hit_rate, and how many functions were summed).
bool write_one_pass_csv(const std::string& path, const std::vector<GeometryCounts>& results,
                        const std::string& cache, IotlbIndex index, size_t functions) {
  std::ofstream f(path);
  const bool devtlb = cache == "devtlb";
  CsvRow header = {cache + "_sets", cache + "_ways", cache + "_entries", cache + "_policy"};
  if (devtlb) header.push_back("functions");
  header.insert(header.end(), {"accesses", "hits", "misses", devtlb ? "devtlb_hit_rate" : "hit_rate",
                               "misses_per_1000_accesses", "fills", "evictions", "invalidations",
                               "invalidated_entries"});
  if (!devtlb) header.push_back("iotlb_index");
  write_csv_row(f, header);
  for (const GeometryCounts& g : results) {
    const CacheStats& s = g.stats;
    const double n = static_cast<double>(s.lookups);
    CsvRow row = {std::to_string(g.sets), std::to_string(g.ways), std::to_string(g.entries), "lru"};
    if (devtlb) row.push_back(std::to_string(functions));
    row.insert(row.end(), {std::to_string(s.lookups), std::to_string(s.hits), std::to_string(s.misses),
                           fmt_number(n > 0 ? s.hits / n : 0.0), fmt_number(n > 0 ? 1000.0 * s.misses / n : 0.0),
                           std::to_string(s.fills), std::to_string(s.evictions),
                           std::to_string(s.invalidations), std::to_string(s.invalidated_entries)});
    if (!devtlb) row.push_back(to_string(index));
    write_csv_row(f, row);
  }
  f.flush();
  return static_cast<bool>(f);
}

int one_pass(const Options& o, const std::string& self_exe, std::ostream& out,
             std::ostream& err) {
  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    err << "sweep: cannot create " << dir.string() << ": " << ec.message() << "\n";
    return kExitBadInput;
  }
  OnePassExplorer ex(o.limits);
  DevtlbExplorer devtlb(o.limits);
  std::string devtlb_source = o.devtlb_trace;
  const auto start = std::chrono::steady_clock::now();
  std::string source;
  if (!o.devtlb_trace.empty()) {
    const int rc = explore_trace_file(o.devtlb_trace, devtlb, err);
    if (rc != kExitOk) return rc;
  }
  if (!o.devtlb_trace.empty() && o.trace.empty()) {
    // A device-TLB stream alone.
  } else if (!o.linux_trace.empty()) {
    std::ifstream in(o.linux_trace);
    if (!in) {
      err << "sweep: cannot open the Linux trace " << o.linux_trace << "\n";
      return kExitBadInput;
    }
    // Streamed: each event's accesses are fed as they are made, so memory stays flat however
    // long the capture and however large its mappings.
    LinuxAccessRule rule;
    rule.passes = o.passes;
    bool fed = true;
    const auto feed = [&](const LinuxDmaOp& d) { return fed = ex.feed(linux_dma_op_to_iotlb_op(d, o.domain)); };
    const LinuxTraceParseResult parsed = parse_linux_iommu_trace(
        in, [&](const LinuxIommuEvent& e) { return linux_event_to_dma_ops(e, rule, feed); });
    if (!fed) {
      err << "sweep: " << o.linux_trace << ": " << ex.error() << "\n";
      return kExitBadInput;
    }
    for (size_t i = 0; i < parsed.errors.size() && i < 10; ++i)
      err << "sweep: " << o.linux_trace << ": " << parsed.errors[i] << " (skipped)\n";
    if (parsed.skipped_lines > 10)
      err << "sweep: ... and " << parsed.skipped_lines - 10 << " more malformed lines\n";
    out << "sweep: " << o.linux_trace << ": " << parsed.event_count << " map/unmap events, "
        << parsed.skipped_lines << " malformed lines skipped\n";
    source = o.linux_trace;
  } else if (!o.trace.empty()) {
    const int rc = explore_trace_file(o.trace, ex, err);
    if (rc != kExitOk) return rc;
    source = o.trace;
  } else {
    // One platform run records the stream.
    const std::string trace = (dir / "iotlb.trace").string();
    const std::string devtlb_trace = (dir / "devtlb.trace").string();
    ProcessSpec s;
    s.argv = {self_exe, "run"};
    if (!o.platform.empty()) s.argv.push_back(o.platform);
    for (const std::string& kv : o.sets) s.argv.insert(s.argv.end(), {"--set", kv});
    s.argv.insert(s.argv.end(), {"--stats", (dir / "run.json").string(), "--iotlb-trace", trace,
                                 "--quiet"});
    // A platform records its functions' device-TLB streams too; a Linux capture (CAPTURE/
    // capture.txt) replays no device-TLBs.
    const bool platform_run = fs::path(o.platform).filename() != "capture.txt";
    if (platform_run) s.argv.insert(s.argv.end(), {"--devtlb-trace", devtlb_trace});
    s.log_path = (dir / "run.log").string();
    if (!o.quiet) err << "sweep: recording the IOTLB access stream (" << s.log_path << ")\n";
    const ProcessResult r = run_process(s);
    if (!r.ok()) {
      err << "sweep: the platform run failed (" << r.describe(0) << "): "
          << last_log_line(s.log_path) << "\n";
      return r.started && r.exit_code == kExitBadInput ? kExitBadInput : kExitFailure;
    }
    const int rc = explore_trace_file(trace, ex, err);
    if (rc != kExitOk) return rc == kExitBadInput ? kExitFailure : rc;  // our own run's trace: not user input
    source = trace;
    if (platform_run && fs::is_regular_file(devtlb_trace)) {
      const int drc = explore_trace_file(devtlb_trace, devtlb, err);
      if (drc != kExitOk) return drc == kExitBadInput ? kExitFailure : drc;
      devtlb_source = devtlb_trace;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", seconds);
  if (devtlb.accesses() > 0) {
    const std::string devtlb_csv = (dir / "devtlb_one_pass.csv").string();
    const std::vector<GeometryCounts> per_geometry = devtlb.results();
    if (!write_one_pass_csv(devtlb_csv, per_geometry, "devtlb", IotlbIndex::Page, devtlb.functions())) {
      err << "sweep: cannot write " << devtlb_csv << "\n";
      return kExitFailure;
    }
    out << "sweep: one pass over " << devtlb.accesses() << " device-TLB accesses of "
        << devtlb.functions() << " functions (" << devtlb_source << "): " << per_geometry.size()
        << " LRU geometries of every function's device-TLB -> " << devtlb_csv << "\n";
    if (o.plots) make_plots("plot_sweep.py", devtlb_csv, dir.string(), out, err);
  } else if (!o.devtlb_trace.empty()) {
    out << "sweep: " << o.devtlb_trace << " has no device-TLB accesses\n";
  }
  if (!o.devtlb_trace.empty() && o.trace.empty()) return kExitOk;

  const std::vector<GeometryCounts> results = ex.results();
  const std::string csv = (dir / "one_pass.csv").string();
  if (!write_one_pass_csv(csv, results, "iotlb", o.limits.index, 0)) {
    err << "sweep: cannot write " << csv << "\n";
    return kExitFailure;
  }
  out << "sweep: one pass over " << ex.accesses() << " accesses of " << source << ": "
      << results.size() << " LRU geometries (index " << to_string(o.limits.index) << ") in " << secs << " s -> " << csv << "\n";
  if (!o.linux_trace.empty() && results.size() > 1 &&
      std::all_of(results.begin(), results.end(), [&](const GeometryCounts& g) {
        return g.stats.hits == results.front().stats.hits;
      })) {
    // A map/unmap trace has no device accesses of its own: the import touches each mapping once
    // right after it is mapped, so no IOTLB size can do better than another.
    out << "sweep: note: every geometry has the same hit rate: the map/unmap events alone touch "
           "each mapping once, right after it is mapped, so they cannot tell IOTLB sizes apart. "
           "For the device's real access stream, capture Linux under QEMU "
           "(tools/linux-capture/capture.sh) and sweep the capture: iommu-sim sweep "
           "CAPTURE/capture.txt --one-pass\n";
  }
  if (o.plots) make_plots("plot_sweep.py", csv, dir.string(), out, err);
  return kExitOk;
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
  if (plots) {
    const fs::path parent = fs::path(output).parent_path();
    make_plots("plot_sweep.py", output, parent.empty() ? "." : parent.string(), out, err);
  }
  return kExitOk;
}

}  // namespace

const std::vector<std::string>& sweep_result_columns() {
  static const std::vector<std::string> columns = {
      "status",          "exit_code",      "iotlb_sets",      "iotlb_ways",
      "iotlb_entries",   "iotlb_policy",   "dmas",            "hit_rate",
      "misses_per_1000_dmas", "walks",     "latency_mean_ns", "latency_p99_ns",
      "latency_p99_error_ns", "throughput_mbps", "faults",    "devtlb_sets",
      "devtlb_ways",     "devtlb_entries", "devtlb_hit_rate", "translation_requests_per_1000_dmas",
      "seconds",         "config",         "error"};
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
  Options o;
  try {
    o = parse_options(args);
  } catch (const UsageError& e) {
    err << "iommu-sim sweep: " << e.message << "\n(iommu-sim sweep --help lists the options)\n";
    return kExitBadInput;
  }
  try {
    return o.one_pass ? one_pass(o, self_exe, out, err) : grid_sweep(o, self_exe, out, err);
  } catch (const std::exception& e) {
    err << "iommu-sim sweep: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace iommu_sim
