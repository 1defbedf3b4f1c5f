// Grid sweeps, shards and merge, the one-pass subcommand and the sweep's file formats, driven
// through sweep_main with a stand-in for `iommu-sim run` (test_sweep_fake_sim.cpp).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/grid.h"
#include "iommu_sim/platform/sweep/one_pass.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/sweep.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string out, err;
};

Run sweep(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = sweep_main(args, SWEEP_FAKE_SIM, out, err);
  return {code, out.str(), err.str()};
}

// A fresh directory under the build tree for one test.
std::string scratch(const std::string& name) {
  const fs::path p = fs::current_path() / "sweep_test_out" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::vector<CsvRow> load_csv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<CsvRow> rows;
  std::string error;
  REQUIRE(read_csv(in, rows, error));
  return rows;
}

size_t column(const CsvRow& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  FAIL("no column " << name);
  return 0;
}

// Rows without the run-time column, which differs between runs of the same point.
std::vector<CsvRow> without_seconds(std::vector<CsvRow> rows) {
  const size_t s = column(rows[0], "seconds");
  for (CsvRow& r : rows) r.erase(r.begin() + static_cast<long>(s));
  return rows;
}

}  // namespace

TEST_CASE("grid axes expand to their cartesian product with the last axis fastest", "[unit]") {
  GridAxis a, b;
  std::string error;
  REQUIRE(parse_grid_axis("iommu.iotlb.sets=16,64", a, error));
  REQUIRE(parse_grid_axis("iommu.iotlb.ways=1,2,4", b, error));
  const std::vector<GridPoint> p = expand_grid({a, b});
  REQUIRE(p.size() == 6);
  CHECK(p[0].settings[0].second == "16");
  CHECK(p[0].settings[1].second == "1");
  CHECK(p[1].settings[1].second == "2");
  CHECK(p[3].settings[0].second == "64");
  CHECK(p[5].index == 5);

  CHECK_FALSE(parse_grid_axis("iommu.iotlb.ways", a, error));
  CHECK(error.find("KEY=V1,V2") != std::string::npos);
  CHECK_FALSE(parse_grid_axis("k=1,,2", a, error));
  CHECK_FALSE(parse_grid_axis("k=1,1", a, error));

  unsigned i = 0, n = 0;
  CHECK(parse_shard("2/3", i, n, error));
  CHECK(i == 2);
  CHECK(n == 3);
  CHECK_FALSE(parse_shard("0/3", i, n, error));
  CHECK(error.find("1 <= I <= N") != std::string::npos);
  CHECK_FALSE(parse_shard("4/3", i, n, error));
  const std::vector<GridPoint> s = shard_points(p, 2, 4);
  REQUIRE(s.size() == 2);
  CHECK(s[0].index == 1);
  CHECK(s[1].index == 5);
}

TEST_CASE("stats json is flattened to dotted names", "[unit]") {
  std::istringstream in(
      "{\"summary.dmas\": 12, \"a\": {\"count\": 3, \"p99\": 1.5e3}, \"s\": \"x,y\", "
      "\"l\": [1, {\"z\": 2}], \"t\": true, \"n\": null}");
  std::map<std::string, double> v;
  std::string error;
  REQUIRE(read_stats_json(in, v, error));
  CHECK(v["summary.dmas"] == 12);
  CHECK(v["a.count"] == 3);
  CHECK(v["a.p99"] == 1500);
  CHECK(v["t"] == 1);
  CHECK(v.count("s") == 0);
  CHECK(v.count("l.z") == 0);
  std::istringstream bad("{\"a\": 1,}");
  CHECK_FALSE(read_stats_json(bad, v, error));
  CHECK(error.find("byte") != std::string::npos);
}

TEST_CASE("csv fields with commas quotes and line breaks survive a round trip", "[unit]") {
  std::ostringstream out;
  write_csv_row(out, {"point", "error"});
  write_csv_row(out, {"1", "exit 1: a, \"quoted\"\nsecond line"});
  std::istringstream in(out.str());
  std::vector<CsvRow> rows;
  std::string error;
  REQUIRE(read_csv(in, rows, error));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1][1] == "exit 1: a, \"quoted\"\nsecond line");
  std::istringstream ragged("a,b\n1,2,3\n");
  CHECK_FALSE(read_csv(ragged, rows, error));
  CHECK(error.find("line 2") != std::string::npos);
}

