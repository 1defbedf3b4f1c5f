// Host software for device interrupts under interrupt remapping: builds the interrupt-remapping
// table for every PCIe function's MSI-X vectors (remapped, ELI or posted, as the host interrupt
// model is configured), programs each MSI-X table entry with a remappable-format address whose handle
// is the IRTE index, enables MSI-X, and turns remapping on. The functions of guest g are the
// VFs: VF g belongs to guest g; the PF's vectors go to the host (CPU 0).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "iommu_sim/host/apic_system.h"
#include "iommu_sim/host/host_driver.h"
#include "iommu_sim/host/interrupt_tables.h"
#include "iommu_sim/host/vtd_tables.h"

namespace iommu_sim {

struct InterruptSetupConfig {
  unsigned table_entries = 256;      // IRT size (power of two)
  bool allow_compatibility = false;  // CFI
  bool x2apic = false;               // IRTA.EIME
  uint64_t ecam_base = 0xE0000000;
  uint8_t guest_vector_base = 0x30;  // MSI-X vector n of a guest's VF is guest vector base + n
};

class InterruptSetup {
 public:
  InterruptSetup(const InterruptSetupConfig& config, SparseMemory& memory, VtdTableBuilder& pages,
                 ApicSystem& apic);

  // `bus` takes absolute physical addresses (ECAM, BARs); `iommu` offsets from the register base.
  // False with error() when the IOMMU did not come up or the table is too small.
  bool run(MmioAccess& bus, MmioAccess& iommu, VtdRegisterProgrammer& vtd,
           const std::vector<DiscoveredFunction>& functions);

  const std::string& error() const { return m_error; }
  unsigned entries_used() const { return m_next_index; }
  InterruptTableBuilder& table() { return m_irt; }

 private:
  bool setup_function(MmioAccess& bus, const DiscoveredFunction& f, int guest);

  InterruptSetupConfig m_config;
  InterruptTableBuilder m_irt;
  ApicSystem& m_apic;
  unsigned m_next_index = 0;
  std::string m_error;
};

}  // namespace iommu_sim
