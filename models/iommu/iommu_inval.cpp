// Iommu: invalidation. Register-based (CCMD, IOTLB/IVA) and queued (descriptors 0x1, 0x2, 0x4,
// 0x5, 0x3 with device TLBs (iommu_ats.cpp), and in scalable mode 0x6, 0x7 and, with device TLBs,
// 0x8; fetched from the queue at IQA between IQH and IQT; 128- or, with IQA.DW and scalable mode
// offered, 256-bit). Every invalidation that could cover a DMI grant revokes it upstream; global
// and domain invalidations revoke everything.
#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {

using sc_core::sc_time;
namespace fmt = vtd;

void Iommu::register_context_invalidation(sc_time& delay) {
  const unsigned g = static_cast<unsigned>(get_bits(m_ccmd, fmt::kCcmdCirgHi, fmt::kCcmdCirgLo));
  if (g != 0) {
    wave_invalidation(delay, false, static_cast<fmt::InvalidationScope>(g),
                      static_cast<uint16_t>(get_bits(m_ccmd, fmt::kCcmdDidHi, fmt::kCcmdDidLo)));
    invalidate_context(static_cast<fmt::InvalidationScope>(g),
                       static_cast<uint16_t>(get_bits(m_ccmd, fmt::kCcmdDidHi, fmt::kCcmdDidLo)),
                       static_cast<uint16_t>(get_bits(m_ccmd, fmt::kCcmdSidHi, fmt::kCcmdSidLo)),
                       static_cast<unsigned>(get_bits(m_ccmd, fmt::kCcmdFmHi, fmt::kCcmdFmLo)));
  }
  // Done at once: ICC clears, CAIG reports the granularity performed (0: request refused).
  m_ccmd = set_bit(m_ccmd, fmt::kCcmdIcc, false);
  m_ccmd = set_bits(m_ccmd, fmt::kCcmdCaigHi, fmt::kCcmdCaigLo, g);
}

void Iommu::register_iotlb_invalidation(sc_time& delay) {
  unsigned g = static_cast<unsigned>(get_bits(m_iotlb_reg, fmt::kIotlbIirgHi, fmt::kIotlbIirgLo));
  const unsigned am = static_cast<unsigned>(get_bits(m_iva, fmt::kIvaAmHi, fmt::kIvaAmLo));
  const auto did = static_cast<uint16_t>(get_bits(m_iotlb_reg, fmt::kIotlbDidHi, fmt::kIotlbDidLo));
  const auto sel = static_cast<unsigned>(fmt::InvalidationScope::Selective);
  if (g == sel && !m_config.page_selective)
    g = static_cast<unsigned>(fmt::InvalidationScope::Domain);  // coarser is always allowed
  if (g == sel && am > m_config.mamv) g = 0;                    // refused
  if (g != 0) {
    wave_invalidation(delay, true, static_cast<fmt::InvalidationScope>(g), did);
    invalidate_iotlb(static_cast<fmt::InvalidationScope>(g), did, m_iva & fmt::kTableAddrMask, am,
                     get_bit(m_iva, fmt::kIvaIh));
  }
  m_iotlb_reg = set_bit(m_iotlb_reg, fmt::kIotlbIvt, false);
  m_iotlb_reg = set_bits(m_iotlb_reg, fmt::kIotlbIaigHi, fmt::kIotlbIaigLo, g);
}

void Iommu::wave_invalidation(const sc_time& delay, bool iotlb, fmt::InvalidationScope g,
                              uint16_t did) {
  if (!m_waves) return;
  using Kind = TranslationWaves::Invalidation;
  const Kind kind = !iotlb ? Kind::Context
                           : g == fmt::InvalidationScope::Selective ? Kind::Pages : Kind::Iotlb;
  m_waves->invalidation(now_ps(delay), kind, g == fmt::InvalidationScope::Global ? -1 : did);
}

void Iommu::invalidate_context(fmt::InvalidationScope g, uint16_t did, uint16_t sid, unsigned fm) {
  switch (g) {
    case fmt::InvalidationScope::Global:
      m_context_cache.invalidate_all();
      break;
    case fmt::InvalidationScope::Domain:
      m_context_cache.invalidate_domain(did);
      // Scalable-mode context entries carry no domain: a domain-selective request drops them all.
      m_context_cache.invalidate_if([](uint64_t, uint16_t, const ContextInfo& c) { return c.scalable; });
      break;
    case fmt::InvalidationScope::Selective: {
      // FM masks function bits of the source-id: 1 = bit 2, 2 = bits 2:1, 3 = bits 2:0. The
      // domain is not compared: dropping a few more entries than asked is always safe.
      const uint16_t ignore = static_cast<uint16_t>((0x7u << (3 - (fm & 3))) & 0x7u);
      const uint16_t want = sid & ~ignore;
      m_context_cache.invalidate_if(
          [want, ignore](uint64_t key, uint16_t, const ContextInfo&) {
            return (static_cast<uint16_t>(key) & ~ignore) == want;
          });
      break;
    }
  }
  revoke_dmi(0, ~0ULL);
}

