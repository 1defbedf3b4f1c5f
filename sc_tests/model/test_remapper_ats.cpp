// DMA remapper with device TLBs (PCIe ATS): ECAP.DT and TT=01b, translation completions for each
// page size and each fault, translated requests and the isolation rule, and device-TLB
// invalidation: descriptor 0x3 forwarded to the function, the wait descriptor completing only
// after the function's completion, the queue depth, and a function that never completes.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "ats_functions_tb.h"
#include "iommu_sim/common/ats_format.h"
#include "test_remapper_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
namespace fmt = iommu_sim::vtd;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

const uint16_t kFn = make_requester_id(1, 0, 0);   // TT = 01b, domain 1
const uint16_t kOld = make_requester_id(1, 0, 1);  // TT = 00b, domain 1
const uint64_t kIova = 0x10000000;

// The functions below the root port as the IOMMU's invalidate requests see them.
using Functions = AtsFunctions;

IommuConfig with_device_tlbs() {
  IommuConfig c;
  c.device_tlbs = true;
  return c;
}

struct AtsBench {
  RemapperTb tb{with_device_tlbs()};
  Functions functions{"functions"};

  AtsBench() {
    tb.iommu.ats_invalidation.bind(functions.socket);
    tb.start();
    tb.tables.set_context(kFn, 1, 4, TranslationType::AllowAts);
    tb.tables.set_context(kOld, 1, 4, TranslationType::Untranslated);
    tb.tables.map(1, kIova, kData, 0x4000, true, true);                                  // 4 KiB rw
    tb.tables.map(1, kIova + 0x4000, kData + 0x4000, 0x1000, true, false);               // 4 KiB r
    tb.tables.map(1, 0x40000000, 0x80200000, 0x200000, true, true, PageSize::Size2M);    // 2 MiB
    tb.tables.map(1, 0x80000000, 0xC0000000, 0x40000000, true, false, PageSize::Size1G);  // 1 GiB r
    REQUIRE(tb.prog.enable(tb.tables.root_table()));
  }

  // A translation request for one entry; the entry, or the unsuccessful status.
  tlm::tlm_response_status request(uint16_t rid, uint64_t addr, uint64_t& entry) {
    sc_time d = sc_core::SC_ZERO_TIME;
    entry = 0;
    return tb.access(rid, addr, &entry, 8, false, d, AddressType::TranslationRequest);
  }
  ats::Translation complete(uint64_t addr) {
    uint64_t e = 0;
    REQUIRE(request(kFn, addr, e) == tlm::TLM_OK_RESPONSE);
    return ats::decode_completion(e, addr);
  }
  void enable_qi() {
    const uint64_t queue = tb.tables.allocate_page();
    const uint64_t status = tb.tables.allocate_page();
    REQUIRE(tb.prog.enable_queued_invalidation(queue, 0, status));
  }
  // Queued invalidation through a register path that keeps the IOMMU's annotated delay of each
  // access (the IQT write's includes the descriptors it hands over) in `iqt_delay`.
  VtdRegisterProgrammer& timed_queue() {
    enable_qi();
    REQUIRE(timed_prog.enable_queued_invalidation(tb.reg_read(fmt::kRegIqa, 8) & fmt::kTableAddrMask, 0,
                                                  tb.tables.allocate_page()));
    return timed_prog;
  }

  sc_time iqt_delay = sc_core::SC_ZERO_TIME;
  SocketMmio timed{tb.mmio, 0, [this](const sc_time& d) { iqt_delay = d; }};
  VtdRegisterProgrammer timed_prog{timed, tb.mem.storage()};
};

uint64_t frcd_at(RemapperTb& tb, unsigned i) {
  return get_bits(tb.frcd_hi(i), fmt::kFrcdAtHi, fmt::kFrcdAtLo);
}

}  // namespace

