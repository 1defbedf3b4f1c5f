// The IOMMU behind an interconnect and devices of your own that know nothing of iommu_sim: they
// use plain TLM-2.0 sockets, and the interconnect adds the one thing the IOMMU needs, the
// requester ID (iommu_sim::PcieExtension), as a PCIe root port does.
//
//   nic  (00:03.0) --+                                   memory
//                    +--> IoFabric --> upstream [IOMMU] memory --> (iommu_sim::MemoryTarget)
//   disk (00:04.0) --+    (requester ID per port)  regs  interrupt --> FaultLine
//   Host (VT-d tables and registers) ---------------+
//
// The host gives each device its own domain with the same IOVA range, so the same address lands
// in different memory; the NIC takes a DMI pointer for its buffer, the host then unmaps the
// buffer's first page and invalidates the IOTLB, which revokes the pointer, and the NIC's next
// write there faults.
#include <cstdio>
#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/iommu.h"

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_US;

constexpr uint64_t kBuffer = 0x100000;  // every device's IOVA window, 64 KiB

// ---- Your models: TLM-2.0 only ----

// A DMA master. It writes its buffer, asks for a DMI pointer to its first page, and writes again
// once the host is expected to have taken that page away.
class Device : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Device> socket;

  Device(sc_core::sc_module_name name, uint32_t tag, const sc_core::sc_event& start)
      : sc_module(name), socket("socket"), m_tag(tag), m_start(start) {
    socket.register_invalidate_direct_mem_ptr(this, &Device::invalidate);
    SC_THREAD(run);
  }

 private:
  SC_HAS_PROCESS(Device);

  tlm::tlm_response_status write(uint64_t address, uint32_t value, sc_time& delay) {
    tlm::tlm_generic_payload p;
    p.set_command(tlm::TLM_WRITE_COMMAND);
    p.set_address(address);
    p.set_data_ptr(reinterpret_cast<unsigned char*>(&value));
    p.set_data_length(4);
    p.set_streaming_width(4);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    socket->b_transport(p, delay);
    return p.get_response_status();
  }

  void run() {
    wait(m_start);
    sc_time delay = sc_core::SC_ZERO_TIME;
    for (uint64_t a = kBuffer; a < kBuffer + 4 * 256; a += 256) write(a, m_tag | a >> 8, delay);
    std::printf("%s: 4 writes into its buffer, %.0f ns\n", name(), delay.to_seconds() * 1e9);
    tlm::tlm_generic_payload p;
    p.set_address(kBuffer);
    p.set_command(tlm::TLM_WRITE_COMMAND);
    if (socket->get_direct_mem_ptr(p, m_dmi) && m_dmi.is_write_allowed())
      std::printf("%s: DMI for IOVA 0x%llx-0x%llx\n", name(), (unsigned long long)m_dmi.get_start_address(),
                  (unsigned long long)m_dmi.get_end_address());
    wait(sc_time(30, SC_US) + delay);
    delay = sc_core::SC_ZERO_TIME;
    if (m_dmi.get_dmi_ptr()) std::printf("%s: still holds its DMI pointer\n", name());
    const bool ok = write(kBuffer + 0x10, 1, delay) == tlm::TLM_OK_RESPONSE;
    std::printf("%s: write to IOVA 0x%llx: %s\n", name(), (unsigned long long)kBuffer + 0x10, ok ? "done" : "blocked");
  }

  void invalidate(sc_dt::uint64 start, sc_dt::uint64 end) {
    if (!m_dmi.get_dmi_ptr() || end < m_dmi.get_start_address() || start > m_dmi.get_end_address()) return;
    std::printf("%s: DMI pointer revoked\n", name());
    m_dmi.init();
  }

  uint32_t m_tag;  // the high half of what it writes
  const sc_core::sc_event& m_start;
  tlm::tlm_dmi m_dmi;
};

// An I/O interconnect: one target port per device, one initiator up to the IOMMU, a fixed hop
// latency. Each request goes up with the requester ID of the port it came in on, whatever the
// device claimed; DMI requests too; DMI invalidations from above go back to every port.
class IoFabric : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<IoFabric> devices;
  tlm_utils::simple_initiator_socket<IoFabric> upstream;

  IoFabric(sc_core::sc_module_name name, std::vector<uint16_t> port_ids)
      : sc_module(name), devices("devices"), upstream("upstream"), m_ids(std::move(port_ids)) {
    devices.register_b_transport(this, &IoFabric::b_transport);
    devices.register_get_direct_mem_ptr(this, &IoFabric::get_direct_mem_ptr);
    upstream.register_invalidate_direct_mem_ptr(this, &IoFabric::invalidate);
  }

 private:
  // The requester ID goes on for the call and comes off after it: the payload is the device's.
  void b_transport(int port, tlm::tlm_generic_payload& p, sc_time& delay) {
    iommu_sim::PcieExtension id(m_ids.at(port));
    iommu_sim::PcieExtension* theirs = p.set_extension(&id);
    delay += sc_time(10, SC_NS);
    upstream->b_transport(p, delay);
    p.set_extension(theirs);
  }
  bool get_direct_mem_ptr(int port, tlm::tlm_generic_payload& p, tlm::tlm_dmi& dmi) {
    iommu_sim::PcieExtension id(m_ids.at(port));
    iommu_sim::PcieExtension* theirs = p.set_extension(&id);
    const bool granted = upstream->get_direct_mem_ptr(p, dmi);
    p.set_extension(theirs);
    return granted;
  }
  void invalidate(sc_dt::uint64 start, sc_dt::uint64 end) {
    for (unsigned i = 0; i < devices.size(); ++i) devices[i]->invalidate_direct_mem_ptr(start, end);
  }

  std::vector<uint16_t> m_ids;
};

