#include "iommu_sim/host/cost_model.h"

#include <cmath>

namespace iommu_sim {

const char* cost_step_name(CostStep step) {
  switch (step) {
    case CostStep::IovaAlloc: return "iova_alloc";
    case CostStep::IovaFree: return "iova_free";
    case CostStep::PageTableUpdate: return "page_table_update";
    case CostStep::PageTableClear: return "page_table_clear";
    case CostStep::IotlbInvalidation: return "iotlb_invalidation";
    case CostStep::InvalidationWait: return "invalidation_wait";
    case CostStep::InvalidationHardware: return "invalidation_hardware";
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
    case CostStep::PageTableClear: return page_table_update;
    case CostStep::IotlbInvalidation: return iotlb_invalidation;
    case CostStep::InvalidationWait: return invalidation_wait;
    case CostStep::InvalidationHardware: return 0;
    case CostStep::Packet: return packet;
    case CostStep::Count: break;
  }
  return 0;
}

namespace {

std::vector<CostPreset> make_presets() {
  std::vector<CostPreset> p;
  // Willmann et al. (USENIX ATC 2008) table 2: page-table update and IOTLB update per platform.
  // The IOTLB update was measured on the platform, its hardware's time included: it is the
  // least the CPU waits per invalidation, not software to add to the model's time.
  auto willmann = [&](const char* name, uint64_t update, uint64_t iotlb, bool queued) {
    CostPreset c;
    c.name = name;
    c.costs.page_table_update = update;
    c.costs.iova_alloc = c.costs.iova_free = 0;  // guest-physical addresses were the IOVAs
    c.costs.iotlb_invalidation = 0;              // not published apart from the hardware's
    c.costs.invalidation_hardware = iotlb;
    c.queued_invalidation = queued;
    c.published_map_unmap = 2 * update + iotlb;
    c.source = "Willmann et al. 2008, table 2: 2 x page-table update + IOTLB update";
    p.push_back(c);
  };
  // Calgary and GART flush their TLBs through a register; VT-d through its invalidation queue.
  willmann("calgary", 673, 10207, false);
  willmann("vtd", 991, 1217, true);
  willmann("gart", 27, 486, false);
  CostPreset linux;
  linux.name = "linux-2011";
  linux.costs.page_table_update = 991;  // VT-d's, as above
  linux.costs.iova_alloc = 167;         // (2316 - 2 x 991) / 2
  linux.costs.iova_free = 167;
  linux.costs.iotlb_invalidation = 0;
  linux.costs.invalidation_hardware = 4593;
  linux.queued_invalidation = true;
  linux.published_map_unmap = 2316 + 4593;
  linux.source = "Amit et al. 2011 (vIOMMU), bare metal: 2,316 software + 4,593 hardware";
  p.push_back(linux);
  return p;
}

const std::vector<CostPreset>& presets() {
  static const std::vector<CostPreset> all = make_presets();
  return all;
}

}  // namespace

const std::vector<std::string>& cost_presets() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const CostPreset& p : presets()) n.push_back(p.name);
    return n;
  }();
  return names;
}

const CostPreset* find_cost_preset(const std::string& name) {
  for (const CostPreset& p : presets())
    if (p.name == name) return &p;
  return nullptr;
}

bool cost_preset(const std::string& name, SoftwareCostConfig& out) {
  const CostPreset* p = find_cost_preset(name);
  if (!p) return false;
  out = p->costs;
  return true;
}

std::string validate(const SoftwareCostConfig& c) {
  if (!(c.cpu_ghz > 0) || c.cpu_ghz > 100) return "cpu_ghz: must be in (0, 100]";
  return "";
}

uint64_t CostLedger::charge(CostStep step, uint64_t times) {
  const uint64_t c = m_config.cycles(step) * times;
  record(step, c, times);
  return c;
}

void CostLedger::record(CostStep step, uint64_t cycles, uint64_t times) {
  const auto i = static_cast<unsigned>(step);
  m_cycles[i] += cycles;
  m_counts[i] += times;
}

uint64_t CostLedger::cycles_of_ns(double ns) const {
  return static_cast<uint64_t>(std::llround(ns * m_config.cpu_ghz));
}

uint64_t CostLedger::total_cycles() const {
  uint64_t t = 0;
  for (uint64_t c : m_cycles) t += c;
  return t;
}

}  // namespace iommu_sim
