#include "iommu_sim/host/cost_model.h"

namespace iommu_sim {

const char* cost_step_name(CostStep step) {
  switch (step) {
    case CostStep::IovaAlloc: return "iova_alloc";
    case CostStep::IovaFree: return "iova_free";
    case CostStep::PageTableUpdate: return "page_table_update";
    case CostStep::IotlbInvalidation: return "iotlb_invalidation";
    case CostStep::InvalidationWait: return "invalidation_wait";
    case CostStep::Packet: return "packet";
    case CostStep::Count: break;
  }
  return "?";
}

uint64_t SoftwareCostConfig::cycles(CostStep step) const {
  switch (step) {
    case CostStep::IovaAlloc: return iova_alloc;
    case CostStep::IovaFree: return iova_free;
    case CostStep::PageTableUpdate: return page_table_update;
    case CostStep::IotlbInvalidation: return iotlb_invalidation;
    case CostStep::InvalidationWait: return invalidation_wait;
    case CostStep::Packet: return packet;
    case CostStep::Count: break;
  }
  return 0;
}

const std::vector<std::string>& cost_presets() {
  static const std::vector<std::string> names = {"calgary", "vtd", "gart"};
  return names;
}

bool cost_preset(const std::string& name, SoftwareCostConfig& out) {
  // Map (page-table update) and IOTLB-update cycles as published for each platform (facts sheet
  // section 10). The allocator figure is the same for all: it is the operating system's, not the
  // IOMMU's.
  SoftwareCostConfig c;
  if (name == "calgary") {
    c.page_table_update = 673;
    c.iotlb_invalidation = 10207;
  } else if (name == "vtd") {
    c.page_table_update = 991;
    c.iotlb_invalidation = 1217;
  } else if (name == "gart") {
    c.page_table_update = 27;
    c.iotlb_invalidation = 486;
  } else {
    return false;
  }
  out = c;
  return true;
}

std::string validate(const SoftwareCostConfig& c) {
  if (!(c.cpu_ghz > 0) || c.cpu_ghz > 100) return "cpu_ghz: must be in (0, 100]";
  return "";
}

uint64_t CostLedger::charge(CostStep step, uint64_t times) {
  const auto i = static_cast<unsigned>(step);
  const uint64_t c = m_config.cycles(step) * times;
  m_cycles[i] += c;
  m_counts[i] += times;
  return c;
}

uint64_t CostLedger::total_cycles() const {
  uint64_t t = 0;
  for (uint64_t c : m_cycles) t += c;
  return t;
}

}  // namespace iommu_sim
