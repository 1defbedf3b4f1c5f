// DMA remapper in scalable mode: capability registers and RTADDR.TTM, scalable-mode root,
// context and PASID entries built by the host's table builder, second-level, first-level,
// nested and pass-through translation, requests with and without PASID, the caches' tags, the
// fault reasons of scalable mode, and invalidation (descriptors 0x2, 0x6, 0x7, 256-bit queue);
// with device TLBs, DTE, translation and translated requests, and descriptor 0x8.
#include <catch2/catch.hpp>

#include <memory>

#include "ats_functions_tb.h"
#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/common/messages.h"
#include "iommu_sim/host/vtd_tables_scalable.h"
#include "test_remapper_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
namespace fmt = iommu_sim::vtd;
using fmt::InvalidationScope;

namespace {

const uint16_t kRid = make_requester_id(0, 2, 0);       // 00:02.0, lower context table
const uint16_t kRidUpper = make_requester_id(0, 16, 1);  // 00:10.1, devfn 0x81: upper
constexpr uint64_t kIova = 0x12345000;

IommuConfig scalable_config() {
  IommuConfig c;
  c.scalable.enabled = true;
  c.fault_records = 64;
  return c;
}

// The test bench with scalable-mode tables beside the second-level domains.
class ScalableTb {
 public:
  explicit ScalableTb(const IommuConfig& config = scalable_config())
      : tb(config), sm(tb.mem.storage(), [this] { return tb.tables.allocate_page(); }) {}

  // The queue (256-bit descriptors), TTM scalable, the global invalidations, TE.
  void enable() {
    tb.start();
    const uint64_t queue = tb.tables.allocate_page();
    const uint64_t status = tb.tables.allocate_page();
    REQUIRE(tb.prog.enable_queued_invalidation(queue, 0, status, true));
    REQUIRE(tb.prog.enable(sm.root_table(), true));
  }
  // A second-level domain with one 4 KiB page at kIova, attached to `rid` at `pasid`.
  void second_level(uint16_t rid, uint32_t pasid, uint16_t did, uint64_t phys, bool read = true,
                    bool write = true) {
    tb.tables.create_domain(did, 4);
    tb.tables.map(did, kIova, phys, 0x1000, read, write);
    attach(rid, pasid, sl_entry(did));
  }
  PasidEntrySpec sl_entry(uint16_t did) {
    PasidEntrySpec e;
    e.pgtt = fmt::Pgtt::SecondLevel;
    e.did = did;
    e.sl_root = tb.tables.domain_root(did);
    e.sl_levels = tb.tables.domain_levels(did);
    return e;
  }
  // First-level tables in host memory.
  FirstLevelTables& first_level_tables() {
    fls.push_back(std::make_unique<FirstLevelTables>(
        tb.mem.storage(), 4, [this] { return tb.tables.allocate_page(); }, [](uint64_t a) { return a; }));
    return *fls.back();
  }
  PasidEntrySpec fl_entry(uint16_t did, const FirstLevelTables& t) {
    PasidEntrySpec e;
    e.pgtt = fmt::Pgtt::FirstLevel;
    e.did = did;
    e.fl_root = t.root();
    e.fl_levels = t.levels();
    return e;
  }
  void attach(uint16_t rid, uint32_t pasid, const PasidEntrySpec& e) {
    if (sm.context_entry_address(rid) == 0 ||
        !(tb.mem.storage().read64(sm.context_entry_address(rid)) & 1))
      sm.set_context(rid);
    sm.set_pasid_entry(rid, pasid, e);
  }

  tlm::tlm_response_status access(uint16_t rid, uint64_t iova, uint64_t& v, bool write,
                                  int pasid = -1, bool privileged = false,
                                  AddressType at = AddressType::Untranslated) {
    tlm::tlm_generic_payload p;
    PcieExtension ext(rid, at);
    ext.has_pasid = pasid >= 0;
    ext.pasid = pasid >= 0 ? static_cast<uint32_t>(pasid) : 0;
    ext.privileged = privileged;
    p.set_extension(&ext);
    p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    p.set_address(iova);
    p.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
    p.set_data_length(8);
    p.set_streaming_width(8);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    tb.dma->b_transport(p, d);
    p.clear_extension(&ext);
    return p.get_response_status();
  }
  // The value at host physical `phys`, written there first, read back through the IOMMU.
  uint64_t read(uint16_t rid, uint64_t iova, int pasid = -1, bool privileged = false) {
    uint64_t v = 0;
    if (access(rid, iova, v, false, pasid, privileged) != tlm::TLM_OK_RESPONSE) return ~0ULL;
    return v;
  }
  void sync() { REQUIRE(tb.prog.sync()); }

  RemapperTb tb;
  ScalableTables sm;
  std::vector<std::unique_ptr<FirstLevelTables>> fls;
  unsigned next_record = 0;

  // Memory writes other than the walker's accessed/dirty updates.
  double data_writes() const { return tb.stats.value("tb.mem.writes") - tb.stat("walk_writes"); }

