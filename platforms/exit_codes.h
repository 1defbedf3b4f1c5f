// The exit codes of every iommu-sim subcommand (run, check, sweep, study).
#pragma once

namespace iommu_sim {

constexpr int kExitOk = 0;        // success
constexpr int kExitFailure = 1;   // the simulation (or some sweep point) failed
constexpr int kExitBadInput = 2;  // bad file, key, value or flag

}  // namespace iommu_sim
