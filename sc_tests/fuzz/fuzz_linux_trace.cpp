// The Linux iommu:map/unmap trace reader and its access rule, streamed as `sweep --one-pass
// --linux-trace` streams them: any text gives events or skipped lines; every event's accesses
// and invalidations stay inside the event's range.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "iommu_sim/host/linux_iommu_trace.h"

using namespace iommu_sim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  LinuxAccessRule rule;
  rule.max_pages_per_map = 64;  // the rule, not the size of a mapping, is under test
  rule.passes = 2;
  parse_linux_iommu_trace(in, [&rule](const LinuxIommuEvent& e) {
    const uint64_t first = e.iova >> 12;
    const uint64_t bytes = e.kind == LinuxIommuEvent::Map ? e.size : e.unmapped_size;
    const uint64_t last = bytes ? (e.iova + bytes - 1) >> 12 : first;
    linux_event_to_dma_ops(e, rule, [&](const LinuxDmaOp& op) {
      const uint64_t op_last = op.kind == LinuxDmaOp::Access ? op.vpn : op.vpn + (1ULL << op.am) - 1;
      if (op.vpn < first || op_last > last) {
        std::fprintf(stderr, "line %llu: an operation outside its event's range\n",
                     static_cast<unsigned long long>(e.line));
        std::abort();
      }
      return true;
    });
    return true;
  });
  return 0;
}
