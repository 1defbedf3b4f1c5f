// The study's driver and NIC with the DMA remapper: every strategy moves its packets through the
// IOMMU model, each violation is caught or corrupts memory as the strategy allows (memory
// checked byte by byte here as well as by the probe), and the deferred strategy flushes on count
// and on time with real invalidations.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/dma_driver.h"
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/pcie/dma_engine.h"

using namespace iommu_sim;

namespace {

// Driver -> register window -> IOMMU; NIC engine -> IOMMU -> memory. Fault and completion
// events go to a sink that accepts and ignores them.
class StudyTb : public sc_core::sc_module {
 public:
  StatsRegistry stats;
  MemoryTarget mem;
  Iommu iommu;
  AddressRouter host_bus;
  DmaDriver driver;
  std::unique_ptr<DmaEngine> nic;
  tlm_utils::simple_target_socket<StudyTb> irq;

  SC_HAS_PROCESS(StudyTb);
  StudyTb(const DmaDriverConfig& config, double rate_gbps = 10.0,
          const IommuConfig& ic = IommuConfig{}, sc_core::sc_module_name name = "tb")
      : sc_module(name),
        mem("mem", MemoryConfig{}, stats),
        iommu("iommu", ic, stats),
        host_bus("host_bus"),
        driver("driver", config, mem.storage(), stats),
        irq("irq") {
    host_bus.add_window("regs", config.register_base, 0x1000, true);
    host_bus.initiator.bind(iommu.regs);
    driver.bus.bind(host_bus.target);
    iommu.memory.bind(mem.socket);
    iommu.interrupt.bind(irq);
    irq.register_b_transport(this, &StudyTb::sink);
    nic = std::make_unique<DmaEngine>("nic", config.source_id, driver.make_device_workload(rate_gbps), stats);
    nic->set_start_gate([this] { return driver.ready(); }, &driver.ready_event());
    nic->socket.bind(iommu.upstream);
    SC_THREAD(stopper);
  }

  void run() { sc_core::sc_start(sc_core::sc_time(1, sc_core::SC_SEC)); }
  double stat(const std::string& leaf) const { return stats.value("tb.driver." + leaf); }

  // Byte-by-byte check of a region against the probe's pattern.
  bool intact(uint64_t phys, uint64_t len) {
    std::vector<uint8_t> b(len);
    mem.storage().read(phys, b.data(), len);
    for (uint8_t x : b)
      if (x != ProtectionProbe::kPattern) return false;
    return true;
  }

 private:
  void stopper() {
    sc_core::wait(driver.done_event());
    if (!nic->finished()) sc_core::wait(nic->done());
    sc_core::sc_stop();
  }
  void sink(tlm::tlm_generic_payload& p, sc_core::sc_time&) { p.set_response_status(tlm::TLM_OK_RESPONSE); }
};

DmaDriverConfig small_config(const std::string& strategy) {
  DmaDriverConfig c;
  c.strategy.name = strategy;
  c.guest_size = 8ULL << 20;
  c.ring_size = 8;
  c.packets = 40;
  c.message_size = 1500;  // 2 KiB buffers, two to a page
  c.strategy.grace_us = 1000;
  return c;
}

}  // namespace

