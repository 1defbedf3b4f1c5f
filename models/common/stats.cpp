#include "iommu_sim/common/stats.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <stdexcept>

namespace iommu_sim {

unsigned Histogram::bucket_of(uint64_t v) {
  constexpr uint64_t kSub = 1ULL << kSubBits;
  if (v < kSub) return static_cast<unsigned>(v);
  const unsigned msb = 63 - __builtin_clzll(v);
  const unsigned shift = msb - kSubBits;
  const uint64_t sub = (v >> shift) & (kSub - 1);
  return static_cast<unsigned>((shift + 1) * kSub + sub);
}

uint64_t Histogram::bucket_upper(unsigned b) {
  constexpr uint64_t kSub = 1ULL << kSubBits;
  if (b < kSub) return b;
  const unsigned shift = b / kSub - 1;
  const uint64_t sub = b % kSub;
  const uint64_t lower = (kSub + sub) << shift;
  return lower + ((1ULL << shift) - 1);
}

void Histogram::add(uint64_t value) {
  const unsigned b = bucket_of(value);
  if (b >= m_buckets.size()) m_buckets.resize(b + 1, 0);
  ++m_buckets[b];
  ++m_count;
  m_sum += value;
  m_min = std::min(m_min, value);
  m_max = std::max(m_max, value);
}

uint64_t Histogram::quantile(double q) const {
  if (m_count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * m_count)));
  uint64_t seen = 0;
  for (unsigned b = 0; b < m_buckets.size(); ++b) {
    seen += m_buckets[b];
    if (seen >= rank) return std::clamp(bucket_upper(b), min(), m_max);
  }
  return m_max;
}

void Histogram::merge(const Histogram& other) {
  if (other.m_buckets.size() > m_buckets.size()) m_buckets.resize(other.m_buckets.size(), 0);
  for (size_t i = 0; i < other.m_buckets.size(); ++i) m_buckets[i] += other.m_buckets[i];
  m_count += other.m_count;
  m_sum += other.m_sum;
  m_min = std::min(m_min, other.m_min);
  m_max = std::max(m_max, other.m_max);
}

Counter& StatsRegistry::counter(const std::string& name) {
  auto& slot = m_counters[name];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& StatsRegistry::histogram(const std::string& name, const std::string& unit) {
  auto& slot = m_histograms[name];
  if (!slot) {
    slot = std::make_unique<NamedHistogram>();
    slot->unit = unit;
  }
  return slot->histogram;
}

void StatsRegistry::gauge(const std::string& name, std::function<double()> fn) {
  m_gauges[name] = std::move(fn);
}

bool StatsRegistry::has(const std::string& name) const {
  return m_counters.count(name) || m_histograms.count(name) || m_gauges.count(name);
}

double StatsRegistry::value(const std::string& name) const {
  if (auto it = m_counters.find(name); it != m_counters.end()) return it->second->value();
  if (auto it = m_gauges.find(name); it != m_gauges.end()) return it->second();
  if (auto it = m_histograms.find(name); it != m_histograms.end())
    return it->second->histogram.count();
  throw std::out_of_range("no statistic named '" + name + "'");
}

const Histogram* StatsRegistry::find_histogram(const std::string& name) const {
  auto it = m_histograms.find(name);
  return it == m_histograms.end() ? nullptr : &it->second->histogram;
}

std::vector<std::string> StatsRegistry::names() const {
  std::vector<std::string> out;
  for (auto& [n, _] : m_counters) out.push_back(n);
  for (auto& [n, _] : m_gauges) out.push_back(n);
  for (auto& [n, _] : m_histograms) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
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

void StatsRegistry::write_json(std::ostream& os) const {
  os << "{\n";
  bool first = true;
  for (const auto& name : names()) {
    os << (first ? "  " : ",\n  ");
    first = false;
    write_json_string(os, name);
    os << ": ";
    if (auto it = m_histograms.find(name); it != m_histograms.end()) {
      const Histogram& h = it->second->histogram;
      os << "{\"unit\": ";
      write_json_string(os, it->second->unit);
      os << ", \"count\": " << h.count() << ", \"mean\": ";
      write_number(os, h.mean());
      os << ", \"min\": " << h.min() << ", \"p50\": " << h.quantile(0.5)
         << ", \"p90\": " << h.quantile(0.9) << ", \"p99\": " << h.quantile(0.99)
         << ", \"max\": " << h.max() << "}";
    } else {
      write_number(os, value(name));
    }
  }
  os << "\n}\n";
}

}  // namespace iommu_sim
