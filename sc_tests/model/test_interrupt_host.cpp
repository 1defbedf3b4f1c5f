// Host interrupt model: the IOMMU's interrupt socket into the ApicSystem. One test case per rule
// of docs/interrupts.md: which interrupts exit on which CPU and for what cause, in each delivery
// mode; EOI exits; host timer interrupts; CPU posted interrupts; descheduled, halted and migrated
// vCPUs; and the configuration checks.
#include <catch2/catch.hpp>

#include "iommu_sim/host/apic_system.h"
#include "test_interrupt_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_US;

namespace {
const uint16_t kDev = make_requester_id(1, 0, 1);
const uint8_t kGuestVector = 0x31;

double ps_of(const sc_time& t) { return t.to_seconds() * 1e12; }

// The IOMMU's interrupt messages go to an ApicSystem; unrouted ones reach the capture.
struct HostBench {
  InterruptTb tb;
  ApicSystem apic;
  explicit HostBench(const HostInterruptConfig& c)
      : tb(interrupt_config(true, c.x2apic), "tb", false),
        apic("apic", c, tb.mem.storage(), [this] { return tb.tables.allocate_page(); }, tb.stats) {
    tb.iommu.interrupt.bind(apic.socket);
    apic.host_out.bind(tb.irq);
    tb.iommu.interrupt_remapper().on_posted = [this](const InterruptRemapper::PostedRecord& r) {
      apic.posted_requested(r.pda, r.vector, r.notified, r.time);
    };
  }
  double guest(const std::string& leaf, unsigned g = 0) {
    return tb.stats.value("apic.guest.vm" + std::to_string(g) + "." + leaf);
  }
  const Histogram& latency(unsigned g = 0) {
    return *tb.stats.find_histogram("apic.guest.vm" + std::to_string(g) + ".latency");
  }
  uint64_t p50(unsigned g = 0) { return latency(g).quantile(0.5); }
  // IRTE g for guest g's vCPU 0, guest vector 0x31, as the configured delivery mode sets it up.
  void route(unsigned guests = 1) {
    InterruptTableBuilder& irt = tb.enable(16);
    for (unsigned g = 0; g < guests; ++g) {
      if (apic.config().delivery == InterruptDelivery::Posted) {
        irt.set_posted(g, kGuestVector, apic.descriptor(g, 0), false, kDev, irte::SourceValidation::RequesterId);
      } else {
        const ApicSystem::HostRoute r = apic.route_remapped(g, 0, kGuestVector);
        irt.set_remapped(g, r.vector, r.cpu, kDev, irte::SourceValidation::RequesterId);
      }
    }
  }
  tlm::tlm_response_status interrupt(unsigned g = 0) { return tb.remappable(kDev, static_cast<uint16_t>(g)); }
};

HostInterruptConfig config(InterruptDelivery delivery, bool apicv, unsigned guests = 1) {
  HostInterruptConfig c;
  c.cpus = 4;
  c.delivery = delivery;
  c.apicv = apicv;
  for (unsigned g = 0; g < guests; ++g) {
    GuestSpec spec;
    spec.name = "vm" + std::to_string(g);
    spec.vcpus.push_back(VcpuSpec{1 + g, {}, {}});
    c.guests.push_back(spec);
  }
  return c;
}

VcpuSchedule schedule(double run_us, double off_us, bool halted = false, double phase_us = 0) {
  VcpuSchedule s;
  s.run = sc_time(run_us, SC_US);
  s.off = sc_time(off_us, SC_US);
  s.halted = halted;
  s.phase = sc_time(phase_us, SC_US);
  return s;
}
}  // namespace

TEST_CASE("remapped without APICv: an arrival exit and an EOI exit per interrupt", "[model]") {
  HostBench b(config(InterruptDelivery::Remapped, false));
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("remapped") == 1);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("exits.arrival") == 1);
  CHECK(b.guest("exits.eoi") == 1);
  CHECK(b.guest("exits.host") == 0);
  CHECK(b.guest("vm_exits") == 2);
  const InterruptCosts k;
  // Latency: the IOMMU's remapping (IEC miss, one IRTE read) plus exit, handler and injection;
  // the EOI exit comes after the guest has seen it.
  const sc_time path = k.vm_exit + k.host_handler + k.injection;
  CHECK(b.p50() >= ps_of(path) * 0.97);
  CHECK(b.p50() <= ps_of(path + sc_time(200, SC_NS)) * 1.03);
  CHECK(b.guest("hypervisor_ps") == Approx(ps_of(path + k.vm_exit + k.eoi_emulation)));
  // A blocked request reaches neither the guest nor its counters.
  CHECK(b.tb.remappable(kDev, 9) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(b.guest("requested") == 1);
  // An unrouted vector is the host's own: it goes on to the host sink.
  b.tb.irt->set_remapped(1, 0x99, 0, kDev);
  CHECK(b.tb.remappable(kDev, 1) == tlm::TLM_OK_RESPONSE);
  CHECK(b.tb.stats.value("apic.host_interrupts") == 1);
  CHECK(b.tb.irqs.size() == 1);
}

