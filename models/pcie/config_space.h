// 4 KiB configuration space of one PCIe function with per-bit write behaviour. Plain C++.
//
// Every byte has a writable mask (bits software may change) and a write-1-to-clear mask; the
// rest is read-only. Functions build their header and capabilities with the init helpers, then
// react to writes in on_write() (BAR masks, SR-IOV rules) instead of special-casing reads.
#pragma once

#include <array>
#include <cstdint>

namespace iommu_sim {

namespace pci {
// Type-0 header offsets.
constexpr uint16_t kVendorId = 0x00, kDeviceId = 0x02, kCommand = 0x04, kStatus = 0x06;
constexpr uint16_t kRevision = 0x08, kClassCode = 0x09, kHeaderType = 0x0E, kBar0 = 0x10;
constexpr uint16_t kSubsystemVendorId = 0x2C, kSubsystemId = 0x2E, kCapPtr = 0x34;
constexpr uint16_t kInterruptLine = 0x3C, kInterruptPin = 0x3D;
// Command and status bits.
constexpr uint16_t kCmdMemorySpace = 1u << 1, kCmdBusMaster = 1u << 2;
constexpr uint16_t kStatusCapList = 1u << 4;
// Capability IDs.
constexpr uint8_t kCapPcie = 0x10, kCapMsix = 0x11;
constexpr uint16_t kExtCapAri = 0x000E, kExtCapAts = 0x000F, kExtCapSriov = 0x0010;
constexpr uint16_t kExtCapBase = 0x100;
// SR-IOV capability register offsets (from the capability's start).
namespace sriov {
constexpr uint16_t kCaps = 0x04, kControl = 0x08, kStatus = 0x0A, kInitialVfs = 0x0C;
constexpr uint16_t kTotalVfs = 0x0E, kNumVfs = 0x10, kFuncDepLink = 0x12, kFirstVfOffset = 0x14;
constexpr uint16_t kVfStride = 0x16, kVfDeviceId = 0x1A, kSupportedPageSizes = 0x1C;
constexpr uint16_t kSystemPageSize = 0x20, kVfBar0 = 0x24, kSize = 0x40;
constexpr uint16_t kCtlVfEnable = 1u << 0, kCtlVfMigration = 1u << 1, kCtlVfMse = 1u << 3;
constexpr uint16_t kCtlAriCapableHierarchy = 1u << 4;
}  // namespace sriov
// ATS extended capability (from the capability's start): capability register at +4 (Invalidate
// Queue Depth 4:0, 0 = 32; Page Aligned Request 5), control register at +6 (Smallest
// Translation Unit 4:0, 2^(12+STU) bytes, read-only zero on a VF, which uses its PF's; Enable 15).
namespace ats {
constexpr uint16_t kCapability = 0x04, kControl = 0x06, kSize = 0x08;
constexpr uint16_t kCapQueueDepthMask = 0x1F, kCapPageAligned = 1u << 5;
constexpr uint16_t kCtlStuMask = 0x1F, kCtlEnable = 1u << 15;
}  // namespace ats
// MSI-X capability: message control at +2 (table size - 1 in 10:0, function mask 14,
// enable 15), table offset/BIR at +4, PBA offset/BIR at +8.
namespace msix {
constexpr uint16_t kControl = 0x02, kTable = 0x04, kPba = 0x08, kSize = 0x0C;
constexpr uint16_t kCtlFunctionMask = 1u << 14, kCtlEnable = 1u << 15;
}  // namespace msix
}  // namespace pci

class ConfigSpace {
 public:
  static constexpr unsigned kSize = 4096;

  ConfigSpace();
  virtual ~ConfigSpace() = default;

  // Accesses of 1, 2 or 4 bytes that do not cross a dword; others read all ones / are dropped
  // and return false.
  uint32_t read(uint16_t offset, unsigned len) const;
  bool write(uint16_t offset, unsigned len, uint32_t value);

  // Raw access for the model itself (no masks, no hooks).
  uint32_t raw(uint16_t offset, unsigned len) const;
  void set_raw(uint16_t offset, unsigned len, uint32_t value);

  // Counts the changes to the space (every write and every change the model makes itself): what
  // is worked out from the space may be kept while this stays the same.
  uint64_t generation() const { return m_generation; }

 protected:
  // Sets the reset value and the write behaviour of len bytes at offset.
  void init(uint16_t offset, unsigned len, uint32_t value, uint32_t writable = 0,
            uint32_t w1c = 0);
  void set_writable(uint16_t offset, unsigned len, uint32_t writable);
  // Appends a capability to the list at 0x34 / an extended capability to the list at 0x100.
  // Offsets are chosen by the caller so that layouts are fixed and documented.
  void add_capability(uint16_t offset, uint8_t id);
  void add_ext_capability(uint16_t offset, uint16_t id, uint8_t version);
  // Called after a write changed the space; old_value is the dword before the write.
  virtual void on_write(uint16_t dword_offset, uint32_t old_value) {
    (void)dword_offset;
    (void)old_value;
  }

 private:
  std::array<uint8_t, kSize> m_data{};
  std::array<uint8_t, kSize> m_writable{};
  std::array<uint8_t, kSize> m_w1c{};
  uint16_t m_last_cap = 0;
  uint16_t m_last_ext_cap = 0;
  uint64_t m_generation = 0;
};

}  // namespace iommu_sim
