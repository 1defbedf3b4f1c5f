// A waveform file read back for tests: every signal by its full dotted name, with its width and
// its value changes in file order. Reads the VCD the models' VcdWriter writes (one name per
// identifier code, binary vectors).
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

namespace iommu_sim {
namespace test {

struct WaveSignal {
  unsigned width = 0;
  std::vector<std::pair<uint64_t, uint64_t>> changes;  // (time, value), the initial one first
  uint64_t last() const { return changes.empty() ? 0 : changes.back().second; }
};

struct WaveFile {
  std::string timescale;
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
