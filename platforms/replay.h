// `iommu-sim replay CAPTURE`: a capture of Linux driving QEMU's VT-d (linux_capture.h) replayed
// through the model, and the model's answers compared with QEMU's.
//
// The model is configured with the capabilities QEMU advertised (CAP/ECAP from the capture's
// registers); the guest's memory pages are loaded; every register write Linux made goes through
// the model's register socket in trace order (invalidation descriptors are put into the queue
// just before the tail write that hands them over); every translation and MSI QEMU performed
// goes through the model's upstream socket at its time, as a timed DMA stream through the
// IOTLB. For each one, the model's answer (physical address or fault; remapped MSI address and
// data) is compared with QEMU's. The memory is the end-of-run snapshot: when the entries QEMU
// read at the time (its trace names the context entry, the leaf entry and the IRTE it used)
// differ from the snapshot, they are written back first and the comparison is counted apart,
// as "changed after the access". docs/linux-validation.md says what is and is not compared.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/iommu/iommu_config.h"
#include "iommu_sim/platform/linux_capture.h"

namespace iommu_sim {

struct ReplayOptions {
  std::vector<std::string> sets;  // --set KEY=VALUE (the model's caches, latencies, IOTLB)
  std::string stats_path;         // --stats FILE.json
  std::string iotlb_trace_path;   // --iotlb-trace FILE
  IotlbTraceStyle trace_style;    // --trace-format, --trace-ops
  bool quiet = false;
  double time_scale = 1.0;        // simulated seconds per captured second
  unsigned max_details = 20;      // disagreements printed in full
};

// One disagreement (or one comparison that could not be made), as the report prints it.
struct ReplayMismatch {
  std::string what;      // "translation" or "MSI"
  uint16_t requester = 0;
  uint64_t address = 0;  // IOVA, or the MSI address
  std::string qemu, model;
  std::vector<std::pair<uint64_t, uint64_t>> entries;  // table reads of the model: address, value
  unsigned trace_line = 0;
};

struct ReplayCounts {
  uint64_t total = 0;
  uint64_t compared_final = 0, agreed_final = 0;        // the snapshot held the entries QEMU read
  uint64_t compared_restored = 0, agreed_restored = 0;  // changed after the access: restored
  uint64_t not_comparable = 0;
  uint64_t compared() const { return compared_final + compared_restored; }
  uint64_t agreed() const { return agreed_final + agreed_restored; }
  uint64_t disagreed() const { return compared() - agreed(); }
};

struct RegisterCheck {
  std::string name;
  uint64_t offset = 0;
  unsigned size = 4;
  uint64_t qemu = 0, model = 0;
  // Where QEMU 7.2 is known to depart from the specification here, and the values differ only
  // by that: what it does.
  std::string qemu_deviation;
  bool equal() const { return qemu == model; }
};

struct ReplayResult {
  ReplayCounts translations, faults, msis;
  ReplayCounts devtlb_invalidations;  // descriptors 0x3 (device TLBs): the invalidate requests sent
  uint64_t msis_remapped = 0, msis_passed = 0;
  uint64_t register_writes = 0, descriptors = 0;
  std::vector<RegisterCheck> registers;  // after the replay: the registers Linux reads
  std::vector<ReplayMismatch> mismatches;
  uint64_t guest_maps = 0, guest_unmaps = 0;
  std::string capabilities_note;  // CAP/ECAP fields the model reports differently, if any
  double simulated_s = 0;
  // The replayed model: some statistics are gauges that read it, so it lives as long as this.
  std::shared_ptr<void> model;
  bool ok() const {
    return translations.disagreed() == 0 && faults.disagreed() == 0 && msis.disagreed() == 0 &&
           devtlb_invalidations.disagreed() == 0;
  }
};

// The IOMMU configuration QEMU's CAP and ECAP describe, on top of `base` (caches, latencies).
// Throws CaptureError for capabilities the model cannot take (scalable mode, say). With ECAP.DT
// the model has device TLBs: the replay completes every invalidate request at once, as QEMU
// does, and checks each against the descriptor QEMU processed.
IommuConfig iommu_config_from_capabilities(uint64_t cap, uint64_t ecap, const IommuConfig& base);

// Runs the replay in this process (one SystemC elaboration: once per process).
ReplayResult replay_capture(const LinuxCapture& capture, const IommuConfig& config,
                            const ReplayOptions& options, StatsRegistry& stats);

// `iommu-sim replay ARGS...` (also `iommu-sim run CAPTURE/capture.txt ...`, which is how grid
// sweeps and one-pass exploration run a capture). Exit codes: 0 every comparison agreed, 1 some
// disagreed or the simulation failed, 2 bad input.
int replay_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// True when `run_args` (after "run") name a capture rather than a platform description.
bool run_args_name_capture(const std::vector<std::string>& run_args);

}  // namespace iommu_sim
