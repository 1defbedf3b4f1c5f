// Import of Linux iommu:map / iommu:unmap tracepoint text and the access-generation rule.
#include <catch2/catch.hpp>

#include <sstream>

#include "iommu_sim/host/linux_iommu_trace.h"

using namespace iommu_sim;

TEST_CASE("linux trace parses ftrace and perf script lines", "[unit]") {
  std::istringstream in(
      "# tracer: nop\n"
      "#\n"
      "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
      "             fio-2981    [002] ..... 5120.314159: map: IOMMU: iova=0x00000000fffe0000 "
      "paddr=0x000000012345e000 size=8192\n"
      "             fio-2981    [002] ..... 5120.314170: unmap: IOMMU: iova=0x00000000fffe0000 "
      "- 0x00000000fffe2000 size=8192 unmapped_size=8192\n"
      "\n"
      "     ksoftirqd/3    27 [003]  5121.000001: iommu:map: IOMMU: iova=0x0000000000200000 "
      "paddr=0x0000000040200000 size=2097152\n"
      "     ksoftirqd/3    27 [003]  5121.000002: iommu:unmap: IOMMU: iova=0x0000000000200000 "
      "size=4096 unmapped_size=4096\n"
      "          <idle>-0       [000] d.h1. 5121.5: irq_handler_entry: irq=24 name=eth0\n");
  const LinuxTraceParseResult r = parse_linux_iommu_trace(in);
  CHECK(r.skipped_lines == 0);
  CHECK(r.errors.empty());
  CHECK(r.ignored_lines == 5);  // three header lines, a blank line, another tracepoint
  REQUIRE(r.events.size() == 4);

  CHECK(r.events[0].kind == LinuxIommuEvent::Map);
  CHECK(r.events[0].line == 4);
  CHECK(r.events[0].iova == 0xfffe0000ULL);
  CHECK(r.events[0].paddr == 0x12345e000ULL);
  CHECK(r.events[0].size == 8192);
  CHECK(r.events[0].timestamp_s == Approx(5120.314159));

  CHECK(r.events[1].kind == LinuxIommuEvent::Unmap);
  CHECK(r.events[1].size == 8192);
  CHECK(r.events[1].unmapped_size == 8192);

  CHECK(r.events[2].kind == LinuxIommuEvent::Map);  // perf script spelling
  CHECK(r.events[2].size == 2097152);
  CHECK(r.events[3].kind == LinuxIommuEvent::Unmap);  // older kernels: no end address
  CHECK(r.events[3].unmapped_size == 4096);
}

TEST_CASE("linux trace reports malformed lines by number and keeps parsing", "[unit]") {
  std::istringstream in(
      "fio-1 [000] .... 1.000001: map: IOMMU: iova=0x1000 paddr=0x2000 size=4096\n"
      "fio-1 [000] .... 1.000002: map: IOMMU: iova=0x1000 size=4096\n"               // no paddr
      "fio-1 [000] .... 1.000003: map: IOMMU: iova=zzz paddr=0x2000 size=4096\n"     // bad number
      "this is not a trace line\n"
      "fio-1 [000] .... 1.000004: unmap: IOMMU: iova=0x1000 - 0x9000 size=4096 "
      "unmapped_size=4096\n"                                                        // bad end
      "fio-1 [000] .... 1.000005: unmap: IOMMU: iova=0x1000 size=4096 unmapped_size=4096\n");
  const LinuxTraceParseResult r = parse_linux_iommu_trace(in);
  CHECK(r.skipped_lines == 4);
  REQUIRE(r.errors.size() == 4);
  CHECK(r.errors[0].rfind("line 2: ", 0) == 0);
  CHECK(r.errors[0].find("paddr") != std::string::npos);
  CHECK(r.errors[1].rfind("line 3: ", 0) == 0);
  CHECK(r.errors[1].find("iova") != std::string::npos);
  CHECK(r.errors[2].rfind("line 4: ", 0) == 0);
  CHECK(r.errors[3].rfind("line 5: ", 0) == 0);
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[0].line == 1);
  CHECK(r.events[1].line == 6);
  CHECK(r.events[1].kind == LinuxIommuEvent::Unmap);
}

TEST_CASE("linux trace rule accesses every page of a mapping and invalidates on unmap", "[unit]") {
  std::vector<LinuxIommuEvent> ev(2);
  ev[0].kind = LinuxIommuEvent::Map;
  ev[0].iova = 0x10000;
  ev[0].paddr = 0x7000;  // not 2 MiB aligned relative to the IOVA
  ev[0].size = 3 * 4096;
  ev[1].kind = LinuxIommuEvent::Unmap;
  ev[1].iova = 0x10000;
  ev[1].size = 3 * 4096;
  ev[1].unmapped_size = 3 * 4096;
  LinuxAccessRule rule;
  rule.passes = 2;
  const std::vector<LinuxDmaOp> ops = linux_trace_to_dma_ops(ev, rule);
  // Two passes over three pages, then pages 0x10-0x12 as the aligned blocks {0x10, 0x11} and {0x12}.
  REQUIRE(ops.size() == 8);
  CHECK(ops[0].kind == LinuxDmaOp::Access);
  CHECK(ops[0].vpn == 0x10);
  CHECK(ops[0].entry_pfn == 0x7);
  CHECK(ops[0].page_order == 0);
  CHECK(ops[2].vpn == 0x12);
  CHECK(ops[2].entry_pfn == 0x9);
  CHECK(ops[3].vpn == 0x10);  // second pass
  CHECK(ops[6].kind == LinuxDmaOp::Invalidate);
  CHECK(ops[6].vpn == 0x10);
  CHECK(ops[6].am == 1);
  CHECK(ops[7].vpn == 0x12);
  CHECK(ops[7].am == 0);
}

