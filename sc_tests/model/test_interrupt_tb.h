// Test bench for the interrupt remapper: the IOMMU with memory behind a router, a capture of
// every interrupt message (with its InterruptMessage sideband), the VT-d and interrupt-table
// builders, and register access for the host programmers.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/interrupt_tables.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {
namespace test {

struct CapturedInterrupt {
  uint64_t address = 0;
  uint32_t data = 0;
  bool has_message = false;
  InterruptMessage message;
};

inline IommuConfig interrupt_config(bool posted = true, bool x2apic = false) {
  IommuConfig c;
  c.interrupt_remapping = true;
  c.posted_interrupts = posted;
  c.x2apic = x2apic;
  return c;
}

class InterruptTb : public sc_core::sc_module {
 public:
  static constexpr uint64_t kMemSize = 1ULL << 36;
  static constexpr uint64_t kTablesBase = 0x1000000, kTablesSize = 0x1000000;

  tlm_utils::simple_initiator_socket<InterruptTb> dma;
  tlm_utils::simple_initiator_socket<InterruptTb> mmio;
  tlm_utils::simple_target_socket<InterruptTb> irq;

  StatsRegistry stats;
  MemoryTarget mem;
  AddressRouter router;
  Iommu iommu;
  VtdTableBuilder tables;
  std::vector<CapturedInterrupt> irqs;

  // capture = false: the caller binds iommu.interrupt (to a host model) and may bind its
  // forwarding socket to `irq`.
  explicit InterruptTb(const IommuConfig& config = interrupt_config(), sc_core::sc_module_name n = "tb",
                       bool capture = true)
      : sc_module(n),
        dma("dma"),
        mmio("mmio"),
        irq("irq"),
        mem("mem", MemoryConfig{sc_core::sc_time(50, sc_core::SC_NS), sc_core::sc_time(50, sc_core::SC_NS), true}, stats),
        router("router"),
        iommu("iommu", config, stats),
        tables(mem.storage(), kTablesBase, kTablesSize),
        m_access(mmio),
        prog(m_access, mem.storage()) {
    dma.bind(iommu.upstream);
    mmio.bind(iommu.regs);
    if (capture) iommu.interrupt.bind(irq);
    iommu.memory.bind(router.target);
    router.initiator.bind(mem.socket);
    router.add_window("mem", 0, kMemSize, false);
    irq.register_b_transport(this, &InterruptTb::irq_write);
  }

  void start() { sc_core::sc_start(sc_core::SC_ZERO_TIME); }

  // Starts the kernel, turns on the queue, builds an IRT of `entries` and enables remapping.
  InterruptTableBuilder& enable(unsigned entries = 256, bool allow_compat = false) {
    start();
    REQUIRE(prog.enable_queued_invalidation(tables.allocate_page(), 0, tables.allocate_page()));
    irt = std::make_unique<InterruptTableBuilder>(mem.storage(), tables, entries,
                                                  iommu.config().x2apic);
    REQUIRE(enable_interrupt_remapping(m_access, prog, irt->irta(), allow_compat));
    return *irt;
  }

  tlm::tlm_response_status msi(uint16_t rid, uint64_t address, uint32_t data, unsigned len = 4) {
    tlm::tlm_generic_payload p;
    PcieExtension ext(rid);
    uint8_t buf[8] = {};
    std::memcpy(buf, &data, 4);
    p.set_extension(&ext);
    p.set_command(tlm::TLM_WRITE_COMMAND);
    p.set_address(address);
    p.set_data_ptr(buf);
    p.set_data_length(len);
    p.set_streaming_width(len);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    dma->b_transport(p, d);
    p.clear_extension(&ext);
    return p.get_response_status();
  }
  // A remappable-format MSI for `handle` (data is the subhandle when shv).
  tlm::tlm_response_status remappable(uint16_t rid, uint16_t handle, bool shv = false,
                                      uint32_t data = 0) {
    return msi(rid, irte::make_remappable_address(handle, shv), data);
  }

  uint64_t reg_read(uint64_t off, unsigned size) { return m_access.read(off, size); }
  void reg_write(uint64_t off, uint64_t v, unsigned size) { m_access.write(off, v, size); }
  double stat(const std::string& leaf) const { return stats.value("tb.iommu." + leaf); }
  uint64_t frcd_lo(unsigned i) { return reg_read(vtd::kRegFrcd + 16 * i, 8); }
  uint64_t frcd_hi(unsigned i) { return reg_read(vtd::kRegFrcd + 16 * i + 8, 8); }
  MmioAccess& access() { return m_access; }

 private:
  void irq_write(tlm::tlm_generic_payload& p, sc_core::sc_time&) {
    CapturedInterrupt c;
    c.address = p.get_address();
    std::memcpy(&c.data, p.get_data_ptr(), 4);
    if (const InterruptMessage* m = p.get_extension<InterruptMessage>()) {
      c.has_message = true;
      c.message = *m;
    }
    irqs.push_back(c);
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }

  SocketMmio m_access;  // register accesses from the test body: no time passes

 public:
  VtdRegisterProgrammer prog;
  std::unique_ptr<InterruptTableBuilder> irt;
};

}  // namespace test
}  // namespace iommu_sim
