// Configuration-space conformance of the endpoint function and the SR-IOV device (no kernel).
#include <catch2/catch.hpp>

#include "iommu_sim/pcie/msix.h"
#include "iommu_sim/pcie/sriov_device.h"

using namespace iommu_sim;
namespace sr = pci::sriov;

namespace {
constexpr uint16_t S = SriovPf::kSriovCap;

SriovDeviceConfig small_device(uint16_t total_vfs = 4) {
  SriovDeviceConfig c;
  c.sriov.total_vfs = total_vfs;
  return c;
}

void enable_vfs(SriovDevice& d, uint16_t n, bool ari = true) {
  const uint16_t pf = d.pf_rid();
  if (ari) d.config_write(pf, S + sr::kControl, 2, sr::kCtlAriCapableHierarchy);
  d.config_write(pf, S + sr::kNumVfs, 2, n);
  d.config_write(pf, S + sr::kControl, 2,
                 sr::kCtlVfEnable | sr::kCtlVfMse | (ari ? sr::kCtlAriCapableHierarchy : 0));
}
}  // namespace

TEST_CASE("type 0 header identifies the PF", "[unit]") {
  SriovDevice d(small_device(), 0x0100);
  CHECK(d.config_read(0x0100, pci::kVendorId, 2) == 0x8086u);
  CHECK(d.config_read(0x0100, pci::kDeviceId, 2) == 0x1521u);
  CHECK(d.config_read(0x0100, pci::kVendorId, 4) == 0x15218086u);
  CHECK(d.config_read(0x0100, pci::kClassCode, 1) == 0x00u);  // prog-if
  CHECK((*d.config_read(0x0100, 0x08, 4) >> 8) == 0x020000u);
  CHECK((*d.config_read(0x0100, pci::kHeaderType, 1) & 0x7F) == 0u);
  CHECK((*d.config_read(0x0100, pci::kStatus, 2) & pci::kStatusCapList) != 0);
  // Read-only fields ignore writes.
  d.config_write(0x0100, pci::kVendorId, 2, 0x1234);
  CHECK(d.config_read(0x0100, pci::kVendorId, 2) == 0x8086u);
}

TEST_CASE("command register bits and status write one to clear", "[unit]") {
  SriovDevice d(small_device());
  PcieFunction& pf = d.function(0);
  CHECK_FALSE(pf.bus_master());
  pf.write(pci::kCommand, 2, 0xFFFF);
  CHECK(pf.bus_master());
  CHECK(pf.memory_enabled());
  CHECK((pf.read(pci::kCommand, 2) & 0x1) == 0);  // I/O space not implemented
  pf.set_raw(pci::kStatus, 2, pf.raw(pci::kStatus, 2) | 0x8000);  // detected parity error
  pf.write(pci::kStatus, 2, 0x8000);
  CHECK((pf.read(pci::kStatus, 2) & 0x8000) == 0);
  CHECK((pf.read(pci::kStatus, 2) & pci::kStatusCapList) != 0);
}

TEST_CASE("BAR sizing reports the size and keeps the type bits", "[unit]") {
  SriovDeviceConfig c = small_device();
  c.pf.bars[0] = BarConfig{64 * 1024, true, false};
  c.pf.bars[2] = BarConfig{4096, false, true};
  SriovDevice d(c);
  PcieFunction& pf = d.function(0);
  pf.write(pci::kBar0, 4, 0xFFFFFFFF);
  pf.write(pci::kBar0 + 4, 4, 0xFFFFFFFF);
  CHECK(pf.read(pci::kBar0, 4) == (0xFFFF0000u | 0x4u));
  CHECK(pf.read(pci::kBar0 + 4, 4) == 0xFFFFFFFFu);
  const uint64_t probed = (uint64_t(pf.read(pci::kBar0 + 4, 4)) << 32) |
                          (pf.read(pci::kBar0, 4) & ~0xFull);
  CHECK(~probed + 1 == 64 * 1024);
  pf.write(pci::kBar0 + 8, 4, 0xFFFFFFFF);
  CHECK(pf.read(pci::kBar0 + 8, 4) == (0xFFFFF000u | 0x8u));
  // Unimplemented BARs read zero even after all ones are written.
  pf.write(pci::kBar0 + 12, 4, 0xFFFFFFFF);
  CHECK(pf.read(pci::kBar0 + 12, 4) == 0u);
  // Assignment: the address reads back, low bits dropped.
  pf.write(pci::kBar0, 4, 0xC0010123);
  pf.write(pci::kBar0 + 4, 4, 0x1);
  CHECK(pf.bar_address(0) == 0x1C0010000ull);
}

