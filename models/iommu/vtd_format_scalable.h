// VT-d scalable-mode formats: RTADDR.TTM, the capability bits of scalable mode, scalable-mode
// root and context entries, the PASID directory and PASID table, first-level (IA-32e) paging
// entries, the scalable-mode fault reasons and the PASID-selective invalidation descriptors.
// Shared, like vtd_format.h, by the hardware model and the host software that builds tables.
// Bit numbers count from 0; ranges are hi:lo; a field of a 256- or 512-bit entry is given as
// (qword, bits within it).
#pragma once

#include <cstdint>

#include "iommu_sim/common/bits.h"
#include "iommu_sim/iommu/vtd_format.h"

namespace iommu_sim {
namespace vtd {

// ---- RTADDR.TTM (11:10) ----
enum class TableMode : uint8_t {
  Legacy = 0,    // root/context entries of 128 bits, second-level tables only
  Scalable = 1,  // scalable-mode root/context entries, PASID directory and tables
  Reserved = 2,  // "extended" mode of older revisions: invalid
  AbortDma = 3,  // needs ECAP.ADMS, which this model does not offer: invalid
};

// The version a unit that offers scalable mode reports (VER 3.0: the revision that introduced it).
constexpr uint32_t kVersionScalable = 0x30;

// ---- CAP / ECAP bits of scalable mode ----
constexpr unsigned kCapFl1gp = 56;   // first-level 1 GiB pages
constexpr unsigned kCapFl5lp = 60;   // first-level 5-level paging
constexpr unsigned kEcapSc = 7;      // snoop control (this model never offers it)
constexpr unsigned kEcapNest = 26;   // nested translation
constexpr unsigned kEcapPrs = 29;    // page requests
constexpr unsigned kEcapErs = 30;    // execute requests
constexpr unsigned kEcapSrs = 31;    // supervisor requests
constexpr unsigned kEcapPssLo = 35, kEcapPssHi = 39;  // PASID size supported: bits - 1
constexpr unsigned kEcapPasid = 40;  // requests with PASID
constexpr unsigned kEcapSmts = 43;   // scalable-mode translation
constexpr unsigned kEcapSlads = 45;  // second-level accessed/dirty (SSADS in later revisions)
constexpr unsigned kEcapSlts = 46;   // second-level translation
constexpr unsigned kEcapFlts = 47;   // first-level translation
constexpr unsigned kEcapSmpwc = 48;  // scalable-mode page-walk coherency

// ---- Scalable-mode root entry (128 bits): one per bus ----
// Lower context table (devfn 0-127) in the low qword, upper (devfn 128-255) in the high qword;
// each: present bit 0, table pointer 63:12, 11:1 reserved.
constexpr unsigned kSmRootPresent = 0;
constexpr uint64_t kSmRootReserved = bit_mask(11, 1);

// ---- Scalable-mode context entry (256 bits, 128 per 4 KiB table, indexed by devfn & 0x7F) ----
constexpr unsigned kSmContextBytes = 32;
constexpr unsigned kSmCtxPresent = 0;       // qw0
constexpr unsigned kSmCtxFpd = 1;
constexpr unsigned kSmCtxDte = 2;           // device-TLB enable (needs ECAP.DT)
constexpr unsigned kSmCtxPaside = 3;        // requests with PASID allowed
constexpr unsigned kSmCtxPre = 4;           // page requests (needs ECAP.PRS)
constexpr unsigned kSmCtxPdtsLo = 9, kSmCtxPdtsHi = 11;  // directory: 2^(PDTS+7) entries
constexpr uint64_t kSmCtxReserved0 = bit_mask(8, 5);
constexpr unsigned kSmCtxRidPasidLo = 0, kSmCtxRidPasidHi = 19;  // qw1
constexpr unsigned kSmCtxRidPriv = 20;
constexpr uint64_t kSmCtxReserved1 = bit_mask(63, 21);
// qw2 and qw3 are reserved.

// PASIDs a directory of PDTS covers: 2^(PDTS+7) entries of 64 PASIDs each.
constexpr uint64_t pasids_covered(unsigned pdts) { return 1ULL << (pdts + 7 + 6); }
// The smallest PDTS whose directory covers PASIDs 0..max_pasid.
inline unsigned pdts_for(uint32_t max_pasid) {
  unsigned pdts = 0;
  while (pdts < 7 && pasids_covered(pdts) <= max_pasid) ++pdts;
  return pdts;
}

// ---- PASID directory entry (64 bits) and PASID table entry (512 bits) ----
constexpr unsigned kPasidBits = 20;
constexpr uint32_t kPasidMask = (1u << kPasidBits) - 1;
// Directory index PASID[19:6], table index PASID[5:0]; one table is 64 entries of 64 bytes.
constexpr uint64_t pasid_dir_index(uint32_t pasid) { return pasid >> 6; }
constexpr uint64_t pasid_table_index(uint32_t pasid) { return pasid & 0x3F; }
constexpr unsigned kPasidEntryBytes = 64;
constexpr unsigned kPasidDirPresent = 0, kPasidDirFpd = 1;
constexpr uint64_t kPasidDirReserved = bit_mask(11, 2);

// PASID-granular translation type (qw0 8:6).
enum class Pgtt : uint8_t {
  FirstLevel = 1,
  SecondLevel = 2,
  Nested = 3,
  PassThrough = 4,
};
constexpr unsigned kPePresent = 0, kPeFpd = 1;                  // qw0
constexpr unsigned kPeAwLo = 2, kPeAwHi = 4;                    // second-level depth, as the context AW
constexpr unsigned kPeSlee = 5;                                 // second-level execute (not modelled: ignored)
constexpr unsigned kPePgttLo = 6, kPePgttHi = 8;
constexpr unsigned kPeSlade = 9;                                // second-level A/D (needs ECAP.SLADS)
constexpr uint64_t kPeReserved0 = bit_mask(11, 10);
constexpr unsigned kPeDidLo = 0, kPeDidHi = 15;                 // qw1
constexpr unsigned kPePwsnp = 23;                               // page-walk snoop (needs ECAP.SMPWC)
constexpr unsigned kPePgsnp = 24;                               // page snoop (needs ECAP.SC)
// qw1 22:16 reserved; 63:25 are the memory-type fields (ECAP.MTS), which this model does not
// offer: reserved.
constexpr uint64_t kPeReserved1 = bit_mask(22, 16) | bit_mask(63, 25);
constexpr unsigned kPeSre = 0;                                  // qw2: supervisor requests (ECAP.SRS)
constexpr unsigned kPeEre = 1;                                  // execute requests (ECAP.ERS)
constexpr unsigned kPeFlpmLo = 2, kPeFlpmHi = 3;                // 0: 4-level, 1: 5-level
constexpr unsigned kPeWpe = 4;                                  // write protect for supervisor requests
constexpr unsigned kPeEafe = 7;                                 // extended accessed flag (ECAP.EAFS)
constexpr uint64_t kPeReserved2 = bit_mask(11, 8);
// qw3..qw7: the model defines no field there; reserved.

constexpr unsigned flpm_to_levels(unsigned flpm) { return 4 + flpm; }
constexpr unsigned levels_to_flpm(unsigned levels) { return levels - 4; }

// ---- First-level paging entries (IA-32e format, 8 bytes, 512 per table) ----
constexpr unsigned kFlPresent = 0, kFlRw = 1, kFlUs = 2, kFlPwt = 3, kFlPcd = 4, kFlAccessed = 5,
                   kFlDirty = 6, kFlPs = 7, kFlGlobal = 8, kFlXd = 63;
constexpr unsigned kFlLargePat = 12;  // PAT of a 2 MiB / 1 GiB leaf
// Bits 63:52 are ignored (XD included: execute requests are not modelled), 51:HAW reserved,
// PS reserved in PML5/PML4 entries, and in a large leaf the frame bits below the page size
// (above the PAT bit 12) reserved.
constexpr uint64_t kFlIgnoredHigh = bit_mask(63, 52);

// Second-level accessed/dirty bits, used when the PASID entry's SLADE is set.
constexpr unsigned kSlAccessed = 8, kSlDirty = 9;

// ---- Scalable-mode fault reasons (VT-d 7.1.3; Linux dmar.c dma_remap_sm_fault_reasons) ----
enum ScalableFaultReason : uint8_t {
  kSmFaultRootTable = 0x30,        // RTADDR.TTM reserved or not supported
  kSmFaultPasidInLegacy = 0x31,    // request with PASID while TTM is legacy
  kSmFaultRootAccess = 0x38,
  kSmFaultRootNotPresent = 0x39,
  kSmFaultRootReserved = 0x3A,
  kSmFaultContextAccess = 0x40,
  kSmFaultContextNotPresent = 0x41,
  kSmFaultContextReserved = 0x42,
  kSmFaultContextInvalid = 0x43,
  kSmFaultDteClear = 0x44,         // translation / translated request and DTE = 0
  kSmFaultPasideClear = 0x45,      // request with PASID and PASIDE = 0
  kSmFaultPasidTooLarge = 0x46,    // PASID beyond the directory (PDTS) or the PASID size
  kSmFaultPreClear = 0x47,
  kSmFaultRidPasid = 0x48,         // RID_PASID beyond the directory or the PASID size
  kSmFaultPasidDirAccess = 0x50,
  kSmFaultPasidDirNotPresent = 0x51,
  kSmFaultPasidDirReserved = 0x52,
  kSmFaultPasidAccess = 0x58,
  kSmFaultPasidNotPresent = 0x59,
  kSmFaultPasidReserved = 0x5A,
  kSmFaultPasidInvalid = 0x5B,     // PGTT, AW or FLPM not supported
  kSmFaultEreClear = 0x5C,
  kSmFaultSreClear = 0x5D,         // supervisor request and SRE = 0
  kSmFaultFlAccess = 0x70,         // reading a first-level entry (below the root table) failed
  kSmFaultFlNotPresent = 0x71,
  kSmFaultFlReserved = 0x72,
  kSmFaultFlRootAccess = 0x73,     // FLPTPTR invalid, or reading the root (PML5/PML4) entry failed
  kSmFaultNestedAddress = 0x74,    // a first-level address (table or page) beyond the nested second level's width
  kSmFaultNestedRootRead = 0x75,   // nested: the second level gives no read access to the root table
  kSmFaultNestedTableRead = 0x76,  // nested: ... to a lower first-level table
  kSmFaultNestedTableWrite = 0x77, // nested: ... no write access for an accessed/dirty update
  kSmFaultSlAccess = 0x78,
  kSmFaultSlNotPresent = 0x79,     // second-level entry with R = W = 0
  kSmFaultSlReserved = 0x7A,
  kSmFaultSlPointer = 0x7B,        // SLPTPTR invalid
  kSmFaultNonCanonical = 0x80,
  kSmFaultUserSupervisor = 0x81,   // user request to a supervisor page
  kSmFaultExecute = 0x82,
  kSmFaultAddressWidth = 0x83,     // input address beyond what the translation covers
  kSmFaultSlAddress = 0x84,
  kSmFaultWrite = 0x85,
  kSmFaultRead = 0x86,
  kSmFaultInterruptAddress = 0x87, // output address in the interrupt range
};
constexpr unsigned kMaxScalableFaultReason = 0x90;
// Faults before any FPD could be read are not qualified: root-table faults and failed reads of
// the context entry, the PASID directory entry and the PASID entry. Every other one is recorded
// only when no FPD on the way (context, PASID directory, PASID entry) is set.
constexpr bool is_qualified_scalable_fault(uint8_t reason) {
  return reason != kSmFaultRootTable && reason != kSmFaultRootAccess &&
         reason != kSmFaultRootNotPresent && reason != kSmFaultRootReserved &&
         reason != kSmFaultContextAccess && reason != kSmFaultPasidDirAccess &&
         reason != kSmFaultPasidAccess;
}
// Short name of a scalable-mode fault reason, nullptr for a code this model does not define.
constexpr const char* scalable_fault_reason_name(unsigned reason) {
  switch (reason) {
    case kSmFaultRootTable: return "SM: invalid root table address";
    case kSmFaultPasidInLegacy: return "SM: request with PASID in legacy mode";
    case kSmFaultRootAccess: return "SM: root entry access failed";
    case kSmFaultRootNotPresent: return "SM: root entry not present";
    case kSmFaultRootReserved: return "SM: root entry reserved bit";
    case kSmFaultContextAccess: return "SM: context entry access failed";
    case kSmFaultContextNotPresent: return "SM: context entry not present";
    case kSmFaultContextReserved: return "SM: context entry reserved bit";
    case kSmFaultContextInvalid: return "SM: invalid context entry";
    case kSmFaultDteClear: return "SM: DTE clear";
    case kSmFaultPasideClear: return "SM: PASIDE clear for a request with PASID";
    case kSmFaultPasidTooLarge: return "SM: PASID beyond the directory";
    case kSmFaultPreClear: return "SM: PRE clear";
    case kSmFaultRidPasid: return "SM: RID_PASID invalid";
    case kSmFaultPasidDirAccess: return "SM: PASID directory entry access failed";
    case kSmFaultPasidDirNotPresent: return "SM: PASID directory entry not present";
    case kSmFaultPasidDirReserved: return "SM: PASID directory entry reserved bit";
    case kSmFaultPasidAccess: return "SM: PASID entry access failed";
    case kSmFaultPasidNotPresent: return "SM: PASID entry not present";
    case kSmFaultPasidReserved: return "SM: PASID entry reserved bit";
    case kSmFaultPasidInvalid: return "SM: invalid PASID entry";
    case kSmFaultEreClear: return "SM: ERE clear";
    case kSmFaultSreClear: return "SM: SRE clear for a supervisor request";
    case kSmFaultFlAccess: return "SM: first-level entry access failed";
    case kSmFaultFlNotPresent: return "SM: first-level entry not present";
    case kSmFaultFlReserved: return "SM: first-level entry reserved bit";
    case kSmFaultFlRootAccess: return "SM: first-level root table access failed";
    case kSmFaultNestedAddress: return "SM: first-level address beyond the nested width";
    case kSmFaultNestedRootRead: return "SM: nested: no read access to the first-level root table";
    case kSmFaultNestedTableRead: return "SM: nested: no read access to a first-level table";
    case kSmFaultNestedTableWrite: return "SM: nested: no write access for an A/D update";
    case kSmFaultSlAccess: return "SM: second-level entry access failed";
    case kSmFaultSlNotPresent: return "SM: second-level entry not present";
    case kSmFaultSlReserved: return "SM: second-level entry reserved bit";
    case kSmFaultSlPointer: return "SM: invalid second-level table pointer";
    case kSmFaultNonCanonical: return "SM: non-canonical address";
    case kSmFaultUserSupervisor: return "SM: user request to a supervisor page";
    case kSmFaultExecute: return "SM: no execute permission";
    case kSmFaultAddressWidth: return "SM: address beyond the address width";
    case kSmFaultSlAddress: return "SM: second-level address beyond the width";
    case kSmFaultWrite: return "SM: write not permitted";
    case kSmFaultRead: return "SM: read not permitted";
    case kSmFaultInterruptAddress: return "SM: output address in the interrupt range";
    default: return nullptr;
  }
}

// ---- Invalidation descriptors of scalable mode ----
enum ScalableDescriptorType : uint8_t {
  kDescPasidIotlb = 0x6,   // PASID-based IOTLB
  kDescPasidCache = 0x7,   // PASID cache
  kDescPasidDeviceTlb = 0x8,
};
// Both: DID 31:16, PASID 51:32 of qw0; reserved 8:6, 15:12 and 63:52 (11:9 are the high type bits).
constexpr unsigned kDescPasidLo = 32, kDescPasidHi = 51;
constexpr uint64_t kDescPasidReserved0 = bit_mask(8, 6) | bit_mask(15, 12) | bit_mask(63, 52);
// PASID-based IOTLB granularity (G, 5:4) and qw1: ADDR 63:12, IH 6, AM 5:0, 11:7 reserved.
enum class PasidIotlbScope : uint8_t { Pasid = 2, PasidPage = 3 };
constexpr uint64_t kDescPasidIotlbReserved1 = bit_mask(11, 7);
// PASID-cache granularity (G, 5:4); 2 is reserved.
enum class PasidCacheScope : uint8_t { Domain = 0, Pasid = 1, Global = 3 };

// PASID-based device-TLB invalidation (0x8; VT-d 6.5.2.8, Linux qi_flush_dev_iotlb_pasid(), QEMU
// VTD_INV_DESC_PASID_DEVICE_IOTLB_*): qw0 MIP (the function's Invalidate Queue Depth, 0 = 32)
// 8:4, PFSID 3:0 in 15:12 and 15:4 in 63:52, SID 31:16, PASID 51:32; qw1 the range's address
// field 63:12 and S 11 (the range encoding of descriptor 0x3 and the invalidate request,
// common/ats_format.h), G 0 (Global Invalidate), 10:1 reserved. Not the field places of 0x3: SID
// and the queue depth sit lower, the PASID where 0x3 has its SID.
constexpr unsigned kDescPdevMipLo = 4, kDescPdevMipHi = 8;
constexpr unsigned kDescPdevPfsidLowLo = 12, kDescPdevPfsidLowHi = 15;
constexpr unsigned kDescPdevSidLo = 16, kDescPdevSidHi = 31;
constexpr unsigned kDescPdevPfsidHighLo = 52, kDescPdevPfsidHighHi = 63;
constexpr unsigned kDescPdevS = 11, kDescPdevG = 0;  // qw1
constexpr uint64_t kDescPdevReserved1 = bit_mask(10, 1);

// A descriptor of either width: 128-bit ones use qw[0] and qw[1], the rest is zero.
struct WideDescriptor {
  uint64_t qw[4] = {0, 0, 0, 0};
};
inline WideDescriptor widen(const Descriptor& d) {
  WideDescriptor w;
  w.qw[0] = d.lo;
  w.qw[1] = d.hi;
  return w;
}

inline WideDescriptor make_pasid_iotlb_desc(PasidIotlbScope g, uint16_t did, uint32_t pasid,
                                            uint64_t addr = 0, unsigned am = 0, bool ih = false) {
  WideDescriptor d;
  d.qw[0] = kDescPasidIotlb | (uint64_t(g) << kDescGLo) | (uint64_t(did) << kDescDidLo) |
            (uint64_t(pasid & kPasidMask) << kDescPasidLo);
  d.qw[1] = (addr & kTableAddrMask) | (uint64_t(ih) << kDescIotlbIh) | (am & 0x3F);
  return d;
}
// `range_address` and `size_bit` as ats::encode_range() gives them.
inline WideDescriptor make_pasid_device_tlb_desc(uint16_t sid, uint16_t pfsid, unsigned queue_depth,
                                                 uint32_t pasid, uint64_t range_address, bool size_bit,
                                                 bool global = false) {
  WideDescriptor d;
  d.qw[0] = kDescPasidDeviceTlb | (uint64_t(queue_depth & 0x1F) << kDescPdevMipLo) |
            (uint64_t(pfsid & 0xF) << kDescPdevPfsidLowLo) | (uint64_t(sid) << kDescPdevSidLo) |
            (uint64_t(pasid & kPasidMask) << kDescPasidLo) | (uint64_t(pfsid >> 4) << kDescPdevPfsidHighLo);
  d.qw[1] = (range_address & kTableAddrMask) | (uint64_t(size_bit) << kDescPdevS) |
            (uint64_t(global) << kDescPdevG);
  return d;
}
inline WideDescriptor make_pasid_cache_desc(PasidCacheScope g, uint16_t did = 0, uint32_t pasid = 0) {
  WideDescriptor d;
  d.qw[0] = kDescPasidCache | (uint64_t(g) << kDescGLo) | (uint64_t(did) << kDescDidLo) |
            (uint64_t(pasid & kPasidMask) << kDescPasidLo);
  return d;
}

}  // namespace vtd
}  // namespace iommu_sim
