// The options of `iommu-sim sweep` and the two sweeps they drive (grid_sweep.cpp,
// one_pass_sweep.cpp); sweep.cpp parses them. Internal to the sweep library.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "iommu_sim/platform/sweep/grid.h"
#include "iommu_sim/platform/sweep/one_pass.h"
#include "iommu_sim/platform/sweep/target.h"

namespace iommu_sim {

struct SweepOptions {
  std::vector<std::string> args;  // as given, for the metadata file
  std::string platform;
  std::vector<GridAxis> axes;
  std::vector<std::string> sets;     // KEY=VALUE, for every point
  std::vector<std::string> metrics;  // --metric: statistics keys added as CSV columns
  std::vector<SweepTarget> targets;
  std::string out_dir;
  unsigned jobs = 1;
  bool sharded = false;
  unsigned shard_index = 1, shard_count = 1;
  double timeout_s = 0;
  bool plots = true;
  bool quiet = false;
  bool one_pass = false;
  OnePassLimits limits;
  std::string trace, linux_trace, devtlb_trace;
  // One-pass on a platform: also write the streams the run makes to DIR/iotlb.trace and
  // DIR/devtlb.trace (they are explored as the run makes them, with or without).
  bool keep_trace = false;
  uint16_t domain = 1;
  unsigned passes = 1;
  // One-pass on a platform: geometries checked with timed runs, and the difference in hit rate
  // above which the sweep warns.
  unsigned verify = 3;
  double verify_tolerance = 0.02;
};

// Each returns the exit code: 0 success, 2 bad input, 1 failure.
int grid_sweep(const SweepOptions& o, const std::string& self_exe, std::ostream& out, std::ostream& err);
int one_pass_sweep(const SweepOptions& o, const std::string& self_exe, std::ostream& out,
                   std::ostream& err);

}  // namespace iommu_sim
