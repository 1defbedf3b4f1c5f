// Interrupt remapper: the interrupt window on the upstream path, register handshakes, IRTE
// decoding, source-ID validation, every interrupt-remapping fault reason, the interrupt-entry
// cache and posted interrupts, driven through the IOMMU's sockets.
#include <catch2/catch.hpp>

#include "test_interrupt_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
namespace fmt = iommu_sim::vtd;
using irte::SourceValidation;

namespace {
const uint16_t kDev = make_requester_id(0, 3, 0);    // 00:03.0
const uint16_t kOther = make_requester_id(0, 4, 0);  // 00:04.0

// The fault in FRCD[slot]: reason, source ID and interrupt index.
void expect_fault(InterruptTb& tb, unsigned slot, uint8_t reason, uint16_t sid, uint16_t index) {
  const uint64_t hi = tb.frcd_hi(slot), lo = tb.frcd_lo(slot);
  CHECK(get_bit(hi, fmt::kFrcdF));
  CHECK(get_bits(hi, fmt::kFrcdFrHi, fmt::kFrcdFrLo) == reason);
  CHECK(get_bits(hi, fmt::kFrcdSidHi, fmt::kFrcdSidLo) == sid);
  CHECK_FALSE(get_bit(hi, fmt::kFrcdT));  // a write
  CHECK((lo >> 48) == index);
}
}  // namespace

TEST_CASE("interrupt window writes pass unremapped while remapping is off", "[model]") {
  InterruptTb tb(IommuConfig{});
  tb.start();
  // Translation on with no context for the device: a memory write would fault.
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  CHECK(tb.msi(kDev, 0xFEE01000, 0x41) == tlm::TLM_OK_RESPONSE);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].address == 0xFEE01000);
  CHECK(tb.irqs[0].data == 0x41);
  CHECK(tb.irqs[0].message.kind == InterruptMessage::Kind::Compatibility);
  CHECK(tb.irqs[0].message.source_id == kDev);
  CHECK(tb.stat("faults") == 0);
  CHECK(tb.stats.value("tb.mem.writes") == 0);
}

TEST_CASE("a DMA write into the interrupt window never changes memory", "[model]") {
  InterruptTb tb(IommuConfig{});
  tb.start();
  // Translation off: identity DMA would land on the same physical address.
  uint64_t before = 0x1122334455667788ULL;
  tb.mem.storage().write(0xFEE00100, &before, 8);
  tb.msi(kDev, 0xFEE00100, 0xDEADBEEF, 8);
  CHECK(tb.mem.storage().read64(0xFEE00100) == before);
  CHECK(tb.stats.value("tb.mem.writes") == 0);
  // A read of the window is an error and no DMI is offered over it.
  tlm::tlm_generic_payload p;
  PcieExtension ext(kDev);
  uint64_t r = 0;
  p.set_extension(&ext);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(0xFEE00100);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&r));
  p.set_data_length(8);
  p.set_streaming_width(8);
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  tb.dma->b_transport(p, d);
  CHECK(p.get_response_status() == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  tlm::tlm_dmi dmi;
  p.set_address(0xFEE00000);
  CHECK_FALSE(tb.dma->get_direct_mem_ptr(p, dmi));
  p.clear_extension(&ext);
}

TEST_CASE("with remapping on a wide write into the window is a malformed request", "[model]") {
  InterruptTb tb;
  tb.enable();
  const uint64_t before = 0x1122334455667788ULL;
  tb.mem.storage().write64(0xFEE00100, before);
  const double writes = tb.stats.value("tb.mem.writes");
  CHECK(tb.msi(kDev, 0xFEE00100, 0xDEADBEEF, 8) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.mem.storage().read64(0xFEE00100) == before);
  CHECK(tb.stats.value("tb.mem.writes") == writes);
  expect_fault(tb, 0, irte::kFaultRequestReserved, kDev, 0);
  CHECK(tb.irqs.empty());
}

