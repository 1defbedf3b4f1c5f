// PCIe ATS without a kernel: the range and completion encodings against what Linux and QEMU write
// and read, the device-TLB on the IOTLB's model, and the ATS capability in the PF's and the VFs'
// configuration spaces.
#include <catch2/catch.hpp>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/iommu/vtd_format.h"
#include "iommu_sim/pcie/device_tlb.h"
#include "iommu_sim/pcie/sriov_device.h"

using namespace iommu_sim;

TEST_CASE("ATS range encoding: S bit and ones below the size", "[unit]") {
  bool s = true;
  CHECK(ats::encode_range({0x12345000, 12}, s) == 0x12345000);
  CHECK_FALSE(s);
  CHECK(ats::encode_range({0x12344000, 13}, s) == 0x12344000);  // 8 KiB: bit 12 zero
  CHECK(s);
  CHECK(ats::encode_range({0x12344000, 14}, s) == 0x12345000);  // 16 KiB: bit 12 one, 13 zero
  CHECK(ats::encode_range({0x40200000, 21}, s) == 0x402FF000);  // 2 MiB: bits 19:12 ones
  CHECK(ats::encode_range({0x80000000, 30}, s) == 0x9FFFF000);  // 1 GiB: bits 28:12 ones
  CHECK(ats::encode_range({0, 64}, s) == 0x7FFFFFFFFFFFF000ULL);
  for (unsigned log2 = 12; log2 <= 64; ++log2) {
    const uint64_t base = log2 >= 40 ? 0 : (0xABCDEULL << 40) >> (40 - log2) << log2 >> log2 << log2;
    const ats::Range r{log2 >= 64 ? 0 : base, log2};
    const uint64_t a = ats::encode_range(r, s);
    const ats::Range back = ats::decode_range(a, s);
    CHECK(back.log2_bytes == log2);
    CHECK(back.base == r.base);
  }
  // Every address within the range decodes to the same range.
  CHECK(ats::decode_range(0x400FF000, true).base == 0x40000000);
  CHECK(ats::decode_range(0x400FF000, true).log2_bytes == 21);
  // All ones in 63:12 (no size encodes it) is every address too.
  CHECK(ats::decode_range(~0ULL, true).all());
}

TEST_CASE("Linux's and QEMU's device-TLB invalidation encodings decode to the same ranges", "[unit]") {
  // Linux qi_flush_dev_iotlb: 2^mask pages at addr: addr |= (1 << (12 + mask - 1)) - 1, S = 1.
  for (unsigned mask = 1; mask <= 18; ++mask) {
    const uint64_t addr = 0x7F0000000ULL & ~((1ULL << (12 + mask)) - 1);
    const uint64_t field = (addr | ((1ULL << (12 + mask - 1)) - 1)) & ats::kAddressMask;
    const ats::Range r = ats::decode_range(field, true);
    CHECK(r.log2_bytes == 12 + mask);
    CHECK(r.base == addr);
    // QEMU: size = 8 KiB << (trailing ones of addr >> 12).
    unsigned ones = 0;
    while ((field >> (12 + ones)) & 1) ++ones;
    CHECK(r.bytes() == (8192ULL << ones));
  }
  // Linux's "everything": address 0, mask MAX_AGAW_PFN_WIDTH (52).
  const uint64_t all = (0 | ((1ULL << (12 + 52 - 1)) - 1)) & ats::kAddressMask;
  CHECK(ats::decode_range(all, true).all());
  // And the descriptor that carries it (PFSID split in two fields, as the VT-d layout has it).
  const vtd::Descriptor d = vtd::make_device_tlb_desc(0x0103, 0x0100, 0, all, true);
  CHECK((d.lo & 0xF) == vtd::kDescDeviceTlb);
  CHECK(get_bits(d.lo, 47, 32) == 0x0103);
  CHECK(get_bits(d.lo, 15, 12) == 0x0);
  CHECK(get_bits(d.lo, 63, 52) == 0x010);
  CHECK(get_bits(d.lo, 20, 16) == 0);
  CHECK((d.hi & 1) == 1);
  CHECK((d.lo & vtd::kDescDevTlbReserved0) == 0);
  CHECK((d.hi & vtd::kDescDevTlbReserved1) == 0);
}

