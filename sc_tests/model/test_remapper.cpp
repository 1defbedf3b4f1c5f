// DMA remapper: registers, decoding of hand-built and builder-built tables, superpages, faults.
#include <catch2/catch.hpp>

#include "test_remapper_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
namespace fmt = iommu_sim::vtd;

namespace {
const uint16_t kRid = make_requester_id(0, 2, 0);  // 00:02.0
const uint64_t kIova = 0x12345000;

IommuConfig five_level_config() {
  IommuConfig c;
  c.address_width = 57;
  c.supported_levels = {3, 4, 5};
  return c;
}

// Maps kIova to kData in `domain` for kRid, enables translation.
void simple_setup(RemapperTb& tb, unsigned levels = 4, bool read = true, bool write = true,
                  bool fpd = false) {
  tb.start();
  tb.tables.set_context(kRid, 1, levels, TranslationType::Untranslated, fpd);
  tb.tables.map(1, kIova, kData, 0x1000, read, write);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
}

// Runs a faulting DMA and checks the record in FRCD[slot] and that memory was not written.
// FSTS.FRI names the first pending record: 0 while the records fill up from 0 unserviced.
void expect_fault(RemapperTb& tb, uint16_t rid, uint64_t iova, bool write, uint8_t reason,
                  unsigned slot = 0, AddressType at = AddressType::Untranslated,
                  unsigned first_pending = 0) {
  uint64_t v = 0xDEADBEEFCAFEF00DULL;
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  const uint64_t writes_before = static_cast<uint64_t>(tb.stats.value("tb.mem.writes"));
  char name[32];
  std::snprintf(name, sizeof name, "faults.reason_0x%X", reason);
  const double count_before = tb.stat(name);
  CHECK(tb.access(rid, iova, &v, 8, write, d, at) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.stats.value("tb.mem.writes") == writes_before);  // a faulting write writes nothing
  const uint64_t hi = tb.frcd_hi(slot);
  CHECK(get_bit(hi, fmt::kFrcdF));
  CHECK(get_bits(hi, fmt::kFrcdFrHi, fmt::kFrcdFrLo) == reason);
  CHECK(get_bits(hi, fmt::kFrcdSidHi, fmt::kFrcdSidLo) == rid);
  CHECK(get_bit(hi, fmt::kFrcdT) == !write);
  CHECK(tb.frcd_lo(slot) == (iova & ~0xFFFULL));
  const uint32_t fsts = static_cast<uint32_t>(tb.reg_read(fmt::kRegFsts, 4));
  CHECK((fsts & fmt::kFstsPpf) != 0);
  CHECK(get_bits(fsts, fmt::kFstsFriHi, fmt::kFstsFriLo) == first_pending);
  CHECK(tb.stat(name) == count_before + 1);
}
}  // namespace

TEST_CASE("capability registers follow the configuration", "[model]") {
  IommuConfig c;
  c.address_width = 39;
  c.supported_levels = {3};
  c.superpages_1g = false;
  c.fault_records = 4;
  c.domain_bits_nd = 1;
  c.mamv = 6;
  c.pass_through = false;
  RemapperTb tb(c);
  tb.start();
  const uint64_t cap = tb.reg_read(fmt::kRegCap, 8);
  CHECK(tb.reg_read(fmt::kRegVer, 4) == fmt::kVersion);
  CHECK(get_bits(cap, fmt::kCapNdHi, fmt::kCapNdLo) == 1);
  CHECK(get_bits(cap, fmt::kCapSagawHi, fmt::kCapSagawLo) == 0x2);  // AW 1: 3 levels only
  CHECK(get_bits(cap, fmt::kCapMgawHi, fmt::kCapMgawLo) == 38);
  CHECK(get_bits(cap, fmt::kCapFroHi, fmt::kCapFroLo) * 16 == fmt::kRegFrcd);
  CHECK(get_bit(cap, fmt::kCapSllps2M));
  CHECK_FALSE(get_bit(cap, fmt::kCapSllps1G));
  CHECK(get_bit(cap, fmt::kCapPsi));
  CHECK(get_bits(cap, fmt::kCapNfrHi, fmt::kCapNfrLo) == 3);
  CHECK(get_bits(cap, fmt::kCapMamvHi, fmt::kCapMamvLo) == 6);
  const uint64_t ecap = tb.reg_read(fmt::kRegEcap, 8);
  CHECK(get_bit(ecap, fmt::kEcapQi));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapPt));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapIr));
  CHECK(get_bits(ecap, fmt::kEcapIroHi, fmt::kEcapIroLo) * 16 == fmt::kRegIva);
  // The high half of CAP read on its own.
  CHECK(tb.reg_read(fmt::kRegCap + 4, 4) == (cap >> 32));
  CHECK(validate_iommu_config(c).empty());
  c.supported_levels = {4};
  CHECK(validate_iommu_config(c).find("supported_levels") == 0);
}

