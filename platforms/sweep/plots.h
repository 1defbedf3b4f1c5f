// Plots beside a CSV: runs one of the project's scripts (scripts/NAME) with a python3 that has
// matplotlib. Plotting never fails a sweep or a study: what was skipped, and why, is said on
// `err`, with where the complete CSV is.
#pragma once

#include <ostream>
#include <string>

namespace iommu_sim {

// Runs `python3 scripts/<script> CSV --out DIR` (the log in DIR/plot.log) and echoes its output
// lines prefixed with `who`. The scripts are those installed beside the program
// (<prefix>/share/iommu_sim/scripts) or, in a build tree, the source tree's. IOMMU_SIM_PLOT_SCRIPT names another script for plot_sweep.py;
// IOMMU_SIM_PYTHON another interpreter (else the python3 in PATH, then /usr/bin/python3).
void make_plots(const std::string& script, const std::string& csv, const std::string& dir,
                std::ostream& out, std::ostream& err, const std::string& who = "sweep");

}  // namespace iommu_sim
