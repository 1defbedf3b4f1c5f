// Interrupt remapping and posted interrupts in the platform (yaml/interrupts.yaml): the NIC's VFs
// raise MSI-X through remappable handles the host set up, into guests whose vCPUs run, are
// preempted or are halted. Each test case runs in a process of its own (one SystemC kernel).
#include <catch2/catch.hpp>

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include "iommu_sim/platform/config_reader.h"
#include "platform_test_util.h"
#include "iommu_sim/iommu/irte.h"
#include "iommu_sim/pcie/nic_workload.h"
#include "iommu_sim/platform/platform.h"

using namespace iommu_sim;
using iommu_sim::test::load;
using iommu_sim::test::read_file;

namespace {

PlatformConfig study(const std::vector<std::string>& sets) {
  return load(read_file(IOMMU_SIM_SOURCE_DIR "/yaml/interrupts.yaml"), sets);
}

const char* const kGuests[] = {"vm0", "vm1", "vm2", "vm3"};

std::string guest(unsigned g, const std::string& leaf) {
  return std::string("platform.apic.guest.") + kGuests[g] + "." + leaf;
}
std::string vf(unsigned v, const std::string& leaf) {
  return "platform.nic0.vf" + std::to_string(v) + "." + leaf;
}

// The interrupts VF v's NIC workload raised (whether or not they could be sent).
uint64_t nic_interrupts(Platform& p, unsigned v) {
  auto* nic = dynamic_cast<NicWorkload*>(p.endpoint(0).engine(1 + v).workload());
  REQUIRE(nic != nullptr);
  return nic->interrupts();
}

// Every MSI-X the VFs' workloads raised was sent (the host enabled and unmasked the vectors),
// reached its own guest, and was seen there.
void check_every_interrupt_arrives(Platform& p, StatsRegistry& stats) {
  for (unsigned v = 0; v < 4; ++v) {
    INFO("VF " << v);
    const double sent = stats.value(vf(v, "msix"));
    CHECK(sent > 0);
    CHECK(sent == nic_interrupts(p, v));
    CHECK(stats.value(vf(v, "msix_pending")) == 0);
    CHECK(stats.value(vf(v, "errors")) == 0);
    CHECK(stats.value(guest(v, "requested")) == sent);
    CHECK(stats.value(guest(v, "seen")) == sent);
  }
  CHECK(stats.value("platform.iommu.faults") == 0);
  CHECK(stats.value("platform.apic.host_interrupts") == 0);  // none strayed to the host
}
}  // namespace

TEST_CASE("remapped delivery without APICv: an arrival and an EOI exit per interrupt", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", study({"interrupts.delivery=remapped"}), stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  check_every_interrupt_arrives(platform, stats);
  double host_exits = 0;
  for (unsigned g = 0; g < 4; ++g) {
    INFO("guest " << kGuests[g]);
    const double n = stats.value(guest(g, "requested"));
    CHECK(stats.value(guest(g, "remapped")) == n);
    CHECK(stats.value(guest(g, "posted")) == 0);
    CHECK(stats.value(guest(g, "exits.arrival")) == n);
    CHECK(stats.value(guest(g, "exits.eoi")) == n);
    CHECK(stats.value(guest(g, "vm_exits")) == 2 * n + stats.value(guest(g, "exits.host")));
    host_exits += stats.value(guest(g, "exits.host"));
  }
  // The host's timer ticks on the guests' CPUs are the only other exits.
  CHECK(host_exits > 0);
  CHECK(host_exits == stats.value("platform.apic.timer_exits"));
  CHECK(stats.value("summary.exits_per_1000_interrupts.arrival") == Approx(1000.0));
  CHECK(stats.value("summary.exits_per_1000_interrupts.eoi") == Approx(1000.0));
  // The latency includes the exit, the handler and the injection the configuration charges.
  const InterruptCosts& k = platform.apic()->config().costs;
  CHECK(stats.value("summary.interrupt_latency_p50_ns") >=
        (k.vm_exit + k.host_handler + k.injection).to_seconds() * 1e9);
  // After the first use of each handle, the IRTE comes from the interrupt-entry cache.
  CHECK(stats.value("platform.iommu.iec.misses") <= 2 * 4);
  CHECK(stats.value("summary.iec_hit_rate") > 0.9);
}

TEST_CASE("remapped delivery with APICv: no EOI exits", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", study({"interrupts.delivery=remapped", "interrupts.apicv=true"}), stats);
  REQUIRE(platform.run().ok);
  check_every_interrupt_arrives(platform, stats);
  CHECK(stats.value("summary.exits_per_1000_interrupts.arrival") == Approx(1000.0));
  CHECK(stats.value("summary.exits_per_1000_interrupts.eoi") == 0);
}

