#include "iommu_sim/platform/stats_files.h"

#include <cstdio>

#include "iommu_sim/platform/config_reader.h"

namespace iommu_sim {

namespace {
double ns(const sc_core::sc_time& t) { return t.to_seconds() * 1e9; }
}  // namespace

std::string config_hash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string StatsFiles::beside(const std::string& stats_path, const std::string& suffix) {
  const auto dot = stats_path.rfind('.');
  const auto slash = stats_path.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? stats_path.substr(0, dot) : stats_path) + suffix;
}

StatsFiles::StatsFiles(const std::string& stats_path, bool intervals) : m_path(stats_path) {
  if (stats_path.empty()) return;
  const auto open = [](std::ofstream& f, const std::string& path) {
    f.open(path);
    if (!f) throw ConfigError("--stats: cannot write " + path);
  };
  open(m_stats, stats_path);
  open(m_config, beside(stats_path, ".config.yaml"));
  if (intervals) open(m_intervals, beside(stats_path, ".intervals.jsonl"));
}

void StatsFiles::describe(const std::string& version, const std::string& revision,
                          const std::string& platform, const std::string& effective_yaml, uint64_t seed) {
  m_version = version;
  m_revision = revision;
  m_platform = platform;
  m_effective_yaml = effective_yaml;
  m_hash = config_hash(effective_yaml);
  m_seed = seed;
}

StatsMetadata StatsFiles::metadata(const sc_core::sc_time& now) const {
  StatsMetadata m;
  m.set("version", m_version)
      .set("revision", m_revision)
      .set("platform", m_platform)
      .set("config_hash", m_hash)
      .set("seed", static_cast<double>(m_seed))
      .set("sim_time_ns", ns(now))
      .set("host_time_s",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count());
  return m;
}

IntervalSink StatsFiles::interval_writer(StatsRegistry& stats) {
  if (!m_intervals.is_open()) return {};
  return [this, &stats](const sc_core::sc_time& start, const sc_core::sc_time& end) {
    StatsMetadata m = metadata(end);
    m.set("interval", static_cast<double>(m_interval++))
        .set("interval_start_ns", ns(start))
        .set("interval_end_ns", ns(end));
    stats.write_interval_json(m_intervals, m);
    m_intervals.flush();  // a long run's intervals can be read while it goes on
  };
}

void StatsFiles::finish(const StatsRegistry& stats, const PlatformOutcome& outcome) {
  if (!m_stats.is_open()) return;
  StatsMetadata m = metadata(outcome.end_time);
  m.set("measured_from_ns", ns(outcome.measured_from));
  stats.write_json(m_stats, m);
  m_config << m_effective_yaml;
}

}  // namespace iommu_sim
