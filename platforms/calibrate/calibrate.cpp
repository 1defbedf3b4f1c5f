#include "iommu_sim/platform/calibrate/calibrate.h"
#include "iommu_sim/platform/exit_codes.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "iommu_sim/platform/calibrate/latency_fit.h"
#include "iommu_sim/platform/calibrate/measured_curve.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/plots.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/table.h"

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {

const char* const kUsage =
    "usage:\n"
    "  iommu-sim calibrate MEASURED.csv --out DIR [options]\n"
    "  iommu-sim calibrate --curve PLATFORM.yaml --windows W1,W2,... --out CURVE.csv [options]\n"
    "\n"
    "fit (MEASURED.csv: a curve CSV window,mean_ns[,p50_ns,p90_ns,p99_ns,samples] or a\n"
    "pcie-bench latency sweep CSV; docs/calibrate.md):\n"
    "  --out DIR            DIR/platform.yaml (the fitted platform), DIR/calibration.csv (per\n"
    "                       window), DIR/candidates.csv (every geometry tried), DIR/model/ (the\n"
    "                       model runs), DIR/calibration.png\n"
    "  --size BYTES         DMA size of the measurement (default: the file's SZ, else 64)\n"
    "  --cache STATE        pcie-bench host-cache state to fit (Cold, DThrash, DWarm, HWarm)\n"
    "  --levels 3|4         page-table depth of the measured system (default 4)\n"
    "  --prefer-read-ns NS  when the curve cannot tell a walk of several table reads from one of\n"
    "                       fewer, slower reads, take the one whose table read is nearest NS\n"
    "                       (default 80, a DRAM access)\n"
    "  --noise NS           standard error of the measured means (default: from the residuals)\n"
    "  --no-plots           write the CSVs only\n"
    "curve (the model's curve of a platform whose first endpoint's PF runs a random workload):\n"
    "  --curve PLATFORM.yaml --windows LIST --out CURVE.csv [--set KEY=VALUE]...\n"
    "both:\n"
    "  --dmas N             DMAs per model run (default 20000)\n"
    "  --seed S             seed of the model's random addresses (default 7)\n"
    "  --jobs N             model runs at once (default: the number of CPUs)\n"
    "  --quiet              no progress lines\n"
    "exit status: 0 success, 2 bad input, 1 a model run failed\n";

struct UsageError {
  std::string message;
};

struct Options {
  std::string measured, out;
  std::string curve_platform;
  std::vector<uint64_t> windows;
  std::vector<std::string> sets;
  uint32_t size = 0;
  std::string cache;
  unsigned levels = 4;
  double prefer_read_ns = 80;
  double noise_ns = 0;
  uint64_t dmas = 20000;
  uint64_t seed = 7;
  unsigned jobs = 1;
  bool plots = true;
  bool quiet = false;
};

double parse_number(const std::string& opt, const std::string& text, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
    std::ostringstream os;
    os << opt << " expects a number from " << lo << " to " << hi << ", got '" << text << "'";
    throw UsageError{os.str()};
  }
  return v;
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  o.jobs = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError{a + " needs a value"};
      return args[++i];
    };
    if (a == "--out") {
      o.out = value();
    } else if (a == "--curve") {
      o.curve_platform = value();
    } else if (a == "--windows") {
      std::stringstream ss(value());
      for (std::string w; std::getline(ss, w, ',');) {
        uint64_t b = 0;
        if (!parse_byte_count(w, b) || b == 0)
          throw UsageError{"--windows: '" + w + "' is not a byte count (65536, 64K, 1.5M)"};
        o.windows.push_back(b);
      }
    } else if (a == "--set") {
      const std::string& kv = value();
      if (kv.find('=') == std::string::npos || kv[0] == '=')
        throw UsageError{"--set expects KEY=VALUE, got '" + kv + "'"};
      o.sets.push_back(kv);
    } else if (a == "--size") {
      uint64_t b = 0;
      const std::string& v = value();
      if (!parse_byte_count(v, b) || b == 0 || b > 4096)
        throw UsageError{"--size expects a DMA size of 1 to 4096 bytes, got '" + v + "'"};
      o.size = static_cast<uint32_t>(b);
    } else if (a == "--cache") {
      o.cache = value();
    } else if (a == "--levels") {
      o.levels = static_cast<unsigned>(parse_number(a, value(), 3, 4));
    } else if (a == "--prefer-read-ns") {
      o.prefer_read_ns = parse_number(a, value(), 0, 1e6);
    } else if (a == "--noise") {
      o.noise_ns = parse_number(a, value(), 0, 1e6);
    } else if (a == "--dmas") {
      o.dmas = static_cast<uint64_t>(parse_number(a, value(), 100, 1e8));
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(parse_number(a, value(), 0, 1e15));
    } else if (a == "--jobs" || a == "-j") {
      o.jobs = static_cast<unsigned>(parse_number(a, value(), 1, 1024));
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a +
                       "': accepted are --out, --curve, --windows, --set, --size, --cache, "
                       "--levels, --prefer-read-ns, --noise, --dmas, --seed, --jobs, "
                       "--no-plots, --quiet, --help"};
    } else if (o.measured.empty()) {
      o.measured = a;
    } else {
      throw UsageError{"more than one measured curve ('" + o.measured + "' and '" + a + "')"};
    }
  }
  if (o.out.empty()) throw UsageError{"--out is required"};
  if (!o.curve_platform.empty()) {
    if (!o.measured.empty()) throw UsageError{"--curve takes a platform, not a measured curve"};
    if (o.windows.empty()) throw UsageError{"--curve needs --windows W1,W2,..."};
    if (!fs::is_regular_file(o.curve_platform))
      throw UsageError{"platform file '" + o.curve_platform + "' not found"};
  } else {
    if (o.measured.empty()) throw UsageError{"a MEASURED.csv (or --curve PLATFORM.yaml) is required"};
    if (!o.windows.empty() || !o.sets.empty())
      throw UsageError{"--windows and --set go with --curve; a fit takes its windows from the file"};
  }
  return o;
}

std::string number(double v) {
  std::ostringstream os;
  os << std::setprecision(10) << v;
  return os.str();
}

