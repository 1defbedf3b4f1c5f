// Iommu: construction, the DMA path (b_transport, debug transport, DMI) and latency statistics.
#include "iommu_sim/iommu/iommu.h"

#include <cstdio>
#include <stdexcept>

#include "iommu_sim/common/messages.h"
#include "iommu_sim/iommu/iommu_ats.h"

namespace iommu_sim {

using sc_core::sc_time;

namespace {
// The interrupt address range: any upstream access that touches it is an interrupt request (a
// write) or an error (a read), never a memory access.
bool touches_interrupt_window(uint64_t first, uint64_t last) {
  return irte::touches_window(first, last);
}

// Whether a request of `len` bytes at `first` runs past 2^64 - 1.
bool wraps(uint64_t first, unsigned len) { return len > 1 && len - 1ULL > UINT64_MAX - first; }
// Its last byte (a length of 0 counts as 1), saturated at 2^64 - 1: a request that wraps ends
// above every address width, whatever its wrapped last byte would say.
uint64_t last_byte(uint64_t first, unsigned len) {
  return wraps(first, len) ? UINT64_MAX : first + (len ? len - 1ULL : 0);
}

std::string checked(const IommuConfig& config) {
  std::string err = validate_iommu_config(config);
  if (!err.empty()) report_config_error("iommu: " + err);
  return err;
}
}  // namespace

Iommu::Iommu(sc_core::sc_module_name name, const IommuConfig& config, StatsRegistry& stats,
             std::unique_ptr<Iotlb> iotlb)
    : sc_module(name),
      upstream("upstream", *this),
      regs("regs"),
      memory("memory"),
      interrupt("interrupt"),
      ats_invalidation("ats_invalidation"),
      m_config((checked(config), config)),
      m_stats(stats),
      m_iotlb(iotlb ? std::move(iotlb) : std::make_unique<IotlbModel>(config.iotlb)),
      m_context_cache(config.context_cache),
      m_translations(stats.counter(std::string(this->name()) + ".translations")),
      m_walks(stats.counter(std::string(this->name()) + ".walks")),
      m_walk_reads(stats.counter(std::string(this->name()) + ".walk_reads")),
      m_faults(stats.counter(std::string(this->name()) + ".faults")),
      m_faults_suppressed(stats.counter(std::string(this->name()) + ".faults_suppressed")),
      m_fault_overflows(stats.counter(std::string(this->name()) + ".fault_overflows")),
      m_missing_extension(stats.counter(std::string(this->name()) + ".missing_extension")),
      m_fault_events(stats.counter(std::string(this->name()) + ".fault_events")),
      m_qi_descriptors(stats.counter(std::string(this->name()) + ".qi_descriptors")),
      m_dmi_grants(stats.counter(std::string(this->name()) + ".dmi_grants")),
      m_dmi_revocations(stats.counter(std::string(this->name()) + ".dmi_revocations")),
      m_walker_wait(stats.histogram(std::string(this->name()) + ".walker_wait", "ps")),
      m_dma_latency(stats.histogram(std::string(this->name()) + ".dma_latency", "ps")) {
  const std::string base = this->name();
  regs.register_b_transport(this, &Iommu::regs_b_transport);
  regs.register_transport_dbg(this, &Iommu::regs_transport_dbg);
  memory.register_invalidate_direct_mem_ptr(this, &Iommu::memory_invalidate_dmi);

  for (unsigned level = 2; level <= 5; ++level)
    m_pscache.push_back(std::make_unique<TranslationCache<PsValue>>(config.pscache));

  // The Iotlb may be the RTL one whose stats() reference is only good while it lives: the
  // gauges read it through the owning pointer each time.
  const auto iotlb_stat = [this](uint64_t CacheStats::*field) {
    return [this, field] { return static_cast<double>(m_iotlb->stats().*field); };
  };
  stats.cumulative(base + ".iotlb.lookups", iotlb_stat(&CacheStats::lookups));
  stats.cumulative(base + ".iotlb.hits", iotlb_stat(&CacheStats::hits));
  stats.cumulative(base + ".iotlb.misses", iotlb_stat(&CacheStats::misses));
  stats.cumulative(base + ".iotlb.fills", iotlb_stat(&CacheStats::fills));
  stats.cumulative(base + ".iotlb.evictions", iotlb_stat(&CacheStats::evictions));
  stats.cumulative(base + ".iotlb.invalidations", iotlb_stat(&CacheStats::invalidations));
  stats.cumulative(base + ".iotlb.invalidated_entries", iotlb_stat(&CacheStats::invalidated_entries));
  register_cache_stats(stats, base + ".context_cache", m_context_cache.stats());
  for (unsigned level = 2; level <= 5; ++level)
    register_cache_stats(stats, base + ".pscache.l" + std::to_string(level),
                         m_pscache[level - 2]->stats());
  for (unsigned r = 1; r <= vtd::kMaxDmaFaultReason; ++r) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%X", r);
    m_reason[r] = &stats.counter(base + ".faults.reason_" + buf);
  }

