// SR-IOV endpoint: the configuration-space model (SriovDevice) plus, per function, an MSI-X
// table in its BAR and a DMA engine running that function's workload.
//
// Sockets
//   mmio                 simple_target_socket: bind to one RootComplex::mmio_out binding.
//   engine(f)->socket    one DMA engine per function (0 = PF "pf", 1 + n = VF n "vfN"):
//                        bind each to RootComplex::dma_in.
//   ats                  simple_target_socket: ATS invalidate requests routed to the endpoint's
//                        functions (bind RootComplex::ats_out). Without the ATS capability, or
//                        to an absent function, a request is unsupported (no completion).
// connect(root_complex, endpoint) does all of the bindings and registrations.
//
// ATS (config.device.pf.ats.present): every function has the ATS capability and an AtsClient
// (ats_client.h, config.ats) that its engine uses while the function's ATS Enable is set; STU
// comes from the PF. Clearing ATS Enable flushes the function's device-TLB.
//
// Each engine waits until its function may DMA (present and Bus Master Enable set) before its
// workload starts, so workloads see the state the host driver set up.
//
// MMIO: in the function's MSI-X BAR, the table and PBA (FunctionConfig::msix_table_offset /
// msix_pba_offset); everything else in any BAR is a plain register file (reads return what was
// written, zero otherwise) so a driver can program device registers.
//
// Statistics: the engines' (<name>.pf.dmas, .bytes, .errors, .latency, .msix, ...), and
// <name>.mmio_reads / .mmio_writes.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <memory>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/pcie/ats_client.h"
#include "iommu_sim/pcie/dma_engine.h"
#include "iommu_sim/pcie/msix.h"
#include "iommu_sim/pcie/pcie_device.h"
#include "iommu_sim/pcie/root_complex.h"
#include "iommu_sim/pcie/sriov_device.h"

namespace iommu_sim {

struct EndpointConfig {
  SriovDeviceConfig device;
  uint8_t bus = 1;           // where the PF sits: bus/device, function 0
  uint8_t device_number = 0;
  sc_core::sc_time mmio_latency = sc_core::sc_time(20, sc_core::SC_NS);
  AtsClientConfig ats;       // each function's device-TLB, when the functions have ATS

  uint16_t pf_rid() const { return static_cast<uint16_t>(bus << 8 | (device_number & 0x1F) << 3); }
};

// "" when valid, else a message naming the offending field.
std::string validate(const EndpointConfig& config);

class SriovEndpoint : public sc_core::sc_module, public PcieDevice {
 public:
  tlm_utils::simple_target_socket<SriovEndpoint> mmio;
  tlm_utils::simple_target_socket_optional<SriovEndpoint> ats;

  // workloads[f] drives function f (0 = PF, 1 + n = VF n); missing or null entries leave that
  // function's engine idle. An invalid config, or more workloads than functions, is an SC_ERROR
  // of type msg::kConfig (report_config_error).
  SriovEndpoint(sc_core::sc_module_name name, const EndpointConfig& config,
                std::vector<std::unique_ptr<Workload>> workloads, StatsRegistry& stats);

  const EndpointConfig& config() const { return m_config; }
  SriovDevice& device() { return m_device; }
  unsigned function_count() const { return m_device.function_count(); }
  DmaEngine& engine(unsigned function) { return *m_engines.at(function); }
  MsixTable& msix(unsigned function) { return *m_msix.at(function); }
  // Function f's ATS client; null without the ATS capability.
  AtsClient* ats_client(unsigned function) { return m_ats.empty() ? nullptr : m_ats.at(function).get(); }
  // Every function's device-TLB access stream goes to `trace` (null: none).
  void set_devtlb_trace(IotlbTraceWriter* trace);
  // Each function's ATS signals, under its engine's scope.
  void trace_to(VcdWriter& vcd);
  // True once every engine's workload has returned.
  bool all_finished() const;

  // PcieDevice
  std::optional<uint32_t> config_read(uint16_t rid, uint16_t offset, unsigned len) override;
  bool config_write(uint16_t rid, uint16_t offset, unsigned len, uint32_t value) override;
  bool claims(uint64_t addr) const override { return m_device.decode(addr).has_value(); }
  uint16_t routing_id(unsigned function) const override { return m_device.rid_of(function); }
  std::optional<uint16_t> dma_requester(unsigned function) const override {
    return m_device.dma_requester(function);
  }
  bool owns(uint16_t rid) const override { return m_device.function_for_rid(rid).has_value(); }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned transport_dbg(tlm::tlm_generic_payload& trans);
  void mmio_access(tlm::tlm_generic_payload& trans);
  void ats_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void sync_msix(unsigned function);

  EndpointConfig m_config;
  SriovDevice m_device;
  std::vector<std::unique_ptr<MsixTable>> m_msix;
  std::vector<std::unique_ptr<DmaEngine>> m_engines;
  std::vector<std::unique_ptr<AtsClient>> m_ats;  // per function, with the ATS capability
  // Register file: (function, bar, offset) -> value, 8-byte granules.
  std::map<std::tuple<unsigned, unsigned, uint64_t>, uint64_t> m_regs;
  sc_core::sc_event m_config_changed;
  Counter& m_mmio_reads;
  Counter& m_mmio_writes;
};

// Binds the endpoint's MMIO target and every DMA engine to the root complex and registers them.
void connect(RootComplex& rc, SriovEndpoint& ep);

}  // namespace iommu_sim
