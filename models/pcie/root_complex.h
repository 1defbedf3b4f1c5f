// PCIe root complex: host bridge with an ECAM window and a memory window downstream, root ports
// upstream that stamp the requester ID of the issuing function and pass DMA to the IOMMU.
//
// Sockets
//   host      simple_target_socket: the CPU side. The platform's address router sends the ECAM
//             window [ecam_base, ecam_base + (bus_last - bus_first + 1) MiB) and the MMIO window
//             [mmio_base, mmio_base + mmio_size) here with FULL addresses (relative = false).
//   upstream  simple_initiator_socket: bind to the IOMMU's `upstream` target socket.
//   dma_in    multi_passthrough_target_socket: one binding per function DMA engine.
//   mmio_out  multi_passthrough_initiator_socket: one binding per device MMIO target.
//   ats_in    simple_target_socket: ATS invalidate requests from the IOMMU (common/ats_format.h),
//             routed by ID (the PcieExtension's requester_id) to the device that owns it.
//   ats_out   multi_passthrough_initiator_socket: one binding per device, in add_device()
//             order, for devices with ATS (optional: devices without ATS leave it unbound).
// Use add_device() / add_dma_port() (or connect() in sriov_endpoint.h, which does both and the
// bindings) so that binding order and registration agree.
//
// Configuration: ECAM offset = (bus - bus_first) << 20 | device << 15 | function << 12 | reg
// (with ARI the device and function fields together are the 8-bit function number). Accesses of
// 1, 2 or 4 bytes. A request no function claims reads all ones, drops writes, and counts as an
// unsupported request. MMIO no BAR claims likewise reads all ones (`.unclaimed_mmio`).
//
// Upstream: a function that is absent or lacks Bus Master Enable gets TLM_GENERIC_ERROR_RESPONSE
// (`.dma_blocked`). The requester ID is overwritten with the port's function's current routing ID
// (`.rid_corrected` counts transactions that claimed another ID), so a function cannot send DMA
// under another requester ID.
//
// ATS invalidate requests cross the link twice (the request down, the completion up): each way
// costs upstream_latency. One that no function takes is an unsupported request: no completion.
//
// Statistics under the root complex's name: config_reads, config_writes, unsupported_requests,
// mmio, unclaimed_mmio, upstream, dma_blocked, rid_corrected, ats_invalidations.
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/pcie/pcie_device.h"

namespace iommu_sim {

struct RootComplexConfig {
  uint64_t ecam_base = 0xE0000000;
  uint8_t bus_first = 0;
  uint8_t bus_last = 255;
  uint64_t mmio_base = 0xC0000000;          // BARs are assigned inside this window
  uint64_t mmio_size = 0x10000000;          // 256 MiB
  sc_core::sc_time config_latency = sc_core::sc_time(100, sc_core::SC_NS);
  sc_core::sc_time mmio_latency = sc_core::sc_time(50, sc_core::SC_NS);
  sc_core::sc_time upstream_latency = sc_core::sc_time(20, sc_core::SC_NS);

  uint64_t ecam_size() const { return (uint64_t(bus_last) - bus_first + 1) << 20; }
};

// "" when valid, else a message naming the offending field.
std::string validate(const RootComplexConfig& config);

class RootComplex : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<RootComplex> host;
  tlm_utils::simple_initiator_socket<RootComplex> upstream;
  tlm_utils::multi_passthrough_target_socket<RootComplex> dma_in;
  tlm_utils::multi_passthrough_initiator_socket<RootComplex> mmio_out;
  tlm_utils::simple_target_socket_optional<RootComplex> ats_in;
  tlm_utils::multi_passthrough_initiator_socket<RootComplex, 32, tlm::tlm_base_protocol_types, 0,
                                                sc_core::SC_ZERO_OR_MORE_BOUND>
      ats_out;

  // An invalid config is an SC_ERROR of type msg::kConfig with validate()'s message.
  RootComplex(sc_core::sc_module_name name, const RootComplexConfig& config, StatsRegistry& stats);

  const RootComplexConfig& config() const { return m_config; }
  // Device k corresponds to the k-th binding of mmio_out.
  unsigned add_device(PcieDevice& device);
  // DMA port k corresponds to the k-th binding of dma_in.
  unsigned add_dma_port(PcieDevice& device, unsigned function);

 private:
  struct DmaPort {
    PcieDevice* device;
    unsigned function;
  };
  void host_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned host_transport_dbg(tlm::tlm_generic_payload& trans);
  void config_access(tlm::tlm_generic_payload& trans);
  // Returns the device index, or -1 when no BAR claims the address.
  int mmio_target(uint64_t addr) const;
  void dma_b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned dma_transport_dbg(int id, tlm::tlm_generic_payload& trans);
  void ats_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  // The requester ID of port `id`'s function, or nullopt (with the payload's error response set)
  // when it may not DMA.
  std::optional<uint16_t> stamp(int id, tlm::tlm_generic_payload& trans);

  RootComplexConfig m_config;
  std::vector<PcieDevice*> m_devices;
  std::vector<DmaPort> m_ports;
  Counter& m_config_reads;
  Counter& m_config_writes;
  Counter& m_unsupported;
  Counter& m_mmio;
  Counter& m_unclaimed_mmio;
  Counter& m_upstream;
  Counter& m_dma_blocked;
  Counter& m_rid_corrected;
  Counter& m_ats_invalidations;
};

}  // namespace iommu_sim