  for (unsigned l : config.supported_levels) m_sagaw |= 1u << vtd::levels_to_aw(l);
  m_domains = 1u << (4 + 2 * config.domain_bits_nd);
  m_haw_reserved = config.host_address_width < 52 ? bit_mask(51, config.host_address_width) : 0;
  m_frcd.assign(config.fault_records, {0, 0});
  m_walker_free.assign(config.walkers, sc_core::SC_ZERO_TIME);
  init_scalable();
  build_capabilities();

  m_ir = std::make_unique<InterruptRemapper>(*this, m_config, stats, base);
  m_ats = std::make_unique<IommuAts>(stats, base);
  on_iec_invalidate = [this](bool index_selective, uint16_t index, unsigned im) {
    m_ir->invalidate(index_selective, index, im);
  };

  if (!config.iotlb_trace_path.empty()) {
    m_trace_file = std::make_unique<std::ofstream>(config.iotlb_trace_path);
    if (!*m_trace_file)
      report_config_error(base + ": cannot open iotlb_trace_path '" + config.iotlb_trace_path + "'");
    m_trace = std::make_unique<IotlbTraceWriter>(*m_trace_file, config.iotlb_trace_style);
    m_trace->comment(base + " IOTLB access stream");
  }
}

Iommu::~Iommu() = default;

void Iommu::trace_to(VcdWriter& vcd, unsigned lanes) {
  const std::string scope = name();
  m_vcd = &vcd;
  m_sig_lookup = vcd.add_signal(scope, "iotlb_lookup", 1);
  m_sig_hit = vcd.add_signal(scope, "iotlb_hit", 1);
  m_sig_miss = vcd.add_signal(scope, "iotlb_miss", 1);
  m_sig_walks = vcd.add_signal(scope, "walks_in_flight", 8);
  m_sig_outstanding = vcd.add_signal(scope, "outstanding", 16);
  m_sig_fault = vcd.add_signal(scope, "fault", 1);
  m_sig_rid = vcd.add_signal(scope, "last_rid", 16);
  m_ir->trace_to(vcd, scope + ".ir");
  trace_ats_to(vcd, scope);
  m_waves = std::make_unique<TranslationWaves>(vcd, scope, lanes);
}

Iommu::RequesterStats& Iommu::find_requester_stats(uint16_t rid) {
  auto& bus = m_rid_stats[rid >> 8];
  if (!bus) bus = std::make_unique<std::array<RequesterStats, 256>>();
  RequesterStats& s = (*bus)[rid & 0xFF];
  if (!s.latency) {  // first DMA of this requester: the only time names are formatted
    char buf[32];
    std::snprintf(buf, sizeof buf, ".rid.%02x:%02x.%x.", rid >> 8, (rid >> 3) & 0x1F, rid & 7);
    const std::string prefix = std::string(name()) + buf;
    s.latency = &m_stats.histogram(prefix + "latency", "ps");
    s.iotlb_hits = &m_stats.counter(prefix + "iotlb_hits");
    s.iotlb_misses = &m_stats.counter(prefix + "iotlb_misses");
  }
  m_last_rid = rid;
  m_last_rid_stats = &s;
  return s;
}

Iommu::DomainStats& Iommu::find_domain_stats(uint16_t domain) {
  if (domain >= m_domain_stats.size()) {
    m_domain_stats.resize(domain + 1u);
    m_last_domain_stats = nullptr;  // the vector moved
  }
  DomainStats& s = m_domain_stats[domain];
  if (!s.iotlb_hits) {
    const std::string prefix = std::string(name()) + ".domain." + std::to_string(domain) + ".";
    s.iotlb_hits = &m_stats.counter(prefix + "iotlb_hits");
    s.iotlb_misses = &m_stats.counter(prefix + "iotlb_misses");
  }
  m_last_domain = domain;
  m_last_domain_stats = &s;
  return s;
}