  // A faulting request: the record in the next FRCD slot, nothing written to memory (the
  // walker may have set accessed flags on the way, as a CPU's does).
  void expect_fault(uint16_t rid, uint64_t iova, bool write, uint8_t reason, int pasid = -1,
                    bool privileged = false, AddressType at = AddressType::Untranslated) {
    INFO("fault reason 0x" << std::hex << unsigned(reason));
    uint64_t v = 0xDEADBEEFCAFEF00DULL;
    const double writes = data_writes();
    CHECK(access(rid, iova, v, write, pasid, privileged, at) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(data_writes() == writes);
    const uint64_t hi = tb.frcd_hi(next_record);
    CHECK(get_bit(hi, fmt::kFrcdF));
    CHECK(get_bits(hi, fmt::kFrcdFrHi, fmt::kFrcdFrLo) == reason);
    CHECK(get_bits(hi, fmt::kFrcdSidHi, fmt::kFrcdSidLo) == rid);
    CHECK(get_bit(hi, fmt::kFrcdT) == !write);
    CHECK(get_bit(hi, fmt::kFrcdPp) == (pasid >= 0));
    CHECK(get_bits(hi, fmt::kFrcdPasidHi, fmt::kFrcdPasidLo) == (pasid >= 0 ? unsigned(pasid) : 0u));
    CHECK(tb.frcd_lo(next_record) == (iova & ~0xFFFULL));
    char name[32];
    std::snprintf(name, sizeof name, "faults.reason_0x%X", reason);
    CHECK(tb.stat(name) >= 1);
    ++next_record;
  }
};

void poke(RemapperTb& tb, uint64_t addr, uint64_t set, uint64_t clear = 0) {
  tb.mem.storage().write64(addr, (tb.mem.storage().read64(addr) | set) & ~clear);
}

}  // namespace

TEST_CASE("scalable mode: capability registers, version and RTADDR.TTM", "[model][scalable]") {
  ScalableTb s;
  s.tb.start();
  const uint64_t cap = s.tb.reg_read(fmt::kRegCap, 8);
  const uint64_t ecap = s.tb.reg_read(fmt::kRegEcap, 8);
  CHECK(s.tb.reg_read(fmt::kRegVer, 4) == fmt::kVersionScalable);
  CHECK(get_bit(ecap, fmt::kEcapSmts));
  CHECK(get_bit(ecap, fmt::kEcapSlts));
  CHECK(get_bit(ecap, fmt::kEcapFlts));
  CHECK(get_bit(ecap, fmt::kEcapNest));
  CHECK(get_bit(ecap, fmt::kEcapPasid));
  CHECK(get_bits(ecap, fmt::kEcapPssHi, fmt::kEcapPssLo) == 19);
  CHECK(get_bit(ecap, fmt::kEcapSrs));
  CHECK(get_bit(ecap, fmt::kEcapSlads));
  CHECK(get_bit(ecap, fmt::kEcapSmpwc));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapErs));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapPrs));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapDt));
  CHECK(get_bit(cap, fmt::kCapFl1gp));
  CHECK_FALSE(get_bit(cap, fmt::kCapFl5lp));
  // TTM is writable when scalable mode is offered.
  s.tb.reg_write(fmt::kRegRtaddr, 0x5000 | (1 << 10), 8);
  CHECK(s.tb.reg_read(fmt::kRegRtaddr, 8) == (0x5000 | (1 << 10)));
}

TEST_CASE("scalable mode off: TTM reads zero and the version is 1.0", "[model][scalable]") {
  RemapperTb tb;
  tb.start();
  tb.reg_write(fmt::kRegRtaddr, 0x5000 | (1 << 10), 8);
  CHECK(tb.reg_read(fmt::kRegRtaddr, 8) == 0x5000);
  CHECK(tb.reg_read(fmt::kRegVer, 4) == fmt::kVersion);
  CHECK_FALSE(get_bit(tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapSmts));
}

TEST_CASE("capabilities follow the scalable configuration", "[model][scalable]") {
  IommuConfig c = scalable_config();
  c.scalable.first_level = false;
  c.scalable.nested = false;
  c.scalable.pasid_bits = 8;
  c.scalable.second_level_ad = false;
  ScalableTb s(c);
  s.tb.start();
  const uint64_t ecap = s.tb.reg_read(fmt::kRegEcap, 8);
  CHECK_FALSE(get_bit(ecap, fmt::kEcapFlts));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapNest));
  CHECK_FALSE(get_bit(ecap, fmt::kEcapSlads));
  CHECK(get_bits(ecap, fmt::kEcapPssHi, fmt::kEcapPssLo) == 7);
  CHECK_FALSE(get_bit(s.tb.reg_read(fmt::kRegCap, 8), fmt::kCapFl1gp));
}

TEST_CASE("second-level translation through the lower and upper context tables", "[model][scalable]") {
  ScalableTb s;
  s.second_level(kRid, 0, 1, kData);
  s.second_level(kRidUpper, 0, 2, kData + 0x1000);
  s.tb.mem.storage().write64(kData + 0x10, 0x1111);
  s.tb.mem.storage().write64(kData + 0x1010, 0x2222);
  s.enable();
  CHECK(s.read(kRid, kIova + 0x10) == 0x1111);
  CHECK(s.read(kRidUpper, kIova + 0x10) == 0x2222);
  CHECK(s.tb.stat("walks") == 2);
  // 4 second-level reads per walk (paging-structure caches cold), none first-level.
  CHECK(s.tb.stat("walk_reads.second_level") == 8);
  CHECK(s.tb.stat("walk_reads.first_level") == 0);
  CHECK(s.read(kRid, kIova + 0x10) == 0x1111);  // IOTLB hit: no walk
  CHECK(s.tb.stat("walks") == 2);
  CHECK(s.tb.stat("pasid_cache.hits") == 1);
}

TEST_CASE("requests with PASID: first-level translations are tagged by domain and PASID", "[model][scalable]") {
  ScalableTb s;
  FirstLevelTables& a = s.first_level_tables();
  FirstLevelTables& b = s.first_level_tables();
  a.map(kIova, kData, 0x1000, true, true);
  b.map(kIova, kData + 0x1000, 0x1000, true, true);
  s.attach(kRid, 5, s.fl_entry(3, a));
  s.attach(kRid, 6, s.fl_entry(3, b));  // same domain, same IOVA, other tables
  s.tb.mem.storage().write64(kData, 0x5555);
  s.tb.mem.storage().write64(kData + 0x1000, 0x6666);
  s.enable();
  for (int round = 0; round < 2; ++round) {
    CHECK(s.read(kRid, kIova, 5) == 0x5555);
    CHECK(s.read(kRid, kIova, 6) == 0x6666);
  }
  CHECK(s.tb.stat("walks") == 2);  // both stayed in the IOTLB side by side
  CHECK(s.tb.stat("iotlb.hits") == 2);
  CHECK(s.tb.stat("walk_reads.first_level") == 8);
  CHECK(s.tb.stat("walk_reads.second_level") == 0);
  // The accessed flags were set; a write sets the dirty flag (and walks once to do it).
  CHECK(get_bit(s.tb.mem.storage().read64(a.entry_address(kIova, 1)), fmt::kFlAccessed));
  uint64_t v = 7;
  CHECK(s.access(kRid, kIova, v, true, 5) == tlm::TLM_OK_RESPONSE);
  CHECK(get_bit(s.tb.mem.storage().read64(a.entry_address(kIova, 1)), fmt::kFlDirty));
  CHECK(s.tb.stat("walks") == 3);
  CHECK(s.access(kRid, kIova, v, true, 5) == tlm::TLM_OK_RESPONSE);
  CHECK(s.tb.stat("walks") == 3);
}

