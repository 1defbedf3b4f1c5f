// The sweep under nested translation, against the real `iommu-sim` program: the reads per walk
// of yaml/nested_vm.yaml with and without each paging-structure cache.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/stats_json.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

std::map<std::string, double> point(const fs::path& dir, unsigned index) {
  char name[16];
  std::snprintf(name, sizeof name, "p%04u.json", index);
  std::ifstream in(dir / "points" / name);
  REQUIRE(in);
  std::map<std::string, double> stats;
  std::string error;
  REQUIRE(read_stats_json(in, stats, error));
  return stats;
}

}  // namespace

TEST_CASE("a sweep of the paging-structure caches under nested translation", "[platform]") {
  const fs::path dir = fs::current_path() / "nested_sweep_out";
  fs::remove_all(dir);
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " sweep " IOMMU_SIM_SOURCE_DIR "/yaml/nested_vm.yaml" +
                          " --grid iommu.pscache.enabled=false,true" +
                          " --grid iommu.scalable.nested_pscache.enabled=false,true" +
                          " --out " + dir.string() + " --jobs 2 --no-plots >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::ifstream csv(dir / "sweep.csv");
  std::vector<CsvRow> rows;
  std::string error;
  REQUIRE(read_csv(csv, rows, error));
  REQUIRE(rows.size() == 5);
  // Points in grid order: (second-level off, nested off), (off, on), (on, off), (on, on).
  double reads[4];
  for (unsigned i = 0; i < 4; ++i) {
    const auto stats = point(dir, i);
    REQUIRE(stats.count("summary.walk_reads_per_walk"));
    reads[i] = stats.at("summary.walk_reads_per_walk");
    CHECK(stats.at("summary.dma_errors") == 0);
  }
  // Cold: 24 per nested walk, 4 per the host device's second-level ones.
  CHECK(point(dir, 0).at("platform.iommu.walk_refs.max") == 24);
  CHECK(reads[0] > 12.0);
  CHECK(reads[1] < reads[0]);
  CHECK(reads[2] < reads[0]);
  CHECK(reads[3] < reads[1]);
  CHECK(reads[3] < reads[2]);
}
