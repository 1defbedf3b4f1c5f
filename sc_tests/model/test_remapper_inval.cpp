// DMA remapper: invalidation (register and queued), the queue's errors and wait descriptors,
// DMI, walker-slot timing, debug transport, waves and the IOTLB access stream.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "test_remapper_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
namespace fmt = iommu_sim::vtd;
using fmt::InvalidationScope;

namespace {
const uint16_t kRidA = make_requester_id(0, 2, 0);  // domain 1
const uint16_t kRidB = make_requester_id(0, 2, 4);  // domain 1
const uint16_t kRidC = make_requester_id(0, 3, 0);  // domain 2
const uint64_t kIova = 0x10000000;
const uint64_t kOld = kData, kNew = kData + 0x100000;

uint64_t rd(RemapperTb& tb, uint16_t rid, uint64_t iova) {
  uint64_t v = 0;
  REQUIRE(tb.read64(rid, iova, v) == tlm::TLM_OK_RESPONSE);
  return v;
}

// Domains 1 and 2 each map 8 pages at kIova to kOld; memory says which copy was read: page i
// of the old copy holds 0x100 + i, of the new copy 0x200 + i.
void two_domains(RemapperTb& tb) {
  tb.start();
  for (uint64_t i = 0; i < 8; ++i) {
    tb.mem.storage().write64(kOld + i * 0x1000, 0x100 + i);
    tb.mem.storage().write64(kNew + i * 0x1000, 0x200 + i);
  }
  tb.tables.set_context(kRidA, 1, 4, TranslationType::Untranslated);
  tb.tables.set_context(kRidB, 1, 4, TranslationType::Untranslated);
  tb.tables.set_context(kRidC, 2, 4, TranslationType::Untranslated);
  tb.tables.map(1, kIova, kOld, 0x8000, true, true);
  tb.tables.map(2, kIova, kOld, 0x8000, true, true);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  for (uint64_t i = 0; i < 8; ++i) {
    CHECK(rd(tb, kRidA, kIova + i * 0x1000) == 0x100 + i);
    CHECK(rd(tb, kRidC, kIova + i * 0x1000) == 0x100 + i);
  }
  // Software changes the tables without telling the IOMMU yet.
  tb.tables.map(1, kIova, kNew, 0x8000, true, true);
  tb.tables.map(2, kIova, kNew, 0x8000, true, true);
  CHECK(rd(tb, kRidA, kIova) == 0x100);  // stale, from the IOTLB
}

void enable_qi(RemapperTb& tb) {
  const uint64_t queue = tb.tables.allocate_page();
  const uint64_t status = tb.tables.allocate_page();
  REQUIRE(tb.prog.enable_queued_invalidation(queue, 0, status));
}

// Checks the IOTLB granularities; `inval(g, did, addr, am)` performs one invalidation.
template <typename Inval>
void check_iotlb_granularities(RemapperTb& tb, Inval inval) {
  // Pages 0..3 of domain 1 (AM 2 from page 1: the base is aligned down to page 0).
  inval(InvalidationScope::Selective, 1, kIova + 0x1000, 2);
  CHECK(tb.stat("iotlb.invalidated_entries") == 4);
  for (uint64_t i = 0; i < 4; ++i) CHECK(rd(tb, kRidA, kIova + i * 0x1000) == 0x200 + i);
  CHECK(rd(tb, kRidA, kIova + 0x4000) == 0x104);
  CHECK(rd(tb, kRidC, kIova) == 0x100);
  // Domain 1 whole; domain 2 keeps its entries.
  inval(InvalidationScope::Domain, 1, 0, 0);
  CHECK(rd(tb, kRidA, kIova + 0x4000) == 0x204);
  CHECK(rd(tb, kRidC, kIova + 0x4000) == 0x104);
  // Everything.
  inval(InvalidationScope::Global, 0, 0, 0);
  CHECK(rd(tb, kRidC, kIova + 0x4000) == 0x204);
  CHECK(tb.stat("iotlb.invalidations") >= 3);
  CHECK(tb.stat("pscache.l2.invalidations") >= 3);
}

// Moves the three requesters to domain 5 (which maps kIova to kNew) in memory only.
void move_contexts(RemapperTb& tb) {
  tb.tables.map(1, kIova, kOld, 0x8000, true, true);  // domains 1, 2 read the old copy again
  tb.tables.map(2, kIova, kOld, 0x8000, true, true);
  tb.prog.invalidate_iotlb_register(InvalidationScope::Global);
  tb.tables.set_context(kRidA, 5, 4, TranslationType::Untranslated);
  tb.tables.set_context(kRidB, 5, 4, TranslationType::Untranslated);
  tb.tables.set_context(kRidC, 5, 4, TranslationType::Untranslated);
  tb.tables.map(5, kIova, kNew, 0x8000, true, true);
}

template <typename Inval>
void check_context_granularities(RemapperTb& tb, Inval inval) {
  CHECK(rd(tb, kRidB, kIova) == 0x100);  // context cached: still domain 1
  move_contexts(tb);
  CHECK(rd(tb, kRidA, kIova) == 0x100);
  CHECK(rd(tb, kRidB, kIova) == 0x100);
  CHECK(rd(tb, kRidC, kIova) == 0x100);
  // Device 00:02.0 with FM 1 (function bit 2 ignored): 00:02.0 and 00:02.4, not 00:03.0.
  inval(InvalidationScope::Selective, 1, kRidA, 1);
  CHECK(tb.stat("context_cache.invalidated_entries") == 2);
  CHECK(rd(tb, kRidA, kIova) == 0x200);
  CHECK(rd(tb, kRidB, kIova) == 0x200);
  CHECK(rd(tb, kRidC, kIova) == 0x100);
  // Domain 2: 00:03.0 only.
  inval(InvalidationScope::Domain, 2, 0, 0);
  CHECK(rd(tb, kRidC, kIova) == 0x200);
  inval(InvalidationScope::Global, 0, 0, 0);
  CHECK(tb.stat("context_cache.invalidated_entries") == 2 + 1 + 3);
}
}  // namespace

