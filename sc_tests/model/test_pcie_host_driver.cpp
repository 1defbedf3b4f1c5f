// Host driver against the configuration-space model through a fake ECAM bus (the kernel links in through the workload headers).
#include <catch2/catch.hpp>

#include "iommu_sim/host/host_driver.h"
#include "iommu_sim/pcie/sriov_device.h"

using namespace iommu_sim;

namespace {
// Absolute addresses: the ECAM window goes to one SR-IOV device, nothing else answers.
struct FakeBus : MmioAccess {
  SriovDevice& dev;
  uint64_t ecam = 0xE0000000;
  explicit FakeBus(SriovDevice& d) : dev(d) {}
  uint64_t read(uint64_t addr, unsigned size) override {
    const uint16_t rid = static_cast<uint16_t>((addr - ecam) >> 12);
    return dev.config_read(rid, (addr - ecam) & 0xFFF, size).value_or(0xFFFFFFFFu);
  }
  void write(uint64_t addr, uint64_t v, unsigned size) override {
    const uint16_t rid = static_cast<uint16_t>((addr - ecam) >> 12);
    dev.config_write(rid, (addr - ecam) & 0xFFF, size, static_cast<uint32_t>(v));
  }
};
}  // namespace

TEST_CASE("host driver enumerates assigns BARs enables VFs and maps domains", "[model]") {
  SriovDeviceConfig dc;
  dc.sriov.total_vfs = 4;
  SriovDevice dev(dc, 0x0100);
  FakeBus bus(dev);
  SparseMemory mem;
  VtdTableBuilder tables(mem, 0x1000000, 16 << 20);
  MapOnceStrategy strategy(tables);
  HostDriverConfig cfg;
  cfg.num_vfs = 3;
  cfg.domains = {1, 2, 2};  // PF in domain 1, VF0 and VF1 share 2, VF2 gets 4 (index + 1)
  HostDriver drv(cfg, bus, mem, tables, strategy);
  const auto& fns = drv.enumerate();
  REQUIRE(drv.ok());
  REQUIRE(fns.size() == 4);
  CHECK(fns[0].rid == 0x0100);
  CHECK(fns[1].rid == 0x0101);
  CHECK(fns[3].rid == 0x0103);
  CHECK(fns[1].is_vf);
  CHECK(fns[1].device_id == 0x1520);
  CHECK(fns[0].bar_size[0] == 64 * 1024);
  CHECK(fns[0].bar[0] == 0xC0000000u);
  // VF BARs follow the PF's, VF k at base + k * 16 KiB.
  CHECK(fns[1].bar[0] == 0xC0010000u);
  CHECK(fns[2].bar[0] == 0xC0014000u);
  CHECK(dev.pf().num_vfs() == 3);
  CHECK(dev.pf().vf_enable());
  CHECK(dev.decode(0xC0014010)->function == 2);
  CHECK(fns[3].domain == 4);

  drv.assign_domains();
  NicWorkloadConfig nic;
  nic.ring_size = 8;
  const IovaWriter w = drv.map_regions(2, nic_regions(nic));
  nic_fill_rings(nic, w);
  const auto pa = tables.translate(2, nic.rx_ring + 16);
  REQUIRE(pa.has_value());
  // The descriptor the driver wrote holds the buffer's IOVA.
  CHECK(mem.read64(*pa) == nic.buffer_base + nic.buffer_stride);
  CHECK(tables.translate(2, nic.buffer_base).has_value());
  CHECK_FALSE(tables.translate(1, nic.buffer_base).has_value());  // the PF's domain is separate

  CHECK_FALSE(dev.may_dma(1));
  drv.start_devices();
  CHECK(dev.may_dma(0));
  CHECK(dev.may_dma(3));
}

TEST_CASE("host driver enables ATS where asked: STU into the PF, Enable everywhere, TT=01b", "[model]") {
  SriovDeviceConfig dc;
  dc.sriov.total_vfs = 2;
  dc.pf.ats.present = true;
  dc.pf.ats.invalidate_queue_depth = 4;
  SriovDevice dev(dc, 0x0100);
  FakeBus bus(dev);
  SparseMemory mem;
  VtdTableBuilder tables(mem, 0x1000000, 16 << 20);
  MapOnceStrategy strategy(tables);
  HostDriverConfig cfg;
  cfg.num_vfs = 2;
  cfg.ats = {{0x0100, 9}};  // 2 MiB STU
  namespace a = pci::ats;
  {
    // An IOMMU without device TLBs: nothing is enabled.
    HostDriver drv(cfg, bus, mem, tables, strategy);
    drv.enumerate();
    drv.enable_ats(false);
    for (const auto& f : drv.functions()) CHECK_FALSE(f.ats);
    CHECK_FALSE(dev.function(0).ats_enabled());
  }
  HostDriver drv(cfg, bus, mem, tables, strategy);
  drv.enumerate();
  drv.enable_ats(true);
  const auto& fns = drv.functions();
  REQUIRE(fns.size() == 3);
  for (const auto& f : fns) {
    CHECK(f.ats);
    CHECK(f.ats_queue_depth == 4);
  }
  CHECK(fns[0].ats_cap == SriovPf::kAtsCap);
  CHECK(fns[1].ats_cap == PcieFunction::kAtsCapVf);
  CHECK(dev.function(0).ats_enabled());
  CHECK(dev.function(2).ats_enabled());
  CHECK(dev.pf().ats_stu_field() == 9);
  CHECK(dev.ats_stu_log2() == 21);
  drv.assign_domains();
  const uint64_t ce = tables.context_entry_address(0x0102);
  CHECK(get_bits(mem.read64(ce), vtd::kCtxTtHi, vtd::kCtxTtLo) ==
        static_cast<uint64_t>(TranslationType::AllowAts));

  // A device that is not asked for keeps ATS off.
  SriovDevice other(dc, 0x0200);
  FakeBus other_bus(other);
  HostDriverConfig none = cfg;
  none.ats = {{0x0300, 0}};
  HostDriver drv2(none, other_bus, mem, tables, strategy);
  drv2.enumerate();
  drv2.enable_ats(true);
  for (const auto& f : drv2.functions()) CHECK_FALSE(f.ats);
  CHECK_FALSE(other.function(0).ats_enabled());
  // A PF without Page Aligned Request stays off (Linux enables ATS only on such functions), and
  // so do its VFs, which would need its STU.
  SriovDevice unaligned(dc, 0x0300);
  PcieFunction& upf = unaligned.function(0);
  upf.set_raw(upf.ats_capability() + a::kCapability, 2, 4);
  FakeBus unaligned_bus(unaligned);
  HostDriver drv3(none, unaligned_bus, mem, tables, strategy);
  drv3.enumerate();
  drv3.enable_ats(true);
  REQUIRE(drv3.functions().size() == 3);
  for (const auto& f : drv3.functions()) CHECK_FALSE(f.ats);
  CHECK_FALSE(unaligned.function(1).ats_enabled());
}
