// The models' messages: everything a model has to say goes through sc_report under one of the
// message types below, so that a platform sets verbosity and actions (display, log, throw, stop)
// per type or per severity, as for any other SystemC model:
//
//   sc_core::sc_report_handler::set_actions(iommu_sim::msg::kFault, sc_core::SC_DISPLAY);
//   sc_core::sc_report_handler::set_verbosity_level(sc_core::SC_HIGH);  // fault notes too
//
// Errors keep SystemC's default actions (thrown as sc_core::sc_report): a configuration that a
// model cannot run with stops the model even when its actions are changed not to throw
// (report_config_error), while host software that fails keeps its state (ok(), error()) and lets
// the simulation run on. docs/library.md lists who reports what.
#pragma once

#include <string>

namespace iommu_sim {
namespace msg {

// SC_ERROR: a model was given a configuration (a value, a file it names, a window that overlaps
// another) it cannot be built or run with.
inline constexpr const char* kConfig = "iommu_sim/config";
// SC_ERROR: the host software failed: the IOMMU did not acknowledge a command, enumeration or
// mapping failed.
inline constexpr const char* kHost = "iommu_sim/host";
// SC_INFO at SC_HIGH verbosity (hidden by default): a DMA or interrupt request faulted; the
// message says who, where, and the VT-d fault reason.
inline constexpr const char* kFault = "iommu_sim/iommu/fault";
// SC_WARNING, once per IOMMU: a payload reached the IOMMU's upstream socket without the
// PcieExtension (requester ID); it and every later one complete with TLM_GENERIC_ERROR_RESPONSE.
inline constexpr const char* kNoRequesterId = "iommu_sim/iommu/no_requester_id";
// SC_WARNING: the statistics are not what was asked for (the run ended before the warm-up).
inline constexpr const char* kStats = "iommu_sim/stats";

}  // namespace msg

// SC_REPORT_ERROR(msg::kConfig, text), and a std::invalid_argument with the same text when the
// platform's actions for it do not throw: a model is never built from a configuration it rejects.
[[noreturn]] void report_config_error(const std::string& text);

}  // namespace iommu_sim
