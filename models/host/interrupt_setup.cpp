#include "iommu_sim/host/interrupt_setup.h"

#include "iommu_sim/pcie/config_space.h"
#include "iommu_sim/pcie/pcie_function.h"

namespace iommu_sim {

InterruptSetup::InterruptSetup(const InterruptSetupConfig& config, SparseMemory& memory,
                               VtdTableBuilder& pages, ApicSystem& apic)
    : m_config(config), m_irt(memory, pages, config.table_entries, config.x2apic), m_apic(apic) {}

bool InterruptSetup::run(MmioAccess& bus, MmioAccess& iommu, VtdRegisterProgrammer& vtd,
                         const std::vector<DiscoveredFunction>& functions) {
  int vf = 0;
  for (const DiscoveredFunction& f : functions) {
    const int guest = f.is_vf ? vf++ : -1;
    if (!setup_function(bus, f, guest)) return false;
  }
  if (!enable_interrupt_remapping(iommu, vtd, m_irt.irta(), m_config.allow_compatibility)) {
    m_error = "the IOMMU did not enable interrupt remapping (GSTS.IRTPS/IRES)";
    return false;
  }
  return true;
}

bool InterruptSetup::setup_function(MmioAccess& bus, const DiscoveredFunction& f, int guest) {
  const uint64_t cfg = m_config.ecam_base + (static_cast<uint64_t>(f.rid) << 12);
  const uint16_t cap = PcieFunction::kMsixCap;
  if ((bus.read(cfg + cap, 4) & 0xFF) != pci::kCapMsix) return true;  // no MSI-X: nothing to do
  const uint32_t control = static_cast<uint32_t>(bus.read(cfg + cap + pci::msix::kControl, 2));
  const unsigned vectors = (control & 0x7FF) + 1;
  const uint32_t table = static_cast<uint32_t>(bus.read(cfg + cap + pci::msix::kTable, 4));
  const uint64_t table_addr = f.bar[table & 7] + (table & ~7u);
  const bool guest_owned = guest >= 0 && static_cast<unsigned>(guest) < m_apic.config().guests.size();
  const bool posted = m_apic.config().delivery == InterruptDelivery::Posted;

  for (unsigned n = 0; n < vectors; ++n) {
    if (m_next_index >= m_irt.entries()) {
      m_error = "interrupt remapping table too small for the MSI-X vectors (" +
                std::to_string(m_irt.entries()) + " entries)";
      return false;
    }
    const unsigned index = m_next_index++;
    // Every entry checks the full requester ID: a function cannot use another's handles.
    const auto svt = irte::SourceValidation::RequesterId;
    if (guest_owned) {
      const auto g = static_cast<unsigned>(guest);
      const unsigned vcpus = static_cast<unsigned>(m_apic.config().guests[g].vcpus.size());
      const unsigned vcpu = n % vcpus;
      const auto gv = static_cast<uint8_t>(m_config.guest_vector_base + n);
      if (posted) {
        m_irt.set_posted(index, gv, m_apic.descriptor(g, vcpu), false, f.rid, svt);
      } else {
        // Remapped and ELI: a host vector on the CPU the host chose (ELI's shadow IDT maps it
        // to the guest's handler).
        const ApicSystem::HostRoute route = m_apic.route_remapped(g, vcpu, gv);
        m_irt.set_remapped(index, route.vector, route.cpu, f.rid, svt);
      }
    } else {
      // The host's own: CPU 0, an unrouted vector (the host's handlers count it).
      m_irt.set_remapped(index, static_cast<uint8_t>(0x30 + (n & 0xF)), 0, f.rid, svt);
    }
    const uint64_t entry = table_addr + 16ULL * n;
    bus.write(entry + 0, irte::make_remappable_address(static_cast<uint16_t>(index), false), 4);
    bus.write(entry + 4, 0, 4);
    bus.write(entry + 8, 0, 4);   // data: the subhandle is unused (SHV = 0)
    bus.write(entry + 12, 0, 4);  // unmask
  }
  bus.write(cfg + cap + pci::msix::kControl,
            (control | pci::msix::kCtlEnable) & ~static_cast<uint32_t>(pci::msix::kCtlFunctionMask), 2);
  return true;
}

}  // namespace iommu_sim
