#include "iommu_sim/pcie/trace_workload.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace iommu_sim {

namespace {
bool parse_u64(const std::string& s, uint64_t& v, int base = 0) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  try {
    size_t pos = 0;
    v = std::stoull(s, &pos, base);
    return pos == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

bool parse_requester(const std::string& s, uint16_t& rid) {
  uint64_t bus, dev, fn;
  const size_t colon = s.find(':'), dot = s.find('.');
  if (colon != std::string::npos && dot != std::string::npos && dot > colon) {
    if (!parse_u64(s.substr(0, colon), bus, 16) ||
        !parse_u64(s.substr(colon + 1, dot - colon - 1), dev, 16) ||
        !parse_u64(s.substr(dot + 1), fn, 16) || bus > 0xFF || dev > 0x1F || fn > 7) {
      return false;
    }
    rid = static_cast<uint16_t>(bus << 8 | dev << 3 | fn);
    return true;
  }
  uint64_t v;
  if (!parse_u64(s, v, 16) || v > 0xFFFF) return false;
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
    std::string f[6];
    unsigned n = 0;
    while (n < 6 && fields >> f[n]) ++n;
    if (n == 0) continue;
    if (n != 5) return fail("expected 5 fields: time_ns requester iova size R|W");
    TraceEntry e;
    uint64_t size;
    if (!parse_u64(f[0], e.time_ns, 10)) return fail("time_ns: not a decimal number");
    if (e.time_ns < last_time) return fail("time_ns: goes backwards");
    if (!parse_requester(f[1], e.requester)) return fail("requester: not a routing ID");
    if (!parse_u64(f[2], e.iova)) return fail("iova: not a number");
    if (!parse_u64(f[3], size, 10)) return fail("size: not a number");
    if (size == 0 || size > 65536) return fail("size: must be 1..65536");
    if (f[4] != "R" && f[4] != "W" && f[4] != "r" && f[4] != "w") {
      return fail("direction: must be R or W");
    }
    e.size = static_cast<uint32_t>(size);
    e.write = f[4] == "W" || f[4] == "w";
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
    buffer.assign(e.size, 0);
    if (e.write) {
      port.write(e.iova, buffer.data(), e.size);
    } else {
      port.read(e.iova, buffer.data(), e.size);
    }
  }
}

}  // namespace iommu_sim
