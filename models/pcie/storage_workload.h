// `storage` workload: large transfers through scatter-gather lists.
//
// SG list format (written by the host driver, see storage_fill_sgls()): 16-byte entries,
// qword 0 = segment IOVA, qword 1 = bits 31:0 length, bit 63 = last entry. There are sgl_slots
// lists at sgl_base + slot * sgl_stride(); request r uses slot r % sgl_slots. Segment j of slot s
// points at data_base + ((s * segments + j) % (data_window / segment_size)) * segment_size.
//
// Per request the device reads the SG list (one read of the whole list), moves every segment in
// max_payload chunks (direction FromDevice writes host memory, as a disk read does; ToDevice reads
// it), writes a 16-byte completion (request number, status) to completion_base + slot * 16 and
// raises MSI-X `vector`. A malformed list (zero length, length over segment_size, no last bit
// within the slot) fails the request (counted) instead of running off.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/pcie/nic_workload.h"  // DmaRegion, IovaWriter
#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

struct StorageWorkloadConfig {
  uint64_t sgl_base = 0x20000000;
  uint64_t completion_base = 0x20100000;
  uint64_t data_base = 0x21000000;
  uint64_t data_window = 16ULL << 20;
  uint32_t transfer_size = 128 * 1024;  // bytes per request, a multiple of segment_size
  uint32_t segment_size = 4096;
  uint32_t max_payload = 256;           // bytes per TLM transaction (PCIe max payload size)
  uint32_t sgl_slots = 32;
  enum Direction { FromDevice, ToDevice, Mixed } direction = FromDevice;
  uint64_t requests = 1000;
  sc_core::sc_time gap = sc_core::sc_time(1, sc_core::SC_US);  // between requests
  uint64_t seed = 1;                    // Mixed: direction per request
  unsigned vector = 0;

  uint32_t segments() const { return segment_size ? transfer_size / segment_size : 0; }
  uint64_t sgl_stride() const { return uint64_t(segments()) * 16; }
};

std::string validate(const StorageWorkloadConfig& config);
std::vector<DmaRegion> storage_regions(const StorageWorkloadConfig& config);
void storage_fill_sgls(const StorageWorkloadConfig& config, const IovaWriter& write);

class StorageWorkload : public Workload {
 public:
  explicit StorageWorkload(const StorageWorkloadConfig& config);  // throws std::invalid_argument
  std::string kind() const override { return "storage"; }
  void run(DmaPort& port) override;

  uint64_t requests_done() const { return m_done; }
  uint64_t requests_failed() const { return m_failed; }

 private:
  bool request(DmaPort& port, uint64_t number, bool from_device);

  StorageWorkloadConfig m_config;
  uint64_t m_done = 0, m_failed = 0;
};

}  // namespace iommu_sim
