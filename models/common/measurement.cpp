#include "iommu_sim/common/measurement.h"

#include <string>

#include "iommu_sim/common/messages.h"

namespace iommu_sim {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {
bool stopped() {
  return sc_core::sc_get_status() == sc_core::SC_STOPPED || sc_core::sc_end_of_simulation_invoked();
}
}  // namespace

sc_time run_measured(StatsRegistry& stats, const MeasurementConfig& config, const sc_time& limit,
                     const IntervalSink& on_interval) {
  const bool limited = limit > SC_ZERO_TIME;
  const bool intervals = config.interval > SC_ZERO_TIME && on_interval;
  bool warm = config.warmup == SC_ZERO_TIME;
  // Runs to the limit as sc_start(limit) does (time ends at the limit), or to the end.
  const auto run_to_end = [&] {
    if (!limited) {
      sc_core::sc_start();
    } else if (limit > sc_core::sc_time_stamp()) {
      sc_core::sc_start(limit - sc_core::sc_time_stamp());
    }
  };
  sc_time measured_from = SC_ZERO_TIME, interval_start = SC_ZERO_TIME;
  for (;;) {
    if (warm && !intervals) {
      run_to_end();
      break;
    }
    const sc_time next = !warm ? config.warmup : interval_start + config.interval;
    if (limited && limit <= next) {
      run_to_end();
      break;
    }
    // The slice stops at its last event when the next one lies beyond it, or none is left.
    sc_core::sc_start(next - sc_core::sc_time_stamp(), sc_core::SC_EXIT_ON_STARVATION);
    if (stopped()) break;
    if (sc_core::sc_time_stamp() < next) {
      if (!sc_core::sc_pending_activity()) {
        run_to_end();  // only time passes: to the limit, if there is one
        break;
      }
      sc_core::sc_start(next - sc_core::sc_time_stamp());  // no event comes before `next`
      if (stopped()) break;
    }
    if (!warm) {
      stats.restart();
      warm = true;
      measured_from = interval_start = sc_core::sc_time_stamp();
    } else {
      on_interval(interval_start, sc_core::sc_time_stamp());
      interval_start = sc_core::sc_time_stamp();
    }
  }
  const sc_time end = sc_core::sc_time_stamp();
  if (!warm) {
    SC_REPORT_WARNING(msg::kStats, ("the run ended at " + end.to_string() + ", before the warm-up (" +
                                    config.warmup.to_string() + "): the statistics cover nothing")
                                       .c_str());
    stats.restart();
    return end;
  }
  if (intervals && end > interval_start) on_interval(interval_start, end);
  return measured_from;
}

}  // namespace iommu_sim