// ---------------------------------------------------------------- geometries

// The paging-structure caches: off, or on with `entries` (one set) per table level.
struct PsOption {
  bool on = false;
  unsigned entries = 0;
  bool operator==(const PsOption& o) const { return on == o.on && (!on || entries == o.entries); }
};

std::string ps_label(const PsOption& p) {
  return p.on ? "paging-structure caches of " + std::to_string(p.entries) + (p.entries == 1 ? " entry" : " entries")
              : "paging-structure caches off";
}

struct Geometry {
  unsigned sets = 1, ways = 0, entries = 128;  // ways 0: fully associative, `entries`
  PsOption ps;
  unsigned size() const { return ways ? sets * ways : entries; }
  std::string iotlb_label() const {
    if (ways == 0) return std::to_string(entries) + " entries, fully associative";
    return std::to_string(sets * ways) + " entries, " + std::to_string(sets) + " sets x " +
           std::to_string(ways) + (ways == 1 ? " way" : " ways");
  }
  bool operator==(const Geometry& o) const {
    return sets == o.sets && ways == o.ways && (ways != 0 || entries == o.entries) && ps == o.ps;
  }
};

// IOVA of the window: 1 GiB aligned, so that the regions a window covers are as few as its size
// allows at every table level.
constexpr uint64_t kWindowBase = 0x40000000;

struct PlatformValues {
  Geometry geometry;
  double upstream_ns = 20, read_ns = 80;
  uint32_t size = 64;
  uint64_t window = 1 << 20;
  uint64_t dmas = 20000, seed = 7;
  unsigned levels = 4;
};

// The calibration platform: one endpoint whose PF reads `size` bytes at random addresses of a
// window, one at a time, through the root complex and the IOMMU, 4 KiB mappings.
std::string platform_yaml(const PlatformValues& v, const std::string& header) {
  const Geometry& g = v.geometry;
  std::ostringstream y;
  y << header;
  y << "simulation: {quantum_ns: 1000}\n";
  y << "memory:\n";
  y << "  read_latency_ns: " << number(v.read_ns) << "    # the data read and every table read\n";
  y << "  write_latency_ns: " << number(v.read_ns) << "   # not fitted: set to the read latency\n";
  y << "iommu:\n";
  y << "  levels: [" << v.levels << "]\n";
  y << "  superpages_2m: false\n";
  y << "  superpages_1g: false\n";
  if (g.ways == 0)
    y << "  iotlb: {sets: 1, ways: 0, entries: " << g.entries << ", policy: lru}\n";
  else
    y << "  iotlb: {sets: " << g.sets << ", ways: " << g.ways << ", policy: lru}\n";
  y << "  pscache: {enabled: " << (g.ps.on ? "true" : "false")
    << ", sets: 1, ways: " << (g.ps.on ? g.ps.entries : 16) << "}\n";
  y << "pcie:\n";
  y << "  upstream_latency_ns: " << number(v.upstream_ns) << "   # link and root complex, per DMA\n";
  y << "  endpoints:\n";
  y << "    - name: dev0\n";
  y << "      bus: 1\n";
  y << "      total_vfs: 0\n";
  y << "      pf_workload: {kind: random, base: 0x" << std::hex << kWindowBase << std::dec
    << ", window: " << v.window << ", size: " << v.size << ", direction: read, count: " << v.dmas
    << ", gap_ns: 0, seed: " << v.seed << "}\n";
  y << "host:\n";
  y << "  invalidation: register   # no queue: every table read the IOMMU makes is a DMA's\n";
  y << "  driver:\n";
  y << "    levels: " << v.levels << "\n";
  y << "    buffer_base: 0x40000000\n";
  y << "    buffer_size: " << std::max<uint64_t>(1ULL << 30, (v.window + (1ULL << 20) - 1) & ~((1ULL << 20) - 1))
    << "\n";
  return y.str();
}

// ---------------------------------------------------------------- model runs

struct ModelPoint {
  bool ok = false;
  std::string error;
  double mean_ns = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0;
  double reads_per_dma = 0, walks_per_dma = 0;
  uint64_t dmas = 0;
};

struct ModelJob {
  std::string platform;             // YAML file
  std::vector<std::string> sets;    // extra --set for every point
  double upstream_ns = 0, read_ns = 0;  // what the platform runs with (for K)
};

