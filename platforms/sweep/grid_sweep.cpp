// Grid sweeps: every point of the grid a full `iommu-sim run` in a process of its own, one CSV
// row per point, the metadata beside it, the answers to --target and the plots.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/plots.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/sweep.h"
#include "iommu_sim/platform/sweep/sweep_results.h"

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {

// Whether a grid key sets the geometry of `cache` ("iotlb" or "devtlb").
bool is_geometry_key(const std::string& key, const std::string& cache) {
  const auto ends_with = [&key](const std::string& tail) {
    return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (cache == "iotlb")
    return key == "iommu.iotlb.sets" || key == "iommu.iotlb.ways" || key == "iommu.iotlb.entries";
  return key.rfind("pcie.endpoints.", 0) == 0 &&
         (ends_with(".ats.devtlb.sets") || ends_with(".ats.devtlb.ways") || ends_with(".ats.devtlb.entries"));
}

// For a target no point met: which grid axes to extend (those whose largest value the best
// point used), or why extending them would not help.
std::string grid_advice(const SweepOptions& o, const std::vector<CsvRow>& rows, const TargetAnswer& best,
                        const std::string& cache) {
  std::vector<std::string> raise;
  bool any_axis = false;
  for (size_t a = 0; a < o.axes.size(); ++a) {
    const GridAxis& axis = o.axes[a];
    if (!is_geometry_key(axis.key, cache)) continue;
    any_axis = true;
    double largest = -1;
    for (const std::string& v : axis.values) largest = std::max(largest, std::atof(v.c_str()));
    if (std::atof(rows[best.row][1 + a].c_str()) == largest)
      raise.push_back("--grid " + axis.key + " (largest: " + fmt_number(largest) + ")");
  }
  const std::string name = cache == "iotlb" ? "IOTLB" : "device-TLB";
  if (!any_axis)
    return "The grid does not vary the " + name + " geometry: add --grid axes for its sets and ways.";
  if (raise.empty())
    return "The best point lies inside the grid: larger geometries on these axes did no better, so "
           "size alone does not reach it here (try the set index, the policy or the workload).";
  std::string text = "Raise the limit: add larger values to ";
  for (size_t i = 0; i < raise.size(); ++i) text += (i ? " and " : "") + raise[i];
  return text + ".";
}

}  // namespace

int grid_sweep(const SweepOptions& o, const std::string& self_exe, std::ostream& out, std::ostream& err) {
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
      {"latency_p50_ns", "summary.dma_latency_p50_ns"},
      {"latency_p50_error_ns", "summary.dma_latency_p50_error_ns"},
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
  std::string first_failure, first_ok_stats;
  std::vector<bool> metric_seen(o.metrics.size(), false);
  std::map<std::string, double> some_stats;  // an ok point's, for the names of a metric no point had
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
    if (ok && first_ok_stats.empty()) {
      first_ok_stats = stats_path.string();
      some_stats = stats;
    }
    const RunGeometry g = run_geometry(config_path, settings);
    CsvRow row{std::to_string(p.index)};
    for (const auto& kv : p.settings) row.push_back(kv.second);
    row.push_back(ok ? "ok" : "failed");
    row.push_back(r.started && !r.timed_out && r.signal == 0 ? std::to_string(r.exit_code) : "");
    row.insert(row.end(), {g.sets, g.ways, g.entries, g.policy, g.index});
    for (const auto& col : summary) {
      auto it = stats.find(col.second);
      row.push_back(it == stats.end() ? "" : fmt_number(it->second));
    }
    row.insert(row.end(), {g.devtlb_sets, g.devtlb_ways, g.devtlb_entries});
    for (const auto& col : ats_summary) {
      auto it = stats.find(col.second);
      row.push_back(it == stats.end() ? "" : fmt_number(it->second));
    }
    for (size_t m = 0; m < o.metrics.size(); ++m) {
      row.push_back(metric_value(stats, o.metrics[m]));
      metric_seen[m] = metric_seen[m] || !row.back().empty();
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
  for (const std::string& c : sweep_result_columns(o.metrics)) header.push_back(c);
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
  std::string grid_text;
  for (const GridAxis& a : o.axes) {
    grid_text += (grid_text.empty() ? "" : " ") + a.key + "=";
    for (size_t v = 0; v < a.values.size(); ++v) grid_text += (v ? "," : "") + a.values[v];
  }
  std::string meta_error;
  if (!write_sweep_meta(csv, first_ok_stats, o,
                        {{"mode", "grid"}, {"grid", grid_text}, {"points", std::to_string(points.size())},
                         {"failed", std::to_string(failed)}},
                        meta_error))
    err << "sweep: " << meta_error << "\n";
  out << "sweep: " << points.size() << " points, " << points.size() - failed << " ok, " << failed
      << " failed -> " << csv << "\n";
  for (size_t m = 0; m < o.metrics.size(); ++m) {
    if (metric_seen[m] || some_stats.empty()) continue;
    err << "sweep: warning: --metric " << o.metrics[m] << ": no point has this statistic (nor summary."
        << o.metrics[m] << "); its column is empty";
    const std::vector<std::string> like = similar_keys(some_stats, o.metrics[m]);
    for (size_t k = 0; k < like.size(); ++k) err << (k ? ", " : "; similar names: ") << like[k];
    err << " (every name is in " << first_ok_stats << ")\n";
  }

  if (!o.targets.empty() && !o.sharded) {
    std::vector<CsvRow> all{header};
    all.insert(all.end(), rows.begin(), rows.end());
    for (const SweepTarget& t : o.targets) {
      const std::string cache = target_cache(t.metric);
      std::vector<std::string> groups;
      for (const GridAxis& a : o.axes)
        if (!is_geometry_key(a.key, cache)) groups.push_back(a.key);
      report_target(all, t, groups, [&](const TargetAnswer& a) { return grid_advice(o, all, a, cache); }, out);
    }
  }
  if (o.plots && !o.sharded) make_plots("plot_sweep.py", csv, dir.string(), out, err);
  if (failed == 0) return kExitOk;
  if (bad_input == points.size()) {
    err << "sweep: every point was rejected as bad input; first: " << first_failure << "\n";
    return kExitBadInput;
  }
  err << "sweep: " << failed << " point(s) failed; first: " << first_failure << "\n";
  return kExitFailure;
}

}  // namespace iommu_sim
