// Waveform writer driven by annotated times, to a VCD or an FST file (by the file's extension;
// wave_output.h encodes them). Loosely-timed models know when things happen
// (sc_time_stamp() plus the annotated delay) but run ahead of the kernel, so events arrive out of
// order across initiators, by up to a quantum or so. They wait in a reorder buffer and are
// written, in time order, once they lie behind the watermark: a time before which no event can
// arrive any more (for SystemC models, the kernel's current time: every event is recorded at
// sc_time_stamp() + delay with delay >= 0). Memory so stays flat however long the run; without
// a watermark everything waits until close(). The file is the same either way.
// Plain C++: times are in picoseconds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "iommu_sim/common/wave_output.h"

namespace iommu_sim {

class VcdWriter {
 public:
  using SignalId = uint32_t;

  VcdWriter() = default;
  ~VcdWriter();
  VcdWriter(const VcdWriter&) = delete;
  VcdWriter& operator=(const VcdWriter&) = delete;

  // "FILE.vcd" or "FILE.fst". Throws std::invalid_argument for another extension and
  // std::runtime_error if the file cannot be opened.
  void open(const std::string& path);
  bool is_open() const { return m_open; }

  // Where the reorder buffer may flush up to: returns a time (ps) before which no event will be
  // recorded any more. Set it before the first event.
  void set_watermark(std::function<uint64_t()> watermark) { m_watermark = std::move(watermark); }

  // scope is dotted ("platform.iommu"); width 1..64 bits; initial value at time 0. Signals are
  // declared before the first event is written (throws std::logic_error after).
  SignalId add_signal(const std::string& scope, const std::string& name, unsigned width,
                      uint64_t initial = 0);
  void record(SignalId id, uint64_t time_ps, uint64_t value);
  // Increments/decrements a counter-like signal at time_ps (e.g. walks in flight).
  void add(SignalId id, uint64_t time_ps, int64_t delta);
  // A pulse: value 1 at time_ps, back to 0 width_ps later.
  void pulse(SignalId id, uint64_t time_ps, uint64_t width_ps = 1000);

  // Writes what is left and closes the file. Called by the destructor if not called before.
  void close();

  // Events waiting in the reorder buffer, now and at most so far (tests, benchmarks).
  size_t buffered() const { return m_events.size(); }
  size_t peak_buffered() const { return m_peak; }
  // Events that arrived behind the watermark (written at the last time written; 0 when every
  // model keeps to the rule above).
  uint64_t late_events() const { return m_late; }

 private:
  struct Signal {
    std::string scope, name;
    unsigned width;
    uint64_t initial;
    int64_t running;  // the value of an add() signal, summed in time order
  };
  struct Event {
    uint64_t time_ps;
    uint64_t seq;    // arrival order: ties at one time keep it
    SignalId id;     // kDelta set: value is a signed increment
    uint64_t value;
    bool operator>(const Event& o) const {
      return time_ps != o.time_ps ? time_ps > o.time_ps : seq > o.seq;
    }
  };
  static constexpr SignalId kDelta = 0x80000000u;

  void push(SignalId id, uint64_t time_ps, uint64_t value);
  // Writes every buffered event before `watermark` (all of them for UINT64_MAX).
  void flush_before(uint64_t watermark);
  void write_header();
  void write_change(const Event& e);

  std::unique_ptr<WaveOutput> m_out;
  bool m_open = false;
  bool m_header_written = false;
  std::vector<Signal> m_signals;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> m_events;
  std::function<uint64_t()> m_watermark;
  uint64_t m_seq = 0;
  uint64_t m_written_until = 0;  // the time of the last change written
  bool m_time_written = false;
  size_t m_next_flush = kFlushBatch;
  uint64_t m_late = 0;
  size_t m_peak = 0;
  static constexpr size_t kFlushBatch = 4096;  // buffered events between watermark checks
};

}  // namespace iommu_sim
