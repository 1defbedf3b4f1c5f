#include "iommu_sim/host/linux_iommu_trace.h"

#include <cstdlib>
#include <sstream>

#include "iommu_sim/common/parse_number.h"

namespace iommu_sim {

namespace {

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream is(line);
  std::string t;
  while (is >> t) out.push_back(t);
  return out;
}

// A tracer timestamp token: "1234.567890:" (ftrace, perf script).
bool parse_timestamp(const std::string& t, double& out) {
  if (t.size() < 2 || t.back() != ':') return false;
  const std::string num = t.substr(0, t.size() - 1);
  if (num.find('.') == std::string::npos) return false;
  for (char c : num)
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  out = std::strtod(num.c_str(), nullptr);
  return true;
}

// The event-name token: ftrace prints "map:", perf script "iommu:map:".
int event_kind(const std::string& t, LinuxIommuEvent::Kind& kind) {
  if (t == "map:" || t == "iommu:map:") {
    kind = LinuxIommuEvent::Map;
    return 1;
  }
  if (t == "unmap:" || t == "iommu:unmap:") {
    kind = LinuxIommuEvent::Unmap;
    return 1;
  }
  return 0;
}

}  // namespace

int parse_linux_iommu_trace_line(const std::string& line, LinuxIommuEvent& event,
                                 std::string& error) {
  const std::vector<std::string> tok = split_ws(line);
  if (tok.empty() || tok[0][0] == '#') return 0;

  size_t at = tok.size();
  LinuxIommuEvent::Kind kind = LinuxIommuEvent::Map;
  for (size_t i = 0; i < tok.size(); ++i) {
    if (event_kind(tok[i], kind)) {
      at = i;
      break;
    }
  }
  double ts = 0.0;
  bool has_ts = false;
  if (at == tok.size()) {
    // Not a map/unmap line. A line with a tracer timestamp is another tracepoint: not ours.
    for (const std::string& t : tok)
      if (parse_timestamp(t, ts)) return 0;
    if (line.find("iova=") != std::string::npos) {
      error = "an iommu event without the 'map:' or 'unmap:' event name";
      return -1;
    }
    error = "not a trace line (no timestamp and no event name)";
    return -1;
  }
  if (at > 0 && parse_timestamp(tok[at - 1], ts)) has_ts = true;

  LinuxIommuEvent e;
  e.kind = kind;
  e.timestamp_s = has_ts ? ts : 0.0;
  bool have_iova = false, have_paddr = false, have_size = false, have_unmapped = false;
  bool have_end = false;
  uint64_t end_addr = 0;
  const char* name = kind == LinuxIommuEvent::Map ? "map" : "unmap";
  for (size_t i = at + 1; i < tok.size(); ++i) {
    const std::string& t = tok[i];
    if (t == "IOMMU:") continue;
    if (t == "-") {
      // unmap prints "iova=START - END"; END is checked against iova + size below.
      if (i + 1 >= tok.size() || !parse_u64(tok[i + 1], end_addr)) {
        error = std::string(name) + ": expected an end address after '-'";
        return -1;
      }
      have_end = true;
      ++i;
      continue;
    }
    const size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = std::string(name) + ": unexpected text '" + t + "' (expected key=value)";
      return -1;
    }
    const std::string key = t.substr(0, eq);
    uint64_t v = 0;
    if (!parse_u64(t.substr(eq + 1), v)) {
      error = std::string(name) + ": " + key + " must be a number (0x... or decimal), got '" +
              t.substr(eq + 1) + "'";
      return -1;
    }
    if (key == "iova") { e.iova = v; have_iova = true; }
    else if (key == "paddr") { e.paddr = v; have_paddr = true; }
    else if (key == "size") { e.size = v; have_size = true; }
    else if (key == "unmapped_size") { e.unmapped_size = v; have_unmapped = true; }
    // Other keys: later kernels may add fields; they do not change the rule.
  }
  std::string missing;
  if (!have_iova) missing += " iova=";
  if (!have_size) missing += " size=";
  if (kind == LinuxIommuEvent::Map && !have_paddr) missing += " paddr=";
  if (kind == LinuxIommuEvent::Unmap && !have_unmapped) missing += " unmapped_size=";
  if (!missing.empty()) {
    error = std::string(name) + ": missing" + missing;
    return -1;
  }
  if (e.iova + e.size < e.iova || (kind == LinuxIommuEvent::Map && e.paddr + e.size < e.paddr)) {
    error = std::string(name) + ": range wraps around the 64-bit address space";
    return -1;
  }
  if (have_end && end_addr != e.iova + e.size) {
    error = std::string(name) + ": end address is not iova + size";
    return -1;
  }
  if (kind == LinuxIommuEvent::Unmap && e.iova + e.unmapped_size < e.iova) {
    error = "unmap: unmapped range wraps around the 64-bit address space";
    return -1;
  }
  event = e;
  return 1;
}

