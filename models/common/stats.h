// Statistics registry: counters, histograms and gauges under hierarchical names
// ("platform.iommu.iotlb.hits"), written as JSON. Plain C++.
//
// A measurement can start after a warm-up (restart()) and be cut into intervals
// (write_interval_json()); what the registry reports (value(), find_histogram(), the JSON) is
// always the current measurement, while the models keep counting as before: a Counter& a model
// holds goes on from its first increment, and the registry subtracts where the measurement began.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
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

// A quantile as a histogram knows it: the true value lies in [value - error, value + error].
struct Quantile {
  uint64_t value = 0;
  uint64_t error = 0;  // 0: exact
};

// Histogram of non-negative integers (e.g. picoseconds). Log-linear buckets (32 per power of
// two) keep memory constant; each bucket also keeps the smallest and the largest value it saw and
// how often it saw each, and the first kExactSamples values are kept as they are. So a quantile
// is exact while the histogram holds few samples, exact when it falls on its bucket's smallest or
// largest value (always, when a bucket saw one or two distinct values, as latencies made of a few
// fixed costs do), and otherwise the middle of the values its bucket saw, with half their spread
// as error (at most 1/64 of the value).
class Histogram {
 public:
  static constexpr unsigned kExactSamples = 64;

  // A few instructions while the value repeats: latencies made of a few fixed costs come in runs
  // of one value, which are counted and entered into the buckets when another value comes or
  // when the histogram is read.
  void add(uint64_t value) {
    if (value == m_run_value) {
      ++m_run_length;
      return;
    }
    settle();
    m_run_value = value;
    m_run_length = 1;
  }
  uint64_t count() const { return settled().m_count; }
  uint64_t min() const { return settled().m_count ? m_min : 0; }
  uint64_t max() const { return settled().m_max; }
  double mean() const { return settled().m_count ? static_cast<double>(m_sum) / m_count : 0.0; }
  uint64_t sum() const { return settled().m_sum; }
  // q in [0, 1]: the nearest-rank q-quantile (the smallest sample with at least q of all the
  // samples at or below it), as well as the histogram knows it.
  Quantile quantile_bounds(double q) const;
  // quantile_bounds(q).value.
  uint64_t quantile(double q) const { return quantile_bounds(q).value; }
  void merge(const Histogram& other);
  void reset() { *this = Histogram(); }

 private:
  static constexpr unsigned kSubBits = 5;
  static unsigned bucket_of(uint64_t v) {
    constexpr uint64_t kSub = 1ULL << kSubBits;
    if (v < kSub) return static_cast<unsigned>(v);
    const unsigned msb = 63 - __builtin_clzll(v);
    const unsigned shift = msb - kSubBits;
    return static_cast<unsigned>((shift + 1) * kSub + ((v >> shift) & (kSub - 1)));
  }
  struct Bucket {
    uint64_t count = 0;
    uint64_t lo = UINT64_MAX, hi = 0;  // the smallest and the largest value seen
    uint64_t at_lo = 0, at_hi = 0;     // how many of the samples were lo, and hi
  };
  // Enters the pending run into the buckets. It changes how the samples are held, not which
  // samples the histogram holds, so readers do it too: the members below are mutable.
  void settle() const {
    if (m_run_length) record(m_run_value, m_run_length);
    m_run_length = 0;
  }
  const Histogram& settled() const {
    settle();
    return *this;
  }
  // Enters n samples of one value.
  void record(uint64_t value, uint64_t n) const {
    const unsigned b = bucket_of(value);
    if (b >= m_buckets.size()) m_buckets.resize(b + 1);
    Bucket& k = m_buckets[b];
    if (value <= k.lo) {
      k.at_lo = value == k.lo ? k.at_lo + n : n;
      k.lo = value;
    }
    if (value >= k.hi) {
      k.at_hi = value == k.hi ? k.at_hi + n : n;
      k.hi = value;
    }
    k.count += n;
    if (m_count < kExactSamples)
      m_samples.insert(m_samples.end(), std::min<uint64_t>(n, kExactSamples - m_count), value);
    m_count += n;
    m_sum += value * n;
    if (value < m_min) m_min = value;
    if (value > m_max) m_max = value;
  }

