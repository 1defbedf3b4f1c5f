// Statistics registry: counters, histograms and gauges under hierarchical names
// ("platform.iommu.iotlb.hits"), written as JSON. Plain C++.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

class Counter {
 public:
  void inc(uint64_t n = 1) { m_value += n; }
  uint64_t value() const { return m_value; }
  void reset() { m_value = 0; }

 private:
  uint64_t m_value = 0;
};

// Log-linear histogram of non-negative integers (e.g. picoseconds): 32 linear sub-buckets per
// power of two, so quantiles are within about 3% while memory stays constant.
class Histogram {
 public:
  void add(uint64_t value);
  uint64_t count() const { return m_count; }
  uint64_t min() const { return m_count ? m_min : 0; }
  uint64_t max() const { return m_max; }
  double mean() const { return m_count ? static_cast<double>(m_sum) / m_count : 0.0; }
  uint64_t sum() const { return m_sum; }
  // q in [0, 1]; the upper edge of the bucket holding the q-quantile, clamped to [min, max].
  uint64_t quantile(double q) const;
  void merge(const Histogram& other);

 private:
  static constexpr unsigned kSubBits = 5;
  static unsigned bucket_of(uint64_t v);
  static uint64_t bucket_upper(unsigned b);
  std::vector<uint64_t> m_buckets;
  uint64_t m_count = 0, m_sum = 0, m_min = UINT64_MAX, m_max = 0;
};

class StatsRegistry {
 public:
  // The same name always returns the same object.
  Counter& counter(const std::string& name);
  Histogram& histogram(const std::string& name, const std::string& unit = "");
  // Evaluated when the statistics are read or written.
  void gauge(const std::string& name, std::function<double()> fn);

  bool has(const std::string& name) const;
  // Counter or gauge value; histograms give their count. Throws std::out_of_range if unknown.
  double value(const std::string& name) const;
  const Histogram* find_histogram(const std::string& name) const;
  std::vector<std::string> names() const;

  // Flat JSON object: {"a.b.c": 1, "a.lat": {"count":..,"mean":..,"p50":..,"p99":..}, ...}
  void write_json(std::ostream& os) const;

 private:
  struct NamedHistogram {
    Histogram histogram;
    std::string unit;
  };
  std::map<std::string, std::unique_ptr<Counter>> m_counters;
  std::map<std::string, std::unique_ptr<NamedHistogram>> m_histograms;
  std::map<std::string, std::function<double()>> m_gauges;
};

// Writes s as a JSON string literal (quotes and escapes).
void write_json_string(std::ostream& os, const std::string& s);

}  // namespace iommu_sim
