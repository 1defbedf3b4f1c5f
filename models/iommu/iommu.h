// The VT-d DMA remapper: register file, root/context/second-level walk, IOTLB, context and
// paging-structure caches, fault recording, register and queued invalidation; in scalable mode
// (RTADDR.TTM, iommu_scalable.cpp) PASID directories and tables, first-level and nested
// translation, the PASID cache and the first-level and nested paging-structure caches.
//
// Sockets: `upstream` takes DMA from the root complex (each payload carries a PcieExtension),
// `regs` takes MMIO at offsets from the register base, `memory` carries table reads and the
// translated DMA, `interrupt` carries fault and invalidation-completion events (4-byte writes of
// the data register to the address register).
//
// Faulting DMA completes with TLM_ADDRESS_ERROR_RESPONSE and never reaches memory; a payload
// without a PcieExtension completes with TLM_GENERIC_ERROR_RESPONSE.
//
// Upstream accesses that touch the interrupt window 0xFEE00000-0xFEEFFFFF never reach memory:
// writes are interrupt requests (passed to `interrupt` unremapped while remapping is off), reads
// complete with TLM_ADDRESS_ERROR_RESPONSE, and no DMI is granted over the window.
#pragma once

#include <array>
#include <functional>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/common/direct_target_socket.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/sim_time.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/common/vcd_writer.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/iommu/caches/translation_cache.h"
#include "iommu_sim/iommu/interrupt_remapper.h"
#include "iommu_sim/iommu/iommu_config.h"
#include "iommu_sim/iommu/nested_walker.h"
#include "iommu_sim/iommu/translation_waves.h"
#include "iommu_sim/iommu/vtd_format.h"
#include "iommu_sim/iommu/vtd_format_scalable.h"

namespace iommu_sim {

struct IommuAts;

class Iommu : public sc_core::sc_module {
 public:
  DirectTargetSocket<Iommu> upstream;
  tlm_utils::simple_target_socket<Iommu> regs;
  tlm_utils::simple_initiator_socket<Iommu> memory;
  tlm_utils::simple_initiator_socket<Iommu> interrupt;
  // Bound by platforms with ATS-capable functions; unbound, no invalidate request is delivered.
  tlm_utils::simple_initiator_socket_optional<Iommu> ats_invalidation;

  // An invalid configuration, or an IOTLB trace file that cannot be opened, is an SC_ERROR of
  // type msg::kConfig (report_config_error). A null iotlb means the C++ model built from
  // config.iotlb.
  Iommu(sc_core::sc_module_name name, const IommuConfig& config, StatsRegistry& stats,
        std::unique_ptr<Iotlb> iotlb = nullptr);
  ~Iommu() override;

  // Registers the pipeline signals under scope = name(), and the translation signals
  // (translation_waves.h) with `lanes` transaction lanes. Call before simulation starts.
  void trace_to(VcdWriter& vcd, unsigned lanes = 8);

  Iotlb& iotlb() { return *m_iotlb; }
  InterruptRemapper& interrupt_remapper() { return *m_ir; }
  const IommuConfig& config() const { return m_config; }

  // Flushes the IOTLB access stream (also done at the end of simulation and on destruction).
  void flush_trace() {
    if (m_trace_file) m_trace_file->flush();
  }
  void end_of_simulation() override { flush_trace(); }

  // Register value as software would read it, without side effects (tests, debuggers).
  uint64_t peek_register(uint64_t offset, unsigned size = 8) const;

  // ---- Shared with the interrupt remapper, which lives beside this unit ----
  struct FaultInfo {
    uint16_t source_id = 0;
    uint8_t reason = 0;
    uint64_t fault_info = 0;  // FRCD 63:12: the faulting page, or interrupt index << 48
    bool is_read = false;
    AddressType address_type = AddressType::Untranslated;  // FRCD AT, recorded with ECAP.DT
    bool has_pasid = false;   // FRCD.PP: the request carried a PASID
    uint32_t pasid = 0;
  };
  // Records a fault in the FRCD ring and raises the fault event (at sc_time_stamp() + delay).
  // Returns false when the record was dropped (overflow: FSTS.PFO).
  bool record_fault(const FaultInfo& fault, const sc_core::sc_time& delay);
  // The msg::kFault note of a faulted request to `address` (SC_INFO at SC_HIGH verbosity);
  // `suppressed`: the context entry's FPD keeps it out of the fault records.
  void note_fault(const FaultInfo& fault, uint64_t address, bool suppressed) const;
  // Called for every interrupt-entry-cache invalidation descriptor (type 0x4). The constructor
  // points it at the interrupt remapper's IEC: replace it only to observe, and then call
  // interrupt_remapper().invalidate() too.
  std::function<void(bool index_selective, uint16_t index, unsigned index_mask)> on_iec_invalidate;
  // Called when GCMD.SIRTP latches IRTA.
  std::function<void(uint64_t irta)> on_irta_latched;
  uint64_t irta() const { return m_irta_active; }
  bool interrupt_remapping_enabled() const { return m_gsts & vtd::kGcmdIre; }
  bool compatibility_format_allowed() const { return m_gsts & vtd::kGcmdCfi; }
  bool translation_enabled() const { return m_gsts & vtd::kGcmdTe; }

