// The report's scalable-mode part: what the PASID cache and the first-level and nested
// paging-structure caches did, the table reads of a page walk by dimension (first level, second
// level: a cold 4 x 4 nested walk reads 4 + 20), and the walk-latency distribution.
#include <cstdio>

#include "iommu_sim/platform/report.h"

namespace iommu_sim {

namespace {

double get(const StatsRegistry& s, const std::string& name) { return s.has(name) ? s.value(name) : 0.0; }

std::string rate(double hits, double lookups) {
  if (lookups <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * hits / lookups);
  return buf;
}

// Hits and lookups of a paging-structure cache summed over its levels.
std::string ps_rate(const StatsRegistry& s, const std::string& prefix) {
  double hits = 0, lookups = 0;
  for (unsigned level = 2; level <= 5; ++level) {
    hits += get(s, prefix + ".l" + std::to_string(level) + ".hits");
    lookups += get(s, prefix + ".l" + std::to_string(level) + ".lookups");
  }
  return rate(hits, lookups);
}

}  // namespace

void register_scalable_summary(StatsRegistry& stats, const std::string& iommu) {
  const Histogram* latency = stats.find_histogram(iommu + ".walk_latency");
  if (!latency || !stats.has(iommu + ".walk_reads.page_tables")) return;
  // Ratios of counts over the measurement (a warm-up left out), as the IOMMU's own.
  const std::string walks = iommu + ".walks";
  stats.ratio("summary.walk_reads_per_walk", iommu + ".walk_reads.page_tables", walks);
  stats.ratio("summary.walk_first_level_reads_per_walk", iommu + ".walk_reads.first_level", walks);
  stats.ratio("summary.walk_second_level_reads_per_walk", iommu + ".walk_reads.second_level", walks);
  stats.gauge("summary.walk_latency_p50_ns", [latency] { return latency->quantile(0.5) / 1000.0; });
  stats.gauge("summary.walk_latency_p99_ns", [latency] { return latency->quantile(0.99) / 1000.0; });
}

void print_scalable_report(std::ostream& os, const PlatformConfig& config, const StatsRegistry& s) {
  const std::string iommu = "platform.iommu";
  char line[256];
  std::snprintf(line, sizeof line,
                "  scalable mode        %s tables; PASID cache hit rate %s, first-level PS caches %s, "
                "nested PS caches %s\n",
                config.host.tables.c_str(),
                rate(get(s, iommu + ".pasid_cache.hits"), get(s, iommu + ".pasid_cache.lookups")).c_str(),
                ps_rate(s, iommu + ".first_level_pscache").c_str(), ps_rate(s, iommu + ".nested_pscache").c_str());
  os << line;
  const Histogram* refs = s.find_histogram(iommu + ".walk_refs");
  const Histogram* latency = s.find_histogram(iommu + ".walk_latency");
  if (!refs || !latency || refs->count() == 0) return;
  const double walks = static_cast<double>(refs->count());
  const double fl = get(s, iommu + ".walk_reads.first_level");
  const double sl = get(s, iommu + ".walk_reads.second_level");
  std::snprintf(line, sizeof line,
                "  reads per walk       %.2f (first level %.2f, second level %.2f; max %llu), "
                "A/D writes %llu\n",
                (fl + sl) / walks, fl / walks, sl / walks, static_cast<unsigned long long>(refs->max()),
                static_cast<unsigned long long>(get(s, iommu + ".walk_writes")));
  os << line;
  std::snprintf(line, sizeof line,
                "  walk latency         mean %.1f ns, p50 %.1f ns, p90 %.1f ns, p99 %.1f ns, max %.1f ns\n",
                latency->mean() / 1000.0, latency->quantile(0.5) / 1000.0, latency->quantile(0.9) / 1000.0,
                latency->quantile(0.99) / 1000.0, latency->max() / 1000.0);
  os << line;
}

}  // namespace iommu_sim