TEST_CASE("capability list holds PCI Express and MSI-X", "[unit]") {
  SriovDevice d(small_device());
  const PcieFunction& pf = d.function(0);
  uint8_t ptr = static_cast<uint8_t>(pf.read(pci::kCapPtr, 1));
  std::vector<uint8_t> ids;
  for (int guard = 0; ptr != 0 && guard < 48; ++guard) {
    ids.push_back(static_cast<uint8_t>(pf.read(ptr, 1)));
    ptr = static_cast<uint8_t>(pf.read(ptr + 1, 1));
  }
  REQUIRE(ids == std::vector<uint8_t>{pci::kCapPcie, pci::kCapMsix});
  CHECK((pf.read(PcieFunction::kPcieCap + 2, 2) & 0xF0) == 0x00);  // endpoint
  CHECK((pf.read(PcieFunction::kPcieCap + 2, 2) & 0xF) == 2);      // version 2
  const uint16_t m = PcieFunction::kMsixCap;
  CHECK((pf.read(m + pci::msix::kControl, 2) & 0x7FF) == 3u);  // 4 vectors
  CHECK(pf.read(m + pci::msix::kTable, 4) == 0x2000u);        // offset 0x2000, BIR 0
  CHECK(pf.read(m + pci::msix::kPba, 4) == 0x3000u);
}

TEST_CASE("extended capabilities hold SR-IOV then ARI", "[unit]") {
  SriovDevice d(small_device());
  const PcieFunction& pf = d.function(0);
  const uint32_t h0 = pf.read(0x100, 4);
  CHECK((h0 & 0xFFFF) == pci::kExtCapSriov);
  CHECK(((h0 >> 16) & 0xF) == 1u);
  CHECK((h0 >> 20) == SriovPf::kAriCap);
  const uint32_t h1 = pf.read(SriovPf::kAriCap, 4);
  CHECK((h1 & 0xFFFF) == pci::kExtCapAri);
  CHECK((h1 >> 20) == 0u);
  CHECK(((pf.read(SriovPf::kAriCap + 4, 2) >> 8) & 0xFF) == 0u);  // next function number
}

TEST_CASE("SR-IOV capability fields sit at their offsets", "[unit]") {
  SriovDeviceConfig c = small_device(7);
  c.sriov.initial_vfs = 6;
  c.sriov.vf_device_id = 0x10CA;
  c.sriov.first_vf_offset = 0x80;
  c.sriov.vf_stride = 2;
  SriovDevice d(c);
  const PcieFunction& pf = d.function(0);
  CHECK(pf.read(S + 0x04, 4) == 0x2u);  // ARI Capable Hierarchy Preserved
  CHECK(pf.read(S + 0x08, 2) == 0u);
  CHECK(pf.read(S + 0x0C, 2) == 6u);
  CHECK(pf.read(S + 0x0E, 2) == 7u);
  CHECK(pf.read(S + 0x10, 2) == 0u);
  CHECK(pf.read(S + 0x12, 1) == 0u);
  CHECK(pf.read(S + 0x14, 2) == 8u);  // ARI Capable Hierarchy clear: the no-ARI offset
  CHECK(pf.read(S + 0x16, 2) == 1u);
  CHECK(pf.read(S + 0x1A, 2) == 0x10CAu);
  CHECK(pf.read(S + 0x1C, 4) == 0x553u);
  CHECK(pf.read(S + 0x20, 4) == 0x1u);
  d.function(0).write(S + 0x08, 2, sr::kCtlAriCapableHierarchy);
  CHECK(pf.read(S + 0x14, 2) == 0x80u);  // offset and stride follow ARI Capable Hierarchy
  CHECK(pf.read(S + 0x16, 2) == 2u);
}