TEST_CASE("second-level translations are shared by the PASIDs of a domain", "[model][scalable]") {
  ScalableTb s;
  s.second_level(kRid, 5, 4, kData);
  s.attach(kRid, 6, s.sl_entry(4));
  s.tb.mem.storage().write64(kData, 0x4444);
  s.enable();
  CHECK(s.read(kRid, kIova, 5) == 0x4444);
  CHECK(s.read(kRid, kIova, 6) == 0x4444);
  CHECK(s.tb.stat("walks") == 1);  // tagged by DID alone: PASID 6 hit PASID 5's entry
}

TEST_CASE("pass-through PASID entries pass addresses unchanged", "[model][scalable]") {
  ScalableTb s;
  PasidEntrySpec e;
  e.pgtt = fmt::Pgtt::PassThrough;
  e.did = 9;
  s.attach(kRid, 0, e);
  s.tb.mem.storage().write64(kData + 8, 0x9999);
  s.enable();
  CHECK(s.read(kRid, kData + 8) == 0x9999);
  CHECK(s.tb.stat("walks") == 0);
}

TEST_CASE("nested translation: a cold walk reads 24 entries, then the IOTLB serves", "[model][scalable]") {
  IommuConfig c = scalable_config();
  c.pscache.enabled = false;
  c.scalable.nested_pscache.enabled = false;
  ScalableTb s(c);
  // The host's second level: guest physical [0, 64 MiB) at host physical 0x100000000.
  constexpr uint64_t kHost = 0x100000000ULL;
  s.tb.tables.create_domain(10, 4);
  s.tb.tables.map(10, 0, kHost, 64ULL << 20, true, true);
  uint64_t next_table = 0x3000000;
  FirstLevelTables guest(s.tb.mem.storage(), 4, [&] { const uint64_t p = next_table; next_table += 4096; return p; },
                         [&](uint64_t gpa) { return *s.tb.tables.translate(10, gpa); });
  guest.map(kIova, 0x200000, 0x1000, true, true);
  PasidEntrySpec e;
  e.pgtt = fmt::Pgtt::Nested;
  e.did = 11;
  e.sl_root = s.tb.tables.domain_root(10);
  e.sl_levels = 4;
  e.fl_root = guest.root();
  e.fl_levels = 4;
  s.attach(kRid, 0, e);
  s.tb.mem.storage().write64(kHost + 0x200018, 0xABCD);
  s.enable();
  CHECK(s.read(kRid, kIova + 0x18) == 0xABCD);
  CHECK(s.tb.stat("walk_reads.first_level") == 4);
  CHECK(s.tb.stat("walk_reads.second_level") == 20);
  const Histogram* refs = s.tb.stats.find_histogram("tb.iommu.walk_refs");
  REQUIRE(refs);
  CHECK(refs->max() == 24);
  CHECK(s.read(kRid, kIova + 0x18) == 0xABCD);
  CHECK(s.tb.stat("walks") == 1);
}

