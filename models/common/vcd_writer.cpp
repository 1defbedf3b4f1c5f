#include "iommu_sim/common/vcd_writer.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

#include "iommu_sim/common/wave_output.h"

namespace iommu_sim {

namespace {
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
  m_out = open_wave_output(path);
  m_open = true;
}

VcdWriter::SignalId VcdWriter::add_signal(const std::string& scope, const std::string& name,
                                          unsigned width, uint64_t initial) {
  if (m_header_written)
    throw std::logic_error("VcdWriter: signal '" + name + "' added after the first event was written");
  const auto id = static_cast<SignalId>(m_signals.size());
  m_signals.push_back(Signal{scope, name, std::clamp(width, 1u, 64u), initial,
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
  // Scopes as a tree, signals in the order they were added.
  std::map<std::vector<std::string>, std::vector<SignalId>> by_scope;
  for (SignalId i = 0; i < m_signals.size(); ++i) by_scope[split_scope(m_signals[i].scope)].push_back(i);
  std::vector<std::string> open_scopes;
  for (auto& [path, ids] : by_scope) {
    size_t common = 0;
    while (common < open_scopes.size() && common < path.size() && open_scopes[common] == path[common])
      ++common;
    while (open_scopes.size() > common) {
      m_out->upscope();
      open_scopes.pop_back();
    }
    for (size_t k = common; k < path.size(); ++k) {
      m_out->scope(path[k]);
      open_scopes.push_back(path[k]);
    }
    for (SignalId id : ids) m_out->signal(id, m_signals[id].name, m_signals[id].width);
  }
  while (!open_scopes.empty()) {
    m_out->upscope();
    open_scopes.pop_back();
  }
  m_out->end_declarations();
  for (SignalId id = 0; id < m_signals.size(); ++id) m_out->change(id, m_signals[id].initial);
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
    // Behind what is already written: times in a waveform only go forward.
    time = m_written_until;
    ++m_late;
  }
  if (!m_time_written || time != m_written_until) {
    m_out->time(time);
    m_written_until = time;
    m_time_written = true;
  }
  m_out->change(id, value);
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
  const std::unique_ptr<WaveOutput> out = std::move(m_out);
  out->close();
}

}  // namespace iommu_sim
