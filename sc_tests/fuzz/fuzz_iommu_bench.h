// One VT-d unit (DMA remapping, interrupt remapping with posted interrupts, the invalidation
// queue) with memory behind a small window, for the fuzz targets that drive the hardware model
// with hostile register writes, tables, interrupt-remapping entries and descriptors. Whatever
// they hold must end in a modelled fault or a completed request: never a crash or a hang.
//
// The SystemC kernel elaborates once (modules cannot be built after that); every input starts
// from reset(): remapping and the queue off, faults cleared, every cache invalidated, memory
// zeroed. Table pointers outside the window read as bus errors (faults 0x7-0x9, 0x23). The unit
// offers scalable mode and device TLBs.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <fuzzer/FuzzedDataProvider.h>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {
namespace fuzz {

class IommuBench : public sc_core::sc_module {
 public:
  static constexpr uint64_t kMemSize = 256 * 1024;

  tlm_utils::simple_initiator_socket<IommuBench> dma;
  tlm_utils::simple_initiator_socket<IommuBench> mmio;
  tlm_utils::simple_target_socket<IommuBench> irq;
  StatsRegistry stats;
  MemoryTarget mem;
  AddressRouter router;
  Iommu iommu;

  // The one bench of the process, built and elaborated on first use.
  static IommuBench& get();

  void reset();
  // A DMA (or interrupt request) of `len` bytes from requester `rid`, with `pasid` unless -1.
  tlm::tlm_response_status access(uint16_t rid, uint64_t addr, uint8_t* data, unsigned len,
                                  bool write, AddressType at = AddressType::Untranslated,
                                  int pasid = -1, bool privileged = false);
  uint64_t reg_read(uint64_t offset, unsigned size) { return m_regs.read(offset, size); }
  void reg_write(uint64_t offset, uint64_t value, unsigned size) { m_regs.write(offset, value, size); }
  // Memory from the input: up to `runs` runs of (address, up to `longest` bytes) in the window.
  void load_memory(FuzzedDataProvider& in, unsigned runs, size_t longest);
  double stat(const std::string& leaf) const { return stats.value("bench.iommu." + leaf); }
  SparseMemory& memory() { return mem.storage(); }
  // Root table at `rtaddr` (legacy or scalable-mode tables: RTADDR.TTM), then translation on:
  // RTADDR, SRTP, TE.
  void enable_translation(uint64_t rtaddr, bool scalable = false);

 private:
  explicit IommuBench(sc_core::sc_module_name name);
  void irq_write(tlm::tlm_generic_payload& p, sc_core::sc_time&) {
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  SocketMmio m_regs;  // no time passes between the fuzz target's accesses
};

// Aborts the fuzz run (libFuzzer reports the input) when an invariant does not hold.
void require(bool condition, const char* what);

}  // namespace fuzz
}  // namespace iommu_sim