TEST_CASE("capabilities and the IRTP IRE and CFI handshakes follow the configuration", "[model]") {
  {
    InterruptTb tb(interrupt_config(true, true));
    tb.start();
    CHECK(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapIr));
    CHECK(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapEim));
    CHECK(get_bit(tb.reg_read(fmt::kRegCap, 8), fmt::kCapPi));
    tb.reg_write(fmt::kRegIrta, 0x200000 | (1u << irte::kIrtaEime) | 7, 8);
    CHECK(tb.reg_read(fmt::kRegIrta, 8) == (0x200000 | (1u << irte::kIrtaEime) | 7));
    CHECK_FALSE(tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdSirtp);
    tb.reg_write(fmt::kRegGcmd, fmt::kGcmdSirtp, 4);
    CHECK(tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdSirtp);
    CHECK(tb.iommu.irta() == (0x200000 | (1u << irte::kIrtaEime) | 7));
    tb.reg_write(fmt::kRegGcmd, fmt::kGcmdIre | fmt::kGcmdCfi, 4);
    const uint32_t gsts = static_cast<uint32_t>(tb.reg_read(fmt::kRegGsts, 4));
    CHECK(gsts & fmt::kGcmdIre);
    CHECK(gsts & fmt::kGcmdCfi);
    tb.reg_write(fmt::kRegGcmd, fmt::kGcmdIre, 4);  // CFI dropped
    CHECK_FALSE(tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdCfi);
    CHECK(tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdIre);
  }
}

TEST_CASE("without x2APIC or posting EIME reads zero and CAP.PI is clear", "[model]") {
  {
    InterruptTb tb(interrupt_config(false, false));
    tb.start();
    CHECK(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapIr));
    CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapEim));
    CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegCap, 8), fmt::kCapPi));
    tb.reg_write(fmt::kRegIrta, 0x200000 | (1u << irte::kIrtaEime) | 3, 8);
    CHECK(tb.reg_read(fmt::kRegIrta, 8) == (0x200000 | 3));
  }
}

TEST_CASE("without a remapper IRE and SIRTP cannot be set", "[model]") {
  {
    InterruptTb tb(IommuConfig{});
    tb.start();
    CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapIr));
    tb.reg_write(fmt::kRegGcmd, fmt::kGcmdIre | fmt::kGcmdSirtp, 4);
    CHECK_FALSE(tb.reg_read(fmt::kRegGsts, 4) & (fmt::kGcmdIre | fmt::kGcmdSirtp));
  }
}

TEST_CASE("a remapped interrupt carries the vector destination and mode of its IRTE", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable();
  irt.set_raw(5, irte::encode_remapped(0x61, 0x07, false, kDev, SourceValidation::RequesterId, 0,
                                       true, 1));
  CHECK(tb.remappable(kDev, 5, false, 0xABCD) == tlm::TLM_OK_RESPONSE);  // data ignored without SHV
  REQUIRE(tb.irqs.size() == 1);
  const CapturedInterrupt& c = tb.irqs[0];
  CHECK(c.address == irte::make_compat_address(0x07, true));
  CHECK((c.data & 0xFF) == 0x61);
  CHECK(get_bits(c.data, irte::kMsiDataDlmHi, irte::kMsiDataDlmLo) == 1);
  // The remapped request always says "asserted" in its level field (VT-d 5.1.4), as QEMU sends.
  CHECK(get_bit(c.data, irte::kMsiDataLevel));
  CHECK_FALSE(get_bit(c.data, irte::kMsiDataTm));
  REQUIRE(c.has_message);
  CHECK(c.message.kind == InterruptMessage::Kind::Remapped);
  CHECK(c.message.vector == 0x61);
  CHECK(c.message.destination == 0x07);
  CHECK(c.message.dest_mode);
  CHECK(c.message.index == 5);
  CHECK(tb.stat("ir.remapped") == 1);
}

