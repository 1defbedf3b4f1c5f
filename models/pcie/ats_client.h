// The ATS side of one PCIe function: its device-TLB, the translation requests it sends to fill
// it, and the invalidate requests it answers. The function's DMA engine asks route() how to send
// each DMA while ATS is enabled; the endpoint hands it the invalidate requests routed to the
// function (handle_invalidation()).
//
// Per DMA: a device-TLB lookup (lookup_latency). A hit that allows the access: a translated
// request at the cached physical address. Otherwise a translation request for the STU-aligned
// block holding the address, through the same port as the DMA; its round trip (link, IOMMU,
// back) is the time the port's b_transport annotates. The completion fills the device-TLB, and
// the DMA goes translated; when it does not allow the access (R = W = 0, or W = 0 for a write)
// or says U, the DMA goes untranslated so that the IOMMU checks it, blocks it and records the
// fault as for any device without ATS; an unsuccessful completion (UR, CA) fails the DMA.
//
// Invalidate requests: the range (rounded up to the STU) leaves the device-TLB and the
// completion goes back invalidation_latency later. ATS disabled: the device-TLB is flushed. The
// function sends its translation requests without a PASID (a DMA engine with a PASID sends its
// DMA untranslated), so an invalidate request with a PASID finds nothing to remove.
//
// Statistics under `prefix` (the engine's name + ".ats"): devtlb.{lookups, hits, misses, fills,
// evictions, invalidations, invalidated_entries, hit_rate}, translation_requests,
// translation_failures (UR or CA), untranslated_fallbacks, translated_requests,
// invalidate_requests, translation_latency (histogram of round trips, ps).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/common/vcd_writer.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/pcie/device_tlb.h"

namespace iommu_sim {

struct AtsClientConfig {
  DeviceTlbConfig devtlb;
  sc_core::sc_time lookup_latency{2, sc_core::SC_NS};          // every DMA while ATS is on
  sc_core::sc_time invalidation_latency{500, sc_core::SC_NS};  // invalidate request to completion
};

// "" when valid, else a message naming the field ("devtlb.sets: ...").
std::string validate(const AtsClientConfig& config);

class AtsClient {
 public:
  // Sends a transaction upstream (the DMA engine's socket).
  using Send = std::function<void(tlm::tlm_generic_payload&, sc_core::sc_time&)>;

  // Throws std::invalid_argument when the configuration is invalid.
  AtsClient(const AtsClientConfig& config, StatsRegistry& stats, const std::string& prefix);

  // Where the function's state lives: whether ATS is enabled, and the STU it uses (log2 of
  // bytes). Without a source: always enabled, 4 KiB.
  void set_function_state(std::function<bool()> enabled, std::function<unsigned()> stu_log2);
  bool enabled() const { return !m_enabled || m_enabled(); }

  // How to send a DMA at `address`: status not OK when the translation request failed (the DMA
  // is not sent); otherwise the address and type to send it with and how many bytes from there
  // lie in the same translation (0: no limit).
  struct Route {
    tlm::tlm_response_status status = tlm::TLM_OK_RESPONSE;
    uint64_t address = 0;
    AddressType type = AddressType::Untranslated;
    uint64_t bytes = 0;
  };
  Route route(uint16_t requester_id, uint64_t address, bool write, const Send& send,
              sc_core::sc_time& delay);

  // An invalidate request routed to this function (a write of the request body).
  void handle_invalidation(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  // ATS was disabled: nothing cached may be used again.
  void flush();

  // The device-TLB access stream, as the IOMMU's IOTLB stream (docs/iotlb.md) with the
  // function's requester ID as the domain: every translated DMA with the entry that served it
  // (an Access line), and the invalidations.
  void set_trace(IotlbTraceWriter* trace) { m_trace = trace; }
  void trace_to(VcdWriter& vcd, const std::string& scope);

  DeviceTlb& devtlb() { return m_devtlb; }
  const AtsClientConfig& config() const { return m_config; }

 private:
  void trace(IotlbOp::Kind kind, uint16_t rid, const IotlbEntry& e, unsigned am = 0);
  uint64_t now_ps(const sc_core::sc_time& delay) const;

  AtsClientConfig m_config;
  DeviceTlb m_devtlb;
  std::function<bool()> m_enabled;
  std::function<unsigned()> m_stu_log2;
  uint16_t m_last_rid = 0;  // the requester ID of the last DMA: the trace's domain
  IotlbTraceWriter* m_trace = nullptr;
  Counter& m_translation_requests;
  Counter& m_translation_failures;
  Counter& m_fallbacks;
  Counter& m_translated;
  Counter& m_invalidate_requests;
  Histogram& m_round_trip;
  VcdWriter* m_vcd = nullptr;
  VcdWriter::SignalId m_sig_hit = 0, m_sig_miss = 0, m_sig_request = 0, m_sig_invalidate = 0;
};

// The invalidate requests of a function with no root complex in between (a device wired straight
// to the IOMMU): bind the IOMMU's `ats_invalidation` to `in`. A request for another requester ID
// finds no function there: no completion (TLM_ADDRESS_ERROR_RESPONSE).
class AtsInvalidationPort : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<AtsInvalidationPort> in;

  AtsInvalidationPort(sc_core::sc_module_name name, AtsClient& client, uint16_t requester_id);

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  AtsClient& m_client;
  uint16_t m_requester_id;
};

}  // namespace iommu_sim
