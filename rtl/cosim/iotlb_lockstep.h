// Lockstep co-simulation of the Verilated IOTLB against the C++ reference model: every
// transaction goes to both, in the order the RTL serves same-cycle requests, and every output is
// compared (ready flags, hit, set, way, frame, permissions, page size, fill way and victim,
// invalidation counts, then the surviving contents through lookups). On the first mismatch the
// report gives the cycle, the inputs and both outputs, and a second RTL instance replays the
// run with waves on so that the failing cycle can be looked at.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/rtl/cosim/iotlb_stimulus.h"
#include "iommu_sim/rtl/rtl_iotlb.h"

namespace iommu_sim {

class IotlbLockstep {
 public:
  // `replay` (optional, untouched so far) re-runs the logged cycles with waves into
  // `mismatch_waves` when a mismatch is found. Cycles are logged up to `log_limit`; past it a
  // mismatch report says how to reproduce the run with --waves instead.
  IotlbLockstep(RtlIotlb& rtl, IotlbModel& ref, RtlIotlb* replay = nullptr,
                std::string mismatch_waves = "iotlb-cosim-mismatch.fst",
                bool probe_after_invalidate = true, uint64_t log_limit = 4000000);

  // One transaction, in both IOTLBs. Must run in an SC_THREAD. False at the first mismatch
  // (and for every call after it).
  bool run(const RtlCycleIn& in);
  // After the stream: the statistics of both must agree too.
  bool check_stats();

  bool ok() const { return m_report.empty(); }
  const std::string& report() const { return m_report; }
  // The reference missed on the latest lookup of a stimulus transaction (feeds RandomStimulus).
  bool last_missed() const { return m_last_missed; }
  uint64_t transactions() const { return m_transactions; }
  uint64_t probes() const { return m_probes; }

 private:
  // One RTL cycle and the reference in RTL order; `pending` gets what the RTL left waiting.
  bool cycle(const RtlCycleIn& in, RtlCycleIn& pending);
  bool compare_lookup(const RtlCycleIn& in, const RtlCycleOut& out, const char* what);
  void probe_contents(const std::vector<IotlbEntry>& before);
  void mismatch(const RtlCycleIn& in, const std::string& rtl, const std::string& model);

  RtlIotlb& m_rtl;
  IotlbModel& m_ref;
  RtlIotlb* m_replay;
  std::string m_mismatch_waves;
  bool m_probe;
  uint64_t m_log_limit;
  std::vector<RtlCycleIn> m_log;
  bool m_log_complete = true;
  std::string m_report;
  bool m_last_missed = false;
  uint64_t m_transactions = 0;
  uint64_t m_probes = 0;
};

// Runs `body` in an SC_THREAD of a fresh module and returns when it is done (sc_start). Build
// every RTL adapter before calling: they are modules and must exist at elaboration. The SystemC
// kernel cannot restart, so this is once per process.
void run_in_sc_thread(const std::function<void()>& body);

struct CosimOptions {
  IotlbConfig iotlb;
  enum Stimulus { Random, Directed, Trace } stimulus = Random;
  uint64_t transactions = 100000;  // random stream length
  StimulusKnobs knobs;
  std::string trace_path;          // Trace: a file in the iotlb_trace.h format
  std::string waves;               // FST of the whole run ("" for none)
  std::string mismatch_waves = "iotlb-cosim-mismatch.fst";
  bool probe_after_invalidate = true;
};

struct CosimReport {
  bool ok = false;
  // Not ok because of the input (a trace that cannot be read or is malformed, a geometry no
  // variant was built for), not because the RTL and the reference differ.
  bool bad_input = false;
  std::string message;  // the error or mismatch report; a one-line summary when ok
  uint64_t transactions = 0, probes = 0, rtl_cycles = 0;
  CacheStats stats;     // the reference's (equal to the RTL's when ok)
  double seconds = 0;   // host time of the stream
};

// Builds the RTL (and a replay instance) and the reference for options.iotlb, runs the stream
// in lockstep and reports. Once per process, like run_in_sc_thread.
CosimReport run_cosim(const CosimOptions& options);

}  // namespace iommu_sim