// One kernel per process: each strategy is a test case of its own.
void check_packets_flow(const std::string& name) {
  StudyTb tb(small_config(name));
  tb.run();
  REQUIRE(tb.driver.done());
  REQUIRE(tb.driver.ok());
  CHECK(tb.stat("packets") == 40);
  CHECK(tb.stat("bytes") == 40 * 1500);
  CHECK(tb.stats.value("tb.iommu.faults") == 0);
  CHECK(tb.stat("throughput_gbps") > 0);
  if (name == "direct-map") {
    // Nothing to do per packet; the fault records read after the traffic are not its work.
    CHECK(tb.stat("cpu_utilisation") == 0);
  } else {
    CHECK(tb.stat("cpu_utilisation") > 0);
  }
  CHECK(tb.stat("cpu_utilisation") <= 1.0);
  const double invalidations = tb.stat("strategy.invalidations");
  if (name == "single-use") {
    CHECK(tb.stat("strategy.maps") == 40);
    CHECK(tb.stat("strategy.unmaps") == 40);
    CHECK(invalidations == 40);
  }
  if (name == "direct-map") {
    CHECK(tb.stat("strategy.maps") == 1);
    CHECK(invalidations == 0);
  }
  if (name == "persistent") {
    CHECK(tb.stat("strategy.maps") == 8);  // 16 buffers of 2 KiB: 8 pages, each mapped once
    CHECK(invalidations == 0);
  }
  // Queued invalidation: each wait is one wait descriptor after the invalidation descriptors.
  // Set-up adds a context-cache, an IOTLB and a wait descriptor.
  CHECK(tb.stats.value("tb.iommu.qi_descriptors") == invalidations + tb.stat("strategy.waits") + 3);
}

TEST_CASE("Packets flow through the IOMMU under single use", "[model]") { check_packets_flow("single-use"); }
TEST_CASE("Packets flow through the IOMMU under shared mappings", "[model]") { check_packets_flow("shared"); }
TEST_CASE("Packets flow through the IOMMU under persistent mappings", "[model]") { check_packets_flow("persistent"); }
TEST_CASE("Packets flow through the IOMMU under a direct map", "[model]") { check_packets_flow("direct-map"); }
TEST_CASE("Packets flow through the IOMMU under deferred invalidation", "[model]") { check_packets_flow("deferred"); }
TEST_CASE("Packets flow through the IOMMU under optimistic teardown", "[model]") { check_packets_flow("optimistic"); }

TEST_CASE("Register invalidation reaches the IOMMU as well", "[model]") {
  DmaDriverConfig c = small_config("single-use");
  c.queued_invalidation = false;
  StudyTb tb(c);
  tb.run();
  REQUIRE(tb.driver.ok());
  CHECK(tb.stat("packets") == 40);
  CHECK(tb.stats.value("tb.iommu.qi_descriptors") == 0);
  // Page-selective invalidations as counted by the IOTLB (set-up adds one global one).
  CHECK(tb.stats.value("tb.iommu.iotlb.invalidations") == 41);
}

TEST_CASE("Strict teardown costs more CPU than a direct map", "[model]") {
  DmaDriverConfig strict = small_config("single-use");
  REQUIRE(cost_preset("calgary", strict.costs));
  StudyTb tb(strict);
  tb.run();
  // Per packet: a page-table update to map, one to unmap, and the invalidation's wait, which
  // lasts the published IOTLB update (the model's own time is part of it, not added).
  const double cycles = tb.stat("cpu_cycles");
  CHECK(cycles == Approx(40 * (2 * 673 + 10207)).margin(40));  // waits rounded to picoseconds
  CHECK(tb.stat("cost.iotlb_invalidation") == 0);
  CHECK(tb.stat("cost.invalidation_hardware") == Approx(40 * 10207).margin(40));
  CHECK(tb.stat("traffic_cost.page_table_update") == 40 * 673);
  CHECK(tb.stat("traffic_cost.page_table_clear") == 40 * 673);
}

TEST_CASE("The invalidation's hardware time is the model's when no figure is published", "[model]") {
  DmaDriverConfig c = small_config("single-use");
  c.costs.invalidation_hardware = 0;
  StudyTb tb(c);
  tb.run();
  REQUIRE(tb.driver.ok());
  // The queued invalidation's descriptor fetches, wait descriptor and status write take the
  // memory's 80 ns each: the CPU waits on them, and that is all the hardware share there is.
  const double hw = tb.stat("traffic_cost.invalidation_hardware") / 40;
  CHECK(hw > 3 * 80 * 3.0);
  CHECK(hw < 3 * 80 * 3.0 + 100);
  // Busy time is the sum of what the ledger recorded: nothing counted twice or left out.
  double steps = 0;
  for (const char* s : {"page_table_update", "page_table_clear", "iova_alloc", "iova_free",
                        "iotlb_invalidation", "invalidation_wait", "invalidation_hardware", "packet"})
    steps += tb.stat(std::string("traffic_cost.") + s);
  CHECK(steps == Approx(tb.stat("cpu_cycles")).epsilon(0.002));
}

