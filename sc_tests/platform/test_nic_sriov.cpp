// The SR-IOV NIC platform: enumeration by the host driver, one domain per function, and the
// isolation the IOMMU gives between the VFs' domains.
#include <catch2/catch.hpp>

#include "iommu_sim/platform/config_reader.h"
#include "platform_test_util.h"
#include "iommu_sim/platform/platform.h"

using namespace iommu_sim;
using iommu_sim::test::load;
using iommu_sim::test::read_file;

TEST_CASE("nic_sriov gives every function its own domain and reports each", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", load(read_file(IOMMU_SIM_SOURCE_DIR "/yaml/nic_sriov.yaml")), stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  const auto& functions = platform.host().functions();
  REQUIRE(functions.size() == 5);  // the PF and 4 enabled VFs
  CHECK(functions[0].rid == 0x0100);
  CHECK_FALSE(functions[0].is_vf);
  for (unsigned i = 1; i < 5; ++i) {
    CHECK(functions[i].is_vf);
    CHECK(functions[i].rid == 0x0100 + i);  // ARI: First VF Offset 1, stride 1
    CHECK(functions[i].domain == i + 1);
  }
  // 2000 packets, 3 DMAs each (descriptor read, buffer, write-back), on every function.
  for (const char* f : {"pf", "vf0", "vf1", "vf2", "vf3"}) {
    const std::string e = std::string("platform.nic0.") + f;
    CHECK(stats.value(e + ".dmas") == 6000);
    CHECK(stats.value(e + ".errors") == 0);
  }
  CHECK(stats.value("platform.iommu.faults") == 0);
  // Per function and per domain IOTLB figures add up to the whole.
  double hits = 0;
  for (uint16_t d = 1; d <= 5; ++d) hits += stats.value("platform.iommu.domain." + std::to_string(d) + ".iotlb_hits");
  CHECK(hits == stats.value("platform.iommu.iotlb.hits"));
  CHECK(stats.value("platform.iommu.rid.01:00.3.iotlb_hits") ==
        stats.value("platform.iommu.domain.4.iotlb_hits"));
  const auto sources = platform.dma_sources();
  REQUIRE(sources.size() == 5);
  CHECK(sources[2].label == "nic0.vf1");
  CHECK(sources[2].domain == 3);
}

TEST_CASE("a VF cannot reach an IOVA mapped only in another VF's domain", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", load(iommu_sim::test::kStrayVfYaml), stats);
  SparseMemory& memory = platform.memory().storage();
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  // VF1's domain maps the buffer; VF0's does not.
  const auto& functions = platform.host().functions();
  REQUIRE(functions.size() == 3);
  const uint16_t vf0_domain = functions[1].domain, vf1_domain = functions[2].domain;
  REQUIRE(vf0_domain != vf1_domain);
  const auto phys = platform.host().tables().translate(vf1_domain, 0x50000000);
  REQUIRE(phys.has_value());
  CHECK_FALSE(platform.host().tables().translate(vf0_domain, 0x50000000).has_value());

  CHECK(stats.value("platform.nic0.vf0.errors") == 200);
  CHECK(stats.value("platform.nic0.vf1.errors") == 0);
  CHECK(stats.value("platform.iommu.faults.reason_0x5") == 200);
  // Every fault names VF0 (01:00.1) and an IOVA in VF1's buffer.
  const auto records = platform.fault_records();
  REQUIRE(records.size() == 200);
  for (const FaultRecord& r : records) {
    CHECK(r.source_id == functions[1].rid);
    CHECK(r.page >= 0x50000000);
    CHECK(r.page < 0x50010000);
  }
  // VF1's buffer is untouched: never written, so it reads as zeros byte for byte.
  std::vector<uint8_t> buf(64 * 1024, 0xAA);
  memory.read(*phys, buf.data(), buf.size());
  CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0; }));
}

TEST_CASE("endpoint and driver keys are validated", "[platform]") {
  CHECK_THROWS_WITH(load("pcie:\n  endpoints:\n    - {name: a, total_vfs: 2}\nhost:\n  driver: {num_vfs: 3}\n"),
                    Catch::Contains("test.yaml:5:21") && Catch::Contains("only 2 VFs"));
  CHECK_THROWS_WITH(load("pcie:\n  endpoints:\n    - {name: a, workload: {kind: nic, ring_size: 1}}\n"),
                    Catch::Contains("ring_size"));
  CHECK_THROWS_WITH(load("pcie:\n  endpoints:\n    - {name: a, workload: {kind: disk}}\n"),
                    Catch::Contains("'disk' is not accepted"));
}
