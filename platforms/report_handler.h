// How iommu-sim shows the models' sc_report messages, and the exit code of the one that stopped a
// run. The models say what they have to say through sc_report (iommu_sim/common/messages.h);
// the program decides how it looks and what it costs, as any platform would.
#pragma once

#include <systemc>

namespace iommu_sim {

// Every message whose actions include SC_DISPLAY goes to stderr as
// "iommu-sim: warning: TEXT [TYPE]" (info, warning, error, fatal); with `quiet`, only errors and
// fatals. The other actions (log, throw, stop, abort) stay SystemC's. Call again to change quiet.
void install_report_handler(bool quiet);

// The exit code for a report that ended a run: bad input (2) for a model's configuration error
// (msg::kConfig), a simulation failure (1) for anything else.
int exit_code_for(const sc_core::sc_report& report);

}  // namespace iommu_sim
