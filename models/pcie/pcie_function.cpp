#include "iommu_sim/pcie/pcie_function.h"

#include "iommu_sim/common/bits.h"

namespace iommu_sim {

std::string validate(const FunctionConfig& c) {
  for (unsigned i = 0; i < 6; ++i) {
    const BarConfig& b = c.bars[i];
    const std::string name = "bars[" + std::to_string(i) + "]";
    if (b.size == 0) continue;
    if (!is_power_of_two(b.size) || b.size < 16) {
      return name + ".size: must be a power of two of at least 16";
    }
    if (!b.is64 && b.size > (1ULL << 31)) return name + ".size: too large for a 32-bit BAR";
    if (b.is64 && i == 5) return name + ".is64: a 64-bit BAR cannot start in slot 5";
    if (b.is64 && c.bars[i + 1].size != 0) {
      return "bars[" + std::to_string(i + 1) + "].size: taken by the upper half of " + name;
    }
  }
  if (c.msix_vectors > 2048) return "msix_vectors: at most 2048";
  if (c.ats.invalidate_queue_depth > 31)
    return "ats.invalidate_queue_depth: 0..31 (0 stands for 32)";
  if (c.msix_vectors > 0) {
    if (c.msix_bar > 5 || c.bars[c.msix_bar].size == 0) {
      return "msix_bar: must name an implemented BAR";
    }
    const uint64_t bar = c.bars[c.msix_bar].size;
    if (c.msix_table_offset % 8 != 0 || c.msix_table_offset + c.msix_vectors * 16ULL > bar) {
      return "msix_table_offset: table must be 8-byte aligned and inside the BAR";
    }
    if (c.msix_pba_offset % 8 != 0 ||
        c.msix_pba_offset + ((c.msix_vectors + 63) / 64) * 8ULL > bar) {
      return "msix_pba_offset: PBA must be 8-byte aligned and inside the BAR";
    }
    const bool overlap = c.msix_pba_offset < c.msix_table_offset + c.msix_vectors * 16ULL &&
                         c.msix_table_offset < c.msix_pba_offset + 8ULL;
    if (overlap) return "msix_pba_offset: overlaps the MSI-X table";
  }
  return "";
}

PcieFunction::PcieFunction(const FunctionConfig& config, bool is_vf)
    : m_config(config), m_is_vf(is_vf) {
  using namespace pci;
  init(kVendorId, 2, is_vf ? 0xFFFF : config.vendor_id);
  init(kDeviceId, 2, is_vf ? 0xFFFF : config.device_id);
  // Command: memory space (not on a VF), bus master, parity error response, SERR#, INTx disable.
  const uint16_t cmd_rw = (is_vf ? 0 : kCmdMemorySpace) | kCmdBusMaster | (1u << 6) |
                          (1u << 8) | (1u << 10);
  init(kCommand, 2, 0, cmd_rw);
  // Status: error bits are write-1-to-clear.
  init(kStatus, 2, 0, 0, 0xF900);
  init(kRevision, 1, config.revision);
  init(kClassCode, 3, config.class_code);
  init(0x0C, 1, 0, 0xFF);  // cache line size
  init(kHeaderType, 1, 0x00);
  init(kSubsystemVendorId, 2, config.subsystem_vendor_id);
  init(kSubsystemId, 2, config.subsystem_id);
  init(kInterruptLine, 1, 0xFF, 0xFF);
  init(kInterruptPin, 1, 0);  // MSI-X only
  if (!is_vf) init_bars(kBar0, config.bars);

  // PCI Express capability: version 2, device/port type 0 (endpoint).
  add_capability(kPcieCap, kCapPcie);
  init(kPcieCap + 2, 2, 0x0002);
  init(kPcieCap + 4, 4, (1u << 28) | 0x1);  // device caps: FLR, 256-byte max payload
  init(kPcieCap + 8, 2, 0x2810, 0x7CFF);    // device control
  init(kPcieCap + 0x24, 4, 0);              // device capabilities 2
  init(kPcieCap + 0x28, 2, 0, 0x0400);      // device control 2

  if (config.msix_vectors > 0) {
    add_capability(kMsixCap, kCapMsix);
    init(kMsixCap + msix::kControl, 2, (config.msix_vectors - 1) & 0x7FF,
         msix::kCtlEnable | msix::kCtlFunctionMask);
    init(kMsixCap + msix::kTable, 4, config.msix_table_offset | config.msix_bar);
    init(kMsixCap + msix::kPba, 4, config.msix_pba_offset | config.msix_bar);
  }
  // A PF's extended capabilities are its SR-IOV device's to lay out (sriov_device.h).
  if (is_vf && config.ats.present) add_ats_capability(kAtsCapVf);
}

void PcieFunction::add_ats_capability(uint16_t offset) {
  using namespace pci::ats;
  add_ext_capability(offset, pci::kExtCapAts, 1);
  // Page Aligned Request: the function's translation requests are 4 KiB aligned (Linux enables
  // ATS only on such functions).
  init(offset + kCapability, 2, (m_config.ats.invalidate_queue_depth & kCapQueueDepthMask) | kCapPageAligned);
  init(offset + kControl, 2, 0, kCtlEnable | (m_is_vf ? 0 : kCtlStuMask));
  m_ats_cap = offset;
}

bool PcieFunction::ats_enabled() const {
  return m_ats_cap && (raw(m_ats_cap + pci::ats::kControl, 2) & pci::ats::kCtlEnable);
}

unsigned PcieFunction::ats_stu_field() const {
  return m_ats_cap ? raw(m_ats_cap + pci::ats::kControl, 2) & pci::ats::kCtlStuMask : 0;
}

unsigned PcieFunction::ats_queue_depth() const {
  if (!m_ats_cap) return 0;
  const unsigned q = raw(m_ats_cap + pci::ats::kCapability, 2) & pci::ats::kCapQueueDepthMask;
  return q == 0 ? 32 : q;
}

void PcieFunction::init_bars(uint16_t base, const std::array<BarConfig, 6>& bars) {
  for (unsigned i = 0; i < 6; ++i) {
    const BarConfig& b = bars[i];
    const uint16_t off = base + 4 * i;
    if (b.size == 0) continue;
    // Memory BAR: type 10b for 64-bit, prefetchable bit 3; the size shows in the low bits
    // that cannot be written.
    const uint32_t flags = (b.is64 ? 0x4u : 0x0u) | (b.prefetchable ? 0x8u : 0x0u);
    const uint32_t low_mask = static_cast<uint32_t>(~(b.size - 1)) & 0xFFFFFFF0u;
    init(off, 4, flags, low_mask);
    if (b.is64) {
      init(off + 4, 4, 0, static_cast<uint32_t>(~(b.size - 1) >> 32));
      ++i;
    }
  }
}

uint64_t PcieFunction::bar_address_in(const ConfigSpace& cs, uint16_t base,
                                      const std::array<BarConfig, 6>& bars, unsigned i) {
  if (i >= 6 || bars[i].size == 0) return 0;
  uint64_t addr = cs.raw(base + 4 * i, 4) & 0xFFFFFFF0u;
  if (bars[i].is64) addr |= static_cast<uint64_t>(cs.raw(base + 4 * i + 4, 4)) << 32;
  return addr;
}

uint64_t PcieFunction::bar_address(unsigned i) const {
  if (m_is_vf) return 0;
  return bar_address_in(*this, pci::kBar0, m_config.bars, i);
}

bool PcieFunction::msix_enabled() const {
  return m_config.msix_vectors > 0 &&
         (raw(kMsixCap + pci::msix::kControl, 2) & pci::msix::kCtlEnable);
}

bool PcieFunction::msix_function_mask() const {
  return m_config.msix_vectors > 0 &&
         (raw(kMsixCap + pci::msix::kControl, 2) & pci::msix::kCtlFunctionMask);
}

void PcieFunction::on_write(uint16_t, uint32_t) {}

}  // namespace iommu_sim