LinuxTraceParseResult parse_linux_iommu_trace(
    std::istream& in, const std::function<bool(const LinuxIommuEvent&)>& on_event) {
  LinuxTraceParseResult r;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    LinuxIommuEvent e;
    std::string error;
    const int got = parse_linux_iommu_trace_line(line, e, error);
    if (got > 0) {
      e.line = n;
      ++r.event_count;
      if (!on_event(e)) break;
    } else if (got == 0) {
      ++r.ignored_lines;
    } else {
      ++r.skipped_lines;
      if (r.errors.size() < LinuxTraceParseResult::kMaxErrors)
        r.errors.push_back("line " + std::to_string(n) + ": " + error);
    }
  }
  return r;
}

LinuxTraceParseResult parse_linux_iommu_trace(std::istream& in) {
  std::vector<LinuxIommuEvent> events;
  LinuxTraceParseResult r = parse_linux_iommu_trace(in, [&events](const LinuxIommuEvent& e) {
    events.push_back(e);
    return true;
  });
  r.events = std::move(events);
  return r;
}

bool linux_event_to_dma_ops(const LinuxIommuEvent& e, const LinuxAccessRule& rule,
                            const std::function<bool(const LinuxDmaOp&)>& sink) {
  if (e.kind == LinuxIommuEvent::Map) {
    if (e.size == 0) return true;
    const uint64_t first = e.iova >> 12;
    const uint64_t last = (e.iova + e.size - 1) >> 12;
    uint64_t pages = last - first + 1;
    if (pages > rule.max_pages_per_map) pages = rule.max_pages_per_map;
    // Physical minus IOVA, in bytes: a translation of order o can be used for a block only if
    // this offset keeps the physical side aligned to the same order.
    const uint64_t delta = e.paddr - e.iova;
    for (unsigned pass = 0; pass < rule.passes; ++pass) {
      for (uint64_t vpn = first; vpn < first + pages; ++vpn) {
        LinuxDmaOp op;
        op.kind = LinuxDmaOp::Access;
        op.line = e.line;
        op.vpn = vpn;
        op.write = rule.writes;
        op.page_order = 0;
        op.entry_vpn = vpn;
        if (rule.superpages) {
          for (unsigned order : {18u, 9u}) {
            const uint64_t block = vpn & ~((1ULL << order) - 1);
            const bool inside = (block << 12) >= e.iova &&
                                ((block + (1ULL << order)) << 12) - 1 <= e.iova + e.size - 1;
            const bool aligned = (delta & ((1ULL << (order + 12)) - 1)) == 0;
            if (inside && aligned) {
              op.page_order = order;
              op.entry_vpn = block;
              break;
            }
          }
        }
        op.entry_pfn = ((op.entry_vpn << 12) + delta) >> 12;
        if (!sink(op)) return false;
      }
    }
    return true;
  }
  if (e.unmapped_size == 0) return true;
  uint64_t start = e.iova >> 12;
  const uint64_t end = ((e.iova + e.unmapped_size - 1) >> 12) + 1;
  while (start < end) {
    unsigned am = 0;
    while (am < 52 && (start & ((1ULL << (am + 1)) - 1)) == 0 && start + (1ULL << (am + 1)) <= end)
      ++am;
    LinuxDmaOp op;
    op.kind = LinuxDmaOp::Invalidate;
    op.line = e.line;
    op.vpn = start;
    op.am = am;
    if (!sink(op)) return false;
    start += 1ULL << am;
  }
  return true;
}

std::vector<LinuxDmaOp> linux_trace_to_dma_ops(const std::vector<LinuxIommuEvent>& events,
                                               const LinuxAccessRule& rule) {
  std::vector<LinuxDmaOp> ops;
  for (const LinuxIommuEvent& e : events) {
    linux_event_to_dma_ops(e, rule, [&ops](const LinuxDmaOp& op) {
      ops.push_back(op);
      return true;
    });
  }
  return ops;
}

}  // namespace iommu_sim
