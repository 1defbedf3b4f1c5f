// `trace` workload: replays a DMA trace file.
//
// Format: one access per line, fields separated by blanks:
//   <time_ns> <requester> <iova> <size> <R|W> [U|T]
// time_ns: decimal, non-decreasing, from the start of the workload; requester: hex routing ID
// ("0x0100") or bus:device.function in hex ("01:00.1"); iova: hex with 0x or decimal (a leading
// zero is still decimal); size: decimal bytes, 1..65536, the access ending below 2^64;
// direction R (device reads memory) or W (device writes memory); optionally U (untranslated,
// the default) or T (a request the device marks as already translated, as after ATS).
// Written data is 0xD7 in every byte. '#' starts a comment; blank lines are ignored. A
// malformed line is an error naming its line number ("trace.txt:12: size: not a number").
//
// An engine replays the lines whose requester matches TraceWorkloadConfig::requester (all lines
// when it is unset), each at its time (or as soon as the previous access finished).
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "iommu_sim/pcie/workload.h"

namespace iommu_sim {

struct TraceEntry {
  uint64_t time_ns = 0;
  uint16_t requester = 0;
  uint64_t iova = 0;
  uint32_t size = 0;
  bool write = false;
  bool translated = false;  // AT = translated
};

// Parses the whole stream; on a malformed line returns false and sets error to
// "<source>:<line>: <message>".
bool parse_dma_trace(std::istream& in, const std::string& source, std::vector<TraceEntry>& out,
                     std::string& error);

struct TraceWorkloadConfig {
  std::string path;                     // the trace file
  std::optional<uint16_t> requester;    // replay only this requester's lines
  double time_scale = 1.0;              // multiplies the trace times (0.5 = twice as fast)
};

std::string validate(const TraceWorkloadConfig& config);

class TraceWorkload : public Workload {
 public:
  // Reads and parses the file; throws std::invalid_argument with the parse error.
  explicit TraceWorkload(const TraceWorkloadConfig& config);
  // From entries already in memory (tests, generated traces).
  TraceWorkload(std::vector<TraceEntry> entries, const TraceWorkloadConfig& config);
  std::string kind() const override { return "trace"; }
  void run(DmaPort& port) override;
  size_t entries() const { return m_entries.size(); }

 private:
  TraceWorkloadConfig m_config;
  std::vector<TraceEntry> m_entries;
};

}  // namespace iommu_sim