TEST_CASE("enable sequence sets RTPS and TES and translation starts", "[model]") {
  RemapperTb tb;
  tb.start();
  tb.tables.set_context(kRid, 1, 4, TranslationType::Untranslated);
  tb.tables.map(1, kIova, kData, 0x1000, true, true);
  uint64_t v = 0;
  // Before TE: untranslated, the IOVA is a physical address.
  tb.mem.storage().write64(kIova, 0x1111);
  REQUIRE(tb.read64(kRid, kIova, v) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0x1111);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  const uint32_t gsts = static_cast<uint32_t>(tb.reg_read(fmt::kRegGsts, 4));
  CHECK((gsts & fmt::kGcmdTe) != 0);
  CHECK((gsts & fmt::kGcmdSrtp) != 0);
  CHECK(tb.reg_read(fmt::kRegRtaddr, 8) == tb.tables.root_table());
  tb.mem.storage().write64(kData + 8, 0x2222);
  REQUIRE(tb.read64(kRid, kIova + 8, v) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0x2222);
  REQUIRE(tb.write64(kRid, kIova + 16, 0x3333) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.mem.storage().read64(kData + 16) == 0x3333);
  CHECK(tb.stat("translations") == 2);
  CHECK(tb.stat("walks") == 1);  // the second access hit the IOTLB
  CHECK(tb.stat("iotlb.hits") == 1);
  // root + context + 4 page-table reads
  CHECK(tb.stat("walk_reads") == 6);
  CHECK(tb.stats.find_histogram("tb.iommu.rid.00:02.0.latency") != nullptr);
  CHECK(tb.stats.find_histogram("tb.iommu.dma_latency")->count() == 3);
}

