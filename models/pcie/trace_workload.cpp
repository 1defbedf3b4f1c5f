#include "iommu_sim/pcie/trace_workload.h"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "iommu_sim/common/parse_number.h"

namespace iommu_sim {

namespace {
bool parse_requester(const std::string& s, uint16_t& rid) {
  uint64_t bus, dev, fn;
  const size_t colon = s.find(':'), dot = s.find('.');
  if (colon != std::string::npos && dot != std::string::npos && dot > colon) {
    const std::string_view t(s);
    if (!parse_digits_u64(t.substr(0, colon), 16, bus) ||
        !parse_digits_u64(t.substr(colon + 1, dot - colon - 1), 16, dev) ||
        !parse_digits_u64(t.substr(dot + 1), 16, fn) || bus > 0xFF || dev > 0x1F || fn > 7) {
      return false;
    }
    rid = static_cast<uint16_t>(bus << 8 | dev << 3 | fn);
    return true;
  }
  // A routing ID is hex, with or without 0x.
  uint64_t v;
  const bool prefixed = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (!parse_digits_u64(std::string_view(s).substr(prefixed ? 2 : 0), 16, v) || v > 0xFFFF) return false;
  rid = static_cast<uint16_t>(v);
  return true;
}
}  // namespace

bool parse_dma_trace(std::istream& in, const std::string& source, std::vector<TraceEntry>& out,
                     std::string& error) {
  std::string line;
  unsigned number = 0;
  uint64_t last_time = 0;
  auto fail = [&](const std::string& msg) {
    error = source + ":" + std::to_string(number) + ": " + msg;
    return false;
  };
  while (std::getline(in, line)) {
    ++number;
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string f[7];
    unsigned n = 0;
    while (n < 7 && fields >> f[n]) ++n;
    if (n == 0) continue;
    if (n != 5 && n != 6) return fail("expected 5 or 6 fields: time_ns requester iova size R|W [U|T]");
    TraceEntry e;
    uint64_t size;
    if (!parse_digits_u64(f[0], 10, e.time_ns)) return fail("time_ns: not a decimal number below 2^64");
    if (e.time_ns < last_time) return fail("time_ns: goes backwards");
    if (!parse_requester(f[1], e.requester)) return fail("requester: not a routing ID");
    if (!parse_u64(f[2], e.iova)) return fail("iova: not a number below 2^64 (decimal, or hex with 0x)");
    if (!parse_digits_u64(f[3], 10, size)) return fail("size: not a decimal number");
    if (size == 0 || size > 65536) return fail("size: must be 1..65536");
    if (size - 1 > UINT64_MAX - e.iova) return fail("iova + size: runs past 2^64");
    if (f[4] != "R" && f[4] != "W" && f[4] != "r" && f[4] != "w") {
      return fail("direction: must be R or W");
    }
    if (n == 6 && f[5] != "U" && f[5] != "T" && f[5] != "u" && f[5] != "t")
      return fail("address type: must be U (untranslated) or T (translated)");
    e.size = static_cast<uint32_t>(size);
    e.write = f[4] == "W" || f[4] == "w";
    e.translated = n == 6 && (f[5] == "T" || f[5] == "t");
    last_time = e.time_ns;
    out.push_back(e);
  }
  return true;
}

std::string validate(const TraceWorkloadConfig& c) {
  if (c.path.empty()) return "path: must name a trace file";
  if (!(c.time_scale >= 0)) return "time_scale: must not be negative";
  return "";
}

TraceWorkload::TraceWorkload(const TraceWorkloadConfig& config) : m_config(config) {
  std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument("trace workload: " + err);
  std::ifstream in(config.path);
  if (!in) throw std::invalid_argument("trace workload: path: cannot open " + config.path);
  if (!parse_dma_trace(in, config.path, m_entries, err)) throw std::invalid_argument(err);
}

TraceWorkload::TraceWorkload(std::vector<TraceEntry> entries, const TraceWorkloadConfig& config)
    : m_config(config), m_entries(std::move(entries)) {}

void TraceWorkload::run(DmaPort& port) {
  const sc_core::sc_time start = port.now();
  std::vector<uint8_t> buffer;
  for (const TraceEntry& e : m_entries) {
    if (m_config.requester && e.requester != *m_config.requester) continue;
    const sc_core::sc_time due =
        start + sc_core::sc_time(e.time_ns * m_config.time_scale, sc_core::SC_NS);
    if (port.now() < due) port.delay(due - port.now());
    // A recognisable byte, so that where a write landed can be seen in memory.
    buffer.assign(e.size, e.write ? 0xD7 : 0);
    if (e.translated) {
      port.translated(e.write, e.iova, buffer.data(), e.size);
    } else if (e.write) {
      port.write(e.iova, buffer.data(), e.size);
    } else {
      port.read(e.iova, buffer.data(), e.size);
    }
  }
}

}  // namespace iommu_sim
