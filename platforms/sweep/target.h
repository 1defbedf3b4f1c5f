// `iommu-sim sweep --target METRIC>=X` (or <=): the smallest cache geometry of a sweep whose
// METRIC meets X, per combination of the sweep's other varying axes; or, when no geometry within
// what was swept meets it, the best one, so that the caller can say which limit to raise.
// Plain C++ over the sweep's CSV rows (grid and one-pass alike).
#pragma once

#include <string>
#include <vector>

#include "iommu_sim/platform/sweep/csv.h"

namespace iommu_sim {

struct SweepTarget {
  std::string metric;     // a CSV column: hit_rate, latency_p99_ns, devtlb_hit_rate, a --metric key
  bool at_least = true;   // METRIC>=X; false: METRIC<=X
  double value = 0;
  std::string text;       // as given, for messages

  bool meets(double v) const { return at_least ? v >= value : v <= value; }
  // Whether `a` is nearer the target's side than `b`.
  bool better(double a, double b) const { return at_least ? a > b : a < b; }
};

// "METRIC>=X" or "METRIC<=X" (X a number). Returns false with `error` saying what is accepted.
bool parse_sweep_target(const std::string& text, SweepTarget& out, std::string& error);

// The cache whose geometry a metric is about: "devtlb" for the device-TLBs' metrics
// (devtlb_hit_rate, translation_requests_per_1000_dmas), else "iotlb". Its geometry columns are
// <cache>_sets, <cache>_ways (0: fully associative), <cache>_entries.
std::string target_cache(const std::string& metric);

struct TargetAnswer {
  // The other varying axes' values this answer is for ("iommu.iotlb.policy=plru"); "" if none.
  std::string group;
  bool any = false;     // some successful row of the group has the metric
  bool met = false;     // `row` meets the target (the smallest that does), else it is the best
  size_t row = 0;       // index into the rows given (the header is row 0)
  double value = 0;     // the metric there
  unsigned sets = 0, ways = 0, entries = 0;
};

// Rows: the CSV with its header first. Rows whose `status` column (when there is one) is not
// "ok", or without a number in the metric or geometry columns, are left out. group_columns:
// columns with a value per combination of the other varying axes; each distinct combination
// gets its own answer, in order of first appearance. "Smallest" is fewest entries, then fewest
// ways (fully associative counts as the most), then fewest sets.
std::vector<TargetAnswer> find_target(const std::vector<CsvRow>& rows, const SweepTarget& target,
                                      const std::vector<std::string>& group_columns);

// "64 sets x 8 ways (512 entries)", "fully associative, 256 entries".
std::string describe_geometry(unsigned sets, unsigned ways, unsigned entries);

}  // namespace iommu_sim
