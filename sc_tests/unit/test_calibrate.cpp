// The arithmetic and the input of `iommu-sim calibrate`: the measured-curve reader (curve CSV and
// pcie-bench layouts, with their errors), byte counts, the linear fit of the fixed and table-read
// latencies, and the analytic predictor's cache arithmetic. The fit against model runs is tested
// in sc_tests/platform/test_calibrate_platform.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "iommu_sim/platform/calibrate/latency_fit.h"
#include "iommu_sim/platform/calibrate/measured_curve.h"

using namespace iommu_sim;

namespace {

std::string read(const std::string& text, MeasuredCurve& out, const std::string& cache = "") {
  std::istringstream in(text);
  CurveReadOptions o;
  o.cache_state = cache;
  return read_measured_curve(in, "m.csv", o, out);
}

// A pcie-bench window sweep in its own layout, two host-cache states.
const char* kPcieBench =
    "Test,PAT,Cache,HO,DO,WinSZ,SZ,TAvg,Avg,Med,Min,Max,95%,99.9%,TAvg(ns),Avg(ns),Med(ns),Min(ns),"
    "Max(ns),95%(ns),99.9%(ns),#outliers,#samples\n"
    "LAT_DMA_RD,Rand,Cold,0,0,8192,64,900,700,690,680,2000,710,900,750,600.5,590,580,1800,610,800,0,1000\n"
    "LAT_DMA_RD,Rand,Cold,0,0,1572864.0,64,900,700,690,680,2000,710,900,750,810.25,880,580,1800,940,1200,0,1000\n"
    "LAT_DMA_RD,Rand,Cold,0,0,65536,64,900,700,690,680,2000,710,900,750,601,590,580,1800,610,800,0,1000\n"
    "LAT_DMA_RD,Rand,HWarm,0,0,8192,64,900,700,690,680,2000,710,900,750,550,550,520,1800,560,580,0,1000\n"
    "LAT_DMA_RD,Rand,HWarm,0,0,65536,64,900,700,690,680,2000,710,900,750,551,550,520,1800,560,580,0,1000\n"
    "LAT_DMA_RD,Rand,HWarm,0,0,1572864.0,64,900,700,690,680,2000,710,900,750,760,840,520,1800,850,1200,0,1000\n";

}  // namespace

TEST_CASE("Byte counts take suffixes, fractions and hex", "[unit]") {
  uint64_t b = 0;
  CHECK((parse_byte_count("65536", b) && b == 65536));
  CHECK((parse_byte_count("64K", b) && b == 65536));
  CHECK((parse_byte_count("1.5M", b) && b == 1572864));
  CHECK((parse_byte_count("1572864.0", b) && b == 1572864));
  CHECK((parse_byte_count("2MiB", b) && b == 2097152));
  CHECK((parse_byte_count("0x1000", b) && b == 4096));
  CHECK_FALSE(parse_byte_count("1.5", b));  // not whole bytes
  CHECK_FALSE(parse_byte_count("-4K", b));
  CHECK_FALSE(parse_byte_count("4Q", b));
  CHECK_FALSE(parse_byte_count("", b));
  CHECK(format_byte_count(1572864) == "1.5M");
  CHECK(format_byte_count(65536) == "64K");
  CHECK(format_byte_count(1000) == "1000");
}

TEST_CASE("A curve CSV is read in window order, percentiles optional", "[unit]") {
  MeasuredCurve c;
  REQUIRE(read("# a comment\nwindow,mean_ns,p50_ns,samples\n1M,769.6,880,100\n8K,611.6,600,100\n"
               "64K,612.8,,100\n",
               c) == "");
  CHECK(c.format == "curve");
  REQUIRE(c.points.size() == 3);
  CHECK(c.points[0].window == 8192);
  CHECK(c.points[0].mean_ns == Approx(611.6));
  CHECK(c.points[1].p50_ns < 0);  // empty: not measured
  CHECK(c.points[2].window == 1048576);
  CHECK(c.points[2].p50_ns == Approx(880));
  CHECK(c.points[2].samples == 100);
  // Written back, it reads the same.
  std::ostringstream os;
  write_curve_csv(os, c);
  MeasuredCurve again;
  REQUIRE(read(os.str(), again) == "");
  REQUIRE(again.points.size() == 3);
  CHECK(again.points[2].mean_ns == Approx(769.6));
}

TEST_CASE("Bad curve files say where and what is wrong", "[unit]") {
  MeasuredCurve c;
  CHECK(read("window,latency\n8K,600\n", c).find("m.csv:1: no 'mean_ns' column") == 0);
  CHECK(read("window,mean_ns\n8K,600\n64K,abc\n1M,700\n", c).find("m.csv:3: mean 'abc'") == 0);
  CHECK(read("window,mean_ns\n8K,600\n8Q,601\n1M,700\n", c).find("m.csv:3: window '8Q'") == 0);
  CHECK(read("window,mean_ns\n8K,600\n8192,601\n1M,700\n", c).find("m.csv:3: window 8192 appears twice") == 0);
  CHECK(read("window,mean_ns\n8K,600\n64K\n1M,700\n", c).find("m.csv:3: 1 fields") == 0);
  CHECK(read("window,mean_ns\n8K,600\n1M,700\n", c).find("2 usable windows") != std::string::npos);
  CHECK(read("", c).find("no header row") != std::string::npos);
  CHECK(read("window,mean_ns\n8K,600\n64K,601\n1M,700\n", c, "Cold").find("--cache applies to pcie-bench") !=
        std::string::npos);
}