TEST_CASE("NumVFs is writable only while VF Enable is clear", "[unit]") {
  SriovDevice d(small_device(4));
  SriovPf& pf = d.pf();
  pf.write(S + sr::kNumVfs, 2, 3);
  CHECK(pf.num_vfs() == 3);
  pf.write(S + sr::kNumVfs, 2, 9);  // above TotalVFs: ignored
  CHECK(pf.num_vfs() == 3);
  pf.write(S + sr::kControl, 2, sr::kCtlVfEnable);
  pf.write(S + sr::kNumVfs, 2, 2);
  CHECK(pf.num_vfs() == 3);
  CHECK(pf.refused_writes() == 2);
  pf.write(S + sr::kControl, 2, 0);
  pf.write(S + sr::kNumVfs, 2, 2);
  CHECK(pf.num_vfs() == 2);
}

TEST_CASE("ARI Capable Hierarchy cannot change while VFs are enabled", "[unit]") {
  SriovDevice d(small_device(4));
  SriovPf& pf = d.pf();
  pf.write(S + sr::kNumVfs, 2, 1);
  pf.write(S + sr::kControl, 2, sr::kCtlVfEnable);
  pf.write(S + sr::kControl, 2, sr::kCtlVfEnable | sr::kCtlAriCapableHierarchy);
  CHECK_FALSE(pf.ari_capable_hierarchy());
  CHECK(pf.first_vf_offset() == 8);
}

TEST_CASE("VFs answer configuration requests only once enabled", "[unit]") {
  SriovDevice d(small_device(4), 0x0300);
  const uint16_t vf0 = 0x0301, vf3 = 0x0304;
  CHECK_FALSE(d.config_read(vf0, 0, 4).has_value());
  enable_vfs(d, 2);
  CHECK(d.config_read(vf0, 0, 4) == 0xFFFFFFFFu);  // vendor and device ID read 0xFFFF
  CHECK(d.config_read(0x0302, 0, 2) == 0xFFFFu);
  CHECK_FALSE(d.config_read(0x0303, 0, 4).has_value());  // VF 2 beyond NumVFs
  CHECK_FALSE(d.config_read(vf3, 0, 4).has_value());
  // A VF carries the PF's class code and its own capability list.
  CHECK((*d.config_read(vf0, 0x08, 4) >> 8) == 0x020000u);
  CHECK(d.config_read(vf0, pci::kCapPtr, 1) == PcieFunction::kPcieCap);
  // VF header BARs are read-only zero; Memory Space Enable is read-only zero.
  d.config_write(vf0, pci::kBar0, 4, 0xFFFFFFFF);
  CHECK(d.config_read(vf0, pci::kBar0, 4) == 0u);
  d.config_write(vf0, pci::kCommand, 2, pci::kCmdMemorySpace | pci::kCmdBusMaster);
  CHECK(d.config_read(vf0, pci::kCommand, 2) == pci::kCmdBusMaster);
  CHECK(d.may_dma(1));
  CHECK_FALSE(d.may_dma(2));  // present, bus master still off
  // Clearing VF Enable removes the VFs again.
  d.config_write(0x0300, S + sr::kControl, 2, sr::kCtlAriCapableHierarchy);
  CHECK_FALSE(d.config_read(vf0, 0, 4).has_value());
  CHECK_FALSE(d.may_dma(1));
}

