// An FST waveform read back for tests: its time scale, last time, and every signal by its full
// dotted name with its width (the hierarchy only, not the values).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtkwave/fstapi.h"

namespace iommu_sim {
namespace test {

struct FstFile {
  int timescale = 0;  // power of ten of the time unit: -9 ns, -12 ps
  uint64_t start_time = 0, end_time = 0;
  std::map<std::string, unsigned> widths;
};

inline FstFile read_fst(const std::string& path) {
  void* ctx = fstReaderOpen(path.c_str());
  if (!ctx) throw std::runtime_error("cannot read FST " + path);
  FstFile f;
  f.timescale = fstReaderGetTimescale(ctx);
  f.start_time = fstReaderGetStartTime(ctx);
  f.end_time = fstReaderGetEndTime(ctx);
  std::vector<std::string> scope;
  while (const fstHier* h = fstReaderIterateHier(ctx)) {
    if (h->htyp == FST_HT_SCOPE) {
      scope.emplace_back(h->u.scope.name);
    } else if (h->htyp == FST_HT_UPSCOPE) {
      scope.pop_back();
    } else if (h->htyp == FST_HT_VAR) {
      std::string name;
      for (const auto& s : scope) name += s + ".";
      std::string var = h->u.var.name;
      const auto bracket = var.find(" [");  // vectors are named "x [hi:lo]"
      if (bracket != std::string::npos) var.erase(bracket);
      f.widths[name + var] = h->u.var.length;
    }
  }
  fstReaderClose(ctx);
  return f;
}

}  // namespace test
}  // namespace iommu_sim
