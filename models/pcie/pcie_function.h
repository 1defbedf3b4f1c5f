// Configuration space of one endpoint function: a type-0 header with BARs, the PCI Express
// capability and MSI-X. Plain C++. SR-IOV physical and virtual functions build on it
// (sriov_device.h).
//
// Fixed layout (so tests and the host driver can rely on it):
//   0x40 PCI Express capability (endpoint, version 2), 0x3C bytes
//   0x80 MSI-X capability, when msix_vectors > 0
//   0x100 first extended capability (SR-IOV on a PF, then ARI at 0x140)
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

  FunctionConfig() { bars[0].size = 64 * 1024; }
};

// "" when valid, else a message naming the offending field.
std::string validate(const FunctionConfig& config);

class PcieFunction : public ConfigSpace {
 public:
  static constexpr uint16_t kPcieCap = 0x40;
  static constexpr uint16_t kMsixCap = 0x80;

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

 protected:
  void on_write(uint16_t dword_offset, uint32_t old_value) override;
  // Installs the BAR mask for a BAR register block at `base` (the header's BAR0 or the VF BAR
  // block of an SR-IOV capability).
  void init_bars(uint16_t base, const std::array<BarConfig, 6>& bars);
  static uint64_t bar_address_in(const ConfigSpace& cs, uint16_t base,
                                 const std::array<BarConfig, 6>& bars, unsigned i);

 private:
  FunctionConfig m_config;
  bool m_is_vf;
};

}  // namespace iommu_sim
