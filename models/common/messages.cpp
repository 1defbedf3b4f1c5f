#include "iommu_sim/common/messages.h"

#include <stdexcept>

#include <systemc>

namespace iommu_sim {

void report_config_error(const std::string& text) {
  SC_REPORT_ERROR(msg::kConfig, text.c_str());
  throw std::invalid_argument(text);
}

}  // namespace iommu_sim
