// A program of another project on iommu_sim taken in with add_subdirectory(): tables and
// registers set up from sc_main, then one DMA read translated by the IOMMU.
#include <cstdio>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/iommu.h"

using namespace iommu_sim;

struct Top : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Top> dma, mmio;
  StatsRegistry stats;
  MemoryTarget memory;
  Iommu iommu;

  explicit Top(sc_core::sc_module_name name)
      : sc_module(name), dma("dma"), mmio("mmio"), memory("memory", MemoryConfig{}, stats),
        iommu("iommu", IommuConfig{}, stats) {
    dma.bind(iommu.upstream);
    mmio.bind(iommu.regs);
    iommu.memory.bind(memory.socket);
    iommu.interrupt.bind(memory.socket);
  }
};

int sc_main(int, char*[]) {
  Top top("top");
  sc_core::sc_start(sc_core::SC_ZERO_TIME);  // elaborated: sockets may be called from here
  const uint16_t rid = make_requester_id(0, 2, 0);
  VtdTableBuilder tables(top.memory.storage(), 0x1000000, 1 << 20);
  tables.set_context(rid, 1, 4, TranslationType::Untranslated);
  tables.map(1, 0x10000000, 0x80000000, 0x1000, true, true);
  SocketMmio regs(top.mmio);
  VtdRegisterProgrammer vtd(regs, top.memory.storage());
  if (!vtd.enable(tables.root_table())) return 1;
  top.memory.storage().write32(0x80000010, 0x12345678);

  uint32_t value = 0;
  tlm::tlm_generic_payload p;
  PcieExtension id(rid);
  p.set_extension(&id);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(0x10000010);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&value));
  p.set_data_length(4);
  p.set_streaming_width(4);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  top.dma->b_transport(p, delay);
  p.clear_extension(&id);
  if (!p.is_response_ok()) return 1;
  std::printf("outer: translation on, 0x%08x read back through the IOMMU\n", value);
  return 0;
}
