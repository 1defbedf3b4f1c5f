// `iommu-sim calibrate`: fits the model's translation parameters to a measured DMA latency curve
// (mean latency of one outstanding random read against window size, the pcie-bench IOTLB
// experiment) and writes a platform that reproduces it (docs/calibrate.md).
//
//   iommu-sim calibrate MEASURED.csv --out DIR [options]
//       fits IOTLB entries, the walk (table-read latency, paging-structure caches present and
//       how large) and the fixed round trip; prints them with their uncertainty and the residual
//       per window; writes DIR/platform.yaml, DIR/calibration.csv, DIR/candidates.csv and a plot.
//   iommu-sim calibrate --curve PLATFORM.yaml --windows 8K,64K,... --out CURVE.csv
//       the curve a platform gives (its first endpoint's PF runs the random reads): the model
//       side of the comparison, in the layout the fit reads.
//
// Every candidate curve is the model's own: each (geometry, window) point is a full
// `iommu-sim run` in a process of its own, through the sweep's process pool. An analytic
// predictor only ranks the candidates before the model runs the best of them.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

// args: the words after `calibrate`; self_exe: the iommu-sim to spawn. Exit code: 0 success,
// 2 bad input, 1 a model run failed.
int calibrate_main(const std::vector<std::string>& args, const std::string& self_exe,
                   std::ostream& out, std::ostream& err);

}  // namespace iommu_sim