  mutable std::vector<Bucket> m_buckets;
  mutable std::vector<uint64_t> m_samples;  // every sample while m_count <= kExactSamples
  mutable uint64_t m_count = 0, m_sum = 0, m_min = UINT64_MAX, m_max = 0;
  uint64_t m_run_value = 0;           // the run being counted: this value,
  mutable uint64_t m_run_length = 0;  // this many times (not yet in the buckets)
};

// The "meta" object of a statistics file: what produced it (version, platform, configuration,
// seed, times), as keys with string or number values, written in the order they were set.
class StatsMetadata {
 public:
  StatsMetadata& set(const std::string& key, const std::string& value);
  StatsMetadata& set(const std::string& key, const char* value) { return set(key, std::string(value)); }
  StatsMetadata& set(const std::string& key, double value);
  bool empty() const { return m_items.empty(); }
  // {"key": value, ...}
  void write_json(std::ostream& os) const;

 private:
  struct Item {
    std::string key;
    bool is_text = false;
    std::string text;
    double number = 0;
  };
  std::vector<Item> m_items;
};

class StatsRegistry {
 public:
  // The same name always returns the same object.
  Counter& counter(const std::string& name);
  Histogram& histogram(const std::string& name, const std::string& unit = "");
  // A value read when the statistics are read: a state (a queue's depth) or a figure computed
  // once (the summary). Reported as it is, whatever the measurement.
  void gauge(const std::string& name, std::function<double()> fn);
  // A count a model keeps itself (a cache's hits): reported, as a counter is, over the
  // measurement (what it gained since the measurement, or the interval, began).
  void cumulative(const std::string& name, std::function<double()> fn);
  // numerator / denominator * scale, both names of counters or cumulative values of this
  // registry: over the measurement, or over the interval, like them; 0 while the denominator is.
  void ratio(const std::string& name, const std::string& numerator, const std::string& denominator,
             double scale = 1.0);

  bool has(const std::string& name) const;
  // Counter, cumulative, ratio or gauge value; histograms give their count. Throws
  // std::out_of_range if unknown.
  double value(const std::string& name) const;
  // The histogram over the measurement (its own object unless intervals were cut: then a merge
  // of the intervals, valid until the next call).
  const Histogram* find_histogram(const std::string& name) const;
  std::vector<std::string> names() const;

  // Starts the measurement over (the warm-up ends): counters and cumulative values count from
  // here, histograms forget their samples.
  void restart();

  // Flat JSON object: {"meta": {...}, "a.b.c": 1, "a.lat": {"unit": "ps", "count": ..,
  // "mean": .., "min": .., "max": .., "p50": .., "p50_error": .., "p90": ..,
  // "p90_error": .., "p99": .., "p99_error": ..}, ...}, over the measurement. No "meta" when
  // `meta` is empty.
  void write_json(std::ostream& os, const StatsMetadata& meta = StatsMetadata()) const;
  // The interval since the previous call (or since the measurement began) as one line of JSON
  // in the same form: counters, cumulative values and ratios over the interval, histograms of
  // its samples alone, gauges as they are. Then the next interval begins; the measurement goes
  // on.
  void write_interval_json(std::ostream& os, const StatsMetadata& meta);

 private:
  struct NamedCounter {
    Counter counter;
    uint64_t measurement_base = 0, interval_base = 0;
  };
  struct NamedHistogram {
    Histogram live;     // what the model adds to: the current interval
    Histogram earlier;  // the measurement's earlier intervals
    bool cut = false;   // intervals were cut: the measurement is earlier + live
    std::string unit;
    mutable Histogram merged;  // find_histogram()'s answer once cut
  };
  enum class GaugeKind { Level, Cumulative, Ratio };
  struct NamedGauge {
    GaugeKind kind = GaugeKind::Level;
    std::function<double()> fn;
    double measurement_base = 0, interval_base = 0;
    std::string numerator, denominator;
    double scale = 1.0;
  };
  enum class Span { Measurement, Interval };
  double value_over(const std::string& name, Span span) const;
  void write_values(std::ostream& os, const StatsMetadata& meta, Span span, bool one_line) const;

  std::map<std::string, std::unique_ptr<NamedCounter>> m_counters;
  std::map<std::string, std::unique_ptr<NamedHistogram>> m_histograms;
  std::map<std::string, NamedGauge> m_gauges;
};

// Writes s as a JSON string literal (quotes and escapes).
void write_json_string(std::ostream& os, const std::string& s);

}  // namespace iommu_sim
