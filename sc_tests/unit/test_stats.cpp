// Statistics: histogram quantiles and what they claim, the measurement (warm-up restart,
// intervals) and the JSON of a statistics file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/platform/sweep/stats_json.h"

using namespace iommu_sim;

namespace {

// The nearest-rank quantile of a list, computed the slow way.
uint64_t nearest_rank(std::vector<uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * v.size() - 1e-9));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

std::map<std::string, double> parse(const std::string& json) {
  std::istringstream in(json);
  std::map<std::string, double> out;
  std::string error;
  REQUIRE(read_stats_json(in, out, error));
  return out;
}

}  // namespace

TEST_CASE("quantiles of latencies made of a few fixed costs are those costs", "[unit]") {
  // An IOTLB hit costs 84 ns and a miss 164 ns: 60 hits and 40 misses, then many more.
  Histogram h;
  for (int i = 0; i < 600; ++i) h.add(84000);
  for (int i = 0; i < 400; ++i) h.add(164000);
  CHECK(h.quantile(0.5) == 84000);   // not the edge of the bucket holding 84000
  CHECK(h.quantile(0.6) == 84000);
  CHECK(h.quantile(0.61) == 164000);
  CHECK(h.quantile(0.99) == 164000);
  CHECK(h.quantile_bounds(0.99).error == 0);
  CHECK(h.quantile_bounds(0.5).error == 0);
}

TEST_CASE("quantiles are exact when a bucket saw two distinct values", "[unit]") {
  // 84 ns and 86 ns share a bucket (84.0-86.0 ns): its smallest and largest value, and their counts.
  Histogram h;
  for (int i = 0; i < 600; ++i) h.add(84000);
  for (int i = 0; i < 400; ++i) h.add(86000);
  CHECK(h.quantile_bounds(0.6).value == 84000);
  CHECK(h.quantile_bounds(0.6).error == 0);
  CHECK(h.quantile_bounds(0.61).value == 86000);
  CHECK(h.quantile_bounds(0.61).error == 0);
  // A third value between them: what falls on it is only known to lie in [84, 86] ns.
  for (int i = 0; i < 1000; ++i) h.add(85000);
  CHECK(h.quantile_bounds(0.1).value == 84000);
  CHECK(h.quantile_bounds(0.5).value == 85000);
  CHECK(h.quantile_bounds(0.5).error == 1000);
  CHECK(h.quantile_bounds(0.9).value == 86000);
  CHECK(h.quantile_bounds(0.9).error == 0);
}

TEST_CASE("quantiles of few samples are exact", "[unit]") {
  // Values a few ps apart, many to a bucket: only the samples themselves can be exact.
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < Histogram::kExactSamples; ++i) v.push_back(100000 + 37 * ((i * 7) % 64));
  Histogram h;
  for (uint64_t x : v) h.add(x);
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}) {
    const Quantile got = h.quantile_bounds(q);
    CHECK(got.value == nearest_rank(v, q));
    CHECK(got.error == 0);
  }
}

TEST_CASE("quantiles of many spread samples hold the true one within the error they state", "[unit]") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(11.0, 1.0);
  std::vector<uint64_t> v;
  Histogram h;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t x = static_cast<uint64_t>(dist(rng));
    v.push_back(x);
    h.add(x);
  }
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    const Quantile got = h.quantile_bounds(q);
    const uint64_t truth = nearest_rank(v, q);
    CHECK(got.value - got.error <= truth);
    CHECK(truth <= got.value + got.error);
    CHECK(got.error * 64 <= got.value + 64);  // half a bucket at most: 1/64 of the value
  }
  CHECK(h.quantile(0.0) == *std::min_element(v.begin(), v.end()));
  CHECK(h.quantile(1.0) == *std::max_element(v.begin(), v.end()));
}

TEST_CASE("merged histograms answer as one that saw every sample", "[unit]") {
  Histogram a, b, all;
  for (uint64_t i = 0; i < 30; ++i) {
    a.add(1000 + i);
    all.add(1000 + i);
  }
  for (uint64_t i = 0; i < 30; ++i) {
    b.add(5000 + 3 * i);
    all.add(5000 + 3 * i);
  }
  a.merge(b);  // 60 samples: still exact
  for (double q : {0.25, 0.5, 0.75, 0.99}) CHECK(a.quantile_bounds(q).value == all.quantile_bounds(q).value);
  CHECK(a.quantile_bounds(0.5).error == 0);
  Histogram c;
  for (uint64_t i = 0; i < 100; ++i) {
    c.add(9000 + i % 5);
    all.add(9000 + i % 5);
  }
  a.merge(c);  // past the exact samples: the buckets answer, the same way for both
  for (double q : {0.25, 0.5, 0.75, 0.99}) {
    CHECK(a.quantile_bounds(q).value == all.quantile_bounds(q).value);
    CHECK(a.quantile_bounds(q).error == all.quantile_bounds(q).error);
  }
  CHECK(a.count() == all.count());
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
}

TEST_CASE("a restart starts the measurement over without touching the models' counts", "[unit]") {
  StatsRegistry s;
  Counter& hits = s.counter("c.hits");
  uint64_t model_lookups = 0, model_hits = 0;
  s.cumulative("cache.lookups", [&] { return double(model_lookups); });
  s.cumulative("cache.hits", [&] { return double(model_hits); });
  s.ratio("cache.hit_rate", "cache.hits", "cache.lookups");
  s.gauge("queue.depth", [] { return 3.0; });
  Histogram& lat = s.histogram("lat", "ps");

  hits.inc(10);
  model_lookups = 100;
  model_hits = 10;  // a cold cache
  lat.add(1000000);
  s.restart();  // the warm-up is over
  hits.inc(5);
  model_lookups += 100;
  model_hits += 90;
  lat.add(50);
  lat.add(60);

  CHECK(hits.value() == 15);  // the model's own count goes on
  CHECK(s.value("c.hits") == 5);
  CHECK(s.value("cache.lookups") == 100);
  CHECK(s.value("cache.hit_rate") == Approx(0.9));
  CHECK(s.value("queue.depth") == 3);
  CHECK(s.value("lat") == 2);
  CHECK(s.find_histogram("lat")->max() == 60);
}

