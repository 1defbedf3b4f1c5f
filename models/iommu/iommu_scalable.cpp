// Iommu: scalable mode (RTADDR.TTM = 01). A request's context entry (scalable-mode root entry,
// lower or upper context table, 256-bit context entry) names a PASID directory; the request's
// PASID (requests without one use the context's RID_PASID) selects a 512-bit PASID entry whose
// PGTT picks first-level, second-level, nested or pass-through translation and whose DID tags
// what is cached. Caches as the specification tags them: the context cache by requester, the
// PASID cache by requester and PASID (tagged DID for invalidation), the IOTLB by DID and PASID
// for first-level and nested translation and by DID alone for second-level, the first-level and
// nested paging-structure caches by DID and PASID, the second-level ones by DID.
//
// Invalidation: descriptors 0x6 (PASID-based IOTLB) and 0x7 (PASID cache), and what an IOTLB
// invalidation (0x2 or the IOTLB register) adds in scalable mode. A page-selective 0x2 names a
// guest-physical range when it is about a second level beneath nested translations, and the
// combined entries cannot be found by guest-physical address: for a domain with nested entries
// it drops all of them (hardware may always invalidate more than asked).
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/iommu/iommu_internal.h"

#include <algorithm>
#include <cstdio>

#include "iommu_sim/common/messages.h"