TEST_CASE("remapped with APICv: the arrival exits, the EOI does not", "[model]") {
  HostBench b(config(InterruptDelivery::Remapped, true));
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("exits.arrival") == 1);
  CHECK(b.guest("exits.eoi") == 0);
  CHECK(b.guest("vm_exits") == 1);
}

TEST_CASE("ELI with x2APIC: the guest's own interrupt on its core takes no exit at all", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Eli, false);
  c.x2apic = true;
  HostBench b(c);
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("vm_exits") == 0);
  CHECK(b.guest("hypervisor_ps") == 0);
  const InterruptCosts k;
  CHECK(b.p50() < ps_of(k.vm_exit));
}

TEST_CASE("ELI without x2APIC: the EOI is an MMIO write that exits", "[model]") {
  HostBench b(config(InterruptDelivery::Eli, false));
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("exits.arrival") == 0);
  CHECK(b.guest("exits.eoi") == 1);
}

TEST_CASE("a posted interrupt for a running vCPU is taken without an exit", "[model]") {
  HostBench b(config(InterruptDelivery::Posted, true));
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("posted") == 1);
  CHECK(b.guest("notifications") == 1);
  CHECK(b.guest("vm_exits") == 0);
  CHECK(b.guest("seen") == 1);
  const InterruptCosts k;
  CHECK(b.p50() < ps_of(k.vm_exit));
  // The CPU consumed the PIR and cleared ON: the next one notifies again.
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == 0);
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications") == 2);
  CHECK(b.guest("seen") == 2);
}

TEST_CASE("a posted interrupt for a preempted vCPU waits in the PIR until it runs", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Posted, true);
  c.guests[0].vcpus[0].schedule = schedule(10, 40);
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(20, SC_US));  // descheduled at 10 us, back at 50 us
  CHECK(get_bit(b.tb.mem.storage().read64(b.apic.descriptor(0, 0) + 32), irte::kPidSn));
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications_suppressed") == 1);
  CHECK(b.guest("seen") == 0);
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == (1ULL << kGuestVector));
  sc_core::sc_start(sc_time(40, SC_US));
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("vm_exits") == 0);
  // Requested at 20 us, seen at the schedule-in at 50 us plus the injection.
  CHECK(b.p50() >= 29.0e6);
  CHECK(b.p50() <= 32.0e6);
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == 0);
}

TEST_CASE("a posted interrupt for a halted vCPU goes to the wake up path", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Posted, true);
  c.guests[0].vcpus[0].schedule = schedule(10, 1000, true);
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(20, SC_US));
  const uint64_t ctl = b.tb.mem.storage().read64(b.apic.descriptor(0, 0) + 32);
  CHECK(get_bits(ctl, irte::kPidNvHi, irte::kPidNvLo) == b.apic.config().wakeup_vector);
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications") == 1);
  CHECK(b.guest("exits.wakeup") == 1);
  sc_core::sc_start(sc_time(20, SC_US));
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("vm_exits") == 1);  // the wake-up, nothing else
  const InterruptCosts k;
  CHECK(b.p50() >= ps_of(k.wakeup + k.injection) * 0.97);
  CHECK(b.p50() < 10.0e6);  // long before the halt period would have ended
}

TEST_CASE("a remapped interrupt for a halted vCPU wakes it; without APICv its EOI then exits", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Remapped, false);
  c.guests[0].vcpus[0].schedule = schedule(10, 1000, true);
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(20, SC_US));
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("exits.wakeup") == 1);
  CHECK(b.guest("exits.arrival") == 0);  // the CPU was idle: no guest to exit
  CHECK(b.guest("forwarded") == 1);
  sc_core::sc_start(sc_time(20, SC_US));
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("exits.eoi") == 1);
}

