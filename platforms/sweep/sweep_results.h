// What the grid and one-pass sweeps share about their runs' results: names and numbers in the
// CSV, the geometry a run used, a statistic chosen with --metric, the metadata side file and the
// answers to --target. Internal to the sweep library.
#pragma once

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/sweep_options.h"
#include "iommu_sim/platform/sweep/target.h"

namespace iommu_sim {

// A number as the CSVs carry it (%.10g).
std::string fmt_number(double v);
// p0007: the files of point 7.
std::string point_name(size_t index);
// FILE.json -> FILE.config.yaml, as `iommu-sim run --stats` names it.
std::string config_path_for(const std::string& stats_path);

// The cache geometry a run used: from its effective configuration when it was written, else
// from the --set and grid values it was given.
struct RunGeometry {
  std::string sets, ways, entries, policy, index;
  std::string devtlb_sets, devtlb_ways, devtlb_entries;  // the first endpoint's, with ATS
};
RunGeometry run_geometry(const std::string& config_path, const std::map<std::string, std::string>& settings);

// The value of a --metric key in a run's statistics: the key itself, else summary.<key> (so that
// `context_cache_hit_rate` names summary.context_cache_hit_rate). "" when neither is there.
std::string metric_value(const std::map<std::string, double>& stats, const std::string& metric);
// Statistics names that look like `metric` (same last component), for a metric no run had.
std::vector<std::string> similar_keys(const std::map<std::string, double>& stats, const std::string& metric);

// Writes <csv without .csv>.meta.json: {"meta": {...}, "sweep": {...}}. "meta" is the `meta` of
// a statistics file the sweep's runs wrote (version, revision, platform, seed, workload; its
// per-run fields left out), when `run_stats` names one; "sweep" says how the sweep was made
// (its command line and `items`). Returns false with `error`.
bool write_sweep_meta(const std::string& csv_path, const std::string& run_stats,
                      const SweepOptions& o, const std::vector<std::pair<std::string, std::string>>& items,
                      std::string& error);

// Prints the answers to `target` over the CSV rows (header first), one line per group of
// `group_columns`; `advice` says, for a group whose best row misses the target, which limit to
// raise (or why no limit helps).
void report_target(const std::vector<CsvRow>& rows, const SweepTarget& target,
                   const std::vector<std::string>& group_columns,
                   const std::function<std::string(const TargetAnswer&)>& advice, std::ostream& out);

// The rows of a CSV file the sweep wrote (header first); empty when it cannot be read.
std::vector<CsvRow> read_csv_file(const std::string& path);

}  // namespace iommu_sim
