// Iommu::WalkPort, the page walker's view of memory (iommu_walk.cpp, iommu_scalable.cpp): table
// reads and accessed/dirty writes through the `memory` socket, timed, or through transport_dbg
// and never writing on the debug path (delay null).
#pragma once

#include "iommu/iommu.h"

namespace iommu_sim {

class Iommu::WalkPort : public WalkMemory {
 public:
  WalkPort(Iommu& iommu, sc_core::sc_time* delay) : m_iommu(iommu), m_delay(delay) {}
  bool read(uint64_t addr, uint64_t& value) override {
    return m_iommu.read_table(addr, &value, 8, m_delay);
  }
  bool write(uint64_t addr, uint64_t value) override {
    return m_delay && m_iommu.write_memory(addr, &value, 8, *m_delay);
  }
  void cache_probe() override {
    if (m_delay) *m_delay += m_iommu.m_config.cache_latency;
  }

 private:
  Iommu& m_iommu;
  sc_core::sc_time* m_delay;
};

}  // namespace iommu_sim