TEST_CASE("hand built 4 level tables decode field by field", "[model]") {
  RemapperTb tb;
  tb.start();
  SparseMemory& m = tb.mem.storage();
  const uint64_t root = 0x100000, ctx = 0x101000, l4 = 0x102000, l3 = 0x103000, l2 = 0x104000,
                 l1 = 0x105000;
  const uint16_t rid = make_requester_id(3, 4, 5);  // bus 3, devfn 0x25
  const uint64_t iova = (5ULL << 39) | (6ULL << 30) | (7ULL << 21) | (8ULL << 12) | 0x18;
  m.write64(root + 3 * 16, ctx | 1);
  m.write64(ctx + 0x25 * 16, l4 | 1);                   // P, TT 0
  m.write64(ctx + 0x25 * 16 + 8, (42ULL << 8) | 2);     // DID 42, AW 2 (4 levels)
  m.write64(l4 + 5 * 8, l3 | 3);
  m.write64(l3 + 6 * 8, l2 | 3);
  m.write64(l2 + 7 * 8, l1 | 1);                        // read only above the leaf
  m.write64(l1 + 8 * 8, 0x777000 | 3);
  m.write64(0x777018, 0xABCD);
  tb.reg_write(fmt::kRegRtaddr, root, 8);
  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdSrtp, 4);
  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdTe, 4);
  uint64_t v = 0;
  REQUIRE(tb.read64(rid, iova, v) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0xABCD);
  // The IOTLB holds the leaf under DID 42 with permissions gathered over the walk.
  const IotlbHit hit = tb.iommu.iotlb().lookup(42, iova >> 12);
  REQUIRE(hit.hit);
  CHECK(hit.entry.pfn == 0x777);
  CHECK(hit.entry.read);
  CHECK_FALSE(hit.entry.write);  // the level-2 entry took write away
  CHECK(hit.entry.size == PageSize::Size4K);
  CHECK(tb.write64(rid, iova, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(get_bits(tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultWrite);
}

TEST_CASE("3 level tables translate and limit the address to 39 bits", "[model]") {
  RemapperTb tb;
  const uint64_t iova = (300ULL << 30) | 0x5000;
  tb.start();
  tb.tables.set_context(kRid, 1, 3, TranslationType::Untranslated);
  tb.tables.map(1, iova, kData, 0x1000, true, true);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  tb.mem.storage().write64(kData, 0x39);
  uint64_t v = 0;
  REQUIRE(tb.read64(kRid, iova, v) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0x39);
  CHECK(tb.stat("walk_reads") == 5);  // root + context + 3 levels
  expect_fault(tb, kRid, 1ULL << 39, false, fmt::kFaultAddressWidth);
}

TEST_CASE("5 level tables translate 57 bit addresses", "[model]") {
  RemapperTb tb(five_level_config());
  const uint64_t iova = (0x1ABULL << 48) | (0x33ULL << 39) | 0x7000;
  tb.start();
  tb.tables.set_context(kRid, 9, 5, TranslationType::Untranslated);
  tb.tables.map(9, iova, kData + 0x3000, 0x1000, true, true);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  REQUIRE(tb.write64(kRid, iova + 0x40, 0x57) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.mem.storage().read64(kData + 0x3040) == 0x57);
  CHECK(tb.stat("walk_reads") == 7);
  // The paging-structure caches now hold levels 5..2: a neighbour page needs only the leaf read.
  tb.tables.map(9, iova + 0x1000, kData + 0x4000, 0x1000, true, true);
  REQUIRE(tb.write64(kRid, iova + 0x1000, 0x58) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.mem.storage().read64(kData + 0x4000) == 0x58);
  CHECK(tb.stat("walk_reads") == 8);
  CHECK(tb.stat("pscache.l2.hits") == 1);
  CHECK(tb.stat("pscache.l5.fills") == 1);
}

TEST_CASE("superpages of 2 MiB and 1 GiB translate", "[model]") {
  RemapperTb tb;
  tb.start();
  tb.tables.set_context(kRid, 1, 4, TranslationType::Untranslated);
  tb.tables.map(1, 0x40000000, 0x80000000, 0x40000000, true, true, PageSize::Size1G);
  tb.tables.map(1, 0x200000, 0x600000, 0x200000, true, false, PageSize::Size2M);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  REQUIRE(tb.write64(kRid, 0x40000000 + 0x12345678, 0x1A) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.mem.storage().read64(0x80000000 + 0x12345678) == 0x1A);
  CHECK(tb.stat("walk_reads") == 2 + 2);  // root, context, L4, L3 leaf
  tb.mem.storage().write64(0x600000 + 0x1FFFF8, 0x2);
  uint64_t v = 0;
  REQUIRE(tb.read64(kRid, 0x200000 + 0x1FFFF8, v) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0x2);
  const IotlbHit big = tb.iommu.iotlb().lookup(1, (0x40000000 + 0x7654321) >> 12);
  REQUIRE(big.hit);
  CHECK(big.entry.size == PageSize::Size1G);
  const IotlbHit mid = tb.iommu.iotlb().lookup(1, 0x300000 >> 12);
  REQUIRE(mid.hit);
  CHECK(mid.entry.size == PageSize::Size2M);
  CHECK(mid.frame(0x300000 >> 12) == (0x700000 >> 12));
  // The 2 MiB page is read-only.
  expect_fault(tb, kRid, 0x200000 + 0x1000, true, fmt::kFaultWrite);
}

TEST_CASE("a superpage size CAP does not offer is a reserved bit fault", "[model]") {
  IommuConfig c;
  c.superpages_1g = false;
  RemapperTb tb(c);
  tb.start();
  tb.tables.set_context(kRid, 1, 4, TranslationType::Untranslated);
  tb.tables.map(1, 0x40000000, 0x80000000, 0x40000000, true, true, PageSize::Size1G);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  expect_fault(tb, kRid, 0x40001000, false, fmt::kFaultPagingReserved);
}

TEST_CASE("fault 0x1 root entry not present", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  expect_fault(tb, make_requester_id(5, 0, 0), kIova, false, fmt::kFaultRootNotPresent);
}

TEST_CASE("fault 0x2 context entry not present", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  expect_fault(tb, make_requester_id(0, 3, 1), kIova, true, fmt::kFaultContextNotPresent);
}

TEST_CASE("fault 0x3 invalid context entry", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint16_t rid = make_requester_id(0, 4, 0);
  tb.tables.set_context(rid, 2, 4, TranslationType::Reserved);
  expect_fault(tb, rid, kIova, false, fmt::kFaultContextInvalid);
  // AW for 5 levels, which SAGAW does not offer here.
  const uint16_t rid2 = make_requester_id(0, 5, 0);
  tb.tables.set_context(rid2, 3, 5, TranslationType::Untranslated);
  expect_fault(tb, rid2, kIova, false, fmt::kFaultContextInvalid, 1);
}

TEST_CASE("fault 0x4 address above the address width", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  expect_fault(tb, kRid, 1ULL << 48, true, fmt::kFaultAddressWidth);
}

TEST_CASE("fault 0x5 write not permitted", "[model]") {
  RemapperTb tb;
  simple_setup(tb, 4, true, false);
  expect_fault(tb, kRid, kIova, true, fmt::kFaultWrite);
  // Not present counts as not permitted too.
  expect_fault(tb, kRid, kIova + 0x1000, true, fmt::kFaultWrite, 1);
}

TEST_CASE("fault 0x6 read not permitted", "[model]") {
  RemapperTb tb;
  simple_setup(tb, 4, false, true);
  expect_fault(tb, kRid, kIova, false, fmt::kFaultRead);
  expect_fault(tb, kRid, kIova + 0x200000, false, fmt::kFaultRead, 1);
}

TEST_CASE("fault 0x7 paging entry access failed", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint64_t l4 = tb.tables.pte_address(1, kIova, 4);
  tb.mem.storage().write64(l4, kOutside | 3);
  expect_fault(tb, kRid, kIova, false, fmt::kFaultPagingAccess);
}

TEST_CASE("fault 0x8 root table access failed", "[model]") {
  RemapperTb tb;
  tb.start();
  tb.reg_write(fmt::kRegRtaddr, kOutside, 8);
  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdSrtp, 4);
  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdTe, 4);
  expect_fault(tb, kRid, kIova, true, fmt::kFaultRootAccess);
}

