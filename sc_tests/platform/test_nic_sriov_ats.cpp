// The SR-IOV NIC with PCIe ATS (yaml/nic_sriov_ats.yaml): the host driver enables ATS on every
// function, the functions translate through their device-TLBs, the IOMMU sees translation
// requests and translated requests, the host's device-TLB invalidations are answered; a stray
// function is still caught; the keys are validated; waves and the device-TLB stream are written.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/platform.h"
#include "platform_test_util.h"

using namespace iommu_sim;
using iommu_sim::test::load;
using iommu_sim::test::read_file;

namespace {
const char* const kFunctions[] = {"pf", "vf0", "vf1", "vf2", "vf3"};
std::string ats_yaml() { return read_file(IOMMU_SIM_SOURCE_DIR "/yaml/nic_sriov_ats.yaml"); }
}  // namespace

TEST_CASE("nic_sriov_ats: every function translates through its own device-TLB", "[platform]") {
  StatsRegistry stats;
  PlatformConfig config = load(ats_yaml());
  CHECK(config.iommu.device_tlbs);  // on because the driver enables ATS
  Platform platform("platform", config, stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  CHECK(get_bit(platform.iommu().peek_register(vtd::kRegEcap), vtd::kEcapDt));
  const auto& functions = platform.host().functions();
  REQUIRE(functions.size() == 5);
  for (const DiscoveredFunction& f : functions) {
    CHECK(f.ats);
    CHECK(f.ats_queue_depth == 32);
    const uint64_t ce = platform.host().tables().context_entry_address(f.rid);
    CHECK(get_bits(platform.memory().storage().read64(ce), vtd::kCtxTtHi, vtd::kCtxTtLo) ==
          static_cast<uint64_t>(TranslationType::AllowAts));
  }
  double misses = 0, translated = 0, dmas = 0, hits = 0, lookups = 0;
  for (const char* f : kFunctions) {
    const std::string e = std::string("platform.nic0.") + f;
    CHECK(stats.value(e + ".dmas") == 6000);
    CHECK(stats.value(e + ".errors") == 0);
    CHECK(stats.value(e + ".ats.untranslated_fallbacks") == 0);
    CHECK(stats.value(e + ".ats.invalidate_requests") == 1);  // at set-up
    CHECK(stats.value(e + ".ats.devtlb.hits") > 0);
    misses += stats.value(e + ".ats.devtlb.misses");
    hits += stats.value(e + ".ats.devtlb.hits");
    lookups += stats.value(e + ".ats.devtlb.lookups");
    translated += stats.value(e + ".ats.translated_requests");
    dmas += stats.value(e + ".dmas");
  }
  // Every DMA went translated (none crosses a page); every device-TLB miss was a translation
  // request, and the IOTLB saw nothing else.
  CHECK(translated == dmas);
  CHECK(stats.value("platform.iommu.ats.translated_requests") == translated);
  CHECK(stats.value("platform.iommu.ats.translation_requests") == misses);
  CHECK(stats.value("platform.iommu.iotlb.lookups") == misses);
  CHECK(stats.value("platform.iommu.ats.invalidations") == 5);
  CHECK(stats.value("platform.root_complex.ats_invalidations") == 5);
  CHECK(stats.value("platform.iommu.ats.invalidation_timeouts") == 0);
  CHECK(stats.value("platform.iommu.faults") == 0);
  CHECK(stats.value("summary.devtlb_hit_rate") == Approx(hits / lookups));
  CHECK(stats.value("summary.translation_requests_per_1000_dmas") == Approx(misses * 1000 / dmas));
  // The report's ATS section has a line per function.
  std::ostringstream report;
  print_report(report, "nic_sriov_ats.yaml", config, stats, outcome, platform.fault_records(),
               platform.dma_sources());
  CHECK(report.str().find("ATS                  device-TLBs nic0: 4 sets x 4 ways, lru;") != std::string::npos);
  for (const char* f : kFunctions)
    CHECK(report.str().find(std::string("    nic0.") + f + "   ") != std::string::npos);
}

TEST_CASE("nic_sriov_ats in scalable mode: DTE in each function's context, the same device-TLB traffic", "[platform]") {
  // The functions' requests carry no PASID: they translate through RID_PASID's PASID entry
  // (second level), and their device-TLBs work as in legacy mode.
  StatsRegistry stats;
  PlatformConfig config = load(ats_yaml(), {"iommu.scalable.enabled=true", "host.tables=scalable"});
  Platform platform("platform", config, stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  REQUIRE(platform.host().scalable_tables());
  for (const DiscoveredFunction& f : platform.host().functions()) {
    CHECK(f.ats);
    const uint64_t ce = platform.host().scalable_tables()->context_entry_address(f.rid);
    CHECK(get_bit(platform.memory().storage().read64(ce), vtd::kSmCtxDte));
  }
  double misses = 0, translated = 0, dmas = 0;
  for (const char* f : kFunctions) {
    const std::string e = std::string("platform.nic0.") + f;
    CHECK(stats.value(e + ".errors") == 0);
    CHECK(stats.value(e + ".ats.untranslated_fallbacks") == 0);
    CHECK(stats.value(e + ".ats.devtlb.hits") > 0);
    misses += stats.value(e + ".ats.devtlb.misses");
    translated += stats.value(e + ".ats.translated_requests");
    dmas += stats.value(e + ".dmas");
  }
  CHECK(dmas == 5 * 6000);
  CHECK(translated == dmas);
  CHECK(stats.value("platform.iommu.ats.translation_requests") == misses);
  CHECK(stats.value("platform.iommu.iotlb.lookups") == misses);
  CHECK(stats.value("platform.iommu.pasid_cache.lookups") >= misses);
  CHECK(stats.value("platform.iommu.ats.invalidations") == 5);
  CHECK(stats.value("platform.iommu.faults") == 0);
}

TEST_CASE("ATS capability without the driver enabling it: untranslated as before", "[platform]") {
  StatsRegistry stats;
  const PlatformConfig config = load(ats_yaml(), {"pcie.endpoints.0.ats.enabled=false"});
  CHECK_FALSE(config.iommu.device_tlbs);
  Platform platform("platform", config, stats);
  REQUIRE(platform.run().ok);
  CHECK_FALSE(get_bit(platform.iommu().peek_register(vtd::kRegEcap), vtd::kEcapDt));
  CHECK(platform.endpoint(0).device().function(1).ats_capability() != 0);
  for (const DiscoveredFunction& f : platform.host().functions()) CHECK_FALSE(f.ats);
  CHECK(stats.value("platform.nic0.vf0.ats.devtlb.lookups") == 0);
  CHECK(stats.value("platform.iommu.ats.translation_requests") == 0);
  CHECK(stats.value("platform.iommu.iotlb.lookups") == 30000);
  CHECK_FALSE(stats.has("summary.devtlb_hit_rate"));
}

TEST_CASE("a VF with ATS that strays is still caught: told no, its untranslated writes recorded", "[platform]") {
  // VF0 writes its buffer, and every second write goes to VF1's buffer IOVA instead; now with ATS.
  StatsRegistry stats;
  Platform platform("platform",
                    load(iommu_sim::test::kStrayVfYaml, {"pcie.endpoints.0.ats.devtlb.sets=4"}), stats);
  SparseMemory& memory = platform.memory().storage();
  REQUIRE(platform.run().ok);
  const auto& functions = platform.host().functions();
  const auto phys = platform.host().tables().translate(functions[2].domain, 0x50000000);
  REQUIRE(phys.has_value());
  CHECK(stats.value("platform.nic0.vf0.errors") == 200);
  CHECK(stats.value("platform.nic0.vf0.ats.untranslated_fallbacks") == 200);
  CHECK(stats.value("platform.iommu.ats.no_permission") >= 1);
  CHECK(stats.value("platform.iommu.faults.reason_0x5") == 200);
  for (const FaultRecord& r : platform.fault_records()) {
    CHECK(r.source_id == functions[1].rid);
    CHECK(r.page >= 0x50000000);
  }
  std::vector<uint8_t> buf(64 * 1024, 0xAA);
  memory.read(*phys, buf.data(), buf.size());
  CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0; }));
}

