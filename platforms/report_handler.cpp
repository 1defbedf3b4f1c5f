#include "iommu_sim/platform/report_handler.h"

#include <iostream>
#include <string>

#include "iommu_sim/common/messages.h"
#include "iommu_sim/platform/exit_codes.h"

namespace iommu_sim {

namespace {

bool g_quiet = false;

const char* severity_word(sc_core::sc_severity s) {
  switch (s) {
    case sc_core::SC_INFO: return "info";
    case sc_core::SC_WARNING: return "warning";
    case sc_core::SC_ERROR: return "error";
    default: return "fatal";
  }
}

void handler(const sc_core::sc_report& report, const sc_core::sc_actions& actions) {
  if ((actions & sc_core::SC_DISPLAY) && !(g_quiet && report.get_severity() < sc_core::SC_ERROR)) {
    std::cerr << "iommu-sim: " << severity_word(report.get_severity()) << ": " << report.get_msg()
              << " [" << report.get_msg_type() << "]\n";
  }
  sc_core::sc_report_handler::default_handler(report, actions & ~sc_core::SC_DISPLAY);
}

}  // namespace

void install_report_handler(bool quiet) {
  g_quiet = quiet;
  sc_core::sc_report_handler::set_handler(handler);
}

int exit_code_for(const sc_core::sc_report& report) {
  return std::string(report.get_msg_type()) == msg::kConfig ? kExitBadInput : kExitFailure;
}

}  // namespace iommu_sim