TEST_CASE("Strategy none leaves translation off: the baseline without an IOMMU", "[model]") {
  DmaDriverConfig c = small_config("none");
  c.inject.bad_address_at = 10;
  c.inject.bad_device_at = 30;
  StudyTb tb(c);
  tb.run();
  REQUIRE(tb.driver.ok());
  CHECK(tb.stat("packets") == 40);
  CHECK(tb.stats.value("tb.iommu.iotlb.lookups") == 0);
  CHECK(tb.stats.value("tb.iommu.faults") == 0);
  CHECK(tb.driver.probe().outcome(Violation::BadAddress).corrupted());
  CHECK(tb.driver.probe().outcome(Violation::BadDevice).corrupted());
  // No per-packet work and no protection: the CPU never works during the traffic (the fault
  // records read after it are not the traffic's).
  CHECK(tb.stat("cpu_busy_ns") == 0);
}

void check_violations(const std::string& name) {
  DmaDriverConfig c = small_config(name);
  c.inject.bad_address_at = 10;
  c.inject.invalid_use_at = 21;  // index 20: the first half of a page whose other half is in flight
  c.inject.bad_device_at = 30;
  StudyTb tb(c);
  tb.run();
  REQUIRE(tb.driver.ok());
  const ProtectionProbe& p = tb.driver.probe();
  for (unsigned i = 0; i < 3; ++i) REQUIRE(p.outcome(static_cast<Violation>(i)).injected);

  const auto& bad_address = p.outcome(Violation::BadAddress);
  const auto& invalid_use = p.outcome(Violation::InvalidUse);
  const auto& bad_device = p.outcome(Violation::BadDevice);
  CHECK(tb.stat("violations.bad_address.injected") == 1);

  if (name == "direct-map") {
    // Every guest page is reachable: all three land.
    CHECK(bad_address.corrupted());
    CHECK(bad_device.corrupted());
    CHECK(invalid_use.corrupted());
    CHECK_FALSE(tb.intact(c.victim_bad_address(), c.message_size));
    CHECK_FALSE(tb.intact(c.victim_bad_device(), 64));
    CHECK(tb.stats.value("tb.iommu.faults") == 0);
  } else {
    // Memory never mapped for the device stays out of its reach.
    CHECK(bad_address.caught());
    CHECK(bad_device.caught());
    CHECK(tb.intact(c.victim_bad_address(), c.message_size));
    CHECK(tb.intact(c.victim_bad_device(), 64));
    CHECK(tb.stat("violations.bad_device.caught") == 1);
  }
  if (name == "single-use") {
    CHECK(invalid_use.caught());
    CHECK(tb.stats.value("tb.iommu.faults") == 3);
  } else {
    // shared: the page's other buffer is still in flight; persistent, direct-map, optimistic:
    // the mapping is kept; deferred: the IOTLB still holds the translation until the flush.
    CHECK(invalid_use.corrupted());
    CHECK(tb.stat("violations.invalid_use.corrupted") == 1);
  }
}

TEST_CASE("Violations under single use", "[model]") { check_violations("single-use"); }
TEST_CASE("Violations under shared mappings", "[model]") { check_violations("shared"); }
TEST_CASE("Violations under persistent mappings", "[model]") { check_violations("persistent"); }
TEST_CASE("Violations under a direct map", "[model]") { check_violations("direct-map"); }
TEST_CASE("Violations under deferred invalidation", "[model]") { check_violations("deferred"); }
TEST_CASE("Violations under optimistic teardown", "[model]") { check_violations("optimistic"); }