TEST_CASE("ATS keys are validated and errors name file:line:column", "[platform]") {
  const std::string ep = "pcie:\n  endpoints:\n    - name: a\n      ats:\n";
  CHECK_THROWS_WITH(load(ep + "        devtlb: {sets: 3}\n"),
                    Catch::Contains("test.yaml:5:24") && Catch::Contains("power of two"));
  CHECK_THROWS_WITH(load(ep + "        devtlb: {policy: mru}\n"),
                    Catch::Contains("pcie.endpoints.0.ats.devtlb.policy") && Catch::Contains("'mru'"));
  CHECK_THROWS_WITH(load(ep + "        devtlb: {largest_page: 4M}\n"), Catch::Contains("largest_page"));
  CHECK_THROWS_WITH(load(ep + "        stu: 32\n"), Catch::Contains("test.yaml:5:14"));
  CHECK_THROWS_WITH(load(ep + "        invalidate_queue_depth: 40\n"),
                    Catch::Contains("invalidate_queue_depth"));
  CHECK_THROWS_WITH(load(ep + "        devtlb: {sets: 4, waysx: 2}\n"), Catch::Contains("waysx"));
  CHECK_THROWS_WITH(load(ep + "        enabled: true\nhost:\n  invalidation: register\n"),
                    Catch::Contains("test.yaml:7:17") && Catch::Contains("invalidation queue"));
  CHECK_THROWS_WITH(load(ep + "        enabled: true\niommu:\n  queued_invalidation: false\n"),
                    Catch::Contains("device_tlbs") && Catch::Contains("queued_invalidation"));
  CHECK_THROWS_WITH(load(ats_yaml(), {"pcie.endpoints.0.ats.devtlb.ways=0"}),
                    Catch::Contains("--set pcie.endpoints.0.ats.devtlb.ways=0"));
  // Without endpoints asking, device TLBs can still be asked for (ECAP.DT without ATS traffic).
  CHECK(load("iommu: {device_tlbs: true}\n").iommu.device_tlbs);
}