TEST_CASE("VF routing IDs follow offset and stride and carry into the next bus", "[unit]") {
  SriovDeviceConfig c = small_device(8);
  c.sriov.first_vf_offset = 0xF0;
  c.sriov.vf_stride = 4;
  SriovDevice d(c, 0x0510);  // PF at 05:02.0
  enable_vfs(d, 8);
  // 0x0510 + 0xF0 = 0x0600: already on bus 6.
  CHECK(d.rid_of(1) == 0x0600);
  CHECK(d.rid_of(2) == 0x0604);
  CHECK(d.rid_of(8) == 0x061C);
  CHECK(d.function_for_rid(0x0604) == 2u);
  CHECK_FALSE(d.function_for_rid(0x0602).has_value());  // between strides
  CHECK(d.config_read(0x061C, 0, 2) == 0xFFFFu);

  SriovDeviceConfig c2 = small_device(4);
  c2.sriov.first_vf_offset = 0xFE;
  c2.sriov.vf_stride = 1;
  SriovDevice d2(c2, 0x0700);
  enable_vfs(d2, 4);
  CHECK(d2.rid_of(1) == 0x07FE);
  CHECK(d2.rid_of(2) == 0x07FF);
  CHECK(d2.rid_of(3) == 0x0800);  // carry into bus 8
  CHECK(d2.function_for_rid(0x0801) == 4u);
}

TEST_CASE("ARI makes the whole devfn byte the function number", "[unit]") {
  SriovDeviceConfig c = small_device(16);
  SriovDevice d(c, 0x0200);
  enable_vfs(d, 16, true);
  // With ARI, VF 9 is function 10: devfn 0x0A, which without ARI would be device 1 function 2.
  CHECK(d.rid_of(10) == 0x020A);
  CHECK(d.function_for_rid(0x020A) == 10u);
  SriovDevice d2(c, 0x0200);
  enable_vfs(d2, 16, false);
  CHECK(d2.rid_of(1) == 0x0208);  // no ARI: VFs start at device 1
}

TEST_CASE("VF BARs size per VF and place VF n at base plus n times size", "[unit]") {
  SriovDeviceConfig c = small_device(4);
  c.sriov.vf_bars[0] = BarConfig{16 * 1024, true, false};
  SriovDevice d(c, 0x0100);
  SriovPf& pf = d.pf();
  pf.write(S + sr::kVfBar0, 4, 0xFFFFFFFF);
  pf.write(S + sr::kVfBar0 + 4, 4, 0xFFFFFFFF);
  CHECK(pf.read(S + sr::kVfBar0, 4) == (0xFFFFC000u | 0x4u));
  pf.write(S + sr::kVfBar0, 4, 0xD0000000);
  pf.write(S + sr::kVfBar0 + 4, 4, 0);
  pf.write(pci::kBar0, 4, 0xC0000000);
  pf.write(pci::kBar0 + 4, 4, 0);
  CHECK_FALSE(d.decode(0xD0004010).has_value());  // VFs not enabled
  CHECK_FALSE(d.decode(0xC0000010).has_value());  // PF memory space off
  pf.write(pci::kCommand, 2, pci::kCmdMemorySpace);
  enable_vfs(d, 3);
  auto pf_hit = d.decode(0xC0000010);
  REQUIRE(pf_hit);
  CHECK(pf_hit->function == 0);
  CHECK(pf_hit->offset == 0x10);
  auto hit = d.decode(0xD0004010);
  REQUIRE(hit);
  CHECK(hit->function == 2);  // VF 1
  CHECK(hit->bar == 0);
  CHECK(hit->offset == 0x10);
  CHECK(d.decode(0xD0008000)->function == 3);
  CHECK_FALSE(d.decode(0xD000C000).has_value());  // VF 3 beyond NumVFs
  // VF MSE off: no VF decodes.
  pf.write(S + sr::kControl, 2, sr::kCtlVfEnable | sr::kCtlAriCapableHierarchy);
  CHECK_FALSE(d.decode(0xD0004010).has_value());
}