TEST_CASE("intervals hold their own increments and samples, the measurement all of them", "[unit]") {
  StatsRegistry s;
  Counter& dmas = s.counter("dmas");
  uint64_t model_bytes = 0;
  s.cumulative("bytes", [&] { return double(model_bytes); });
  s.ratio("bytes_per_dma", "bytes", "dmas");
  Histogram& lat = s.histogram("lat", "ps");

  std::ostringstream lines;
  StatsMetadata m1;
  m1.set("interval", 0.0);
  dmas.inc(2);
  model_bytes += 128;
  lat.add(100);
  lat.add(300);
  s.write_interval_json(lines, m1);
  StatsMetadata m2;
  m2.set("interval", 1.0);
  dmas.inc(1);
  model_bytes += 4096;
  lat.add(7000);
  s.write_interval_json(lines, m2);

  std::istringstream in(lines.str());
  std::string first, second;
  REQUIRE(std::getline(in, first));
  REQUIRE(std::getline(in, second));
  const auto a = parse(first), b = parse(second);
  CHECK(a.at("meta.interval") == 0);
  CHECK(a.at("dmas") == 2);
  CHECK(a.at("bytes") == 128);
  CHECK(a.at("bytes_per_dma") == 64);
  CHECK(a.at("lat.count") == 2);
  CHECK(a.at("lat.max") == 300);
  CHECK(b.at("meta.interval") == 1);
  CHECK(b.at("dmas") == 1);
  CHECK(b.at("bytes") == 4096);
  CHECK(b.at("bytes_per_dma") == 4096);
  CHECK(b.at("lat.count") == 1);
  CHECK(b.at("lat.min") == 7000);
  CHECK(b.at("lat.p50") == 7000);

  // The measurement is both intervals together.
  CHECK(s.value("dmas") == 3);
  CHECK(s.value("bytes_per_dma") == Approx((128.0 + 4096) / 3));
  const Histogram* all = s.find_histogram("lat");
  REQUIRE(all != nullptr);
  CHECK(all->count() == 3);
  CHECK(all->min() == 100);
  CHECK(all->quantile(0.5) == 300);
}

TEST_CASE("a statistics file leads with its metadata and states each quantile's error", "[unit]") {
  StatsRegistry s;
  s.counter("x").inc(4);
  Histogram& h = s.histogram("lat", "ps");
  for (uint64_t i = 0; i < 1000; ++i) h.add(100000 + (i % 7) * 10);
  StatsMetadata meta;
  meta.set("version", "1.2.3").set("seed", 42.0);
  std::ostringstream os;
  s.write_json(os, meta);
  const std::string text = os.str();
  CHECK(text.rfind("{\n  \"meta\": {\"version\": \"1.2.3\", \"seed\": 42},", 0) == 0);
  const auto v = parse(text);
  CHECK(v.at("meta.seed") == 42);
  CHECK(v.at("x") == 4);
  const Quantile p99 = h.quantile_bounds(0.99);
  CHECK(v.at("lat.p99") == p99.value);
  CHECK(v.at("lat.p99_error") == p99.error);
  CHECK(v.at("lat.p50_error") >= 0);
  // Seven values 10 ps apart share one bucket: the claim is their spread, not the bucket's.
  CHECK(p99.value - p99.error >= 100000);
  CHECK(p99.value + p99.error <= 100060);
}

TEST_CASE("a histogram that saw runs of one value answers as one that saw them apart", "[unit]") {
  // The same samples twice: in runs of one value, and dealt out in turn so that no value
  // follows itself.
  const std::vector<uint64_t> round = {84000, 86000, 166000, 168500, 84000, 0};
  std::vector<uint64_t> values, apart_order;
  for (uint64_t v : round)
    for (int i = 0; i < 40; ++i) values.push_back(v);
  for (int i = 0; i < 40; ++i) apart_order.insert(apart_order.end(), round.begin(), round.end());
  REQUIRE(std::adjacent_find(apart_order.begin(), apart_order.end()) == apart_order.end());
  Histogram runs, apart;
  for (uint64_t v : values) runs.add(v);
  for (uint64_t v : apart_order) apart.add(v);
  CHECK(runs.count() == values.size());
  CHECK(runs.sum() == apart.sum());
  CHECK(runs.min() == 0);
  CHECK(runs.max() == 168500);
  for (double q : {0.0, 0.1, 0.2, 0.5, 0.83, 0.9, 0.99, 1.0}) {
    CHECK(runs.quantile_bounds(q).value == apart.quantile_bounds(q).value);
    CHECK(runs.quantile_bounds(q).error == apart.quantile_bounds(q).error);
    CHECK(runs.quantile(q) == nearest_rank(values, q));
  }
  // Read in the middle of a run, then go on with it: nothing is counted twice or lost.
  Histogram h;
  for (int i = 0; i < 10; ++i) h.add(500);
  CHECK(h.count() == 10);
  CHECK(h.quantile(0.5) == 500);
  for (int i = 0; i < 10; ++i) h.add(500);
  h.add(700);
  CHECK(h.count() == 21);
  CHECK(h.sum() == 20 * 500 + 700);
  CHECK(h.quantile(1.0) == 700);
  Histogram merged;
  merged.merge(h);
  CHECK(merged.count() == 21);
  CHECK(merged.max() == 700);
}