TEST_CASE("fault 0x9 context table access failed", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  tb.mem.storage().write64(tb.tables.root_entry_address(0), kOutside | 1);
  expect_fault(tb, kRid, kIova, false, fmt::kFaultContextAccess);
}

TEST_CASE("fault 0xA root entry reserved bit", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint64_t re = tb.tables.root_entry_address(0);
  tb.mem.storage().write64(re, tb.mem.storage().read64(re) | (1ULL << 5));
  expect_fault(tb, kRid, kIova, false, fmt::kFaultRootReserved);
}

TEST_CASE("fault 0xB context entry reserved bit", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint64_t ce = tb.tables.context_entry_address(kRid);
  tb.mem.storage().write64(ce + 8, tb.mem.storage().read64(ce + 8) | (1ULL << 30));
  expect_fault(tb, kRid, kIova, false, fmt::kFaultContextReserved);
}

TEST_CASE("fault 0xC paging entry reserved bit", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint64_t pte = tb.tables.pte_address(1, kIova, 1);
  tb.mem.storage().write64(pte, tb.mem.storage().read64(pte) | (1ULL << 50));  // above HAW 48
  expect_fault(tb, kRid, kIova, true, fmt::kFaultPagingReserved);
  // PS in a level-4 entry is reserved.
  const uint64_t l4 = tb.tables.pte_address(1, kIova + (1ULL << 39), 4);
  tb.mem.storage().write64(l4, 0x80000000ULL | (1 << 7) | 3);
  expect_fault(tb, kRid, kIova + (1ULL << 39), false, fmt::kFaultPagingReserved, 1);
}

TEST_CASE("fault 0xD translated request blocked by TT", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  expect_fault(tb, kRid, kIova, false, fmt::kFaultBlockedByTt, 0, AddressType::Translated);
}

TEST_CASE("FPD suppresses recording but still fails the DMA", "[model]") {
  RemapperTb tb;
  simple_setup(tb, 4, true, false, true);
  uint64_t v = 5;
  sc_core::sc_time d;
  CHECK(tb.access(kRid, kIova, &v, 8, true, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK_FALSE(get_bit(tb.frcd_hi(0), fmt::kFrcdF));
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsPpf) == 0);
  CHECK(tb.stat("faults") == 1);
  CHECK(tb.stat("faults_suppressed") == 1);
  CHECK(tb.mem.storage().read64(kData) == 0);
  // A context that cannot be found is recorded whatever FPD says elsewhere.
  expect_fault(tb, make_requester_id(7, 0, 0), kIova, false, fmt::kFaultRootNotPresent);
}

