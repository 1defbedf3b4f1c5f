// `iommu-sim trace`: tools for IOTLB traces (docs/iotlb.md, "Trace format"); today `trace
// convert`, between the text and the binary format.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

// args: the words after `trace`. Returns the exit code: 0 success, 2 bad input (arguments, an
// unreadable or malformed trace, an output that cannot be written).
int trace_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace iommu_sim