TEST_CASE("register IOTLB invalidation global domain and page with address mask", "[model]") {
  RemapperTb tb;
  two_domains(tb);
  check_iotlb_granularities(tb, [&](InvalidationScope g, uint16_t did, uint64_t addr, unsigned am) {
    CHECK(tb.prog.invalidate_iotlb_register(g, did, addr, am) == static_cast<unsigned>(g));
  });
  // A mask beyond MAMV is refused (IAIG 0).
  CHECK(tb.prog.invalidate_iotlb_register(InvalidationScope::Selective, 1, 0, 10) == 0);
}

TEST_CASE("queued IOTLB invalidation global domain and page with address mask", "[model]") {
  RemapperTb tb;
  two_domains(tb);
  enable_qi(tb);
  check_iotlb_granularities(tb, [&](InvalidationScope g, uint16_t did, uint64_t addr, unsigned am) {
    tb.prog.submit(fmt::make_iotlb_desc(g, did, addr, am));
    CHECK(tb.prog.sync());
  });
  CHECK(tb.reg_read(fmt::kRegIqh, 8) == tb.reg_read(fmt::kRegIqt, 8));
}

TEST_CASE("register context cache invalidation global domain and device with FM", "[model]") {
  RemapperTb tb;
  two_domains(tb);
  check_context_granularities(tb, [&](InvalidationScope g, uint16_t did, uint16_t sid, unsigned fm) {
    CHECK(tb.prog.invalidate_context_register(g, did, sid, fm) == static_cast<unsigned>(g));
  });
}

TEST_CASE("queued context cache invalidation global domain and device with FM", "[model]") {
  RemapperTb tb;
  two_domains(tb);
  enable_qi(tb);
  check_context_granularities(tb, [&](InvalidationScope g, uint16_t did, uint16_t sid, unsigned fm) {
    tb.prog.submit(fmt::make_context_cache_desc(g, did, sid, fm));
    CHECK(tb.prog.sync());
  });
}

