#include "iommu_sim/pcie/storage_workload.h"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace iommu_sim {

namespace {
constexpr uint64_t kLast = 1ULL << 63;
}

std::string validate(const StorageWorkloadConfig& c) {
  if (c.segment_size == 0) return "segment_size: must be greater than 0";
  if (c.transfer_size == 0 || c.transfer_size % c.segment_size != 0) {
    return "transfer_size: must be a positive multiple of segment_size";
  }
  if (c.max_payload == 0) return "max_payload: must be greater than 0";
  if (c.sgl_slots == 0) return "sgl_slots: must be at least 1";
  if (c.data_window < c.segment_size || c.data_window % c.segment_size != 0) {
    return "data_window: must be a positive multiple of segment_size";
  }
  if (c.sgl_base % 16 != 0) return "sgl_base: must be 16-byte aligned";
  if (c.completion_base % 16 != 0) return "completion_base: must be 16-byte aligned";
  return "";
}

std::vector<DmaRegion> storage_regions(const StorageWorkloadConfig& c) {
  return {{c.sgl_base, c.sgl_slots * c.sgl_stride(), false},
          {c.completion_base, uint64_t(c.sgl_slots) * 16, true},
          {c.data_base, c.data_window, true}};
}

void storage_fill_sgls(const StorageWorkloadConfig& c, const IovaWriter& write) {
  const uint64_t window_segments = c.data_window / c.segment_size;
  for (uint32_t s = 0; s < c.sgl_slots; ++s) {
    for (uint32_t j = 0; j < c.segments(); ++j) {
      uint64_t e[2];
      e[0] = c.data_base + ((uint64_t(s) * c.segments() + j) % window_segments) * c.segment_size;
      e[1] = c.segment_size | (j + 1 == c.segments() ? kLast : 0);
      write(c.sgl_base + s * c.sgl_stride() + j * 16ULL, e, sizeof e);
    }
  }
}

StorageWorkload::StorageWorkload(const StorageWorkloadConfig& config) : m_config(config) {
  const std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument("storage workload: " + err);
}

bool StorageWorkload::request(DmaPort& port, uint64_t number, bool from_device) {
  const StorageWorkloadConfig& c = m_config;
  const uint32_t slot = static_cast<uint32_t>(number % c.sgl_slots);
  std::vector<uint64_t> sgl(2ULL * c.segments());
  if (port.read(c.sgl_base + slot * c.sgl_stride(), reinterpret_cast<uint8_t*>(sgl.data()),
                static_cast<uint32_t>(sgl.size() * 8)) != tlm::TLM_OK_RESPONSE) {
    return false;
  }
  std::vector<uint8_t> chunk(c.max_payload, static_cast<uint8_t>(number));
  bool ok = true, last_seen = false;
  for (uint32_t j = 0; j < c.segments() && ok && !last_seen; ++j) {
    const uint64_t addr = sgl[2 * j];
    const uint32_t len = static_cast<uint32_t>(sgl[2 * j + 1]);
    last_seen = (sgl[2 * j + 1] & kLast) != 0;
    if (len == 0 || len > c.segment_size) {
      ok = false;
      break;
    }
    for (uint32_t done = 0; done < len && ok; done += c.max_payload) {
      const uint32_t n = std::min(c.max_payload, len - done);
      ok = (from_device ? port.write(addr + done, chunk.data(), n)
                        : port.read(addr + done, chunk.data(), n)) == tlm::TLM_OK_RESPONSE;
    }
  }
  if (ok && !last_seen) ok = false;  // the list ran past its slot
  const uint64_t completion[2] = {number, ok ? 0u : 1u};
  port.write(c.completion_base + slot * 16ULL, reinterpret_cast<const uint8_t*>(completion), 16);
  port.raise_msix(c.vector);
  return ok;
}

void StorageWorkload::run(DmaPort& port) {
  std::mt19937_64 rng(m_config.seed);
  for (uint64_t r = 0; r < m_config.requests; ++r) {
    if (r > 0) port.delay(m_config.gap);
    bool from_device = m_config.direction != StorageWorkloadConfig::ToDevice;
    if (m_config.direction == StorageWorkloadConfig::Mixed) from_device = (rng() & 1) != 0;
    if (request(port, r, from_device)) {
      ++m_done;
    } else {
      ++m_failed;
    }
  }
}

}  // namespace iommu_sim
