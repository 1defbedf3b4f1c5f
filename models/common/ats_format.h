// PCIe Address Translation Services (ATS) as the IOMMU and the devices exchange it: translation
// completion entries, invalidate request bodies, and the range encoding (the S bit) that both
// use and that the VT-d device-TLB invalidation descriptor (type 0x3) uses too. One definition
// for both sides, since the IOMMU never includes PCIe code and the devices never include the
// IOMMU's. Plain C++ (the TLM names of the completion statuses are in common/pcie_extension.h).
//
// How the messages travel as TLM transactions (every one carries a PcieExtension):
//   translation request   device -> IOMMU: a read, AddressType::TranslationRequest, at the
//                         untranslated address (4 KiB aligned), 8 bytes per translation asked
//                         for (consecutive ranges, each starting where the previous ended). The
//                         completion comes back in the data: one 64-bit little-endian entry per
//                         8 bytes. Response status: TLM_OK_RESPONSE a successful completion,
//                         ats::kUnsupportedRequest (UR) or ats::kCompleterAbort (CA) an
//                         unsuccessful one.
//   translated request    device -> IOMMU: an ordinary read or write, AddressType::Translated,
//                         at the translated (host physical) address.
//   invalidate request    IOMMU -> device, routed by ID: a write of 8 bytes (the body below)
//                         whose PcieExtension names the function (requester_id) and, for the
//                         PASID form, the PASID (with Global Invalidate in the body's bit 0).
//                         The transaction returns once the function has sent its Invalidate
//                         Completion; the annotated delay says when that arrived. A response other than TLM_OK_RESPONSE: no completion came.
#pragma once

#include <cstdint>

#include "iommu_sim/common/bits.h"

namespace iommu_sim {
namespace ats {

// ---- Translation completion data entry (PCIe ATS, one per 8 bytes) ----
constexpr unsigned kCplRead = 0;               // R
constexpr unsigned kCplWrite = 1;              // W
constexpr unsigned kCplUntranslatedOnly = 2;   // U: use untranslated requests for this range
constexpr unsigned kCplExecute = 3;            // Exe
constexpr unsigned kCplPrivileged = 4;         // Priv
constexpr unsigned kCplGlobal = 5;             // Global
constexpr unsigned kCplNonSnooped = 10;        // N
constexpr unsigned kCplSize = 11;              // S: the size is encoded in the address bits
constexpr uint64_t kAddressMask = ~0xFFFULL;   // 63:12 of an entry or an invalidate body

// ---- Invalidate request message body ----
constexpr unsigned kInvSize = 11;              // S, with the same range encoding
constexpr unsigned kInvGlobal = 0;             // Global Invalidate: with a PASID, the range's
                                               // global translations of every PASID too

// ---- Range encoding ----
// A naturally aligned range of 2^log2_bytes bytes (12 <= log2_bytes <= 64) is an address field
// (bits 63:12) and the S bit: S = 0 is 4 KiB at that address; S = 1 sets the address bits
// log2_bytes-2 .. 12 to ones and bit log2_bytes-1 to zero (8 KiB: bit 12 zero; 2 MiB: bits
// 19:12 ones, bit 20 zero). log2_bytes 64 (bits 62:12 ones, bit 63 zero) is every address.
struct Range {
  uint64_t base = 0;       // aligned to the size
  unsigned log2_bytes = 12;
  constexpr bool all() const { return log2_bytes >= 64; }
  constexpr uint64_t bytes() const { return all() ? 0 : 1ULL << log2_bytes; }  // 0: the whole space
  constexpr bool contains(uint64_t addr) const { return all() || (addr >> log2_bytes) == (base >> log2_bytes); }
};

// The address field (bits 63:12, low 12 bits zero) for a range; `size_bit` receives S.
constexpr uint64_t encode_range(const Range& r, bool& size_bit) {
  size_bit = r.log2_bytes > 12;
  if (!size_bit) return r.base & kAddressMask;
  if (r.log2_bytes >= 64) return bit_mask(62, 12);
  const uint64_t ones = r.log2_bytes > 13 ? bit_mask(r.log2_bytes - 2, 12) : 0;
  return ((r.base & ~((1ULL << r.log2_bytes) - 1)) | ones) & kAddressMask;
}

// The range an address field and S bit stand for. All ones in 63:12 (which no size encodes)
// reads as every address too.
constexpr Range decode_range(uint64_t address, bool size_bit) {
  Range r;
  address &= kAddressMask;
  if (!size_bit) {
    r.base = address;
    r.log2_bytes = 12;
    return r;
  }
  unsigned ones = 0;
  while (ones < 52 && ((address >> (12 + ones)) & 1)) ++ones;
  r.log2_bytes = 13 + ones > 64 ? 64 : 13 + ones;
  r.base = r.log2_bytes >= 64 ? 0 : address & ~((1ULL << r.log2_bytes) - 1);
  return r;
}

// One translation as a completion entry gives it.
struct Translation {
  Range range;            // the untranslated range it covers (what the device caches)
  uint64_t phys = 0;      // translated base, aligned like the range
  bool read = false, write = false;
  bool untranslated_only = false;  // U
  bool non_snooped = false;        // N
};

// The completion entry for `t`. Only the translated address and the size travel: the device
// knows the untranslated address it asked for.
constexpr uint64_t encode_completion(const Translation& t) {
  bool s = false;
  const uint64_t addr = encode_range(Range{t.phys, t.range.log2_bytes}, s);
  uint64_t e = addr;
  e = set_bit(e, kCplSize, s);
  e = set_bit(e, kCplRead, t.read);
  e = set_bit(e, kCplWrite, t.write);
  e = set_bit(e, kCplUntranslatedOnly, t.untranslated_only);
  e = set_bit(e, kCplNonSnooped, t.non_snooped);
  return e;
}

// Decodes an entry answering a request for `untranslated` (the address it was asked for).
constexpr Translation decode_completion(uint64_t entry, uint64_t untranslated) {
  Translation t;
  const Range translated = decode_range(entry, get_bit(entry, kCplSize));
  t.phys = translated.base;
  t.range.log2_bytes = translated.log2_bytes;
  t.range.base = translated.all() ? 0 : untranslated & ~((1ULL << translated.log2_bytes) - 1);
  t.read = get_bit(entry, kCplRead);
  t.write = get_bit(entry, kCplWrite);
  t.untranslated_only = get_bit(entry, kCplUntranslatedOnly);
  t.non_snooped = get_bit(entry, kCplNonSnooped);
  return t;
}

// The invalidate request body for a range.
constexpr uint64_t encode_invalidate(const Range& r) {
  bool s = false;
  const uint64_t addr = encode_range(r, s);
  return set_bit(addr, kInvSize, s);
}
constexpr Range decode_invalidate(uint64_t body) { return decode_range(body, get_bit(body, kInvSize)); }

}  // namespace ats
}  // namespace iommu_sim
