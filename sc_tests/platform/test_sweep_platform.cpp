// The sweep against the real `iommu-sim` program: a small grid of full platform runs, and the
// one-pass exploration of one run's IOTLB stream checked against per-geometry replay.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/one_pass.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  const fs::path p = fs::current_path() / "sweep_platform_out" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

int run(const std::string& args) {
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " " + args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
  REQUIRE(run("sweep --one-pass --out " + dir +
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
