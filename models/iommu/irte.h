// Interrupt-remapping formats (VT-d): the MSI address and data of interrupt requests, the
// 128-bit interrupt-remapping table entry (remapped and posted formats), the source-ID check and
// the 64-byte posted-interrupt descriptor with its update rule. The one definition shared by the
// hardware model (InterruptRemapper) and the host software that builds the table. Plain C++.
#pragma once

#include <cstdint>

#include "iommu_sim/common/bits.h"

namespace iommu_sim {
namespace irte {

// ---- The interrupt window ----
constexpr uint64_t kWindowBase = 0xFEE00000;
constexpr uint64_t kWindowSize = 0x100000;
constexpr uint64_t kWindowLast = kWindowBase + kWindowSize - 1;
constexpr bool touches_window(uint64_t first, uint64_t last) {
  return first <= kWindowLast && last >= kWindowBase;
}

// ---- MSI address and data ----
// Compatibility format: destination ID 19:12, RH 3, DM 2. Data: vector 7:0, delivery mode 10:8,
// level 14, trigger mode 15.
constexpr unsigned kMsiDestLo = 12, kMsiDestHi = 19;
constexpr unsigned kMsiRh = 3, kMsiDm = 2;
constexpr unsigned kMsiDataVectorLo = 0, kMsiDataVectorHi = 7;
constexpr unsigned kMsiDataDlmLo = 8, kMsiDataDlmHi = 10;
constexpr unsigned kMsiDataLevel = 14;  // 1 = asserted
constexpr unsigned kMsiDataTm = 15;
// Remappable format: handle[14:0] 19:5, format 4 (1 = remappable), SHV 3, handle[15] 2.
constexpr unsigned kMsiHandleLo = 5, kMsiHandleHi = 19;
constexpr unsigned kMsiFormat = 4, kMsiShv = 3, kMsiHandle15 = 2;

constexpr bool is_remappable(uint64_t address) { return get_bit(address, kMsiFormat); }

constexpr uint32_t make_remappable_address(uint16_t handle, bool shv) {
  return static_cast<uint32_t>(kWindowBase | (uint64_t(handle & 0x7FFF) << kMsiHandleLo) |
                               (1ULL << kMsiFormat) | (uint64_t(shv) << kMsiShv) |
                               (uint64_t(handle >> 15) << kMsiHandle15));
}
// A compatibility-format (or remapped, delivered) message to an xAPIC destination.
constexpr uint32_t make_compat_address(uint8_t dest, bool dm = false, bool rh = false) {
  return static_cast<uint32_t>(kWindowBase | (uint64_t(dest) << kMsiDestLo) |
                               (uint64_t(rh) << kMsiRh) | (uint64_t(dm) << kMsiDm));
}
constexpr uint32_t make_msi_data(uint8_t vector, unsigned dlm = 0, bool level_trigger = false) {
  return vector | ((dlm & 7u) << kMsiDataDlmLo) | (uint32_t(level_trigger) << kMsiDataTm);
}

// ---- IRTA ----
constexpr unsigned kIrtaEime = 11;
constexpr unsigned kIrtaSLo = 0, kIrtaSHi = 3;
constexpr uint64_t kIrtaMask = ~0xFFFULL | (1ULL << kIrtaEime) | bit_mask(kIrtaSHi, kIrtaSLo);
constexpr uint32_t irta_entries(uint64_t irta) {
  return 1u << (get_bits(irta, kIrtaSHi, kIrtaSLo) + 1);
}

// ---- Fault reasons (interrupt remapping) ----
enum FaultReason : uint8_t {
  kFaultRequestReserved = 0x20,  // reserved field set in the interrupt request
  kFaultIndexBeyondTable = 0x21,
  kFaultNotPresent = 0x22,
  kFaultTableAccess = 0x23,
  kFaultEntryReserved = 0x24,    // reserved field set in the IRTE or posted descriptor
  kFaultCompatBlocked = 0x25,
  kFaultSourceId = 0x26,
};
constexpr unsigned kFirstFaultReason = 0x20, kLastFaultReason = 0x26;

// ---- IRTE (two qwords) ----
constexpr unsigned kPresent = 0, kFpd = 1, kDm = 2, kRh = 3, kTm = 4;
constexpr unsigned kDlmLo = 5, kDlmHi = 7;
constexpr unsigned kUrg = 14, kIm = 15;
constexpr unsigned kVectorLo = 16, kVectorHi = 23;
constexpr unsigned kDestLo = 32, kDestHi = 63;
constexpr unsigned kXapicDestLo = 40, kXapicDestHi = 47;
constexpr unsigned kPdaLowLo = 38, kPdaLowHi = 63;  // PDA[31:6]
// High qword.
constexpr unsigned kSidLo = 0, kSidHi = 15;
constexpr unsigned kSqLo = 16, kSqHi = 17;
constexpr unsigned kSvtLo = 18, kSvtHi = 19;
constexpr unsigned kPdaHighLo = 32, kPdaHighHi = 63;  // PDA[63:32]
// Reserved bits (AVAIL 11:8 is software's and ignored).
constexpr uint64_t kRemappedLoReserved = bit_mask(14, 12) | bit_mask(31, 24);
constexpr uint64_t kRemappedXapicDestReserved = bit_mask(39, 32) | bit_mask(63, 48);
constexpr uint64_t kRemappedHiReserved = bit_mask(63, 20);
constexpr uint64_t kPostedLoReserved = bit_mask(7, 2) | bit_mask(13, 12) | bit_mask(37, 24);
constexpr uint64_t kPostedHiReserved = bit_mask(31, 20);

enum class SourceValidation : uint8_t { None = 0, RequesterId = 1, BusRange = 2, Reserved = 3 };

struct Entry {
  bool present = false, fpd = false;
  bool posted = false;        // IM: posted format
  bool dest_mode = false;     // DM: 1 = logical
  bool redirection = false;   // RH
  bool level_trigger = false; // TM
  uint8_t delivery_mode = 0;  // DLM
  bool urgent = false;        // URG (posted)
  uint8_t vector = 0;         // the vector, or the virtual vector when posted
  uint32_t destination = 0;   // APIC ID (xAPIC: 8 bits) or x2APIC ID
  uint64_t pda = 0;           // posted-descriptor address (64-byte aligned)
  uint16_t sid = 0;
  uint8_t sq = 0;
  SourceValidation svt = SourceValidation::None;
};

// Decodes an IRTE. Returns 0, or kFaultEntryReserved when a reserved field is set (reserved bits,
// a reserved delivery mode, a PDA above the host address width). Present is checked by the
// caller first: a not-present entry's other fields mean nothing. SVT 3 is not a reserved-field
// fault: source_id_ok() fails it (0x26; VT-d 5.1.4 checks the source ID, per SVT, SID and SQ,
// before it interprets the rest of the entry, and Table 15 names SVT among the fields whose
// programming makes a 26h verification failure).
uint8_t decode_entry(uint64_t lo, uint64_t hi, bool x2apic, unsigned host_address_width,
                     Entry& out);

// Encoders for host software.
struct Raw {
  uint64_t lo = 0, hi = 0;
};
Raw encode_remapped(uint8_t vector, uint32_t destination, bool x2apic, uint16_t sid = 0,
                    SourceValidation svt = SourceValidation::None, uint8_t sq = 0,
                    bool dest_mode = false, unsigned delivery_mode = 0, bool fpd = false);
Raw encode_posted(uint8_t vector, uint64_t pda, bool urgent, uint16_t sid = 0,
                  SourceValidation svt = SourceValidation::None, uint8_t sq = 0, bool fpd = false);

// The source-ID check of an entry against the requester ID of the request (SVT 3, reserved,
// passes no requester).
bool source_id_ok(const Entry& e, uint16_t requester_id);

// ---- Posted-interrupt descriptor (64 bytes, eight qwords) ----
constexpr unsigned kPidBytes = 64;
constexpr unsigned kPidControl = 4;  // qword 4 holds ON, SN, NV and NDST
constexpr unsigned kPidOn = 0, kPidSn = 1;
constexpr unsigned kPidNvLo = 16, kPidNvHi = 23;
constexpr unsigned kPidNdstLo = 32, kPidNdstHi = 63;
constexpr unsigned kPidXapicNdstLo = 40, kPidXapicNdstHi = 47;
constexpr uint64_t kPidControlReserved = bit_mask(15, 2) | bit_mask(31, 24);
constexpr uint64_t kPidXapicNdstReserved = bit_mask(39, 32) | bit_mask(63, 48);

struct PostedUpdate {
  bool reserved = false;  // a reserved field was set: nothing was changed
  bool notify = false;    // send the notification interrupt
  uint8_t nv = 0;         // notification vector
  uint32_t ndst = 0;      // notification destination (APIC ID)
};

// One posted interrupt against the descriptor `pid` (eight qwords, updated in place): set
// PIR[vector]; X = !ON && (urgent || !SN); if X set ON and notify.
PostedUpdate post_interrupt(uint64_t pid[8], uint8_t vector, bool urgent, bool x2apic);

// Host software's view of the control qword.
uint64_t make_pid_control(uint8_t nv, uint32_t ndst, bool x2apic, bool on = false, bool sn = false);
inline bool pir_test(const uint64_t pid[8], uint8_t v) { return (pid[v >> 6] >> (v & 63)) & 1; }

}  // namespace irte
}  // namespace iommu_sim
