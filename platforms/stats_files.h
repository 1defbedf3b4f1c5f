// The statistics files of `iommu-sim run --stats FILE.json`:
//   FILE.json             every statistic over the measurement (after simulation.warmup_us)
//   FILE.config.yaml      the effective configuration, every value used: rerun it as it is
//   FILE.intervals.jsonl  with simulation.stats_interval_us, one line per interval
// Every record leads with the run's metadata ("meta"): version, revision, platform,
// config_hash (of the effective configuration), seed, sim_time_ns (the end of the run, or of the
// interval), host_time_s (since the run began), then measured_from_ns (where the statistics
// begin) in FILE.json, or interval, interval_start_ns and interval_end_ns in an interval's line.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include "iommu_sim/common/measurement.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/platform/report.h"

namespace iommu_sim {

// "fnv1a64:" and the 64-bit FNV-1a hash of `text` in hex: names a configuration in a file name
// or a table without claiming to be a cryptographic digest.
std::string config_hash(const std::string& text);

class StatsFiles {
 public:
  // Opens the files now (none when stats_path is empty), so that a bad path costs no
  // simulation; throws ConfigError.
  StatsFiles(const std::string& stats_path, bool intervals);

  // What every record says about the run.
  void describe(const std::string& version, const std::string& revision, const std::string& platform,
                const std::string& effective_yaml, uint64_t seed);
  // Writes each interval as the run reaches its end (nothing without an intervals file).
  IntervalSink interval_writer(StatsRegistry& stats);
  // The measurement and the effective configuration, at the end of the run.
  void finish(const StatsRegistry& stats, const PlatformOutcome& outcome);

  // FILE.json -> FILE<suffix> (FILE.config.yaml, FILE.intervals.jsonl).
  static std::string beside(const std::string& stats_path, const std::string& suffix);

 private:
  StatsMetadata metadata(const sc_core::sc_time& now) const;

  std::string m_path;
  std::ofstream m_stats, m_config, m_intervals;
  std::string m_version, m_revision, m_platform, m_effective_yaml, m_hash;
  uint64_t m_seed = 0;
  uint64_t m_interval = 0;
  std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
};

}  // namespace iommu_sim