 private:
  template <class, int>
  friend class DirectTargetSocket;  // calls the DMA path below
  // A decoded, valid context entry (what the context cache holds).
  struct ContextInfo {
    uint64_t table = 0;  // second-level page-table root; scalable mode: the PASID directory
    uint16_t domain = 0;
    uint8_t levels = 0;
    uint8_t tt = 0;
    bool fpd = false;
    bool scalable = false;      // a scalable-mode context entry: the fields below
    bool pasid_enable = false;  // PASIDE
    bool dte = false;           // device-TLB enable: translation and translated requests pass
    bool rid_priv = false;      // requests without PASID are supervisor requests
    uint8_t pdts = 0;
    uint32_t rid_pasid = 0;
  };
  // A paging-structure cache entry: the next-lower table and the permissions gathered so far.
  using PsValue = PsEntry;
  // Outcome of one translation.
  struct Translation {
    uint64_t phys = 0;        // physical address of the IOVA
    uint64_t page_bytes = 0;  // size of the page that translated it (0: identity, no splitting)
    bool fpd = false;         // the context entry asked for no fault recording
    bool have_leaf = false;   // a present leaf was found (fill the IOTLB even on a fault)
    bool cacheable = false;   // translated through the IOTLB (DMI may be granted)
    IotlbEntry entry;
    uint16_t domain = 0;      // from the context entry (waves)
    TranslationWaves::Path path = TranslationWaves::Path::Context;  // how it was served (waves)
  };

  // Per requester and per domain statistics, resolved once and then found by index.
  struct RequesterStats {
    Histogram* latency = nullptr;
    Counter* iotlb_hits = nullptr;
    Counter* iotlb_misses = nullptr;
  };
  struct DomainStats {
    Counter* iotlb_hits = nullptr;
    Counter* iotlb_misses = nullptr;
  };

