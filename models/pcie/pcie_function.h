// Configuration space of one endpoint function: a type-0 header with BARs, the PCI Express
// capability and MSI-X. Plain C++. SR-IOV physical and virtual functions build on it
// (sriov_device.h).
//
// Fixed layout (so tests and the host driver can rely on it):
//   0x40 PCI Express capability (endpoint, version 2), 0x3C bytes
//   0x80 MSI-X capability, when msix_vectors > 0
//   0x100 first extended capability (SR-IOV on a PF, then ARI at 0x140 and ATS at 0x150; ATS
//         at 0x100 on a VF)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "iommu_sim/pcie/config_space.h"

namespace iommu_sim {

struct BarConfig {
  uint64_t size = 0;          // bytes, a power of two >= 16; 0 = BAR not implemented
  bool is64 = true;           // a 64-bit BAR takes this slot and the next one
  bool prefetchable = false;
};

// The ATS Extended Capability (PCIe Address Translation Services).
struct AtsCapabilityConfig {
  bool present = false;
  unsigned invalidate_queue_depth = 0;  // invalidations the function holds at once, 1..31; 0 = 32
};

struct FunctionConfig {
  uint16_t vendor_id = 0x8086;
  uint16_t device_id = 0x1521;
  uint8_t revision = 1;
  uint32_t class_code = 0x020000;  // network controller, Ethernet
  uint16_t subsystem_vendor_id = 0x8086;
  uint16_t subsystem_id = 0x0001;
  std::array<BarConfig, 6> bars{};  // bars[0] = 64 KiB 64-bit by default (see below)
  // MSI-X: vectors (0 = no MSI-X capability), table and PBA in BAR msix_bar.
  unsigned msix_vectors = 4;
  unsigned msix_bar = 0;
  uint32_t msix_table_offset = 0x2000;
  uint32_t msix_pba_offset = 0x3000;
  AtsCapabilityConfig ats;          // a VF has its own, with the same queue depth

  FunctionConfig() { bars[0].size = 64 * 1024; }
};

// "" when valid, else a message naming the offending field.
std::string validate(const FunctionConfig& config);

class PcieFunction : public ConfigSpace {
 public:
  static constexpr uint16_t kPcieCap = 0x40;
  static constexpr uint16_t kMsixCap = 0x80;
  static constexpr uint16_t kAtsCapVf = 0x100;

  // is_vf: a virtual function (vendor/device ID read 0xFFFF, BARs read zero and live in the
  // PF's SR-IOV capability, Memory Space Enable is read-only zero: VF MSE governs decoding).
  PcieFunction(const FunctionConfig& config, bool is_vf = false);

  const FunctionConfig& config() const { return m_config; }
  bool is_vf() const { return m_is_vf; }
  uint16_t command() const { return static_cast<uint16_t>(raw(pci::kCommand, 2)); }
  bool bus_master() const { return command() & pci::kCmdBusMaster; }
  bool memory_enabled() const { return command() & pci::kCmdMemorySpace; }

  // Address assigned to BAR i (0 when unimplemented or the upper half of a 64-bit BAR).
  uint64_t bar_address(unsigned i) const;

  bool msix_enabled() const;
  bool msix_function_mask() const;

  // ATS: the capability's offset (0: none), its Enable bit, its STU field (a VF's reads zero:
  // the VF uses its PF's) and its Invalidate Queue Depth (1..32).
  uint16_t ats_capability() const { return m_ats_cap; }
  bool ats_enabled() const;
  unsigned ats_stu_field() const;
  unsigned ats_queue_depth() const;

 protected:
  void on_write(uint16_t dword_offset, uint32_t old_value) override;
  // Installs the BAR mask for a BAR register block at `base` (the header's BAR0 or the VF BAR
  // block of an SR-IOV capability).
  void init_bars(uint16_t base, const std::array<BarConfig, 6>& bars);
  static uint64_t bar_address_in(const ConfigSpace& cs, uint16_t base,
                                 const std::array<BarConfig, 6>& bars, unsigned i);
  // Appends the ATS Extended Capability at `offset` (config().ats).
  void add_ats_capability(uint16_t offset);

 private:
  FunctionConfig m_config;
  bool m_is_vf;
  uint16_t m_ats_cap = 0;
};

}  // namespace iommu_sim