// Two domains, the invalidation queue on, fault events unmasked with data 0x77.
static void queue_with_fault_events(RemapperTb& tb) {
  two_domains(tb);
  enable_qi(tb);
  tb.reg_write(fmt::kRegFedata, 0x77, 4);
  tb.reg_write(fmt::kRegFeaddr, 0xFEE00000, 4);
  tb.reg_write(fmt::kRegFectl, 0, 4);
}

TEST_CASE("an unknown descriptor sets IQE and stops the queue at IQH", "[model]") {
  RemapperTb tb;
  queue_with_fault_events(tb);
  tb.prog.submit(fmt::make_iotlb_desc(InvalidationScope::Domain, 1));  // slot 0: fine
  tb.prog.submit(fmt::Descriptor{0x7, 0});                              // slot 1: unknown type
  tb.prog.submit(fmt::make_iotlb_desc(InvalidationScope::Domain, 2));  // slot 2: must wait
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(tb.reg_read(fmt::kRegIqh, 8) == 0x10);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].data == 0x77);
  CHECK(rd(tb, kRidA, kIova) == 0x200);  // slot 0 ran
  CHECK(rd(tb, kRidC, kIova) == 0x100);  // slot 2 did not
  // A reserved bit set is malformed too; software repairs slot 1 and clears IQE: the queue resumes.
  const uint64_t queue = tb.reg_read(fmt::kRegIqa, 8) & ~0xFFFULL;
  const fmt::Descriptor fixed = fmt::make_context_cache_desc(InvalidationScope::Global);
  tb.mem.storage().write64(queue + 0x10, fixed.lo);
  tb.mem.storage().write64(queue + 0x18, fixed.hi);
  tb.reg_write(fmt::kRegFsts, fmt::kFstsIqe, 4);
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) == 0);
  CHECK(tb.reg_read(fmt::kRegIqh, 8) == 0x30);
  CHECK(rd(tb, kRidC, kIova) == 0x200);
  tb.prog.submit(fmt::Descriptor{fmt::kDescWait | (1ULL << 20), 0});  // wait with a reserved bit
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(tb.reg_read(fmt::kRegIqh, 8) == 0x30);
}

TEST_CASE("IQE raises an event only when nothing was pending and IQER says why", "[model]") {
  RemapperTb tb;
  queue_with_fault_events(tb);
  const auto iqei = [&tb] { return get_bits(tb.reg_read(fmt::kRegIqer, 8), fmt::kIqerIqeiHi, fmt::kIqerIqeiLo); };
  // A fault pends (PPF): its own event goes out, the queue error that follows sends none.
  uint64_t v;
  CHECK(tb.read64(make_requester_id(0, 9, 0), kIova, v) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  REQUIRE(tb.irqs.size() == 1);
  tb.prog.submit(fmt::Descriptor{0x7, 0});  // unknown type
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(iqei() == fmt::kIqeiDescriptorType);
  CHECK(tb.irqs.size() == 1);
  // Everything serviced, the slot repaired: a reserved bit in a known type is an event again.
  tb.prog.drain_faults();
  const uint64_t queue = tb.reg_read(fmt::kRegIqa, 8) & ~0xFFFULL;
  const uint64_t head = tb.reg_read(fmt::kRegIqh, 8);
  const fmt::Descriptor fixed = fmt::make_context_cache_desc(InvalidationScope::Global);
  tb.mem.storage().write64(queue + head, fixed.lo);
  tb.mem.storage().write64(queue + head + 8, fixed.hi);
  tb.reg_write(fmt::kRegFsts, fmt::kFstsIqe, 4);
  tb.prog.submit(fmt::Descriptor{fmt::kDescWait | (1ULL << 20), 0});
  CHECK(iqei() == fmt::kIqeiReservedField);
  CHECK(tb.irqs.size() == 2);
  // A tail beyond the queue (one page: 256 descriptors), once the bad slot is repaired.
  const uint64_t bad = tb.reg_read(fmt::kRegIqh, 8);
  tb.mem.storage().write64(queue + bad, fixed.lo);
  tb.mem.storage().write64(queue + bad + 8, fixed.hi);
  tb.reg_write(fmt::kRegFsts, fmt::kFstsIqe, 4);
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) == 0);
  tb.reg_write(fmt::kRegIqt, 0x1000 + 0x10, 8);
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(iqei() == fmt::kIqeiTailInvalid);
}