void Iommu::translation_waves(uint16_t rid, const sc_time& start, const sc_time& delay,
                              uint64_t iova, bool write, const Translation& t, uint8_t fault) {
  TranslationWaves::Transaction x;
  x.start_ps = now_ps(start);
  x.end_ps = now_ps(delay);
  x.rid = rid;
  x.domain = t.domain;
  x.iova = iova;
  x.write = write;
  x.path = t.path;
  x.result = fault;
  m_waves->translation(x, to_ps(sc_core::sc_time_stamp()));
}

void Iommu::dma_fault(const PcieExtension& ext, uint8_t reason, uint64_t iova, bool write,
                      bool fpd, const sc_time& delay) {
  m_faults.inc();
  fault_reason_counter(reason).inc();
  if (m_vcd) m_vcd->pulse(m_sig_fault, now_ps(delay));
  FaultInfo f;
  f.source_id = ext.requester_id;
  f.reason = reason;
  f.fault_info = iova & vtd::kTableAddrMask;
  f.is_read = !write;
  f.address_type = ext.address_type;
  // PP and PASID: recorded by a unit that knows requests with PASID (scalable mode offered).
  f.has_pasid = ext.has_pasid && m_config.scalable.enabled;
  f.pasid = f.has_pasid ? (ext.pasid & vtd::kPasidMask) : 0;
  note_fault(f, iova, fpd);
  if (fpd) {
    m_faults_suppressed.inc();
    return;
  }
  record_fault(f, delay);
}

void Iommu::forward(tlm::tlm_generic_payload& trans, uint64_t phys, sc_time& delay) {
  const uint64_t iova = trans.get_address();
  trans.set_address(phys);
  memory->b_transport(trans, delay);
  trans.set_address(iova);  // the initiator may reuse its payload
}

void Iommu::interrupt_request(tlm::tlm_generic_payload& trans, uint16_t rid, sc_time& delay) {
  m_ir->request(trans, rid, delay);
}

void Iommu::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  if (!ext) {
    if (m_missing_extension.value() == 0) {
      SC_REPORT_WARNING(msg::kNoRequesterId,
                        (std::string(name()) + ": a payload without a PcieExtension (requester ID) "
                         "completes with TLM_GENERIC_ERROR_RESPONSE; further ones are only counted "
                         "(missing_extension)").c_str());
    }
    m_missing_extension.inc();
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const sc_time start = delay;
  const uint16_t rid = ext->requester_id;
  if (m_vcd) {
    m_vcd->add(m_sig_outstanding, now_ps(delay), 1);
    m_vcd->record(m_sig_rid, now_ps(delay), rid);
  }
  if (ext->address_type == AddressType::TranslationRequest) {
    answer_translation_request(trans, *ext, delay);
    finish_request(rid, start, delay);
    return;
  }
  if (ext->address_type == AddressType::Translated) {  // passes only where TT allows (walk)
    m_ats->translated_requests.inc();
    if (m_vcd) m_vcd->pulse(m_ats->sig_translated, now_ps(delay));
  }
  {
    const uint64_t first = trans.get_address();
    const uint64_t last = last_byte(first, trans.get_data_length());
    if (touches_interrupt_window(first, last)) {
      if (trans.is_write()) {
        interrupt_request(trans, rid, delay);
      } else {
        trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      }
      finish_request(rid, start, delay);
      return;
    }
  }
  if (!(m_gsts & vtd::kGcmdTe)) {  // translation off: DMA passes untranslated
    if (wraps(trans.get_address(), trans.get_data_length())) {
      trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);  // no address past 2^64
      finish_request(rid, start, delay);
      return;
    }
    forward(trans, trans.get_address(), delay);
    finish_request(rid, start, delay);
    return;
  }

  m_translations.inc();
  const uint64_t iova = trans.get_address();
  const unsigned len = trans.get_data_length() ? trans.get_data_length() : 1;
  const uint64_t last = last_byte(iova, len);  // a wrapping request faults 0x4 in translate()
  const bool write = trans.is_write();
  Translation t;
  int walker = -1;
  const uint8_t fault = translate(*ext, iova, last, write, t, delay, walker);
  // The common case: the whole access lies in the page that translated its first byte.
  if (fault == 0 && t.page_bytes != 0 &&
      (iova & ~(t.page_bytes - 1)) != (last & ~(t.page_bytes - 1))) {
    transport_pages(trans, *ext, start, delay, t, walker);
    return;
  }
  release_walker(walker, delay);
  if (fault) {
    fail_translation(trans, *ext, fault, iova, t, start, delay);
    return;
  }
  forward(trans, t.phys, delay);
  // DMI only for translations the IOTLB holds (or identity ones): get_direct_mem_ptr checks.
  if (!t.cacheable && t.page_bytes != 0) trans.set_dmi_allowed(false);
  finish_translation(rid, start, delay, iova, write, t, fault);
}

