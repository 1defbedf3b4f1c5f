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
#include "iommu_sim/platform/sweep/pipe_stream.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/sweep.h"
#include "command_test_util.h"
#include "iommu_sim/platform/sweep/target.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

using Run = CommandRun;

Run sweep(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = sweep_main(args, SWEEP_FAKE_SIM, out, err);
  return {code, out.str(), err.str()};
}

// A fresh directory under the build tree for one test.
std::string scratch(const std::string& name) { return fresh_test_dir("sweep_test_out", name); }

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
  const Run r = sweep({"--one-pass", "--keep-trace", "--out", dir, "--max-sets", "8", "--max-ways", "4",
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

TEST_CASE("one pass from a platform run explores the stream as it runs, with no trace file", "[unit]") {
  const std::vector<std::string> limits = {"--max-sets", "8", "--max-ways", "4", "--max-entries", "64",
                                           "--no-plots", "--quiet", "--verify", "0"};
  const auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), limits.begin(), limits.end());
    return args;
  };
  const std::string streamed = scratch("onepass-streamed");
  const Run r = sweep(with({"--one-pass", "--out", streamed}));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_FALSE(fs::exists(streamed + "/iotlb.trace"));
  CHECK_FALSE(fs::exists(streamed + "/devtlb.trace"));
  CHECK(r.out.find("accesses of the run of the default platform:") != std::string::npos);
  // The same run with its stream kept, and that file explored afterwards: the same counts.
  const std::string kept = scratch("onepass-kept");
  REQUIRE(sweep(with({"--one-pass", "--keep-trace", "--out", kept})).code == 0);
  REQUIRE(fs::is_regular_file(kept + "/iotlb.trace"));
  const std::string from_file = scratch("onepass-from-file");
  REQUIRE(sweep({"--one-pass", "--trace", kept + "/iotlb.trace", "--out", from_file, "--max-sets", "8",
                 "--max-ways", "4", "--max-entries", "64", "--no-plots", "--quiet"}).code == 0);
  const std::vector<CsvRow> rows = load_csv(streamed + "/one_pass.csv");
  REQUIRE(rows.size() == 1 + 4 * 4 + 7);
  CHECK(std::stoul(rows[1][column(rows[0], "accesses")]) == 20000);
  CHECK(load_csv(kept + "/one_pass.csv") == rows);
  CHECK(load_csv(from_file + "/one_pass.csv") == rows);

  CHECK(sweep({"--one-pass", "--keep-trace", "--trace", kept + "/iotlb.trace", "--out", from_file}).code == 2);
  CHECK(sweep({"--grid", "iommu.iotlb.ways=1,2", "--keep-trace", "--out", from_file}).code == 2);
}

