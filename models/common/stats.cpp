#include "iommu_sim/common/stats.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <stdexcept>

namespace iommu_sim {

Quantile Histogram::quantile_bounds(double q) const {
  settle();
  if (m_count == 0) return Quantile{};
  q = std::clamp(q, 0.0, 1.0);
  // The epsilon keeps q * count that should be whole (0.99 * 100) from rounding up a rank.
  const uint64_t rank =
      std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(q * m_count - 1e-9)), 1, m_count);
  if (m_count <= kExactSamples) {
    std::vector<uint64_t> s = m_samples;
    std::nth_element(s.begin(), s.begin() + (rank - 1), s.end());
    return Quantile{s[rank - 1], 0};
  }
  uint64_t seen = 0;
  for (const Bucket& b : m_buckets) {
    if (seen + b.count < rank) {
      seen += b.count;
      continue;
    }
    // The rank-th sample is this bucket's r-th smallest: at_lo copies of lo come first, at_hi
    // copies of hi last, and whatever lies between them is somewhere in [lo, hi].
    const uint64_t r = rank - seen;
    if (r <= b.at_lo) return Quantile{b.lo, 0};
    if (r > b.count - b.at_hi) return Quantile{b.hi, 0};
    const uint64_t value = b.lo + (b.hi - b.lo) / 2;
    return Quantile{value, b.hi - value};
  }
  return Quantile{m_max, 0};
}

void Histogram::merge(const Histogram& other) {
  settle();
  other.settle();
  if (other.m_count == 0) return;
  if (m_count + other.m_count <= kExactSamples) {
    m_samples.insert(m_samples.end(), other.m_samples.begin(), other.m_samples.end());
  } else {
    std::vector<uint64_t>().swap(m_samples);
  }
  if (other.m_buckets.size() > m_buckets.size()) m_buckets.resize(other.m_buckets.size());
  for (size_t i = 0; i < other.m_buckets.size(); ++i) {
    const Bucket& o = other.m_buckets[i];
    Bucket& b = m_buckets[i];
    if (o.count == 0) continue;
    if (b.count == 0) {
      b = o;
      continue;
    }
    b.at_lo = o.lo < b.lo ? o.at_lo : o.lo == b.lo ? b.at_lo + o.at_lo : b.at_lo;
    b.at_hi = o.hi > b.hi ? o.at_hi : o.hi == b.hi ? b.at_hi + o.at_hi : b.at_hi;
    b.count += o.count;
    b.lo = std::min(b.lo, o.lo);
    b.hi = std::max(b.hi, o.hi);
  }
  m_count += other.m_count;
  m_sum += other.m_sum;
  m_min = std::min(m_min, other.m_min);
  m_max = std::max(m_max, other.m_max);
}

// ---------------------------------------------------------------- metadata

StatsMetadata& StatsMetadata::set(const std::string& key, const std::string& value) {
  Item item;
  item.key = key;
  item.is_text = true;
  item.text = value;
  m_items.push_back(std::move(item));
  return *this;
}

StatsMetadata& StatsMetadata::set(const std::string& key, double value) {
  Item item;
  item.key = key;
  item.number = value;
  m_items.push_back(std::move(item));
  return *this;
}

namespace {
void write_number(std::ostream& os, double v) {
  if (!std::isfinite(v)) {
    os << "null";
  } else if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
    os << static_cast<long long>(v);
  } else {
    os << std::setprecision(10) << v;
  }
}
}  // namespace

void StatsMetadata::write_json(std::ostream& os) const {
  os << "{";
  for (size_t i = 0; i < m_items.size(); ++i) {
    os << (i ? ", " : "");
    write_json_string(os, m_items[i].key);
    os << ": ";
    if (m_items[i].is_text) {
      write_json_string(os, m_items[i].text);
    } else {
      write_number(os, m_items[i].number);
    }
  }
  os << "}";
}

// ---------------------------------------------------------------- registry

Counter& StatsRegistry::counter(const std::string& name) {
  auto& slot = m_counters[name];
  if (!slot) slot = std::make_unique<NamedCounter>();
  return slot->counter;
}

Histogram& StatsRegistry::histogram(const std::string& name, const std::string& unit) {
  auto& slot = m_histograms[name];
  if (!slot) {
    slot = std::make_unique<NamedHistogram>();
    slot->unit = unit;
  }
  return slot->live;
}

void StatsRegistry::gauge(const std::string& name, std::function<double()> fn) {
  NamedGauge g;
  g.fn = std::move(fn);
  m_gauges[name] = std::move(g);
}

void StatsRegistry::cumulative(const std::string& name, std::function<double()> fn) {
  NamedGauge g;
  g.kind = GaugeKind::Cumulative;
  g.fn = std::move(fn);
  m_gauges[name] = std::move(g);
}

void StatsRegistry::ratio(const std::string& name, const std::string& numerator,
                          const std::string& denominator, double scale) {
  NamedGauge g;
  g.kind = GaugeKind::Ratio;
  g.numerator = numerator;
  g.denominator = denominator;
  g.scale = scale;
  m_gauges[name] = std::move(g);
}

