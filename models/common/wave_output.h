// Where a waveform's declarations and value changes go: a VCD text file or an FST file
// (GTKWave's compressed format, much smaller and faster to open for long runs). VcdWriter
// decides what to write and when, in time order; a WaveOutput only encodes it.
// Plain C++: times are in picoseconds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace iommu_sim {

class WaveOutput {
 public:
  virtual ~WaveOutput() = default;

  // The declarations: a tree of scopes and the signals in them. Signal ids are 0, 1, 2, ... in
  // declaration order.
  virtual void scope(const std::string& name) = 0;
  virtual void upscope() = 0;
  virtual void signal(uint32_t id, const std::string& name, unsigned width) = 0;
  virtual void end_declarations() = 0;

  // Value changes after the declarations: those before the first time() are the initial values;
  // times only go forward.
  virtual void time(uint64_t time_ps) = 0;
  virtual void change(uint32_t id, uint64_t value) = 0;

  // Finishes the file; throws std::runtime_error if it could not be written.
  virtual void close() = 0;
};

// The output for `path` by its extension: ".vcd" or ".fst". Throws std::invalid_argument for
// another extension (naming the accepted ones) and std::runtime_error when the file cannot be
// opened (or, for ".fst", when the build has no FST writer).
std::unique_ptr<WaveOutput> open_wave_output(const std::string& path);

}  // namespace iommu_sim
