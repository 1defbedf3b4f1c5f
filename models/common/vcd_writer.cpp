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
  m_out.open(path);
  if (!m_out) throw std::runtime_error("cannot open waveform file '" + path + "' for writing");
  m_open = true;
}

VcdWriter::SignalId VcdWriter::add_signal(const std::string& scope, const std::string& name,
                                          unsigned width, uint64_t initial) {
  if (m_header_written)
    throw std::logic_error("VcdWriter: signal '" + name + "' added after the first event was written");
  const auto id = static_cast<SignalId>(m_signals.size());
  m_signals.push_back(Signal{scope, name, id_code(id), std::clamp(width, 1u, 64u), initial,
                             static_cast<int64_t>(initial)});
  return id;
}

void VcdWriter::push(SignalId id, uint64_t time_ps, uint64_t value) {
  m_events.push(Event{time_ps, m_seq++, id, value});
  m_peak = std::max(m_peak, m_events.size());
  if (m_events.size() < m_next_flush || !m_watermark) return;
  flush_before(m_watermark());
  // Check again only after as many new events as are still waiting (and a batch at least), so
  // that a long stretch ahead of the watermark costs no repeated scans.
  m_next_flush = std::max(kFlushBatch, 2 * m_events.size());
}

void VcdWriter::record(SignalId id, uint64_t time_ps, uint64_t value) {
  if (!m_open || id >= m_signals.size()) return;
  push(id, time_ps, value);
}

void VcdWriter::add(SignalId id, uint64_t time_ps, int64_t delta) {
  if (!m_open || id >= m_signals.size()) return;
  push(id | kDelta, time_ps, static_cast<uint64_t>(delta));
}

void VcdWriter::pulse(SignalId id, uint64_t time_ps, uint64_t width_ps) {
  record(id, time_ps, 1);
  record(id, time_ps + width_ps, 0);
}

void VcdWriter::write_header() {
  m_header_written = true;
  std::ostream& os = m_out;
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
}

void VcdWriter::write_change(const Event& e) {
  const SignalId id = e.id & ~kDelta;
  Signal& s = m_signals[id];
  uint64_t value = e.value;
  if (e.id & kDelta) {
    s.running += static_cast<int64_t>(e.value);
    value = static_cast<uint64_t>(std::max<int64_t>(s.running, 0));
  }
  uint64_t time = e.time_ps;
  if (m_time_written && time < m_written_until) {
    // Behind what is already written: VCD times only go forward.
    time = m_written_until;
    ++m_late;
  }
  if (!m_time_written || time != m_written_until) {
    m_out << "#" << time << "\n";
    m_written_until = time;
    m_time_written = true;
  }
  m_out << value_text(value, s.width, s.code) << "\n";
}

void VcdWriter::flush_before(uint64_t watermark) {
  if (!m_header_written) write_header();
  while (!m_events.empty() && m_events.top().time_ps < watermark) {
    write_change(m_events.top());
    m_events.pop();
  }
}

void VcdWriter::close() {
  if (!m_open) return;
  m_open = false;
  flush_before(UINT64_MAX);
  while (!m_events.empty()) {  // an event at UINT64_MAX itself
    write_change(m_events.top());
    m_events.pop();
  }
  m_out.close();
  if (!m_out) throw std::runtime_error("cannot write the waveform file");
}

}  // namespace iommu_sim
