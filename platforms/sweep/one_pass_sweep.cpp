// One-pass sweeps: every LRU geometry of the IOTLB (and of the device-TLBs) from one access
// stream, recorded by a platform run or read from a file; the answers to --target; and, on a
// platform, a few geometries run again as timed runs to show how far the replayed stream is
// from what the platform does with that IOTLB.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <signal.h>

#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/pipe_stream.h"
#include "iommu_sim/platform/sweep/plots.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/sweep.h"
#include "iommu_sim/platform/sweep/sweep_results.h"
#include "iommu_sim/platform/sweep/table.h"

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {

// Feeds a trace file (the IOTLB's, or device-TLBs') to the explorer (OnePassExplorer or
// DevtlbExplorer). Returns an exit code.
template <typename Explorer>
int explore_trace_file(const std::string& path, Explorer& ex, std::ostream& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << "sweep: cannot open the trace " << path << "\n";
    return kExitBadInput;
  }
  IotlbTraceReader reader(in);
  IotlbOp op;
  while (reader.next(op)) {
    if (!ex.feed(op)) {
      err << "sweep: " << path << ": " << reader.where() << ": " << ex.error() << "\n";
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
  uint64_t unbounded_hits() const {
    uint64_t n = 0;
    for (const auto& [rid, ex] : m_functions) n += ex->unbounded_hits();
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

// A stream that a platform run writes into a pipe, explored on a thread of its own as it arrives:
// the exploration overlaps the simulation, and no trace file lies in between (unless `keep`
// names one, which gets a copy as the stream goes by).
template <typename Explorer>
class StreamExploration {
 public:
  StreamExploration(Explorer& ex, const std::string& keep) : m_ex(ex) {
    if (!keep.empty()) {
      m_keep.open(keep, std::ios::binary | std::ios::trunc);
      if (!m_keep) m_error = "cannot write " + keep;
      m_keep_path = keep;
    }
  }
  ~StreamExploration() {
    m_pipe.close_write();
    if (m_thread.joinable()) m_thread.join();
  }
  int write_fd() const { return m_pipe.write_fd(); }
  // Before start(): why it cannot (the kept copy cannot be written).
  const std::string& setup_error() const { return m_error; }
  void start() { m_thread = std::thread([this] { explore(); }); }
  // After the writer exited: waits for the rest of the stream. Returns the error, if any.
  const std::string& finish() {
    m_pipe.close_write();
    if (m_thread.joinable()) m_thread.join();
    if (m_error.empty() && m_keep.is_open()) {
      m_keep.flush();
      if (!m_keep) m_error = "cannot write " + m_keep_path;
    }
    return m_error;
  }
  // The reader stopped before the end of the stream (and so may have ended the writer).
  bool stopped_early() const { return m_stopped_early; }

 private:
  void explore() {
    try {
      DescriptorReadBuf buf(m_pipe.read_fd(), m_keep.is_open() ? &m_keep : nullptr);
      std::istream in(&buf);
      IotlbTraceReader reader(in);
      IotlbOp op;
      while (reader.next(op)) {
        if (!m_ex.feed(op)) {
          m_error = reader.where() + ": " + m_ex.error();
          break;
        }
      }
      if (m_error.empty()) m_error = reader.error();
    } catch (const std::exception& e) {  // out of memory, say: the sweep fails, and says so
      m_error = e.what();
    }
    m_stopped_early = !m_error.empty();
    m_pipe.close_read();
  }

  Explorer& m_ex;
  Pipe m_pipe;
  std::ofstream m_keep;
  std::string m_keep_path;
  std::thread m_thread;
  std::string m_error;  // written by the thread, read after it is joined
  bool m_stopped_early = false;
};

// One platform run, its IOTLB stream (and on a platform, its functions' device-TLB streams)
// explored while it runs: the run writes them in the binary format, without the lookups and
// fills the exploration ignores, into pipes (/dev/fd/3 and 4) that threads of this process read.
// Returns an exit code.
int explore_platform_run(const SweepOptions& o, const std::string& self_exe, bool platform_run,
                         OnePassExplorer& ex, DevtlbExplorer& devtlb, std::ostream& err) {
  const fs::path dir(o.out_dir);
  const std::string keep_iotlb = o.keep_trace ? (dir / "iotlb.trace").string() : "";
  const std::string keep_devtlb = o.keep_trace && platform_run ? (dir / "devtlb.trace").string() : "";
  std::unique_ptr<StreamExploration<OnePassExplorer>> iotlb_stream;
  std::unique_ptr<StreamExploration<DevtlbExplorer>> devtlb_stream;
  try {
    iotlb_stream = std::make_unique<StreamExploration<OnePassExplorer>>(ex, keep_iotlb);
    // A Linux capture (CAPTURE/capture.txt) replays no device-TLBs.
    if (platform_run) devtlb_stream = std::make_unique<StreamExploration<DevtlbExplorer>>(devtlb, keep_devtlb);
  } catch (const std::exception& e) {
    err << "sweep: " << e.what() << "\n";
    return kExitFailure;
  }
  for (const std::string* e : {&iotlb_stream->setup_error(), devtlb_stream ? &devtlb_stream->setup_error() : nullptr})
    if (e && !e->empty()) {
      err << "sweep: " << *e << "\n";
      return kExitFailure;
    }
  ProcessSpec s;
  s.argv = {self_exe, "run"};
  if (!o.platform.empty()) s.argv.push_back(o.platform);
  for (const std::string& kv : o.sets) s.argv.insert(s.argv.end(), {"--set", kv});
  s.argv.insert(s.argv.end(), {"--stats", (dir / "run.json").string(), "--iotlb-trace", "/dev/fd/3",
                               "--trace-format", "binary", "--quiet"});
  // The exploration reads the accesses and invalidations only; a kept trace has everything.
  if (!o.keep_trace) s.argv.insert(s.argv.end(), {"--trace-ops", "accesses"});
  s.pass_fds.push_back(iotlb_stream->write_fd());
  if (devtlb_stream) {
    s.argv.insert(s.argv.end(), {"--devtlb-trace", "/dev/fd/4"});
    s.pass_fds.push_back(devtlb_stream->write_fd());
  }
  s.log_path = (dir / "run.log").string();
  if (!o.quiet) err << "sweep: running the platform and exploring its IOTLB access stream as it runs (" << s.log_path << ")\n";
  iotlb_stream->start();
  if (devtlb_stream) devtlb_stream->start();
  const ProcessResult r = run_process(s);
  const std::string iotlb_error = iotlb_stream->finish();
  const std::string devtlb_error = devtlb_stream ? devtlb_stream->finish() : "";
  const bool stopped = iotlb_stream->stopped_early() || (devtlb_stream && devtlb_stream->stopped_early());
  // A run that ended because we stopped reading its stream failed for the reason we stopped.
  if (!r.ok() && !(stopped && r.signal == SIGPIPE)) {
    err << "sweep: the platform run failed (" << r.describe(0) << "): " << last_log_line(s.log_path) << "\n";
    return r.started && r.exit_code == kExitBadInput ? kExitBadInput : kExitFailure;
  }
  // Our own run's streams: what is wrong with them is a failure, not bad input.
  if (!iotlb_error.empty()) {
    err << "sweep: the IOTLB access stream of the platform run: " << iotlb_error << "\n";
    return kExitFailure;
  }
  if (!devtlb_error.empty()) {
    err << "sweep: the device-TLB access stream of the platform run: " << devtlb_error << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

double rate(uint64_t n, uint64_t of) { return of > 0 ? static_cast<double>(n) / static_cast<double>(of) : 0.0; }

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
    CsvRow row = {std::to_string(g.sets), std::to_string(g.ways), std::to_string(g.entries), "lru"};
    if (devtlb) row.push_back(std::to_string(functions));
    row.insert(row.end(), {std::to_string(s.lookups), std::to_string(s.hits), std::to_string(s.misses),
                           fmt_number(rate(s.hits, s.lookups)), fmt_number(1000.0 * rate(s.misses, s.lookups)),
                           std::to_string(s.fills), std::to_string(s.evictions),
                           std::to_string(s.invalidations), std::to_string(s.invalidated_entries)});
    if (!devtlb) row.push_back(to_string(index));
    write_csv_row(f, row);
  }
  f.flush();
  return static_cast<bool>(f);
}

// For a target no explored geometry met: whether any size could (an unbounded cache's hit rate
// is the ceiling), and which of the limits the best geometry sits at.
std::string one_pass_advice(const OnePassLimits& l, const SweepTarget& t, const TargetAnswer& best,
                            uint64_t accesses, uint64_t unbounded_hits, const std::string& cache_name) {
  const double ceiling = rate(unbounded_hits, accesses);
  const bool hit_rate = t.metric == "hit_rate" || t.metric == "devtlb_hit_rate";
  const bool misses = t.metric == "misses_per_1000_accesses";
  if (hit_rate || misses) {
    const double best_possible = hit_rate ? ceiling : 1000.0 * (1.0 - ceiling);
    if (!t.meets(best_possible))
      return "No " + cache_name + " of any size or associativity meets it on this stream: an unbounded one has " +
             t.metric + " " + fmt_number(best_possible) +
             " (the first touch of every page, and every touch after its invalidation, misses in any " +
             cache_name + ").";
  }
  std::vector<std::string> raise;
  if (best.ways == 0 && best.entries >= l.max_entries) raise.push_back("--max-entries (now " + std::to_string(l.max_entries) + ")");
  if (best.ways != 0 && best.ways >= l.max_ways) raise.push_back("--max-ways (now " + std::to_string(l.max_ways) + ")");
  if (best.ways != 0 && best.sets >= l.max_sets) raise.push_back("--max-sets (now " + std::to_string(l.max_sets) + ")");
  if (raise.empty()) raise.push_back("--max-entries (now " + std::to_string(l.max_entries) + ")");
  std::string text = "Raise ";
  for (size_t i = 0; i < raise.size(); ++i) text += (i ? " or " : "") + raise[i];
  if (hit_rate || misses)
    text += ": an unbounded " + cache_name + " would have hit_rate " + fmt_number(ceiling);
  if (cache_name == "IOTLB" && l.index == IotlbIndex::Page && best.ways != 0)
    text += "; functions that share IOVAs fall into the same sets with --index page: try --index page-xor-domain";
  return text + ".";
}

struct CheckedGeometry {
  unsigned sets = 0, ways = 0, entries = 0;
  double one_pass = 0;
  double timed = 0;
  bool have_timed = false;
  std::string stats_path, source;  // source: "recording run" or "timed run"
  std::string error;
};

// The geometries to run again: the targets' answers first, then sizes around the platform's own
// (4x larger, 4x smaller, 16x larger ...) with its associativity; never the recording geometry
// itself (its timed run is the recording). Only what the platform accepts (docs: YAML reference).
std::vector<CheckedGeometry> geometries_to_check(const SweepOptions& o, unsigned own_sets, unsigned own_ways,
                                                 unsigned own_entries, const std::vector<TargetAnswer>& answers) {
  std::vector<CheckedGeometry> out;
  const auto add = [&](unsigned sets, unsigned ways, unsigned entries) {
    if (out.size() >= o.verify) return;
    if (ways == own_ways && (ways == 0 ? entries == own_entries : sets == own_sets)) return;
    const bool accepted = ways == 0 ? entries >= 1 && entries <= std::min(4096u, o.limits.max_entries)
                                    : sets >= 1 && sets <= std::min(65536u, o.limits.max_sets) &&
                                          ways <= o.limits.max_ways;
    if (!accepted) return;
    for (const CheckedGeometry& c : out)
      if (c.sets == sets && c.ways == ways && c.entries == entries) return;
    CheckedGeometry c;
    c.sets = ways == 0 ? 1 : sets;
    c.ways = ways;
    c.entries = ways == 0 ? entries : sets * ways;
    out.push_back(c);
  };
  for (const TargetAnswer& a : answers)
    if (a.any) add(a.sets, a.ways, a.entries);
  const unsigned ways = std::min(own_ways, o.limits.max_ways);
  const unsigned base = own_ways == 0 ? own_entries : own_sets;
  for (const auto& [mul, div] : {std::pair{4u, 1u}, {1u, 4u}, {16u, 1u}, {1u, 16u}, {64u, 1u}}) {
    const unsigned n = base * mul / div;
    if (n == 0 || n * div != base * mul) continue;
    if (own_ways == 0) add(1, 0, n);
    else add(n, ways, n * ways);
  }
  return out;
}

// Runs each geometry as a timed platform run and compares its hit rate with the one-pass one;
// writes DIR/one_pass_check.csv and prints the comparison, with a warning above the tolerance.
// Returns an exit code.
int check_with_timed_runs(const SweepOptions& o, const std::string& self_exe, const OnePassExplorer& ex,
                          const std::vector<TargetAnswer>& answers, std::ostream& out, std::ostream& err) {
  const fs::path dir(o.out_dir);
  const std::string run_stats = (dir / "run.json").string();
  const RunGeometry own = run_geometry(config_path_for(run_stats), {});
  const unsigned own_ways = static_cast<unsigned>(std::atoi(own.ways.c_str()));
  const unsigned own_sets = static_cast<unsigned>(std::atoi(own.sets.c_str()));
  const unsigned own_entries = static_cast<unsigned>(std::atoi(own.entries.c_str()));
  const auto one_pass_rate = [&](unsigned sets, unsigned ways, unsigned entries) {
    const bool fa = ways == 0;
    if (fa ? entries > o.limits.max_entries : (sets > o.limits.max_sets || ways > o.limits.max_ways)) return -1.0;
    const CacheStats s = fa ? ex.stats(1, entries) : ex.stats(sets, ways);
    return rate(s.hits, s.lookups);
  };

  std::vector<CheckedGeometry> checks;
  // The recording run is a timed run of the platform's own geometry: compared for free when it
  // used what the exploration models (LRU, the same set index).
  IotlbIndex own_index = IotlbIndex::Page;
  parse_iotlb_index(own.index.empty() ? "page" : own.index, own_index);
  if ((own.policy.empty() || own.policy == "lru") && own_index == o.limits.index) {
    const double r = one_pass_rate(own_sets, own_ways, own_entries);
    std::ifstream in(run_stats);
    std::map<std::string, double> stats;
    std::string error;
    if (r >= 0 && in && read_stats_json(in, stats, error) && stats.count("summary.iotlb_hit_rate")) {
      CheckedGeometry c;
      c.sets = own_ways == 0 ? 1 : own_sets;
      c.ways = own_ways;
      c.entries = own_entries;
      c.one_pass = r;
      c.timed = stats["summary.iotlb_hit_rate"];
      c.have_timed = true;
      c.stats_path = "run.json";
      c.source = "recording run";
      checks.push_back(c);
    }
  }
  std::vector<CheckedGeometry> runs = geometries_to_check(o, own_sets, own_ways, own_entries, answers);
  if (runs.empty() && checks.empty()) return kExitOk;
  fs::create_directories(dir / "check");
  std::vector<ProcessSpec> specs;
  for (CheckedGeometry& c : runs) {
    const std::string name = c.ways == 0 ? "fa" + std::to_string(c.entries)
                                         : std::to_string(c.sets) + "x" + std::to_string(c.ways);
    c.stats_path = "check/" + name + ".json";
    c.source = "timed run";
    c.one_pass = one_pass_rate(c.sets, c.ways, c.entries);
    ProcessSpec s;
    s.argv = {self_exe, "run"};
    if (!o.platform.empty()) s.argv.push_back(o.platform);
    for (const std::string& kv : o.sets) s.argv.insert(s.argv.end(), {"--set", kv});
    s.argv.insert(s.argv.end(), {"--set", "iommu.iotlb.sets=" + std::to_string(c.sets),
                                 "--set", "iommu.iotlb.ways=" + std::to_string(c.ways),
                                 "--set", "iommu.iotlb.entries=" + std::to_string(c.entries),
                                 "--set", "iommu.iotlb.policy=lru",
                                 "--set", std::string("iommu.iotlb.index=") + to_string(o.limits.index),
                                 "--stats", (dir / c.stats_path).string(), "--quiet"});
    s.log_path = (dir / "check" / (name + ".log")).string();
    specs.push_back(s);
  }
  if (!o.quiet && !runs.empty())
    err << "sweep: checking " << runs.size() << " geometries with timed platform runs (" << (dir / "check").string()
        << "; --verify 0 skips this)\n";
  size_t failed = 0;
  run_processes(specs, o.jobs, o.timeout_s, [&](size_t i, const ProcessResult& r) {
    CheckedGeometry& c = runs[i];
    std::map<std::string, double> stats;
    std::string error;
    std::ifstream in(dir / c.stats_path);
    if (r.ok() && in && read_stats_json(in, stats, error) && stats.count("summary.iotlb_hit_rate")) {
      c.timed = stats["summary.iotlb_hit_rate"];
      c.have_timed = true;
    } else {
      c.error = r.describe(o.timeout_s) + ": " + last_log_line(specs[i].log_path);
      ++failed;
    }
    if (!o.quiet)
      err << "sweep: checked " << describe_geometry(c.sets, c.ways, c.entries) << " ("
          << (c.have_timed ? "ok" : "FAILED: " + c.error) << ")\n";
  });
  checks.insert(checks.end(), runs.begin(), runs.end());

  const std::string csv = (dir / "one_pass_check.csv").string();
  std::ofstream f(csv);
  write_csv_row(f, {"iotlb_sets", "iotlb_ways", "iotlb_entries", "one_pass_hit_rate", "timed_hit_rate",
                    "difference", "run", "stats", "error"});
  std::vector<std::vector<std::string>> table = {{"geometry", "one-pass", "timed", "difference", "from"}};
  const CheckedGeometry* worst = nullptr;
  for (const CheckedGeometry& c : checks) {
    const double diff = c.timed - c.one_pass;
    write_csv_row(f, {std::to_string(c.sets), std::to_string(c.ways), std::to_string(c.entries),
                      fmt_number(c.one_pass), c.have_timed ? fmt_number(c.timed) : "",
                      c.have_timed ? fmt_number(diff) : "", c.source, c.stats_path, c.error});
    if (!c.have_timed) continue;
    table.push_back({describe_geometry(c.sets, c.ways, c.entries), fixed_text(c.one_pass, 4),
                     fixed_text(c.timed, 4), (diff >= 0 ? "+" : "") + fixed_text(diff, 4), c.source});
    if (!worst || std::fabs(diff) > std::fabs(worst->timed - worst->one_pass)) worst = &c;
  }
  f.flush();
  if (!f) {
    err << "sweep: cannot write " << csv << "\n";
    return kExitFailure;
  }
  out << "sweep: one-pass against timed platform runs (hit rate; " << csv << "):\n";
  std::ostringstream t;
  print_aligned_table(t, table);
  std::istringstream lines(t.str());
  for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  if (worst) {
    const double diff = std::fabs(worst->timed - worst->one_pass);
    const std::string where = describe_geometry(worst->sets, worst->ways, worst->entries) + ": one-pass " +
                              fixed_text(worst->one_pass, 4) + ", timed " + fixed_text(worst->timed, 4);
    if (diff > o.verify_tolerance) {
      out << "sweep: WARNING: one-pass and timed hit rates differ by up to " << fixed_text(diff, 4) << " ("
          << where << "), more than " << fmt_number(o.verify_tolerance)
          << ". The one-pass figures replay the stream this platform made with its own IOTLB; with "
             "another IOTLB the DMAs' timing, and so the stream, differ (docs/sweeps.md, \"One-pass "
             "and timed runs\"). Size this platform's IOTLB with a grid sweep (--grid "
             "iommu.iotlb.sets=... --grid iommu.iotlb.ways=...), which runs each geometry timed.\n";
    } else {
      out << "sweep: one-pass and timed hit rates agree within " << fmt_number(o.verify_tolerance)
          << " (largest difference " << fixed_text(diff, 4) << ", " << where << ")\n";
    }
  }
  if (failed > 0) {
    err << "sweep: " << failed << " timed check run(s) failed; see " << csv << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int one_pass_sweep(const SweepOptions& o, const std::string& self_exe, std::ostream& out, std::ostream& err) {
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
  bool platform_run = false;
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
    platform_run = fs::path(o.platform).filename() != "capture.txt";
    const int rc = explore_platform_run(o, self_exe, platform_run, ex, devtlb, err);
    if (rc != kExitOk) return rc;
    if (o.keep_trace) {
      source = (dir / "iotlb.trace").string();
      if (platform_run) devtlb_source = (dir / "devtlb.trace").string();
    } else {
      source = "the run of " + (o.platform.empty() ? std::string("the default platform") : o.platform);
      devtlb_source = source;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool recorded = o.trace.empty() && o.linux_trace.empty() && o.devtlb_trace.empty();
  const std::string run_stats = recorded ? (dir / "run.json").string() : "";
  const auto meta_items = [&](const std::string& src) {
    std::vector<std::pair<std::string, std::string>> items = {
        {"mode", "one-pass"}, {"source", src}, {"policy", "lru"},
        {"max_sets", std::to_string(o.limits.max_sets)}, {"max_ways", std::to_string(o.limits.max_ways)},
        {"max_entries", std::to_string(o.limits.max_entries)}};
    return items;
  };
  const auto targets_for = [&](const std::string& cache, const std::string& csv, uint64_t accesses,
                               uint64_t unbounded, const std::string& name) {
    std::vector<TargetAnswer> answers;
    const std::vector<CsvRow> rows = read_csv_file(csv);
    for (const SweepTarget& t : o.targets) {
      if (target_cache(t.metric) != cache) continue;
      report_target(rows, t, {}, [&](const TargetAnswer& a) {
        return one_pass_advice(o.limits, t, a, accesses, unbounded, name);
      }, out);
      const std::vector<TargetAnswer> a = find_target(rows, t, {});
      answers.insert(answers.end(), a.begin(), a.end());
    }
    return answers;
  };
  std::string meta_error;

  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", seconds);
  if (devtlb.accesses() > 0) {
    const std::string devtlb_csv = (dir / "devtlb_one_pass.csv").string();
    const std::vector<GeometryCounts> per_geometry = devtlb.results();
    if (!write_one_pass_csv(devtlb_csv, per_geometry, "devtlb", IotlbIndex::Page, devtlb.functions())) {
      err << "sweep: cannot write " << devtlb_csv << "\n";
      return kExitFailure;
    }
    if (!write_sweep_meta(devtlb_csv, run_stats, o, meta_items(devtlb_source), meta_error))
      err << "sweep: " << meta_error << "\n";
    out << "sweep: one pass over " << devtlb.accesses() << " device-TLB accesses of "
        << devtlb.functions() << " functions (" << devtlb_source << "): " << per_geometry.size()
        << " LRU geometries of every function's device-TLB -> " << devtlb_csv << "\n";
    targets_for("devtlb", devtlb_csv, devtlb.accesses(), devtlb.unbounded_hits(), "device-TLB");
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
  std::vector<std::pair<std::string, std::string>> items = meta_items(source);
  items.emplace_back("index", to_string(o.limits.index));
  if (!write_sweep_meta(csv, run_stats, o, items, meta_error)) err << "sweep: " << meta_error << "\n";
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
  const std::vector<TargetAnswer> answers = targets_for("iotlb", csv, ex.accesses(), ex.unbounded_hits(), "IOTLB");
  int rc = kExitOk;
  // The recorded stream depends on the recording run's timing: show how far that takes the
  // figures from timed runs of other geometries (a capture replays without device timing).
  if (recorded && platform_run && o.verify > 0) rc = check_with_timed_runs(o, self_exe, ex, answers, out, err);
  if (o.plots) make_plots("plot_sweep.py", csv, dir.string(), out, err);
  return rc;
}

}  // namespace iommu_sim
