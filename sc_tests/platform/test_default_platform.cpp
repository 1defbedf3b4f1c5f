// The default platform end to end: the host programs real VT-d tables through the registers
// and the invalidation queue, two devices run DMA, the stray writes of one are blocked.
#include <catch2/catch.hpp>

#include "iommu_sim/platform/config_reader.h"
#include "default_platform.h"
#include "iommu_sim/common/messages.h"
#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/platform/platform.h"
#include "iommu_sim/platform/report_handler.h"
#include "platform_test_util.h"

using namespace iommu_sim;

namespace {
PlatformConfig default_config(const std::vector<std::string>& sets = {}) {
  return test::load(kDefaultPlatformYaml, sets, "default.yaml");
}
}  // namespace

TEST_CASE("default platform runs every DMA and blocks the stray writes", "[platform]") {
  StatsRegistry stats;
  PlatformConfig config = default_config();
  Platform platform("platform", config, stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  CHECK(outcome.workloads_done);
  CHECK(stats.value("platform.host.mmio_accesses") > 0);
  CHECK(stats.value("platform.dev0.dmas") == 20000);
  CHECK(stats.value("platform.dev0.errors") == 0);
  CHECK(stats.value("platform.dev1.dmas") == 10000);
  // Every 400th write of dev1 strays outside its mappings: 25 faults, nothing else.
  CHECK(stats.value("platform.dev1.errors") == 25);
  CHECK(stats.value("platform.iommu.faults") == 25);
  CHECK(stats.value("platform.iommu.faults.reason_0x5") == 25);
  // The fault events reached the host, whose handler drained the records: none overflowed.
  CHECK(stats.value("platform.interrupts.interrupts") >= 1);
  CHECK(stats.value("platform.host.faults_handled") == 25);
  CHECK(stats.value("platform.iommu.fault_overflows") == 0);
  // The stray IOVAs are not mapped anywhere: the only memory dev1 wrote is its 2 MiB superpage.
  const SparseMemory& mem = platform.memory().storage();
  CHECK(mem.find_page(0x70000000) == nullptr);
  CHECK(mem.find_page(0xA0000000) != nullptr);
  const double hit_rate = stats.value("summary.iotlb_hit_rate");
  CHECK(hit_rate > 0.5);
  CHECK(hit_rate < 1.0);
  CHECK(stats.value("summary.walks") == stats.value("platform.iommu.iotlb.misses"));
  CHECK(stats.value("summary.dma_latency_p99_ns") >= stats.value("summary.dma_latency_p50_ns"));
  const auto records = platform.fault_records();
  REQUIRE_FALSE(records.empty());
  CHECK(records[0].source_id == 0x0018);  // 00:03.0
  CHECK(records[0].reason == 0x5);
  CHECK_FALSE(records[0].is_read);
  CHECK(records[0].page >= 0x70000000);
}

TEST_CASE("register based invalidation brings the platform up too", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", default_config({"host.invalidation=register"}), stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  CHECK(stats.value("platform.dev0.dmas") == 20000);
  CHECK(stats.value("platform.dev0.errors") == 0);
}

TEST_CASE("a bigger IOTLB hits more on the same traffic", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", default_config({"iommu.iotlb.sets=256", "iommu.iotlb.ways=8"}), stats);
  REQUIRE(platform.run().ok);
  // All 256 + 1 pages fit: only compulsory misses (257) and the 25 stray lookups remain.
  CHECK(stats.value("platform.iommu.iotlb.misses") <= 257 + 25);
}

// The program maps the report that stopped a run to its exit code: a model's rejected
// configuration is bad input (2), any other error a simulation failure (1).
TEST_CASE("a model's configuration error maps to exit 2, a host error to exit 1", "[platform]") {
  IommuConfig bad;
  bad.address_width = 30;
  StatsRegistry stats;
  try {
    Iommu iommu("iommu", bad, stats);
    FAIL("the IOMMU was built");
  } catch (const sc_core::sc_report& e) {
    CHECK(exit_code_for(e) == kExitBadInput);
  }
  try {
    SC_REPORT_ERROR(msg::kHost, "the IOMMU did not enable translation");
    FAIL("the error did not throw");
  } catch (const sc_core::sc_report& e) {
    CHECK(exit_code_for(e) == kExitFailure);
  }
}