namespace iommu_sim {

using sc_core::sc_time;
namespace fmt = vtd;

namespace {

// A decoded, valid PASID entry (what the PASID cache holds).
struct PasidInfo {
  fmt::Pgtt pgtt = fmt::Pgtt::SecondLevel;
  uint16_t did = 0;
  bool fpd = false;       // FPD of the context, the directory entry or the PASID entry
  uint64_t sl_root = 0;
  uint8_t sl_levels = 0;
  bool slade = false;
  uint64_t fl_root = 0;   // host physical, or guest physical under nested translation
  uint8_t fl_levels = 0;
  bool sre = false, wpe = false;
};

uint64_t pasid_cache_key(uint16_t rid, uint32_t pasid) {
  return (static_cast<uint64_t>(rid) << fmt::kPasidBits) | pasid;
}

SecondLevelFaults second_level_faults(bool write) {
  return SecondLevelFaults{fmt::kSmFaultSlAccess, fmt::kSmFaultSlNotPresent, fmt::kSmFaultSlReserved,
                           write ? fmt::kSmFaultWrite : fmt::kSmFaultRead};
}

using PsCacheArray = std::array<std::unique_ptr<TranslationCache<PsEntry>>, 4>;

void make_ps_caches(PsCacheArray& caches, const CacheGeometry& geometry, StatsRegistry& stats,
                    const std::string& prefix) {
  for (unsigned level = 2; level <= 5; ++level) {
    caches[level - 2] = std::make_unique<TranslationCache<PsEntry>>(geometry);
    register_cache_stats(stats, prefix + ".l" + std::to_string(level), caches[level - 2]->stats());
  }
}

// Drops the first-level paging-structure entries of (did, pasid), all of them or, with a range
// of 2^am pages at page `vpn`, those whose span overlaps it.
void invalidate_first_level_ps(PsCacheArray& caches, uint16_t did, uint32_t pasid, bool ranged,
                               uint64_t vpn, unsigned am) {
  const uint64_t base = vpn & ~((1ULL << am) - 1);
  const uint64_t end = base + (1ULL << am);
  for (unsigned level = 2; level <= 5; ++level) {
    const unsigned shift = 9 * (level - 1);
    caches[level - 2]->invalidate_if([=](uint64_t key, uint16_t d, const PsEntry&) {
      if (d != did || (key >> 44) != pasid) return false;
      if (!ranged) return true;
      const uint64_t first = (key & ((1ULL << 44) - 1)) << shift;
      return first < end && base < first + (1ULL << shift);
    });
  }
}

}  // namespace

struct Iommu::ScalableState {
  ScalableState(const ScalableConfig& c, StatsRegistry& stats, const std::string& base)
      : pasid_cache(c.pasid_cache),
        nested_dids(1u << 16, false),
        first_level_reads(stats.counter(base + ".walk_reads.first_level")),
        second_level_reads(stats.counter(base + ".walk_reads.second_level")),
        ad_writes(stats.counter(base + ".walk_writes")),
        walk_refs(stats.histogram(base + ".walk_refs", "reads")),
        walk_latency(stats.histogram(base + ".walk_latency", "ps")) {
    register_cache_stats(stats, base + ".pasid_cache", pasid_cache.stats());
    // Page-table reads of both dimensions, and per walk (every walk in scalable mode is counted
    // in <base>.walks): over the measurement, so that a warm-up leaves them out.
    stats.cumulative(base + ".walk_reads.page_tables", [&fl = first_level_reads, &sl = second_level_reads] {
      return static_cast<double>(fl.value() + sl.value());
    });
    const std::string walks = base + ".walks";
    stats.ratio(base + ".walk_reads_per_walk", base + ".walk_reads.page_tables", walks);
    stats.ratio(base + ".walk_reads_per_walk.first_level", base + ".walk_reads.first_level", walks);
    stats.ratio(base + ".walk_reads_per_walk.second_level", base + ".walk_reads.second_level", walks);
    make_ps_caches(first_level, c.first_level_pscache, stats, base + ".first_level_pscache");
    make_ps_caches(nested, c.nested_pscache, stats, base + ".nested_pscache");
  }
  TranslationCache<PasidInfo> pasid_cache;
  PsCacheArray first_level, nested;
  std::vector<bool> nested_dids;  // domains whose nested translations the IOTLB may hold
  Counter& first_level_reads;
  Counter& second_level_reads;
  Counter& ad_writes;
  Histogram& walk_refs;     // table reads per walk
  Histogram& walk_latency;  // from the walker slot to the walk's end
};

void Iommu::ScalableStateDeleter::operator()(ScalableState* s) const { delete s; }

void Iommu::init_scalable() {
  // Legacy mode: SNP (bit 11) and TM (bit 62) of second-level entries are reserved on a unit
  // without snoop control and device TLBs. Scalable mode takes snooping from the PASID entry and
  // ignores bit 11.
  for (WalkFeatures& f : m_walk_features) {
    f.haw_reserved = m_haw_reserved;
    f.sl_entry_reserved = fmt::kPteReserved;
    f.sl_2m = m_config.superpages_2m;
    f.sl_1g = m_config.superpages_1g;
    f.fl_1g = m_config.scalable.first_level_1g;
  }
  m_walk_features[1].sl_entry_reserved = 1ULL << fmt::kPteTransientMapping;
  if (!m_config.scalable.enabled) return;
  m_sm.reset(new ScalableState(m_config.scalable, m_stats, name()));
  // A PASID tag is what keeps first-level and nested translations of different PASIDs apart.
  if ((m_config.scalable.first_level || m_config.scalable.nested) && !m_iotlb->pasid_tags())
    report_config_error(
        std::string(name()) + ": scalable.first_level and scalable.nested need an IOTLB with PASID tags (the RTL "
        "IOTLB has none: use iotlb impl model, or second-level translation only)");
}

Counter& Iommu::fault_reason_counter(uint8_t reason) {
  if (!m_reason[reason]) {
    char buf[48];
    std::snprintf(buf, sizeof buf, ".faults.reason_0x%X", reason);
    m_reason[reason] = &m_stats.counter(std::string(name()) + buf);
  }
  return *m_reason[reason];
}

void Iommu::scalable_capabilities(uint64_t& cap, uint64_t& ecap) const {
  const ScalableConfig& s = m_config.scalable;
  if (!s.enabled) return;
  ecap = set_bit(ecap, fmt::kEcapSmts, true);
  ecap = set_bit(ecap, fmt::kEcapSlts, s.second_level);
  ecap = set_bit(ecap, fmt::kEcapFlts, s.first_level);
  ecap = set_bit(ecap, fmt::kEcapNest, s.nested);
  ecap = set_bit(ecap, fmt::kEcapSlads, s.second_level && s.second_level_ad);
  ecap = set_bit(ecap, fmt::kEcapSrs, s.supervisor_requests);
  ecap = set_bit(ecap, fmt::kEcapPasid, s.pasid);
  if (s.pasid) ecap = set_bits(ecap, fmt::kEcapPssHi, fmt::kEcapPssLo, s.pasid_bits - 1);
  // Table walks read memory as it is, as ECAP.C says for legacy mode.
  ecap = set_bit(ecap, fmt::kEcapSmpwc, m_config.coherent);
  cap = set_bit(cap, fmt::kCapFl1gp, s.first_level && s.first_level_1g);
  cap = set_bit(cap, fmt::kCapFl5lp, s.first_level && s.first_level_5level);
}

uint8_t Iommu::fetch_scalable_context(uint16_t rid, ContextInfo& c, sc_time* delay) {
  const ScalableConfig& s = m_config.scalable;
  uint64_t root[2];
  if (!read_table(m_root_table + (rid >> 8) * 16ULL, root, 16, delay)) return fmt::kSmFaultRootAccess;
  // devfn 0-127 use the lower context table, 128-255 the upper.
  const uint8_t devfn = rid & 0xFF;
  const uint64_t half = root[devfn >> 7];
  if (!get_bit(half, fmt::kSmRootPresent)) return fmt::kSmFaultRootNotPresent;
  if (half & (fmt::kSmRootReserved | m_haw_reserved)) return fmt::kSmFaultRootReserved;
  uint64_t ctx[4];
  if (!read_table((half & bit_mask(51, 12)) + (devfn & 0x7F) * uint64_t(fmt::kSmContextBytes), ctx,
                  fmt::kSmContextBytes, delay))
    return fmt::kSmFaultContextAccess;
  c.fpd = get_bit(ctx[0], fmt::kSmCtxFpd);  // honoured even for a not-present entry
  if (!get_bit(ctx[0], fmt::kSmCtxPresent)) return fmt::kSmFaultContextNotPresent;
  // DTE, PRE and PASIDE need device TLBs (ECAP.DT), page requests and requests with PASID;
  // RID_PRIV needs supervisor requests: this unit offers no page requests.
  if ((ctx[0] & (fmt::kSmCtxReserved0 | m_haw_reserved)) || (ctx[1] & fmt::kSmCtxReserved1) ||
      ctx[2] || ctx[3] || (get_bit(ctx[0], fmt::kSmCtxDte) && !m_config.device_tlbs) ||
      get_bit(ctx[0], fmt::kSmCtxPre) ||
      (get_bit(ctx[0], fmt::kSmCtxPaside) && !s.pasid) ||
      (get_bit(ctx[1], fmt::kSmCtxRidPriv) && !s.supervisor_requests))
    return fmt::kSmFaultContextReserved;
  c.table = ctx[0] & bit_mask(51, 12);
  c.pdts = static_cast<uint8_t>(get_bits(ctx[0], fmt::kSmCtxPdtsHi, fmt::kSmCtxPdtsLo));
  c.pasid_enable = get_bit(ctx[0], fmt::kSmCtxPaside);
  c.dte = get_bit(ctx[0], fmt::kSmCtxDte);
  c.rid_priv = get_bit(ctx[1], fmt::kSmCtxRidPriv);
  c.rid_pasid = static_cast<uint32_t>(get_bits(ctx[1], fmt::kSmCtxRidPasidHi, fmt::kSmCtxRidPasidLo));
  c.scalable = true;
  if (c.rid_pasid >= fmt::pasids_covered(c.pdts) || (c.rid_pasid >> s.pasid_bits) != 0)
    return fmt::kSmFaultRidPasid;
  return fmt::kFaultNone;
}

namespace {

// Reads and decodes the PASID directory entry and the PASID entry of `pasid`. `p.fpd` collects
// the FPD bits on the way (the context's comes in).
template <typename ReadTable>
uint8_t fetch_pasid_entry(ReadTable read_table, const ScalableConfig& s, uint64_t directory,
                          uint32_t pasid, uint64_t haw_reserved, unsigned domains, unsigned sagaw,
                          bool pass_through, PasidInfo& p) {
  uint64_t dir = 0;
  if (!read_table(directory + fmt::pasid_dir_index(pasid) * 8, &dir, 8)) return fmt::kSmFaultPasidDirAccess;
  p.fpd = p.fpd || get_bit(dir, fmt::kPasidDirFpd);
  if (!get_bit(dir, fmt::kPasidDirPresent)) return fmt::kSmFaultPasidDirNotPresent;
  if (dir & (fmt::kPasidDirReserved | haw_reserved)) return fmt::kSmFaultPasidDirReserved;
  uint64_t pe[8];
  if (!read_table((dir & bit_mask(51, 12)) + fmt::pasid_table_index(pasid) * fmt::kPasidEntryBytes, pe,
                  fmt::kPasidEntryBytes))
    return fmt::kSmFaultPasidAccess;
  p.fpd = p.fpd || get_bit(pe[0], fmt::kPeFpd);
  if (!get_bit(pe[0], fmt::kPePresent)) return fmt::kSmFaultPasidNotPresent;
  p.did = static_cast<uint16_t>(get_bits(pe[1], fmt::kPeDidHi, fmt::kPeDidLo));
  p.slade = get_bit(pe[0], fmt::kPeSlade);
  p.sre = get_bit(pe[2], fmt::kPeSre);
  p.wpe = get_bit(pe[2], fmt::kPeWpe);
  // Fields of features this unit does not offer are reserved: SLADE without SLADS, SRE without
  // SRS, ERE, EAFE, page snoop (no snoop control); domain-ID bits beyond CAP.ND.
  if ((pe[0] & fmt::kPeReserved0) || (pe[1] & fmt::kPeReserved1) || (pe[2] & fmt::kPeReserved2) ||
      pe[3] || pe[4] || pe[5] || pe[6] || pe[7] || p.did >= domains ||
      (p.slade && !(s.second_level && s.second_level_ad)) || (p.sre && !s.supervisor_requests) ||
      get_bit(pe[2], fmt::kPeEre) || get_bit(pe[2], fmt::kPeEafe) || get_bit(pe[1], fmt::kPePgsnp))
    return fmt::kSmFaultPasidReserved;
  const unsigned pgtt = static_cast<unsigned>(get_bits(pe[0], fmt::kPePgttHi, fmt::kPePgttLo));
  p.pgtt = static_cast<fmt::Pgtt>(pgtt);
  const bool uses_sl = p.pgtt == fmt::Pgtt::SecondLevel || p.pgtt == fmt::Pgtt::Nested;
  const bool uses_fl = p.pgtt == fmt::Pgtt::FirstLevel || p.pgtt == fmt::Pgtt::Nested;
  const bool offered = (p.pgtt == fmt::Pgtt::FirstLevel && s.first_level) ||
                       (p.pgtt == fmt::Pgtt::SecondLevel && s.second_level) ||
                       (p.pgtt == fmt::Pgtt::Nested && s.nested) ||
                       (p.pgtt == fmt::Pgtt::PassThrough && pass_through);
  if (!offered) return fmt::kSmFaultPasidInvalid;
  if (uses_sl) {
    const unsigned aw = static_cast<unsigned>(get_bits(pe[0], fmt::kPeAwHi, fmt::kPeAwLo));
    if (!((sagaw >> aw) & 1)) return fmt::kSmFaultPasidInvalid;
    p.sl_levels = static_cast<uint8_t>(fmt::aw_to_levels(aw));
    p.sl_root = pe[0] & bit_mask(63, 12);
    if (p.sl_root & haw_reserved || (p.sl_root >> 52)) return fmt::kSmFaultSlPointer;
  }
  if (uses_fl) {
    const unsigned flpm = static_cast<unsigned>(get_bits(pe[2], fmt::kPeFlpmHi, fmt::kPeFlpmLo));
    if (flpm > 1 || (flpm == 1 && !s.first_level_5level)) return fmt::kSmFaultPasidInvalid;
    p.fl_levels = static_cast<uint8_t>(fmt::flpm_to_levels(flpm));
    p.fl_root = pe[2] & bit_mask(63, 12);
    // Under nested translation the pointer is guest physical: the walk checks it against the
    // second level's width.
    if (p.pgtt == fmt::Pgtt::FirstLevel && ((p.fl_root & haw_reserved) || (p.fl_root >> 52)))
      return fmt::kSmFaultFlRootAccess;
  }
  return fmt::kFaultNone;
}

}  // namespace

uint8_t Iommu::translate_scalable(const PcieExtension& ext, uint64_t iova, uint64_t last,
                                  bool write, Translation& t, sc_time* delay, int& walker) {
  ScalableState& sm = *m_sm;
  const ScalableConfig& s = m_config.scalable;
  if (m_table_mode != fmt::TableMode::Scalable) return fmt::kSmFaultRootTable;
  const uint16_t rid = ext.requester_id;

  // The context entry.
  ContextInfo c;
  const ContextInfo* cached = nullptr;
  if (delay && m_context_cache.enabled()) {
    *delay += m_config.cache_latency;
    cached = m_context_cache.lookup(rid);
    if (cached && !cached->scalable) cached = nullptr;  // left from legacy mode: not usable
  }
  if (cached) {
    c = *cached;
  } else {
    if (delay) acquire_walker(walker, *delay);
    const uint8_t f = fetch_scalable_context(rid, c, delay);
    if (f) {
      t.fpd = c.fpd && fmt::is_qualified_scalable_fault(f);
      return f;
    }
    if (delay) m_context_cache.insert(rid, 0, c);
  }
  t.fpd = c.fpd;

  // Translation requests and translated requests need the context's DTE.
  if (ext.address_type != AddressType::Untranslated && !c.dte) return fmt::kSmFaultDteClear;
  // A translated request carries the host physical address the device-TLB gave it: no PASID
  // entry and no walk, only the host address width.
  if (ext.address_type == AddressType::Translated) {
    if (m_config.host_address_width < 64 && (last >> m_config.host_address_width) != 0)
      return fmt::kSmFaultAddressWidth;
    t.phys = iova;
    t.page_bytes = 0;
    return fmt::kFaultNone;
  }

  // The PASID: the request's, or RID_PASID for a request without one.
  uint32_t pasid = c.rid_pasid;
  bool privileged = c.rid_priv;
  if (ext.has_pasid) {
    if (!s.pasid || !c.pasid_enable) return fmt::kSmFaultPasideClear;
    pasid = ext.pasid & fmt::kPasidMask;
    if (pasid >= fmt::pasids_covered(c.pdts) || (pasid >> s.pasid_bits) != 0)
      return fmt::kSmFaultPasidTooLarge;
    privileged = ext.privileged;
  }
  // The PASID entry.
  PasidInfo p;
  const uint64_t pkey = pasid_cache_key(rid, pasid);
  const PasidInfo* pcached = nullptr;
  if (delay && sm.pasid_cache.enabled()) {
    *delay += m_config.cache_latency;
    pcached = sm.pasid_cache.lookup(pkey);
  }
  if (pcached) {
    p = *pcached;
  } else {
    if (delay) acquire_walker(walker, *delay);
    p.fpd = c.fpd;
    const auto read = [this, delay](uint64_t addr, void* buf, unsigned len) {
      return read_table(addr, buf, len, delay);
    };
    const uint8_t f = fetch_pasid_entry(read, s, c.table, pasid, m_haw_reserved, m_domains, m_sagaw,
                                        m_config.pass_through, p);
    if (f) {
      t.fpd = p.fpd && fmt::is_qualified_scalable_fault(f);
      return f;
    }
    if (delay) sm.pasid_cache.insert(pkey, p.did, p);
  }
  t.fpd = p.fpd;
  t.domain = p.did;
  if (privileged && !p.sre) return fmt::kSmFaultSreClear;

  // Input address checks, then the IOTLB.
  SecondLevelTable sl;
  sl.root = p.sl_root;
  sl.levels = p.sl_levels;
  sl.did = p.did;
  sl.ad = p.slade;
  sl.width = std::min(m_config.address_width, fmt::levels_to_width(p.sl_levels));
  switch (p.pgtt) {
    case fmt::Pgtt::PassThrough:
      if (m_config.host_address_width < 64 && (last >> m_config.host_address_width) != 0)
        return fmt::kSmFaultAddressWidth;
      t.path = TranslationWaves::Path::NoWalk;
      t.phys = iova;
      t.page_bytes = 0;
      return fmt::kFaultNone;
    case fmt::Pgtt::SecondLevel:
      if ((last >> sl.width) != 0) return fmt::kSmFaultAddressWidth;
      break;
    case fmt::Pgtt::FirstLevel:
    case fmt::Pgtt::Nested: {
      // The whole access in one canonical half.
      const unsigned width = fmt::levels_to_width(p.fl_levels);
      if ((iova >> (width - 1)) != (last >> (width - 1))) return fmt::kSmFaultNonCanonical;
      break;
    }
  }
  const uint32_t tag = p.pgtt == fmt::Pgtt::SecondLevel ? kNoPasid : pasid;
  uint8_t f = fmt::kFaultNone;
  if (!delay || !iotlb_lookup(rid, p.did, tag, iova, write, ext.address_type, t, *delay)) {
    if (delay) begin_walk(t, walker, *delay);
    const sc_time start = delay ? *delay : sc_core::SC_ZERO_TIME;
    WalkPort port(*this, delay);
    NestedWalker::Caches caches;
    if (delay) {
      if (m_config.pscache.enabled)
        for (unsigned l = 2; l <= 5; ++l) caches.second_level[l - 2] = m_pscache[l - 2].get();
      PsCacheArray& fl = p.pgtt == fmt::Pgtt::Nested ? sm.nested : sm.first_level;
      if (fl[0]->enabled())
        for (unsigned l = 2; l <= 5; ++l) caches.first_level[l - 2] = fl[l - 2].get();
    }
    NestedWalker w(port, walk_features(), caches, delay != nullptr);
    FirstLevelTable fl;
    fl.root = p.fl_root;
    fl.levels = p.fl_levels;
    fl.did = p.did;
    fl.pasid = pasid;
    fl.wpe = p.wpe;
    const WalkResult r = p.pgtt == fmt::Pgtt::SecondLevel
                             ? w.second_level(sl, iova, write, second_level_faults(write))
                             : w.first_level(fl, p.pgtt == fmt::Pgtt::Nested ? &sl : nullptr, iova,
                                             write, !privileged);
    take_walk_result(r, iova, p.did, tag, t);
    f = r.fault;
    if (delay) {
      const WalkCounts& n = w.counts();
      sm.first_level_reads.inc(n.first_level_reads);
      sm.second_level_reads.inc(n.second_level_reads);
      sm.ad_writes.inc(n.writes);
      sm.walk_refs.add(n.first_level_reads + n.second_level_reads);
      sm.walk_latency.add(to_ps(*delay - start));
      if (r.have_leaf && p.pgtt == fmt::Pgtt::Nested) sm.nested_dids[p.did] = true;
      f = end_walk(t, f, *delay);
    }
  }
  // Scalable mode blocks an output address in the interrupt range.
  if (f == fmt::kFaultNone && irte::touches_window(t.phys, t.phys + (last - iova)))
    return fmt::kSmFaultInterruptAddress;
  return f;
}

fmt::QueueErrorInfo Iommu::execute_scalable_descriptor(const uint64_t* qw, sc_time& delay) {
  const unsigned type = static_cast<unsigned>(get_bits(qw[0], fmt::kDescTypeHi, fmt::kDescTypeLo));
  // 0x8 (PASID-based device-TLB) needs device TLBs (iommu_ats.cpp); 0x9 and beyond page requests.
  if (m_sm && type == fmt::kDescPasidDeviceTlb && m_config.device_tlbs)
    return execute_pasid_device_tlb_descriptor(qw, delay);
  if (!m_sm || (type != fmt::kDescPasidIotlb && type != fmt::kDescPasidCache))
    return fmt::kIqeiDescriptorType;
  ScalableState& sm = *m_sm;
  const unsigned g = static_cast<unsigned>(get_bits(qw[0], fmt::kDescGHi, fmt::kDescGLo));
  const auto did = static_cast<uint16_t>(get_bits(qw[0], fmt::kDescDidHi, fmt::kDescDidLo));
  const auto pasid = static_cast<uint32_t>(get_bits(qw[0], fmt::kDescPasidHi, fmt::kDescPasidLo));
  if ((qw[0] & fmt::kDescPasidReserved0) || qw[2] || qw[3]) return fmt::kIqeiReservedField;
  if (type == fmt::kDescPasidCache) {
    if (qw[1]) return fmt::kIqeiReservedField;
    switch (g) {
      case static_cast<unsigned>(fmt::PasidCacheScope::Domain):
        sm.pasid_cache.invalidate_domain(did);
        return fmt::kIqeiNone;
      case static_cast<unsigned>(fmt::PasidCacheScope::Pasid):
        sm.pasid_cache.invalidate_if([did, pasid](uint64_t key, uint16_t d, const PasidInfo&) {
          return d == did && (key & fmt::kPasidMask) == pasid;
        });
        return fmt::kIqeiNone;
      case static_cast<unsigned>(fmt::PasidCacheScope::Global):
        sm.pasid_cache.invalidate_all();
        return fmt::kIqeiNone;
      default:
        return fmt::kIqeiReservedField;
    }
  }
  // PASID-based IOTLB: first-level and nested translations of (DID, PASID), and their
  // paging-structure entries; second-level-only entries are not its business.
  if (qw[1] & fmt::kDescPasidIotlbReserved1) return fmt::kIqeiReservedField;
  unsigned am = static_cast<unsigned>(get_bits(qw[1], fmt::kDescIotlbAmHi, fmt::kDescIotlbAmLo));
  auto scope = static_cast<fmt::PasidIotlbScope>(g);
  if (scope != fmt::PasidIotlbScope::Pasid && scope != fmt::PasidIotlbScope::PasidPage)
    return fmt::kIqeiReservedField;
  if (scope == fmt::PasidIotlbScope::PasidPage) {
    if (am > m_config.mamv && m_config.page_selective) return fmt::kIqeiReservedField;
    if (!m_config.page_selective) scope = fmt::PasidIotlbScope::Pasid;  // coarser is always allowed
  }
  const uint64_t vpn = (qw[1] & fmt::kTableAddrMask) >> 12;
  const bool ranged = scope == fmt::PasidIotlbScope::PasidPage;
  if (ranged) {
    m_iotlb->invalidate_pasid_pages(did, pasid, vpn, am);
    // The access stream has no PASID tag: it records the wider invalidation.
    if (m_trace) trace_op(IotlbOp::InvalidatePages, IotlbEntry{did, vpn, 0, false, false, PageSize::Size4K}, am);
  } else {
    m_iotlb->invalidate_pasid(did, pasid);
    if (m_trace) trace_op(IotlbOp::InvalidateDomain, IotlbEntry{did, 0, 0, false, false, PageSize::Size4K});
  }
  // IH set: only leaves changed, the paging-structure entries stay.
  if (!(ranged && get_bit(qw[1], fmt::kDescIotlbIh))) {
    invalidate_first_level_ps(sm.first_level, did, pasid, ranged, vpn, am);
    invalidate_first_level_ps(sm.nested, did, pasid, ranged, vpn, am);
  }
  return fmt::kIqeiNone;
}

void Iommu::invalidate_scalable_iotlb(fmt::InvalidationScope g, uint16_t did, uint64_t, unsigned,
                                      bool) {
  if (!m_sm) return;
  ScalableState& sm = *m_sm;
  switch (g) {
    case fmt::InvalidationScope::Global:
      for (auto& c : sm.first_level) c->invalidate_all();
      for (auto& c : sm.nested) c->invalidate_all();
      sm.nested_dids.assign(sm.nested_dids.size(), false);
      return;
    case fmt::InvalidationScope::Domain:
      for (auto& c : sm.first_level) c->invalidate_domain(did);
      for (auto& c : sm.nested) c->invalidate_domain(did);
      sm.nested_dids[did] = false;
      return;
    case fmt::InvalidationScope::Selective:
      // The range is guest physical for the second level beneath nested translations, which the
      // combined entries cannot be searched by: the domain's nested entries go whole.
      if (sm.nested_dids[did]) {
        m_iotlb->invalidate_domain(did);
        for (auto& c : sm.nested) c->invalidate_domain(did);
        sm.nested_dids[did] = false;
        if (m_trace) trace_op(IotlbOp::InvalidateDomain, IotlbEntry{did, 0, 0, false, false, PageSize::Size4K});
      }
      return;
  }
}

}  // namespace iommu_sim