TEST_CASE("a small grid writes one csv row per point with the results and configs", "[unit]") {
  const std::string dir = scratch("grid");
  const Run r = sweep({"--grid", "iommu.iotlb.sets=16,64", "--grid", "iommu.iotlb.ways=1,4",
                       "--set", "iommu.iotlb.policy=plru", "--out", dir, "--jobs", "2",
                       "--no-plots"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("[4/4]") != std::string::npos);  // progress lines
  const std::vector<CsvRow> rows = load_csv(dir + "/sweep.csv");
  REQUIRE(rows.size() == 5);
  const CsvRow& h = rows[0];
  CHECK(h[0] == "point");
  CHECK(h[1] == "iommu.iotlb.sets");
  CHECK(h[2] == "iommu.iotlb.ways");
  for (const char* c : {"hit_rate", "misses_per_1000_dmas", "walks", "latency_mean_ns",
                        "latency_p99_ns", "throughput_mbps", "iotlb_entries", "config"})
    CHECK(std::find(h.begin(), h.end(), c) != h.end());
  const unsigned expect_entries[] = {16, 64, 64, 256};
  for (size_t i = 1; i < rows.size(); ++i) {
    const CsvRow& row = rows[i];
    INFO("row " << i);
    CHECK(row[0] == std::to_string(i - 1));
    CHECK(row[column(h, "status")] == "ok");
    CHECK(row[column(h, "exit_code")] == "0");
    const double e = expect_entries[i - 1];
    CHECK(row[column(h, "iotlb_entries")] == std::to_string(expect_entries[i - 1]));
    CHECK(row[column(h, "iotlb_policy")] == "plru");
    CHECK(std::stod(row[column(h, "hit_rate")]) == Approx(e / (e + 100)));
    CHECK(std::stod(row[column(h, "latency_mean_ns")]) == Approx(100 + 400 * (1 - e / (e + 100))));
    CHECK(std::stod(row[column(h, "dmas")]) == 10000);
    CHECK(fs::is_regular_file(dir + "/" + row[column(h, "config")]));
  }
  CHECK(rows[4][1] == "64");
  CHECK(rows[4][2] == "4");
}

TEST_CASE("a failed point is reported in the csv and the sweep goes on", "[unit]") {
  const std::string dir = scratch("failed");
  const Run r = sweep({"--grid", "fake.fail=0,1,no", "--out", dir, "--jobs", "2", "--no-plots",
                       "--quiet"});
  CHECK(r.code == 1);
  CHECK(r.err.find("1 point(s) failed") != std::string::npos);
  const std::vector<CsvRow> rows = load_csv(dir + "/sweep.csv");
  REQUIRE(rows.size() == 4);
  const size_t status = column(rows[0], "status"), error = column(rows[0], "error");
  CHECK(rows[1][status] == "ok");
  CHECK(rows[2][status] == "failed");
  CHECK(rows[2][column(rows[0], "exit_code")] == "1");
  CHECK(rows[2][error].find("failed on purpose") != std::string::npos);
  CHECK(rows[2][column(rows[0], "hit_rate")].empty());
  CHECK(rows[3][status] == "ok");
}

TEST_CASE("a sweep whose every point is bad input exits 2", "[unit]") {
  const std::string dir = scratch("bad");
  const Run r = sweep({"--grid", "fake.bad=1", "--grid", "iommu.iotlb.ways=1,2", "--out", dir,
                       "--no-plots", "--quiet"});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown key fake.bad") != std::string::npos);
}

TEST_CASE("a point over the timeout is killed and reported", "[unit]") {
  const std::string dir = scratch("timeout");
  const Run r = sweep({"--grid", "fake.sleep_ms=0,5000", "--timeout", "1", "--out", dir,
                       "--no-plots", "--quiet"});
  CHECK(r.code == 1);
  const std::vector<CsvRow> rows = load_csv(dir + "/sweep.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][column(rows[0], "status")] == "ok");
  CHECK(rows[2][column(rows[0], "error")].find("timed out") != std::string::npos);
}

TEST_CASE("bad sweep arguments say what is accepted and exit 2", "[unit]") {
  const std::string dir = scratch("args");
  Run r = sweep({"--grid", "iommu.iotlb.ways", "--out", dir});
  CHECK(r.code == 2);
  CHECK(r.err.find("KEY=V1,V2") != std::string::npos);
  r = sweep({"--grid", "a=1", "--out", dir, "--shard", "0/2"});
  CHECK(r.code == 2);
  CHECK(r.err.find("1 <= I <= N") != std::string::npos);
  r = sweep({"--grid", "a=1"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--out") != std::string::npos);
  r = sweep({"--grid", "a=1", "--out", dir, "--frobnicate"});
  CHECK(r.code == 2);
  CHECK(r.err.find("accepted are") != std::string::npos);
  r = sweep({"missing.yaml", "--grid", "a=1", "--out", dir});
  CHECK(r.code == 2);
  CHECK(r.err.find("not found") != std::string::npos);
  r = sweep({"--one-pass", "--grid", "a=1", "--out", dir});
  CHECK(r.code == 2);
  r = sweep({"--one-pass", "--max-sets", "3", "--trace", "x", "--out", dir});
  CHECK(r.code == 2);
  CHECK(r.err.find("power of two") != std::string::npos);
  r = sweep({"--jobs", "0", "--grid", "a=1", "--out", dir});
  CHECK(r.code == 2);
  r = sweep({"merge", "only-one.csv"});
  CHECK(r.code == 2);
  r = sweep({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("--shard I/N") != std::string::npos);
}

TEST_CASE("shards merged give the same rows as one run", "[unit]") {
  const std::vector<std::string> grid = {"--grid", "iommu.iotlb.sets=1,8,64",
                                         "--grid", "iommu.iotlb.ways=1,2,4",
                                         "--no-plots", "--quiet", "--jobs", "2"};
  const std::string whole = scratch("whole"), sharded = scratch("sharded");
  std::vector<std::string> args = grid;
  args.insert(args.end(), {"--out", whole});
  REQUIRE(sweep(args).code == 0);
  std::vector<std::string> inputs;
  for (int i = 1; i <= 4; ++i) {
    args = grid;
    args.insert(args.end(), {"--out", sharded, "--shard", std::to_string(i) + "/4"});
    REQUIRE(sweep(args).code == 0);
    inputs.push_back(sharded + "/sweep-shard-" + std::to_string(i) + "-of-4.csv");
    CHECK(load_csv(inputs.back()).size() == (i == 1 ? 4u : 3u));  // 9 points, round robin
  }
  std::vector<std::string> merge = {"merge", sharded + "/sweep.csv"};
  merge.insert(merge.end(), inputs.rbegin(), inputs.rend());  // order must not matter
  merge.push_back("--no-plots");
  const Run m = sweep(merge);
  INFO(m.err);
  REQUIRE(m.code == 0);
  CHECK(m.out.find("9 points") != std::string::npos);
  const std::vector<CsvRow> a = without_seconds(load_csv(whole + "/sweep.csv"));
  const std::vector<CsvRow> b = without_seconds(load_csv(sharded + "/sweep.csv"));
  REQUIRE(a.size() == 10);
  CHECK(a == b);

  // A partial set of shards does not merge: by name, and by the hole in the point numbers.
  const Run partial = sweep({"merge", sharded + "/partial.csv", inputs[0], inputs[1], inputs[3], "--no-plots"});
  CHECK(partial.code == 2);
  CHECK(partial.err.find("sweep-shard-3-of-4.csv is missing") != std::string::npos);
  const std::string renamed = sharded + "/renamed.csv";
  std::filesystem::copy_file(inputs[0], renamed, std::filesystem::copy_options::overwrite_existing);
  const Run hole = sweep({"merge", sharded + "/partial.csv", renamed, "--no-plots"});
  CHECK(hole.code == 2);
  CHECK(hole.err.find("point 1 is in none of the inputs") != std::string::npos);
  // The last shard alone leaves no hole (its points come last): its name gives it away.
  const Run tail = sweep({"merge", sharded + "/partial.csv", inputs[0], inputs[1], inputs[2], "--no-plots"});
  CHECK(tail.code == 2);

  // A shard of another grid does not merge.
  const std::string other = scratch("other");
  REQUIRE(sweep({"--grid", "iommu.iotlb.ways=1,2", "--out", other, "--no-plots", "--quiet"})
              .code == 0);
  const Run bad = sweep({"merge", other + "/merged.csv", inputs[0], other + "/sweep.csv",
                         "--no-plots"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("columns differ") != std::string::npos);
}

TEST_CASE("one pass from a platform run agrees with per geometry replay of its trace", "[unit]") {
  const std::string dir = scratch("onepass");
  const Run r = sweep({"--one-pass", "--out", dir, "--max-sets", "8", "--max-ways", "4",
                       "--max-entries", "64", "--no-plots", "--quiet"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::ifstream in(dir + "/iotlb.trace");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  const std::vector<CsvRow> rows = load_csv(dir + "/one_pass.csv");
  REQUIRE(rows.size() == 1 + 4 * 4 + 7);  // 4 set counts x 4 ways, 7 fully associative sizes
  const CsvRow& h = rows[0];
  for (size_t i = 1; i < rows.size(); ++i) {
    const unsigned sets = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_sets")]));
    const unsigned ways = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_ways")]));
    const unsigned entries =
        static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_entries")]));
    const CacheStats want = replay_one_geometry(ops, sets, ways == 0 ? entries : ways);
    INFO("sets " << sets << " ways " << ways << " entries " << entries);
    CHECK(rows[i][column(h, "hits")] == std::to_string(want.hits));
    CHECK(rows[i][column(h, "evictions")] == std::to_string(want.evictions));
    CHECK(rows[i][column(h, "invalidated_entries")] == std::to_string(want.invalidated_entries));
  }
}

TEST_CASE("one pass explores a recorded trace under the page xor domain index", "[unit]") {
  const std::string dir = scratch("onepass-xor");
  // Twelve domains touching the same eight pages, twice.
  {
    std::ofstream t(dir + "/same.iotlb");
    for (int pass = 0; pass < 2; ++pass)
      for (int d = 1; d <= 12; ++d)
        for (int p = 0; p < 8; ++p) t << "A " << d << " " << std::hex << 0x40 + p << " " << 0x900 + p << std::dec << " rw 4K\n";
  }
  std::ifstream in(dir + "/same.iotlb");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  const Run r = sweep({"--one-pass", "--trace", dir + "/same.iotlb", "--index", "page-xor-domain",
                       "--out", dir, "--max-sets", "16", "--max-ways", "8", "--max-entries", "8",
                       "--no-plots", "--quiet"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::vector<CsvRow> rows = load_csv(dir + "/one_pass.csv");
  const CsvRow& h = rows[0];
  bool found = false;
  for (size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i][column(h, "iotlb_index")] == "page-xor-domain");
    const unsigned sets = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_sets")]));
    const unsigned ways = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_ways")]));
    const unsigned entries =
        static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_entries")]));
    const CacheStats want = replay_one_geometry(ops, sets, ways == 0 ? entries : ways,
                                                ReplacementKind::Lru, 1, IotlbIndex::PageXorDomain);
    CHECK(rows[i][column(h, "hits")] == std::to_string(want.hits));
    if (sets == 16 && ways == 8) {
      // 96 entries spread over 16 sets of 8 ways: the second pass hits every time. Under the page
      // index the same cache holds 8 of 12 domains per set and the second pass misses every time.
      CHECK(want.hits == 96);
      CHECK(replay_one_geometry(ops, 16, 8).hits == 0);
      found = true;
    }
  }
  CHECK(found);
  const Run bad = sweep({"--one-pass", "--trace", dir + "/same.iotlb", "--index", "domain",
                         "--out", dir, "--no-plots", "--quiet"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("page-xor-domain") != std::string::npos);
}

// `maps` ftrace map/unmap pairs of 16 KiB, cycling over `slots` IOVAs.
static void write_map_unmap_trace(std::ostream& t, int maps, int slots) {
  for (int i = 0; i < maps; ++i) {
    const unsigned long iova = 0x100000UL + (i % slots) * 0x4000UL;
    t << " fio-1 [000] ..... " << 10 + i << ".000001: map: IOMMU: iova=0x" << std::hex << iova
      << " paddr=0x" << 0x7000000UL + iova << std::dec << " size=16384\n";
    t << " fio-1 [000] ..... " << 10 + i << ".000002: unmap: IOMMU: iova=0x" << std::hex
      << iova << " - 0x" << iova + 0x4000 << std::dec << " size=16384 unmapped_size=16384\n";
  }
}

TEST_CASE("one pass explores a linux trace and reports its malformed lines", "[unit]") {
  const std::string dir = scratch("linux");
  {
    std::ofstream t(dir + "/trace.txt");
    t << "# tracer: nop\n";
    write_map_unmap_trace(t, 40, 8);
    t << "garbage line\n";
  }
  const Run r = sweep({"--one-pass", "--linux-trace", dir + "/trace.txt", "--out", dir,
                       "--max-sets", "2", "--max-ways", "2", "--max-entries", "8", "--passes",
                       "2", "--no-plots"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("line 82") != std::string::npos);
  CHECK(r.out.find("80 map/unmap events, 1 malformed lines skipped") != std::string::npos);
  CHECK(r.out.find("same hit rate") == std::string::npos);  // two passes: sizes differ
  const std::vector<CsvRow> rows = load_csv(dir + "/one_pass.csv");
  const CsvRow& h = rows[0];
  // 40 maps of 4 pages, two passes: 320 accesses; each map's first pass misses (the unmap
  // invalidated the previous one), the second pass hits when the cache holds 4 pages.
  CHECK(rows[1][column(h, "accesses")] == "320");
  bool found = false;
  for (const CsvRow& row : rows) {
    if (row[column(h, "iotlb_ways")] == "0" && row[column(h, "iotlb_entries")] == "8") {
      CHECK(row[column(h, "hits")] == "160");
      found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("one pass says so when a map/unmap trace cannot tell IOTLB sizes apart", "[unit]") {
  const std::string dir = scratch("linux-flat");
  {
    std::ofstream t(dir + "/trace.txt");
    write_map_unmap_trace(t, 30, 5);
  }
  // One pass, as a driver's map/unmap trace gives: each page touched once after its map.
  const Run r = sweep({"--one-pass", "--linux-trace", dir + "/trace.txt", "--out", dir,
                       "--max-sets", "4", "--max-ways", "4", "--max-entries", "64", "--no-plots"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("every geometry has the same hit rate") != std::string::npos);
  CHECK(r.out.find("tools/linux-capture/capture.sh") != std::string::npos);
}

TEST_CASE("the sweep makes plots or says clearly why not", "[unit]") {
  const std::string dir = scratch("plots");
  const bool have_matplotlib =
      std::system("python3 -c 'import matplotlib' >/dev/null 2>&1") == 0 ||
      std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") == 0;
  const Run r = sweep({"--grid", "iommu.iotlb.sets=1,4,16", "--grid", "iommu.iotlb.ways=1,2,4",
                       "--out", dir, "--quiet"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(fs::is_regular_file(dir + "/sweep.csv"));
  if (have_matplotlib) {
    CHECK(fs::is_regular_file(dir + "/hit_rate_vs_entries.png"));
    CHECK(fs::is_regular_file(dir + "/latency_vs_entries.png"));
    CHECK(fs::is_regular_file(dir + "/hit_rate_heatmap.png"));
  } else {
    CHECK(r.err.find("plots skipped") != std::string::npos);
  }

  // Without a usable python the CSV is still written and the reason given.
  const std::string dir2 = scratch("noplots");
  setenv("IOMMU_SIM_PYTHON", "/nonexistent/python3", 1);
  const Run r2 = sweep({"--grid", "iommu.iotlb.ways=1,2", "--out", dir2, "--quiet"});
  unsetenv("IOMMU_SIM_PYTHON");
  CHECK(r2.code == 0);
  CHECK(r2.err.find("plots skipped") != std::string::npos);
  CHECK(r2.err.find("matplotlib") != std::string::npos);
  CHECK(fs::is_regular_file(dir2 + "/sweep.csv"));
}