  // ---- DMA path (iommu.cpp) ----
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  void memory_invalidate_dmi(sc_dt::uint64 start, sc_dt::uint64 end);
  void forward(tlm::tlm_generic_payload& trans, uint64_t phys, sc_core::sc_time& delay);
  // The rest of a translated request whose first page `t` translated, when it spans pages.
  void transport_pages(tlm::tlm_generic_payload& trans, const PcieExtension& ext,
                       const sc_core::sc_time& start, sc_core::sc_time& delay, Translation t,
                       int walker);
  // A translated request that faults at `fault_iova` (`t`: that page's translation).
  void fail_translation(tlm::tlm_generic_payload& trans, const PcieExtension& ext, uint8_t fault,
                        uint64_t fault_iova, const Translation& t, const sc_core::sc_time& start,
                        sc_core::sc_time& delay);
  // A write into 0xFEE00000-0xFEEFFFFF: an interrupt request, never a memory write.
  void interrupt_request(tlm::tlm_generic_payload& trans, uint16_t rid, sc_core::sc_time& delay);
  // The request's latency statistics (inline: every DMA ends here).
  void finish_request(uint16_t rid, const sc_core::sc_time& start, const sc_core::sc_time& delay) {
    const uint64_t latency = to_ps(delay - start);
    m_dma_latency.add(latency);
    requester_stats(rid).latency->add(latency);
    if (m_vcd) m_vcd->add(m_sig_outstanding, now_ps(delay), -1);
  }
  // finish_request() for a DMA that went through translate(), which the waves show as a
  // transaction; `fault`: 0 or the fault reason.
  void finish_translation(uint16_t rid, const sc_core::sc_time& start, const sc_core::sc_time& delay,
                          uint64_t iova, bool write, const Translation& t, uint8_t fault) {
    finish_request(rid, start, delay);
    if (m_waves) translation_waves(rid, start, delay, iova, write, t, fault);
  }
  void translation_waves(uint16_t rid, const sc_core::sc_time& start, const sc_core::sc_time& delay,
                         uint64_t iova, bool write, const Translation& t, uint8_t fault);
  // Counts a DMA-remapping fault and records it unless the context's FPD suppresses it.
  // The request's ID, address type and PASID go into the record (FRCD SID, AT, PP and PASID).
  void dma_fault(const PcieExtension& ext, uint8_t reason, uint64_t iova, bool write, bool fpd,
                 const sc_core::sc_time& delay);
  // Per-DMA hot path: DMA comes in runs from one requester in one domain, so the last ones are
  // kept at hand and the lookups below run only when the requester or the domain changes.
  RequesterStats& requester_stats(uint16_t rid) {
    return (m_last_rid_stats && rid == m_last_rid) ? *m_last_rid_stats : find_requester_stats(rid);
  }
  DomainStats& domain_stats(uint16_t domain) {
    return (m_last_domain_stats && domain == m_last_domain) ? *m_last_domain_stats : find_domain_stats(domain);
  }
  RequesterStats& find_requester_stats(uint16_t rid);
  DomainStats& find_domain_stats(uint16_t domain);
  void count_iotlb(uint16_t rid, uint16_t domain, bool hit) {
    RequesterStats& r = requester_stats(rid);
    DomainStats& d = domain_stats(domain);
    (hit ? r.iotlb_hits : r.iotlb_misses)->inc();
    (hit ? d.iotlb_hits : d.iotlb_misses)->inc();
  }
  uint64_t now_ps(const sc_core::sc_time& delay) const {
    return to_ps(sc_core::sc_time_stamp() + delay);
  }

  // ---- Translation (iommu_walk.cpp). delay == nullptr: debug access, no caches, no stats ----
  uint8_t translate(const PcieExtension& ext, uint64_t iova, uint64_t last, bool write,
                    Translation& t, sc_core::sc_time& delay, int& walker);
  uint8_t translate_debug(const PcieExtension& ext, uint64_t iova, uint64_t last, bool write,
                          Translation& t);
  uint8_t check_context(const ContextInfo& c, uint64_t last, AddressType at, Translation& t) const;
  uint8_t fetch_context(uint16_t rid, ContextInfo& c, sc_core::sc_time* delay);
  // A context-cache miss: the fetch (on a walker) and the fill; on a fault, t.fpd says whether
  // to record it.
  uint8_t fetch_and_cache_context(uint16_t rid, ContextInfo& c, Translation& t,
                                  sc_core::sc_time& delay, int& walker);
  uint8_t walk(const ContextInfo& c, uint64_t iova, bool write, Translation& t,
               sc_core::sc_time* delay);
  // The IOTLB probe of a translation (statistics, trace, waves): true when the entry found allows
  // the access, with t filled in. A translation request (`at`) asks for whatever the mapping
  // allows: an entry with any permission answers it.
  bool iotlb_lookup(uint16_t rid, uint16_t domain, uint32_t pasid, uint64_t iova, bool write,
                    AddressType at, Translation& t, sc_core::sc_time& delay);
  // A page walk's bookkeeping: before it the walker slot, the count and the waves; after it the
  // IOTLB fill of what it found and the access stream. end_walk returns `fault`.
  void begin_walk(Translation& t, int& walker, sc_core::sc_time& delay);
  // A walk's leaf, if it found one, as the translation and the IOTLB entry (tagged `pasid`).
  void take_walk_result(const WalkResult& r, uint64_t iova, uint16_t domain, uint32_t pasid,
                        Translation& t) const;
  uint8_t end_walk(Translation& t, uint8_t fault, const sc_core::sc_time& delay);
  bool read_table(uint64_t addr, void* buf, unsigned len, sc_core::sc_time* delay);
  bool write_memory(uint64_t addr, const void* buf, unsigned len, sc_core::sc_time& delay);
  void acquire_walker(int& walker, sc_core::sc_time& delay);
  // The slot is held until the end of the request (walker < 0: none was taken).
  void release_walker(int walker, const sc_core::sc_time& delay) {
    if (walker >= 0) m_walker_free[walker] = sc_core::sc_time_stamp() + delay;
  }
  // The walker's view of memory: table reads and A/D writes through `memory`, timed unless debug.
  class WalkPort;
  // What the walker checks entries against, in legacy [0] and scalable [1] mode.
  const WalkFeatures& walk_features() const {
    return m_walk_features[m_table_mode == vtd::TableMode::Legacy ? 0 : 1];
  }
  WalkFeatures m_walk_features[2];
  void trace_op(IotlbOp::Kind kind, const IotlbEntry& e, unsigned am = 0);