TEST_CASE("x2APIC mode delivers a 32 bit destination", "[model]") {
  InterruptTb tb(interrupt_config(false, true));
  auto& irt = tb.enable();
  irt.set_remapped(9, 0x33, 0x12345);
  CHECK(tb.remappable(kDev, 9) == tlm::TLM_OK_RESPONSE);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].message.destination == 0x12345);
  // In x2APIC mode (EIME) compatibility format is blocked even with CFI set.
  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdIre | fmt::kGcmdCfi, 4);
  REQUIRE(tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdCfi);
  CHECK(tb.msi(kDev, 0xFEE00000, 0x30) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(tb, 0, irte::kFaultCompatBlocked, kDev, 0);
}

TEST_CASE("the subhandle is added to the handle when SHV is set", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable();
  irt.set_remapped(0x40 + 3, 0x70, 1);
  CHECK(tb.remappable(kDev, 0x40, true, 3) == tlm::TLM_OK_RESPONSE);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].message.vector == 0x70);
  CHECK(tb.irqs[0].message.index == 0x43);
}

TEST_CASE("compatibility format passes with CFI and is blocked without it", "[model]") {
  InterruptTb tb;
  tb.enable(256, true);
  CHECK(tb.msi(kDev, 0xFEE02000, 0x45) == tlm::TLM_OK_RESPONSE);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].address == 0xFEE02000);
  CHECK(tb.stat("ir.compatibility") == 1);

  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdIre, 4);  // clear CFI
  REQUIRE_FALSE(tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdCfi);
  CHECK(tb.msi(kDev, 0xFEE02000, 0x45) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.irqs.size() == 1);
  expect_fault(tb, 0, irte::kFaultCompatBlocked, kDev, 0);
  CHECK(tb.stat("ir.faults.reason_0x25") == 1);
}

namespace {
// A 16-entry table, remapping on, compatibility format blocked; checks after each fault case
// that nothing was delivered and memory was not written by the request.
struct FaultBench {
  InterruptTb tb{interrupt_config(true, false)};
  InterruptTableBuilder& irt = tb.enable(16);
  double writes = tb.stats.value("tb.mem.writes");
  void done(unsigned faults) {
    CHECK(tb.irqs.empty());
    CHECK(tb.stat("ir.blocked") == faults);
    CHECK(tb.stats.value("tb.mem.writes") == writes);
    CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsPpf));
  }
};
}  // namespace

TEST_CASE("fault 0x20 for a subhandle with the data high half set", "[model]") {
  FaultBench f;
  f.irt.set_remapped(2, 0x40, 0);
  CHECK(f.tb.remappable(kDev, 1, true, 0x10001) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x20, kDev, 1);
  f.done(1);
}

TEST_CASE("fault 0x20 for an interrupt request that is not a DWORD", "[model]") {
  FaultBench f;
  CHECK(f.tb.msi(kDev, irte::make_remappable_address(1, false), 0, 2) ==
        tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x20, kDev, 0);
  f.done(1);
}