TEST_CASE("Deferred invalidations are not cached forever when the IOTLB is tiny", "[model]") {
  // With a one-entry IOTLB the stale translation is evicted by the next packet's, so the
  // device's late write walks the cleared page table and faults: hardware decides.
  DmaDriverConfig c = small_config("deferred");
  c.inject.invalid_use_at = 21;
  c.inject.invalid_use_delay_ns = 5000;  // the device lingers while newer packets use the IOTLB
  IommuConfig ic;
  ic.iotlb.sets = 1;
  ic.iotlb.ways = 1;
  StudyTb tb(c, 10.0, ic);
  tb.run();
  CHECK(tb.driver.probe().outcome(Violation::InvalidUse).caught());
}

TEST_CASE("Deferred flushes after each batch of unmaps", "[model]") {
  DmaDriverConfig c = small_config("deferred");
  c.strategy.batch = 4;
  StudyTb tb(c);
  tb.run();
  CHECK(tb.stat("strategy.flushes_by_count") == 10);
  CHECK(tb.stat("strategy.flushes_by_time") == 0);
  CHECK(tb.stat("strategy.invalidations") == 10);
  // Each flush is one domain-selective descriptor that really reached the IOTLB.
  CHECK(tb.stats.value("tb.iommu.iotlb.invalidations") == 10 + 1);
  CHECK(tb.stat("strategy.window.max_dmas") <= 4 + 8);
}

TEST_CASE("Deferred flushes on time when unmaps are sparse", "[model]") {
  DmaDriverConfig c = small_config("deferred");
  c.packets = 10;
  c.strategy.batch = 250;
  c.strategy.flush_us = 2;
  StudyTb tb(c, 0.1);  // 1500 bytes at 0.1 Gbit/s: one packet every 120 us
  tb.run();
  // Every unmap is flushed alone, 2 us later (the last one after the traffic has ended).
  CHECK(tb.stat("strategy.flushes_by_time") == 10);
  CHECK(tb.stat("strategy.flushes_by_count") == 0);
  CHECK(tb.stat("strategy.window.closed") == 10);
  CHECK(tb.stat("strategy.window.open_at_end") == 0);
  CHECK(tb.stat("strategy.window.max_ns") >= 2000);
  CHECK(tb.stat("strategy.window.max_ns") < 4000);
}

TEST_CASE("with a device-TLB on the NIC every strict teardown waits for its completion", "[model]") {
  DmaDriverConfig c = small_config("single-use");
  c.ats = true;
  IommuConfig ic;
  ic.device_tlbs = true;
  StudyTb tb(c, 10.0, ic);
  AtsClientConfig ac;
  ac.invalidation_latency = sc_core::sc_time(2, sc_core::SC_US);
  AtsClient client(ac, tb.stats, "tb.nic.ats");
  tb.nic->set_ats(&client);
  AtsInvalidationPort port("nic_ats", client, c.source_id);
  tb.iommu.ats_invalidation.bind(port.in);
  tb.run();
  REQUIRE(tb.driver.done());
  REQUIRE(tb.driver.ok());
  CHECK(tb.stat("packets") == 40);
  CHECK(tb.stats.value("tb.iommu.faults") == 0);
  // Every unmap: an IOTLB and a device-TLB invalidation, the NIC answering each.
  CHECK(tb.stat("strategy.invalidations") == 40);
  CHECK(tb.stat("strategy.devtlb_invalidations") == 40);
  CHECK(tb.stats.value("tb.nic.ats.invalidate_requests") == 40);
  CHECK(tb.stats.value("tb.iommu.ats.invalidation_timeouts") == 0);
  // The NIC's DMA went translated, through translation requests on device-TLB misses.
  CHECK(tb.stats.value("tb.iommu.ats.translated_requests") > 0);
  CHECK(tb.stats.value("tb.nic.ats.translation_requests") > 0);
  // Each teardown now lasts at least the NIC's invalidation latency.
  CHECK(tb.stat("strategy.window.mean_ns") >= 2000);
}