  // ---- Scalable mode (iommu_scalable.cpp) ----
  struct ScalableState;  // its caches, statistics, and the PASID entries it decodes
  struct ScalableStateDeleter {
    void operator()(ScalableState* s) const;
  };
  void init_scalable();
  uint8_t translate_scalable(const PcieExtension& ext, uint64_t iova, uint64_t last, bool write,
                             Translation& t, sc_core::sc_time* delay, int& walker);
  uint8_t fetch_scalable_context(uint16_t rid, ContextInfo& c, sc_core::sc_time* delay);
  void scalable_capabilities(uint64_t& cap, uint64_t& ecap) const;
  // Descriptors 0x6, 0x7 and, with device TLBs, 0x8; kIqeiDescriptorType for the others.
  vtd::QueueErrorInfo execute_scalable_descriptor(const uint64_t* qw, sc_core::sc_time& delay);
  // What an IOTLB invalidation (descriptor 0x2, IOTLB register) does beyond the legacy caches.
  void invalidate_scalable_iotlb(vtd::InvalidationScope g, uint16_t did, uint64_t addr, unsigned am,
                                 bool ih);
  Counter& fault_reason_counter(uint8_t reason);

  // ---- Registers and faults (iommu_regs.cpp) ----
  void regs_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int regs_transport_dbg(tlm::tlm_generic_payload& trans);
  uint64_t read_qword(uint64_t offset) const;
  void write_dword(uint64_t offset, uint32_t value, sc_core::sc_time& delay);
  void write_gcmd(uint32_t value, sc_core::sc_time& delay);
  uint32_t fsts() const;
  void update_pending(sc_core::sc_time& delay);
  void signal_fault_event(const sc_core::sc_time& delay);
  void signal_completion_event(const sc_core::sc_time& delay);
  void send_event(uint64_t addr, uint32_t data, const sc_core::sc_time& delay);
  void build_capabilities();

  // ---- Invalidation (iommu_inval.cpp) ----
  void register_context_invalidation(sc_core::sc_time& delay);
  void register_iotlb_invalidation(sc_core::sc_time& delay);
  void invalidate_context(vtd::InvalidationScope g, uint16_t did, uint16_t sid, unsigned fm);
  // The inval.* wave signals of a context-cache (iotlb false) or IOTLB invalidation.
  void wave_invalidation(const sc_core::sc_time& delay, bool iotlb, vtd::InvalidationScope g,
                         uint16_t did);
  void invalidate_iotlb(vtd::InvalidationScope g, uint16_t did, uint64_t addr, unsigned am,
                        bool ih);
  void process_queue(sc_core::sc_time& delay);
  // kIqeiNone when the descriptor was carried out, else why the queue stops.
  vtd::QueueErrorInfo execute_descriptor(const uint64_t* qw, sc_core::sc_time& delay);
  void queue_error(vtd::QueueErrorInfo info, sc_core::sc_time& delay);
  void revoke_dmi(uint64_t start, uint64_t end);

  // ---- ATS: translation requests and device-TLB invalidation (iommu_ats.cpp) ----
  // Answers a translation request with completion entries or an unsuccessful completion.
  void answer_translation_request(tlm::tlm_generic_payload& trans, const PcieExtension& ext,
                                  sc_core::sc_time& delay);
  // Descriptor 0x3.
  vtd::QueueErrorInfo execute_device_tlb_descriptor(const uint64_t* qw, sc_core::sc_time& delay);
  // Descriptor 0x8 (scalable mode).
  vtd::QueueErrorInfo execute_pasid_device_tlb_descriptor(const uint64_t* qw, sc_core::sc_time& delay);
  // Sends one invalidate request to function `sid` for `range` and notes when its completion
  // arrives (honouring the function's queue depth, 0 = 32). False when no completion can come:
  // the invalidation timed out (FSTS.ITE). For every device-TLB invalidation descriptor: 0x3
  // without a PASID, 0x8 with one (and its Global Invalidate bit).
  bool invalidate_device_tlb(uint16_t sid, unsigned queue_depth, const ats::Range& range,
                             bool has_pasid, uint32_t pasid, bool global, sc_core::sc_time& delay);
  // A wait descriptor: delay grows until every device-TLB invalidation sent so far completed.
  void wait_device_tlb_invalidations(sc_core::sc_time& delay);
  void trace_ats_to(VcdWriter& vcd, const std::string& scope);

