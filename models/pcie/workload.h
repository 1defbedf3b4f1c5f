// Workloads: the traffic a DMA engine generates. A workload is a small program that runs inside
// its engine's thread and talks to the outside world only through a DmaPort, so the same
// workload can be driven by a DmaEngine in a platform or by a recording port in a test.
//
// Workloads that need answers from memory (a NIC reading its descriptors) simply read them: the
// port is blocking and returns the response status, so a faulted read is visible to the
// workload, which counts it and carries on rather than stopping the simulation.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>
#include <tlm>

namespace iommu_sim {

class DmaPort {
 public:
  virtual ~DmaPort() = default;
  // One memory read or write of len bytes at addr (an IOVA: the IOMMU translates it). The data
  // buffer belongs to the caller. Returns the TLM response status of the transaction.
  virtual tlm::tlm_response_status read(uint64_t addr, uint8_t* data, uint32_t len) = 0;
  virtual tlm::tlm_response_status write(uint64_t addr, const uint8_t* data, uint32_t len) = 0;
  // The same, for a request the device marks as already translated (PCIe AT = translated, as
  // after an ATS translation): the IOMMU passes it only where the context allows translated
  // requests. A port that cannot send one refuses it.
  virtual tlm::tlm_response_status translated(bool write, uint64_t addr, uint8_t* data,
                                              uint32_t len) {
    static_cast<void>(write), static_cast<void>(addr), static_cast<void>(data), static_cast<void>(len);
    return tlm::TLM_COMMAND_ERROR_RESPONSE;
  }
  // Lets time pass (the gap between packets, a device's processing time).
  virtual void delay(const sc_core::sc_time& t) = 0;
  // The current time as the workload sees it (kernel time plus the engine's local offset).
  virtual sc_core::sc_time now() const = 0;
  // Raises MSI-X vector `vector` of the function that owns the engine (a write on the DMA path
  // when the table entry is unmasked; the pending bit otherwise). Returns false when the vector
  // does not exist or the engine has no MSI-X source.
  virtual bool raise_msix(unsigned vector) = 0;
  // Brings kernel time up to now() so that the workload may wait on an event (a doorbell) or
  // signal one at the right time. Ports without local time have nothing to do.
  virtual void sync() {}
};

class Workload {
 public:
  virtual ~Workload() = default;
  // A short kind name for logs and statistics ("random", "nic", ...).
  virtual std::string kind() const = 0;
  // Runs the whole workload; returns when it is finished.
  virtual void run(DmaPort& port) = 0;
};

}  // namespace iommu_sim