TEST_CASE("a host timer tick exits the guest on its CPU, through the shadow IDT under ELI", "[model]") {
  const InterruptCosts k;
  HostInterruptConfig c = config(InterruptDelivery::Eli, false);
  c.x2apic = true;
  c.cpus = 2;
  c.host_timer_hz = 100000;  // a tick every 10 us on each CPU
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(105, SC_US));
  b.apic.settle(sc_core::sc_time_stamp());
  // CPU 1 runs vm0: each of its 10 ticks is an exit; CPU 0 runs nothing: its ticks are the host's.
  CHECK(b.tb.stats.value("apic.timer_ticks") == 20);
  CHECK(b.tb.stats.value("apic.timer_exits") == 10);
  CHECK(b.guest("exits.host") == 10);
  CHECK(b.guest("vm_exits") == 10);
  CHECK(b.guest("hypervisor_ps") == Approx(10 * ps_of(k.vm_exit + k.shadow_idt + k.host_handler)));
  CHECK(b.tb.stats.value("apic.host_hypervisor_ps") == Approx(10 * ps_of(k.host_handler)));
  // The guest's own interrupts still take no exit.
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("vm_exits") == 10);
}

TEST_CASE("a host timer tick exits a guest under posted delivery too, without the shadow IDT", "[model]") {
  const InterruptCosts k;
  HostInterruptConfig c = config(InterruptDelivery::Posted, true);
  c.cpus = 2;
  c.host_timer_hz = 100000;
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(105, SC_US));
  b.apic.settle(sc_core::sc_time_stamp());
  CHECK(b.guest("exits.host") == 10);
  CHECK(b.guest("hypervisor_ps") == Approx(10 * ps_of(k.vm_exit + k.host_handler)));
}

TEST_CASE("a CPU posted interrupt from the host's CPU does not exit the running target", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Remapped, true);
  c.host_affinity = true;  // every IRTE names CPU 0, which forwards
  HostBench b(c);
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("forwarded") == 1);
  CHECK(b.guest("cpu_posted") == 1);
  CHECK(b.guest("vm_exits") == 0);
  const InterruptCosts k;
  // The host's handler on CPU 0, the notification, the PIR processed in guest mode on CPU 1.
  const sc_time path = k.host_handler + k.notification + k.posted_delivery;
  CHECK(b.p50() >= ps_of(path) * 0.97);
  CHECK(b.p50() <= ps_of(path + sc_time(200, SC_NS)) * 1.03);
  CHECK(b.guest("hypervisor_ps") == Approx(ps_of(k.host_handler + k.notification)));
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == 0);  // the PIR was drained
}

TEST_CASE("without APICv the host's CPU kicks the target, which exits", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Remapped, false);
  c.host_affinity = true;
  HostBench b(c);
  b.route();
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("cpu_posted") == 0);
  CHECK(b.guest("exits.arrival") == 1);
  CHECK(b.guest("exits.eoi") == 1);
}

