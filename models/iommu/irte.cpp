#include "iommu_sim/iommu/irte.h"

namespace iommu_sim {
namespace irte {

uint8_t decode_entry(uint64_t lo, uint64_t hi, bool x2apic, unsigned haw, Entry& e) {
  e = Entry{};
  e.present = get_bit(lo, kPresent);
  e.fpd = get_bit(lo, kFpd);
  e.posted = get_bit(lo, kIm);
  e.sid = static_cast<uint16_t>(get_bits(hi, kSidHi, kSidLo));
  e.sq = static_cast<uint8_t>(get_bits(hi, kSqHi, kSqLo));
  e.svt = static_cast<SourceValidation>(get_bits(hi, kSvtHi, kSvtLo));
  e.vector = static_cast<uint8_t>(get_bits(lo, kVectorHi, kVectorLo));

  if (e.posted) {
    if ((lo & kPostedLoReserved) || (hi & kPostedHiReserved)) return kFaultEntryReserved;
    e.urgent = get_bit(lo, kUrg);
    e.pda = (get_bits(lo, kPdaLowHi, kPdaLowLo) << 6) | (get_bits(hi, kPdaHighHi, kPdaHighLo) << 32);
    if (haw < 64 && (e.pda >> haw) != 0) return kFaultEntryReserved;
    return 0;
  }
  if ((lo & kRemappedLoReserved) || (hi & kRemappedHiReserved)) return kFaultEntryReserved;
  if (!x2apic && (lo & kRemappedXapicDestReserved)) return kFaultEntryReserved;
  e.dest_mode = get_bit(lo, kDm);
  e.redirection = get_bit(lo, kRh);
  e.level_trigger = get_bit(lo, kTm);
  e.delivery_mode = static_cast<uint8_t>(get_bits(lo, kDlmHi, kDlmLo));
  // 011 and 110 are reserved delivery modes.
  if (e.delivery_mode == 3 || e.delivery_mode == 6) return kFaultEntryReserved;
  e.destination = static_cast<uint32_t>(x2apic ? get_bits(lo, kDestHi, kDestLo)
                                               : get_bits(lo, kXapicDestHi, kXapicDestLo));
  return 0;
}

namespace {
uint64_t source_fields(uint16_t sid, SourceValidation svt, uint8_t sq) {
  uint64_t hi = 0;
  hi = set_bits(hi, kSidHi, kSidLo, sid);
  hi = set_bits(hi, kSqHi, kSqLo, sq);
  return set_bits(hi, kSvtHi, kSvtLo, static_cast<uint64_t>(svt));
}
}  // namespace

Raw encode_remapped(uint8_t vector, uint32_t destination, bool x2apic, uint16_t sid,
                    SourceValidation svt, uint8_t sq, bool dest_mode, unsigned delivery_mode,
                    bool fpd) {
  Raw r;
  r.lo = set_bit(r.lo, kPresent, true);
  r.lo = set_bit(r.lo, kFpd, fpd);
  r.lo = set_bit(r.lo, kDm, dest_mode);
  r.lo = set_bits(r.lo, kDlmHi, kDlmLo, delivery_mode);
  r.lo = set_bits(r.lo, kVectorHi, kVectorLo, vector);
  r.lo = x2apic ? set_bits(r.lo, kDestHi, kDestLo, destination)
                : set_bits(r.lo, kXapicDestHi, kXapicDestLo, destination & 0xFF);
  r.hi = source_fields(sid, svt, sq);
  return r;
}

Raw encode_posted(uint8_t vector, uint64_t pda, bool urgent, uint16_t sid, SourceValidation svt,
                  uint8_t sq, bool fpd) {
  Raw r;
  r.lo = set_bit(r.lo, kPresent, true);
  r.lo = set_bit(r.lo, kFpd, fpd);
  r.lo = set_bit(r.lo, kUrg, urgent);
  r.lo = set_bit(r.lo, kIm, true);
  r.lo = set_bits(r.lo, kVectorHi, kVectorLo, vector);
  r.lo = set_bits(r.lo, kPdaLowHi, kPdaLowLo, (pda >> 6) & 0x3FFFFFF);
  r.hi = source_fields(sid, svt, sq) | set_bits(0, kPdaHighHi, kPdaHighLo, pda >> 32);
  return r;
}

bool source_id_ok(const Entry& e, uint16_t rid) {
  switch (e.svt) {
    case SourceValidation::None:
      return true;
    case SourceValidation::RequesterId: {
      // SQ 1/2/3 leave out function bit 2, bits 2:1, bits 2:0 from the comparison.
      static constexpr uint16_t kIgnore[4] = {0x0, 0x4, 0x6, 0x7};
      const uint16_t mask = static_cast<uint16_t>(~kIgnore[e.sq & 3]);
      return (rid & mask) == (e.sid & mask);
    }
    case SourceValidation::BusRange: {
      const unsigned bus = rid >> 8, first = e.sid >> 8, last = e.sid & 0xFF;
      return bus >= first && bus <= last;
    }
    default:
      return false;
  }
}

PostedUpdate post_interrupt(uint64_t pid[8], uint8_t vector, bool urgent, bool x2apic) {
  PostedUpdate u;
  uint64_t& ctl = pid[kPidControl];
  if ((ctl & kPidControlReserved) || (!x2apic && (ctl & kPidXapicNdstReserved)) || pid[5] ||
      pid[6] || pid[7]) {
    u.reserved = true;
    return u;
  }
  pid[vector >> 6] |= 1ULL << (vector & 63);
  const bool on = get_bit(ctl, kPidOn), sn = get_bit(ctl, kPidSn);
  u.notify = !on && (urgent || !sn);
  if (u.notify) ctl = set_bit(ctl, kPidOn, true);
  u.nv = static_cast<uint8_t>(get_bits(ctl, kPidNvHi, kPidNvLo));
  u.ndst = static_cast<uint32_t>(x2apic ? get_bits(ctl, kPidNdstHi, kPidNdstLo)
                                        : get_bits(ctl, kPidXapicNdstHi, kPidXapicNdstLo));
  return u;
}

uint64_t make_pid_control(uint8_t nv, uint32_t ndst, bool x2apic, bool on, bool sn) {
  uint64_t c = 0;
  c = set_bit(c, kPidOn, on);
  c = set_bit(c, kPidSn, sn);
  c = set_bits(c, kPidNvHi, kPidNvLo, nv);
  return x2apic ? set_bits(c, kPidNdstHi, kPidNdstLo, ndst)
                : set_bits(c, kPidXapicNdstHi, kPidXapicNdstLo, ndst & 0xFF);
}

}  // namespace irte
}  // namespace iommu_sim