// Out of line: DMA bursts rarely cross a page, and the hot path stays small without this.
void Iommu::transport_pages(tlm::tlm_generic_payload& trans, const PcieExtension& ext,
                            const sc_time& start, sc_time& delay, Translation t, int walker) {
  const uint16_t rid = ext.requester_id;
  const uint64_t iova = trans.get_address();
  const unsigned len = trans.get_data_length() ? trans.get_data_length() : 1;
  const uint64_t last = last_byte(iova, len);
  const bool write = trans.is_write();
  // Check every page before anything reaches memory, so that a faulting write writes nothing.
  struct Chunk {
    uint64_t phys;
    unsigned offset, len;
  };
  std::vector<Chunk> chunks;
  uint64_t cur = iova;
  Translation tc = t;
  uint8_t fault = 0;
  while (true) {
    const uint64_t page_end = (cur | (tc.page_bytes - 1));
    const uint64_t end = page_end < last ? page_end : last;
    chunks.push_back({tc.phys, static_cast<unsigned>(cur - iova), static_cast<unsigned>(end - cur + 1)});
    if (end == last) break;
    cur = end + 1;
    tc = Translation{};
    fault = translate(ext, cur, last, write, tc, delay, walker);
    if (fault) break;
    if (tc.page_bytes == 0) {  // identity from here on
      chunks.push_back({cur, static_cast<unsigned>(cur - iova), static_cast<unsigned>(last - cur + 1)});
      break;
    }
  }
  release_walker(walker, delay);
  if (fault) {
    fail_translation(trans, ext, fault, cur, tc, start, delay);  // the page that faulted
    return;
  }
  if (trans.get_byte_enable_ptr()) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    finish_translation(rid, start, delay, iova, write, t, fault);
    return;
  }
  unsigned char* data = trans.get_data_ptr();
  for (const Chunk& c : chunks) {
    trans.set_data_ptr(data + c.offset);
    trans.set_data_length(c.len);
    trans.set_streaming_width(c.len);
    trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    forward(trans, c.phys, delay);
    if (trans.is_response_error()) break;
  }
  trans.set_data_ptr(data);
  trans.set_data_length(len);
  trans.set_streaming_width(len);
  trans.set_dmi_allowed(false);
  finish_translation(rid, start, delay, iova, write, t, fault);
}

void Iommu::fail_translation(tlm::tlm_generic_payload& trans, const PcieExtension& ext,
                             uint8_t fault, uint64_t fault_iova, const Translation& t,
                             const sc_time& start, sc_time& delay) {
  const bool write = trans.is_write();
  dma_fault(ext, fault, fault_iova, write, t.fpd, delay);
  trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
  finish_translation(ext.requester_id, start, delay, trans.get_address(), write, t, fault);
}

unsigned int Iommu::transport_dbg(tlm::tlm_generic_payload& trans) {
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  if (!ext) return 0;
  const uint64_t iova = trans.get_address();
  const unsigned len = trans.get_data_length();
  if (len == 0 || wraps(iova, len)) return 0;
  if (touches_interrupt_window(iova, iova + len - 1)) return 0;  // not memory
  Translation t;
  uint64_t phys = iova;
  if (m_gsts & vtd::kGcmdTe) {
    if (translate_debug(*ext, iova, iova + len - 1, trans.is_write(), t) != 0)
      return 0;
    phys = t.phys;
    // A debug access stays inside one page: the caller can ask again for the rest.
    if (t.page_bytes != 0) {
      const uint64_t room = t.page_bytes - (iova & (t.page_bytes - 1));
      if (room < len) trans.set_data_length(static_cast<unsigned>(room));
    }
  }
  trans.set_address(phys);
  const unsigned n = memory->transport_dbg(trans);
  trans.set_address(iova);
  trans.set_data_length(len);
  return n;
}

