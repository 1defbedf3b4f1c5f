// The typed description of a platform, filled from YAML by read_platform_config(). Each model
// keeps its own configuration struct; this file only gathers them and adds the wiring.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>

#include "common/memory_target.h"
#include "host/host_setup.h"
#include "iommu/caches/iotlb.h"
#include "iommu/iommu_config.h"
#include "pcie/random_workload.h"

namespace iommu_sim {

class Section;

struct SimulationSpec {
  sc_core::sc_time quantum = sc_core::sc_time(1, sc_core::SC_US);
  sc_core::sc_time max_time = sc_core::SC_ZERO_TIME;  // zero: until every workload is done
};

// A traffic generator standing for a device function (until the PCIe endpoint drives them).
struct TrafficSpec {
  std::string name;
  uint16_t requester_id = 0;
  RandomWorkloadConfig random;
};

struct PlatformConfig {
  SimulationSpec simulation;
  MemoryConfig memory;
  IommuConfig iommu;
  std::string iotlb_impl = "model";  // model | rtl
  HostSetupConfig host;
  std::vector<TrafficSpec> traffic;
};

// Reads and validates the whole description; throws ConfigError naming file:line:column.
PlatformConfig read_platform_config(Section root);

// "BB:DD.F" -> requester ID; false when malformed.
bool parse_requester_id(const std::string& text, uint16_t& out);
std::string format_requester_id(uint16_t rid);

}  // namespace iommu_sim
