// Running a simulation for its statistics: a warm-up whose statistics are dropped, and interval
// records for long runs, on any platform's StatsRegistry.
//
// The simulation is run in slices with sc_start(); no process of its own is added, so a run still
// ends as it would without (sc_stop(), nothing left to simulate, the time limit) and what the
// models do is the same. The boundaries fall between two kernel time steps: a model that runs
// ahead of kernel time under a quantum keeper has done up to one quantum more by then.
#pragma once

#include <functional>

#include <systemc>

#include "iommu_sim/common/stats.h"

namespace iommu_sim {

struct MeasurementConfig {
  sc_core::sc_time warmup = sc_core::SC_ZERO_TIME;    // statistics start over here (zero: none)
  sc_core::sc_time interval = sc_core::SC_ZERO_TIME;  // an interval record every so long (zero: none)
};

// Called at the end of every interval [start, end): write it (StatsRegistry::write_interval_json)
// there, which also begins the next one. The last, shorter interval ends where the run does.
using IntervalSink = std::function<void(const sc_core::sc_time& start, const sc_core::sc_time& end)>;

// Runs the simulation as sc_start() does, or as sc_start(limit) when limit is not zero, calling
// stats.restart() at config.warmup and on_interval at each interval's end. Returns where the
// measurement begins: the warm-up, or zero; when the run ends before the warm-up, its end (the
// statistics then cover nothing, and a msg::kStats warning says so).
sc_core::sc_time run_measured(StatsRegistry& stats, const MeasurementConfig& config,
                              const sc_core::sc_time& limit, const IntervalSink& on_interval = {});

}  // namespace iommu_sim
