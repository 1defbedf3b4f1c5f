#include "iommu_sim/common/vcd_writer.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

namespace iommu_sim {

namespace {
std::string id_code(uint32_t n) {
  std::string s;
  do {
    s.push_back(static_cast<char>('!' + n % 94));
    n /= 94;
  } while (n);
  return s;
}

std::string value_text(uint64_t v, unsigned width, const std::string& code) {
  if (width == 1) return std::string(1, (v & 1) ? '1' : '0') + code;
  std::string bits;
  for (int b = static_cast<int>(width) - 1; b >= 0; --b) bits.push_back(((v >> b) & 1) ? '1' : '0');
  const auto first_one = bits.find('1');
  bits = first_one == std::string::npos ? "0" : bits.substr(first_one);
  return "b" + bits + " " + code;
}

std::vector<std::string> split_scope(const std::string& scope) {
  std::vector<std::string> parts;
  std::stringstream ss(scope);
  std::string part;
  while (std::getline(ss, part, '.'))
    if (!part.empty()) parts.push_back(part);
  return parts;
}
}  // namespace

VcdWriter::~VcdWriter() {
  try {
    close();
  } catch (...) {
  }
}

void VcdWriter::open(const std::string& path) {
  std::ofstream probe(path);
  if (!probe) throw std::runtime_error("cannot open waveform file '" + path + "' for writing");
  m_path = path;
  m_open = true;
}

VcdWriter::SignalId VcdWriter::add_signal(const std::string& scope, const std::string& name,
                                          unsigned width, uint64_t initial) {
  const auto id = static_cast<SignalId>(m_signals.size());
  m_signals.push_back(Signal{scope, name, id_code(id), std::clamp(width, 1u, 64u), initial,
                             static_cast<int64_t>(initial)});
  return id;
}

void VcdWriter::record(SignalId id, uint64_t time_ps, uint64_t value) {
  if (!m_open || id >= m_signals.size()) return;
  m_events.push_back(Event{time_ps, m_events.size(), id, value});
}

void VcdWriter::add(SignalId id, uint64_t time_ps, int64_t delta) {
  if (!m_open || id >= m_signals.size()) return;
  // Deltas are kept as signed events and summed in time order when writing.
  m_events.push_back(Event{time_ps, m_events.size(), id | 0x80000000u, static_cast<uint64_t>(delta)});
}

void VcdWriter::pulse(SignalId id, uint64_t time_ps, uint64_t width_ps) {
  record(id, time_ps, 1);
  record(id, time_ps + width_ps, 0);
}

void VcdWriter::close() {
  if (!m_open) return;
  m_open = false;
  std::ofstream os(m_path);
  if (!os) throw std::runtime_error("cannot write waveform file '" + m_path + "'");
  os << "$date generated $end\n$version iommu-sim $end\n$timescale 1ps $end\n";

  // Scopes as a tree, signals in the order they were added.
  std::map<std::vector<std::string>, std::vector<SignalId>> by_scope;
  for (SignalId i = 0; i < m_signals.size(); ++i) by_scope[split_scope(m_signals[i].scope)].push_back(i);
  std::vector<std::string> open_scopes;
  for (auto& [path, ids] : by_scope) {
    size_t common = 0;
    while (common < open_scopes.size() && common < path.size() && open_scopes[common] == path[common])
      ++common;
    while (open_scopes.size() > common) {
      os << "$upscope $end\n";
      open_scopes.pop_back();
    }
    for (size_t k = common; k < path.size(); ++k) {
      os << "$scope module " << path[k] << " $end\n";
      open_scopes.push_back(path[k]);
    }
    for (SignalId id : ids) {
      const Signal& s = m_signals[id];
      os << "$var wire " << s.width << " " << s.code << " " << s.name << " $end\n";
    }
  }
  while (!open_scopes.empty()) {
    os << "$upscope $end\n";
    open_scopes.pop_back();
  }
  os << "$enddefinitions $end\n$dumpvars\n";
  for (const Signal& s : m_signals) os << value_text(s.initial, s.width, s.code) << "\n";
  os << "$end\n";

  std::stable_sort(m_events.begin(), m_events.end(), [](const Event& a, const Event& b) {
    return a.time_ps != b.time_ps ? a.time_ps < b.time_ps : a.seq < b.seq;
  });
  std::vector<int64_t> running(m_signals.size());
  for (size_t i = 0; i < m_signals.size(); ++i) running[i] = static_cast<int64_t>(m_signals[i].initial);
  uint64_t current = UINT64_MAX;
  for (const Event& e : m_events) {
    const bool is_delta = e.id & 0x80000000u;
    const SignalId id = e.id & 0x7FFFFFFFu;
    uint64_t value = e.value;
    if (is_delta) {
      running[id] += static_cast<int64_t>(e.value);
      value = static_cast<uint64_t>(std::max<int64_t>(running[id], 0));
    }
    if (e.time_ps != current) {
      os << "#" << e.time_ps << "\n";
      current = e.time_ps;
    }
    os << value_text(value, m_signals[id].width, m_signals[id].code) << "\n";
  }
  m_events.clear();
}

}  // namespace iommu_sim