TEST_CASE("ELI delivery: no exit for the guests' own interrupts, the timer exits through the shadow IDT", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", study({"interrupts.delivery=eli"}), stats);
  REQUIRE(platform.run().ok);
  check_every_interrupt_arrives(platform, stats);
  const InterruptCosts& k = platform.apic()->config().costs;
  for (unsigned g = 0; g < 4; ++g) {
    INFO("guest " << kGuests[g]);
    CHECK(stats.value(guest(g, "exits.arrival")) == 0);
    CHECK(stats.value(guest(g, "exits.eoi")) == 0);  // x2APIC: EOI through the MSR bitmap
    const double host = stats.value(guest(g, "exits.host"));
    CHECK(host > 0);
    CHECK(stats.value(guest(g, "vm_exits")) == host);
    // Each of them costs the exit, the #NP decoding and the host's timer handler.
    CHECK(stats.value(guest(g, "hypervisor_ps")) ==
          Approx(host * (k.vm_exit + k.shadow_idt + k.host_handler).to_seconds() * 1e12));
  }
  CHECK(stats.value("summary.interrupt_latency_p99_ns") < k.vm_exit.to_seconds() * 1e9);
}

TEST_CASE("posted delivery takes no VM exit for running vCPUs", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", study({"interrupts.delivery=posted", "interrupts.host_timer_hz=0"}), stats);
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  check_every_interrupt_arrives(platform, stats);
  for (unsigned g = 0; g < 4; ++g) {
    INFO("guest " << kGuests[g]);
    const double n = stats.value(guest(g, "requested"));
    CHECK(stats.value(guest(g, "posted")) == n);
    CHECK(stats.value(guest(g, "remapped")) == 0);
    CHECK(stats.value(guest(g, "vm_exits")) == 0);
    // The CPU drains the PIR at once, so every interrupt finds ON clear and notifies.
    CHECK(stats.value(guest(g, "notifications")) == n);
    CHECK(stats.value(guest(g, "notifications_suppressed")) == 0);
    // Nothing left in the descriptor's PIR.
    uint64_t pid[8];
    platform.memory().storage().read(platform.apic()->descriptor(g, 0), pid, sizeof pid);
    CHECK((pid[0] | pid[1] | pid[2] | pid[3]) == 0);
  }
  CHECK(stats.value("summary.vm_exits") == 0);
  CHECK(stats.value("platform.apic.timer_ticks") == 0);
  CHECK(stats.value("platform.iommu.ir.posted") == stats.value("summary.interrupts"));
  const InterruptCosts& k = platform.apic()->config().costs;
  CHECK(stats.value("summary.interrupt_latency_p99_ns") < k.vm_exit.to_seconds() * 1e9);
}

TEST_CASE("posted interrupts for a preempted vCPU wait in the PIR until it runs", "[platform]") {
  // vm0 runs 40 us of every 100 us; the others always run.
  StatsRegistry stats;
  Platform platform("platform", study({"interrupts.delivery=posted",
                                       "interrupts.guests.0.vcpus.0.run_us=40",
                                       "interrupts.guests.0.vcpus.0.preempted_us=60"}),
                    stats);
  // A probe that looks at vm0's descriptor every microsecond: how often interrupts sat in the
  // PIR while the vCPU was preempted (SN set), and whether any sat there while it ran.
  const uint64_t pda = platform.apic()->descriptor(0, 0);
  SparseMemory& memory = platform.memory().storage();
  unsigned waiting_preempted = 0, waiting_running = 0;
  sc_core::sc_spawn([&] {
    for (;;) {
      sc_core::wait(1, sc_core::SC_US);
      uint64_t pid[8];
      memory.read(pda, pid, sizeof pid);
      if (!(pid[0] | pid[1] | pid[2] | pid[3])) continue;
      (get_bit(pid[irte::kPidControl], irte::kPidSn) ? waiting_preempted : waiting_running)++;
    }
  });
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  check_every_interrupt_arrives(platform, stats);
  CHECK(waiting_preempted > 0);
  CHECK(waiting_running == 0);
  // While preempted, SN suppresses the notification; the schedule-in processes the PIR.
  CHECK(stats.value(guest(0, "notifications_suppressed")) > 0);
  CHECK(stats.value(guest(0, "notifications")) + stats.value(guest(0, "notifications_suppressed")) ==
        stats.value(guest(0, "requested")));
  CHECK(stats.value(guest(0, "exits.arrival")) == 0);
  CHECK(stats.value(guest(0, "exits.eoi")) == 0);
  // Some waited for most of a preempted period; the always-running guest waited for none.
  const Histogram* late = stats.find_histogram(guest(0, "latency"));
  const Histogram* prompt = stats.find_histogram(guest(1, "latency"));
  REQUIRE(late);
  REQUIRE(prompt);
  CHECK(late->max() >= 30e6);   // ps
  CHECK(late->max() <= 61e6);
  CHECK(prompt->max() < 1e6);
  CHECK(stats.value(guest(1, "notifications_suppressed")) == 0);
}

