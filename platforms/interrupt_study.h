// `iommu-sim study FILE` for a study file with `study.kind: interrupt-delivery`
// (docs/interrupts.md): delivery modes x interrupt rates x vCPU scheduling over one platform
// description. Every point is `iommu-sim run PLATFORM --set ...` in a process of its own, run
// through the sweep's process pool as a grid of the three axes; the points' statistics become a
// table (printed and written as CSV, per point and per guest) and plots.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

// Whether the study file named among `args` (the words after `study`) is an interrupt study.
// An unreadable file is not: the strategies study reports its error.
bool is_interrupt_study(const std::vector<std::string>& args);

// What `iommu-sim study --help` says about interrupt studies.
const char* interrupt_study_usage();

// `iommu-sim check` of an interrupt study: the study file, and the platform description with the
// settings of every point (then `sets`), as `run` would read it. Returns the number of points;
// throws ConfigError naming the file (and the point) on bad input.
size_t check_interrupt_study(const std::string& file, const std::vector<std::string>& sets);

// Exit code: 0 success, 2 bad input, 1 a failed point (the CSV still has every point).
int interrupt_study_main(const std::vector<std::string>& args, const std::string& self_exe,
                         std::ostream& out, std::ostream& err);

}  // namespace iommu_sim