TEST_CASE("fault record overflow sets PFO and drops the fault", "[model]") {
  IommuConfig c;
  c.fault_records = 2;
  RemapperTb tb(c);
  simple_setup(tb);
  uint64_t v;
  for (unsigned i = 1; i <= 3; ++i) CHECK(tb.read64(kRid, kIova + i * 0x1000, v) != tlm::TLM_OK_RESPONSE);
  uint32_t fsts = static_cast<uint32_t>(tb.reg_read(fmt::kRegFsts, 4));
  CHECK((fsts & fmt::kFstsPfo) != 0);
  CHECK(get_bits(fsts, fmt::kFstsFriHi, fmt::kFstsFriLo) == 0);  // wrapped round
  CHECK(tb.frcd_lo(0) == kIova + 0x1000);
  CHECK(tb.frcd_lo(1) == kIova + 0x2000);
  CHECK(tb.stat("fault_overflows") == 1);
  CHECK(tb.stat("faults") == 3);
  // Software clears record 0 and PFO: the next fault lands in record 0.
  tb.reg_write(fmt::kRegFrcd + 12, 0x80000000u, 4);
  tb.reg_write(fmt::kRegFsts, fmt::kFstsPfo, 4);
  CHECK(tb.read64(kRid, kIova + 0x5000, v) != tlm::TLM_OK_RESPONSE);
  CHECK(tb.frcd_lo(0) == kIova + 0x5000);
  fsts = static_cast<uint32_t>(tb.reg_read(fmt::kRegFsts, 4));
  CHECK((fsts & fmt::kFstsPfo) == 0);
  // FRI still names record 0 (PPF never went back to 0): the handler, reading from FRI on as
  // Linux's dmar_fault() does, services record 0 and then record 1.
  CHECK(get_bits(fsts, fmt::kFstsFriHi, fmt::kFstsFriLo) == 0);
  const auto faults = tb.prog.drain_faults();
  REQUIRE(faults.size() == 2);
  CHECK(faults[0].address == kIova + 0x5000);
  CHECK(faults[0].reason == fmt::kFaultRead);
  CHECK(faults[1].address == kIova + 0x2000);
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsPpf) == 0);
}

TEST_CASE("fault event is written to FEADDR unless masked", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  tb.reg_write(fmt::kRegFedata, 0x4041, 4);
  tb.reg_write(fmt::kRegFeaddr, 0xFEE01000, 4);
  CHECK((tb.reg_read(fmt::kRegFectl, 4) & fmt::kCtlIm) != 0);  // masked out of reset
  uint64_t v;
  tb.read64(kRid, kIova + 0x1000, v);
  CHECK(tb.irqs.empty());
  CHECK((tb.reg_read(fmt::kRegFectl, 4) & fmt::kCtlIp) != 0);
  tb.reg_write(fmt::kRegFectl, 0, 4);  // unmask: the pending event goes out
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].addr == 0xFEE01000);
  CHECK(tb.irqs[0].data == 0x4041);
  CHECK((tb.reg_read(fmt::kRegFectl, 4) & fmt::kCtlIp) == 0);
  tb.prog.drain_faults();               // serviced: PPF back to 0
  tb.read64(kRid, kIova + 0x2000, v);  // unmasked: written at once
  REQUIRE(tb.irqs.size() == 2);
  CHECK(tb.irqs[1].data == 0x4041);
  tb.prog.drain_faults();
  tb.reg_write(fmt::kRegFectl, fmt::kCtlIm, 4);
  tb.read64(kRid, kIova + 0x3000, v);
  CHECK(tb.irqs.size() == 2);
  CHECK(tb.stat("fault_events") == 2);
}