TEST_CASE("a VF using the interrupt handle of another VF is blocked by the source ID check", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", study({"interrupts.delivery=posted"}), stats);
  // Once the host has set everything up, VF0's RX vector is pointed at VF1's RX handle, as a
  // compromised device or guest could: the message is well formed, only the requester is wrong.
  SriovEndpoint& nic = platform.endpoint(0);
  sc_core::sc_spawn([&] {
    sc_core::wait(platform.host().ready_event());
    const uint64_t stolen = nic.msix(2).read_table(0, 4);
    CHECK(irte::is_remappable(stolen));
    CHECK(stolen != nic.msix(1).read_table(0, 4));
    nic.msix(1).write_table(0, 4, stolen);
  });
  const PlatformOutcome outcome = platform.run();
  REQUIRE(outcome.ok);
  REQUIRE(outcome.workloads_done);
  const double blocked = stats.value(vf(0, "errors"));
  CHECK(blocked > 0);
  CHECK(blocked < stats.value(vf(0, "msix")));  // its TX vector still works
  CHECK(stats.value("platform.iommu.ir.faults.reason_0x26") == blocked);
  // vm1 gets its own interrupts and nothing more; vm0 loses the blocked ones.
  CHECK(stats.value(guest(1, "requested")) == stats.value(vf(1, "msix")));
  CHECK(stats.value(guest(0, "requested")) == stats.value(vf(0, "msix")) - blocked);
  // The fault event went past the guests to the host, whose handler read the records.
  CHECK(stats.value("platform.host.faults_handled") > 0);
  const uint16_t vf0 = platform.host().functions().at(1).rid;
  bool found = false;
  for (const FaultRecord& r : platform.fault_records()) {
    CHECK(r.reason == 0x26);
    CHECK(r.source_id == vf0);
    found = true;
  }
  CHECK(found);
}

TEST_CASE("interrupt keys are validated with their location", "[platform]") {
  const std::string base = R"(iommu:
  interrupt_remapping: {enabled: true, posted: true}
pcie:
  endpoints:
    - {name: nic0, total_vfs: 2}
host:
  driver: {num_vfs: 2}
)";
  CHECK_NOTHROW(load(base + "interrupts:\n  delivery: posted\n"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  delivery: direct\n"),
                    Catch::Contains("test.yaml:9:13") && Catch::Contains("'direct' is not accepted"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  guests:\n    - {vcpus: [{cpu: 9}]}\n"),
                    Catch::Contains("test.yaml:10:22") && Catch::Contains("cpu"));
  CHECK_THROWS_WITH(
      load(base + "interrupts:\n  guests:\n    - {vcpus: [{cpu: 1, run_us: 10, preempted_us: 5, halted_us: 5}]}\n"),
      Catch::Contains("test.yaml:10") && Catch::Contains("either preempted or halted"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  guests: [{vcpus: [{cpu: 0}]}, {vcpus: [{cpu: 0}]}, {vcpus: [{cpu: 0}]}]\n"),
                    Catch::Contains("only 2 VFs"));
  CHECK_THROWS_WITH(load(base + "interrupts: {delivery: posted}\n", {"iommu.interrupt_remapping.posted=false"}),
                    Catch::Contains("needs iommu.interrupt_remapping.posted"));
  CHECK_THROWS_WITH(load("iommu:\n  interrupt_remapping: {posted: true}\n"),
                    Catch::Contains("test.yaml:2:33") && Catch::Contains("enabled: true"));
  CHECK_THROWS_WITH(load(base + "interrupts: {irt_entries: 100}\n"), Catch::Contains("power of two"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  delivery: eli\n  apicv: true\n"),
                    Catch::Contains("test.yaml:10:10") && Catch::Contains("interrupts.apicv"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  delivery: posted\n  apicv: false\n"),
                    Catch::Contains("test.yaml:10:10") && Catch::Contains("needs APIC virtualization"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  delivery: posted\n  affinity: host-cpu\n"),
                    Catch::Contains("test.yaml:10:13") && Catch::Contains("applies to remapped and eli"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  guests:\n    - {vcpus: [{cpu: 1, cpus: [1, 2]}]}\n"),
                    Catch::Contains("either cpu or cpus"));
  CHECK_THROWS_WITH(load(base + "interrupts:\n  guests:\n    - {vcpus: [{cpus: [1, 2]}]}\n"),
                    Catch::Contains("migrates at its schedule-ins"));
  // Two vCPUs time-sharing CPU 1 with overlapping run windows: named by the guests' key.
  const std::string shared = "interrupts:\n  guests:\n"
                             "    - {vcpus: [{cpu: 1, run_us: 50, preempted_us: 50}]}\n"
                             "    - {vcpus: [{cpu: 1, run_us: 50, preempted_us: 50, phase_us: 20}]}\n";
  CHECK_THROWS_WITH(load(base + shared), Catch::Contains("test.yaml:10:") &&
                                             Catch::Contains("interrupts.guests") && Catch::Contains("overlap"));
  CHECK_NOTHROW(load(base + shared, {"interrupts.guests.1.vcpus.0.phase_us=50"}));
}