bool StatsRegistry::has(const std::string& name) const {
  return m_counters.count(name) || m_histograms.count(name) || m_gauges.count(name);
}

double StatsRegistry::value_over(const std::string& name, Span span) const {
  const bool interval = span == Span::Interval;
  if (auto it = m_counters.find(name); it != m_counters.end()) {
    const NamedCounter& c = *it->second;
    return static_cast<double>(c.counter.value() - (interval ? c.interval_base : c.measurement_base));
  }
  if (auto it = m_gauges.find(name); it != m_gauges.end()) {
    const NamedGauge& g = it->second;
    switch (g.kind) {
      case GaugeKind::Level: return g.fn();
      case GaugeKind::Cumulative: return g.fn() - (interval ? g.interval_base : g.measurement_base);
      case GaugeKind::Ratio: {
        const double den = value_over(g.denominator, span);
        return den != 0 ? value_over(g.numerator, span) / den * g.scale : 0.0;
      }
    }
  }
  if (auto it = m_histograms.find(name); it != m_histograms.end()) {
    const NamedHistogram& h = *it->second;
    return static_cast<double>(h.live.count() + (interval ? 0 : h.earlier.count()));
  }
  throw std::out_of_range("no statistic named '" + name + "'");
}

double StatsRegistry::value(const std::string& name) const { return value_over(name, Span::Measurement); }

const Histogram* StatsRegistry::find_histogram(const std::string& name) const {
  auto it = m_histograms.find(name);
  if (it == m_histograms.end()) return nullptr;
  const NamedHistogram& h = *it->second;
  if (!h.cut) return &h.live;
  h.merged = h.earlier;
  h.merged.merge(h.live);
  return &h.merged;
}

std::vector<std::string> StatsRegistry::names() const {
  std::vector<std::string> out;
  for (auto& [n, _] : m_counters) out.push_back(n);
  for (auto& [n, _] : m_gauges) out.push_back(n);
  for (auto& [n, _] : m_histograms) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

void StatsRegistry::restart() {
  for (auto& [_, c] : m_counters) c->measurement_base = c->interval_base = c->counter.value();
  for (auto& [_, g] : m_gauges)
    if (g.kind == GaugeKind::Cumulative) g.measurement_base = g.interval_base = g.fn();
  for (auto& [_, h] : m_histograms) {
    h->live.reset();
    h->earlier.reset();
    h->merged.reset();
    h->cut = false;
  }
}

void write_json_string(std::ostream& os, const std::string& s) {
  os << '"';
  for (char c : s) {
    switch (c) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\t': os << "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          os << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int(c) << std::dec;
        } else {
          os << c;
        }
    }
  }
  os << '"';
}

namespace {
void write_histogram(std::ostream& os, const Histogram& h, const std::string& unit) {
  os << "{\"unit\": ";
  write_json_string(os, unit);
  os << ", \"count\": " << h.count() << ", \"mean\": ";
  write_number(os, h.mean());
  os << ", \"min\": " << h.min() << ", \"max\": " << h.max();
  for (const auto& [key, q] : {std::pair<const char*, double>{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}}) {
    const Quantile v = h.quantile_bounds(q);
    os << ", \"" << key << "\": " << v.value << ", \"" << key << "_error\": " << v.error;
  }
  os << "}";
}
}  // namespace

void StatsRegistry::write_values(std::ostream& os, const StatsMetadata& meta, Span span,
                                 bool one_line) const {
  const char* first_sep = one_line ? "" : "\n  ";
  const char* sep = one_line ? ", " : ",\n  ";
  os << "{";
  bool first = true;
  if (!meta.empty()) {
    os << first_sep << "\"meta\": ";
    meta.write_json(os);
    first = false;
  }
  for (const auto& name : names()) {
    os << (first ? first_sep : sep);
    first = false;
    write_json_string(os, name);
    os << ": ";
    if (auto it = m_histograms.find(name); it != m_histograms.end()) {
      const NamedHistogram& h = *it->second;
      write_histogram(os, span == Span::Interval ? h.live : *find_histogram(name), h.unit);
    } else {
      write_number(os, value_over(name, span));
    }
  }
  os << (one_line ? "}\n" : "\n}\n");
}

void StatsRegistry::write_json(std::ostream& os, const StatsMetadata& meta) const {
  write_values(os, meta, Span::Measurement, false);
}

void StatsRegistry::write_interval_json(std::ostream& os, const StatsMetadata& meta) {
  write_values(os, meta, Span::Interval, true);
  for (auto& [_, c] : m_counters) c->interval_base = c->counter.value();
  for (auto& [_, g] : m_gauges)
    if (g.kind == GaugeKind::Cumulative) g.interval_base = g.fn();
  for (auto& [_, h] : m_histograms) {
    h->earlier.merge(h->live);
    h->live.reset();
    h->cut = true;
  }
}

}  // namespace iommu_sim