TEST_CASE("linux trace rule uses a 2 MiB translation where both sides are aligned", "[unit]") {
  std::vector<LinuxIommuEvent> ev(1);
  ev[0].kind = LinuxIommuEvent::Map;
  ev[0].iova = 0x200000;
  ev[0].paddr = 0x40200000;
  ev[0].size = 0x200000 + 0x1000;  // one 2 MiB page and one 4 KiB page after it
  LinuxAccessRule rule;
  rule.max_pages_per_map = 1000;
  std::vector<LinuxDmaOp> ops = linux_trace_to_dma_ops(ev, rule);
  REQUIRE(ops.size() == 513);
  CHECK(ops[0].page_order == 9);
  CHECK(ops[0].entry_vpn == 0x200);
  CHECK(ops[0].entry_pfn == 0x40200);
  CHECK(ops[511].page_order == 9);
  CHECK(ops[511].vpn == 0x3ff);
  CHECK(ops[512].page_order == 0);
  CHECK(ops[512].entry_pfn == 0x40400);

  rule.superpages = false;
  ops = linux_trace_to_dma_ops(ev, rule);
  CHECK(ops[0].page_order == 0);
  rule.max_pages_per_map = 10;
  CHECK(linux_trace_to_dma_ops(ev, rule).size() == 10);
}

TEST_CASE("linux trace numbers are strict: no second prefix, no sign, nothing past 2^64", "[unit]") {
  LinuxIommuEvent e;
  std::string error;
  const std::string head = "ip-86 [000] .....  6.589934: map: IOMMU: ";
  CHECK(parse_linux_iommu_trace_line(head + "iova=0x1000 paddr=0x2000 size=4096", e, error) == 1);
  CHECK(parse_linux_iommu_trace_line(head + "iova=0x0x1000 paddr=0x2000 size=4096", e, error) == -1);
  CHECK(parse_linux_iommu_trace_line(head + "iova=0x-1000 paddr=0x2000 size=4096", e, error) == -1);
  CHECK(parse_linux_iommu_trace_line(head + "iova=0x1000 paddr=0x2000 size=18446744073709551616", e, error) == -1);
  CHECK(parse_linux_iommu_trace_line(head + "iova=0x1000 paddr=0x2000 size= 4096", e, error) == -1);
  CHECK(parse_linux_iommu_trace_line(head + "iova=0x1000 paddr=0x2000 size=0100", e, error) == 1);
  CHECK(e.size == 100);  // decimal, not octal
}

TEST_CASE("linux trace streams events and their accesses one at a time", "[unit]") {
  // A 1 GiB map is 262,144 accesses: the streaming interface hands them over one by one and
  // can stop at any point.
  std::istringstream in(
      "a-1 [000] ..... 1.000000: map: IOMMU: iova=0x0000000040000000 - 0x0000000080000000 "
      "paddr=0x0000000100000000 size=1073741824\n"
      "a-1 [000] ..... 2.000000: unmap: IOMMU: iova=0x0000000040000000 - 0x0000000080000000 "
      "size=1073741824 unmapped_size=1073741824\n");
  LinuxAccessRule rule;
  uint64_t accesses = 0, invalidations = 0, events = 0;
  const LinuxTraceParseResult r = parse_linux_iommu_trace(in, [&](const LinuxIommuEvent& e) {
    ++events;
    return linux_event_to_dma_ops(e, rule, [&](const LinuxDmaOp& op) {
      (op.kind == LinuxDmaOp::Access ? accesses : invalidations) += 1;
      return true;
    });
  });
  CHECK(r.events.empty());  // nothing kept
  CHECK(r.event_count == 2);
  CHECK(events == 2);
  CHECK(accesses == 262144);
  CHECK(invalidations == 1);  // one aligned 1 GiB block
  LinuxIommuEvent map;
  map.kind = LinuxIommuEvent::Map;
  map.iova = 0x40000000;
  map.paddr = 0x100000000ULL;
  map.size = 1ULL << 30;
  uint64_t seen = 0;
  CHECK_FALSE(linux_event_to_dma_ops(map, rule, [&](const LinuxDmaOp&) { return ++seen < 10; }));
  CHECK(seen == 10);
}
