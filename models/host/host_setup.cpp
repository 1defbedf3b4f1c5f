#include "host/host_setup.h"

#include <cstring>

namespace iommu_sim {

namespace {
TranslationType translation_type(const std::string& t) {
  if (t == "pass-through") return TranslationType::PassThrough;
  if (t == "blocked") return TranslationType::Reserved;  // TT=3: every request faults (0xD)
  return TranslationType::Untranslated;
}
}  // namespace

HostSetup::HostSetup(sc_core::sc_module_name name, const HostSetupConfig& config,
                     SparseMemory& memory, StatsRegistry& stats)
    : sc_module(name),
      bus("bus"),
      m_config(config),
      m_memory(memory),
      m_tables(memory, config.table_base, config.table_size),
      m_iommu_regs(bus, config.register_base, [this](const sc_core::sc_time& d) { synchronise(d); }),
      m_bus(bus, 0, [this](const sc_core::sc_time& d) { synchronise(d); }),
      m_mmio_accesses(stats.counter(std::string(this->name()) + ".mmio_accesses")),
      m_faults_handled(stats.counter(std::string(this->name()) + ".faults_handled")) {
  // Tables first: they are plain memory contents, ready before time 0.
  if (m_config.tables == "scalable") {
    build_scalable_tables();
  } else {
    for (const DomainSpec& d : m_config.domains) {
      m_tables.create_domain(d.id, d.levels);
      for (uint16_t rid : d.devices)
        m_tables.set_context(rid, d.id, d.levels, translation_type(d.translation), d.fault_processing_disable);
      for (const MappingSpec& m : d.mappings)
        m_tables.map(d.id, m.iova, m.phys, m.size, m.read, m.write, m.page);
    }
  }
  SC_THREAD(setup_thread);
  SC_THREAD(fault_handler_thread);
}

bool HostSetup::run_pcie_driver() {
  m_strategy = std::make_unique<MapOnceStrategy>(m_tables);
  m_driver = std::make_unique<HostDriver>(m_config.driver, m_bus, m_memory, m_tables, *m_strategy);
  m_functions = m_driver->enumerate();
  if (!m_driver->ok()) {
    m_ok = false;
    m_error = "PCIe enumeration: " + m_driver->error();
    return false;
  }
  m_driver->assign_domains();
  m_functions = m_driver->functions();
  for (unsigned i = 0; i < m_functions.size(); ++i) {
    const FunctionSoftware sw = m_software_for ? m_software_for(m_functions[i]) : FunctionSoftware{};
    const IovaWriter writer = m_driver->map_regions(i, sw.regions);
    if (!m_driver->ok()) {
      m_ok = false;
      m_error = "PCIe driver: " + m_driver->error();
      return false;
    }
    if (sw.fill) sw.fill(writer);
  }
  return true;
}

void HostSetup::fault_handler_thread() {
  for (;;) {
    sc_core::wait(m_fault_event);
    VtdRegisterProgrammer vtd(m_iommu_regs, m_memory);
    for (const VtdFault& f : vtd.drain_faults()) {
      m_faults.push_back(f);
      m_faults_handled.inc();
    }
  }
}

void HostSetup::setup_thread() {
  VtdRegisterProgrammer vtd(m_iommu_regs, m_memory);
  // Fault events go to the host's interrupt window (CPU 0, the driver's fault vector), unmasked.
  m_iommu_regs.write(vtd::kRegFedata, kFaultVector, 4);
  m_iommu_regs.write(vtd::kRegFeaddr, kFaultEventAddress, 4);
  m_iommu_regs.write(vtd::kRegFeuaddr, 0, 4);
  m_iommu_regs.write(vtd::kRegFectl, 0, 4);
  if (m_config.pcie && !run_pcie_driver()) return;
  if (m_scalable) attach_functions_scalable();
  if (m_config.invalidation == "queued") {
    const uint64_t queue = m_tables.allocate_page();
    const uint64_t status = m_tables.allocate_page();
    // Scalable mode: 256-bit descriptors (IQA.DW), as the PASID-based ones may need.
    if (!vtd.enable_queued_invalidation(queue, 0, status, m_scalable != nullptr)) {
      m_ok = false;
      m_error = "the IOMMU did not enable its invalidation queue (GSTS.QIES)";
      return;
    }
  }
  if (!vtd.enable(m_scalable ? m_scalable->root_table() : m_tables.root_table(), m_scalable != nullptr)) {
    m_ok = false;
    m_error = "the IOMMU did not enable translation (GSTS.RTPS/TES)";
    return;
  }
  if (m_interrupt_software) {
    const std::string err = m_interrupt_software(m_bus, m_iommu_regs, vtd, m_functions);
    if (!err.empty()) {
      m_ok = false;
      m_error = err;
      return;
    }
  }
  // Devices start only once their domains translate: Bus Master Enable comes last.
  if (m_driver) m_driver->start_devices();
  m_ready = true;
  m_ready_event.notify(sc_core::SC_ZERO_TIME);
}

// Register programming is not on a hot path: the host thread waits out every access.
void HostSetup::synchronise(const sc_core::sc_time& delay) {
  m_mmio_accesses.inc();
  sc_core::wait(delay);
}

}  // namespace iommu_sim
