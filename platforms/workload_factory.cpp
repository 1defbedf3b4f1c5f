#include "iommu_sim/platform/workload_factory.h"

#include <algorithm>
#include <fstream>

#include "iommu_sim/platform/config_reader.h"

namespace iommu_sim {

namespace {
std::vector<TraceEntry> load_trace(const TraceWorkloadConfig& config) {
  std::ifstream in(config.path);
  if (!in) throw ConfigError(config.path + ": cannot open DMA trace file");
  std::vector<TraceEntry> entries;
  std::string error;
  if (!parse_dma_trace(in, config.path, entries, error)) throw ConfigError(error);
  // Times never go backwards: the last one is the latest, and it must be a simulated time.
  if (!entries.empty() &&
      entries.back().time_ns * config.time_scale >= sc_core::sc_max_time().to_seconds() * 1e9)
    throw ConfigError(config.path + ": time " + std::to_string(entries.back().time_ns) +
                      " ns (x time_scale) lies past the end of simulated time (2^64 ps)");
  return entries;
}
}  // namespace

std::unique_ptr<Workload> make_workload(const WorkloadSpec& spec) {
  if (spec.kind == "random") return std::make_unique<RandomWorkload>(spec.random);
  if (spec.kind == "nic") return std::make_unique<NicWorkload>(spec.nic);
  if (spec.kind == "storage") return std::make_unique<StorageWorkload>(spec.storage);
  if (spec.kind == "trace") return std::make_unique<TraceWorkload>(load_trace(spec.trace), spec.trace);
  return nullptr;
}

FunctionSoftware software_for(const WorkloadSpec& spec, unsigned iova_width) {
  FunctionSoftware sw;
  if (spec.kind == "random") {
    const RandomWorkloadConfig& r = spec.random;
    sw.regions.push_back(DmaRegion{r.base, r.window, r.direction != RandomWorkloadConfig::Read});
  } else if (spec.kind == "nic") {
    sw.regions = nic_regions(spec.nic);
    const NicWorkloadConfig config = spec.nic;
    sw.fill = [config](const IovaWriter& write) { nic_fill_rings(config, write); };
  } else if (spec.kind == "storage") {
    sw.regions = storage_regions(spec.storage);
    const StorageWorkloadConfig config = spec.storage;
    sw.fill = [config](const IovaWriter& write) { storage_fill_sgls(config, write); };
  } else if (spec.kind == "trace") {
    // Map every page the trace touches, merged into runs; writable where the trace writes.
    std::vector<TraceEntry> entries = load_trace(spec.trace);
    std::sort(entries.begin(), entries.end(),
              [](const TraceEntry& a, const TraceEntry& b) { return a.iova < b.iova; });
    for (const TraceEntry& e : entries) {
      if (spec.trace.requester && e.requester != *spec.trace.requester) continue;
      // An access above the domain's width cannot be mapped (the device faults on it), and a
      // translated request bypasses the mappings: neither is the driver's to map.
      if (((e.iova + e.size - 1) >> iova_width) != 0 || e.translated) continue;
      const uint64_t start = e.iova & ~0xFFFULL;
      const uint64_t end = (e.iova + e.size + 0xFFF) & ~0xFFFULL;
      if (!sw.regions.empty() && start <= sw.regions.back().iova + sw.regions.back().size) {
        DmaRegion& last = sw.regions.back();
        last.size = std::max(last.size, end - last.iova);
        last.device_writes = last.device_writes || e.write;
      } else {
        sw.regions.push_back(DmaRegion{start, end - start, e.write});
      }
    }
  }
  return sw;
}

}  // namespace iommu_sim