TEST_CASE("pass through context and a missing requester ID", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint16_t rid = make_requester_id(0, 6, 0);
  tb.tables.set_context(rid, 3, 4, TranslationType::PassThrough);
  REQUIRE(tb.write64(rid, 0x9000, 0x99) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.mem.storage().read64(0x9000) == 0x99);
  tlm::tlm_generic_payload p;
  uint64_t v = 0;
  sc_core::sc_time d;
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(kIova);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  p.set_data_length(8);
  p.set_streaming_width(8);
  tb.dma->b_transport(p, d);
  CHECK(p.get_response_status() == tlm::TLM_GENERIC_ERROR_RESPONSE);
  CHECK(tb.stat("missing_extension") == 1);
}

TEST_CASE("a DMA across a page boundary is split and checked before writing", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  tb.tables.map(1, kIova + 0x1000, kData + 0x8000, 0x1000, true, true);
  uint8_t buf[32];
  for (unsigned i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i + 1);
  sc_core::sc_time d;
  REQUIRE(tb.access(kRid, kIova + 0xFF0, buf, 32, true, d) == tlm::TLM_OK_RESPONSE);
  CHECK(tb.mem.storage().read64(kData + 0xFF0) == 0x0807060504030201ULL);
  CHECK(tb.mem.storage().read64(kData + 0x8000) == 0x1817161514131211ULL);
  // The next page is not mapped: nothing of the write may land.
  const double writes = tb.stats.value("tb.mem.writes");
  CHECK(tb.access(kRid, kIova + 0x1FF0, buf, 32, true, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.stats.value("tb.mem.writes") == writes);
  CHECK(tb.frcd_lo(0) == kIova + 0x2000);
}

// ---- Fault recording and fault events as Linux's dmar_fault() and QEMU expect ----

namespace {
uint32_t fsts_of(RemapperTb& tb) { return static_cast<uint32_t>(tb.reg_read(fmt::kRegFsts, 4)); }
unsigned fri_of(RemapperTb& tb) {
  return static_cast<unsigned>(get_bits(fsts_of(tb), fmt::kFstsFriHi, fmt::kFstsFriLo));
}
void clear_record(RemapperTb& tb, unsigned i) {
  tb.reg_write(fmt::kRegFrcd + i * fmt::kFrcdSize + 12, 0x80000000u, 4);
}
void unmask_fault_events(RemapperTb& tb) {
  tb.reg_write(fmt::kRegFedata, 0x4041, 4);
  tb.reg_write(fmt::kRegFeaddr, 0xFEE01000, 4);
  tb.reg_write(fmt::kRegFectl, 0, 4);
}
}  // namespace

TEST_CASE("FRI names the first pending fault and is written only when PPF goes from 0 to 1",
          "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  uint64_t v;
  for (unsigned i = 1; i <= 3; ++i) {
    tb.read64(kRid, kIova + i * 0x1000, v);
    CHECK(fri_of(tb) == 0);  // still the first pending record, not the next free one
  }
  // Records 0 and 1 serviced; 2 still pends, so PPF stays set and FRI is not rewritten.
  clear_record(tb, 0);
  clear_record(tb, 1);
  tb.read64(kRid, kIova + 0x4000, v);
  CHECK(get_bit(tb.frcd_hi(3), fmt::kFrcdF));
  CHECK(fri_of(tb) == 0);
  clear_record(tb, 2);
  clear_record(tb, 3);
  CHECK((fsts_of(tb) & fmt::kFstsPpf) == 0);
  // PPF goes from 0 to 1: FRI names the record this fault went into, the fifth.
  tb.read64(kRid, kIova + 0x5000, v);
  CHECK(fri_of(tb) == 4);
  CHECK(tb.frcd_lo(4) == kIova + 0x5000);
  // A handler that starts at FRI and stops at the first record with F clear finds it.
  const auto faults = tb.prog.drain_faults();
  REQUIRE(faults.size() == 1);
  CHECK(faults[0].address == kIova + 0x5000);
}

TEST_CASE("no fault event while an earlier fault is still pending", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  unmask_fault_events(tb);
  uint64_t v;
  tb.read64(kRid, kIova + 0x1000, v);
  CHECK(tb.irqs.size() == 1);
  tb.read64(kRid, kIova + 0x2000, v);  // PPF already set: recorded, no new interrupt condition
  CHECK(tb.irqs.size() == 1);
  CHECK(get_bit(tb.frcd_hi(1), fmt::kFrcdF));
  CHECK(tb.stat("fault_events") == 1);
  REQUIRE(tb.prog.drain_faults().size() == 2);
  tb.read64(kRid, kIova + 0x3000, v);  // serviced: the next fault is an event again
  CHECK(tb.irqs.size() == 2);
  CHECK(tb.stat("fault_events") == 2);
}

TEST_CASE("overflow sets PFO without an event and faults are dropped while PFO is set",
          "[model]") {
  IommuConfig c;
  c.fault_records = 2;
  RemapperTb tb(c);
  simple_setup(tb);
  unmask_fault_events(tb);
  uint64_t v;
  tb.read64(kRid, kIova + 0x1000, v);  // record 0, the event
  tb.read64(kRid, kIova + 0x2000, v);  // record 1
  tb.read64(kRid, kIova + 0x3000, v);  // record 0 is next and still full: overflow
  CHECK((fsts_of(tb) & fmt::kFstsPfo) != 0);
  CHECK(tb.irqs.size() == 1);
  // Record 0 serviced but PFO left set: the next fault is dropped although a record is free.
  clear_record(tb, 0);
  tb.read64(kRid, kIova + 0x4000, v);
  CHECK_FALSE(get_bit(tb.frcd_hi(0), fmt::kFrcdF));
  CHECK(tb.stat("fault_overflows") == 2);
  CHECK(tb.irqs.size() == 1);
  // PFO cleared: recorded again (record 1 still pends, so still no event).
  tb.reg_write(fmt::kRegFsts, fmt::kFstsPfo, 4);
  tb.read64(kRid, kIova + 0x5000, v);
  CHECK(tb.frcd_lo(0) == kIova + 0x5000);
  CHECK(tb.irqs.size() == 1);
}

TEST_CASE("FPD suppresses the qualified context faults 0x2 0x3 and 0xB", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint64_t ce = tb.tables.context_entry_address(kRid);
  auto& mem = tb.mem.storage();
  const uint64_t lo = mem.read64(ce), hi = mem.read64(ce + 8);
  const uint64_t fpd = 1ULL << fmt::kCtxFpd;
  uint64_t v;
  struct Case {
    uint64_t lo, hi;
    uint8_t reason;
  };
  const Case cases[] = {
      {fpd, 0, fmt::kFaultContextNotPresent},                             // P = 0, FPD = 1
      {lo | fpd | (3ULL << fmt::kCtxTtLo), hi, fmt::kFaultContextInvalid},  // TT 3
      {lo | fpd, hi | (1ULL << 40), fmt::kFaultContextReserved},           // reserved bit
  };
  for (const Case& k : cases) {
    mem.write64(ce, k.lo);
    mem.write64(ce + 8, k.hi);
    tb.prog.invalidate_context_register(fmt::InvalidationScope::Global);
    char name[32];
    std::snprintf(name, sizeof name, "faults.reason_0x%X", k.reason);
    CHECK(tb.read64(kRid, kIova, v) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(tb.stat(name) == 1);
    CHECK_FALSE(get_bit(tb.frcd_hi(0), fmt::kFrcdF));
  }
  CHECK(tb.stat("faults_suppressed") == 3);
  // The same entries without FPD are recorded.
  mem.write64(ce, 0);
  tb.prog.invalidate_context_register(fmt::InvalidationScope::Global);
  expect_fault(tb, kRid, kIova, false, fmt::kFaultContextNotPresent);
}

TEST_CASE("SNP (bit 11) and TM (bit 62) are reserved without snoop control and device TLBs",
          "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  uint64_t v;
  CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegEcap, 8), 7));               // ECAP.SC
  CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapDt));
  auto& mem = tb.mem.storage();
  const uint64_t leaf = tb.tables.pte_address(1, kIova, 1);
  mem.write64(leaf, mem.read64(leaf) | (1ULL << fmt::kPteSnoop));
  expect_fault(tb, kRid, kIova, false, fmt::kFaultPagingReserved);
  clear_record(tb, 0);
  mem.write64(leaf, (mem.read64(leaf) & ~(1ULL << fmt::kPteSnoop)) | (1ULL << 62));
  tb.prog.invalidate_iotlb_register(fmt::InvalidationScope::Global);
  expect_fault(tb, kRid, kIova, true, fmt::kFaultPagingReserved, 1, AddressType::Untranslated, 1);
  // In a non-leaf entry too; bits 61:52 and 63 stay ignored.
  tb.prog.drain_faults();
  mem.write64(leaf, mem.read64(leaf) & ~(1ULL << 62));
  const uint64_t l2 = tb.tables.pte_address(1, kIova, 2);
  mem.write64(l2, mem.read64(l2) | (1ULL << 63) | (0x3FFULL << 52));
  tb.prog.invalidate_iotlb_register(fmt::InvalidationScope::Global);
  CHECK(tb.read64(kRid, kIova, v) == tlm::TLM_OK_RESPONSE);
  mem.write64(l2, mem.read64(l2) | (1ULL << fmt::kPteSnoop));
  tb.prog.invalidate_iotlb_register(fmt::InvalidationScope::Global);
  expect_fault(tb, kRid, kIova, false, fmt::kFaultPagingReserved, 2, AddressType::Untranslated, 2);
}

