// Iommu: translation. Context lookup (context cache, else root and context table reads), IOTLB
// lookup, and the second-level walk with the paging-structure caches. Every table read is a TLM
// read through the `memory` socket; the debug path uses transport_dbg and touches no cache.
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/iommu/iommu_internal.h"

namespace iommu_sim {

using sc_core::sc_time;
namespace fmt = vtd;

bool Iommu::read_table(uint64_t addr, void* buf, unsigned len, sc_time* delay) {
  tlm::tlm_generic_payload& p = m_table_trans;
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(addr);
  p.set_data_ptr(static_cast<unsigned char*>(buf));
  p.set_data_length(len);
  p.set_streaming_width(len);
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  if (!delay) return memory->transport_dbg(p) == len;
  m_walk_reads.inc();
  memory->b_transport(p, *delay);
  return p.is_response_ok();
}

bool Iommu::write_memory(uint64_t addr, const void* buf, unsigned len, sc_time& delay) {
  tlm::tlm_generic_payload& p = m_table_trans;
  p.set_command(tlm::TLM_WRITE_COMMAND);
  p.set_address(addr);
  p.set_data_ptr(static_cast<unsigned char*>(const_cast<void*>(buf)));
  p.set_data_length(len);
  p.set_streaming_width(len);
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  memory->b_transport(p, delay);
  return p.is_response_ok();
}

void Iommu::acquire_walker(int& walker, sc_time& delay) {
  if (walker >= 0) return;
  // Slots are resources with next-free times in annotated time: a request that finds every slot
  // busy until later starts when the earliest one frees, so concurrent initiators within one
  // quantum queue behind each other.
  const sc_time arrival = sc_core::sc_time_stamp() + delay;
  unsigned best = 0;
  for (unsigned i = 1; i < m_walker_free.size(); ++i)
    if (m_walker_free[i] < m_walker_free[best]) best = i;
  const sc_time wait = m_walker_free[best] > arrival ? m_walker_free[best] - arrival
                                                     : sc_core::SC_ZERO_TIME;
  delay += wait;
  m_walker_wait.add(to_ps(wait));
  m_walker_free[best] = arrival + wait;  // held from the walk's start on
  walker = static_cast<int>(best);
}

void Iommu::trace_op(IotlbOp::Kind kind, const IotlbEntry& e, unsigned am) {
  IotlbOp op;
  op.kind = kind;
  op.entry = e;
  op.am = am;
  m_trace->write(op);
}

uint8_t Iommu::fetch_context(uint16_t rid, ContextInfo& c, sc_time* delay) {
  uint64_t root[2];
  if (!read_table(m_root_table + (rid >> 8) * 16ULL, root, 16, delay)) return fmt::kFaultRootAccess;
  if (!get_bit(root[0], fmt::kEntryPresent)) return fmt::kFaultRootNotPresent;
  // Legacy mode: the whole high qword is reserved.
  if ((root[0] & (fmt::kRootLoReserved | m_haw_reserved)) || root[1])
    return fmt::kFaultRootReserved;

  uint64_t ctx[2];
  const uint64_t ctx_table = root[0] & bit_mask(51, 12);
  if (!read_table(ctx_table + (rid & 0xFF) * 16ULL, ctx, 16, delay))
    return fmt::kFaultContextAccess;
  c.fpd = get_bit(ctx[0], fmt::kCtxFpd);  // honoured even for a not-present entry
  if (!get_bit(ctx[0], fmt::kEntryPresent)) return fmt::kFaultContextNotPresent;
  const uint64_t did = get_bits(ctx[1], fmt::kCtxDidHi, fmt::kCtxDidLo);
  // Domain-ID bits beyond CAP.ND are reserved.
  if ((ctx[0] & (fmt::kCtxLoReserved | m_haw_reserved)) || (ctx[1] & fmt::kCtxHiReserved) ||
      did >= m_domains)
    return fmt::kFaultContextReserved;
  const unsigned tt = static_cast<unsigned>(get_bits(ctx[0], fmt::kCtxTtHi, fmt::kCtxTtLo));
  const unsigned aw = static_cast<unsigned>(get_bits(ctx[1], fmt::kCtxAwHi, fmt::kCtxAwLo));
  // TT=1 needs ECAP.DT (device TLBs); TT=2 needs ECAP.PT.
  const bool tt_ok = tt == static_cast<unsigned>(fmt::TranslationType::Untranslated) ||
                     (tt == static_cast<unsigned>(fmt::TranslationType::AllowAts) &&
                      m_config.device_tlbs) ||
                     (tt == static_cast<unsigned>(fmt::TranslationType::PassThrough) &&
                      m_config.pass_through);
  if (!tt_ok || !((m_sagaw >> aw) & 1)) return fmt::kFaultContextInvalid;
  c.table = ctx[0] & bit_mask(51, 12);
  c.domain = static_cast<uint16_t>(did);
  c.levels = static_cast<uint8_t>(fmt::aw_to_levels(aw));
  c.tt = static_cast<uint8_t>(tt);
  return fmt::kFaultNone;
}

// `last` is the request's last byte, saturated at 2^64 - 1 for a request that wraps past 2^64
// (last_byte() in iommu.cpp): every byte lies below the width exactly when the last one does.
uint8_t Iommu::check_context(const ContextInfo& c, uint64_t last, AddressType at,
                             Translation& t) const {
  t.fpd = c.fpd;
  // Translation requests and translated requests pass only where TT allows device TLBs.
  const bool allow_ats = c.tt == static_cast<uint8_t>(fmt::TranslationType::AllowAts);
  if (at != AddressType::Untranslated && !allow_ats) return fmt::kFaultBlockedByTt;
  // A translated request carries a host physical address, as pass-through requests do.
  const bool physical = c.tt == static_cast<uint8_t>(fmt::TranslationType::PassThrough) ||
                        at == AddressType::Translated;
  const unsigned width = physical ? m_config.host_address_width
                                  : std::min(m_config.address_width, fmt::levels_to_width(c.levels));
  if (width < 64 && (last >> width) != 0) return fmt::kFaultAddressWidth;
  return fmt::kFaultNone;
}

void Iommu::begin_walk(Translation& t, int& walker, sc_time& delay) {
  acquire_walker(walker, delay);
  m_walks.inc();
  t.path = TranslationWaves::Path::Walk;
  if (m_vcd) m_vcd->add(m_sig_walks, now_ps(delay), 1);
}

uint8_t Iommu::end_walk(Translation& t, uint8_t f, const sc_time& delay) {
  if (m_vcd) m_vcd->add(m_sig_walks, now_ps(delay), -1);
  if (t.have_leaf) {
    m_iotlb->fill(t.entry);
    if (m_trace) trace_op(IotlbOp::Fill, t.entry);
  }
  if (f == fmt::kFaultNone) {
    t.cacheable = true;
    if (m_trace) trace_op(IotlbOp::Access, t.entry);
  }
  return f;
}

uint8_t Iommu::fetch_and_cache_context(uint16_t rid, ContextInfo& c, Translation& t,
                                       sc_time& delay, int& walker) {
  acquire_walker(walker, delay);
  if (m_waves) m_waves->context_fetch(now_ps(delay));
  const uint8_t f = fetch_context(rid, c, &delay);
  if (f) {
    t.fpd = c.fpd && fmt::is_qualified_fault(f);
    return f;
  }
  m_context_cache.insert(rid, c.domain, c);
  return fmt::kFaultNone;
}

uint8_t Iommu::translate(const PcieExtension& ext, uint64_t iova, uint64_t last, bool write,
                         Translation& t, sc_time& delay, int& walker) {
  if (m_table_mode != vtd::TableMode::Legacy)
    return translate_scalable(ext, iova, last, write, t, &delay, walker);
  // A unit that offers scalable mode knows requests with PASID, and blocks them in legacy mode.
  if (ext.has_pasid && m_config.scalable.enabled) return fmt::kSmFaultPasidInLegacy;
  const uint16_t rid = ext.requester_id;
  const ContextInfo* cached = nullptr;
  if (m_context_cache.enabled()) {
    delay += m_config.cache_latency;
    cached = m_context_cache.lookup(rid);
    if (m_waves) m_waves->context_cache(now_ps(delay), cached != nullptr);
    if (cached && cached->scalable) cached = nullptr;  // left from scalable mode: not usable
  }
  ContextInfo fetched;
  if (!cached) {
    if (const uint8_t f = fetch_and_cache_context(rid, fetched, t, delay, walker)) return f;
    cached = &fetched;
  }
  const ContextInfo& c = *cached;  // nothing below changes the context cache
  t.domain = c.domain;
  if (const uint8_t f = check_context(c, last, ext.address_type, t)) return f;
  if (c.tt == static_cast<uint8_t>(fmt::TranslationType::PassThrough) ||
      ext.address_type == AddressType::Translated) {  // translated by the device: no walk
    t.path = TranslationWaves::Path::NoWalk;
    t.phys = iova;
    t.page_bytes = 0;
    return fmt::kFaultNone;
  }
  if (iotlb_lookup(rid, c.domain, kNoPasid, iova, write, ext.address_type, t, delay))
    return fmt::kFaultNone;
  begin_walk(t, walker, delay);
  return end_walk(t, walk(c, iova, write, t, &delay), delay);
}

uint8_t Iommu::translate_debug(const PcieExtension& ext, uint64_t iova, uint64_t last, bool write,
                               Translation& t) {
  if (m_table_mode != vtd::TableMode::Legacy) {
    int walker = -1;
    return translate_scalable(ext, iova, last, write, t, nullptr, walker);
  }
  ContextInfo c;
  if (const uint8_t f = fetch_context(ext.requester_id, c, nullptr)) {
    t.fpd = c.fpd && fmt::is_qualified_fault(f);
    return f;
  }
  if (const uint8_t f = check_context(c, last, ext.address_type, t)) return f;
  if (c.tt == static_cast<uint8_t>(fmt::TranslationType::PassThrough) ||
      ext.address_type == AddressType::Translated) {
    t.phys = iova;
    return fmt::kFaultNone;
  }
  return walk(c, iova, write, t, nullptr);
}

uint8_t Iommu::walk(const ContextInfo& c, uint64_t iova, bool write, Translation& t,
                    sc_time* delay) {
  // The table indexes only the bits below its width: an address above it would alias a lower
  // one. check_context() refuses such requests; this keeps the walk safe on its own.
  if (iova >> fmt::levels_to_width(c.levels)) return fmt::kFaultAddressWidth;
  WalkPort port(*this, delay);
  NestedWalker::Caches caches;
  if (delay && m_config.pscache.enabled)
    for (unsigned l = 2; l <= 5; ++l) caches.second_level[l - 2] = m_pscache[l - 2].get();
  NestedWalker walker(port, walk_features(), caches);
  SecondLevelTable sl;
  sl.root = c.table;
  sl.levels = c.levels;
  sl.did = c.domain;
  const uint8_t not_permitted = write ? fmt::kFaultWrite : fmt::kFaultRead;
  const WalkResult r = walker.second_level(
      sl, iova, write, SecondLevelFaults{fmt::kFaultPagingAccess, not_permitted, fmt::kFaultPagingReserved, not_permitted});
  take_walk_result(r, iova, c.domain, kNoPasid, t);
  return r.fault;
}

void Iommu::take_walk_result(const WalkResult& r, uint64_t iova, uint16_t domain, uint32_t pasid,
                             Translation& t) const {
  if (!r.have_leaf) return;
  t.phys = r.phys;
  t.page_bytes = r.page_bytes;
  t.have_leaf = true;
  t.entry.domain = domain;
  t.entry.pasid = pasid;
  t.entry.vpn = (iova & ~(r.page_bytes - 1)) >> 12;
  t.entry.pfn = (r.phys & ~(r.page_bytes - 1)) >> 12;
  t.entry.read = r.read;
  t.entry.write = r.write;
  t.entry.size = page_size_of(r.page_bytes);
}

}  // namespace iommu_sim