TEST_CASE("one pass from a platform run says what went wrong with the run or its stream", "[unit]") {
  const std::string dir = scratch("onepass-stream-errors");
  // An access the exploration refuses, early in a stream longer than the pipe holds: the sweep
  // stops reading, which ends the run, and says why (exit 1: our own run's stream, not input).
  const Run refused = sweep({"--one-pass", "--out", dir, "--no-plots", "--quiet", "--verify", "0", "--set",
                             "fake.trace=conflict", "--set", "fake.trace_ops=300000"});
  INFO(refused.err);
  CHECK(refused.code == 1);
  CHECK(refused.err.find("sweep: the IOTLB access stream of the platform run: line 4: ") != std::string::npos);
  CHECK(refused.err.find("the platform run failed") == std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/one_pass.csv"));

  const Run malformed = sweep({"--one-pass", "--out", dir, "--no-plots", "--quiet", "--verify", "0", "--set",
                               "fake.trace=malformed"});
  CHECK(malformed.code == 1);
  CHECK(malformed.err.find("the IOTLB access stream of the platform run: line 4: page size must be 4K, 2M or "
                           "1G, got '8K'") != std::string::npos);

  const Run failed = sweep({"--one-pass", "--out", dir, "--no-plots", "--quiet", "--set", "fake.fail=1"});
  CHECK(failed.code == 1);
  CHECK(failed.err.find("the platform run failed (exit 1): fake: simulation failed on purpose") != std::string::npos);
  const Run bad = sweep({"--one-pass", "--out", dir, "--no-plots", "--quiet", "--set", "fake.bad=1"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("unknown key fake.bad") != std::string::npos);
}

TEST_CASE("a child process writes into pipes it is handed as descriptors 3, 4, ...", "[unit]") {
  Pipe a, b;
  std::ostringstream copy;
  ProcessSpec s;
  s.argv = {"/bin/sh", "-c", "echo one >&3; echo two >&4"};
  s.log_path = scratch("pass-fds") + "/log";
  s.pass_fds = {a.write_fd(), b.write_fd()};
  REQUIRE(run_process(s).ok());
  a.close_write();
  b.close_write();
  // The child's copies are gone with it, and it had no others: both streams end.
  DescriptorReadBuf abuf(a.read_fd(), &copy), bbuf(b.read_fd());
  std::istream ain(&abuf), bin(&bbuf);
  const std::string got_a((std::istreambuf_iterator<char>(ain)), std::istreambuf_iterator<char>());
  const std::string got_b((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());
  CHECK(got_a == "one\n");
  CHECK(got_b == "two\n");
  CHECK(copy.str() == "one\n");
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
    CHECK(fs::is_regular_file(dir + "/hit_rate_heatmap.svg"));
  } else {
    CHECK(r.err.find("plots skipped") != std::string::npos);
  }

  // Another varying axis gets figures of its own, never an average over it, titled with it.
  const std::string facets = scratch("plot-facets");
  const Run f = sweep({"--grid", "iommu.iotlb.sets=1,4", "--grid", "iommu.iotlb.ways=1,2", "--grid",
                       "iommu.iotlb.policy=lru,fifo", "--out", facets, "--quiet"});
  INFO(f.out << f.err);
  REQUIRE(f.code == 0);
  if (have_matplotlib) {
    for (const char* policy : {"lru", "fifo"}) {
      for (const char* plot : {"hit_rate_vs_entries", "latency_vs_entries", "hit_rate_heatmap"}) {
        const std::string base = facets + "/" + plot + "_policy-" + policy;
        INFO(base);
        CHECK(fs::is_regular_file(base + ".png"));
        CHECK(fs::is_regular_file(base + ".svg"));
      }
      std::ifstream svg(facets + "/hit_rate_vs_entries_policy-" + policy + ".svg");
      const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
      CHECK(text.find(std::string("iommu.iotlb.policy=") + policy) != std::string::npos);
    }
    CHECK_FALSE(fs::exists(facets + "/hit_rate_vs_entries.png"));
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

TEST_CASE("a sweep target is the smallest geometry that meets it, for each other axis", "[unit]") {
  SweepTarget t;
  std::string error;
  REQUIRE(parse_sweep_target("hit_rate>=0.9", t, error));
  CHECK(t.metric == "hit_rate");
  CHECK(t.at_least);
  CHECK(t.value == 0.9);
  REQUIRE(parse_sweep_target("latency_p99_ns<=150.5", t, error));
  CHECK_FALSE(t.at_least);
  CHECK(t.meets(150.5));
  CHECK_FALSE(t.meets(151));
  for (const char* bad : {"hit_rate", "hit_rate>=", ">=0.9", "hit_rate>=ninety", "hit_rate=0.9"}) {
    INFO(bad);
    CHECK_FALSE(parse_sweep_target(bad, t, error));
    CHECK(error.find("METRIC>=X") != std::string::npos);
  }

  const std::vector<CsvRow> rows = {
      {"point", "iommu.iotlb.policy", "status", "iotlb_sets", "iotlb_ways", "iotlb_entries", "hit_rate"},
      {"0", "lru", "ok", "16", "1", "16", "0.50"},
      {"1", "lru", "ok", "4", "4", "16", "0.90"},
      {"2", "lru", "ok", "8", "2", "16", "0.91"},
      {"3", "lru", "ok", "1", "0", "16", "0.99"},   // as small, but fully associative
      {"4", "lru", "ok", "32", "1", "32", "0.95"},
      {"5", "lru", "failed", "2", "1", "2", "0.99"},  // a failed point never answers
      {"6", "fifo", "ok", "16", "1", "16", "0.40"},
      {"7", "fifo", "ok", "32", "1", "32", "0.70"},
      {"8", "fifo", "ok", "64", "1", "64", "0.70"},
  };
  REQUIRE(parse_sweep_target("hit_rate>=0.9", t, error));
  const std::vector<TargetAnswer> a = find_target(rows, t, {"iommu.iotlb.policy"});
  REQUIRE(a.size() == 2);
  CHECK(a[0].group == "iommu.iotlb.policy=lru");
  CHECK(a[0].met);
  CHECK(a[0].row == 3);  // 16 entries in 2 ways beats 4 ways and full associativity
  CHECK(a[0].sets == 8);
  CHECK(a[0].ways == 2);
  CHECK(a[1].group == "iommu.iotlb.policy=fifo");
  CHECK_FALSE(a[1].met);
  CHECK(a[1].any);
  CHECK(a[1].row == 8);  // the best value, the smaller geometry on a tie
  CHECK(a[1].value == 0.70);
  CHECK(describe_geometry(8, 2, 16) == "8 sets x 2 ways (16 entries)");
  CHECK(describe_geometry(1, 0, 256) == "fully associative, 256 entries");
  CHECK(target_cache("devtlb_hit_rate") == "devtlb");
  CHECK(target_cache("latency_p99_ns") == "iotlb");
}

TEST_CASE("a grid sweep answers --target, adds --metric columns and writes its metadata", "[unit]") {
  const std::string dir = scratch("target-grid");
  // The stand-in's hit rate is entries / (entries + 100): 16 -> 0.14, 64 -> 0.39, 256 -> 0.72.
  const Run r = sweep({"--grid", "iommu.iotlb.sets=16,64", "--grid", "iommu.iotlb.ways=1,4",
                       "--out", dir, "--no-plots", "--quiet", "--target", "hit_rate>=0.5",
                       "--target", "hit_rate>=0.9", "--metric", "platform.dma_latency.p99",
                       "--metric", "iotlb_hit_rate", "--metric", "platform.nope.p99"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("target hit_rate>=0.5: met; the smallest geometry that meets it is 64 sets x 4 ways "
                   "(256 entries)") != std::string::npos);
  CHECK(r.out.find("target hit_rate>=0.9: NOT met") != std::string::npos);
  CHECK(r.out.find("add larger values to --grid iommu.iotlb.sets (largest: 64) and --grid "
                   "iommu.iotlb.ways (largest: 4)") != std::string::npos);
  const std::vector<CsvRow> rows = load_csv(dir + "/sweep.csv");
  const CsvRow& h = rows[0];
  CHECK(rows[1][column(h, "platform.dma_latency.p99")] == "4");
  CHECK(std::stod(rows[1][column(h, "iotlb_hit_rate")]) == Approx(16.0 / 116));
  CHECK(rows[1][column(h, "platform.nope.p99")].empty());
  CHECK(column(h, "platform.nope.p99") < column(h, "seconds"));
  CHECK(r.err.find("--metric platform.nope.p99: no point has this statistic") != std::string::npos);
  CHECK(r.err.find("similar names: platform.dma_latency.p99") != std::string::npos);
  std::ifstream meta(dir + "/sweep.meta.json");
  REQUIRE(meta);
  const std::string text((std::istreambuf_iterator<char>(meta)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"meta\": {\"version\": ") != std::string::npos);
  CHECK(text.find("\"mode\": \"grid\"") != std::string::npos);
  CHECK(text.find("iommu.iotlb.sets=16,64 iommu.iotlb.ways=1,4") != std::string::npos);

  // A target on a column the CSV will not have is refused before anything runs.
  const std::string dir2 = scratch("target-bad");
  const Run bad = sweep({"--grid", "iommu.iotlb.sets=16,64", "--out", dir2, "--target", "hitrate>=0.5"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("no column 'hitrate'") != std::string::npos);
  CHECK_FALSE(fs::exists(dir2 + "/sweep.csv"));
  CHECK(sweep({"--one-pass", "--out", dir2, "--target", "latency_p99_ns<=100"}).code == 2);
  CHECK(sweep({"--one-pass", "--out", dir2, "--metric", "summary.walks"}).code == 2);
  CHECK(sweep({"--grid", "iommu.iotlb.sets=16", "--out", dir2, "--verify", "2"}).code == 2);
}

TEST_CASE("a one-pass target says which limit to raise, or that no size can meet it", "[unit]") {
  const std::string dir = scratch("target-one-pass");
  REQUIRE(sweep({"--one-pass", "--keep-trace", "--out", dir, "--max-sets", "4", "--max-ways", "2", "--max-entries",
                 "16", "--no-plots", "--quiet", "--verify", "0"}).code == 0);
  // The stand-in's stream: what an unbounded IOTLB and the largest explored one reach.
  std::ifstream in(dir + "/iotlb.trace");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  OnePassLimits limits;
  limits.max_sets = 4;
  limits.max_ways = 2;
  limits.max_entries = 16;
  OnePassExplorer ex(limits);
  for (const IotlbOp& op : ops) REQUIRE(ex.feed(op));
  const double ceiling = static_cast<double>(ex.unbounded_hits()) / static_cast<double>(ex.accesses());
  const CacheStats fa16 = ex.stats(1, 16);
  const double largest = static_cast<double>(fa16.hits) / static_cast<double>(fa16.lookups);
  REQUIRE(largest < ceiling);
  CHECK(ceiling < 0.99);

  const Run none = sweep({"--one-pass", "--trace", dir + "/iotlb.trace", "--out", dir + "/a", "--max-sets", "4",
                          "--max-ways", "2", "--max-entries", "16", "--no-plots", "--target", "hit_rate>=0.99"});
  INFO(none.out << none.err);
  REQUIRE(none.code == 0);
  CHECK(none.out.find("NOT met") != std::string::npos);
  CHECK(none.out.find("No IOTLB of any size or associativity meets it on this stream") != std::string::npos);

  const std::string between = std::to_string((largest + ceiling) / 2);
  const Run raise = sweep({"--one-pass", "--trace", dir + "/iotlb.trace", "--out", dir + "/b", "--max-sets", "4",
                           "--max-ways", "2", "--max-entries", "16", "--no-plots", "--target",
                           "hit_rate>=" + between});
  INFO(raise.out);
  CHECK(raise.out.find("NOT met") != std::string::npos);
  CHECK(raise.out.find("Raise --max-entries (now 16)") != std::string::npos);
  CHECK(raise.out.find("No IOTLB") == std::string::npos);

  const Run met = sweep({"--one-pass", "--trace", dir + "/iotlb.trace", "--out", dir + "/c", "--max-sets", "4",
                         "--max-ways", "2", "--max-entries", "16", "--no-plots", "--target",
                         "hit_rate>=" + std::to_string(largest * 0.99)});
  CHECK(met.out.find(": met; the smallest geometry that meets it is ") != std::string::npos);
}

TEST_CASE("a one-pass sweep of a platform checks a few geometries with timed runs", "[unit]") {
  const std::string dir = scratch("verify");
  // The stand-in's timed hit rate (entries / (entries + 100)) is not what its stream replays to:
  // the sweep must say so.
  const Run r = sweep({"--one-pass", "--out", dir, "--no-plots", "--quiet", "--jobs", "2"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const std::vector<CsvRow> rows = load_csv(dir + "/one_pass_check.csv");
  REQUIRE(rows.size() == 1 + 1 + 3);  // the recording run and three timed runs
  const CsvRow& h = rows[0];
  CHECK(rows[1][column(h, "run")] == "recording run");
  CHECK(rows[1][column(h, "iotlb_entries")] == "128");  // the stand-in's 32 x 4
  for (size_t i = 2; i < rows.size(); ++i) {
    CHECK(rows[i][column(h, "run")] == "timed run");
    CHECK(fs::is_regular_file(dir + "/" + rows[i][column(h, "stats")]));
    const double e = std::stod(rows[i][column(h, "iotlb_entries")]);
    CHECK(std::stod(rows[i][column(h, "timed_hit_rate")]) == Approx(e / (e + 100)));
  }
  CHECK(r.out.find("WARNING: one-pass and timed hit rates differ by up to") != std::string::npos);
  CHECK(r.out.find("\"One-pass and timed runs\"") != std::string::npos);

  // The largest difference is printed whether or not it is above the threshold.
  const Run agree = sweep({"--one-pass", "--out", scratch("verify-agree"), "--no-plots", "--quiet",
                           "--verify", "1", "--verify-tolerance", "1"});
  CHECK(agree.code == 0);
  CHECK(agree.out.find("one-pass and timed hit rates agree within 1 (largest difference ") != std::string::npos);
  CHECK(agree.out.find("WARNING") == std::string::npos);

  const std::string quiet = scratch("verify-off");
  const Run off = sweep({"--one-pass", "--out", quiet, "--no-plots", "--quiet", "--verify", "0"});
  CHECK(off.code == 0);
  CHECK_FALSE(fs::exists(quiet + "/one_pass_check.csv"));
  CHECK(sweep({"--one-pass", "--trace", dir + "/iotlb.trace", "--out", quiet, "--verify", "2"}).code == 2);
}
