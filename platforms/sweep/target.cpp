#include "iommu_sim/platform/sweep/target.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <tuple>

namespace iommu_sim {

namespace {

bool parse_double(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end && *end == '\0' && std::isfinite(out);
}

bool parse_count(const std::string& text, unsigned& out) {
  double v = 0;
  if (!parse_double(text, v) || v < 0 || v > 4294967295.0 || v != std::floor(v)) return false;
  out = static_cast<unsigned>(v);
  return true;
}

}  // namespace

bool parse_sweep_target(const std::string& text, SweepTarget& out, std::string& error) {
  const auto bad = [&](const std::string& why) {
    error = "--target '" + text + "': " + why +
            "; expected METRIC>=X or METRIC<=X, e.g. hit_rate>=0.95 or latency_p99_ns<=200";
    return false;
  };
  size_t op = text.find(">=");
  bool at_least = true;
  if (op == std::string::npos) {
    op = text.find("<=");
    at_least = false;
  }
  if (op == std::string::npos) return bad("no >= or <=");
  SweepTarget t;
  t.metric = text.substr(0, op);
  t.at_least = at_least;
  t.text = text;
  if (t.metric.empty()) return bad("no metric before the comparison");
  if (!parse_double(text.substr(op + 2), t.value)) return bad("'" + text.substr(op + 2) + "' is not a number");
  out = t;
  return true;
}

std::string target_cache(const std::string& metric) {
  return metric.rfind("devtlb_", 0) == 0 || metric == "translation_requests_per_1000_dmas" ? "devtlb"
                                                                                            : "iotlb";
}

std::vector<TargetAnswer> find_target(const std::vector<CsvRow>& rows, const SweepTarget& target,
                                      const std::vector<std::string>& group_columns) {
  std::vector<TargetAnswer> answers;
  if (rows.empty()) return answers;
  const CsvRow& header = rows[0];
  const auto column = [&header](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<long>(i);
    return -1L;
  };
  const std::string cache = target_cache(target.metric);
  const long metric = column(target.metric), status = column("status");
  const long sets_col = column(cache + "_sets"), ways_col = column(cache + "_ways"),
             entries_col = column(cache + "_entries");
  std::vector<long> groups;
  for (const std::string& g : group_columns) groups.push_back(column(g));

  // Smallest: fewest entries, then the cheaper associativity, then fewer sets.
  const auto cost = [](const TargetAnswer& a) {
    return std::make_tuple(a.entries, a.ways == 0 ? std::numeric_limits<unsigned>::max() : a.ways, a.sets);
  };
  std::map<std::string, size_t> by_group;  // group -> index into answers
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    std::string group;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (groups[g] < 0 || static_cast<size_t>(groups[g]) >= row.size()) continue;
      group += (group.empty() ? "" : ", ") + group_columns[g] + "=" + row[static_cast<size_t>(groups[g])];
    }
    auto [it, fresh] = by_group.emplace(group, answers.size());
    if (fresh) {
      answers.emplace_back();
      answers.back().group = group;
    }
    TargetAnswer& best = answers[it->second];
    if (status >= 0 && row[static_cast<size_t>(status)] != "ok") continue;
    TargetAnswer candidate;
    candidate.row = r;
    if (metric < 0 || !parse_double(row[static_cast<size_t>(metric)], candidate.value)) continue;
    if (sets_col < 0 || ways_col < 0 || entries_col < 0 ||
        !parse_count(row[static_cast<size_t>(sets_col)], candidate.sets) ||
        !parse_count(row[static_cast<size_t>(ways_col)], candidate.ways) ||
        !parse_count(row[static_cast<size_t>(entries_col)], candidate.entries))
      continue;
    candidate.met = target.meets(candidate.value);
    candidate.any = true;
    candidate.group = best.group;
    // A meeting row beats every row that does not; among meeting rows the smallest wins, among
    // the others the best value (the smaller geometry on a tie).
    bool take = !best.any;
    if (!take && candidate.met != best.met) take = candidate.met;
    else if (!take && candidate.met) take = cost(candidate) < cost(best);
    else if (!take) take = target.better(candidate.value, best.value) ||
                           (candidate.value == best.value && cost(candidate) < cost(best));
    if (take) best = candidate;
  }
  return answers;
}

std::string describe_geometry(unsigned sets, unsigned ways, unsigned entries) {
  if (ways == 0) return "fully associative, " + std::to_string(entries) + " entries";
  return std::to_string(sets) + (sets == 1 ? " set x " : " sets x ") + std::to_string(ways) +
         (ways == 1 ? " way (" : " ways (") + std::to_string(entries) + " entries)";
}

}  // namespace iommu_sim