// Every (job, window) as `iommu-sim run`, jobs x windows, `parallel` at a time.
std::vector<std::vector<ModelPoint>> run_model(const std::vector<ModelJob>& jobs,
                                               const std::vector<uint64_t>& windows,
                                               const std::string& dir, const std::string& self_exe,
                                               unsigned parallel, bool quiet, std::ostream& err,
                                               size_t first_index = 0) {
  std::vector<ProcessSpec> specs;
  std::vector<std::string> stats;
  for (size_t j = 0; j < jobs.size(); ++j) {
    for (size_t w = 0; w < windows.size(); ++w) {
      char name[48];
      std::snprintf(name, sizeof name, "g%02zu-w%02zu", j + first_index, w);
      const std::string base = (fs::path(dir) / name).string();
      ProcessSpec s;
      s.argv = {self_exe, "run", jobs[j].platform};
      for (const std::string& kv : jobs[j].sets) s.argv.insert(s.argv.end(), {"--set", kv});
      s.argv.insert(s.argv.end(), {"--set", "pcie.endpoints.0.pf_workload.window=" + std::to_string(windows[w]),
                                   "--stats", base + ".json", "--quiet"});
      s.log_path = base + ".log";
      specs.push_back(s);
      stats.push_back(base + ".json");
    }
  }
  std::vector<std::vector<ModelPoint>> result(jobs.size(), std::vector<ModelPoint>(windows.size()));
  size_t finished = 0;
  run_processes(specs, parallel, 0, [&](size_t i, const ProcessResult& r) {
    ModelPoint& p = result[i / windows.size()][i % windows.size()];
    ++finished;
    if (!quiet && (finished % 24 == 0 || finished == specs.size()))
      err << "calibrate: model runs " << finished << "/" << specs.size() << "\n";
    if (!r.ok()) {
      p.error = r.describe(0) + ": " + last_log_line(specs[i].log_path);
      return;
    }
    std::ifstream in(stats[i]);
    std::map<std::string, double> st;
    std::string e;
    if (!in || !read_stats_json(in, st, e)) {
      p.error = "unreadable statistics " + stats[i] + (e.empty() ? "" : ": " + e);
      return;
    }
    // The endpoint's PF: the one `*.pf.latency` histogram of the calibration platform.
    std::string engine;
    for (const auto& [k, v] : st) {
      const std::string tail = ".pf.latency.mean";
      if (k.size() > tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0) {
        if (!engine.empty()) {
          p.error = "the platform has more than one endpoint PF; calibration drives the first only";
          return;
        }
        engine = k.substr(0, k.size() - std::string(".latency.mean").size());
      }
    }
    if (engine.empty()) {
      p.error = "no endpoint PF ran DMA (the platform needs pcie.endpoints.0 with a random pf_workload)";
      return;
    }
    auto get = [&](const std::string& k) { auto it = st.find(k); return it == st.end() ? 0.0 : it->second; };
    const double dmas = get(engine + ".dmas");
    if (dmas <= 0 || get(engine + ".errors") > 0) {
      p.error = "the DMAs failed (" + number(get(engine + ".errors")) + " errors of " + number(dmas) + ")";
      return;
    }
    p.ok = true;
    p.dmas = static_cast<uint64_t>(dmas);
    p.mean_ns = get(engine + ".latency.mean") / 1000.0;
    p.p50_ns = get(engine + ".latency.p50") / 1000.0;
    p.p90_ns = get(engine + ".latency.p90") / 1000.0;
    p.p99_ns = get(engine + ".latency.p99") / 1000.0;
    p.reads_per_dma = get("platform.iommu.walk_reads") / dmas;
    p.walks_per_dma = get("platform.iommu.walks") / dmas;
  });
  return result;
}

CandidateCurve model_curve(const std::vector<ModelPoint>& points, const ModelJob& job) {
  CandidateCurve c;
  for (const ModelPoint& p : points) {
    c.reads_per_dma.push_back(p.reads_per_dma);
    c.walks_per_dma.push_back(p.walks_per_dma);
    c.other_ns.push_back(p.mean_ns - job.upstream_ns - job.read_ns * (1.0 + p.reads_per_dma));
  }
  return c;
}

std::string first_error(const std::vector<std::vector<ModelPoint>>& runs) {
  for (const auto& g : runs)
    for (const ModelPoint& p : g)
      if (!p.ok) return p.error;
  return "";
}

// ---------------------------------------------------------------- the curve of a platform