TEST_CASE("translation completion entries for 4 KiB, 2 MiB and 1 GiB pages", "[unit]") {
  struct Case {
    unsigned log2;
    uint64_t untranslated, phys;
  };
  for (const Case c : {Case{12, 0x10005000, 0x80123000}, Case{21, 0x10200000, 0x80400000},
                       Case{30, 0x40000000, 0x1C0000000ULL}}) {
    ats::Translation t;
    t.range = {c.untranslated, c.log2};
    t.phys = c.phys;
    t.read = true;
    t.write = c.log2 != 21;
    const uint64_t e = ats::encode_completion(t);
    CHECK(get_bit(e, ats::kCplSize) == (c.log2 > 12));
    CHECK(get_bit(e, ats::kCplRead));
    CHECK(get_bit(e, ats::kCplWrite) == t.write);
    const ats::Translation back = ats::decode_completion(e, c.untranslated + 0x123000 % (1ULL << c.log2));
    CHECK(back.phys == c.phys);
    CHECK(back.range.log2_bytes == c.log2);
    CHECK(back.range.base == c.untranslated);
    CHECK(back.write == t.write);
    CHECK_FALSE(back.untranslated_only);
  }
  ats::Translation irq;
  irq.range = {0xFEE00000, 12};
  irq.phys = 0xFEE00000;
  irq.write = true;
  irq.untranslated_only = true;
  const uint64_t e = ats::encode_completion(irq);
  CHECK(e == (0xFEE00000ULL | 0x2 | 0x4));  // R = 0, W = 1, U = 1
}

TEST_CASE("device-TLB caches completions as its page sizes allow and invalidates ranges", "[unit]") {
  DeviceTlbConfig c;
  c.sets = 4;
  c.ways = 2;
  c.largest_page = PageSize::Size2M;
  DeviceTlb tlb(c);
  ats::Translation big;  // a 1 GiB translation: cached as the 2 MiB piece holding the address
  big.range = {0x40000000, 30};
  big.phys = 0x100000000ULL;
  big.read = big.write = true;
  const auto e = tlb.fill(big, 0x40312345);
  REQUIRE(e);
  CHECK(e->size == PageSize::Size2M);
  CHECK(e->vpn == (0x40200000 >> 12));
  CHECK(e->pfn == ((0x100000000ULL + 0x200000) >> 12));
  REQUIRE(tlb.lookup(0x40300));
  CHECK_FALSE(tlb.lookup(0x40500));  // another 2 MiB piece of the same translation: not cached
  // An 8 KiB completion goes in as 4 KiB.
  ats::Translation small;
  small.range = {0x10000000, 13};
  small.phys = 0x20000000;
  small.read = true;
  CHECK(tlb.fill(small, 0x10001000)->size == PageSize::Size4K);
  CHECK(tlb.fill(small, 0x10001000)->pfn == 0x20001);
  // Neither R nor W, or U: nothing is cached.
  ats::Translation none;
  none.range = {0x50000000, 12};
  CHECK_FALSE(tlb.fill(none, 0x50000000));
  ats::Translation u = small;
  u.untranslated_only = true;
  CHECK_FALSE(tlb.fill(u, 0x10000000));
  CHECK(tlb.valid_entries() == 2);
  // A 4 KiB invalidation inside the 2 MiB entry removes the whole entry.
  CHECK(tlb.invalidate({0x40301000, 12}) == 1);
  CHECK_FALSE(tlb.lookup(0x40300));
  CHECK(tlb.invalidate({0, 64}) == 1);
  CHECK(tlb.valid_entries() == 0);
}

TEST_CASE("device-TLB replaces like an IotlbModel of its geometry and policy", "[unit]") {
  for (ReplacementKind k : {ReplacementKind::Lru, ReplacementKind::Plru, ReplacementKind::Fifo,
                            ReplacementKind::Random}) {
    DeviceTlbConfig c;
    c.sets = 2;
    c.ways = 4;
    c.policy = k;
    c.seed = 7;
    DeviceTlb tlb(c);
    IotlbConfig ic;
    ic.sets = 2;
    ic.ways = 4;
    ic.policy = k;
    ic.seed = 7;
    IotlbModel ref(ic);
    uint64_t x = 1;
    for (int i = 0; i < 2000; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const uint64_t vpn = (x >> 33) % 40;
      ats::Translation t;
      t.range = {vpn << 12, 12};
      t.phys = (vpn + 0x1000) << 12;
      t.read = true;
      const bool hit = tlb.lookup(vpn).has_value();
      const IotlbHit r = ref.lookup(0, vpn);
      REQUIRE(hit == r.hit);
      if (!hit) {
        tlb.fill(t, vpn << 12);
        ref.fill(IotlbEntry{0, vpn, vpn + 0x1000, true, false, PageSize::Size4K});
      }
    }
    CHECK(tlb.stats().hits == ref.stats().hits);
    CHECK(tlb.stats().evictions == ref.stats().evictions);
  }
  DeviceTlbConfig bad;
  bad.sets = 3;
  CHECK(validate(bad).find("sets") != std::string::npos);
  CHECK_THROWS_AS(DeviceTlb(bad), std::invalid_argument);
}

