// The DMA trace reader (`trace` workload): any text parses or is refused with a message naming
// its line; what it accepts has sizes 1..65536, non-decreasing times and no access past 2^64.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "iommu_sim/pcie/trace_workload.h"

using namespace iommu_sim;

int sc_main(int, char**) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::vector<TraceEntry> entries;
  std::string error;
  const bool ok = parse_dma_trace(in, "fuzz.trace", entries, error);
  if (!ok && error.rfind("fuzz.trace:", 0) != 0) std::abort();
  uint64_t last = 0;
  for (const TraceEntry& e : entries) {
    if (e.size == 0 || e.size > 65536 || e.time_ns < last || e.size - 1 > UINT64_MAX - e.iova) {
      std::fprintf(stderr, "accepted a bad entry\n");
      std::abort();
    }
    last = e.time_ns;
  }
  return 0;
}