void Iommu::invalidate_iotlb(fmt::InvalidationScope g, uint16_t did, uint64_t addr, unsigned am,
                             bool ih) {
  switch (g) {
    case fmt::InvalidationScope::Global:
      m_iotlb->invalidate_all();
      for (auto& c : m_pscache) c->invalidate_all();
      invalidate_scalable_iotlb(g, did, addr, am, ih);
      if (m_trace) trace_op(IotlbOp::InvalidateAll, IotlbEntry{});
      revoke_dmi(0, ~0ULL);
      return;
    case fmt::InvalidationScope::Domain:
      m_iotlb->invalidate_domain(did);
      for (auto& c : m_pscache) c->invalidate_domain(did);
      invalidate_scalable_iotlb(g, did, addr, am, ih);
      if (m_trace) trace_op(IotlbOp::InvalidateDomain, IotlbEntry{did, 0, 0, false, false, PageSize::Size4K});
      revoke_dmi(0, ~0ULL);
      return;
    case fmt::InvalidationScope::Selective:
      break;
  }
  const uint64_t vpn = addr >> 12;
  const uint64_t base = vpn & ~((1ULL << am) - 1);
  const uint64_t end = base + (1ULL << am);  // exclusive, in pages
  m_iotlb->invalidate_pages(did, vpn, am);
  invalidate_scalable_iotlb(g, did, addr, am, ih);
  if (m_trace) trace_op(IotlbOp::InvalidatePages, IotlbEntry{did, vpn, 0, false, false, PageSize::Size4K}, am);
  if (!ih) {
    // IH clear: the paging-structure entries over the range may have changed too.
    for (unsigned level = 2; level <= 5; ++level) {
      const unsigned shift = 9 * (level - 1);  // pages covered by one key, log2
      m_pscache[level - 2]->invalidate_if(
          [did, base, end, shift](uint64_t key, uint16_t d, const PsValue&) {
            const uint64_t first = (key & ((1ULL << 48) - 1)) << shift;
            const uint64_t last = first + (1ULL << shift);
            return d == did && first < end && base < last;
          });
    }
  }
  // A DMI grant is one 4 KiB page, but it may come from a superpage entry the invalidation
  // removed as a whole: revoke the range widened to the largest page size offered.
  const unsigned widen = m_config.superpages_1g ? 18 : m_config.superpages_2m ? 9 : 0;
  const uint64_t wbase = (base >> widen) << widen;
  const uint64_t wend = ((end + (1ULL << widen) - 1) >> widen) << widen;
  revoke_dmi(wbase << 12, (wend << 12) - 1);
}

void Iommu::queue_error(fmt::QueueErrorInfo info, sc_time& delay) {
  // The queue stops with IQH at the offending descriptor until software clears FSTS.IQE. IQER
  // says why; like FRI it is written only when the condition is newly set.
  const uint32_t before = fsts();
  if (before & fmt::kFstsIqe) return;
  m_fsts_sticky |= fmt::kFstsIqe;
  m_iqer = set_bits(m_iqer, fmt::kIqerIqeiHi, fmt::kIqerIqeiLo,
                    info == fmt::kIqeiUnavailable ? 0 : info);
  if (!(before & fmt::kFstsEventConditions)) signal_fault_event(delay);
}

void Iommu::process_queue(sc_time& delay) {
  if (m_in_queue || !(m_gsts & fmt::kGcmdQie) || (m_fsts_sticky & (fmt::kFstsIqe | fmt::kFstsIte)))
    return;
  // 256-bit descriptors exist for scalable mode only: with ECAP.SMTS (and ADMS) clear, DW = 1 is
  // an invalid descriptor width (VT-d 11.4.9.9, IQEI 5).
  const bool wide = get_bit(m_iqa, fmt::kIqaDw);
  if (wide && !m_config.scalable.enabled) {
    queue_error(fmt::kIqeiDescriptorWidth, delay);
    return;
  }
  m_in_queue = true;
  const unsigned desc_bytes = wide ? 32 : 16;
  const uint64_t queue_bytes = 4096ULL << get_bits(m_iqa, fmt::kIqaQsHi, fmt::kIqaQsLo);
  const uint64_t base = m_iqa & fmt::kTableAddrMask;
  if (m_iqt >= queue_bytes) {
    queue_error(fmt::kIqeiTailInvalid, delay);  // IQT outside the queue
    m_in_queue = false;
    return;
  }
  if (m_iqt % desc_bytes) {
    queue_error(fmt::kIqeiTailMisaligned, delay);  // IQT bit 4 set with 256-bit descriptors
    m_in_queue = false;
    return;
  }
  while (m_iqh != m_iqt) {
    uint64_t qw[4] = {0, 0, 0, 0};
    m_qi_descriptors.inc();
    if (!read_table(base + m_iqh, qw, desc_bytes, &delay)) {
      queue_error(fmt::kIqeiFetchFailed, delay);
      break;
    }
    if (const fmt::QueueErrorInfo e = execute_descriptor(qw, delay)) {
      queue_error(e, delay);
      break;
    }
    m_iqh = (m_iqh + desc_bytes) % queue_bytes;
    // A function never completed an invalidation: fetching stops until software clears ITE.
    if (m_fsts_sticky & fmt::kFstsIte) break;
  }
  m_in_queue = false;
}

