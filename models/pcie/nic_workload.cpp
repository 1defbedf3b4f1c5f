#include "iommu_sim/pcie/nic_workload.h"

#include <cstring>
#include <stdexcept>

#include "iommu_sim/common/bits.h"

namespace iommu_sim {

namespace {
constexpr uint32_t kDescBytes = 16;
constexpr uint64_t kDescDone = 1ULL << 32;
}  // namespace

std::string validate(const NicWorkloadConfig& c) {
  if (!is_power_of_two(c.ring_size)) return "ring_size: must be a power of two";
  if (c.packet_size == 0 || c.packet_size > 65535) return "packet_size: must be 1..65535";
  if (c.buffer_stride < c.packet_size) return "buffer_stride: must be at least packet_size";
  if (c.rx_ring % kDescBytes != 0) return "rx_ring: must be 16-byte aligned";
  if (c.tx_ring % kDescBytes != 0) return "tx_ring: must be 16-byte aligned";
  if (!(c.rate_gbps > 0)) return "rate_gbps: must be greater than 0";
  if (c.coalesce_packets == 0) return "coalesce_packets: must be at least 1";
  return "";
}

std::vector<DmaRegion> nic_regions(const NicWorkloadConfig& c) {
  const uint64_t ring = uint64_t(c.ring_size) * kDescBytes;
  return {{c.rx_ring, ring, true},
          {c.tx_ring, ring, true},
          {c.buffer_base, 2ULL * c.ring_size * c.buffer_stride, true}};
}

void nic_fill_rings(const NicWorkloadConfig& c, const IovaWriter& write) {
  for (unsigned r = 0; r < 2; ++r) {
    const uint64_t ring = r == 0 ? c.rx_ring : c.tx_ring;
    for (uint32_t i = 0; i < c.ring_size; ++i) {
      uint64_t desc[2];
      desc[0] = c.buffer_base + (uint64_t(r) * c.ring_size + i) * c.buffer_stride;
      desc[1] = r == 1 ? c.packet_size : 0;  // TX: the length to send
      write(ring + uint64_t(i) * kDescBytes, desc, sizeof desc);
    }
  }
}

NicWorkload::NicWorkload(const NicWorkloadConfig& config) : m_config(config) {
  const std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument("nic workload: " + err);
}

bool NicWorkload::packet(DmaPort& port, bool rx, uint32_t index) {
  const NicWorkloadConfig& c = m_config;
  const uint64_t desc_addr = (rx ? c.rx_ring : c.tx_ring) + uint64_t(index) * kDescBytes;
  uint64_t desc[2] = {0, 0};
  if (port.read(desc_addr, reinterpret_cast<uint8_t*>(desc), kDescBytes) != tlm::TLM_OK_RESPONSE ||
      desc[0] == 0) {
    return false;
  }
  m_buffer.assign(c.packet_size, static_cast<uint8_t>(index));
  const auto status = rx ? port.write(desc[0], m_buffer.data(), c.packet_size)
                         : port.read(desc[0], m_buffer.data(), c.packet_size);
  if (status != tlm::TLM_OK_RESPONSE) return false;
  desc[1] = kDescDone | c.packet_size;
  port.write(desc_addr, reinterpret_cast<const uint8_t*>(desc), kDescBytes);
  return true;
}

void NicWorkload::run(DmaPort& port) {
  const NicWorkloadConfig& c = m_config;
  const sc_core::sc_time gap =
      sc_core::sc_time(c.packet_size * 8.0 / c.rate_gbps, sc_core::SC_NS);
  uint32_t next[2] = {0, 0};        // next descriptor per ring (0 = RX, 1 = TX)
  uint32_t unsignalled[2] = {0, 0};
  sc_core::sc_time first_unsignalled[2];
  for (uint64_t p = 0; p < c.packets; ++p) {
    const sc_core::sc_time arrival = port.now();
    const bool rx = c.mode == NicWorkloadConfig::Rx ||
                    (c.mode == NicWorkloadConfig::Both && p % 2 == 0);
    const unsigned r = rx ? 0 : 1;
    if (packet(port, rx, next[r])) {
      ++m_done;
      if (unsignalled[r]++ == 0) first_unsignalled[r] = port.now();
    } else {
      ++m_dropped;
    }
    next[r] = (next[r] + 1) & (c.ring_size - 1);
    const bool time_up = unsignalled[r] > 0 && port.now() - first_unsignalled[r] >= c.coalesce_time;
    if (unsignalled[r] >= c.coalesce_packets || time_up) {
      port.raise_msix(rx ? c.rx_vector : c.tx_vector);
      ++m_irqs;
      unsignalled[r] = 0;
    }
    // The next packet arrives one gap after this one did, however long this one took.
    const sc_core::sc_time spent = port.now() - arrival;
    if (spent < gap) port.delay(gap - spent);
  }
  for (unsigned r = 0; r < 2; ++r) {
    if (unsignalled[r] > 0) {
      port.raise_msix(r == 0 ? c.rx_vector : c.tx_vector);
      ++m_irqs;
    }
  }
}

}  // namespace iommu_sim