TEST_CASE("invalid device configs name the field", "[unit]") {
  SriovDeviceConfig c = small_device(4);
  c.sriov.vf_stride = 0;
  CHECK(validate(c).rfind("sriov.vf_stride", 0) == 0);
  c = small_device(4);
  c.pf.bars[0].size = 1000;
  CHECK(validate(c).rfind("pf.bars[0].size", 0) == 0);
  c = small_device(4);
  c.sriov.vf_bars[0].size = 4096;  // too small for the MSI-X table at 0x2000
  CHECK(validate(c).rfind("sriov.vf_msix_table_offset", 0) == 0);
  CHECK_THROWS_AS(SriovDevice(c), std::invalid_argument);
}

TEST_CASE("MSI-X message is a function of the table entry", "[unit]") {
  MsixTable t(4);
  MsixMessage m;
  CHECK(t.trigger(0, m) == MsixTable::Trigger::Disabled);
  t.set_enabled(true);
  CHECK(t.trigger(7, m) == MsixTable::Trigger::NoSuchVector);
  // Entry 1: address 0xFEE01000, data 0x41, still masked.
  t.write_table(16 + 0, 4, 0xFEE01000);
  t.write_table(16 + 4, 4, 0);
  t.write_table(16 + 8, 4, 0x41);
  CHECK(t.trigger(1, m) == MsixTable::Trigger::Pending);
  CHECK(t.pending(1));
  CHECK(t.read_pba(0, 8) == 0x2u);
  // Unmasking delivers the pending message.
  auto delivered = t.write_table(16 + 12, 4, 0);
  REQUIRE(delivered);
  CHECK(delivered->address == 0xFEE01000u);
  CHECK(delivered->data == 0x41u);
  CHECK_FALSE(t.pending(1));
  CHECK(t.trigger(1, m) == MsixTable::Trigger::Sent);
  CHECK(m.address == 0xFEE01000u);
  t.set_function_mask(true);
  CHECK(t.trigger(1, m) == MsixTable::Trigger::Pending);
  uint8_t raw[16] = {0x00, 0x20, 0xE0, 0xFE, 0, 0, 0, 0, 0x30, 0, 0, 0, 1, 0, 0, 0};
  CHECK_FALSE(msix_message(raw).has_value());
  raw[12] = 0;
  CHECK(msix_message(raw)->address == 0xFEE02000u);
  CHECK(msix_message(raw)->data == 0x30u);
}

TEST_CASE("what the root port asks on every DMA follows every change of configuration space", "[unit]") {
  SriovDevice d(small_device(4), 0x0300);
  enable_vfs(d, 2, false);  // without ARI: VFs at 0x0301, 0x0302 (offset 1, stride 1)
  const uint16_t pf = d.pf_rid(), vf0 = d.rid_of(1);
  // Asked once so that the answers are kept, then changed behind the device's back.
  CHECK_FALSE(d.may_dma(0));
  CHECK_FALSE(d.may_dma(1));
  d.function(0).write(pci::kCommand, 2, pci::kCmdBusMaster);  // straight into the PF's space
  CHECK(d.may_dma(0));
  d.config_write(vf0, pci::kCommand, 2, pci::kCmdBusMaster);
  CHECK(d.may_dma(1));
  d.function(1).write(pci::kCommand, 2, 0);
  CHECK_FALSE(d.may_dma(1));
  d.config_write(vf0, pci::kCommand, 2, pci::kCmdBusMaster);
  CHECK(d.may_dma(1));
  // The PF's SR-IOV control changes a VF's presence and its routing ID.
  const uint16_t before = d.rid_of(2);
  d.config_write(pf, S + sr::kControl, 2, 0);  // VF Enable off
  CHECK_FALSE(d.may_dma(1));
  d.config_write(pf, S + sr::kControl, 2, sr::kCtlAriCapableHierarchy);
  CHECK(d.rid_of(2) == static_cast<uint16_t>(pf + d.pf().first_vf_offset() + d.pf().vf_stride()));
  d.config_write(pf, S + sr::kControl, 2, sr::kCtlVfEnable | sr::kCtlAriCapableHierarchy);
  CHECK(d.may_dma(1));
  CHECK(d.rid_of(2) != before);  // ARI moved the VFs
  CHECK_FALSE(d.may_dma(5));     // no such function
}
