#include "iommu_sim/pcie/random_workload.h"

#include <random>
#include <stdexcept>
#include <vector>

#include <algorithm>

namespace iommu_sim {

std::string validate(const RandomWorkloadConfig& c) {
  if (c.size == 0) return "size: must be greater than 0";
  if (c.window < c.size) return "window: must be at least size";
  if (c.window % c.size != 0) return "window: must be a multiple of size";
  if (c.base % c.size != 0) return "base: must be a multiple of size";
  if (c.stray_every > 0 && c.stray_base % c.size != 0) {
    return "stray_base: must be a multiple of size";
  }
  if (c.direction != RandomWorkloadConfig::Read && c.direction != RandomWorkloadConfig::Write &&
      c.direction != RandomWorkloadConfig::Mixed) {
    return "direction: must be read, write or mixed";
  }
  return "";
}

RandomWorkload::RandomWorkload(const RandomWorkloadConfig& config) : m_config(config) {
  const std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument("random workload: " + err);
}

void RandomWorkload::run(DmaPort& port) {
  const RandomWorkloadConfig& c = m_config;
  std::mt19937_64 rng(c.seed);
  const uint64_t slots = c.window / c.size;
  std::vector<uint8_t> buffer(c.size);
  for (uint64_t i = 0; i < c.count; ++i) {
    if (i > 0) port.delay(c.gap);
    const bool stray = c.stray_every > 0 && (i + 1) % c.stray_every == 0;
    const uint64_t addr = (stray ? c.stray_base : c.base) + (rng() % slots) * c.size;
    bool write = c.direction == RandomWorkloadConfig::Write;
    if (c.direction == RandomWorkloadConfig::Mixed) write = (rng() & 1) != 0;
    if (write) {
      // A recognisable pattern: the low byte of the access number.
      std::fill(buffer.begin(), buffer.end(), static_cast<uint8_t>(i));
      port.write(addr, buffer.data(), c.size);
    } else {
      port.read(addr, buffer.data(), c.size);
    }
    // Faulted accesses are counted by the engine; a random workload just carries on.
  }
}

}  // namespace iommu_sim