TEST_CASE("ELI: an interrupt of a preempted vCPU exits the guest running on its core", "[model]") {
  // vm0 and vm1 share CPU 1, 50 us each: vm1 runs while vm0 is preempted.
  HostInterruptConfig c = config(InterruptDelivery::Eli, false, 2);
  c.x2apic = true;
  c.guests[0].vcpus[0].schedule = schedule(50, 50);
  c.guests[1].vcpus[0] = VcpuSpec{1, schedule(50, 50, false, 50), {}};
  HostBench b(c);
  b.route(2);
  sc_core::sc_start(sc_time(60, SC_US));  // vm1 runs on CPU 1
  // vm1's own interrupt, while it runs, is exitless.
  CHECK(b.interrupt(1) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen", 1) == 1);
  CHECK(b.guest("vm_exits", 1) == 0);
  CHECK(b.interrupt(0) == tlm::TLM_OK_RESPONSE);
  const InterruptCosts k;
  // vm0's vector is not present in vm1's shadow IDT: vm1 exits; the host queues vm0's interrupt.
  CHECK(b.guest("exits.host", 1) == 1);
  CHECK(b.guest("hypervisor_ps", 1) == Approx(ps_of(k.vm_exit + k.shadow_idt)));
  CHECK(b.guest("vm_exits", 0) == 0);
  CHECK(b.guest("seen", 0) == 0);
  sc_core::sc_start(sc_time(50, SC_US));  // vm0 back at 100 us
  CHECK(b.guest("seen", 0) == 1);
  // Injected by the host: ELI's injection mode traps the EOI.
  CHECK(b.guest("exits.eoi", 0) == 1);
  CHECK(b.p50(0) >= 39.0e6);
}

TEST_CASE("posted: an interrupt of a preempted vCPU does not disturb the guest on its core", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Posted, true, 2);
  c.guests[0].vcpus[0].schedule = schedule(50, 50);
  c.guests[1].vcpus[0] = VcpuSpec{1, schedule(50, 50, false, 50), {}};
  HostBench b(c);
  b.route(2);
  sc_core::sc_start(sc_time(60, SC_US));
  CHECK(b.interrupt(0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications_suppressed", 0) == 1);
  CHECK(b.guest("vm_exits", 1) == 0);
  sc_core::sc_start(sc_time(50, SC_US));
  CHECK(b.guest("seen", 0) == 1);
  CHECK(b.guest("vm_exits", 0) == 0);
}

TEST_CASE("a migrated vCPU: posted interrupts follow it through NDST", "[model]") {
  // vm0 runs 40 us on CPU 1, is preempted 10 us, then runs on CPU 3.
  HostInterruptConfig c = config(InterruptDelivery::Posted, true);
  c.x2apic = true;  // NDST holds the whole APIC ID
  c.guests[0].vcpus[0] = VcpuSpec{1, schedule(40, 10), {3}};
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(60, SC_US));
  CHECK(b.apic.cpu_of(0, 0) == 3);
  const uint64_t ctl = b.tb.mem.storage().read64(b.apic.descriptor(0, 0) + 32);
  CHECK(get_bits(ctl, irte::kPidNdstHi, irte::kPidNdstLo) == 3);
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("notifications") == 1);
  CHECK(b.guest("vm_exits") == 0);
}

TEST_CASE("a migrated vCPU under remapped delivery is kicked from its old CPU", "[model]") {
  HostInterruptConfig c = config(InterruptDelivery::Remapped, false);
  c.guests[0].vcpus[0] = VcpuSpec{1, schedule(40, 10), {3}};
  HostBench b(c);
  b.route();
  sc_core::sc_start(sc_time(60, SC_US));
  CHECK(b.apic.cpu_of(0, 0) == 3);
  CHECK(b.interrupt() == tlm::TLM_OK_RESPONSE);  // the IRTE still names CPU 1
  CHECK(b.guest("forwarded") == 1);
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("exits.arrival") == 1);
  CHECK(b.guest("exits.eoi") == 1);
}

TEST_CASE("the interrupt model's configuration is checked", "[model]") {
  HostInterruptConfig posted = config(InterruptDelivery::Posted, false);
  CHECK_THAT(validate(posted), Catch::StartsWith("apicv:"));
  HostInterruptConfig eli = config(InterruptDelivery::Eli, true);
  CHECK_THAT(validate(eli), Catch::StartsWith("apicv:"));
  HostInterruptConfig shared = config(InterruptDelivery::Remapped, false, 2);
  shared.guests[1].vcpus[0].cpu = 1;
  CHECK_THAT(validate(shared), Catch::StartsWith("guests:") && Catch::Contains("always runs"));
  shared.guests[0].vcpus[0].schedule = schedule(50, 50);
  shared.guests[1].vcpus[0].schedule = schedule(50, 50, false, 30);
  CHECK_THAT(validate(shared), Catch::Contains("overlap"));
  shared.guests[1].vcpus[0].schedule = schedule(50, 50, false, 50);
  CHECK(validate(shared).empty());
  shared.guests[1].vcpus[0].schedule = schedule(40, 40, false, 50);
  CHECK_THAT(validate(shared), Catch::Contains("different periods"));
  shared.guests[1].vcpus[0].schedule = schedule(50, 50, true, 50);
  CHECK_THAT(validate(shared), Catch::Contains("halts"));
  HostInterruptConfig moving = config(InterruptDelivery::Posted, true);
  moving.guests[0].vcpus[0].moves = {2};
  CHECK_THAT(validate(moving), Catch::Contains("does not migrate"));
  moving.guests[0].vcpus[0].moves = {9};
  CHECK_THAT(validate(moving), Catch::Contains("beyond cpus"));
}