TEST_CASE("256-bit descriptors need scalable mode: IQA.DW=1 is a queue error", "[model]") {
  RemapperTb tb;
  tb.start();
  const uint64_t queue = tb.tables.allocate_page();
  tb.reg_write(fmt::kRegIqt, 0, 8);
  tb.reg_write(fmt::kRegIqa, queue | (1ULL << fmt::kIqaDw), 8);
  tb.reg_write(fmt::kRegGcmd, fmt::kGcmdQie, 4);
  const fmt::Descriptor d = fmt::make_iotlb_desc(InvalidationScope::Global);
  tb.mem.storage().write64(queue, d.lo);
  tb.mem.storage().write64(queue + 8, d.hi);
  tb.reg_write(fmt::kRegIqt, 0x20, 8);
  CHECK((tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(get_bits(tb.reg_read(fmt::kRegIqer, 8), fmt::kIqerIqeiHi, fmt::kIqerIqeiLo) ==
        fmt::kIqeiDescriptorWidth);
  CHECK(tb.reg_read(fmt::kRegIqh, 8) == 0);
}

TEST_CASE("wait descriptor writes its status and sets ICS IWC", "[model]") {
  RemapperTb tb;
  tb.start();
  enable_qi(tb);
  const uint64_t status = tb.tables.allocate_page();
  tb.reg_write(fmt::kRegIedata, 0x55, 4);
  tb.reg_write(fmt::kRegIeaddr, 0xFEE02000, 4);
  tb.reg_write(fmt::kRegIectl, 0, 4);
  tb.prog.submit(fmt::make_wait_desc(false, true, 0xC0FFEE, status + 8));
  CHECK(tb.mem.storage().read32(status + 8) == 0xC0FFEE);
  CHECK(tb.reg_read(fmt::kRegIcs, 4) == 0);
  CHECK(tb.irqs.empty());
  tb.prog.submit(fmt::make_wait_desc(true, false));
  CHECK(tb.reg_read(fmt::kRegIcs, 4) == fmt::kIcsIwc);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].addr == 0xFEE02000);
  CHECK(tb.irqs[0].data == 0x55);
  // IWC still set: no second event. Cleared and masked: the event waits in IECTL.IP.
  tb.prog.submit(fmt::make_wait_desc(true, false));
  CHECK(tb.irqs.size() == 1);
  tb.reg_write(fmt::kRegIcs, fmt::kIcsIwc, 4);
  CHECK(tb.reg_read(fmt::kRegIcs, 4) == 0);
  tb.reg_write(fmt::kRegIectl, fmt::kCtlIm, 4);
  tb.prog.submit(fmt::make_wait_desc(true, false));
  CHECK(tb.irqs.size() == 1);
  CHECK((tb.reg_read(fmt::kRegIectl, 4) & fmt::kCtlIp) != 0);
  tb.reg_write(fmt::kRegIectl, 0, 4);
  CHECK(tb.irqs.size() == 2);
}

TEST_CASE("interrupt entry cache descriptor calls the hook", "[model]") {
  RemapperTb tb;
  tb.start();
  enable_qi(tb);
  int calls = 0;
  bool sel = false;
  uint16_t index = 0;
  unsigned mask = 0;
  tb.iommu.on_iec_invalidate = [&](bool s, uint16_t i, unsigned m) {
    ++calls;
    sel = s;
    index = i;
    mask = m;
  };
  tb.prog.submit(fmt::make_iec_desc(true, 0x155, 3));
  CHECK(tb.prog.sync());
  CHECK(calls == 1);
  CHECK(sel);
  CHECK(index == 0x155);
  CHECK(mask == 3);
  tb.prog.submit(fmt::make_iec_desc(false));
  CHECK(calls == 2);
  CHECK_FALSE(sel);
}

