// Host driver model for the PCIe hierarchy: enumerates through ECAM, sizes and assigns BARs,
// enables SR-IOV, gives every function an IOMMU domain, maps the IOVA regions its workload
// touches (through a MappingStrategy), writes the rings / SG lists, and finally sets Bus Master
// Enable so the devices start. Plain C++: it talks to the hierarchy through an MmioAccess whose
// offsets are absolute physical addresses, and builds VT-d tables with a VtdTableBuilder; an
// SC_THREAD wrapper (or a test) provides both. Enabling translation in the IOMMU's registers is
// the VtdRegisterProgrammer's job and is left to the caller (HostSetup in platforms today).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/pcie/nic_workload.h"  // DmaRegion, IovaWriter

namespace iommu_sim {

// The mapping step, behind one interface so studies can swap strategies (single-use, shared,
// persistent, direct-map, deferred, optimistic). The set-up policy here maps once.
class MappingStrategy {
 public:
  virtual ~MappingStrategy() = default;
  virtual std::string name() const = 0;
  // Makes [iova, iova + size) of `domain` reach [phys, phys + size).
  virtual void map(uint16_t domain, uint64_t iova, uint64_t phys, uint64_t size,
                   bool device_writes) = 0;
};

// Maps every region once at set-up, 4 KiB pages, read always and write where the device writes.
class MapOnceStrategy : public MappingStrategy {
 public:
  explicit MapOnceStrategy(VtdTableBuilder& tables) : m_tables(tables) {}
  std::string name() const override { return "map-once"; }
  void map(uint16_t domain, uint64_t iova, uint64_t phys, uint64_t size,
           bool device_writes) override;

 private:
  VtdTableBuilder& m_tables;
};

struct HostDriverConfig {
  uint64_t ecam_base = 0xE0000000;
  uint8_t bus_first = 0;
  uint8_t bus_last = 3;            // buses scanned (VFs beyond them are still found)
  uint64_t mmio_base = 0xC0000000;  // BARs are assigned upwards from here
  uint64_t mmio_size = 0x10000000;
  uint16_t num_vfs = 0;            // NumVFs written to every SR-IOV PF (capped at TotalVFs)
  bool ari = true;                 // set ARI Capable Hierarchy where the PF has ARI
  // Domain per function in discovery order (PF, then its VFs); missing entries get
  // index + 1, i.e. a domain (guest) of their own.
  std::vector<uint16_t> domains;
  unsigned levels = 4;             // page-table depth of every domain
  uint64_t buffer_base = 0x40000000;  // physical memory for rings and buffers
  uint64_t buffer_size = 1ULL << 30;
  // PFs on which the driver enables ATS, for the PF and its VFs, with the Smallest Translation
  // Unit it writes into the PF (2^(12+stu) bytes).
  struct AtsRequest {
    uint16_t pf_rid = 0;
    unsigned stu = 0;
  };
  std::vector<AtsRequest> ats;
};

std::string validate(const HostDriverConfig& config);

struct DiscoveredFunction {
  uint16_t rid = 0;
  bool is_vf = false;
  uint16_t pf_rid = 0;
  uint16_t vendor_id = 0, device_id = 0;  // a VF reports the PF's vendor and VF Device ID
  uint64_t bar[6] = {};
  uint64_t bar_size[6] = {};
  uint16_t domain = 0;
  uint16_t ats_cap = 0;             // offset of the ATS capability (0: none)
  bool ats = false;                 // the driver enabled ATS: its context allows device TLBs
  unsigned ats_queue_depth = 0;     // Invalidate Queue Depth, 1..32
};

class HostDriver {
 public:
  HostDriver(const HostDriverConfig& config, MmioAccess& bus, SparseMemory& memory,
             VtdTableBuilder& tables, MappingStrategy& strategy);

  // Scans buses, assigns BARs (memory space on), enables VFs. Returns what it found, PFs
  // followed by their VFs. False in `ok()` with a message if the MMIO window ran out.
  const std::vector<DiscoveredFunction>& enumerate();
  // ATS on every function config.ats names whose capability has Page Aligned Request, as Linux
  // does: STU into the PF, then ATS Enable on the PF and on each VF. Only where the IOMMU has
  // device TLBs (ECAP.DT). Call after enumerate(), before assign_domains().
  void enable_ats(bool iommu_has_device_tlbs);
  // Context entries for every function, in its domain; TT allows device TLBs where ATS is on.
  void assign_domains();
  // Maps the regions function `index` (enumeration order) uses and returns a writer that puts
  // data at its IOVAs, for the rings and SG lists.
  IovaWriter map_regions(unsigned index, const std::vector<DmaRegion>& regions);
  // Bus Master Enable on every function: the devices start.
  void start_devices();

  const std::vector<DiscoveredFunction>& functions() const { return m_functions; }
  bool ok() const { return m_error.empty(); }
  const std::string& error() const { return m_error; }

 private:
  uint32_t cfg_read(uint16_t rid, uint16_t reg, unsigned len);
  void cfg_write(uint16_t rid, uint16_t reg, unsigned len, uint32_t value);
  // Sizes and assigns the six BARs at `reg` (header or VF BARs); `count` copies for VF BARs.
  void assign_bars(uint16_t rid, uint16_t reg, uint64_t* bar, uint64_t* size, uint64_t count);
  uint16_t find_ext_cap(uint16_t rid, uint16_t id);
  void enable_sriov(DiscoveredFunction pf, uint16_t cap);

  HostDriverConfig m_config;
  MmioAccess& m_bus;
  SparseMemory& m_memory;
  VtdTableBuilder& m_tables;
  MappingStrategy& m_strategy;
  std::vector<DiscoveredFunction> m_functions;
  uint64_t m_next_mmio;
  uint64_t m_next_buffer;
  std::string m_error;
};

}  // namespace iommu_sim