int curve_mode(const Options& o, const std::string& self_exe, std::ostream& out, std::ostream& err) {
  // The platform must have an endpoint whose PF the windows are set on: say so before any run.
  try {
    const YAML::Node root = YAML::LoadFile(o.curve_platform);
    const YAML::Node eps = root["pcie"] ? root["pcie"]["endpoints"] : YAML::Node();
    if (!eps || !eps.IsSequence() || eps.size() == 0) {
      err << "calibrate: " << o.curve_platform << " has no pcie.endpoints: --curve sets the window of the "
          << "first endpoint's PF, whose pf_workload must be random (the platform calibrate writes is one)\n";
      return kExitBadInput;
    }
  } catch (const YAML::Exception& e) {
    err << "calibrate: " << o.curve_platform << ": " << e.what() << "\n";
    return kExitBadInput;
  }
  const fs::path out_file(o.out);
  const fs::path dir = (out_file.has_parent_path() ? out_file.parent_path() : fs::path(".")) /
                       (out_file.stem().string() + ".runs");
  fs::create_directories(dir);
  ModelJob job;
  job.platform = o.curve_platform;
  job.sets = o.sets;
  job.sets.push_back("pcie.endpoints.0.pf_workload.count=" + std::to_string(o.dmas));
  job.sets.push_back("pcie.endpoints.0.pf_workload.seed=" + std::to_string(o.seed));
  if (o.size) job.sets.push_back("pcie.endpoints.0.pf_workload.size=" + std::to_string(o.size));
  std::vector<uint64_t> windows = o.windows;
  std::sort(windows.begin(), windows.end());
  windows.erase(std::unique(windows.begin(), windows.end()), windows.end());
  const auto runs = run_model({job}, windows, dir.string(), self_exe, o.jobs, o.quiet, err);
  const std::string e = first_error(runs);
  if (!e.empty()) {
    err << "calibrate: a model run failed: " << e << "\n";
    return e.find("exit 2") == 0 ? kExitBadInput : kExitFailure;
  }
  MeasuredCurve curve;
  for (size_t w = 0; w < windows.size(); ++w) {
    const ModelPoint& p = runs[0][w];
    CurvePoint c;
    c.window = windows[w];
    c.mean_ns = p.mean_ns;
    c.p50_ns = p.p50_ns;
    c.p90_ns = p.p90_ns;
    c.p99_ns = p.p99_ns;
    c.samples = p.dmas;
    curve.points.push_back(c);
  }
  std::ofstream f(o.out);
  if (!f) {
    err << "calibrate: cannot write " << o.out << "\n";
    return kExitBadInput;
  }
  f << "# the model's curve of " << o.curve_platform << " (iommu-sim calibrate --curve)\n";
  write_curve_csv(f, curve);
  if (!o.quiet) out << "calibrate: " << windows.size() << " windows of " << o.curve_platform << " -> " << o.out << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------- the fit

struct Candidate {
  Geometry geometry;
  std::string role;       // why it was run
  int ps_class = -1;      // index into the classes
  LinearFit fit;
  CandidateCurve curve;
  double analytic_sse = -1;
};

struct PsClass {
  PsOption representative;  // the smallest member
  unsigned max_entries = 0;  // the largest member (0: off)
  bool open_ended = false;   // every larger size too
  double analytic_sse = 0;
  unsigned analytic_entries = 0;  // the IOTLB size that fits best with it
  std::string label() const {
    if (!representative.on) return "paging-structure caches off";
    if (open_ended) return "paging-structure caches of >= " + std::to_string(representative.entries) + " entries";
    if (max_entries != representative.entries)
      return "paging-structure caches of " + std::to_string(representative.entries) + "-" +
             std::to_string(max_entries) + " entries";
    return ps_label(representative);
  }
};

double rms(double sse, size_t n) { return n ? std::sqrt(sse / static_cast<double>(n)) : 0.0; }

int fit_mode(const Options& o, const std::string& self_exe, std::ostream& out, std::ostream& err) {
  CurveReadOptions ro;
  ro.cache_state = o.cache;
  MeasuredCurve measured;
  const std::string read_error = read_measured_curve_file(o.measured, ro, measured);
  if (!read_error.empty()) {
    err << "calibrate: " << read_error << "\n";
    return kExitBadInput;
  }
  uint32_t size = o.size ? o.size : (measured.access_size ? measured.access_size : 64);
  if (o.size && measured.access_size && o.size != measured.access_size) {
    err << "calibrate: --size " << o.size << " but " << o.measured << " was measured with "
        << measured.access_size << "-byte DMAs\n";
    return kExitBadInput;
  }
  std::vector<uint64_t> windows;
  std::vector<double> y;
  for (const CurvePoint& p : measured.points) {
    if (p.window < size || p.window % size) {
      err << "calibrate: window " << p.window << " is not a whole number of " << size
          << "-byte DMAs\n";
      return kExitBadInput;
    }
    if (p.window > (4ULL << 30)) {
      err << "calibrate: window " << format_byte_count(p.window) << " is beyond 4G, the largest the "
          << "calibration platform maps\n";
      return kExitBadInput;
    }
    windows.push_back(p.window);
    y.push_back(p.mean_ns);
  }
  const size_t n = windows.size();
  const fs::path dir(o.out);
  std::error_code ec;
  fs::create_directories(dir / "model", ec);
  if (ec) {
    err << "calibrate: cannot create " << (dir / "model").string() << ": " << ec.message() << "\n";
    return kExitBadInput;
  }
  const double noise_floor = 0.1;  // ns: below this residuals are the model's own sampling
  const unsigned fitted_params = 4;  // U, R, IOTLB entries, paging-structure caches
  const auto t0 = std::chrono::steady_clock::now();

  // ---- Analytic ranking: every IOTLB size and paging-structure cache option.
  std::vector<unsigned> sizes;
  for (unsigned k = 0; k <= 96; ++k) {
    const unsigned e = static_cast<unsigned>(std::lround(std::pow(2.0, k / 8.0)));
    if (sizes.empty() || sizes.back() != e) sizes.push_back(e);
  }
  std::vector<PsOption> ps_options = {{false, 0}};
  for (unsigned e = 1; e <= 1024; e *= 2) ps_options.push_back({true, e});
  struct AnalyticBest {
    double sse = 1e300;
    unsigned entries = 0;
  };
  std::vector<AnalyticBest> per_option(ps_options.size());
  std::map<std::pair<size_t, unsigned>, double> analytic_sse;  // (option, entries) -> sse
  auto analytic = [&](unsigned entries, const PsOption& ps) {
    AnalyticGeometry ag;
    ag.entries = entries;
    ag.pscache = ps.on;
    ag.ps_entries = ps.entries;
    ag.levels = o.levels;
    return analytic_curve(ag, windows, kWindowBase, o.dmas);
  };
  for (size_t i = 0; i < ps_options.size(); ++i) {
    for (unsigned e : sizes) {
      const LinearFit f = fit_latencies(y, analytic(e, ps_options[i]));
      analytic_sse[{i, e}] = f.sse;
      if (f.sse < per_option[i].sse) per_option[i] = AnalyticBest{f.sse, e};
    }
  }
  // Options that give the same curve at their best IOTLB size are one class: the curve cannot
  // tell them apart at all (a cache larger than every window's regions never misses).
  std::vector<PsClass> classes;
  std::vector<int> class_of(ps_options.size(), -1);
  for (size_t i = 0; i < ps_options.size(); ++i) {
    const CandidateCurve ci = analytic(per_option[i].entries, ps_options[i]);
    for (size_t c = 0; c < classes.size() && class_of[i] < 0; ++c) {
      if (!ps_options[i].on || !classes[c].representative.on) continue;
      const CandidateCurve cc = analytic(per_option[i].entries, classes[c].representative);
      bool same = true;
      for (size_t w = 0; w < n; ++w)
        same = same && std::fabs(ci.reads_per_dma[w] - cc.reads_per_dma[w]) < 1e-9;
      if (same) {
        class_of[i] = static_cast<int>(c);
        classes[c].max_entries = std::max(classes[c].max_entries, ps_options[i].entries);
      }
    }
    if (class_of[i] < 0) {
      class_of[i] = static_cast<int>(classes.size());
      PsClass k;
      k.representative = ps_options[i];
      k.max_entries = ps_options[i].entries;
      k.analytic_sse = per_option[i].sse;
      k.analytic_entries = per_option[i].entries;
      classes.push_back(k);
    }
  }
  for (PsClass& k : classes) k.open_ended = k.representative.on && k.max_entries == ps_options.back().entries;
  std::vector<size_t> ranked(classes.size());
  for (size_t i = 0; i < ranked.size(); ++i) ranked[i] = i;
  std::sort(ranked.begin(), ranked.end(),
            [&](size_t a, size_t b) { return classes[a].analytic_sse < classes[b].analytic_sse; });
  const double best_analytic = classes[ranked[0]].analytic_sse;
  const double dof = std::max(1.0, static_cast<double>(n) - fitted_params);
  const double sigma2_analytic =
      std::max(best_analytic / dof, std::pow(std::max(o.noise_ns, noise_floor), 2));

  // ---- The model runs: the close classes around their best size, the best rejected class and
  // the default caches for reference, and set-associative geometries of the best size.
  std::vector<Candidate> candidates;
  auto add = [&](const Geometry& g, const std::string& role, int cls) {
    for (const Candidate& c : candidates)
      if (c.geometry == g) return;
    Candidate c;
    c.geometry = g;
    c.role = role;
    c.ps_class = cls;
    candidates.push_back(c);
  };
  auto fa = [](unsigned entries, const PsOption& ps) {
    Geometry g;
    g.sets = 1;
    g.ways = 0;
    g.entries = std::clamp(entries, 1u, 4096u);
    g.ps = ps;
    return g;
  };
  std::vector<size_t> close, others;
  for (size_t c : ranked)
    (classes[c].analytic_sse <= best_analytic + 9.0 * sigma2_analytic ? close : others).push_back(c);
  if (close.size() > 3) close.resize(3);
  for (size_t c : close) {
    const unsigned e = classes[c].analytic_entries;
    for (int k = -2; k <= 2; ++k)
      add(fa(static_cast<unsigned>(std::lround(e * std::pow(2.0, k / 4.0))), classes[c].representative),
          k == 0 ? "best of its kind" : "entries profile", static_cast<int>(c));
  }
  if (!others.empty())
    add(fa(classes[others[0]].analytic_entries, classes[others[0]].representative), "next best, rejected",
        static_cast<int>(others[0]));
  {
    const PsOption def{true, 16};
    for (size_t i = 0; i < ps_options.size(); ++i)
      if (ps_options[i] == def)
        add(fa(per_option[i].entries, def), "the model's default caches", class_of[i]);
  }
  auto analytic_of = [&](const Geometry& g) {
    size_t option = 0;
    for (size_t i = 0; i < ps_options.size(); ++i)
      if (ps_options[i] == g.ps) option = i;
    auto it = analytic_sse.find({option, g.size()});
    return it == analytic_sse.end() ? fit_latencies(y, analytic(g.size(), g.ps)).sse : it->second;
  };

  // Runs the model for candidates [first, end): each geometry with fixed latencies, from which
  // t and K come out (latency_fit.h), then fits U and R to it.
  const double run_upstream = 100, run_read = 50;
  size_t model_runs = 0;
  auto run_candidates = [&](size_t first) -> bool {
    std::vector<ModelJob> jobs;
    for (size_t i = first; i < candidates.size(); ++i) {
      PlatformValues v;
      v.geometry = candidates[i].geometry;
      v.upstream_ns = run_upstream;
      v.read_ns = run_read;
      v.size = size;
      v.dmas = o.dmas;
      v.seed = o.seed;
      v.levels = o.levels;
      v.window = windows.back();
      char name[32];
      std::snprintf(name, sizeof name, "g%02zu.yaml", i);
      const std::string path = (dir / "model" / name).string();
      std::ofstream f(path);
      f << platform_yaml(v, "# candidate " + std::to_string(i) + ": " + candidates[i].geometry.iotlb_label() +
                                ", " + ps_label(candidates[i].geometry.ps) + " (" + candidates[i].role + ")\n");
      if (!f) {
        err << "calibrate: cannot write " << path << "\n";
        return false;
      }
      jobs.push_back(ModelJob{path, {}, run_upstream, run_read});
      candidates[i].analytic_sse = analytic_of(candidates[i].geometry);
    }
    if (jobs.empty()) return true;
    if (!o.quiet)
      err << "calibrate: running the model for " << jobs.size() << " geometries x " << n << " windows, "
          << o.jobs << " at a time\n";
    const auto runs = run_model(jobs, windows, (dir / "model").string(), self_exe, o.jobs, o.quiet, err,
                                first);
    model_runs += jobs.size() * n;
    const std::string run_error = first_error(runs);
    if (!run_error.empty()) {
      err << "calibrate: a model run failed: " << run_error << "\n";
      return false;
    }
    for (size_t i = first; i < candidates.size(); ++i) {
      candidates[i].curve = model_curve(runs[i - first], jobs[i - first]);
      candidates[i].fit = fit_latencies(y, candidates[i].curve);
    }
    return true;
  };
  if (!run_candidates(0)) return kExitFailure;

  // ---- The best fully associative candidate; classes the model cannot tell from it.
  auto is_fa = [](const Candidate& c) { return c.geometry.ways == 0; };
  size_t best = candidates.size();
  for (size_t i = 0; i < candidates.size(); ++i)
    if (is_fa(candidates[i]) && (best == candidates.size() || candidates[i].fit.sse < candidates[best].fit.sse))
      best = i;
  // The noise a comparison has to clear: the measurement's (given, or estimated from the best
  // fit's residuals) plus the model's own sampling, since each candidate curve comes from a
  // finite run: per window the miss fraction is binomial, and a miss costs the walk.
  const double sigma2_data =
      o.noise_ns > 0 ? o.noise_ns * o.noise_ns
                     : std::max(candidates[best].fit.sse / dof, noise_floor * noise_floor);
  double sigma2_model = 0;
  {
    const Candidate& b = candidates[best];
    for (size_t i = 0; i < n; ++i) {
      const double m = b.curve.walks_per_dma[i];
      if (m <= 0) continue;
      const double penalty = b.fit.read_ns * b.curve.reads_per_dma[i] / m + (b.curve.other_ns[i] - b.curve.other_ns[0]) / m;
      sigma2_model += penalty * penalty * m * (1 - m) / static_cast<double>(o.dmas) / static_cast<double>(n);
    }
  }
  const double sigma2 = sigma2_data + sigma2_model;
  // Per class, its best model candidate.
  std::map<int, size_t> class_best;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!is_fa(candidates[i])) continue;
    auto it = class_best.find(candidates[i].ps_class);
    if (it == class_best.end() || candidates[i].fit.sse < candidates[it->second].fit.sse)
      class_best[candidates[i].ps_class] = i;
  }
  // Within 2 sigma (delta chi-square 4) the curve cannot tell two explanations apart: then the
  // one whose table read is nearest the preferred latency is taken.
  std::vector<size_t> tied, rejected;
  for (const auto& [cls, i] : class_best)
    (candidates[i].fit.sse <= candidates[best].fit.sse + 4.0 * sigma2 ? tied : rejected).push_back(i);
  size_t chosen = best;
  for (size_t i : tied)
    if (std::fabs(candidates[i].fit.read_ns - o.prefer_read_ns) <
        std::fabs(candidates[chosen].fit.read_ns - o.prefer_read_ns))
      chosen = i;
  const int chosen_class = candidates[chosen].ps_class;

  // IOTLB entries: a parabola through the profile (sum of squares against log2 of the size)
  // around the best size of the chosen class, and its delta chi-square 1 interval; e_lo/e_hi 0:
  // no bound on that side from the sizes run.
  double e_hat = 0, e_lo = 0, e_hi = 0;
  bool parabola = false;
  auto profile_entries = [&]() {
    std::vector<std::pair<double, double>> profile;  // log2 entries, sse
    for (const Candidate& c : candidates)
      if (is_fa(c) && c.ps_class == chosen_class) profile.push_back({std::log2(c.geometry.entries), c.fit.sse});
    std::sort(profile.begin(), profile.end());
    size_t m = 0;
    for (size_t k = 0; k < profile.size(); ++k)
      if (profile[k].second < profile[m].second) m = k;
    e_hat = std::pow(2.0, profile[m].first);
    e_lo = e_hi = 0;
    parabola = false;
    if (m > 0 && m + 1 < profile.size()) {
      const double x0 = profile[m - 1].first, x1 = profile[m].first, x2 = profile[m + 1].first;
      const double f0 = profile[m - 1].second, f1 = profile[m].second, f2 = profile[m + 1].second;
      const double d01 = (f1 - f0) / (x1 - x0), d12 = (f2 - f1) / (x2 - x1);
      const double a = (d12 - d01) / (x2 - x0);  // f = a (x - xv)^2 + fv
      if (a > 0) {
        const double xv = 0.5 * (x0 + x1) - d01 / (2 * a);
        const double half = std::sqrt(sigma2 / a);
        e_hat = std::pow(2.0, xv);
        e_lo = std::pow(2.0, xv - half);
        e_hi = std::pow(2.0, xv + half);
        parabola = true;
        return;
      }
    }
    // The nearest sizes run on either side that fit worse by more than delta chi-square 1.
    for (size_t k = m; k-- > 0;)
      if (profile[k].second > profile[m].second + sigma2) {
        e_lo = std::pow(2.0, profile[k].first);
        break;
      }
    for (size_t k = m + 1; k < profile.size(); ++k)
      if (profile[k].second > profile[m].second + sigma2) {
        e_hi = std::pow(2.0, profile[k].first);
        break;
      }
  };
  profile_entries();

  // A second batch: sizes closer around the profile's minimum (steps of 2^(1/16)), and the
  // geometries of the nearest power-of-two size with other associativities, same caches.
  const size_t second_batch = candidates.size();
  for (int k = -2; k <= 2; ++k)
    add(fa(static_cast<unsigned>(std::lround(e_hat * std::pow(2.0, k / 16.0))), candidates[chosen].geometry.ps),
        "entries profile", chosen_class);
  const unsigned pow2 = 1u << std::clamp(static_cast<int>(std::lround(std::log2(e_hat))), 2, 12);
  std::vector<Geometry> assoc_geometries;
  for (unsigned ways : {0u, 4u, 1u}) {
    Geometry g = fa(pow2, candidates[chosen].geometry.ps);
    if (ways) {
      g.ways = ways;
      g.sets = pow2 / ways;
    }
    assoc_geometries.push_back(g);
    add(g, "associativity check", chosen_class);
  }
  if (!run_candidates(second_batch)) return kExitFailure;
  auto best_of_class = [&]() {
    for (size_t i = 0; i < candidates.size(); ++i)
      if (is_fa(candidates[i]) && candidates[i].ps_class == chosen_class &&
          candidates[i].fit.sse < candidates[chosen].fit.sse)
        chosen = i;
  };
  best_of_class();
  profile_entries();
  // The profile's minimum itself, when it falls between the sizes run.
  if (parabola) {
    const size_t third_batch = candidates.size();
    add(fa(static_cast<unsigned>(std::lround(e_hat)), candidates[chosen].geometry.ps), "entries profile",
        chosen_class);
    if (!run_candidates(third_batch)) return kExitFailure;
    best_of_class();
    profile_entries();
  }
  auto entries_interval = [&]() {
    std::ostringstream os;
    if (parabola) {
      os << "68% interval " << std::lround(e_lo) << ".." << std::lround(e_hi) << " (profile minimum "
         << fixed_text(e_hat, 1) << ")";
    } else {
      os << "68% interval: " << (e_lo > 0 ? "more than " + std::to_string(std::lround(e_lo)) : "no lower bound")
         << ", " << (e_hi > 0 ? "fewer than " + std::to_string(std::lround(e_hi)) : "no upper bound")
         << " among the sizes run";
    }
    return os.str();
  };

  std::vector<size_t> assoc;
  for (const Geometry& g : assoc_geometries)
    for (size_t i = 0; i < candidates.size(); ++i)
      if (candidates[i].geometry == g) assoc.push_back(i);
  double assoc_spread = 0;
  size_t assoc_best = assoc[0];
  for (size_t a : assoc) {
    for (size_t b : assoc) assoc_spread = std::max(assoc_spread, candidates[a].fit.sse - candidates[b].fit.sse);
    if (candidates[a].fit.sse < candidates[assoc_best].fit.sse) assoc_best = a;
  }
  // Associativity is told only when the geometries differ by more than the noise can make them
  // (every window off by sigma) and a set-associative one fits better than every fully
  // associative size by as much.
  const double assoc_threshold = 4.0 * static_cast<double>(n) * sigma2;
  const bool assoc_determined = assoc_spread > assoc_threshold && candidates[assoc_best].geometry.ways != 0 &&
                                candidates[assoc_best].fit.sse + assoc_threshold < candidates[chosen].fit.sse;
  const size_t written = assoc_determined ? assoc_best : chosen;
  const Candidate& w = candidates[written];
  const LinearFit& fit = w.fit;

  // ---- The fitted platform, run once more at every window: the fitted curve is the model's.
  PlatformValues v;
  v.geometry = w.geometry;
  v.upstream_ns = fit.upstream_ns;
  v.read_ns = fit.read_ns;
  v.size = size;
  v.dmas = o.dmas;
  v.seed = o.seed;
  v.levels = o.levels;
  v.window = windows.back();
  const std::string verify_path = (dir / "model" / "fitted.yaml").string();
  {
    std::ofstream f(verify_path);
    f << platform_yaml(v, "# the fitted platform, as run for the fitted curve\n");
  }
  const auto verify = run_model({ModelJob{verify_path, {}, fit.upstream_ns, fit.read_ns}}, windows,
                                (dir / "model").string(), self_exe, o.jobs, true, err, candidates.size());
  model_runs += n;
  const std::string verify_error = first_error(verify);
  if (!verify_error.empty()) {
    err << "calibrate: the fitted platform's run failed: " << verify_error << "\n";
    return kExitFailure;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> fitted(n), residual(n);
  double sse = 0, worst = 0, linearity = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < n; ++i) {
    fitted[i] = verify[0][i].mean_ns;
    residual[i] = y[i] - fitted[i];
    sse += residual[i] * residual[i];
    if (std::fabs(residual[i]) > std::fabs(worst)) {
      worst = residual[i];
      worst_at = i;
    }
    linearity = std::max(linearity, std::fabs(fitted[i] - fit.fitted[i]));
  }

  // ---- What the numbers mean.
  const double hit_extra = w.curve.other_ns.front();  // probes of a DMA that hits
  const double fixed_rt = fit.upstream_ns + fit.read_ns + hit_extra;
  const double fixed_se = std::sqrt(std::max(0.0, fit.upstream_se * fit.upstream_se + fit.read_se * fit.read_se +
                                                       2 * fit.covariance));
  // Table reads of one walk at the largest window (context reads are once per run).
  const double walks_last = w.curve.walks_per_dma.back();
  const double reads_per_walk =
      walks_last > 0 ? (w.curve.reads_per_dma.back() - 2.0 / o.dmas) / walks_last : 0.0;
  const double probe_per_walk =
      walks_last > 0 ? (w.curve.other_ns.back() - hit_extra) / walks_last : 0.0;
  const double walk_ns = reads_per_walk * fit.read_ns + probe_per_walk;

  std::ostringstream header;
  header << "# Calibrated platform: `iommu-sim calibrate " << o.measured << "`";
  if (!measured.cache_state.empty()) header << " (cache state " << measured.cache_state << ")";
  header << "\n# " << size << "-byte random reads, one outstanding, " << n << " windows "
         << format_byte_count(windows.front()) << " to " << format_byte_count(windows.back()) << ".\n";
  header << "# IOTLB: " << w.geometry.iotlb_label() << " (" << entries_interval()
         << (assoc_determined ? "" : "; associativity not determined by the curve") << ")\n";
  header << "# walk: " << fixed_text(reads_per_walk, 2) << " table reads x " << fixed_text(fit.read_ns, 1) << " +- "
         << fixed_text(fit.read_se, 1) << " ns, " << ps_label(w.geometry.ps) << "\n";
  header << "# fixed round trip " << fixed_text(fixed_rt, 1) << " +- " << fixed_text(fixed_se, 1)
         << " ns; residual rms " << fixed_text(rms(sse, n), 1) << " ns\n";
  header << "# Reproduce the curve: iommu-sim calibrate --curve THIS.yaml --windows ";
  for (size_t i = 0; i < n; ++i) header << (i ? "," : "") << format_byte_count(windows[i]);
  header << " --out curve.csv\n";
  const std::string yaml_path = (dir / "platform.yaml").string();
  {
    std::ofstream f(yaml_path);
    f << platform_yaml(v, header.str());
    if (!f) {
      err << "calibrate: cannot write " << yaml_path << "\n";
      return kExitBadInput;
    }
  }

  // The reference curve: the model's default paging-structure caches, fitted.
  const Candidate* reference = nullptr;
  const PsOption default_ps{true, 16};
  for (const Candidate& c : candidates)
    if (c.geometry.ways == 0 && c.geometry.ps == default_ps && c.ps_class != chosen_class &&
        (!reference || c.fit.sse < reference->fit.sse))
      reference = &c;

  const std::string csv_path = (dir / "calibration.csv").string();
  {
    std::ofstream f(csv_path);
    CsvRow head = {"window", "measured_ns", "fitted_ns", "residual_ns", "iotlb_miss_rate",
                   "table_reads_per_dma", "measured_p50_ns", "fitted_p50_ns", "fitted_p99_ns",
                   "default_pscache_ns"};
    write_csv_row(f, head);
    for (size_t i = 0; i < n; ++i) {
      const CurvePoint& m = measured.points[i];
      write_csv_row(f, {std::to_string(windows[i]), number(y[i]), fixed_text(fitted[i], 3), fixed_text(residual[i], 3),
                        fixed_text(verify[0][i].walks_per_dma, 5), fixed_text(verify[0][i].reads_per_dma, 5),
                        m.p50_ns >= 0 ? number(m.p50_ns) : "", fixed_text(verify[0][i].p50_ns, 1),
                        fixed_text(verify[0][i].p99_ns, 1), reference ? fixed_text(reference->fit.fitted[i], 3) : ""});
    }
  }
  const std::string cand_path = (dir / "candidates.csv").string();
  {
    std::ofstream f(cand_path);
    write_csv_row(f, {"candidate", "role", "iotlb_sets", "iotlb_ways", "iotlb_entries", "pscache",
                      "pscache_entries", "upstream_ns", "read_ns", "rms_ns", "analytic_rms_ns", "verdict"});
    for (size_t i = 0; i < candidates.size(); ++i) {
      const Candidate& c = candidates[i];
      std::string verdict = i == written ? "written" : "";
      if (verdict.empty() && std::find(tied.begin(), tied.end(), i) != tied.end()) verdict = "indistinguishable";
      if (verdict.empty() && std::find(rejected.begin(), rejected.end(), i) != rejected.end()) verdict = "rejected";
      write_csv_row(f, {std::to_string(i), c.role, std::to_string(c.geometry.ways ? c.geometry.sets : 1),
                        std::to_string(c.geometry.ways), std::to_string(c.geometry.size()),
                        c.geometry.ps.on ? "on" : "off", c.geometry.ps.on ? std::to_string(c.geometry.ps.entries) : "",
                        fixed_text(c.fit.upstream_ns, 3), fixed_text(c.fit.read_ns, 3), fixed_text(rms(c.fit.sse, n), 3),
                        fixed_text(rms(c.analytic_sse, n), 3), verdict});
    }
  }

  if (!o.quiet) {
    out << "iommu-sim calibrate: " << o.measured << " (" << measured.format
        << (measured.cache_state.empty() ? "" : ", cache " + measured.cache_state) << "): " << n << " windows, "
        << size << "-byte random reads\n";
    out << "  model runs           " << model_runs << " (" << candidates.size()
        << " candidate geometries and the fitted platform, x " << n << " windows) in " << fixed_text(seconds, 1)
        << " s\n";
    out << "  IOTLB                " << w.geometry.iotlb_label() << "; " << entries_interval() << "\n";
    out << "  associativity        ";
    if (assoc_determined) {
      out << "the curve prefers " << candidates[assoc_best].geometry.iotlb_label() << "\n";
    } else {
      out << "not determined: ";
      for (size_t k = 0; k < assoc.size(); ++k)
        out << (k ? ", " : "") << candidates[assoc[k]].geometry.iotlb_label() << " rms "
            << fixed_text(rms(candidates[assoc[k]].fit.sse, n), 2);
      out << " ns (random addresses over a contiguous window load every set alike)\n";
    }
    out << "  walk                 " << fixed_text(reads_per_walk, 2) << " table reads x " << fixed_text(fit.read_ns, 1)
        << " +- " << fixed_text(fit.read_se, 1) << " ns";
    if (probe_per_walk > 0.05) out << " + " << fixed_text(probe_per_walk, 1) << " ns probe";
    out << " = " << fixed_text(walk_ns, 1) << " ns per IOTLB miss at " << format_byte_count(windows.back()) << "; "
        << classes[chosen_class].label() << "\n";
    out << "  fixed round trip     " << fixed_text(fixed_rt, 1) << " +- " << fixed_text(fixed_se, 1) << " ns = link "
        << fixed_text(fit.upstream_ns, 1) << " + memory read " << fixed_text(fit.read_ns, 1) << " + lookups "
        << fixed_text(hit_extra, 1) << "\n";
    out << "  residual             rms " << fixed_text(rms(sse, n), 2) << " ns, largest " << fixed_text(worst, 2) << " ns at "
        << format_byte_count(windows[worst_at]) << "; noise taken as " << fixed_text(std::sqrt(sigma2), 2)
        << " ns (" << fixed_text(std::sqrt(sigma2_data), 2) << (o.noise_ns > 0 ? " given" : " from the residuals")
        << ", " << fixed_text(std::sqrt(sigma2_model), 2) << " the model's sampling)\n";
    if (linearity > 0.5)
      out << "  warning              the fitted platform's run differs from the fit by up to "
          << fixed_text(linearity, 2) << " ns: latency is not linear in the fitted parameters here\n";
    for (size_t i : tied) {
      if (candidates[i].ps_class == chosen_class) continue;
      out << "  also fits            " << classes[candidates[i].ps_class].label() << ", "
          << candidates[i].geometry.size() << " entries: table read " << fixed_text(candidates[i].fit.read_ns, 1)
          << " ns, link " << fixed_text(candidates[i].fit.upstream_ns, 1) << " ns, rms "
          << fixed_text(rms(candidates[i].fit.sse, n), 2) << " ns (the curve cannot tell; --prefer-read-ns "
          << number(o.prefer_read_ns) << " chose)\n";
    }
    for (size_t i : rejected) {
      double off = 0;
      size_t at = 0;
      for (size_t k = 0; k < n; ++k)
        if (std::fabs(y[k] - candidates[i].fit.fitted[k]) > std::fabs(off)) {
          off = y[k] - candidates[i].fit.fitted[k];
          at = k;
        }
      out << "  rejected             " << classes[candidates[i].ps_class].label() << " (best "
          << candidates[i].geometry.size() << " entries): rms " << fixed_text(rms(candidates[i].fit.sse, n), 2)
          << " ns, " << fixed_text(off, 1) << " ns off at " << format_byte_count(windows[at]) << "\n";
    }
    out << "  per window      measured     fitted   residual  IOTLB miss  reads/DMA";
    const bool p50 = std::any_of(measured.points.begin(), measured.points.end(), [](const CurvePoint& p) { return p.p50_ns >= 0; });
    if (p50) out << "  p50 measured  p50 model";
    out << "\n";
    for (size_t i = 0; i < n; ++i) {
      out << "  " << std::setw(10) << format_byte_count(windows[i]) << std::setw(14) << fixed_text(y[i], 1)
          << std::setw(11) << fixed_text(fitted[i], 1) << std::setw(11) << fixed_text(residual[i], 1) << std::setw(12)
          << fixed_text(verify[0][i].walks_per_dma, 4) << std::setw(11) << fixed_text(verify[0][i].reads_per_dma, 3);
      if (p50)
        out << std::setw(14) << (measured.points[i].p50_ns >= 0 ? fixed_text(measured.points[i].p50_ns, 1) : "-")
            << std::setw(11) << fixed_text(verify[0][i].p50_ns, 1);
      out << "\n";
    }
    out << "  wrote " << yaml_path << ", " << csv_path << ", " << cand_path << "\n";
  }
  if (o.plots) make_plots("plot_calibration.py", csv_path, dir.string(), out, err, "calibrate");
  return kExitOk;
}

}  // namespace

int calibrate_main(const std::vector<std::string>& args, const std::string& self_exe,
                   std::ostream& out, std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << kUsage;
      return kExitOk;
    }
  }
  Options o;
  try {
    o = parse(args);
  } catch (const UsageError& e) {
    err << "iommu-sim calibrate: " << e.message << "\n(iommu-sim calibrate --help lists the options)\n";
    return kExitBadInput;
  }
  try {
    return o.curve_platform.empty() ? fit_mode(o, self_exe, out, err) : curve_mode(o, self_exe, out, err);
  } catch (const std::exception& e) {
    err << "iommu-sim calibrate: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace iommu_sim