TEST_CASE("scalable-mode faults, with their reasons, PASIDs and fault-processing disables", "[model][scalable]") {
  ScalableTb s;
  ScalableTables& sm = s.sm;
  RemapperTb& tb = s.tb;
  const auto rid = [](unsigned bus, unsigned dev, unsigned fn) { return make_requester_id(bus, dev, fn); };
  // Valid set-ups for the faults below to break.
  s.second_level(kRid, 0, 1, kData, true, false);  // read-only second level, RID_PASID
  FirstLevelTables& fl = s.first_level_tables();
  fl.map(kIova, kData, 0x1000, false, true);        // read-only, user
  fl.map(kIova + 0x1000, kData + 0x1000, 0x1000, true, false);  // supervisor only
  s.attach(kRid, 5, s.fl_entry(2, fl));
  for (unsigned dev = 3; dev <= 12; ++dev) s.second_level(rid(0, dev, 0), 0, static_cast<uint16_t>(dev), kData);
  sm.set_context(rid(6, 0, 0));
  sm.set_context(rid(0, 13, 0), false);  // PASIDE clear
  sm.set_context(rid(0, 14, 0), true, false, 0);  // a directory of 8192 PASIDs
  s.tb.tables.map(5, 0x40000000, 0xFEE00000, 0x1000, true, true);  // output in the interrupt range
  // FPD in a PASID entry, and in a directory entry.
  PasidEntrySpec quiet = s.sl_entry(1);
  quiet.fpd = true;
  s.attach(kRid, 7, quiet);
  s.attach(rid(0, 15, 0), 0, s.sl_entry(1));
  poke(tb, sm.pasid_dir_entry_address(rid(0, 15, 0), 0), 1ULL << fmt::kPasidDirFpd);
  s.enable();

  // Root and context entries.
  s.expect_fault(rid(5, 0, 0), kIova, false, fmt::kSmFaultRootNotPresent);
  s.expect_fault(rid(0, 16, 2), kIova, false, fmt::kSmFaultRootNotPresent);  // upper half absent
  poke(tb, sm.root_entry_address(6), 1ULL << 1);
  s.expect_fault(rid(6, 0, 0), kIova, false, fmt::kSmFaultRootReserved);
  s.expect_fault(rid(0, 2, 5), kIova, false, fmt::kSmFaultContextNotPresent);
  poke(tb, sm.context_entry_address(rid(0, 3, 0)), 1ULL << fmt::kSmCtxDte);  // no device TLBs
  s.expect_fault(rid(0, 3, 0), kIova, false, fmt::kSmFaultContextReserved);
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultDteClear, -1, false, AddressType::Translated);
  s.expect_fault(rid(0, 13, 0), kIova, false, fmt::kSmFaultPasideClear, 5);
  s.expect_fault(rid(0, 14, 0), kIova, false, fmt::kSmFaultPasidTooLarge, 9000);
  poke(tb, sm.context_entry_address(rid(0, 14, 0)) + 8, 9000);  // RID_PASID beyond the directory
  tb.prog.submit(fmt::make_context_cache_desc(InvalidationScope::Selective, 0, rid(0, 14, 0)));
  s.sync();
  s.expect_fault(rid(0, 14, 0), kIova, false, fmt::kSmFaultRidPasid);
  // PASID directory and PASID entries.
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultPasidDirNotPresent, 100);
  poke(tb, sm.pasid_dir_entry_address(rid(0, 4, 0), 0), 1ULL << 2);
  s.expect_fault(rid(0, 4, 0), kIova, false, fmt::kSmFaultPasidDirReserved);
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultPasidNotPresent, 9);
  poke(tb, sm.pasid_entry_address(rid(0, 6, 0), 0) + 24, 1);  // qw3: reserved
  s.expect_fault(rid(0, 6, 0), kIova, false, fmt::kSmFaultPasidReserved);
  poke(tb, sm.pasid_entry_address(rid(0, 7, 0), 0), 7ULL << fmt::kPePgttLo);  // PGTT 7
  s.expect_fault(rid(0, 7, 0), kIova, false, fmt::kSmFaultPasidInvalid);
  poke(tb, sm.pasid_entry_address(rid(0, 8, 0), 0), 1ULL << 50);  // SLPTPTR beyond HAW
  s.expect_fault(rid(0, 8, 0), kIova, false, fmt::kSmFaultSlPointer);
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultSreClear, 5, true);
  // Second level.
  s.expect_fault(kRid, kIova + 0x100000, false, fmt::kSmFaultSlNotPresent);
  s.expect_fault(kRid, kIova, true, fmt::kSmFaultWrite);
  s.expect_fault(kRid, 1ULL << 48, false, fmt::kSmFaultAddressWidth);
  poke(tb, tb.tables.pte_address(9, kIova, 1), 1ULL << 62);  // TM without device TLBs
  s.expect_fault(rid(0, 9, 0), kIova, false, fmt::kSmFaultSlReserved);
  s.expect_fault(rid(0, 5, 0), 0x40000000, false, fmt::kSmFaultInterruptAddress);
  // First level.
  s.expect_fault(kRid, kIova + 0x200000, false, fmt::kSmFaultFlNotPresent, 5);
  s.expect_fault(kRid, kIova, true, fmt::kSmFaultWrite, 5);
  s.expect_fault(kRid, kIova + 0x1000, false, fmt::kSmFaultUserSupervisor, 5);
  s.expect_fault(kRid, 0x0000900000000000ULL, false, fmt::kSmFaultNonCanonical, 5);
  poke(tb, fl.entry_address(kIova, 4), 1ULL << fmt::kFlPs);
  tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::Pasid, 2, 5));  // the PS caches
  s.sync();
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultFlReserved, 5);
  // A PASID entry whose first-level pointer is beyond the host address width.
  PasidEntrySpec bad = s.fl_entry(2, fl);
  bad.fl_root = 1ULL << 50;
  s.attach(kRid, 8, bad);
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultFlRootAccess, 8);
  // FPD in the PASID entry and in the directory entry: counted, not recorded.
  uint64_t v = 0;
  const double suppressed = tb.stat("faults_suppressed");
  CHECK(s.access(kRid, kIova, v, true, 7) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(s.access(rid(0, 15, 0), kIova, v, true) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(tb.stat("faults_suppressed") == suppressed + 2);
  CHECK_FALSE(get_bit(tb.frcd_hi(s.next_record), fmt::kFrcdF));
}

TEST_CASE("scalable mode: TTM 2 blocks everything, legacy TTM blocks requests with PASID", "[model][scalable]") {
  ScalableTb s;
  s.second_level(kRid, 0, 1, kData);
  s.enable();
  // Legacy tables (TTM 0) on a unit that offers scalable mode: a request with PASID faults 0x31.
  s.tb.reg_write(fmt::kRegRtaddr, s.tb.tables.root_table(), 8);
  s.tb.reg_write(fmt::kRegGcmd, fmt::kGcmdTe | fmt::kGcmdQie | fmt::kGcmdSrtp, 4);
  s.tb.tables.set_context(kRid, 1, 4, TranslationType::Untranslated);
  s.tb.prog.submit(fmt::make_context_cache_desc(InvalidationScope::Global));
  s.sync();
  s.tb.mem.storage().write64(kData, 0x77);
  CHECK(s.read(kRid, kIova) == 0x77);
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultPasidInLegacy, 3);
  // TTM 2 (reserved): every request faults 0x30, whatever FPD says.
  s.tb.reg_write(fmt::kRegRtaddr, s.sm.root_table() | (2 << 10), 8);
  s.tb.reg_write(fmt::kRegGcmd, fmt::kGcmdTe | fmt::kGcmdQie | fmt::kGcmdSrtp, 4);
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultRootTable);
}

TEST_CASE("PASID-based IOTLB and PASID-cache invalidation", "[model][scalable]") {
  ScalableTb s;
  SparseMemory& mem = s.tb.mem.storage();
  FirstLevelTables& a = s.first_level_tables();
  FirstLevelTables& b = s.first_level_tables();
  a.map(kIova, kData, 0x2000, true, true);
  b.map(kIova, kData + 0x2000, 0x1000, true, true);
  s.attach(kRid, 5, s.fl_entry(3, a));
  s.attach(kRid, 6, s.fl_entry(3, b));
  for (uint64_t i = 0; i < 4; ++i) mem.write64(kData + 0x1000 * i, 0x100 + i);
  s.enable();
  CHECK(s.read(kRid, kIova, 5) == 0x100);
  CHECK(s.read(kRid, kIova + 0x1000, 5) == 0x101);
  CHECK(s.read(kRid, kIova, 6) == 0x102);
  // Software moves PASID 5's first page without telling the hardware: the IOTLB keeps the old.
  const uint64_t leaf = a.entry_address(kIova, 1);
  mem.write64(leaf, (mem.read64(leaf) & 0xFFF) | (kData + 0x3000));
  CHECK(s.read(kRid, kIova, 5) == 0x100);
  // A page-selective invalidation of another PASID changes nothing here.
  s.tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::PasidPage, 3, 6, kIova, 0));
  s.sync();
  CHECK(s.read(kRid, kIova, 5) == 0x100);
  CHECK(s.read(kRid, kIova, 6) == 0x102);  // walks again: its own page went
  // Of this PASID's page: the new page; its neighbour and PASID 6 stay cached.
  const double walks = s.tb.stat("walks");
  s.tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::PasidPage, 3, 5, kIova, 0));
  s.sync();
  CHECK(s.read(kRid, kIova, 5) == 0x103);
  CHECK(s.read(kRid, kIova + 0x1000, 5) == 0x101);
  CHECK(s.read(kRid, kIova, 6) == 0x102);
  CHECK(s.tb.stat("walks") == walks + 1);
  // IH: the leaf goes, the paging-structure entries stay; without IH they go too.
  const double ps_before = s.tb.stat("first_level_pscache.l2.invalidated_entries");
  s.tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::PasidPage, 3, 5, kIova, 0, true));
  s.sync();
  CHECK(s.tb.stat("first_level_pscache.l2.invalidated_entries") == ps_before);
  s.tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::Pasid, 3, 5));
  s.sync();
  CHECK(s.tb.stat("first_level_pscache.l2.invalidated_entries") > ps_before);
  // The PASID cache: PASID 6's entry now names PASID 5's tables; the cached entry stands until
  // a PASID-cache invalidation (and an IOTLB one for what it translated).
  mem.write64(s.sm.pasid_entry_address(kRid, 6) + 16, mem.read64(s.sm.pasid_entry_address(kRid, 5) + 16));
  s.tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::Pasid, 3, 6));
  s.sync();
  CHECK(s.read(kRid, kIova, 6) == 0x102);
  s.tb.prog.submit(fmt::make_pasid_cache_desc(fmt::PasidCacheScope::Pasid, 3, 6));
  s.tb.prog.submit(fmt::make_pasid_iotlb_desc(fmt::PasidIotlbScope::Pasid, 3, 6));
  s.sync();
  CHECK(s.read(kRid, kIova, 6) == 0x103);
  // Domain-selective and global PASID-cache invalidation.
  const double inv = s.tb.stat("pasid_cache.invalidated_entries");
  s.tb.prog.submit(fmt::make_pasid_cache_desc(fmt::PasidCacheScope::Domain, 4));
  s.sync();
  CHECK(s.tb.stat("pasid_cache.invalidated_entries") == inv);
  s.tb.prog.submit(fmt::make_pasid_cache_desc(fmt::PasidCacheScope::Domain, 3));
  s.sync();
  CHECK(s.tb.stat("pasid_cache.invalidated_entries") == inv + 2);
  CHECK(s.read(kRid, kIova, 5) == 0x103);
  s.tb.prog.submit(fmt::make_pasid_cache_desc(fmt::PasidCacheScope::Global));
  s.sync();
  CHECK(s.tb.stat("pasid_cache.invalidated_entries") == inv + 3);
}