TEST_CASE("fault 0x21 for an index beyond the table size", "[model]") {
  FaultBench f;
  CHECK(f.tb.remappable(kDev, 16) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x21, kDev, 16);
  CHECK(f.tb.remappable(kDev, 15, true, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);  // 15 + 1
  expect_fault(f.tb, 1, 0x21, kDev, 16);
  CHECK(f.tb.remappable(kDev, 0xFFFF, true, 0xFFFF) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(f.tb.stat("ir.irte_reads") == 0);  // the table is not read
  CHECK(f.tb.stat("ir.faults.reason_0x21") == 3);
  f.done(3);
}

TEST_CASE("fault 0x22 for an entry that is not present", "[model]") {
  FaultBench f;
  CHECK(f.tb.remappable(kDev, 3) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x22, kDev, 3);
  f.done(1);
}

TEST_CASE("fault 0x23 when the table read fails", "[model]") {
  FaultBench f;
  // Point IRTA outside memory and latch it.
  f.tb.reg_write(fmt::kRegIrta, (InterruptTb::kMemSize + 0x1000) | 3, 8);
  f.tb.reg_write(fmt::kRegGcmd, fmt::kGcmdIre | fmt::kGcmdSirtp, 4);
  CHECK(f.tb.remappable(kDev, 4) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x23, kDev, 4);
  f.done(1);
}

TEST_CASE("SVT 3 (reserved) fails the source-id check: fault 0x26, before reserved fields", "[model]") {
  FaultBench f;
  f.irt.set_raw(7, irte::encode_remapped(0x40, 1, false, kDev, SourceValidation::Reserved));
  CHECK(f.tb.remappable(kDev, 7) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, irte::kFaultSourceId, kDev, 7);
  // Reserved bits as well: the source ID is verified first (VT-d 5.1.4).
  irte::Raw r = irte::encode_remapped(0x40, 1, false, kDev, SourceValidation::Reserved);
  r.hi |= 1ULL << 40;
  f.irt.set_raw(8, r);
  CHECK(f.tb.remappable(kDev, 8) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 1, irte::kFaultSourceId, kDev, 8);
  f.done(2);
}

TEST_CASE("fault 0x24 for reserved fields in the entry", "[model]") {
  FaultBench f;
  irte::Raw r = irte::encode_remapped(0x40, 1, false);
  r.hi |= 1ULL << 40;
  f.irt.set_raw(6, r);
  CHECK(f.tb.remappable(kDev, 6) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x24, kDev, 6);
  r = irte::encode_remapped(0x40, 1, false);
  r.lo |= 1ULL << 12;  // bits 14:12
  f.irt.set_raw(7, r);
  CHECK(f.tb.remappable(kDev, 7) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 1, 0x24, kDev, 7);
  r = irte::encode_remapped(0x40, 1, false);
  r.lo |= 1ULL << 33;  // destination bits below the xAPIC ID in xAPIC mode
  f.irt.set_raw(8, r);
  CHECK(f.tb.remappable(kDev, 8) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 2, 0x24, kDev, 8);
  f.irt.set_raw(9, irte::encode_remapped(0x40, 1, false, 0, SourceValidation::None, 0, false, 3));
  CHECK(f.tb.remappable(kDev, 9) == tlm::TLM_ADDRESS_ERROR_RESPONSE);  // reserved delivery mode
  expect_fault(f.tb, 3, 0x24, kDev, 9);
  f.done(4);
}

TEST_CASE("fault 0x25 for compatibility format", "[model]") {
  FaultBench f;
  CHECK(f.tb.msi(kDev, 0xFEE00000, 0x31) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x25, kDev, 0);
  f.done(1);
}

TEST_CASE("fault 0x26 when the source ID check fails", "[model]") {
  FaultBench f;
  f.irt.set_remapped(9, 0x40, 1, kDev, SourceValidation::RequesterId, 0);
  CHECK(f.tb.remappable(kOther, 9) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(f.tb, 0, 0x26, kOther, 9);
  f.done(1);
}

TEST_CASE("FPD in the IRTE keeps its faults out of the fault records", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(16);
  irte::Raw r = irte::encode_remapped(0x40, 1, false, kDev, SourceValidation::RequesterId);
  r.lo = set_bit(r.lo, irte::kFpd, true);
  irt.set_raw(2, r);
  CHECK(tb.remappable(kOther, 2) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK_FALSE(get_bit(tb.frcd_hi(0), fmt::kFrcdF));
  CHECK(tb.stat("ir.faults_suppressed") == 1);
  CHECK(tb.stat("ir.faults.reason_0x26") == 1);
}

TEST_CASE("source ID validation for each SVT and SQ combination", "[model]") {
  struct Case {
    SourceValidation svt;
    uint8_t sq;
    uint16_t sid, rid;
    bool pass;
  };
  const uint16_t base = make_requester_id(2, 5, 0);  // 02:05.0
  const Case cases[] = {
      {SourceValidation::None, 0, base, make_requester_id(9, 9, 7), true},
      {SourceValidation::RequesterId, 0, base, base, true},
      {SourceValidation::RequesterId, 0, base, make_requester_id(2, 5, 1), false},
      {SourceValidation::RequesterId, 1, base, make_requester_id(2, 5, 4), true},   // bit 2 ignored
      {SourceValidation::RequesterId, 1, base, make_requester_id(2, 5, 2), false},
      {SourceValidation::RequesterId, 2, base, make_requester_id(2, 5, 6), true},   // bits 2:1
      {SourceValidation::RequesterId, 2, base, make_requester_id(2, 5, 1), false},
      {SourceValidation::RequesterId, 3, base, make_requester_id(2, 5, 7), true},   // bits 2:0
      {SourceValidation::RequesterId, 3, base, make_requester_id(2, 6, 0), false},
      {SourceValidation::RequesterId, 3, base, make_requester_id(3, 5, 0), false},
      {SourceValidation::BusRange, 0, 0x0204, make_requester_id(2, 0, 0), true},
      {SourceValidation::BusRange, 0, 0x0204, make_requester_id(4, 31, 7), true},
      {SourceValidation::BusRange, 0, 0x0204, make_requester_id(5, 0, 0), false},
      {SourceValidation::BusRange, 0, 0x0204, make_requester_id(1, 0, 0), false},
  };
  InterruptTb tb;
  auto& irt = tb.enable(64);
  unsigned index = 0, faults = 0;
  for (const Case& c : cases) {
    INFO("case " << index);
    irt.set_remapped(index, 0x50, 2, c.sid, c.svt, c.sq);
    const size_t before = tb.irqs.size();
    const auto status = tb.remappable(c.rid, static_cast<uint16_t>(index));
    CHECK((status == tlm::TLM_OK_RESPONSE) == c.pass);
    CHECK(tb.irqs.size() == before + (c.pass ? 1 : 0));
    if (!c.pass) {
      expect_fault(tb, faults, irte::kFaultSourceId, c.rid, static_cast<uint16_t>(index));
      ++faults;
    }
    ++index;
  }
  CHECK(tb.stat("ir.faults.reason_0x26") == faults);
}

TEST_CASE("a forged MSI with another device handle is blocked by the source ID check", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable();
  // The host gave kDev handle 12 and kOther handle 13, each checked against its requester.
  irt.set_remapped(12, 0x60, 1, kDev, SourceValidation::RequesterId);
  irt.set_remapped(13, 0x61, 1, kOther, SourceValidation::RequesterId);
  CHECK(tb.remappable(kOther, 13) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.remappable(kOther, 12) == tlm::TLM_ADDRESS_ERROR_RESPONSE);  // forged
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].message.vector == 0x61);
  expect_fault(tb, 0, irte::kFaultSourceId, kOther, 12);
  // The forgery does not depend on the cache: the entry is now cached and still checked.
  CHECK(tb.remappable(kDev, 12) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.remappable(kOther, 12) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.irqs.size() == 2);
}

namespace {
// Eight cached entries (vector 0x40 + index); then software rewrites entries 2 and 5, which the
// cache keeps serving until they are invalidated.
void fill_and_rewrite(InterruptTb& tb, InterruptTableBuilder& irt) {
  for (unsigned i = 0; i < 8; ++i) irt.set_remapped(i, static_cast<uint8_t>(0x40 + i), 1);
  for (unsigned i = 0; i < 8; ++i) tb.remappable(kDev, static_cast<uint16_t>(i));
  CHECK(tb.stat("iec.misses") == 8);
  CHECK(tb.stat("ir.irte_reads") == 8);
  tb.remappable(kDev, 3);
  CHECK(tb.stat("iec.hits") == 1);
  CHECK(tb.stat("ir.irte_reads") == 8);
  irt.set_remapped(2, 0x92, 1);
  irt.set_remapped(5, 0x95, 1);
  tb.remappable(kDev, 2);
  CHECK(tb.irqs.back().message.vector == 0x42);  // stale
}
}  // namespace

TEST_CASE("IEC index selective invalidation of one entry", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(64);
  fill_and_rewrite(tb, irt);
  tb.prog.submit(fmt::make_iec_desc(true, 2, 0));
  REQUIRE(tb.prog.sync());
  CHECK(tb.iommu.interrupt_remapper().iec_valid_entries() == 7);
  tb.remappable(kDev, 2);
  CHECK(tb.irqs.back().message.vector == 0x92);
  tb.remappable(kDev, 5);
  CHECK(tb.irqs.back().message.vector == 0x45);  // still cached
  CHECK(tb.stat("iec.invalidated_entries") == 1);
}

TEST_CASE("IEC index selective invalidation with a mask covers an aligned block", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(64);
  fill_and_rewrite(tb, irt);
  tb.prog.submit(fmt::make_iec_desc(true, 5, 2));  // entries 4..7
  REQUIRE(tb.prog.sync());
  CHECK(tb.iommu.interrupt_remapper().iec_valid_entries() == 4);
  tb.remappable(kDev, 5);
  CHECK(tb.irqs.back().message.vector == 0x95);
  tb.remappable(kDev, 2);
  CHECK(tb.irqs.back().message.vector == 0x42);  // outside the block: still cached
}

TEST_CASE("IEC global invalidation", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(64);
  fill_and_rewrite(tb, irt);
  tb.prog.submit(fmt::make_iec_desc(false));
  REQUIRE(tb.prog.sync());
  CHECK(tb.iommu.interrupt_remapper().iec_valid_entries() == 0);
  tb.remappable(kDev, 2);
  CHECK(tb.irqs.back().message.vector == 0x92);
  tb.remappable(kDev, 5);
  CHECK(tb.irqs.back().message.vector == 0x95);
}

TEST_CASE("the IEC geometry comes from the configuration and a small cache evicts", "[model]") {
  IommuConfig c = interrupt_config();
  c.interrupt_entry_cache = CacheGeometry{true, 1, 2};
  InterruptTb tb(c);
  auto& irt = tb.enable(16);
  for (unsigned i = 0; i < 3; ++i) irt.set_remapped(i, 0x40, 1);
  tb.remappable(kDev, 0);
  tb.remappable(kDev, 1);
  tb.remappable(kDev, 2);  // evicts 0 (LRU)
  tb.remappable(kDev, 0);
  CHECK(tb.stat("iec.misses") == 4);
  CHECK(tb.stat("iec.evictions") == 2);
  CHECK(tb.stat("iec.hit_rate") == 0.0);
}

TEST_CASE("posted descriptor update for each combination of ON SN and URG", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(16);
  const uint64_t pda = irt.allocate_descriptor(0xF2, 0x03);
  SparseMemory& m = tb.mem.storage();
  irt.set_posted(4, 0x2A, pda, false, kDev, SourceValidation::RequesterId);
  irt.set_posted(5, 0x2A, pda, true, kDev, SourceValidation::RequesterId);
  for (int bits = 0; bits < 8; ++bits) {
    const bool on = bits & 1, sn = bits & 2, urg = bits & 4;
    INFO("ON=" << on << " SN=" << sn << " URG=" << urg);
    m.fill(pda, 0, irte::kPidBytes);
    m.write64(pda + 8 * irte::kPidControl, irte::make_pid_control(0xF2, 0x03, false, on, sn));
    const size_t before = tb.irqs.size();
    CHECK(tb.remappable(kDev, urg ? 5 : 4) == tlm::TLM_OK_RESPONSE);
    const bool expect_notify = !on && (urg || !sn);
    REQUIRE(tb.irqs.size() == before + (expect_notify ? 1 : 0));
    if (expect_notify) {
      const CapturedInterrupt& c = tb.irqs.back();
      CHECK(c.address == irte::make_compat_address(0x03));
      CHECK(c.data == 0xF2);
      CHECK(c.message.kind == InterruptMessage::Kind::Notification);
      CHECK(c.message.pda == pda);
    }
    const uint64_t control = m.read64(pda + 8 * irte::kPidControl);
    CHECK(m.read64(pda) == (1ULL << 0x2A));  // PIR[vector] set in every case
    CHECK(get_bit(control, irte::kPidOn) == (on || expect_notify));
    CHECK(get_bit(control, irte::kPidSn) == sn);  // SN is software's: never changed
    CHECK(get_bits(control, irte::kPidNvHi, irte::kPidNvLo) == 0xF2);
  }
  CHECK(tb.stat("ir.posted") == 8);
  CHECK(tb.stat("ir.notifications") == 3);  // ON=0 with SN=0, or with SN=1 and URG
  CHECK(tb.stat("ir.notifications_suppressed") == 5);
}

TEST_CASE("reserved bits in the posted descriptor block the interrupt", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(16);
  const uint64_t pda = irt.allocate_descriptor(0xF2, 0x01);
  irt.set_posted(3, 0x31, pda, false);
  SparseMemory& m = tb.mem.storage();
  const uint64_t control = irte::make_pid_control(0xF2, 0x01, false);
  struct Corruption {
    unsigned qword;
    uint64_t value;
  };
  const Corruption cases[] = {
      {irte::kPidControl, control | (1ULL << 5)},   // between SN and NV
      {irte::kPidControl, control | (1ULL << 26)},  // above NV
      {irte::kPidControl, control | (1ULL << 33)},  // below the xAPIC destination
      {6, 1},                                       // upper half of the descriptor
  };
  unsigned slot = 0;
  for (const Corruption& c : cases) {
    INFO("qword " << c.qword << " value " << c.value);
    m.fill(pda, 0, irte::kPidBytes);
    m.write64(pda + 8 * irte::kPidControl, control);
    m.write64(pda + 8 * c.qword, c.value);
    CHECK(tb.remappable(kDev, 3) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(tb.irqs.empty());
    CHECK(m.read64(pda) == 0);  // PIR untouched
    CHECK(m.read64(pda + 8 * c.qword) == c.value);
    expect_fault(tb, slot++, irte::kFaultEntryReserved, kDev, 3);
  }
  CHECK(tb.stat("ir.posted") == 0);
}

TEST_CASE("a posted IRTE where CAP.PI is clear is a reserved field", "[model]") {
  InterruptTb tb(interrupt_config(false, false));
  auto& irt = tb.enable(16);
  const uint64_t pda = irt.allocate_descriptor(0xF2, 0x01);
  irt.set_posted(1, 0x31, pda, false);
  CHECK(tb.remappable(kDev, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  expect_fault(tb, 0, irte::kFaultEntryReserved, kDev, 1);
  CHECK(tb.mem.storage().read64(pda) == 0);
}

TEST_CASE("posted interrupts accumulate in the PIR while a notification is outstanding", "[model]") {
  InterruptTb tb;
  auto& irt = tb.enable(16);
  const uint64_t pda = irt.allocate_descriptor(0xF2, 0x01);
  irt.set_posted(1, 0x31, pda, false);
  irt.set_posted(2, 0xC5, pda, false);
  unsigned probes = 0;
  tb.iommu.interrupt_remapper().on_posted = [&](const InterruptRemapper::PostedRecord& r) {
    ++probes;
    CHECK(r.pda == pda);
  };
  tb.remappable(kDev, 1);
  tb.remappable(kDev, 2);
  tb.remappable(kDev, 1);
  CHECK(tb.irqs.size() == 1);  // ON suppresses the rest
  CHECK(probes == 3);
  SparseMemory& m = tb.mem.storage();
  CHECK(m.read64(pda) == (1ULL << 0x31));
  CHECK(m.read64(pda + 24) == (1ULL << (0xC5 - 192)));
  CHECK(tb.stat("ir.notifications_suppressed") == 2);
  CHECK(tb.stat("ir.pid_updates") == 3);
}
