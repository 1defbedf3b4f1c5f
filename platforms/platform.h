// A virtual platform built from a PlatformConfig: memory, the VT-d remapping unit, the host
// software that programs it, and the DMA sources.
//
//   host set-up --> host bus --+--> memory (low and high windows)
//                              +--> IOMMU registers
//                              +--> interrupt sink (0xFEE00000 window)
//                              +--> PCIe root complex (ECAM, BAR windows) --> endpoints
//   DMA engines ---------> upstream --> IOMMU --> memory
//   endpoint functions --> root complex -^  +---> interrupt sink (fault events)
//
// With an `interrupts:` section the IOMMU's interrupt socket goes to the host's CPUs and guests
// (ApicSystem) instead; what they do not route to a guest (fault events, the PF's vectors) goes
// on to the interrupt sink.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/measurement.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/common/vcd_writer.h"
#include "iommu_sim/host/apic_system.h"
#include "iommu_sim/host/host_setup.h"
#include "iommu_sim/host/interrupt_setup.h"
#include "iommu_sim/host/interrupt_sink.h"
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/pcie/dma_engine.h"
#include "iommu_sim/pcie/root_complex.h"
#include "iommu_sim/pcie/sriov_endpoint.h"
#include "iommu_sim/platform/platform_config.h"
#include "iommu_sim/platform/report.h"

namespace iommu_sim {

class RtlIotlb;

class Platform : public sc_core::sc_module {
 public:
  // Throws ConfigError for configurations that only the wiring can reject (e.g. an RTL IOTLB
  // requested in a build without Verilator).
  Platform(sc_core::sc_module_name name, const PlatformConfig& config, StatsRegistry& stats);

  // The pipeline signals go to `vcd`; with the RTL IOTLB its own waveform (FST) goes to
  // rtl_waves_path when that is not empty.
  void trace_to(VcdWriter& vcd, const std::string& rtl_waves_path = "");
  // Runs to completion (or simulation.max_time_us) and registers the summary statistics. The
  // statistics start over at simulation.warmup_us; with simulation.stats_interval_us,
  // on_interval is called at the end of every interval (iommu_sim/common/measurement.h).
  PlatformOutcome run(const IntervalSink& on_interval = {});
  // Runs the host's set-up alone (tables, registers, enumeration, interrupt tables) and stops
  // once the devices may start: what `iommu-sim check` does after reading the description.
  PlatformOutcome run_setup();

  // Every DMA source with its requester ID and domain, for the report.
  std::vector<DmaSource> dma_sources() const;

  // The faults the host's handler read, then the records still held in the IOMMU's ring.
  std::vector<FaultRecord> fault_records() const;

  Iommu& iommu() { return *m_iommu; }
  // Where every device's DMA enters, in front of the IOMMU: another bus master (a test's, an
  // embedding's) may bind here before the simulation starts.
  AddressRouter& upstream() { return m_upstream; }
  MemoryTarget& memory() { return m_memory; }
  HostSetup& host() { return m_host; }
  InterruptSink& interrupts() { return m_interrupts; }
  // The host's CPUs and guests; null unless the description has an `interrupts:` section.
  ApicSystem* apic() { return m_apic.get(); }
  DmaEngine& engine(size_t i) { return *m_engines.at(i); }
  SriovEndpoint& endpoint(size_t i) { return *m_endpoints.at(i); }
  // Every DMA engine that runs a workload: the bare ones, then each endpoint's functions.
  const std::vector<DmaEngine*>& active_engines() const { return m_active; }

 private:
  SC_HAS_PROCESS(Platform);
  void completion_thread();
  std::unique_ptr<Iotlb> make_iotlb();
  void build_pcie();
  void build_interrupts();
  // Interrupts sent to guests that they have not seen yet (waiting for a descheduled vCPU).
  uint64_t interrupts_in_flight() const;
  FunctionSoftware software_of(const DiscoveredFunction& f) const;

  PlatformConfig m_config;
  StatsRegistry& m_stats;
  MemoryTarget m_memory;
  [[maybe_unused]] RtlIotlb* m_rtl_iotlb = nullptr;  // the Verilated IOTLB (impl: rtl), in RTL builds
  std::unique_ptr<Iommu> m_iommu;
  AddressRouter m_host_bus;
  AddressRouter m_upstream;
  InterruptSink m_interrupts;
  HostSetup m_host;
  std::vector<std::unique_ptr<DmaEngine>> m_engines;
  std::unique_ptr<RootComplex> m_root_complex;
  std::vector<std::unique_ptr<SriovEndpoint>> m_endpoints;
  std::vector<DmaEngine*> m_active;
  std::unique_ptr<ApicSystem> m_apic;
  std::unique_ptr<InterruptSetup> m_interrupt_setup;
  std::unique_ptr<std::ofstream> m_devtlb_file;
  std::unique_ptr<IotlbTraceWriter> m_devtlb_trace;
  bool m_done = false;
  sc_core::sc_time m_end_time;
};

}  // namespace iommu_sim