TEST_CASE("ECAP.DT is set with device TLBs, and only then is a TT=01b context valid", "[model]") {
  RemapperTb tb(IommuConfig{}, "plain");  // no device TLBs (modules first: AtsBench elaborates)
  AtsBench b;
  CHECK(get_bit(b.tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapDt));
  uint64_t v = 0;
  CHECK(b.tb.read64(kFn, kIova, v) == tlm::TLM_OK_RESPONSE);  // untranslated: walked as TT=00b
  CHECK(b.tb.stat("faults") == 0);
  CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapDt));
  tb.tables.set_context(kFn, 1, 4, TranslationType::AllowAts);
  tb.tables.map(1, kIova, kData, 0x1000, true, true);
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  CHECK(tb.read64(kFn, kIova, v) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(get_bits(tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultContextInvalid);
  CHECK(frcd_at(tb, 0) == 0);  // AT is reserved without device TLBs
}

TEST_CASE("translation completions for 4 KiB, 2 MiB and 1 GiB pages with their permissions", "[model]") {
  AtsBench b;
  const ats::Translation k4 = b.complete(kIova + 0x1234);
  CHECK(k4.range.base == kIova + 0x1000);
  CHECK(k4.range.log2_bytes == 12);
  CHECK(k4.phys == kData + 0x1000);
  CHECK((k4.read && k4.write));
  const ats::Translation ro = b.complete(kIova + 0x4000);
  CHECK(ro.read);
  CHECK_FALSE(ro.write);  // the mapping's permissions, not a fault
  const ats::Translation m2 = b.complete(0x40123000);
  CHECK(m2.range.base == 0x40000000);
  CHECK(m2.range.log2_bytes == 21);
  CHECK(m2.phys == 0x80200000);
  const ats::Translation g1 = b.complete(0x80000000 + 0x12345000);
  CHECK(g1.range.log2_bytes == 30);
  CHECK(g1.phys == 0xC0000000);
  CHECK(g1.read);
  CHECK_FALSE(g1.write);
  // The requests went through the IOTLB like any translation: the second one hits.
  const double hits = b.tb.stat("iotlb.hits");
  b.complete(kIova + 0x1000);
  CHECK(b.tb.stat("iotlb.hits") == hits + 1);
  // A write-only page (as Linux maps receive buffers) is answered from the IOTLB too.
  b.tb.tables.map(1, kIova + 0x8000, kData + 0x8000, 0x1000, false, true);
  const double walks = b.tb.stat("walks");
  for (int i = 0; i < 2; ++i) {
    const ats::Translation wo = b.complete(kIova + 0x8000);
    CHECK_FALSE(wo.read);
    CHECK(wo.write);
  }
  CHECK(b.tb.stat("walks") == walks + 1);
  CHECK(b.tb.stat("ats.translation_requests") == 7);
  CHECK(b.tb.stat("rid.01:00.0.translation_requests") == 7);
  CHECK(b.tb.stat("faults") == 0);
  // Two entries in one request: consecutive ranges.
  uint64_t two[2] = {0, 0};
  sc_time d = sc_core::SC_ZERO_TIME;
  REQUIRE(b.tb.access(kFn, kIova, two, 16, false, d, AddressType::TranslationRequest) == tlm::TLM_OK_RESPONSE);
  CHECK(ats::decode_completion(two[0], kIova).phys == kData);
  CHECK(ats::decode_completion(two[1], kIova + 0x1000).phys == kData + 0x1000);
  // A malformed request (a write, or not whole entries) is aborted.
  uint32_t odd = 0;
  CHECK(b.tb.access(kFn, kIova, &odd, 4, false, d, AddressType::TranslationRequest) == ats::kCompleterAbort);
  CHECK(b.tb.access(kFn, kIova, two, 8, true, d, AddressType::TranslationRequest) == ats::kCompleterAbort);
}

TEST_CASE("translation requests the device is told about: not mapped, out of range, interrupts, translation off", "[model]") {
  AtsBench b;
  // Not mapped: a successful completion with R = W = 0, and no fault recorded.
  const ats::Translation none = b.complete(0x20000000);
  CHECK_FALSE(none.read);
  CHECK_FALSE(none.write);
  CHECK(none.range.log2_bytes == 12);
  // Beyond the address width (48 bits, 4 levels): the same.
  const ats::Translation far = b.complete(1ULL << 50);
  CHECK_FALSE((far.read || far.write));
  CHECK(b.tb.stat("faults") == 0);
  CHECK(b.tb.stat("ats.no_permission") == 2);
  CHECK_FALSE(b.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsPpf);
  // The interrupt range: R = 0, W = 1, U = 1 (send those writes untranslated).
  const ats::Translation irq = b.complete(0xFEE00000);
  CHECK(irq.untranslated_only);
  CHECK(irq.write);
  CHECK_FALSE(irq.read);
  // Translation off: every address is its own.
  REQUIRE(b.tb.prog.disable());
  const ats::Translation off = b.complete(0x20000000);
  CHECK(off.phys == 0x20000000);
  CHECK((off.read && off.write));
}

TEST_CASE("translation request faults: UR and recorded for TT and absent contexts, CA for bad tables, FPD", "[model]") {
  AtsBench b;
  uint64_t e = 0;
  // TT = 00b: translation requests are blocked (0xD), recorded with AT = 01b.
  CHECK(b.request(kOld, kIova, e) == ats::kUnsupportedRequest);
  CHECK(get_bits(b.tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultBlockedByTt);
  CHECK(frcd_at(b.tb, 0) == static_cast<uint64_t>(AddressType::TranslationRequest));
  CHECK(get_bit(b.tb.frcd_hi(0), fmt::kFrcdT));  // a read
  CHECK((b.tb.frcd_lo(0) & ~0xFFFULL) == kIova);
  // No context entry: UR, 0x2.
  CHECK(b.request(make_requester_id(1, 0, 5), kIova, e) == ats::kUnsupportedRequest);
  CHECK(get_bits(b.tb.frcd_hi(1), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultContextNotPresent);
  // A reserved bit in the leaf: CA, 0xC.
  const uint64_t pte = b.tb.tables.pte_address(1, kIova + 0x2000, 1);
  b.tb.mem.storage().write64(pte, b.tb.mem.storage().read64(pte) | (1ULL << fmt::kPteSnoop));
  CHECK(b.request(kFn, kIova + 0x2000, e) == ats::kCompleterAbort);
  CHECK(get_bits(b.tb.frcd_hi(2), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultPagingReserved);
  CHECK(b.tb.stat("ats.unsupported_requests") == 2);
  CHECK(b.tb.stat("ats.completer_aborts") == 1);
  // With FPD the qualified faults are not recorded; the device is still told.
  b.tb.tables.set_context(kOld, 1, 4, TranslationType::Untranslated, true);
  b.tb.prog.invalidate_context_register(fmt::InvalidationScope::Global);
  CHECK(b.request(kOld, kIova, e) == ats::kUnsupportedRequest);
  CHECK(b.tb.stat("faults_suppressed") == 1);
  CHECK_FALSE(get_bit(b.tb.frcd_hi(3), fmt::kFrcdF));
}

TEST_CASE("translated requests pass without a walk only where the context allows device TLBs", "[model]") {
  AtsBench b;
  b.tb.mem.storage().write64(kData + 0x3000, 0x1111);
  // TT = 01b: the device's translation is taken as it is, no IOTLB lookup, no walk.
  const double walks = b.tb.stat("walks"), lookups = b.tb.stat("iotlb.lookups");
  uint64_t v = 0;
  sc_time d = sc_core::SC_ZERO_TIME;
  CHECK(b.tb.access(kFn, kData + 0x3000, &v, 8, false, d, AddressType::Translated) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0x1111);
  CHECK(b.tb.stat("walks") == walks);
  CHECK(b.tb.stat("iotlb.lookups") == lookups);
  CHECK(b.tb.stat("ats.translated_requests") == 1);
  // Even to memory its domain never mapped: the device is trusted with its translations.
  uint64_t w = 0x2222;
  CHECK(b.tb.access(kFn, 0x90000000, &w, 8, true, d, AddressType::Translated) == tlm::TLM_OK_RESPONSE);
  CHECK(b.tb.mem.storage().read64(0x90000000) == 0x2222);
  // TT = 00b: blocked and recorded (0xD, AT = 10b), memory untouched.
  uint64_t evil = 0xBAD;
  b.tb.mem.storage().write64(kData + 0x3000, 0x1111);
  CHECK(b.tb.access(kOld, kData + 0x3000, &evil, 8, true, d, AddressType::Translated) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(b.tb.mem.storage().read64(kData + 0x3000) == 0x1111);
  CHECK(get_bits(b.tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kFaultBlockedByTt);
  CHECK(frcd_at(b.tb, 0) == static_cast<uint64_t>(AddressType::Translated));
  CHECK_FALSE(get_bit(b.tb.frcd_hi(0), fmt::kFrcdT));  // a write
  // Pass-through contexts do not take translated requests either.
  b.tb.tables.set_context(kOld, 1, 4, TranslationType::PassThrough);
  b.tb.prog.invalidate_context_register(fmt::InvalidationScope::Global);
  CHECK(b.tb.access(kOld, kData + 0x3000, &evil, 8, true, d, AddressType::Translated) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(b.tb.mem.storage().read64(kData + 0x3000) == 0x1111);
}

TEST_CASE("device-TLB invalidation: the wait descriptor completes only after the function's completion", "[model]") {
  AtsBench b;
  VtdRegisterProgrammer& prog = b.timed_queue();
  const sc_time& iqt_delay = b.iqt_delay;

  // Without device-TLB work, a wait costs the status write.
  REQUIRE(prog.sync());
  const sc_time plain = iqt_delay;
  CHECK(plain < b.functions.latency);

  // 2 MiB at 0x40000000 for kFn, from its PF 01:00.0, queue depth 0 (32).
  bool s = false;
  const uint64_t range = ats::encode_range({0x40000000, 21}, s);
  prog.submit(fmt::make_device_tlb_desc(kFn, kFn, 0, range, s));
  REQUIRE(b.functions.requests.size() == 1);
  const auto& r = b.functions.requests[0];
  CHECK(r.rid == kFn);
  CHECK(r.range.base == 0x40000000);
  CHECK(r.range.log2_bytes == 21);
  // The descriptor itself does not wait for the function...
  CHECK(iqt_delay < b.functions.latency);
  // ...the wait descriptor does: its status is written no earlier than the completion arrived.
  REQUIRE(prog.sync());
  CHECK(sc_core::sc_time_stamp() + iqt_delay >= r.completed);
  CHECK(b.tb.stat("ats.invalidations") == 1);
  CHECK(b.tb.iommu.peek_register(fmt::kRegIqh) == b.tb.iommu.peek_register(fmt::kRegIqt));
  // Once the host has waited it out, the next wait has nothing to wait for.
  sc_core::sc_start(iqt_delay);
  REQUIRE(prog.sync());
  CHECK(iqt_delay == plain);
}

TEST_CASE("a function holds at most its queue depth of invalidations", "[model]") {
  AtsBench b;
  VtdRegisterProgrammer& prog = b.timed_queue();
  bool s = false;
  const uint64_t page = ats::encode_range({kIova, 12}, s);
  // Depth 1: the second request waits for the first one's completion before it is sent.
  prog.submit(fmt::make_device_tlb_desc(kFn, kFn, 1, page, s));
  prog.submit(fmt::make_device_tlb_desc(kFn, kFn, 1, page, s));
  REQUIRE(b.functions.requests.size() == 2);
  CHECK(b.functions.requests[1].arrived >= b.functions.requests[0].completed);
  CHECK(b.tb.stat("ats.queue_depth_stalls") == 1);
  // Depth 2: both are in flight at once.
  prog.submit(fmt::make_device_tlb_desc(kOld, kFn, 2, page, s));
  prog.submit(fmt::make_device_tlb_desc(kOld, kFn, 2, page, s));
  CHECK(b.functions.requests[3].arrived < b.functions.requests[2].completed);
  CHECK(b.tb.stat("ats.queue_depth_stalls") == 1);
  REQUIRE(prog.sync());
}

TEST_CASE("a function that never completes: ITE, the wait is not carried out, the queue stops", "[model]") {
  AtsBench b;
  b.enable_qi();
  b.tb.reg_write(fmt::kRegFectl, 0, 4);  // fault events unmasked
  b.functions.present = false;
  bool s = false;
  const uint64_t all = ats::encode_range({0, 64}, s);
  b.tb.prog.submit(fmt::make_device_tlb_desc(kFn, kFn, 0, all, s));
  CHECK(b.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIte);
  CHECK(b.tb.irqs.size() == 1);  // a fault event
  CHECK(b.tb.stat("ats.invalidation_timeouts") == 1);
  CHECK_FALSE(b.tb.prog.sync());  // the wait behind it is not processed
  CHECK(b.tb.iommu.peek_register(fmt::kRegIqh) != b.tb.iommu.peek_register(fmt::kRegIqt));
  // Software clears ITE: the queue resumes at IQH and the wait completes.
  b.functions.present = true;
  b.tb.reg_write(fmt::kRegFsts, fmt::kFstsIte, 4);
  CHECK_FALSE(b.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIte);
  CHECK(b.tb.iommu.peek_register(fmt::kRegIqh) == b.tb.iommu.peek_register(fmt::kRegIqt));
}

TEST_CASE("descriptor 0x3: reserved fields, and no device TLBs, are queue errors", "[model]") {
  RemapperTb plain(IommuConfig{}, "plain");
  AtsBench b;
  b.enable_qi();
  bool s = false;
  const uint64_t page = ats::encode_range({kIova, 12}, s);
  fmt::Descriptor d = fmt::make_device_tlb_desc(kFn, kFn, 0, page, s);
  d.hi |= 1ULL << 5;  // reserved in qw1
  b.tb.prog.submit(d);
  CHECK(b.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe);
  CHECK(get_bits(b.tb.reg_read(fmt::kRegIqer, 8), fmt::kIqerIqeiHi, fmt::kIqerIqeiLo) == fmt::kIqeiReservedField);
  CHECK(b.functions.requests.empty());

  const uint64_t queue = plain.tables.allocate_page();
  REQUIRE(plain.prog.enable_queued_invalidation(queue, 0, plain.tables.allocate_page()));
  plain.prog.submit(fmt::make_device_tlb_desc(kFn, kFn, 0, page, s));
  CHECK(plain.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe);
  CHECK(get_bits(plain.reg_read(fmt::kRegIqer, 8), fmt::kIqerIqeiHi, fmt::kIqerIqeiLo) == fmt::kIqeiDescriptorType);
}
