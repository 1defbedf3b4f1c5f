// Import of the Linux `iommu:map` and `iommu:unmap` tracepoints, as printed by ftrace
// (/sys/kernel/tracing/trace, trace-cmd report) or `perf script`, into map/unmap events, and the
// rule that turns those events into DMA accesses and IOTLB invalidations (docs/sweeps.md,
// "Linux trace import"). Plain C++: no SystemC, no IOMMU model.
//
// The tracepoint text (Linux include/trace/events/iommu.h) is
//   map:   "IOMMU: iova=0x... paddr=0x... size=N"
//   unmap: "IOMMU: iova=0x... - 0x... size=N unmapped_size=N"  (older kernels: no "- 0x...")
// behind the tracer's own prefix ("task-pid [cpu] flags timestamp: map: ..." for ftrace,
// "task pid [cpu] timestamp: iommu:map: ..." for perf script).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <vector>

namespace iommu_sim {

struct LinuxIommuEvent {
  enum Kind { Map, Unmap } kind = Map;
  uint64_t line = 0;           // 1-based line number in the input
  double timestamp_s = 0.0;    // tracer timestamp in seconds; 0 if the line has none
  uint64_t iova = 0;           // bytes
  uint64_t paddr = 0;          // Map only
  uint64_t size = 0;           // bytes requested
  uint64_t unmapped_size = 0;  // Unmap only: bytes the kernel actually unmapped
};

struct LinuxTraceParseResult {
  std::vector<LinuxIommuEvent> events;  // empty when the events were streamed to a callback
  uint64_t event_count = 0;
  // Lines that name a map/unmap event (or look like no trace line at all) but could not be
  // parsed; the first kMaxErrors have a message in `errors` ("line 12: ..."); every one is
  // otherwise skipped.
  static constexpr size_t kMaxErrors = 1000;
  uint64_t skipped_lines = 0;
  std::vector<std::string> errors;
  // Blank lines, '#' comments (the ftrace header) and other tracepoints: not errors.
  uint64_t ignored_lines = 0;
};

// Parses the whole stream; never stops at a malformed line.
LinuxTraceParseResult parse_linux_iommu_trace(std::istream& in);
// The same, one line at a time: every event goes to on_event as it is read and none is kept,
// so a capture of any length takes constant memory. on_event returns false to stop reading.
LinuxTraceParseResult parse_linux_iommu_trace(std::istream& in,
                                              const std::function<bool(const LinuxIommuEvent&)>& on_event);

// Parses one line. Returns 1 for an event, 0 for a line to ignore, -1 for a malformed line (then
// `error` says why, without the line number).
int parse_linux_iommu_trace_line(const std::string& line, LinuxIommuEvent& event,
                                 std::string& error);

// The access-generation rule (documented in docs/sweeps.md):
//  - a Map event is followed, at once, by `passes` sweeps over its range in address order, one
//    access per 4 KiB page (at most `max_pages_per_map` pages from the start of the range); the
//    translation of each page is the largest page (1 GiB, 2 MiB or 4 KiB, `superpages` allowing)
//    that is naturally aligned in both IOVA and physical address and lies inside the mapping;
//  - an Unmap event with a non-zero unmapped_size invalidates [iova, iova + unmapped_size),
//    split into naturally aligned power-of-two blocks of pages, the way a driver issues
//    page-selective invalidations.
struct LinuxAccessRule {
  unsigned passes = 1;
  uint64_t max_pages_per_map = 1u << 18;  // 1 GiB of 4 KiB pages
  bool superpages = true;
  bool writes = true;  // accesses are writes (true) or reads
};

struct LinuxDmaOp {
  enum Kind { Access, Invalidate } kind = Access;
  uint64_t line = 0;  // line of the event that produced it
  // Access: the 4 KiB page accessed and the translation that covers it.
  uint64_t vpn = 0;           // IOVA >> 12 of the page accessed
  uint64_t entry_vpn = 0;     // first page of the translation (aligned to its size)
  uint64_t entry_pfn = 0;     // physical >> 12 of the translation's first page
  unsigned page_order = 0;    // translation size: 0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB (in pages)
  bool write = true;
  // Invalidate: pages [vpn, vpn + 2^am), vpn aligned to 2^am.
  unsigned am = 0;
};

// Applies the rule to the events, in order.
std::vector<LinuxDmaOp> linux_trace_to_dma_ops(const std::vector<LinuxIommuEvent>& events,
                                               const LinuxAccessRule& rule);
// Applies the rule to one event, handing each operation to `sink` as it is made (a map of a
// gigabyte is 262,144 accesses: nothing is kept). sink returns false to stop early; the
// function then returns false.
bool linux_event_to_dma_ops(const LinuxIommuEvent& event, const LinuxAccessRule& rule,
                            const std::function<bool(const LinuxDmaOp&)>& sink);

}  // namespace iommu_sim