namespace {
bool get_dmi(RemapperTb& tb, uint16_t rid, uint64_t iova, tlm::tlm_dmi& dmi) {
  tlm::tlm_generic_payload p;
  PcieExtension ext(rid);
  p.set_extension(&ext);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(iova);
  const bool ok = tb.dma->get_direct_mem_ptr(p, dmi);
  p.clear_extension(&ext);
  return ok;
}
}  // namespace

TEST_CASE("DMI is granted for one cached page and revoked on invalidation", "[model]") {
  RemapperTb tb;
  two_domains(tb);
  tb.prog.invalidate_iotlb_register(InvalidationScope::Global);
  tb.tables.map(1, kIova + 0x10000, kOld + 0x10000, 0x1000, true, false);
  tlm::tlm_dmi dmi;
  CHECK_FALSE(get_dmi(tb, kRidA, kIova + 0x10, dmi));  // not in the IOTLB
  rd(tb, kRidA, kIova);
  REQUIRE(get_dmi(tb, kRidA, kIova + 0x10, dmi));
  CHECK(dmi.get_start_address() == kIova);
  CHECK(dmi.get_end_address() == kIova + 0xFFF);
  CHECK(dmi.is_read_write_allowed());
  dmi.get_dmi_ptr()[0x20] = 0x5A;
  CHECK(tb.mem.storage().read32(kNew + 0x20) == 0x5A);
  // A read-only page gives read-only DMI.
  rd(tb, kRidA, kIova + 0x10000);
  tlm::tlm_dmi ro;
  REQUIRE(get_dmi(tb, kRidA, kIova + 0x10000, ro));
  CHECK(ro.is_read_allowed());
  CHECK_FALSE(ro.is_write_allowed());
  // Page-selective invalidation revokes a range covering the page.
  tb.revoked.clear();
  tb.prog.invalidate_iotlb_register(InvalidationScope::Selective, 1, kIova, 0);
  REQUIRE(tb.revoked.size() == 1);
  CHECK(tb.revoked[0].first <= kIova);
  CHECK(tb.revoked[0].second >= kIova + 0xFFF);
  // Domain-selective revokes everything.
  rd(tb, kRidA, kIova);
  REQUIRE(get_dmi(tb, kRidA, kIova, dmi));
  tb.revoked.clear();
  tb.prog.invalidate_iotlb_register(InvalidationScope::Domain, 2);
  REQUIRE(tb.revoked.size() == 1);
  CHECK(tb.revoked[0].first == 0);
  CHECK(tb.revoked[0].second == ~0ULL);
  CHECK(tb.stat("dmi_grants") == 3);
}

namespace {
// Two DMAs to different pages arriving at the same time, as two initiators in one quantum.
// Returns the walker wait added by the two, in ps.
uint64_t two_concurrent_misses(RemapperTb& tb, sc_core::sc_time& d1, sc_core::sc_time& d2) {
  two_domains(tb);
  tb.prog.invalidate_iotlb_register(InvalidationScope::Global);
  tb.prog.invalidate_context_register(InvalidationScope::Global);
  // The set-up above ran at time 0: let every walker slot free up first.
  sc_core::sc_start(sc_core::sc_time(10, sc_core::SC_US));
  uint64_t v;
  d1 = d2 = sc_core::SC_ZERO_TIME;
  const Histogram& wait = *tb.stats.find_histogram("tb.iommu.walker_wait");
  const uint64_t before = wait.sum();
  REQUIRE(tb.access(kRidA, kIova, &v, 8, false, d1) == tlm::TLM_OK_RESPONSE);
  REQUIRE(tb.access(kRidC, kIova + 0x1000, &v, 8, false, d2) == tlm::TLM_OK_RESPONSE);
  return wait.sum() - before;
}
}  // namespace

