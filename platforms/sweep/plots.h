// Plots of the CSVs that sweeps, studies and calibrations write: a Python script from scripts/
// run on the CSV when python3 with matplotlib is there. A missing script, interpreter or library
// is reported and never fails the command: the CSV is the result, the plots a convenience.
#pragma once

#include <ostream>
#include <string>

namespace iommu_sim {

// scripts/NAME in the source tree, or the file IOMMU_SIM_PLOT_SCRIPT names when set (that
// variable replaces the sweep's script, plot_sweep.py, only).
std::string plot_script_path(const std::string& name);

// Runs `script CSV --out DIR` with the first of IOMMU_SIM_PYTHON, python3, /usr/bin/python3
// that imports matplotlib; its log goes to DIR/plot.log, its "plot: FILE" lines to `out`
// prefixed with `who`. Problems go to `err`.
void run_plot_script(const std::string& script, const std::string& csv, const std::string& dir,
                     const std::string& who, std::ostream& out, std::ostream& err);

}  // namespace iommu_sim