TEST_CASE("A pcie-bench sweep is read for one host-cache state", "[unit]") {
  MeasuredCurve c;
  const std::string e = read(kPcieBench, c);
  CHECK(e.find("several host-cache states (Cold, HWarm)") != std::string::npos);
  CHECK(e.find("--cache") != std::string::npos);
  CHECK(read(kPcieBench, c, "DWarm").find("no rows of cache state 'DWarm'; the file has: Cold, HWarm") !=
        std::string::npos);
  REQUIRE(read(kPcieBench, c, "Cold") == "");
  CHECK(c.format == "pcie-bench");
  CHECK(c.cache_state == "Cold");
  CHECK(c.access_size == 64);
  REQUIRE(c.points.size() == 3);
  CHECK(c.points[0].window == 8192);
  CHECK(c.points[1].window == 65536);
  CHECK(c.points[2].window == 1572864);
  CHECK(c.points[2].mean_ns == Approx(810.25));  // Avg(ns), not the cycle counts
  CHECK(c.points[2].p50_ns == Approx(880));      // Med(ns)
  CHECK(c.points[2].samples == 1000);
  std::string other = kPcieBench;
  other.replace(other.find("LAT_DMA_RD,Rand,Cold,0,0,65536"), std::string("LAT_DMA_RD").size(), "LAT_DMA_WRRD");
  CHECK(read(other, c, "Cold").find("only LAT_DMA_RD") != std::string::npos);
}

TEST_CASE("The latency fit recovers the fixed and table-read latencies exactly", "[unit]") {
  CandidateCurve c;
  c.reads_per_dma = {0.0, 0.5, 1.0, 2.0, 3.5, 4.0};
  c.walks_per_dma = {0.0, 0.125, 0.25, 0.5, 0.875, 1.0};
  c.other_ns = {4.0, 4.25, 4.5, 5.0, 5.75, 6.0};
  std::vector<double> y;
  for (size_t i = 0; i < c.reads_per_dma.size(); ++i)
    y.push_back(530.0 + 72.5 * (1.0 + c.reads_per_dma[i]) + c.other_ns[i]);
  LinearFit f = fit_latencies(y, c);
  CHECK(f.upstream_ns == Approx(530.0));
  CHECK(f.read_ns == Approx(72.5));
  CHECK(f.sse == Approx(0.0).margin(1e-9));
  CHECK(f.fitted[3] == Approx(y[3]));
  // With noise the standard errors come from the residuals, and shrink with them.
  std::vector<double> noisy = y;
  for (size_t i = 0; i < noisy.size(); ++i) noisy[i] += (i % 2 ? 1.0 : -1.0);
  f = fit_latencies(noisy, c);
  CHECK(f.read_se > 0);
  CHECK(f.upstream_se > 0);
  CHECK(f.read_ns == Approx(72.5).epsilon(0.05));
  // The bounds hold: a curve that falls with more reads is no negative latency.
  std::vector<double> falling = {900, 850, 800, 700, 600, 550};
  f = fit_latencies(falling, c, 0.0);
  CHECK(f.read_ns == 0.0);
  CHECK(f.read_at_bound);
  CHECK_THROWS(fit_latencies({1.0, 2.0}, c));
}

TEST_CASE("Uniform accesses miss as a cache of that size predicts", "[unit]") {
  // Fewer items than entries: only the first touch of each misses.
  CHECK(expected_misses(64, 128, 100000) == Approx(64.0).epsilon(1e-6));
  // More items: once full, 1 - entries/items of the accesses miss.
  const double m = expected_misses(1024, 128, 1e6);
  CHECK(m / 1e6 == Approx(1.0 - 128.0 / 1024.0).epsilon(0.001));
  // The analytic curve of a 128-entry IOTLB without paging-structure caches: four reads a walk.
  AnalyticGeometry g;
  g.entries = 128;
  g.pscache = false;
  const CandidateCurve c = analytic_curve(g, {8192, 4ULL << 20}, 0x40000000, 20000);
  CHECK(c.walks_per_dma[0] < 0.001);
  CHECK(c.walks_per_dma[1] == Approx(1.0 - 128.0 / 1024.0).epsilon(0.01));
  CHECK(c.reads_per_dma[1] == Approx(4 * c.walks_per_dma[1]).epsilon(0.001));
  // With paging-structure caches of 1 entry, a 4 MiB window spans two 2 MiB regions: half of
  // the walks miss the level-2 cache and read one entry more.
  g.pscache = true;
  g.ps_entries = 1;
  const CandidateCurve p = analytic_curve(g, {4ULL << 20}, 0x40000000, 20000);
  CHECK(p.reads_per_dma[0] / p.walks_per_dma[0] == Approx(1.5).epsilon(0.01));
}
