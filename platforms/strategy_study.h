// `iommu-sim study FILE`: the protection-strategies study (docs/strategies.md). The study file
// names the strategies and message sizes and describes one platform (memory, IOMMU, NIC, driver,
// software costs, injected violations); every (strategy, size) point is a full platform run in a
// process of its own (the SystemC kernel cannot restart), run through the sweep's process pool.
// The points' statistics are gathered into one table, printed and written as CSV.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

// Whether a YAML file is a study (its top level has `study`) rather than a platform description.
// An unreadable file is not: reading it as a platform reports the error.
bool is_study_file(const std::string& file);

// `iommu-sim check` of a protection-strategies study: the study file with `sets` applied, and the
// driver of every (strategy, message size) point. Returns the number of points; throws
// ConfigError naming the file (and the point) on bad input.
size_t check_strategy_study(const std::string& file, const std::vector<std::string>& sets);

// args: the words after `study`; self_exe: the iommu-sim to spawn for each point. Exit code:
// 0 success, 2 bad input, 1 a failed point (the CSV still has every point).
int study_main(const std::vector<std::string>& args, const std::string& self_exe,
               std::ostream& out, std::ostream& err);

}  // namespace iommu_sim