TEST_CASE("with one walker concurrent misses queue", "[model]") {
  IommuConfig c;
  c.walkers = 1;
  RemapperTb tb(c);
  sc_core::sc_time d1, d2;
  const uint64_t waited = two_concurrent_misses(tb, d1, d2);
  // The second request waits for the first to finish its walk (its memory access does not hold
  // the walker), so it completes later by about one walk.
  CHECK(d2 > d1);
  CHECK(waited > 0);
  CHECK(waited == (d2 - d1).value());
}

TEST_CASE("with two walkers concurrent misses do not queue", "[model]") {
  IommuConfig c;
  c.walkers = 2;
  RemapperTb tb(c);
  sc_core::sc_time d1, d2;
  CHECK(two_concurrent_misses(tb, d1, d2) == 0);
  CHECK(d2 == d1);
}

TEST_CASE("debug transport translates and leaves statistics untouched", "[model]") {
  RemapperTb tb;
  two_domains(tb);
  std::ostringstream before, after;
  tb.stats.write_json(before);
  tlm::tlm_generic_payload p;
  PcieExtension ext(kRidA);
  uint64_t v = 0;
  p.set_extension(&ext);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(kIova + 0x3000);  // walk needed: the IOTLB holds the old mapping
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  p.set_data_length(8);
  p.set_streaming_width(8);
  CHECK(tb.dma->transport_dbg(p) == 8);
  CHECK(v == 0x203);  // the tables as they are now, not the cached copy
  p.set_address(kIova + 0x100000);  // not mapped
  CHECK(tb.dma->transport_dbg(p) == 0);
  p.clear_extension(&ext);
  tb.stats.write_json(after);
  CHECK(before.str() == after.str());
  CHECK(rd(tb, kRidA, kIova + 0x3000) == 0x103);  // the IOTLB was not touched either
}

TEST_CASE("waves and the IOTLB access stream are recorded", "[model]") {
  IommuConfig c;
  c.iotlb_trace_path = "remapper_iotlb_trace.txt";
  VcdWriter vcd;
  vcd.open("remapper_test.vcd");
  RemapperTb tb(c);
  tb.iommu.trace_to(vcd);
  tb.start();
  tb.tables.set_context(kRidA, 1, 4, TranslationType::Untranslated);
  tb.tables.map(1, kIova, kOld, 0x200000, true, true, PageSize::Size2M);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  rd(tb, kRidA, kIova);           // miss, walk, fill
  rd(tb, kRidA, kIova + 0x5000);  // hit in the same 2 MiB page
  uint64_t v;
  CHECK(tb.read64(kRidA, kIova + 0x400000, v) != tlm::TLM_OK_RESPONSE);  // fault, no access
  tb.iommu.flush_trace();
  vcd.close();

  std::ifstream in("remapper_iotlb_trace.txt");
  std::vector<IotlbOp> ops;
  std::string err;
  REQUIRE(read_iotlb_trace(in, ops, err));
  unsigned lookups = 0, fills = 0, accesses = 0, globals = 0;
  for (const IotlbOp& op : ops) {
    lookups += op.kind == IotlbOp::Lookup;
    fills += op.kind == IotlbOp::Fill;
    globals += op.kind == IotlbOp::InvalidateAll;
    if (op.kind == IotlbOp::Access) {
      ++accesses;
      CHECK(op.entry.size == PageSize::Size2M);
      CHECK(op.entry.pfn == (kOld >> 12));
      CHECK(op.entry.domain == 1);
    }
  }
  CHECK(lookups == 3);
  CHECK(fills == 1);
  CHECK(accesses == 2);
  CHECK(globals == 1);  // from the enable sequence

  std::ifstream w("remapper_test.vcd");
  const std::string text((std::istreambuf_iterator<char>(w)), std::istreambuf_iterator<char>());
  for (const char* sig : {"iotlb_lookup", "iotlb_hit", "iotlb_miss", "walks_in_flight",
                          "outstanding", "fault", "last_rid"})
    CHECK(text.find(sig) != std::string::npos);
  CHECK(text.find("#") != std::string::npos);  // some value changes
}
