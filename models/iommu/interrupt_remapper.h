// The interrupt remapper of the VT-d unit. The Iommu hands it every write into the interrupt
// window that arrives on the upstream path; it
//  - passes the request unremapped while GSTS.IRES is clear, and compatibility-format requests
//    while CFIS is set and IRTA.EIME is clear (else blocks them, fault 0x25);
//  - decodes remappable requests (handle, SHV, subhandle) into an IRTE index, reads the IRTE in
//    one 16-byte access through the interrupt-entry cache, checks it and the source ID;
//  - remapped format: sends the interrupt (vector, destination, mode) out of the Iommu's
//    `interrupt` socket, an InterruptMessage extension on the payload;
//  - posted format: one read-modify-write of the 64-byte posted-interrupt descriptor, then the
//    notification interrupt when the update asks for one.
// Blocked requests record a fault (reasons 0x20-0x26, the IRTE index in FRCD 63:48) unless the
// IRTE's FPD says not to, and complete with TLM_ADDRESS_ERROR_RESPONSE.
//
// Not a module of its own: it lives inside the Iommu, shares its memory socket, register state
// and fault ring, and runs in the caller's thread (loosely timed, delays annotated).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include <systemc>
#include <tlm>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/common/vcd_writer.h"
#include "iommu_sim/iommu/caches/translation_cache.h"
#include "iommu_sim/iommu/iommu_config.h"
#include "iommu_sim/iommu/irte.h"
#include "iommu_sim/iommu/irte_message.h"

namespace iommu_sim {

class Iommu;

class InterruptRemapper {
 public:
  // Statistics go under `<base>.ir.*` and `<base>.iec.*`.
  InterruptRemapper(Iommu& iommu, const IommuConfig& config, StatsRegistry& stats,
                    const std::string& base);

  // An upstream write into the interrupt window, from requester `rid`.
  void request(tlm::tlm_generic_payload& trans, uint16_t rid, sc_core::sc_time& delay);
  // Interrupt-entry-cache invalidation (descriptor 0x4): global, or the 2^im entries from
  // `index` (aligned down to 2^im).
  void invalidate(bool index_selective, uint16_t index, unsigned im);

  // Registers the waveform signals under `scope`.
  void trace_to(VcdWriter& vcd, const std::string& scope);

  // A measurement probe, not a hardware path: called after every posted interrupt was written
  // into its descriptor, so that the host model can time the interrupt from the MSI write even
  // when no notification tells it. `time` is when the MSI write reached the IOMMU.
  struct PostedRecord {
    uint64_t pda = 0;
    uint8_t vector = 0;
    bool notified = false;
    uint16_t source_id = 0, index = 0;
    sc_core::sc_time time;
  };
  std::function<void(const PostedRecord&)> on_posted;

  const CacheStats& iec_stats() const { return m_iec.stats(); }
  unsigned iec_valid_entries() const { return m_iec.valid_entries(); }

 private:
  // What the IEC holds: a present, well-formed entry.
  struct CachedEntry {
    irte::Entry entry;
  };
  // Reads (or finds in the IEC) and checks the IRTE of `index` for a request from `rid`.
  uint8_t fetch_entry(uint32_t index, uint16_t rid, irte::Entry& e, bool& fpd,
                      sc_core::sc_time& delay);
  void block(tlm::tlm_generic_payload& trans, uint16_t rid, uint8_t reason, uint32_t index,
             bool fpd, sc_core::sc_time& delay);
  void pass_through(tlm::tlm_generic_payload& trans, uint16_t rid, sc_core::sc_time& delay);
  void remap(const irte::Entry& e, uint16_t rid, uint32_t index, const sc_core::sc_time& start,
             sc_core::sc_time& delay, tlm::tlm_generic_payload& trans);
  void post(const irte::Entry& e, uint16_t rid, uint32_t index, const sc_core::sc_time& start,
            sc_core::sc_time& delay, tlm::tlm_generic_payload& trans);
  // Sends one interrupt message out of the Iommu's interrupt socket; its response is returned.
  tlm::tlm_response_status send(uint32_t address, uint32_t data, InterruptMessage& msg,
                                sc_core::sc_time& delay);
  bool memory_access(bool write, uint64_t addr, void* buf, unsigned len, sc_core::sc_time& delay);
  bool x2apic_mode() const;
  uint64_t ps(const sc_core::sc_time& t) const;

  Iommu& m_iommu;
  const IommuConfig& m_config;
  TranslationCache<CachedEntry> m_iec;
  tlm::tlm_generic_payload m_mem_trans;
  tlm::tlm_generic_payload m_msg_trans;
  InterruptMessage m_pass_msg;

  Counter& m_requests;
  Counter& m_compatibility;
  Counter& m_remapped;
  Counter& m_posted;
  Counter& m_notifications;
  Counter& m_suppressed;
  Counter& m_blocked;
  Counter& m_faults_suppressed;
  Counter& m_irte_reads;
  Counter& m_pid_updates;
  std::array<Counter*, irte::kLastFaultReason - irte::kFirstFaultReason + 1> m_reason{};
  Histogram& m_latency;  // MSI write at the IOMMU to the interrupt (or notification) sent

  VcdWriter* m_vcd = nullptr;
  VcdWriter::SignalId m_sig_msi = 0, m_sig_hit = 0, m_sig_miss = 0, m_sig_pid = 0,
                      m_sig_notify = 0, m_sig_fault = 0, m_sig_index = 0;
};

}  // namespace iommu_sim