// A request whose last byte lies past 2^64 wraps to address 0: it is above every address width,
// whatever its wrapped last byte says, and nothing of it may reach memory.
TEST_CASE("a translated request that wraps past 2^64 is an address-width fault", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  // The two pages the wrapped halves would otherwise reach through the table's top and bottom
  // entries: the top page of the 48-bit space, and IOVA 0.
  tb.tables.map(1, 0xFFFFFFFFF000ULL, kData + 0x10000, 0x1000, true, true);
  tb.tables.map(1, 0, kData + 0x20000, 0x1000, true, true);
  uint8_t buf[128];
  std::memset(buf, 0xAB, sizeof buf);
  sc_core::sc_time d;
  const double writes = tb.stats.value("tb.mem.writes");
  CHECK(tb.access(kRid, 0xFFFFFFFFFFFFFFC0ULL, buf, 128, true, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.stats.value("tb.mem.writes") == writes);
  CHECK(tb.mem.storage().read64(kData + 0x10FC0) == 0);
  CHECK(tb.mem.storage().read64(kData + 0x20000) == 0);
  CHECK(get_bits(tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultAddressWidth);
  CHECK(tb.frcd_lo(0) == 0xFFFFFFFFFFFFF000ULL);
  // The debug path refuses it too.
  tlm::tlm_generic_payload p;
  PcieExtension ext(kRid, AddressType::Untranslated);
  p.set_extension(&ext);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(0xFFFFFFFFFFFFFFC0ULL);
  p.set_data_ptr(buf);
  p.set_data_length(128);
  p.set_streaming_width(128);
  CHECK(tb.dma->transport_dbg(p) == 0);
  p.clear_extension(&ext);
}

TEST_CASE("a pass-through request that wraps past 2^64 is an address-width fault", "[model]") {
  RemapperTb tb;
  simple_setup(tb);
  const uint16_t rid = make_requester_id(0, 6, 0);
  tb.tables.set_context(rid, 3, 4, TranslationType::PassThrough);
  uint8_t buf[128];
  std::memset(buf, 0xAB, sizeof buf);
  sc_core::sc_time d;
  const double writes = tb.stats.value("tb.mem.writes");
  CHECK(tb.access(rid, 0xFFFFFFFFFFFFFFC0ULL, buf, 128, true, d) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.stats.value("tb.mem.writes") == writes);
  CHECK(tb.mem.storage().read64(0) == 0);
  CHECK(tb.mem.storage().read64(0x38) == 0);
  CHECK(get_bits(tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultAddressWidth);
}

TEST_CASE("with translation off a request that wraps past 2^64 is refused", "[model]") {
  RemapperTb tb;
  tb.start();
  uint8_t buf[128];
  std::memset(buf, 0xAB, sizeof buf);
  sc_core::sc_time d;
  CHECK(tb.access(make_requester_id(0, 2, 0), 0xFFFFFFFFFFFFFFC0ULL, buf, 128, true, d) ==
        tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.mem.storage().read64(0) == 0);
}

TEST_CASE("the table builder refuses a range above its table's width", "[model]") {
  RemapperTb tb;
  tb.start();
  tb.tables.create_domain(1, 4);
  CHECK_THROWS_AS(tb.tables.map(1, 1ULL << 48, kData, 0x1000, true, true), std::invalid_argument);
  CHECK_THROWS_AS(tb.tables.map(1, 0xFFFFFFFFFFFFF000ULL, kData, 0x2000, true, true), std::invalid_argument);
  CHECK_NOTHROW(tb.tables.map(1, (1ULL << 48) - 0x1000, kData, 0x1000, true, true));
}
