// Holds a workload back until an event (the host driver's "set-up done"), so that devices start
// DMA only once their IOMMU domains exist. Runs in the DMA engine's thread.
#pragma once

#include <memory>

#include <systemc>

#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

class GatedWorkload : public Workload {
 public:
  GatedWorkload(std::unique_ptr<Workload> inner, const sc_core::sc_event& start, const bool& started)
      : m_inner(std::move(inner)), m_start(start), m_started(started) {}
  std::string kind() const override { return m_inner->kind(); }
  void run(DmaPort& port) override {
    if (!m_started) sc_core::wait(m_start);
    m_inner->run(port);
  }
  Workload& inner() { return *m_inner; }

 private:
  std::unique_ptr<Workload> m_inner;
  const sc_core::sc_event& m_start;
  const bool& m_started;
};

}  // namespace iommu_sim
