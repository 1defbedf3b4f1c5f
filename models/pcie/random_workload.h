// `random` workload: fixed-size accesses at random size-aligned offsets inside a window.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>

#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

struct RandomWorkloadConfig {
  uint64_t base = 0;                 // IOVA of the window (the host maps it for the function)
  uint64_t window = 1ULL << 20;      // bytes; a multiple of size
  uint32_t size = 64;                // bytes per access; base is size-aligned
  enum Direction { Read, Write, Mixed } direction = Read;  // Mixed: each access 50/50
  uint64_t count = 10000;            // accesses in total
  sc_core::sc_time gap = sc_core::sc_time(10, sc_core::SC_NS);  // between accesses
  uint64_t seed = 1;
  // When > 0, every stray_every-th access (the stray_every-th, 2*stray_every-th, ...) goes to
  // stray_base + a random offset inside the same window size: addresses the host never mapped
  // for this device, to show faults.
  uint64_t stray_every = 0;
  uint64_t stray_base = 0;
};

// "" when valid, else a message naming the offending field.
std::string validate(const RandomWorkloadConfig& config);

class RandomWorkload : public Workload {
 public:
  // Throws std::invalid_argument with validate()'s message if the config is invalid.
  explicit RandomWorkload(const RandomWorkloadConfig& config);
  std::string kind() const override { return "random"; }
  void run(DmaPort& port) override;

 private:
  RandomWorkloadConfig m_config;
};

}  // namespace iommu_sim
