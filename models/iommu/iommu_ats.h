// The DMA remapper's ATS state: statistics of translation requests, translated requests and
// device-TLB invalidations, and the invalidations still waiting for their functions' completions.
// Internal to models/iommu (iommu.cpp and iommu_ats.cpp).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include <systemc>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/common/vcd_writer.h"

namespace iommu_sim {

struct IommuAts {
  IommuAts(StatsRegistry& stats, const std::string& base);

  // <base>.rid.BB:DD.F.translation_requests, created on a requester's first request.
  Counter& requests_of(uint16_t rid);

  StatsRegistry& stats;
  const std::string base;
  Counter& translation_requests;   // requests received
  Counter& translations;           // completion entries returned (successful completions)
  Counter& no_permission;          // of them with R = W = 0 (not present, out of range)
  Counter& unsupported_requests;   // unsuccessful: UR
  Counter& completer_aborts;       // unsuccessful: CA
  Counter& translated_requests;    // AT = 10b requests received (passed or blocked)
  Counter& invalidations;          // invalidate requests sent to functions
  Counter& invalidation_timeouts;  // sent without a completion coming back (FSTS.ITE)
  Counter& queue_depth_stalls;     // sends that waited for a function's queue to drain
  Histogram& invalidation_latency;  // request sent to completion received, ps
  Histogram& wait_stall;           // how long wait descriptors waited for completions, ps
  std::unordered_map<uint16_t, Counter*> per_requester;

  // Completion times of the invalidate requests each function has not completed yet, oldest
  // first, and the latest completion of any.
  std::map<uint16_t, std::deque<sc_core::sc_time>> outstanding;
  sc_core::sc_time latest_completion = sc_core::SC_ZERO_TIME;

  // Waves.
  VcdWriter* vcd = nullptr;
  VcdWriter::SignalId sig_request = 0, sig_translated = 0, sig_invalidate = 0, sig_pending = 0;
};

}  // namespace iommu_sim
