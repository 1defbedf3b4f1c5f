#include "iommu_sim/platform/sweep/sweep_results.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/version.h"

namespace fs = std::filesystem;

namespace iommu_sim {

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

std::string config_path_for(const std::string& stats_path) {
  const std::string ext = ".json";
  std::string base = stats_path;
  if (base.size() > ext.size() && base.compare(base.size() - ext.size(), ext.size(), ext) == 0)
    base.resize(base.size() - ext.size());
  return base + ".config.yaml";
}

RunGeometry run_geometry(const std::string& config_path, const std::map<std::string, std::string>& settings) {
  RunGeometry g;
  auto setting = [&](const char* key) {
    auto it = settings.find(key);
    return it == settings.end() ? std::string() : it->second;
  };
  g.sets = setting("iommu.iotlb.sets");
  g.ways = setting("iommu.iotlb.ways");
  g.entries = setting("iommu.iotlb.entries");
  g.policy = setting("iommu.iotlb.policy");
  g.index = setting("iommu.iotlb.index");
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
        if (iotlb["index"]) g.index = iotlb["index"].as<std::string>();
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

std::string metric_value(const std::map<std::string, double>& stats, const std::string& metric) {
  auto it = stats.find(metric);
  if (it == stats.end()) it = stats.find("summary." + metric);
  return it == stats.end() ? "" : fmt_number(it->second);
}

std::vector<std::string> similar_keys(const std::map<std::string, double>& stats, const std::string& metric) {
  const std::string last = metric.substr(metric.rfind('.') + 1);
  std::vector<std::string> out;
  for (const auto& kv : stats) {
    const std::string& key = kv.first;
    if (key.size() >= last.size() && key.compare(key.size() - last.size(), last.size(), last) == 0)
      out.push_back(key);
    if (out.size() == 8) break;
  }
  return out;
}

bool write_sweep_meta(const std::string& csv_path, const std::string& run_stats, const SweepOptions& o,
                      const std::vector<std::pair<std::string, std::string>>& items, std::string& error) {
  // The run's own metadata, without what differs from one run of the sweep to the next.
  StatsMetadata meta;
  bool have_version = false;
  if (!run_stats.empty()) {
    std::ifstream in(run_stats);
    std::map<std::string, double> numbers;
    std::map<std::string, std::string> strings;
    std::string json_error;
    if (in && read_stats_json(in, numbers, json_error, &strings)) {
      for (const char* key : {"version", "revision", "platform", "workload"}) {
        auto it = strings.find(std::string("meta.") + key);
        if (it != strings.end()) meta.set(key, it->second);
      }
      auto seed = numbers.find("meta.seed");
      if (seed != numbers.end()) meta.set("seed", seed->second);
      have_version = strings.count("meta.version") > 0;
    }
  }
  if (!have_version) meta.set("version", IOMMU_SIM_VERSION);

  StatsMetadata sweep;
  std::string command = "iommu-sim sweep";
  for (const std::string& a : o.args) command += " " + a;
  sweep.set("command", command);
  for (const auto& [key, value] : items) sweep.set(key, value);

  std::string path = csv_path;
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0) path.resize(path.size() - 4);
  path += ".meta.json";
  std::ofstream f(path);
  f << "{\"meta\": ";
  meta.write_json(f);
  f << ", \"sweep\": ";
  sweep.write_json(f);
  f << "}\n";
  f.flush();
  if (!f) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

namespace {
// A metric's value in a sentence: five significant digits (0.84054, 166.5).
std::string short_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.5g", v);
  return buf;
}
}  // namespace

void report_target(const std::vector<CsvRow>& rows, const SweepTarget& target,
                   const std::vector<std::string>& group_columns,
                   const std::function<std::string(const TargetAnswer&)>& advice, std::ostream& out) {
  for (const TargetAnswer& a : find_target(rows, target, group_columns)) {
    out << "sweep: target " << target.text << (a.group.empty() ? "" : " (" + a.group + ")") << ": ";
    if (!a.any) {
      out << "no successful run has " << target.metric << "\n";
    } else if (a.met) {
      out << "met; the smallest geometry that meets it is " << describe_geometry(a.sets, a.ways, a.entries)
          << ", " << target.metric << " " << short_number(a.value) << "\n";
    } else {
      out << "NOT met by any geometry within the limits; the best is "
          << describe_geometry(a.sets, a.ways, a.entries) << " with " << target.metric << " "
          << short_number(a.value) << ". " << advice(a) << "\n";
    }
  }
}

std::vector<CsvRow> read_csv_file(const std::string& path) {
  std::ifstream in(path);
  std::vector<CsvRow> rows;
  std::string error;
  if (!in || !read_csv(in, rows, error)) rows.clear();
  return rows;
}

}  // namespace iommu_sim
