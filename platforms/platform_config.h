// The typed description of a platform, filled from YAML by read_platform_config(). Each model
// keeps its own configuration struct; this file only gathers them and adds the wiring.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/host/apic_system.h"
#include "iommu_sim/host/host_setup.h"
#include "iommu_sim/host/interrupt_setup.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/iommu_config.h"
#include "iommu_sim/pcie/nic_workload.h"
#include "iommu_sim/pcie/random_workload.h"
#include "iommu_sim/pcie/root_complex.h"
#include "iommu_sim/pcie/sriov_endpoint.h"
#include "iommu_sim/pcie/storage_workload.h"
#include "iommu_sim/pcie/trace_workload.h"

namespace iommu_sim {

class Section;

struct SimulationSpec {
  sc_core::sc_time quantum = sc_core::sc_time(1, sc_core::SC_US);
  sc_core::sc_time max_time = sc_core::SC_ZERO_TIME;  // zero: until every workload is done
  uint64_t seed = 1;  // the default seed of every random choice (read_platform_config)
  sc_core::sc_time warmup = sc_core::SC_ZERO_TIME;          // statistics start here
  sc_core::sc_time stats_interval = sc_core::SC_ZERO_TIME;  // interval records (zero: none)
};

// What one DMA engine runs.
struct WorkloadSpec {
  std::string kind = "random";  // random | nic | storage | trace | none
  RandomWorkloadConfig random;
  NicWorkloadConfig nic;
  StorageWorkloadConfig storage;
  TraceWorkloadConfig trace;
};

// A bare DMA source with a fixed requester ID, straight on the IOMMU's upstream port (no PCIe
// hierarchy): the default platform's devices.
struct TrafficSpec {
  std::string name;
  uint16_t requester_id = 0;
  WorkloadSpec workload;
  bool has_pasid = false;   // scalable mode: DMA carries this PASID
  uint32_t pasid = 0;
  bool privileged = false;  // ... as supervisor requests
};

// An SR-IOV endpoint behind the root complex: its PF and VFs each run a workload.
struct EndpointSpec {
  std::string name;
  EndpointConfig endpoint;
  WorkloadSpec pf_workload;  // the PF's
  WorkloadSpec vf_workload;  // every enabled VF's, unless vf_workloads names one
  std::vector<WorkloadSpec> vf_workloads;  // VF n's own, for n < size()
  // ATS: endpoint.device.pf.ats.present puts the capability in every function; the host driver
  // enables it where ats_enabled, with this STU.
  bool ats_enabled = false;
  unsigned ats_stu = 0;

  const WorkloadSpec& workload_of(unsigned function) const {
    if (function == 0) return pf_workload;
    return function - 1 < vf_workloads.size() ? vf_workloads[function - 1] : vf_workload;
  }
};

struct PcieSpec {
  RootComplexConfig root_complex;
  std::vector<EndpointSpec> endpoints;
};

struct PlatformConfig {
  SimulationSpec simulation;
  MemoryConfig memory;
  IommuConfig iommu;
  std::string iotlb_impl = "model";  // model | rtl
  std::string devtlb_trace_path;     // non-empty: every function's device-TLB access stream
  IotlbTraceStyle devtlb_trace_style;
  HostSetupConfig host;
  std::vector<TrafficSpec> traffic;
  PcieSpec pcie;
  // The `interrupts:` section: the host's CPUs and guests, and the software that routes every
  // function's MSI-X through the interrupt remapper. Absent: MSI-X stays as the host left it.
  bool interrupts_configured = false;
  HostInterruptConfig interrupts;
  InterruptSetupConfig interrupt_setup;
};

// Reads and validates the whole description; throws ConfigError naming file:line:column.
PlatformConfig read_platform_config(Section root);

// Whether any DMA engine runs a workload (a `traffic:` item, or an endpoint function whose
// workload is not `none`): a platform without one has nothing to simulate.
bool has_dma_source(const PlatformConfig& config);

// What the platform's DMA engines run, short enough for a plot title and a statistics file's
// metadata: "dev0 random, dev1 random", "nic0 nic x5" (the PF and 4 VFs).
std::string describe_workloads(const PlatformConfig& config);

// "BB:DD.F" -> requester ID; false when malformed.
bool parse_requester_id(const std::string& text, uint16_t& out);
std::string format_requester_id(uint16_t rid);

}  // namespace iommu_sim
