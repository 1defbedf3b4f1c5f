// The host software of a platform without PCIe enumeration: it builds the VT-d tables for the
// configured domains, enables translation through the registers (and the invalidation queue),
// and then releases the devices. Its fault handler drains the fault records on every fault
// event, as a driver's would, so that the IOMMU's ring does not overflow..
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/host_driver.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/host/vtd_tables_scalable.h"

namespace iommu_sim {

struct MappingSpec {
  uint64_t iova = 0, phys = 0, size = 0;  // phys: guest physical for a nested domain
  bool read = true, write = true;
  bool user = true;  // first level: U/S (user requests allowed)
  PageSize page = PageSize::Size4K;
};

// One IOMMU domain: the devices (requester IDs) that use it, its page-table depth and
// translation type, and what is mapped.
struct DomainSpec {
  uint16_t id = 1;
  unsigned levels = 4;
  // translate (second level) | pass-through | blocked; with scalable-mode tables also
  // first-level and nested (a guest's first level in guest memory over `parent`'s second level)
  std::string translation = "translate";
  bool fault_processing_disable = false;
  std::vector<uint16_t> devices;
  std::vector<MappingSpec> mappings;
  // Scalable-mode tables only.
  uint32_t pasid = 0;               // the PASID the devices' requests carry; 0: none (RID_PASID)
  unsigned first_level_levels = 4;  // first-level and nested: 4 or 5
  uint16_t parent = 0;              // nested: the second-level domain beneath (its DID is this one's)
  uint64_t guest_tables_base = 0;   // nested: guest-physical pages for the first-level tables
  uint64_t guest_tables_size = 0;
  bool supervisor_requests = false; // the PASID entry's SRE
  bool second_level_ad = false;     // the PASID entry's SLADE
};

// What the host's driver sets up for one PCIe function: the IOVA regions to map and, once
// mapped, the contents to write there (rings, scatter-gather lists).
struct FunctionSoftware {
  std::vector<DmaRegion> regions;
  std::function<void(const IovaWriter&)> fill;  // may be empty
};

struct HostSetupConfig {
  uint64_t register_base = 0xFED90000;  // where the host bus decodes the IOMMU registers
  uint64_t table_base = 0x1000000;      // physical range the host builds VT-d tables in
  uint64_t table_size = 64ULL << 20;
  std::string invalidation = "queued";  // queued | register
  std::string tables = "legacy";        // legacy | scalable (RTADDR.TTM; scalable needs queued)
  std::vector<DomainSpec> domains;
  // PCIe: when enabled, the driver enumerates the hierarchy, enables SR-IOV, gives every
  // function a domain and maps what its software needs, before translation is switched on.
  bool pcie = false;
  HostDriverConfig driver;
};

class HostSetup : public sc_core::sc_module {
 public:
  static constexpr uint32_t kFaultVector = 0xF0;
  static constexpr uint32_t kFaultEventAddress = 0xFEE00000;  // xAPIC destination 0

  tlm_utils::simple_initiator_socket<HostSetup> bus;  // to the host bus (registers, memory)

  // Tables are written into `memory` directly (they exist before any device runs); registers
  // are programmed over `bus` in simulated time.
  HostSetup(sc_core::sc_module_name name, const HostSetupConfig& config, SparseMemory& memory,
            StatsRegistry& stats);

  // Called from the set-up thread once everything is set up, just before the devices are
  // released (`iommu-sim check` stops the simulation there).
  void set_ready_hook(std::function<void()> hook) { m_ready_hook = std::move(hook); }
  // Notified once translation is on; devices wait for it.
  const sc_core::sc_event& ready_event() const { return m_ready_event; }
  const bool& ready() const { return m_ready; }
  // The fault event interrupt arrived: the fault handler reads and clears the fault records.
  void fault_event() { m_fault_event.notify(sc_core::SC_ZERO_TIME); }
  // Every fault the handler read, oldest first.
  const std::vector<VtdFault>& faults_handled() const { return m_faults; }

  // False when the set-up failed (message says why): the IOMMU did not acknowledge a command,
  // or the description gave too little of something (then error_key() names the key). The
  // failure is also reported as an SC_ERROR of type msg::kHost, which by default throws out of
  // sc_start().
  bool ok() const { return m_ok; }
  const std::string& error() const { return m_error; }
  // The configuration key whose value was too small ("host.table_size"); empty when the
  // failure is the simulation's own.
  const std::string& error_key() const { return m_error_key; }

  VtdTableBuilder& tables() { return m_tables; }
  // The scalable-mode tables (null with legacy tables) and a domain's first-level tables.
  ScalableTables* scalable_tables() { return m_scalable.get(); }
  FirstLevelTables* first_level_tables(uint16_t domain);

  // PCIe software per discovered function (called once per function after enumeration, in
  // discovery order: the platform answers by requester ID).
  using SoftwareFor = std::function<FunctionSoftware(const DiscoveredFunction&)>;
  void set_pcie_software(SoftwareFor fn) { m_software_for = std::move(fn); }
  // Interrupt software run once translation is on and before Bus Master Enable (remapping
  // tables, MSI-X entries): `bus` takes absolute addresses, `iommu` register offsets. Returns ""
  // or what went wrong.
  using InterruptSoftware = std::function<std::string(MmioAccess& bus, MmioAccess& iommu,
                                                      VtdRegisterProgrammer& vtd,
                                                      const std::vector<DiscoveredFunction>&)>;
  void set_interrupt_software(InterruptSoftware fn) { m_interrupt_software = std::move(fn); }
  // The functions the driver found and their domains (empty before set-up or without PCIe).
  const std::vector<DiscoveredFunction>& functions() const { return m_functions; }

 private:
  SC_HAS_PROCESS(HostSetup);
  void setup_thread();
  void set_up();
  void fail_input(const std::string& key, const std::string& message);
  void fail_table_memory(const TableMemoryExhausted& e);
  void fault_handler_thread();
  bool run_pcie_driver();
  // Invalidates the device-TLB of every function the driver enabled ATS on.
  bool flush_device_tlbs(VtdRegisterProgrammer& vtd);
  // Records the failure (ok(), error()) and reports it (msg::kHost, SC_ERROR).
  void fail(const std::string& what);
  void synchronise(const sc_core::sc_time& delay);
  // Scalable mode (host_setup_scalable.cpp): the tables of the configured domains, and the
  // PCIe functions' contexts at RID_PASID once the driver has given them domains.
  void build_scalable_tables();
  void attach_functions_scalable();

  HostSetupConfig m_config;
  SparseMemory& m_memory;
  VtdTableBuilder m_tables;
  std::unique_ptr<ScalableTables> m_scalable;
  std::map<uint16_t, std::unique_ptr<FirstLevelTables>> m_first_level;  // by domain
  SocketMmio m_iommu_regs;  // the IOMMU's registers, at offsets from their base
  SocketMmio m_bus;         // absolute addresses (ECAM, BARs)
  SoftwareFor m_software_for;
  InterruptSoftware m_interrupt_software;
  std::function<void()> m_ready_hook;
  std::unique_ptr<MappingStrategy> m_strategy;
  std::unique_ptr<HostDriver> m_driver;
  std::vector<DiscoveredFunction> m_functions;
  bool m_ready = false;
  bool m_ok = true;
  std::string m_error, m_error_key;
  sc_core::sc_event m_ready_event;
  sc_core::sc_event m_fault_event;
  std::vector<VtdFault> m_faults;
  Counter& m_mmio_accesses;
  Counter& m_faults_handled;
};

}  // namespace iommu_sim