bool Iommu::get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  if (!ext || ext->address_type != AddressType::Untranslated) return false;
  const uint64_t iova = trans.get_address();
  const uint64_t iova_page = iova & vtd::kTableAddrMask;
  if (touches_interrupt_window(iova_page, iova_page + 4095)) return false;
  uint64_t phys_page = iova_page;
  bool can_read = true, can_write = true;

  if (m_gsts & vtd::kGcmdTe) {
    if (m_table_mode != vtd::TableMode::Legacy) return false;  // no DMI in scalable mode
    if (ext->has_pasid && m_config.scalable.enabled) return false;  // faults in legacy mode
    // The context is resolved without touching the context cache (a side trip, not a DMA);
    // the page itself must be in the IOTLB, which is the point of "only when cached".
    Translation t;
    ContextInfo c;
    if (fetch_context(ext->requester_id, c, nullptr) != 0) return false;
    if (check_context(c, iova_page + 4095, ext->address_type, t) != 0) return false;
    if (c.tt != static_cast<uint8_t>(vtd::TranslationType::PassThrough)) {
      const IotlbHit hit = m_iotlb->lookup(c.domain, iova >> 12);
      if (m_trace) trace_op(IotlbOp::Lookup, IotlbEntry{c.domain, iova >> 12, 0, false, false, PageSize::Size4K});
      if (!hit.hit || !(hit.entry.read || hit.entry.write)) return false;
      phys_page = hit.frame(iova >> 12) << 12;
      can_read = hit.entry.read;
      can_write = hit.entry.write;
    }
  }

  trans.set_address(phys_page);
  const bool ok = memory->get_direct_mem_ptr(trans, dmi);
  trans.set_address(iova);
  if (!ok || dmi.get_start_address() > phys_page || dmi.get_end_address() < phys_page + 4095)
    return false;
  // Narrow to the one translated 4 KiB page and re-base it on the IOVA.
  unsigned char* ptr = dmi.get_dmi_ptr() + (phys_page - dmi.get_start_address());
  const bool mem_read = dmi.is_read_allowed(), mem_write = dmi.is_write_allowed();
  dmi.set_dmi_ptr(ptr);
  dmi.set_start_address(iova_page);
  dmi.set_end_address(iova_page + 4095);
  dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_NONE);
  if (can_read && mem_read) dmi.allow_read();
  if (can_write && mem_write) dmi.set_granted_access(
      static_cast<tlm::tlm_dmi::dmi_access_e>(dmi.get_granted_access() | tlm::tlm_dmi::DMI_ACCESS_WRITE));
  if (dmi.get_granted_access() == tlm::tlm_dmi::DMI_ACCESS_NONE) return false;
  m_dmi_granted = true;
  m_dmi_grants.inc();
  return true;
}

void Iommu::memory_invalidate_dmi(sc_dt::uint64, sc_dt::uint64) {
  // Physical ranges do not map back to IOVAs without a reverse table: revoke everything.
  revoke_dmi(0, ~0ULL);
}

void Iommu::note_fault(const FaultInfo& f, uint64_t address, bool suppressed) const {
  // Built only when someone listens: faults can come by the thousand.
  if (sc_core::sc_report_handler::get_verbosity_level() < sc_core::SC_HIGH) return;
  char text[200];
  std::snprintf(text, sizeof text, "%s: %s from %02x:%02x.%x to 0x%llx faulted, reason 0x%X%s", name(),
                touches_interrupt_window(address, address) ? "interrupt request"
                    : (f.is_read ? "DMA read" : "DMA write"),
                f.source_id >> 8, (f.source_id >> 3) & 0x1F, f.source_id & 7,
                static_cast<unsigned long long>(address), f.reason,
                suppressed ? " (not recorded: FPD)" : "");
  SC_REPORT_INFO_VERB(msg::kFault, text, sc_core::SC_HIGH);
}

void Iommu::revoke_dmi(uint64_t start, uint64_t end) {
  if (!m_dmi_granted) return;
  m_dmi_revocations.inc();
  if (start == 0 && end == ~0ULL) m_dmi_granted = false;
  upstream->invalidate_direct_mem_ptr(start, end);
}

}  // namespace iommu_sim
