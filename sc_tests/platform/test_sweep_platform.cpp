// The sweep against the real `iommu-sim` program: a small grid of full platform runs, and the
// one-pass exploration of one run's IOTLB stream checked against per-geometry replay.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/one_pass.h"
#include "program_test_util.h"
#include "iommu_sim/platform/sweep/stats_json.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) { return test::scratch("sweep_platform_out", name); }

int run(const std::string& args) { return test::run_iommu_sim(args); }

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

}  // namespace

TEST_CASE("iommu-sim sweep runs a small grid of platform runs", "[platform]") {
  const std::string dir = scratch("grid");
  REQUIRE(run("sweep --grid iommu.iotlb.sets=4,32 --grid iommu.iotlb.ways=1,4 --out " + dir +
              " --jobs 2 --no-plots") == 0);
  const std::vector<CsvRow> rows = load_csv(dir + "/sweep.csv");
  REQUIRE(rows.size() == 5);
  const CsvRow& h = rows[0];
  double smallest = -1, largest = -1;
  for (size_t i = 1; i < rows.size(); ++i) {
    INFO("point " << rows[i][0] << ": " << rows[i][column(h, "error")]);
    CHECK(rows[i][column(h, "status")] == "ok");
    CHECK_FALSE(rows[i][column(h, "hit_rate")].empty());
    CHECK_FALSE(rows[i][column(h, "latency_p99_ns")].empty());
    CHECK(fs::is_regular_file(dir + "/" + rows[i][column(h, "config")]));
    if (!rows[i][column(h, "hit_rate")].empty()) {
      const double hr = std::stod(rows[i][column(h, "hit_rate")]);
      CHECK(hr >= 0.0);
      CHECK(hr <= 1.0);
      if (i == 1) smallest = hr;
      if (i == 4) largest = hr;
    }
  }
  CHECK(rows[1][column(h, "iotlb_entries")] == "4");
  CHECK(rows[4][column(h, "iotlb_entries")] == "128");
  CHECK(largest >= smallest);  // 128 LRU entries never do worse than 4 on the same traffic
}

TEST_CASE("iommu-sim sweep one pass agrees with replay of the recorded stream", "[platform]") {
  const std::string dir = scratch("onepass");
  REQUIRE(run("sweep --one-pass --keep-trace --out " + dir +
              " --max-sets 16 --max-ways 4 --max-entries 64 --no-plots") == 0);
  std::ifstream in(dir + "/iotlb.trace");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  const std::vector<CsvRow> rows = load_csv(dir + "/one_pass.csv");
  REQUIRE(rows.size() == 1 + 5 * 4 + 7);
  const CsvRow& h = rows[0];
  CHECK(std::stoul(rows[1][column(h, "accesses")]) > 0);
  for (size_t i = 1; i < rows.size(); ++i) {
    const unsigned sets = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_sets")]));
    const unsigned ways = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_ways")]));
    const unsigned entries = static_cast<unsigned>(std::stoul(rows[i][column(h, "iotlb_entries")]));
    const CacheStats want = replay_one_geometry(ops, sets, ways == 0 ? entries : ways);
    INFO("sets " << sets << " ways " << ways << " entries " << entries);
    CHECK(rows[i][column(h, "hits")] == std::to_string(want.hits));
    CHECK(rows[i][column(h, "evictions")] == std::to_string(want.evictions));
  }
}

TEST_CASE("iommu-sim sweep one pass explores a platform's streams as it runs, as from the kept traces", "[platform]") {
  // IOTLB and device-TLB streams both (ATS), explored through pipes while the platform runs: no
  // trace file, and every count what exploring the kept traces afterwards gives.
  const std::string platform = std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/nic_sriov_ats.yaml";
  const std::string limits = " --max-sets 16 --max-ways 4 --max-entries 64 --no-plots --quiet --verify 0";
  const std::string streamed = scratch("streamed");
  REQUIRE(run("sweep " + platform + " --one-pass --out " + streamed + limits) == 0);
  CHECK_FALSE(fs::exists(streamed + "/iotlb.trace"));
  CHECK_FALSE(fs::exists(streamed + "/devtlb.trace"));
  const std::string kept = scratch("streamed-kept");
  REQUIRE(run("sweep " + platform + " --one-pass --keep-trace --out " + kept + limits) == 0);
  const std::string iotlb = scratch("streamed-iotlb-file"), devtlb = scratch("streamed-devtlb-file");
  REQUIRE(run("sweep --one-pass --trace " + kept + "/iotlb.trace --out " + iotlb +
              " --max-sets 16 --max-ways 4 --max-entries 64 --no-plots --quiet") == 0);
  REQUIRE(run("sweep --one-pass --devtlb-trace " + kept + "/devtlb.trace --out " + devtlb +
              " --max-sets 16 --max-ways 4 --max-entries 64 --no-plots --quiet") == 0);
  const std::vector<CsvRow> rows = load_csv(streamed + "/one_pass.csv");
  const std::vector<CsvRow> devtlb_rows = load_csv(streamed + "/devtlb_one_pass.csv");
  REQUIRE(rows.size() == 1 + 5 * 4 + 7);
  REQUIRE(devtlb_rows.size() == 1 + 5 * 4 + 7);
  CHECK(std::stoul(devtlb_rows[1][column(devtlb_rows[0], "accesses")]) > 0);
  CHECK(load_csv(kept + "/one_pass.csv") == rows);
  CHECK(load_csv(iotlb + "/one_pass.csv") == rows);
  CHECK(load_csv(kept + "/devtlb_one_pass.csv") == devtlb_rows);
  CHECK(load_csv(devtlb + "/devtlb_one_pass.csv") == devtlb_rows);
}

