// DMA engine of one PCIe function: runs a Workload in an SC_THREAD and turns its reads, writes
// and MSI-X requests into loosely-timed TLM transactions on `socket`.
//
// Public interface
//   DmaEngine(name, requester_id, std::unique_ptr<Workload>, StatsRegistry&)
//   socket            simple_initiator_socket; bind to the root complex's function port (or, in a
//                     test, straight to a memory or the IOMMU's upstream socket)
//   done()            event notified once when the workload has returned
//   finished()        true once the workload has returned
//   set_msix_table()  the function's MSI-X table; without one raise_msix() returns false
//   post_msix()       sends a message on the DMA path from outside the workload (the endpoint
//                     uses it when software unmasks a vector whose pending bit is set)
//   set_start_delay() time to wait before the workload starts (default 0)
//   set_start_gate()  a condition (and the event that signals it may have changed) the engine
//                     waits for before starting: the endpoint holds each function's engine
//                     until software has enabled it (function present, Bus Master Enable set)
//   set_ats()         the function's ATS client: while it says ATS is enabled, every DMA without
//                     a PASID goes through its device-TLB (translated requests, translation
//                     requests on a miss; split where a translation ends) (ats_client.h)
//   set_pasid()       DMA (not MSI-X) carries this PASID, privileged or not (default: none); the
//                     device-TLB caches no PASID's translations, so such DMA goes untranslated
//
// Every transaction carries a PcieExtension with the engine's requester ID (the root port checks
// and, if needed, overwrites it: a function cannot claim another's ID). Timing is LT: each
// access is issued with the quantum keeper's local offset as annotated delay, and the extra delay
// the target adds is the access's latency.
//
// Statistics under the engine's hierarchical name: .dmas (DMA transactions, MSI-X writes not
// included), .bytes, .errors (responses not OK, MSI-X writes included), .latency (histogram, ps),
// .msix (messages sent), .msix_pending (triggers that found the vector masked).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "iommu_sim/common/payload_pool.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/pcie/ats_client.h"
#include "iommu_sim/pcie/msix.h"
#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

class DmaEngine : public sc_core::sc_module, private DmaPort {
 public:
  tlm_utils::simple_initiator_socket<DmaEngine> socket;

  SC_HAS_PROCESS(DmaEngine);
  DmaEngine(sc_core::sc_module_name name, uint16_t requester_id,
            std::unique_ptr<Workload> workload, StatsRegistry& stats);

  uint16_t requester_id() const { return m_requester_id; }
  const sc_core::sc_event& done() const { return m_done; }
  bool finished() const { return m_finished; }
  Workload* workload() { return m_workload.get(); }

  void set_msix_table(MsixTable* table) { m_msix_table = table; }
  void post_msix(const MsixMessage& msg);
  void set_start_delay(const sc_core::sc_time& t) { m_start_delay = t; }
  void set_ats(AtsClient* client) { m_ats = client; }
  void set_start_gate(std::function<bool()> ready, const sc_core::sc_event* changed) {
    m_gate = std::move(ready);
    m_gate_changed = changed;
  }
  bool has_pasid() const { return m_has_pasid; }
  uint32_t pasid() const { return m_pasid; }
  void set_pasid(uint32_t pasid, bool privileged = false) {
    m_has_pasid = true;
    m_pasid = pasid;
    m_privileged = privileged;
  }

 private:
  void run_thread();
  void msix_thread();
  tlm::tlm_response_status transport(tlm::tlm_command cmd, uint64_t addr, uint8_t* data,
                                     uint32_t len, bool is_msix,
                                     AddressType at = AddressType::Untranslated);
  // One transaction of the DMA as it goes on the link; delay is the engine's local time. DMA
  // carries the engine's PASID, if it has one; MSI-X writes never do.
  tlm::tlm_response_status send(tlm::tlm_command cmd, uint64_t addr, uint8_t* data, uint32_t len,
                                AddressType type, sc_core::sc_time& delay, bool is_msix = false);
  // A DMA through the ATS client: translated pieces, or untranslated where it says so.
  tlm::tlm_response_status send_with_ats(tlm::tlm_command cmd, uint64_t addr, uint8_t* data,
                                         uint32_t len, sc_core::sc_time& delay);
  void send_msix(const MsixMessage& msg);

  // DmaPort, used by the workload.
  tlm::tlm_response_status read(uint64_t addr, uint8_t* data, uint32_t len) override;
  tlm::tlm_response_status write(uint64_t addr, const uint8_t* data, uint32_t len) override;
  tlm::tlm_response_status translated(bool write, uint64_t addr, uint8_t* data, uint32_t len) override;
  void delay(const sc_core::sc_time& t) override;
  sc_core::sc_time now() const override;
  bool raise_msix(unsigned vector) override;
  void sync() override { m_qk.sync(); }

  uint16_t m_requester_id;
  bool m_has_pasid = false, m_privileged = false;
  uint32_t m_pasid = 0;
  std::unique_ptr<Workload> m_workload;
  tlm_utils::tlm_quantumkeeper m_qk;
  sc_core::sc_event m_done;
  bool m_finished = false;
  sc_core::sc_time m_start_delay = sc_core::SC_ZERO_TIME;
  std::function<bool()> m_gate;
  const sc_core::sc_event* m_gate_changed = nullptr;
  MsixTable* m_msix_table = nullptr;
  AtsClient* m_ats = nullptr;
  PayloadPool m_payloads;  // DMA payloads, reused from one transaction to the next
  std::deque<MsixMessage> m_posted;
  sc_core::sc_event m_posted_event;

  Counter& m_dmas;
  Counter& m_bytes;
  Counter& m_errors;
  Counter& m_msix;
  Counter& m_msix_pending;
  Histogram& m_latency;
};

}  // namespace iommu_sim