TEST_CASE("waves show translation requests and invalidations and the device-TLB stream is recorded", "[platform]") {
  const std::string vcd_path = "nic_sriov_ats_test.vcd", trace_path = "nic_sriov_ats_test.devtlb";
  StatsRegistry stats;
  PlatformConfig config = load(ats_yaml(), {"pcie.endpoints.0.workload.packets=100"});
  config.devtlb_trace_path = trace_path;
  {
    VcdWriter vcd;
    vcd.open(vcd_path);
    Platform platform("platform", config, stats);
    platform.trace_to(vcd);
    REQUIRE(platform.run().ok);
    vcd.close();
  }
  const std::string vcd = read_file(vcd_path);
  for (const char* signal : {"ats_translation_request", "ats_translated_request", "devtlb_invalidate",
                             "devtlb_invalidations_pending", "devtlb_hit", "devtlb_miss",
                             "translation_request", "invalidate_request"})
    CHECK(vcd.find(signal) != std::string::npos);
  // The IOMMU's invalidation signal changes (its VCD code is the word after "wire 1").
  const size_t def = vcd.find(" devtlb_invalidate ");
  REQUIRE(def != std::string::npos);
  const size_t code_end = vcd.rfind(' ', def - 1);
  const std::string code = vcd.substr(code_end + 1, def - code_end - 1);
  CHECK(vcd.find("\n1" + code + "\n") != std::string::npos);

  std::ifstream in(trace_path);
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  size_t accesses = 0, domains = 0;
  for (const IotlbOp& op : ops) {
    accesses += op.kind == IotlbOp::Access;
    domains += op.kind == IotlbOp::InvalidateDomain;
    CHECK(op.entry.domain >= 0x0100);  // the function's requester ID
    CHECK(op.entry.domain <= 0x0104);
  }
  CHECK(accesses == stats.value("platform.iommu.ats.translated_requests"));
  CHECK(domains == 5);  // one whole-device-TLB invalidation per function at set-up
  std::remove(vcd_path.c_str());
  std::remove(trace_path.c_str());
}
