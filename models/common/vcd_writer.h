// VCD waveform writer driven by annotated times. Loosely-timed models know when things happen
// (sc_time_stamp() plus the annotated delay) but run ahead of the kernel, so events arrive out of
// order across initiators: they are buffered and written sorted when the file is closed.
// Plain C++: times are in picoseconds.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace iommu_sim {

class VcdWriter {
 public:
  using SignalId = uint32_t;

  VcdWriter() = default;
  ~VcdWriter();
  VcdWriter(const VcdWriter&) = delete;
  VcdWriter& operator=(const VcdWriter&) = delete;

  // Throws std::runtime_error if the file cannot be opened.
  void open(const std::string& path);
  bool is_open() const { return m_open; }

  // scope is dotted ("platform.iommu"); width 1..64 bits; initial value at time 0.
  SignalId add_signal(const std::string& scope, const std::string& name, unsigned width,
                      uint64_t initial = 0);
  void record(SignalId id, uint64_t time_ps, uint64_t value);
  // Increments/decrements a counter-like signal at time_ps (e.g. walks in flight).
  void add(SignalId id, uint64_t time_ps, int64_t delta);
  // A pulse: value 1 at time_ps, back to 0 width_ps later.
  void pulse(SignalId id, uint64_t time_ps, uint64_t width_ps = 1000);

  // Sorts the events and writes the file. Called by the destructor if not called before.
  void close();

 private:
  struct Signal {
    std::string scope, name, code;
    unsigned width;
    uint64_t initial;
    int64_t running;  // for add()
  };
  struct Event {
    uint64_t time_ps;
    uint64_t seq;
    SignalId id;
    uint64_t value;
  };
  std::string m_path;
  bool m_open = false;
  std::vector<Signal> m_signals;
  std::vector<Event> m_events;
};

}  // namespace iommu_sim
