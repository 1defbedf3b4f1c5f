// The NIC of the protection-strategies study, seen from both sides of its receive ring: the
// channel the driver and the device share (doorbell, completions, buffer releases), the
// protection probe that judges each injected violation, and the device's workload.
//
// Ring format: ring_size descriptors of 16 bytes at the ring's device address. qword 0 = buffer
// device address (IOVA); qword 1 = bits 31:0 length, bit 32 DD (done, written back by the
// device), bit 33 ERR (the buffer DMA failed). The driver posts descriptors in order and rings the
// doorbell with the count posted so far; the device completes them in order.
//
// Per packet the device waits for a posted descriptor, reads it, writes `length` bytes to the
// buffer (data arrives no faster than the line rate: one packet every size * 8 / rate_gbps ns),
// writes the descriptor back and signals the completion (it stands for the receive interrupt).
//
// Violations the device commits when told to (FaultInjection, 1-based packet numbers):
//   invalid use  after completing packet k it waits until the driver has released k's buffer
//                (plus invalid_use_delay_ns) and writes to k's device address again;
//   bad device   at packet k it also writes to an address no descriptor gave it: the guest-physical
//                address of a page the driver never gave the device, used as an IOVA.
// The driver commits the third (bad address: packet k's descriptor points at such a page).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

enum class Violation : unsigned { BadAddress, InvalidUse, BadDevice, Count };
const char* violation_name(Violation v);  // bad_address, invalid_use, bad_device

struct FaultInjection {
  uint64_t bad_address_at = 0;  // 0: not injected
  uint64_t invalid_use_at = 0;
  uint64_t bad_device_at = 0;
  double invalid_use_delay_ns = 0;
};

// Judges each injected violation: the memory it aimed at is filled with a pattern before, and
// compared byte by byte right after the violating DMA; the IOMMU's fault records are matched at
// the end. Caught = the DMA failed, a fault was recorded for its page, and memory is intact.
class ProtectionProbe {
 public:
  struct Outcome {
    bool injected = false;
    bool dma_failed = false;
    bool fault_recorded = false;
    bool memory_intact = true;
    uint64_t device_address = 0;  // what the violating DMA used
    uint64_t target_phys = 0;     // the memory it must not reach
    uint32_t length = 0;
    bool caught() const { return injected && dma_failed && fault_recorded && memory_intact; }
    bool corrupted() const { return injected && !memory_intact; }
  };

  explicit ProtectionProbe(SparseMemory& memory) : m_memory(memory) {}
  // The memory a violation aims at gets a pattern no DMA of the workload writes.
  void arm(Violation v, uint64_t target_phys, uint32_t length);
  // The violating DMA was issued at device_address with the given result.
  void judge(Violation v, uint64_t device_address, bool dma_ok);
  // A fault the IOMMU recorded (page address, FRCD 63:12).
  void fault_recorded(uint16_t source_id, uint64_t page);
  const Outcome& outcome(Violation v) const { return m_outcome[static_cast<unsigned>(v)]; }

  static constexpr uint8_t kPattern = 0xC5;

 private:
  SparseMemory& m_memory;
  Outcome m_outcome[static_cast<unsigned>(Violation::Count)];
};

// What the driver and the device share. Driver and device each run in their own thread; every
// change is followed by the matching event.
struct NicChannel {
  uint64_t posted = 0;     // doorbell: descriptors posted so far
  uint64_t completed = 0;  // descriptors the device has written back
  uint64_t released = 0;   // buffers the driver has unmapped and handed back to its stack
  sc_core::sc_event doorbell, completion, release;
  uint64_t victim_bad_address = 0;  // guest-physical pages the driver never gives the device
  uint64_t victim_bad_device = 0;
};

struct StudyNicConfig {
  uint64_t ring = 0;          // device address of the ring
  uint32_t ring_size = 256;   // descriptors, a power of two
  uint64_t packets = 2000;
  double rate_gbps = 10.0;
  FaultInjection inject;
};

std::string validate(const StudyNicConfig& config);

class StudyNicWorkload : public Workload {
 public:
  // The workload reads and writes the channel and the probe; both outlive it.
  StudyNicWorkload(const StudyNicConfig& config, NicChannel& channel, ProtectionProbe& probe);
  std::string kind() const override { return "study-nic"; }
  void run(DmaPort& port) override;

  uint64_t bytes() const { return m_bytes; }
  uint64_t buffer_errors() const { return m_errors; }

  static constexpr uint32_t kDescBytes = 16;
  static constexpr uint64_t kDone = 1ULL << 32;
  static constexpr uint64_t kError = 1ULL << 33;

 private:
  void wait_until(DmaPort& port, const uint64_t& value, uint64_t above, const sc_core::sc_event& e);

  StudyNicConfig m_config;
  NicChannel& m_channel;
  ProtectionProbe& m_probe;
  uint64_t m_bytes = 0, m_errors = 0;
};

}  // namespace iommu_sim