TEST_CASE("ATS capability in the PF and every VF: queue depth, page aligned, STU from the PF", "[unit]") {
  namespace a = pci::ats;
  SriovDeviceConfig c;
  c.sriov.total_vfs = 2;
  c.pf.ats.present = true;
  c.pf.ats.invalidate_queue_depth = 8;
  SriovDevice d(c, 0x0100);
  d.config_write(0x0100, SriovPf::kSriovCap + pci::sriov::kControl, 2, pci::sriov::kCtlAriCapableHierarchy);
  d.config_write(0x0100, SriovPf::kSriovCap + pci::sriov::kNumVfs, 2, 2);
  d.config_write(0x0100, SriovPf::kSriovCap + pci::sriov::kControl, 2,
                 pci::sriov::kCtlAriCapableHierarchy | pci::sriov::kCtlVfEnable | pci::sriov::kCtlVfMse);
  // The PF's chain: SR-IOV at 0x100 -> ARI at 0x140 -> ATS at 0x150 (last).
  CHECK((*d.config_read(0x0100, SriovPf::kAriCap, 4) >> 20) == SriovPf::kAtsCap);
  const uint32_t hdr = *d.config_read(0x0100, SriovPf::kAtsCap, 4);
  CHECK((hdr & 0xFFFF) == pci::kExtCapAts);
  CHECK(((hdr >> 16) & 0xF) == 1);
  CHECK((hdr >> 20) == 0);
  // A VF's own at 0x100, first and last of its chain.
  CHECK((*d.config_read(0x0101, PcieFunction::kAtsCapVf, 4) & 0xFFFF) == pci::kExtCapAts);
  for (uint16_t rid : {0x0100, 0x0101, 0x0102}) {
    const uint16_t cap = rid == 0x0100 ? SriovPf::kAtsCap : PcieFunction::kAtsCapVf;
    CHECK(*d.config_read(rid, cap + a::kCapability, 2) == (8u | a::kCapPageAligned));
    CHECK(*d.config_read(rid, cap + a::kControl, 2) == 0u);
    d.config_write(rid, cap + a::kCapability, 2, 0);  // read-only
    CHECK(*d.config_read(rid, cap + a::kCapability, 2) == (8u | a::kCapPageAligned));
  }
  // STU: the PF's is writable, a VF's reads zero whatever is written; Enable is each function's.
  d.config_write(0x0100, SriovPf::kAtsCap + a::kControl, 2, a::kCtlEnable | 3);
  d.config_write(0x0102, PcieFunction::kAtsCapVf + a::kControl, 2, a::kCtlEnable | 5);
  CHECK(*d.config_read(0x0100, SriovPf::kAtsCap + a::kControl, 2) == (a::kCtlEnable | 3u));
  CHECK(*d.config_read(0x0102, PcieFunction::kAtsCapVf + a::kControl, 2) == a::kCtlEnable);
  CHECK(d.function(0).ats_enabled());
  CHECK_FALSE(d.function(1).ats_enabled());
  CHECK(d.function(2).ats_enabled());
  CHECK(d.function(2).ats_stu_field() == 0);
  CHECK(d.ats_stu_log2() == 15);  // every function uses the PF's: 2^(12+3)
  CHECK(d.function(1).ats_queue_depth() == 8);
  // Without the capability: none anywhere, and a queue depth of 0 means 32.
  SriovDeviceConfig plain;
  SriovDevice p(plain, 0x0200);
  CHECK(p.function(0).ats_capability() == 0);
  CHECK((*p.config_read(0x0200, SriovPf::kAriCap, 4) >> 20) == 0);
  c.pf.ats.invalidate_queue_depth = 0;
  SriovDevice deep(c, 0x0300);
  CHECK(deep.function(0).ats_queue_depth() == 32);
  c.pf.ats.invalidate_queue_depth = 32;
  CHECK(validate(c).find("ats.invalidate_queue_depth") != std::string::npos);
}
