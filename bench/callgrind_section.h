// Instruction counts of measured sections, for benchmarks that also print wall times. Under
// `valgrind --tool=callgrind --collect-atstart=no` only code inside a CallgrindSection is
// counted, and each section ends with a dump named "<name> ops=<N>" that bench/callgrind-per-op
// turns into instructions per operation. Outside valgrind a section costs a few instructions and
// measures nothing; without valgrind's headers it is empty.
#pragma once

#include <cstdint>
#include <string>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define IOMMU_BENCH_HAVE_CALLGRIND 1
#endif

namespace iommu_sim {

class CallgrindSection {
 public:
  CallgrindSection(std::string name, uint64_t ops) : m_name(std::move(name)), m_ops(ops) {
#ifdef IOMMU_BENCH_HAVE_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
#endif
  }
  ~CallgrindSection() {
#ifdef IOMMU_BENCH_HAVE_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
    const std::string label = m_name + " ops=" + std::to_string(m_ops);
    CALLGRIND_DUMP_STATS_AT(label.c_str());
#endif
  }
  CallgrindSection(const CallgrindSection&) = delete;
  CallgrindSection& operator=(const CallgrindSection&) = delete;

 private:
  std::string m_name;
  uint64_t m_ops;
};

}  // namespace iommu_sim
