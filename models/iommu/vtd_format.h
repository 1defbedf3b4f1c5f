// VT-d (legacy mode) register, table and descriptor formats: the one definition shared by the
// hardware model (models/iommu) and the host software that builds tables and programs registers
// (models/host). Plain C++, no SystemC. Bit numbers count from 0; ranges are hi:lo.
#pragma once

#include <cstdint>

#include "iommu_sim/common/bits.h"

namespace iommu_sim {
namespace vtd {

// ---- Register offsets from the remapping unit's MMIO base ----
constexpr uint64_t kRegVer = 0x00;
constexpr uint64_t kRegCap = 0x08;
constexpr uint64_t kRegEcap = 0x10;
constexpr uint64_t kRegGcmd = 0x18;
constexpr uint64_t kRegGsts = 0x1C;
constexpr uint64_t kRegRtaddr = 0x20;
constexpr uint64_t kRegCcmd = 0x28;
constexpr uint64_t kRegFsts = 0x34;
constexpr uint64_t kRegFectl = 0x38;
constexpr uint64_t kRegFedata = 0x3C;
constexpr uint64_t kRegFeaddr = 0x40;
constexpr uint64_t kRegFeuaddr = 0x44;
constexpr uint64_t kRegIqh = 0x80;
constexpr uint64_t kRegIqt = 0x88;
constexpr uint64_t kRegIqa = 0x90;
constexpr uint64_t kRegIcs = 0x9C;
constexpr uint64_t kRegIectl = 0xA0;
constexpr uint64_t kRegIedata = 0xA4;
constexpr uint64_t kRegIeaddr = 0xA8;
constexpr uint64_t kRegIeuaddr = 0xAC;
constexpr uint64_t kRegIqer = 0xB0;
constexpr uint64_t kRegIrta = 0xB8;

// The layout this model uses: IOTLB register group at 0xF0 (ECAP.IRO = 0xF), fault recording
// registers from 0x220 (CAP.FRO = 0x22), 16 bytes per record.
constexpr unsigned kIro = 0xF;
constexpr unsigned kFro = 0x22;
constexpr uint64_t kRegIva = kIro * 16;
constexpr uint64_t kRegIotlb = kIro * 16 + 8;
constexpr uint64_t kRegFrcd = kFro * 16;
constexpr uint64_t kFrcdSize = 16;
constexpr uint64_t register_block_size(unsigned fault_records) {
  return kRegFrcd + kFrcdSize * fault_records;
}

constexpr uint32_t kVersion = 0x10;  // major 1, minor 0: legacy-mode remapping

// ---- CAP ----
constexpr unsigned kCapNdLo = 0, kCapNdHi = 2;
constexpr unsigned kCapSagawLo = 8, kCapSagawHi = 12;  // bit (8 + AW): AW 1/2/3 = 3/4/5 levels
constexpr unsigned kCapMgawLo = 16, kCapMgawHi = 21;   // width - 1
constexpr unsigned kCapFroLo = 24, kCapFroHi = 33;
constexpr unsigned kCapSllps2M = 34, kCapSllps1G = 35;
constexpr unsigned kCapPsi = 39;
constexpr unsigned kCapNfrLo = 40, kCapNfrHi = 47;     // records - 1
constexpr unsigned kCapMamvLo = 48, kCapMamvHi = 53;
constexpr unsigned kCapDwd = 54, kCapDrd = 55;
constexpr unsigned kCapPi = 59;

// ---- ECAP ----
constexpr unsigned kEcapC = 0, kEcapQi = 1, kEcapDt = 2, kEcapIr = 3, kEcapEim = 4, kEcapPt = 6;
constexpr unsigned kEcapIroLo = 8, kEcapIroHi = 17;
constexpr unsigned kEcapMhmvLo = 20, kEcapMhmvHi = 23;

// ---- GCMD / GSTS (same bit positions) ----
constexpr uint32_t kGcmdTe = 1u << 31;
constexpr uint32_t kGcmdSrtp = 1u << 30;
constexpr uint32_t kGcmdSfl = 1u << 29;
constexpr uint32_t kGcmdEafl = 1u << 28;
constexpr uint32_t kGcmdWbf = 1u << 27;
constexpr uint32_t kGcmdQie = 1u << 26;
constexpr uint32_t kGcmdIre = 1u << 25;
constexpr uint32_t kGcmdSirtp = 1u << 24;
constexpr uint32_t kGcmdCfi = 1u << 23;
// Commands that are levels (their status bit follows the command bit) rather than one-shots.
constexpr uint32_t kGcmdLevelBits = kGcmdTe | kGcmdQie | kGcmdIre | kGcmdCfi;

// ---- RTADDR ----
constexpr unsigned kRtaddrTtmLo = 10, kRtaddrTtmHi = 11;  // 00 = legacy tables

// ---- CCMD ----
constexpr unsigned kCcmdIcc = 63;
constexpr unsigned kCcmdCirgLo = 61, kCcmdCirgHi = 62;
constexpr unsigned kCcmdCaigLo = 59, kCcmdCaigHi = 60;
constexpr unsigned kCcmdFmLo = 32, kCcmdFmHi = 33;
constexpr unsigned kCcmdSidLo = 16, kCcmdSidHi = 31;
constexpr unsigned kCcmdDidLo = 0, kCcmdDidHi = 15;

// Invalidation granularities (CCMD.CIRG, IOTLB.IIRG, descriptor G fields).
enum class InvalidationScope : uint8_t { Global = 1, Domain = 2, Selective = 3 };

// ---- IOTLB register and IVA ----
constexpr unsigned kIotlbIvt = 63;
constexpr unsigned kIotlbIirgLo = 60, kIotlbIirgHi = 61;
constexpr unsigned kIotlbIaigLo = 57, kIotlbIaigHi = 58;
constexpr unsigned kIotlbDr = 49, kIotlbDw = 48;
constexpr unsigned kIotlbDidLo = 32, kIotlbDidHi = 47;
constexpr unsigned kIvaIh = 6;
constexpr unsigned kIvaAmLo = 0, kIvaAmHi = 5;

// ---- FSTS / FECTL / ICS / IECTL ----
constexpr uint32_t kFstsPfo = 1u << 0;
constexpr uint32_t kFstsPpf = 1u << 1;
constexpr uint32_t kFstsIqe = 1u << 4;
constexpr uint32_t kFstsIce = 1u << 5;
constexpr uint32_t kFstsIte = 1u << 6;
constexpr unsigned kFstsFriLo = 8, kFstsFriHi = 15;
// The status bits that are interrupt conditions: while any is set, a new one raises no event.
constexpr uint32_t kFstsEventConditions = kFstsPfo | kFstsPpf | kFstsIqe | kFstsIce | kFstsIte;
constexpr uint32_t kCtlIm = 1u << 31;  // FECTL and IECTL: interrupt mask
constexpr uint32_t kCtlIp = 1u << 30;  // FECTL and IECTL: interrupt pending
constexpr uint32_t kIcsIwc = 1u << 0;

// ---- IQA / IQH / IQT ----
constexpr unsigned kIqaDw = 11;
constexpr unsigned kIqaQsLo = 0, kIqaQsHi = 2;
constexpr uint64_t kIqhMask = bit_mask(18, 4);  // the index field of IQH/IQT (bytes, 16-byte units)
// IQER.IQEI (3:0): why FSTS.IQE was set (VT-d 11.4.9.9).
enum QueueErrorInfo : uint8_t {
  kIqeiNone = 0,               // no error (as a return value); in IQER: no details available
  kIqeiTailInvalid = 1,        // IQT beyond the queue
  kIqeiFetchFailed = 2,        // reading the descriptor failed
  kIqeiDescriptorType = 3,     // a type this unit does not process
  kIqeiReservedField = 4,      // a reserved field set in a known type
  kIqeiDescriptorWidth = 5,    // IQA.DW = 1 (256-bit) on a unit without scalable mode
  kIqeiTailMisaligned = 6,     // IQT not on a descriptor boundary
  kIqeiUnavailable = 0x10,     // an error the specification gives no IQEI for (a failed
                               // wait-descriptor status write): IQER reads 0
};
constexpr unsigned kIqerIqeiLo = 0, kIqerIqeiHi = 3;

// ---- FRCD (two qwords) ----
constexpr unsigned kFrcdSidLo = 0, kFrcdSidHi = 15;  // in the high qword
constexpr unsigned kFrcdPp = 31;
constexpr unsigned kFrcdFrLo = 32, kFrcdFrHi = 39;
constexpr unsigned kFrcdPasidLo = 40, kFrcdPasidHi = 59;
constexpr unsigned kFrcdAtLo = 60, kFrcdAtHi = 61;  // address type of the request (with ECAP.DT)
constexpr unsigned kFrcdT = 62;  // 1 = read, 0 = write
constexpr unsigned kFrcdF = 63;

// ---- Fault reasons (DMA remapping, legacy mode) ----
enum FaultReason : uint8_t {
  kFaultNone = 0x0,
  kFaultRootNotPresent = 0x1,
  kFaultContextNotPresent = 0x2,
  kFaultContextInvalid = 0x3,
  kFaultAddressWidth = 0x4,
  kFaultWrite = 0x5,
  kFaultRead = 0x6,
  kFaultPagingAccess = 0x7,
  kFaultRootAccess = 0x8,
  kFaultContextAccess = 0x9,
  kFaultRootReserved = 0xA,
  kFaultContextReserved = 0xB,
  kFaultPagingReserved = 0xC,
  kFaultBlockedByTt = 0xD,
};
constexpr unsigned kMaxDmaFaultReason = 0xD;
// Qualified faults are recorded only when the context entry's FPD is clear; FPD is read from the
// entry whether or not it is present (VT-d 9.3), so a not-present (0x2), invalid (0x3) or
// reserved-bit (0xB) context entry is qualified too. Root-table faults and failed reads of the
// root or context entry happen before any FPD could be read (VT-d 7.1.3, legacy fault table).
constexpr bool is_qualified_fault(uint8_t reason) {
  return reason != kFaultRootNotPresent && reason != kFaultRootAccess &&
         reason != kFaultContextAccess && reason != kFaultRootReserved;
}

// ---- Root and context entries (16 bytes each, 256 per 4 KiB table) ----
constexpr unsigned kEntryPresent = 0;
constexpr uint64_t kTableAddrMask = ~0xFFFULL;  // 63:12 of an entry's low qword
constexpr uint64_t kRootLoReserved = bit_mask(11, 1);
constexpr unsigned kCtxFpd = 1;
constexpr unsigned kCtxTtLo = 2, kCtxTtHi = 3;
constexpr uint64_t kCtxLoReserved = bit_mask(11, 4);
constexpr unsigned kCtxAwLo = 0, kCtxAwHi = 2;       // high qword
constexpr unsigned kCtxDidLo = 8, kCtxDidHi = 23;    // high qword
constexpr uint64_t kCtxHiReserved = bit_mask(63, 24) | (1ULL << 7);

// Context-entry translation type.
enum class TranslationType : uint8_t {
  Untranslated = 0,  // untranslated requests through the second-level table; ATS blocked
  AllowAts = 1,      // also translation requests and translated requests (needs ECAP.DT)
  PassThrough = 2,   // untranslated requests pass unchanged (needs ECAP.PT)
  Reserved = 3,
};

constexpr unsigned levels_to_aw(unsigned levels) { return levels - 2; }
constexpr unsigned aw_to_levels(unsigned aw) { return aw + 2; }
// Input address width a table of `levels` levels covers: 39, 48, 57.
constexpr unsigned levels_to_width(unsigned levels) { return 12 + 9 * levels; }

// ---- Second-level paging entries (8 bytes, 512 per 4 KiB table) ----
constexpr unsigned kPteRead = 0, kPteWrite = 1, kPteSuperpage = 7, kPteSnoop = 11;
constexpr unsigned kPteTransientMapping = 62;
// Bits a second-level entry must keep clear on a unit without snoop control (ECAP.SC = 0: SNP,
// bit 11, reserved) and without device TLBs (ECAP.DT = 0: TM, bit 62, reserved); this model
// offers no snoop control. With device TLBs the specification gives TM a meaning (it comes back
// as U in translation completions), which this model does not carry through its IOTLB: TM stays
// reserved there too (docs/ats.md). Bits 51:HAW come on top.
constexpr uint64_t kPteReserved = (1ULL << kPteSnoop) | (1ULL << kPteTransientMapping);
// Index of iova in the table of level L (1 = leaf table).
constexpr unsigned pte_index(uint64_t iova, unsigned level) {
  return static_cast<unsigned>((iova >> (12 + 9 * (level - 1))) & 0x1FF);
}
// Bytes mapped by one entry of level L (4 KiB, 2 MiB, 1 GiB, ...).
constexpr uint64_t level_span(unsigned level) { return 1ULL << (12 + 9 * (level - 1)); }

// ---- Invalidation queue descriptors ----
enum DescriptorType : uint8_t {
  kDescContextCache = 0x1,
  kDescIotlb = 0x2,
  kDescDeviceTlb = 0x3,
  kDescInterruptEntry = 0x4,
  kDescWait = 0x5,
};
constexpr unsigned kDescTypeLo = 0, kDescTypeHi = 3;
constexpr unsigned kDescTypeHighLo = 9, kDescTypeHighHi = 11;  // extended type bits, must be 0
constexpr unsigned kDescGLo = 4, kDescGHi = 5;
constexpr unsigned kDescDidLo = 16, kDescDidHi = 31;
// context-cache
constexpr unsigned kDescCcSidLo = 32, kDescCcSidHi = 47;
constexpr unsigned kDescCcFmLo = 48, kDescCcFmHi = 49;
constexpr uint64_t kDescCcReserved0 = bit_mask(15, 6) | bit_mask(63, 50);
// IOTLB
constexpr unsigned kDescIotlbDw = 6, kDescIotlbDr = 7;
constexpr uint64_t kDescIotlbReserved0 = bit_mask(15, 8) | bit_mask(63, 32);
constexpr unsigned kDescIotlbIh = 6;               // qw1
constexpr unsigned kDescIotlbAmLo = 0, kDescIotlbAmHi = 5;
constexpr uint64_t kDescIotlbReserved1 = bit_mask(11, 7);
// interrupt entry cache
constexpr unsigned kDescIecG = 4;  // 0 global, 1 index-selective
constexpr unsigned kDescIecImLo = 27, kDescIecImHi = 31;
constexpr unsigned kDescIecIdxLo = 32, kDescIecIdxHi = 47;
constexpr uint64_t kDescIecReserved0 = bit_mask(26, 5) | bit_mask(63, 48);
// device-TLB (ATS) invalidation: the function's source-ID, its PF's (split in two fields), the
// most invalidations it can have pending (MIP, its ATS Invalidate Queue Depth: 0 = 32), and in
// qw1 the address field and S bit of the range (common/ats_format.h)
constexpr unsigned kDescDevTlbPfsidLowLo = 12, kDescDevTlbPfsidLowHi = 15;   // PFSID 3:0
constexpr unsigned kDescDevTlbMipLo = 16, kDescDevTlbMipHi = 20;
constexpr unsigned kDescDevTlbSidLo = 32, kDescDevTlbSidHi = 47;
constexpr unsigned kDescDevTlbPfsidHighLo = 52, kDescDevTlbPfsidHighHi = 63;  // PFSID 15:4
constexpr uint64_t kDescDevTlbReserved0 = bit_mask(8, 4) | bit_mask(31, 21) | bit_mask(51, 48);
constexpr unsigned kDescDevTlbS = 0;  // qw1
constexpr uint64_t kDescDevTlbReserved1 = bit_mask(11, 1);
// wait
constexpr unsigned kDescWaitIf = 4, kDescWaitSw = 5, kDescWaitFn = 6;
constexpr unsigned kDescWaitDataLo = 32, kDescWaitDataHi = 63;
constexpr uint64_t kDescWaitReserved0 = bit_mask(31, 7);
constexpr uint64_t kDescWaitReserved1 = bit_mask(1, 0);

struct Descriptor {
  uint64_t lo = 0, hi = 0;  // the two qwords of a 128-bit descriptor (the only width without scalable mode)
};

constexpr Descriptor make_context_cache_desc(InvalidationScope g, uint16_t did = 0,
                                             uint16_t sid = 0, unsigned fm = 0) {
  return Descriptor{kDescContextCache | (uint64_t(g) << kDescGLo) | (uint64_t(did) << kDescDidLo) |
                        (uint64_t(sid) << kDescCcSidLo) | (uint64_t(fm & 3) << kDescCcFmLo),
                    0};
}
constexpr Descriptor make_iotlb_desc(InvalidationScope g, uint16_t did = 0, uint64_t addr = 0,
                                     unsigned am = 0, bool ih = false, bool drain_reads = true,
                                     bool drain_writes = true) {
  return Descriptor{kDescIotlb | (uint64_t(g) << kDescGLo) | (uint64_t(drain_writes) << kDescIotlbDw) |
                        (uint64_t(drain_reads) << kDescIotlbDr) | (uint64_t(did) << kDescDidLo),
                    (addr & kTableAddrMask) | (uint64_t(ih) << kDescIotlbIh) | (am & 0x3F)};
}
constexpr Descriptor make_iec_desc(bool index_selective, uint16_t index = 0, unsigned im = 0) {
  return Descriptor{kDescInterruptEntry | (uint64_t(index_selective) << kDescIecG) |
                        (uint64_t(im & 0x1F) << kDescIecImLo) | (uint64_t(index) << kDescIecIdxLo),
                    0};
}
// range_address and size_bit: the range as common/ats_format.h encodes it; queue_depth as the
// function's ATS capability reports it (0 = 32; Linux writes 0 for 32 too).
constexpr Descriptor make_device_tlb_desc(uint16_t sid, uint16_t pfsid, unsigned queue_depth,
                                          uint64_t range_address, bool size_bit) {
  return Descriptor{kDescDeviceTlb | (uint64_t(pfsid & 0xF) << kDescDevTlbPfsidLowLo) |
                        (uint64_t(queue_depth & 0x1F) << kDescDevTlbMipLo) |
                        (uint64_t(sid) << kDescDevTlbSidLo) |
                        (uint64_t(pfsid >> 4) << kDescDevTlbPfsidHighLo),
                    (range_address & kTableAddrMask) | (uint64_t(size_bit) << kDescDevTlbS)};
}
constexpr Descriptor make_wait_desc(bool interrupt, bool status_write, uint32_t status = 0,
                                    uint64_t status_addr = 0, bool fence = true) {
  return Descriptor{kDescWait | (uint64_t(interrupt) << kDescWaitIf) |
                        (uint64_t(status_write) << kDescWaitSw) | (uint64_t(fence) << kDescWaitFn) |
                        (uint64_t(status) << kDescWaitDataLo),
                    status_addr & ~3ULL};
}

}  // namespace vtd
}  // namespace iommu_sim