TEST_CASE("sweeps take a capture of Linux under QEMU like a platform", "[platform]") {
  const std::string capture =
      std::string(IOMMU_SIM_SOURCE_DIR) + "/sc_tests/platform/data/linux-both-strict/capture.txt";
  // One pass: the replay records its IOTLB stream, 647 translations (sc_tests/platform/
  // test_linux_replay.cpp); more entries never hit less.
  const std::string one = scratch("linux-one-pass");
  REQUIRE(run("sweep " + capture + " --one-pass --out " + one + " --no-plots --quiet") == 0);
  const std::vector<CsvRow> rows = load_csv(one + "/one_pass.csv");
  const CsvRow& h = rows[0];
  REQUIRE(rows.size() > 2);
  CHECK(rows[1][column(h, "accesses")] == "647");
  double fa1 = -1, fa256 = -1;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i][column(h, "iotlb_ways")] != "0") continue;
    if (rows[i][column(h, "iotlb_entries")] == "1") fa1 = std::stod(rows[i][column(h, "hit_rate")]);
    if (rows[i][column(h, "iotlb_entries")] == "256") fa256 = std::stod(rows[i][column(h, "hit_rate")]);
  }
  CHECK(fa1 >= 0);
  CHECK(fa256 > fa1);
  // A grid: each point replays the capture with its own IOTLB.
  const std::string grid = scratch("linux-grid");
  REQUIRE(run("sweep " + capture + " --grid iommu.iotlb.sets=1,64 --out " + grid +
              " --jobs 2 --no-plots --quiet") == 0);
  const std::vector<CsvRow> g = load_csv(grid + "/sweep.csv");
  REQUIRE(g.size() == 3);
  CHECK(g[1][column(g[0], "status")] == "ok");
  CHECK(g[1][column(g[0], "dmas")] == "1032");  // 647 translations and 385 MSIs
  CHECK(std::stod(g[2][column(g[0], "hit_rate")]) > std::stod(g[1][column(g[0], "hit_rate")]));
}

TEST_CASE("sweeps cover device-TLB geometry: a grid axis and the one-pass of every function", "[platform]") {
  const std::string platform = std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/nic_sriov_ats.yaml";
  // One pass: the recording run writes the functions' device-TLB streams too; the 4 sets x 4 ways
  // row is what the platform's own device-TLBs of that geometry counted.
  const std::string one = scratch("devtlb-one-pass");
  REQUIRE(run("sweep " + platform + " --one-pass --keep-trace --out " + one +
              " --max-sets 16 --max-ways 4 --max-entries 64 --no-plots") == 0);
  const std::vector<CsvRow> rows = load_csv(one + "/devtlb_one_pass.csv");
  const CsvRow& h = rows[0];
  REQUIRE(rows.size() == 1 + 5 * 4 + 7);
  std::ifstream stats_in(one + "/run.json");
  std::map<std::string, double> stats;
  std::string error;
  REQUIRE(read_stats_json(stats_in, stats, error));
  double hits = 0;
  for (const char* f : {"pf", "vf0", "vf1", "vf2", "vf3"})
    hits += stats.at(std::string("platform.nic0.") + f + ".ats.devtlb.hits");
  bool found = false;
  for (size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i][column(h, "functions")] == "5");
    if (rows[i][column(h, "devtlb_sets")] != "4" || rows[i][column(h, "devtlb_ways")] != "4") continue;
    found = true;
    CHECK(std::stod(rows[i][column(h, "hits")]) == hits);
    CHECK(rows[i][column(h, "accesses")] == "30000");
  }
  CHECK(found);
  // The IOTLB's stream holds the translation requests only.
  const std::vector<CsvRow> iotlb = load_csv(one + "/one_pass.csv");
  CHECK(std::stod(iotlb[1][column(iotlb[0], "accesses")]) == stats.at("platform.iommu.ats.translation_requests"));
  // The same stream explored again from the file alone.
  const std::string again = scratch("devtlb-file");
  REQUIRE(run("sweep --one-pass --devtlb-trace " + one + "/devtlb.trace --out " + again +
              " --max-sets 16 --max-ways 4 --max-entries 64 --no-plots") == 0);
  CHECK(load_csv(again + "/devtlb_one_pass.csv") == rows);
  CHECK_FALSE(fs::exists(again + "/one_pass.csv"));

  // A grid over the device-TLBs' sets: the CSV says the geometry and the hit rate of each point.
  const std::string grid = scratch("devtlb-grid");
  REQUIRE(run("sweep " + platform + " --grid pcie.endpoints.0.ats.devtlb.sets=1,64 --out " + grid +
              " --set pcie.endpoints.0.workload.packets=200 --jobs 2 --no-plots") == 0);
  const std::vector<CsvRow> g = load_csv(grid + "/sweep.csv");
  REQUIRE(g.size() == 3);
  CHECK(g[1][column(g[0], "devtlb_entries")] == "4");
  CHECK(g[2][column(g[0], "devtlb_entries")] == "256");
  CHECK(std::stod(g[2][column(g[0], "devtlb_hit_rate")]) >= std::stod(g[1][column(g[0], "devtlb_hit_rate")]));
  CHECK_FALSE(g[1][column(g[0], "translation_requests_per_1000_dmas")].empty());
  // A Linux map/unmap trace has no device-TLB stream to go with.
  CHECK(run("sweep --one-pass --devtlb-trace " + one + "/devtlb.trace --linux-trace x --out " + again) == 2);
}