// Where the IOMMU's fault-event and invalidation-completion messages land (the host here polls
// instead, leaving them masked).
class FaultLine : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<FaultLine> socket;
  explicit FaultLine(sc_core::sc_module_name name) : sc_module(name), socket("socket") {
    socket.register_b_transport(this, &FaultLine::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& p, sc_time&) {
    std::printf("%s: message 0x%08x to 0x%llx\n", name(), *reinterpret_cast<uint32_t*>(p.get_data_ptr()),
                (unsigned long long)p.get_address());
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

// ---- Host software, with the library's helpers: tables in memory, registers over TLM ----

class Host : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Host> regs;  // register offsets, to the IOMMU's regs socket
  sc_core::sc_event ready;

  Host(sc_core::sc_module_name name, iommu_sim::SparseMemory& memory)
      : sc_module(name), regs("regs"), m_tables(memory, 0x1000000, 16 << 20),
        m_mmio(regs, 0, [](const sc_time& d) { sc_core::wait(d); }), m_vtd(m_mmio, memory) {
    SC_THREAD(run);
  }

 private:
  SC_HAS_PROCESS(Host);

  void run() {
    using iommu_sim::make_requester_id;
    // Domain 1: the NIC, domain 2: the disk; the same IOVAs, different memory.
    m_tables.set_context(make_requester_id(0, 3, 0), 1, 4, iommu_sim::TranslationType::Untranslated);
    m_tables.set_context(make_requester_id(0, 4, 0), 2, 4, iommu_sim::TranslationType::Untranslated);
    m_tables.map(1, kBuffer, 0x40000000, 0x10000, true, true);
    m_tables.map(2, kBuffer, 0x50000000, 0x10000, true, true);
    if (!m_vtd.enable_queued_invalidation(m_tables.allocate_page(), 0, m_tables.allocate_page()) ||
        !m_vtd.enable(m_tables.root_table())) {
      std::printf("host: the IOMMU did not enable translation\n");
      return;
    }
    std::printf("host: translation on at %s\n", sc_core::sc_time_stamp().to_string().c_str());
    ready.notify(sc_core::SC_ZERO_TIME);

    sc_core::wait(20, SC_US);
    // DMI is granted per IOVA page and revoked by IOVA range: both devices lose theirs.
    m_tables.unmap(1, kBuffer, 0x1000);
    m_vtd.submit(iommu_sim::vtd::make_iotlb_desc(iommu_sim::vtd::InvalidationScope::Selective, 1, kBuffer, 0));
    std::printf("host: unmapped the NIC's first page: %s\n", m_vtd.sync() ? "invalidated" : "invalidation timed out");

    sc_core::wait(20, SC_US);
    for (const iommu_sim::VtdFault& f : m_vtd.drain_faults())
      std::printf("host: fault record: source %02x:%02x.%x, %s page 0x%llx, reason 0x%x\n", f.source_id >> 8,
                  (f.source_id >> 3) & 0x1F, f.source_id & 7, f.is_read ? "read" : "write",
                  (unsigned long long)f.address, f.reason);
  }

  iommu_sim::VtdTableBuilder m_tables;
  iommu_sim::SocketMmio m_mmio;
  iommu_sim::VtdRegisterProgrammer m_vtd;
};

int sc_main(int, char*[]) {
  iommu_sim::StatsRegistry stats;
  iommu_sim::MemoryTarget memory("memory", iommu_sim::MemoryConfig{}, stats);
  iommu_sim::Iommu iommu("iommu", iommu_sim::IommuConfig{}, stats);
  Host host("host", memory.storage());
  Device nic("nic", 0x11110000, host.ready), disk("disk", 0x22220000, host.ready);
  IoFabric fabric("fabric", {iommu_sim::make_requester_id(0, 3, 0), iommu_sim::make_requester_id(0, 4, 0)});
  FaultLine fault_line("fault_line");

  nic.socket.bind(fabric.devices);   // port 0: 00:03.0
  disk.socket.bind(fabric.devices);  // port 1: 00:04.0
  fabric.upstream.bind(iommu.upstream);
  host.regs.bind(iommu.regs);
  iommu.memory.bind(memory.socket);
  iommu.interrupt.bind(fault_line.socket);

  sc_core::sc_start();
  std::printf("memory: 0x40000100 = 0x%08x (nic), 0x50000100 = 0x%08x (disk)\n",
              memory.storage().read32(0x40000100), memory.storage().read32(0x50000100));
  std::printf("iommu: %.0f faults, %.0f DMI grants, %.0f revocations\n", stats.value("iommu.faults"),
              stats.value("iommu.dmi_grants"), stats.value("iommu.dmi_revocations"));
  return 0;
}
