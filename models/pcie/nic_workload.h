// `nic` workload: receive and transmit descriptor rings in host memory.
//
// Ring format (what the host driver writes, see nic_fill_rings()): ring_size descriptors of 16
// bytes. qword 0 = buffer IOVA; qword 1 = bits 15:0 length, bit 32 DD (descriptor done, set by
// the device on write-back). Buffer i of the RX ring is at buffer_base + i * buffer_stride, of
// the TX ring at buffer_base + (ring_size + i) * buffer_stride.
//
// Per received packet the device reads the next RX descriptor, writes packet_size bytes to its
// buffer and writes the descriptor back with DD; per transmitted packet it reads the TX
// descriptor, reads the buffer and writes the descriptor back. Interrupts are coalesced: vector
// rx_vector / tx_vector fires after coalesce_packets packets of that direction or when
// coalesce_time has passed since the first unsignalled one (checked per packet), and once at the
// end for the remainder. Packets arrive at the offered rate: one every packet_size * 8 / rate.
// A descriptor whose read fails or whose buffer address is 0 drops the packet (counted).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

struct NicWorkloadConfig {
  uint64_t rx_ring = 0x10000000;      // IOVA of the RX ring
  uint64_t tx_ring = 0x10010000;      // IOVA of the TX ring
  uint64_t buffer_base = 0x10100000;  // IOVA of the packet buffers
  uint32_t buffer_stride = 2048;      // bytes between buffers, >= packet_size
  uint32_t ring_size = 256;           // descriptors per ring, a power of two
  uint32_t packet_size = 1500;        // bytes
  uint64_t packets = 10000;           // in total
  enum Mode { Rx, Tx, Both } mode = Both;  // Both alternates RX and TX
  double rate_gbps = 10.0;            // offered load
  uint32_t coalesce_packets = 16;
  sc_core::sc_time coalesce_time = sc_core::sc_time(20, sc_core::SC_US);
  unsigned rx_vector = 0;
  unsigned tx_vector = 1;
};

std::string validate(const NicWorkloadConfig& config);

// A piece of IOVA space a workload touches: the host maps it for the function.
struct DmaRegion {
  uint64_t iova;
  uint64_t size;
  bool device_writes;  // the device writes it (else reads only)
};
// Writes data at an IOVA of the function (the host driver translates to physical memory).
using IovaWriter = std::function<void(uint64_t iova, const void* data, uint64_t len)>;

std::vector<DmaRegion> nic_regions(const NicWorkloadConfig& config);
void nic_fill_rings(const NicWorkloadConfig& config, const IovaWriter& write);

class NicWorkload : public Workload {
 public:
  explicit NicWorkload(const NicWorkloadConfig& config);  // throws std::invalid_argument
  std::string kind() const override { return "nic"; }
  void run(DmaPort& port) override;

  uint64_t packets_done() const { return m_done; }
  uint64_t packets_dropped() const { return m_dropped; }
  uint64_t interrupts() const { return m_irqs; }

 private:
  bool packet(DmaPort& port, bool rx, uint32_t index);

  NicWorkloadConfig m_config;
  uint64_t m_done = 0, m_dropped = 0, m_irqs = 0;
  std::vector<uint8_t> m_buffer;  // the packet in flight, allocated once
};

}  // namespace iommu_sim
