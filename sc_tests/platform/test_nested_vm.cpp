// Scalable mode in whole platforms: the nested-translation platform (yaml/nested_vm.yaml), its
// 24-reads-per-walk cold cost, and the SR-IOV platform's host driver on scalable-mode tables.
#include <catch2/catch.hpp>

#include <sstream>

#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/platform.h"
#include "platform_test_util.h"

using namespace iommu_sim;
using iommu_sim::test::load;
using iommu_sim::test::read_file;

namespace {
const std::string kNested = IOMMU_SIM_SOURCE_DIR "/yaml/nested_vm.yaml";
}

TEST_CASE("nested_vm translates through second-level, nested and PASID-selected nested domains", "[platform]") {
  StatsRegistry stats;
  const PlatformConfig config = load(read_file(kNested));
  Platform platform("platform", config, stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  CHECK(stats.value("summary.dmas") == 25000);
  CHECK(stats.value("summary.dma_errors") == 0);
  CHECK(stats.value("platform.iommu.faults") == 0);
  // Host tables in scalable mode, the guest's first-level tables walked on top of domain 10.
  CHECK(platform.host().scalable_tables() != nullptr);
  CHECK(platform.host().first_level_tables(11) != nullptr);
  CHECK(stats.value("platform.iommu.walk_reads.first_level") > 0);
  CHECK(stats.value("platform.iommu.pasid_cache.lookups") == 25000);
  const double per_walk = stats.value("summary.walk_reads_per_walk");
  CHECK(per_walk > 1.0);
  CHECK(per_walk < 24.0);
  // The same ratio of counts as the IOMMU's own, and the two dimensions add up.
  CHECK(stats.value("platform.iommu.walk_reads_per_walk") == Approx(per_walk));
  CHECK(stats.value("summary.walk_first_level_reads_per_walk") +
            stats.value("summary.walk_second_level_reads_per_walk") ==
        Approx(per_walk));
  CHECK(per_walk == Approx((stats.value("platform.iommu.walk_reads.first_level") +
                            stats.value("platform.iommu.walk_reads.second_level")) /
                           stats.value("platform.iommu.walks")));
  const auto sources = platform.dma_sources();
  REQUIRE(sources.size() == 3);
  CHECK(sources[1].domain == 11);
  CHECK(sources[2].domain == 12);  // the PASID selects the domain
  std::ostringstream report;
  print_report(report, "nested_vm.yaml", config, stats, outcome, platform.fault_records(), sources);
  CHECK(report.str().find("reads per walk") != std::string::npos);
  CHECK(report.str().find("walk latency") != std::string::npos);
}

TEST_CASE("nested_vm with cold caches: every nested walk reads 4 + 20 entries", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", load(read_file(kNested), {"iommu.pscache.enabled=false",
                                                          "iommu.scalable.nested_pscache.enabled=false"}),
                    stats);
  REQUIRE(platform.run().ok);
  const double fl = stats.value("platform.iommu.walk_reads.first_level");
  const double sl = stats.value("platform.iommu.walk_reads.second_level");
  const double walks = stats.value("platform.iommu.walks");
  const double nested = fl / 4;  // four first-level entries per nested walk
  REQUIRE(nested > 0);
  // The host device's second-level walks read 4 entries; the guest's nested ones 20 more.
  CHECK(sl == 20 * nested + 4 * (walks - nested));
  const Histogram* refs = stats.find_histogram("platform.iommu.walk_refs");
  REQUIRE(refs);
  CHECK(refs->max() == 24);
  CHECK(refs->min() == 4);
}

TEST_CASE("nic_sriov on scalable-mode tables: a domain per function at RID_PASID", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", load(read_file(IOMMU_SIM_SOURCE_DIR "/yaml/nic_sriov.yaml"),
                                     {"iommu.scalable.enabled=true", "host.tables=scalable"}),
                    stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  for (const char* f : {"pf", "vf0", "vf1", "vf2", "vf3"}) {
    const std::string e = std::string("platform.nic0.") + f;
    CHECK(stats.value(e + ".dmas") == 6000);
    CHECK(stats.value(e + ".errors") == 0);
  }
  CHECK(stats.value("platform.iommu.faults") == 0);
  CHECK(stats.value("platform.iommu.pasid_cache.lookups") > 0);
  CHECK(stats.value("platform.iommu.walk_reads.first_level") == 0);
  for (uint16_t d = 1; d <= 5; ++d)
    CHECK(stats.value("platform.iommu.domain." + std::to_string(d) + ".iotlb_hits") > 0);
}
