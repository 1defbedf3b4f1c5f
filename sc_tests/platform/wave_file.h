// A waveform file read back for tests: every signal by its full dotted name, with its width and
// its value changes in file order. Reads the VCD the models' VcdWriter writes (one name per
// identifier code, binary vectors) and FST files (GTKWave's FST reader, as Verilator ships it:
// link the wave_file_reader target), the VcdWriter's and Verilator's.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fstapi.h"

namespace iommu_sim {
namespace test {

struct WaveSignal {
  unsigned width = 0;
  // (time, value), the initial one first; of a signal wider than 64 bits, its low 64 bits.
  std::vector<std::pair<uint64_t, uint64_t>> changes;
  uint64_t last() const { return changes.empty() ? 0 : changes.back().second; }
};

struct WaveFile {
  std::string timescale;  // "1ps", "1ns", ...
  uint64_t end_time = 0;
  std::map<std::string, WaveSignal> signals;
  const WaveSignal& at(const std::string& name) const {
    const auto it = signals.find(name);
    if (it == signals.end()) throw std::out_of_range("no signal " + name + " in the wave file");
    return it->second;
  }
};

inline WaveFile read_vcd(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  WaveFile file;
  std::map<std::string, WaveSignal*> by_code;
  std::vector<std::string> scope;
  uint64_t time = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string w;
    words >> w;
    if (w == "$scope") {
      std::string kind, name;
      words >> kind >> name;
      scope.push_back(name);
    } else if (w == "$upscope") {
      scope.pop_back();
    } else if (w == "$timescale") {
      words >> file.timescale;
    } else if (w == "$var") {
      std::string type, code, name;
      unsigned width = 0;
      words >> type >> width >> code >> name;
      std::string full;
      for (const auto& s : scope) full += s + ".";
      WaveSignal& s = file.signals[full + name];
      s.width = width;
      by_code[code] = &s;
    } else if (line[0] == '#') {
      time = std::stoull(line.substr(1));
      file.end_time = time;
    } else if (line[0] == 'b') {
      std::string code;
      words >> code;
      by_code.at(code)->changes.emplace_back(time, std::stoull(w.substr(1), nullptr, 2));
    } else if (line[0] == '0' || line[0] == '1') {
      by_code.at(line.substr(1))->changes.emplace_back(time, line[0] == '1');
    }
  }
  return file;
}

// An FST time scale (the power of ten of the time unit) as VCD writes it: -12 "1ps", -8 "10ns".
inline std::string timescale_text(int exponent) {
  static const char* const units[] = {"s", "ms", "us", "ns", "ps", "fs"};
  unsigned unit = 0;
  while (exponent < 0 && unit < 5) {
    exponent += 3;
    ++unit;
  }
  return (exponent == 2 ? "100" : exponent == 1 ? "10" : "1") + std::string(units[unit]);
}

inline WaveFile read_fst(const std::string& path) {
  void* ctx = fstReaderOpen(path.c_str());
  if (!ctx) throw std::runtime_error("cannot read FST " + path);
  WaveFile file;
  file.timescale = timescale_text(fstReaderGetTimescale(ctx));
  file.end_time = fstReaderGetEndTime(ctx);
  std::map<fstHandle, WaveSignal*> by_handle;
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
      const auto bracket = var.find(" [");  // Verilator names its vectors "x [hi:lo]"
      if (bracket != std::string::npos) var.erase(bracket);
      WaveSignal& s = file.signals[name + var];
      s.width = h->u.var.length;
      if (!h->u.var.is_alias) by_handle[h->u.var.handle] = &s;
    }
  }
  fstReaderSetFacProcessMaskAll(ctx);
  fstReaderIterBlocks(
      ctx,
      [](void* user, uint64_t time, fstHandle handle, const unsigned char* value) {
        const auto& handles = *static_cast<std::map<fstHandle, WaveSignal*>*>(user);
        const auto it = handles.find(handle);
        if (it == handles.end()) return;
        uint64_t v = 0;
        for (const unsigned char* c = value; *c; ++c) v = (v << 1) | (*c == '1');
        it->second->changes.emplace_back(time, v);
      },
      &by_handle, nullptr);
  fstReaderClose(ctx);
  return file;
}

// A VCD or an FST file, by its extension.
inline WaveFile read_waves(const std::string& path) {
  const bool fst = path.size() >= 4 && path.compare(path.size() - 4, 4, ".fst") == 0;
  return fst ? read_fst(path) : read_vcd(path);
}

}  // namespace test
}  // namespace iommu_sim

namespace iommu_sim {
namespace test {

// The signals a GTKWave save file shows: (full dotted name, width from its [hi:lo], 1 without).
inline std::vector<std::pair<std::string, unsigned>> save_file_signals(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::pair<std::string, unsigned>> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || std::string("[@-*#").find(line[0]) != std::string::npos) continue;
    unsigned width = 1;
    const auto bracket = line.find('[');
    if (bracket != std::string::npos) {
      unsigned hi = 0, lo = 0;
      if (std::sscanf(line.c_str() + bracket, "[%u:%u]", &hi, &lo) == 2) width = hi - lo + 1;
      line.erase(bracket);
    }
    out.emplace_back(line, width);
  }
  return out;
}

}  // namespace test
}  // namespace iommu_sim
