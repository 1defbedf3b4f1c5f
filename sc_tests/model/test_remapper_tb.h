// Test bench for the DMA remapper: a DMA/MMIO initiator, an interrupt sink, memory behind an
// address router (so that addresses outside [0, kMemSize) fail like a bus error), the table
// builder and the register programmer driving the registers over TLM.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {
namespace test {

constexpr uint64_t kMemSize = 1ULL << 36;
constexpr uint64_t kOutside = 1ULL << 40;  // inside HAW, but no memory answers there
constexpr uint64_t kTablesBase = 0x1000000, kTablesSize = 0x1000000;
constexpr uint64_t kData = 0x40000000;
inline const sc_core::sc_time kMemLatency{50, sc_core::SC_NS};

struct IrqWrite {
  uint64_t addr;
  uint32_t data;
};

class RemapperTb : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<RemapperTb> dma;
  tlm_utils::simple_initiator_socket<RemapperTb> mmio;
  tlm_utils::simple_target_socket<RemapperTb> irq;

  StatsRegistry stats;
  MemoryTarget mem;
  AddressRouter router;
  Iommu iommu;
  VtdTableBuilder tables;

  std::vector<IrqWrite> irqs;
  std::vector<std::pair<uint64_t, uint64_t>> revoked;

  explicit RemapperTb(const IommuConfig& config = IommuConfig{}, sc_core::sc_module_name n = "tb")
      : sc_module(n),
        dma("dma"),
        mmio("mmio"),
        irq("irq"),
        mem("mem", MemoryConfig{kMemLatency, kMemLatency, true}, stats),
        router("router"),
        iommu("iommu", config, stats),
        tables(mem.storage(), kTablesBase, kTablesSize),
        m_access(mmio),
        prog(m_access, mem.storage()) {
    dma.bind(iommu.upstream);
    mmio.bind(iommu.regs);
    iommu.interrupt.bind(irq);
    iommu.memory.bind(router.target);
    router.initiator.bind(mem.socket);
    router.add_window("mem", 0, kMemSize, false);
    irq.register_b_transport(this, &RemapperTb::irq_write);
    dma.register_invalidate_direct_mem_ptr(this, &RemapperTb::invalidate);
  }

  // Finishes elaboration so that socket calls work from the test body.
  void start() { sc_core::sc_start(sc_core::SC_ZERO_TIME); }

  tlm::tlm_response_status access(uint16_t rid, uint64_t iova, void* data, unsigned len,
                                  bool write, sc_core::sc_time& delay,
                                  AddressType at = AddressType::Untranslated) {
    tlm::tlm_generic_payload p;
    PcieExtension ext(rid, at);
    p.set_extension(&ext);
    p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    p.set_address(iova);
    p.set_data_ptr(static_cast<unsigned char*>(data));
    p.set_data_length(len);
    p.set_streaming_width(len);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    dma->b_transport(p, delay);
    p.clear_extension(&ext);
    return p.get_response_status();
  }
  tlm::tlm_response_status read64(uint16_t rid, uint64_t iova, uint64_t& v) {
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    return access(rid, iova, &v, 8, false, d);
  }
  tlm::tlm_response_status write64(uint16_t rid, uint64_t iova, uint64_t v) {
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    return access(rid, iova, &v, 8, true, d);
  }

  uint64_t reg_read(uint64_t off, unsigned size) { return m_access.read(off, size); }
  void reg_write(uint64_t off, uint64_t v, unsigned size) { m_access.write(off, v, size); }

  double stat(const std::string& leaf) const { return stats.value("tb.iommu." + leaf); }
  uint64_t frcd_lo(unsigned i) { return reg_read(vtd::kRegFrcd + 16 * i, 8); }
  uint64_t frcd_hi(unsigned i) { return reg_read(vtd::kRegFrcd + 16 * i + 8, 8); }

 private:
  void irq_write(tlm::tlm_generic_payload& p, sc_core::sc_time&) {
    uint32_t data = 0;
    std::memcpy(&data, p.get_data_ptr(), 4);
    irqs.push_back(IrqWrite{p.get_address(), data});
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  void invalidate(sc_dt::uint64 start, sc_dt::uint64 end) { revoked.emplace_back(start, end); }

  SocketMmio m_access;  // register accesses from the test body: no time passes

 public:
  VtdRegisterProgrammer prog;
};

}  // namespace test
}  // namespace iommu_sim