TEST_CASE("a page-selective IOTLB invalidation drops a domain's nested translations", "[model][scalable]") {
  ScalableTb s;
  constexpr uint64_t kHost = 0x100000000ULL;
  s.tb.tables.create_domain(10, 4);
  s.tb.tables.map(10, 0, kHost, 16ULL << 20, true, true);
  uint64_t next_table = 0xC00000;
  FirstLevelTables guest(s.tb.mem.storage(), 4, [&] { const uint64_t p = next_table; next_table += 4096; return p; },
                         [&](uint64_t gpa) { return *s.tb.tables.translate(10, gpa); });
  guest.map(kIova, 0x200000, 0x2000, true, true);
  PasidEntrySpec e;
  e.pgtt = fmt::Pgtt::Nested;
  e.did = 11;
  e.sl_root = s.tb.tables.domain_root(10);
  e.fl_root = guest.root();
  s.attach(kRid, 0, e);
  s.second_level(kRidUpper, 0, 12, kData);  // another domain's second-level translation
  s.tb.mem.storage().write64(kData, 0x55);
  s.tb.mem.storage().write64(kHost + 0x200000, 1);
  s.tb.mem.storage().write64(kHost + 0x201000, 2);
  s.enable();
  CHECK(s.read(kRid, kIova) == 1);
  CHECK(s.read(kRid, kIova + 0x1000) == 2);
  CHECK(s.read(kRidUpper, kIova) == 0x55);
  // The host moves guest page 0x201000; it invalidates the guest-physical page under the nested
  // domain's ID: both nested translations go, since they cannot be found by guest address.
  s.tb.tables.unmap(10, 0x201000, 0x1000);
  s.tb.tables.map(10, 0x201000, kHost + 0x200000, 0x1000, true, true);
  const double walks = s.tb.stat("walks");
  s.tb.prog.submit(fmt::make_iotlb_desc(InvalidationScope::Selective, 11, 0x201000, 0));
  s.sync();
  CHECK(s.read(kRid, kIova + 0x1000) == 1);
  CHECK(s.read(kRid, kIova) == 1);
  CHECK(s.read(kRidUpper, kIova) == 0x55);  // domain 12's entry stayed
  CHECK(s.tb.stat("walks") == walks + 2);
}

TEST_CASE("a domain-selective context-cache invalidation drops scalable-mode context entries", "[model][scalable]") {
  ScalableTb s;
  s.second_level(kRid, 0, 1, kData);
  s.enable();
  uint64_t v = 0;
  CHECK(s.access(kRid, kIova, v, false) == tlm::TLM_OK_RESPONSE);
  s.sm.set_context(kRid, true, true);  // FPD now set,
  s.sm.clear_pasid_entry(kRid, 0);     // and RID_PASID's entry gone
  s.tb.prog.submit(fmt::make_context_cache_desc(InvalidationScope::Domain, 99));
  s.tb.prog.submit(fmt::make_pasid_cache_desc(fmt::PasidCacheScope::Global));
  s.tb.prog.submit(fmt::make_iotlb_desc(InvalidationScope::Global));
  s.sync();
  const double suppressed = s.tb.stat("faults_suppressed");
  CHECK(s.access(kRid, kIova, v, false) == tlm::TLM_ADDRESS_ERROR_RESPONSE);  // 0x51, suppressed
  CHECK(s.tb.stat("faults_suppressed") == suppressed + 1);
}