fmt::QueueErrorInfo Iommu::execute_descriptor(const uint64_t* qw, sc_time& delay) {
  const unsigned type = static_cast<unsigned>(get_bits(qw[0], fmt::kDescTypeHi, fmt::kDescTypeLo));
  // 0x3 needs ECAP.DT; 0x6 and up are scalable mode's (iommu_scalable.cpp), as are the extended
  // type bits 11:9, which no type this unit processes uses; 0x0 is invalid.
  if (get_bits(qw[0], fmt::kDescTypeHighHi, fmt::kDescTypeHighLo)) return fmt::kIqeiDescriptorType;
  if (type >= fmt::kDescPasidIotlb) return execute_scalable_descriptor(qw, delay);
  // The upper half of a 256-bit descriptor of the legacy types is reserved.
  if (qw[2] || qw[3]) return fmt::kIqeiReservedField;
  const unsigned g = static_cast<unsigned>(get_bits(qw[0], fmt::kDescGHi, fmt::kDescGLo));
  const auto did = static_cast<uint16_t>(get_bits(qw[0], fmt::kDescDidHi, fmt::kDescDidLo));
  switch (type) {
    case fmt::kDescContextCache:
      if ((qw[0] & fmt::kDescCcReserved0) || qw[1] || g == 0) return fmt::kIqeiReservedField;
      wave_invalidation(delay, false, static_cast<fmt::InvalidationScope>(g), did);
      invalidate_context(static_cast<fmt::InvalidationScope>(g), did,
                         static_cast<uint16_t>(get_bits(qw[0], fmt::kDescCcSidHi, fmt::kDescCcSidLo)),
                         static_cast<unsigned>(get_bits(qw[0], fmt::kDescCcFmHi, fmt::kDescCcFmLo)));
      return fmt::kIqeiNone;
    case fmt::kDescIotlb: {
      if ((qw[0] & fmt::kDescIotlbReserved0) || (qw[1] & fmt::kDescIotlbReserved1) || g == 0)
        return fmt::kIqeiReservedField;
      const unsigned am = static_cast<unsigned>(get_bits(qw[1], fmt::kDescIotlbAmHi, fmt::kDescIotlbAmLo));
      auto scope = static_cast<fmt::InvalidationScope>(g);
      if (scope == fmt::InvalidationScope::Selective) {
        if (am > m_config.mamv && m_config.page_selective) return fmt::kIqeiReservedField;
        if (!m_config.page_selective) scope = fmt::InvalidationScope::Domain;
      }
      wave_invalidation(delay, true, scope, did);
      invalidate_iotlb(scope, did, qw[1] & fmt::kTableAddrMask, am,
                       get_bit(qw[1], fmt::kDescIotlbIh));
      return fmt::kIqeiNone;
    }
    case fmt::kDescInterruptEntry:
      if ((qw[0] & fmt::kDescIecReserved0) || qw[1]) return fmt::kIqeiReservedField;
      if (on_iec_invalidate)
        on_iec_invalidate(get_bit(qw[0], fmt::kDescIecG),
                          static_cast<uint16_t>(get_bits(qw[0], fmt::kDescIecIdxHi, fmt::kDescIecIdxLo)),
                          static_cast<unsigned>(get_bits(qw[0], fmt::kDescIecImHi, fmt::kDescIecImLo)));
      return fmt::kIqeiNone;
    case fmt::kDescDeviceTlb:
      if (!m_config.device_tlbs) return fmt::kIqeiDescriptorType;
      return execute_device_tlb_descriptor(qw, delay);
    case fmt::kDescWait: {
      if ((qw[0] & fmt::kDescWaitReserved0) || (qw[1] & fmt::kDescWaitReserved1))
        return fmt::kIqeiReservedField;
      // Everything before this descriptor is complete (processing is in order and synchronous;
      // device-TLB invalidations complete when their functions say so).
      wait_device_tlb_invalidations(delay);
      if (get_bit(qw[0], fmt::kDescWaitSw)) {
        const auto status = static_cast<uint32_t>(get_bits(qw[0], fmt::kDescWaitDataHi, fmt::kDescWaitDataLo));
        if (!write_memory(qw[1] & ~3ULL, &status, 4, delay)) return fmt::kIqeiUnavailable;
      }
      if (get_bit(qw[0], fmt::kDescWaitIf)) {
        const bool was = m_ics & fmt::kIcsIwc;
        m_ics |= fmt::kIcsIwc;
        if (!was) signal_completion_event(delay);
      }
      return fmt::kIqeiNone;
    }
    default:
      return fmt::kIqeiDescriptorType;
  }
}

}  // namespace iommu_sim