  IommuConfig m_config;
  StatsRegistry& m_stats;
  std::unique_ptr<Iotlb> m_iotlb;
  TranslationCache<ContextInfo> m_context_cache;
  std::vector<std::unique_ptr<TranslationCache<PsValue>>> m_pscache;  // [0] = L2 .. [3] = L5
  std::unique_ptr<ScalableState, ScalableStateDeleter> m_sm;  // null unless scalable mode is offered
  unsigned m_sagaw = 0;         // bit n: AW n (levels n+2) supported
  unsigned m_domains = 0;
  uint64_t m_haw_reserved = 0;  // bits 51:HAW of entries and pointers

  // Register state.
  uint64_t m_cap = 0, m_ecap = 0;
  uint32_t m_gsts = 0;
  uint64_t m_rtaddr = 0, m_root_table = 0;  // written value, and the one SRTP latched
  vtd::TableMode m_table_mode = vtd::TableMode::Legacy;  // RTADDR.TTM as SRTP latched it
  uint64_t m_ccmd = 0;
  uint32_t m_fsts_sticky = 0;  // PFO, IQE, ICE, ITE (PPF and FRI are derived)
  unsigned m_fri = 0;        // FSTS.FRI: the first pending fault's record
  unsigned m_next_frcd = 0;  // the record the next fault goes into
  uint32_t m_fectl = vtd::kCtlIm, m_fedata = 0, m_feaddr = 0, m_feuaddr = 0;
  uint64_t m_iqh = 0, m_iqt = 0, m_iqa = 0, m_iqer = 0;
  uint32_t m_ics = 0, m_iectl = vtd::kCtlIm, m_iedata = 0, m_ieaddr = 0, m_ieuaddr = 0;
  uint64_t m_irta = 0, m_irta_active = 0;
  uint64_t m_iva = 0, m_iotlb_reg = 0;
  std::vector<std::array<uint64_t, 2>> m_frcd;
  bool m_in_queue = false;  // guards against re-entering the queue from its own events

  // Timing.
  std::vector<sc_core::sc_time> m_walker_free;  // absolute time each walker slot frees up
  tlm::tlm_generic_payload m_table_trans;
  tlm::tlm_generic_payload m_event_trans;
  bool m_dmi_granted = false;

  // Statistics.
  Counter& m_translations;
  Counter& m_walks;
  Counter& m_walk_reads;
  Counter& m_faults;
  Counter& m_faults_suppressed;
  Counter& m_fault_overflows;
  Counter& m_missing_extension;
  Counter& m_fault_events;
  Counter& m_qi_descriptors;
  Counter& m_dmi_grants;
  Counter& m_dmi_revocations;
  std::array<Counter*, 256> m_reason{};  // by fault reason; made on first use beyond 0xD
  Histogram& m_walker_wait;
  Histogram& m_dma_latency;
    std::array<std::unique_ptr<std::array<RequesterStats, 256>>, 256> m_rid_stats;
  std::vector<DomainStats> m_domain_stats;
  uint16_t m_last_rid = 0;
  RequesterStats* m_last_rid_stats = nullptr;
  uint16_t m_last_domain = 0;
  DomainStats* m_last_domain_stats = nullptr;

  // The interrupt remapper: every write into the interrupt window goes to it.
  std::unique_ptr<InterruptRemapper> m_ir;

  // ATS bookkeeping and statistics (iommu_ats.h).
  std::unique_ptr<IommuAts> m_ats;

  // IOTLB access stream.
  std::unique_ptr<std::ofstream> m_trace_file;
  std::unique_ptr<IotlbTraceWriter> m_trace;

  // Waves.
  VcdWriter* m_vcd = nullptr;
  VcdWriter::SignalId m_sig_lookup = 0, m_sig_hit = 0, m_sig_miss = 0, m_sig_walks = 0,
                      m_sig_outstanding = 0, m_sig_fault = 0, m_sig_rid = 0;
  std::unique_ptr<TranslationWaves> m_waves;  // transactions, cache probes, walk, invalidations
};

}  // namespace iommu_sim
