// Turns a WorkloadSpec into the workload a DMA engine runs, and into what the host's driver must
// prepare for it (the IOVA regions to map, the rings or lists to write there).
#pragma once

#include <memory>

#include "iommu_sim/host/host_setup.h"
#include "iommu_sim/pcie/workload.h"
#include "iommu_sim/platform/platform_config.h"

namespace iommu_sim {

// nullptr for kind "none". Throws ConfigError when a trace file cannot be read.
std::unique_ptr<Workload> make_workload(const WorkloadSpec& spec);

// The regions the workload touches below 2^iova_width (its domain's input width) and the data
// the host writes into them before it starts.
FunctionSoftware software_for(const WorkloadSpec& spec, unsigned iova_width);

}  // namespace iommu_sim