TEST_CASE("256-bit descriptors: the upper half of the legacy types is reserved, the tail must be aligned, 0x8 is not offered", "[model][scalable]") {
  ScalableTb s;
  s.enable();
  const auto iqei = [&s] { return get_bits(s.tb.reg_read(fmt::kRegIqer, 8), fmt::kIqerIqeiHi, fmt::kIqerIqeiLo); };
  const uint64_t queue = s.tb.reg_read(fmt::kRegIqa, 8) & ~0xFFFULL;
  CHECK(get_bit(s.tb.reg_read(fmt::kRegIqa, 8), fmt::kIqaDw));
  CHECK((s.tb.reg_read(fmt::kRegIqh, 8) % 32) == 0);
  fmt::WideDescriptor d = fmt::widen(fmt::make_iotlb_desc(InvalidationScope::Global));
  d.qw[3] = 1;
  s.tb.prog.submit(d);
  CHECK((s.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(iqei() == fmt::kIqeiReservedField);
  // Repair, resume; then a tail on a 16-byte boundary.
  const uint64_t head = s.tb.reg_read(fmt::kRegIqh, 8);
  s.tb.mem.storage().write64(queue + head + 24, 0);
  s.tb.reg_write(fmt::kRegFsts, fmt::kFstsIqe, 4);
  CHECK(s.tb.reg_read(fmt::kRegIqh, 8) == head + 32);
  s.tb.reg_write(fmt::kRegIqt, head + 32 + 16, 8);
  CHECK((s.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe) != 0);
  CHECK(iqei() == fmt::kIqeiTailMisaligned);
  s.tb.reg_write(fmt::kRegIqt, head + 32, 8);
  s.tb.reg_write(fmt::kRegFsts, fmt::kFstsIqe, 4);
  fmt::WideDescriptor dtlb;
  dtlb.qw[0] = fmt::kDescPasidDeviceTlb;
  s.tb.prog.submit(dtlb);
  CHECK(iqei() == fmt::kIqeiDescriptorType);
}

namespace {
// An IOTLB without PASID tags, as the RTL one is.
class UntaggedIotlb : public Iotlb {
 public:
  UntaggedIotlb() : m_model(IotlbConfig{}) {}
  IotlbHit lookup(uint16_t d, uint64_t vpn) override { return m_model.lookup(d, vpn); }
  IotlbFillResult fill(const IotlbEntry& e) override { return m_model.fill(e); }
  unsigned invalidate_all() override { return m_model.invalidate_all(); }
  unsigned invalidate_domain(uint16_t d) override { return m_model.invalidate_domain(d); }
  unsigned invalidate_pages(uint16_t d, uint64_t vpn, unsigned am) override {
    return m_model.invalidate_pages(d, vpn, am);
  }
  const CacheStats& stats() const override { return m_model.stats(); }
  const IotlbConfig& config() const override { return m_model.config(); }

 private:
  IotlbModel m_model;
};
}  // namespace

TEST_CASE("first-level and nested translation need an IOTLB with PASID tags", "[model][scalable]") {
  StatsRegistry stats;
  IommuConfig c = scalable_config();
  // A configuration error, reported through sc_report (msg::kConfig).
  try {
    Iommu tagless("tagless", c, stats, std::make_unique<UntaggedIotlb>());
    FAIL("the IOMMU was built");
  } catch (const sc_core::sc_report& e) {
    CHECK(std::string(e.get_msg_type()) == msg::kConfig);
    CHECK(std::string(e.get_msg()).find("PASID tags") != std::string::npos);
  }
  c.scalable.first_level = false;
  c.scalable.nested = false;
  Iommu second_level_only("second_level_only", c, stats, std::make_unique<UntaggedIotlb>());
  CHECK(get_bit(second_level_only.peek_register(fmt::kRegEcap), fmt::kEcapSmts));
}

TEST_CASE("formats: entries written bit by bit as Linux writes them translate, and the builder writes the same", "[model][scalable]") {
  // Literal encodings, field by field as Linux's drivers/iommu/intel/pasid.h and iommu.h set
  // them: context qw0 = PASID directory | PDTS << 9 | PASIDE (bit 3) | P; PASID entry qw0 =
  // SLPTPTR | AW << 2 | PGTT << 6 | P, qw1 = DID, qw2 = FLPTPTR | FLPM << 2 | SRE (bit 0).
  ScalableTb s;
  SparseMemory& m = s.tb.mem.storage();
  const uint64_t root = 0x2000000, ctx = 0x2001000, dir = 0x2002000, table = 0x2003000;
  const uint64_t sl = 0x2010000;   // four second-level tables from here
  const uint64_t fl = 0x2020000;   // four first-level tables from here
  m.write64(root, ctx | 1);                                           // bus 0, lower half
  m.write64(ctx + 32 * 0x10, dir | (2ULL << 9) | (1ULL << 3) | 1);    // 00:02.0
  m.write64(ctx + 32 * 0x10 + 8, 0);                                  // RID_PASID 0
  m.write64(dir, table | 1);                                          // PASIDs 0-63
  m.write64(table, sl | (2ULL << 2) | (2ULL << 6) | 1);               // PASID 0: second level, 4 levels
  m.write64(table + 8, 5);                                            // DID 5
  m.write64(table + 64 * 5, (1ULL << 6) | 1);                         // PASID 5: first level
  m.write64(table + 64 * 5 + 8, 6);                                   // DID 6
  m.write64(table + 64 * 5 + 16, fl | (0ULL << 2) | 1);               // 4-level, SRE
  for (unsigned l = 4; l >= 2; --l) {  // kIova's path: one table per level
    m.write64(sl + 0x1000 * (4 - l) + 8 * fmt::pte_index(kIova, l), (sl + 0x1000 * (5 - l)) | 3);
    m.write64(fl + 0x1000 * (4 - l) + 8 * fmt::pte_index(kIova, l), (fl + 0x1000 * (5 - l)) | 7);
  }
  m.write64(sl + 0x3000 + 8 * fmt::pte_index(kIova, 1), kData | 3);
  m.write64(fl + 0x3000 + 8 * fmt::pte_index(kIova, 1), (kData + 0x1000) | 7);
  m.write64(kData, 0x51);
  m.write64(kData + 0x1000, 0x52);
  s.tb.start();
  REQUIRE(s.tb.prog.enable_queued_invalidation(s.tb.tables.allocate_page(), 0, s.tb.tables.allocate_page(), true));
  REQUIRE(s.tb.prog.enable(root, true));
  CHECK(s.read(kRid, kIova) == 0x51);
  CHECK(s.read(kRid, kIova, 5) == 0x52);
  CHECK(s.read(kRid, kIova, 5, true) == 0x52);  // SRE set: supervisor requests pass
  // The hardware set the first-level accessed flags (bit 5) on the way.
  CHECK(m.read64(fl + 8 * fmt::pte_index(kIova, 4)) == ((fl + 0x1000) | 7 | (1ULL << 5)));

  // The builder writes the same bits for the same entries.
  ScalableTables built(m, [next = uint64_t(0x3000000)]() mutable { const uint64_t p = next; next += 0x1000; return p; });
  built.set_context(kRid);
  PasidEntrySpec second;
  second.pgtt = fmt::Pgtt::SecondLevel;
  second.did = 5;
  second.sl_root = sl;
  built.set_pasid_entry(kRid, 0, second);
  PasidEntrySpec first;
  first.pgtt = fmt::Pgtt::FirstLevel;
  first.did = 6;
  first.fl_root = fl;
  first.sre = true;
  built.set_pasid_entry(kRid, 5, first);
  const uint64_t ce = built.context_entry_address(kRid);
  CHECK((m.read64(ce) & 0xFFF) == ((2ULL << 9) | (1ULL << 3) | 1));
  CHECK(m.read64(ce + 8) == 0);
  const uint64_t pe0 = built.pasid_entry_address(kRid, 0), pe5 = built.pasid_entry_address(kRid, 5);
  CHECK(pe5 - pe0 == 5 * 64);
  for (unsigned q = 0; q < 8; ++q) {
    INFO("qword " << q);
    CHECK(m.read64(pe0 + 8 * q) == m.read64(table + 8 * q));
    CHECK(m.read64(pe5 + 8 * q) == m.read64(table + 64 * 5 + 8 * q));
  }
}

// ---- PCIe ATS in scalable mode: DTE, translation and translated requests, descriptor 0x8 ----

namespace {

IommuConfig scalable_ats_config() {
  IommuConfig c = scalable_config();
  c.device_tlbs = true;
  return c;
}

const uint16_t kNoDte = make_requester_id(0, 3, 0);

// A scalable-mode unit with device TLBs: kRid's context has DTE, kNoDte's does not; both reach
// domain 5's second level (one 4 KiB read-write page at kIova, one write-only page after it) at
// RID_PASID. The functions below the unit take its invalidate requests; `timed` is a register
// path that keeps the annotated delay of each access (the IQT write's covers the descriptors).
struct ScalableAtsTb {
  ScalableTb s{scalable_ats_config()};
  AtsFunctions functions{"functions"};
  sc_core::sc_time iqt_delay = sc_core::SC_ZERO_TIME;
  SocketMmio timed{s.tb.mmio, 0, [this](const sc_core::sc_time& d) { iqt_delay = d; }};
  VtdRegisterProgrammer timed_prog{timed, s.tb.mem.storage()};

  ScalableAtsTb() {
    s.tb.iommu.ats_invalidation.bind(functions.socket);
    s.enable();
    s.tb.tables.create_domain(5, 4);
    s.tb.tables.map(5, kIova, kData, 0x1000, true, true);
    s.tb.tables.map(5, kIova + 0x1000, kData + 0x1000, 0x1000, false, true);
    s.sm.set_context(kRid, true, false, 2, true);
    s.sm.set_pasid_entry(kRid, 0, s.sl_entry(5));
    s.sm.set_context(kNoDte, true, false, 2, false);
    s.sm.set_pasid_entry(kNoDte, 0, s.sl_entry(5));
  }
  // A translation request for one entry: the status, and the entry decoded.
  tlm::tlm_response_status request(uint16_t rid, uint64_t addr, ats::Translation& x, int pasid = -1) {
    uint64_t e = 0;
    const tlm::tlm_response_status st = s.access(rid, addr, e, false, pasid, false, AddressType::TranslationRequest);
    x = ats::decode_completion(e, addr);
    return st;
  }
  // The queue handed over to the timed register path: queued invalidation off (enable() left
  // the queue empty, its head past the base), then on again with a fresh queue of 256-bit
  // descriptors, fetched from its base.
  VtdRegisterProgrammer& timed_queue() {
    s.tb.reg_write(fmt::kRegGcmd, s.tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdTe, 4);
    REQUIRE_FALSE(s.tb.reg_read(fmt::kRegGsts, 4) & fmt::kGcmdQie);
    REQUIRE(timed_prog.enable_queued_invalidation(s.tb.tables.allocate_page(), 0, s.tb.tables.allocate_page(), true));
    return timed_prog;
  }
};

}  // namespace

TEST_CASE("scalable mode with device TLBs: DTE lets translation and translated requests through", "[model][scalable][ats]") {
  ScalableAtsTb t;
  ScalableTb& s = t.s;
  CHECK(get_bit(s.tb.reg_read(fmt::kRegEcap, 8), fmt::kEcapDt));
  // A translation request through RID_PASID's PASID entry and the second level.
  ats::Translation x;
  REQUIRE(t.request(kRid, kIova, x) == tlm::TLM_OK_RESPONSE);
  CHECK(x.phys == kData);
  CHECK(x.range.log2_bytes == 12);
  CHECK((x.read && x.write));
  CHECK(s.tb.stat("ats.translations") == 1);
  // A write-only page: the completion carries W alone, and the second request is answered from
  // the IOTLB (any cached permission answers a translation request): no second walk.
  REQUIRE(t.request(kRid, kIova + 0x1000, x) == tlm::TLM_OK_RESPONSE);
  CHECK((!x.read && x.write));
  CHECK(x.phys == kData + 0x1000);
  const double walks = s.tb.stat("walks");
  REQUIRE(t.request(kRid, kIova + 0x1000, x) == tlm::TLM_OK_RESPONSE);
  CHECK((!x.read && x.write));
  CHECK(s.tb.stat("walks") == walks);
  // A translated request passes at the host physical address: no IOTLB lookup, no walk.
  s.tb.mem.storage().write64(kData + 0x40, 0x1122334455667788ULL);
  const double lookups = s.tb.stat("iotlb.lookups");
  uint64_t v = 0;
  REQUIRE(s.access(kRid, kData + 0x40, v, false, -1, false, AddressType::Translated) == tlm::TLM_OK_RESPONSE);
  CHECK(v == 0x1122334455667788ULL);
  CHECK(s.tb.stat("iotlb.lookups") == lookups);
  CHECK(s.tb.stat("walks") == walks);
  CHECK(s.tb.stat("ats.translated_requests") == 1);
  // Without DTE: the translation request is Unsupported Request, the translated request is
  // blocked; both recorded as 0x44 with their address types.
  REQUIRE(t.request(kNoDte, kIova, x) == ats::kUnsupportedRequest);
  CHECK(get_bits(s.tb.frcd_hi(0), fmt::kFrcdFrHi, fmt::kFrcdFrLo) == fmt::kSmFaultDteClear);
  CHECK(get_bits(s.tb.frcd_hi(0), fmt::kFrcdAtHi, fmt::kFrcdAtLo) == 1);
  s.next_record = 1;
  s.expect_fault(kNoDte, kData, false, fmt::kSmFaultDteClear, -1, false, AddressType::Translated);
  CHECK(get_bits(s.tb.frcd_hi(1), fmt::kFrcdAtHi, fmt::kFrcdAtLo) == 2);
  // Nothing mapped there: a successful completion with R = W = 0, no fault.
  REQUIRE(t.request(kRid, kIova + 0x100000, x) == tlm::TLM_OK_RESPONSE);
  CHECK((!x.read && !x.write));
  CHECK_FALSE(get_bit(s.tb.frcd_hi(2), fmt::kFrcdF));
}

TEST_CASE("scalable mode with device TLBs: a pass-through PASID entry completes with the address itself", "[model][scalable][ats]") {
  ScalableAtsTb t;
  const uint16_t rid = make_requester_id(0, 4, 0);
  PasidEntrySpec pt;
  pt.pgtt = fmt::Pgtt::PassThrough;
  pt.did = 6;
  t.s.sm.set_context(rid, true, false, 2, true);
  t.s.sm.set_pasid_entry(rid, 0, pt);
  ats::Translation x;
  REQUIRE(t.request(rid, 0x7654000, x) == tlm::TLM_OK_RESPONSE);
  CHECK(x.phys == 0x7654000);
  CHECK((x.read && x.write));
}

TEST_CASE("DTE without device TLBs is a reserved bit of the scalable-mode context entry", "[model][scalable][ats]") {
  ScalableTb s;
  s.enable();
  s.second_level(kRid, 0, 5, kData);
  s.sm.set_context(kRid, true, false, 2, true);
  s.sm.set_pasid_entry(kRid, 0, s.sl_entry(5));
  s.expect_fault(kRid, kIova, false, fmt::kSmFaultContextReserved);
}

TEST_CASE("descriptor 0x8: fields as Linux writes them, forwarded with the PASID and G, waited for", "[model][scalable][ats]") {
  ScalableAtsTb t;
  VtdRegisterProgrammer& prog = t.timed_queue();
  REQUIRE(prog.sync());
  const sc_core::sc_time plain = t.iqt_delay;
  CHECK(plain < t.functions.latency);
  // As Linux's qi_flush_dev_iotlb_pasid() builds it (QI_DEV_EIOTLB_PASID(p) = p << 32, _SID(s) =
  // s << 16, _QDEP(q) = q << 4, _PFSID(f) = (f & 0xf) << 12 | (f >> 4) << 52, type 8; qw1 the
  // address with ones below the size and S = bit 11), here 2 MiB at 0x40000000 for PASID 0x12345
  // of 00:02.0, whose PF is 0x1234 (made up: 4 bits in each PFSID field), queue depth 3, G set.
  const uint16_t sid = kRid, pfsid = 0x1234;
  const uint32_t pasid = 0x12345;
  fmt::WideDescriptor d;
  d.qw[0] = (uint64_t(pasid) << 32) | (uint64_t(sid) << 16) | (3ULL << 4) | 0x8 | (uint64_t(pfsid & 0xF) << 12) |
            (uint64_t(pfsid >> 4) << 52);
  d.qw[1] = 0x40000000ULL | 0xFF000ULL | (1ULL << 11) | 1;
  bool s_bit = false;
  const uint64_t range = ats::encode_range({0x40000000, 21}, s_bit);
  const fmt::WideDescriptor built = fmt::make_pasid_device_tlb_desc(sid, pfsid, 3, pasid, range, s_bit, true);
  CHECK(built.qw[0] == d.qw[0]);
  CHECK(built.qw[1] == d.qw[1]);
  prog.submit(d);
  CHECK_FALSE(t.s.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe);
  REQUIRE(t.functions.requests.size() == 1);
  const AtsFunctions::Request& r = t.functions.requests[0];
  CHECK(r.rid == sid);
  CHECK(r.has_pasid);
  CHECK(r.pasid == pasid);
  CHECK(r.global);
  CHECK(r.range.base == 0x40000000);
  CHECK(r.range.log2_bytes == 21);
  CHECK(t.s.tb.stat("ats.invalidations") == 1);
  // The descriptor does not wait; the wait descriptor behind it does.
  CHECK(t.iqt_delay < t.functions.latency);
  REQUIRE(prog.sync());
  CHECK(sc_core::sc_time_stamp() + t.iqt_delay >= r.completed);
  sc_core::sc_start(t.iqt_delay);
  // G clear, a 4 KiB range: the body's G bit stays clear. MIP 1: the second request waits for
  // the first's completion before it is sent.
  const uint64_t page = ats::encode_range({kIova, 12}, s_bit);
  prog.submit(fmt::make_pasid_device_tlb_desc(sid, 0, 1, 7, page, s_bit));
  prog.submit(fmt::make_pasid_device_tlb_desc(sid, 0, 1, 7, page, s_bit));
  REQUIRE(t.functions.requests.size() == 3);
  CHECK_FALSE(t.functions.requests[1].global);
  CHECK(t.functions.requests[1].range.log2_bytes == 12);
  CHECK(t.functions.requests[2].arrived >= t.functions.requests[1].completed);
  CHECK(t.s.tb.stat("ats.queue_depth_stalls") == 1);
  REQUIRE(prog.sync());
  CHECK(sc_core::sc_time_stamp() + t.iqt_delay >= t.functions.requests[2].completed);
}

TEST_CASE("descriptor 0x8: reserved bits, and a function that never completes", "[model][scalable][ats]") {
  ScalableAtsTb t;
  const auto iqei = [&t] { return get_bits(t.s.tb.reg_read(fmt::kRegIqer, 8), fmt::kIqerIqeiHi, fmt::kIqerIqeiLo); };
  bool s_bit = false;
  const uint64_t page = ats::encode_range({kIova, 12}, s_bit);
  fmt::WideDescriptor d = fmt::make_pasid_device_tlb_desc(kRid, 0, 0, 9, page, s_bit);
  d.qw[1] |= 1ULL << 5;  // 10:1 reserved
  t.s.tb.prog.submit(d);
  CHECK(t.s.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIqe);
  CHECK(iqei() == fmt::kIqeiReservedField);
  CHECK(t.functions.requests.empty());
  // Software repairs it in place and clears IQE: the queue resumes there.
  const uint64_t queue = t.s.tb.reg_read(fmt::kRegIqa, 8) & fmt::kTableAddrMask;
  const uint64_t head = t.s.tb.reg_read(fmt::kRegIqh, 8);
  t.s.tb.mem.storage().write64(queue + head + 8, d.qw[1] & ~(1ULL << 5));
  t.s.tb.reg_write(fmt::kRegFsts, fmt::kFstsIqe, 4);
  REQUIRE(t.functions.requests.size() == 1);
  // No function answers: ITE, and the wait behind it is not carried out.
  t.functions.present = false;
  t.s.tb.prog.submit(fmt::make_pasid_device_tlb_desc(kRid, 0, 0, 9, page, s_bit));
  CHECK(t.s.tb.reg_read(fmt::kRegFsts, 4) & fmt::kFstsIte);
  CHECK(t.s.tb.stat("ats.invalidation_timeouts") == 1);
  CHECK_FALSE(t.s.tb.prog.sync());
}
