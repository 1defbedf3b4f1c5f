// What the benchmarks share besides callgrind sections: their "--name value" options and the
// median of repeated timings.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace iommu_sim {

// `text` as a count of at least `min`, for option `what` of `bench`; anything else (not a decimal
// number, too small) exits with status 2 and says what is accepted.
inline uint64_t parse_count(const char* bench, const std::string& what, const std::string& text,
                            uint64_t min = 1) {
  const bool digits = !text.empty() && text.size() <= 19 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const uint64_t n = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  if (!digits || n < min) {
    std::fprintf(stderr, "%s: %s '%s': accepted is a decimal number of at least %llu\n", bench,
                 what.c_str(), text.c_str(), static_cast<unsigned long long>(min));
    std::exit(2);
  }
  return n;
}

class BenchArgs {
 public:
  // Every argument must be one of `accepted` ("--accesses N", ...) followed by its value;
  // anything else exits with status 2 and says what is accepted.
  BenchArgs(int argc, char** argv, const char* bench, const std::vector<std::string>& accepted)
      : m_bench(bench) {
    std::string names;
    for (const std::string& a : accepted) names += (names.empty() ? "" : ", ") + a + " VALUE";
    for (int i = 1; i < argc; i += 2) {
      const std::string a = argv[i];
      if (std::find(accepted.begin(), accepted.end(), a) == accepted.end() || i + 1 >= argc) {
        std::fprintf(stderr, "%s: bad argument '%s': accepted are %s\n", bench, argv[i],
                     names.c_str());
        std::exit(2);
      }
      m_values.emplace_back(a, argv[i + 1]);
    }
  }
  // The value of `name` as a count of at least `min` (exit status 2 otherwise), `def` without it.
  uint64_t number(const std::string& name, uint64_t def, uint64_t min = 1) const {
    const std::string* v = find(name);
    return v ? parse_count(m_bench, name, *v, min) : def;
  }
  std::string text(const std::string& name, const std::string& def = "") const {
    const std::string* v = find(name);
    return v ? *v : def;
  }

 private:
  const std::string* find(const std::string& name) const {
    for (const auto& nv : m_values)
      if (nv.first == name) return &nv.second;
    return nullptr;
  }
  const char* m_bench;
  std::vector<std::pair<std::string, std::string>> m_values;
};

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace iommu_sim
