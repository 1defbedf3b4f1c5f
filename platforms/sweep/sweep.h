// `iommu-sim sweep`: grid sweeps over full platform runs, one-pass LRU exploration of the IOTLB,
// and the merge of sharded sweeps (docs/sweeps.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/host/linux_iommu_trace.h"

namespace iommu_sim {

// args: the words after `sweep`; self_exe: the iommu-sim to spawn for each point. Returns the
// exit code: 0 success, 2 bad input, 1 failure (a grid with a failed point included: the CSV
// still has every point, the failed ones marked).
int sweep_main(const std::vector<std::string>& args, const std::string& self_exe,
               std::ostream& out, std::ostream& err);

// The IOTLB operations a Linux trace stands for (linux_trace_to_dma_ops), in `domain`: Access
// lines with the translation of each page, and page invalidations.
std::vector<IotlbOp> linux_dma_ops_to_iotlb_ops(const std::vector<LinuxDmaOp>& ops,
                                                uint16_t domain);
IotlbOp linux_dma_op_to_iotlb_op(const LinuxDmaOp& op, uint16_t domain);

// The columns every sweep CSV has after the grid keys, in order.
const std::vector<std::string>& sweep_result_columns();

}  // namespace iommu_sim
