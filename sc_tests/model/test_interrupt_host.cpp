// Host interrupt model: the IOMMU's interrupt socket into the ApicSystem; remapped delivery
// takes a VM exit, posted delivery to a running vCPU does not, a halted vCPU is woken, a
// preempted one sees the interrupt when it runs again.
#include <catch2/catch.hpp>

#include "host/apic_system.h"
#include "test_interrupt_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_US;

namespace {
const uint16_t kDev = make_requester_id(1, 0, 1);

// The IOMMU's interrupt messages go to an ApicSystem; unrouted ones reach the capture.
struct HostBench {
  InterruptTb tb;
  ApicSystem apic;
  explicit HostBench(const HostInterruptConfig& c)
      : tb(interrupt_config(true, false), "tb", false),
        apic("apic", c, tb.mem.storage(), [this] { return tb.tables.allocate_page(); }, tb.stats) {
    tb.iommu.interrupt.bind(apic.socket);
    apic.host_out.bind(tb.irq);
    tb.iommu.interrupt_remapper().on_posted = [this](const InterruptRemapper::PostedRecord& r) {
      apic.posted_requested(r.pda, r.vector, r.notified, r.time);
    };
  }
  double guest(const std::string& leaf) { return tb.stats.value("apic.guest.vm0." + leaf); }
  uint64_t p50() { return tb.stats.find_histogram("apic.guest.vm0.latency")->quantile(0.5); }
  // IRTE 0 for the guest's vCPU 0, guest vector 0x31, remapped or posted as configured.
  void route(InterruptTableBuilder& irt) {
    if (apic.config().delivery == "posted") {
      irt.set_posted(0, 0x31, apic.descriptor(0, 0), false, kDev, irte::SourceValidation::RequesterId);
    } else {
      irt.set_remapped(0, apic.route_remapped(0, 0, 0x31), apic.cpu_of(0, 0), kDev,
                       irte::SourceValidation::RequesterId);
    }
  }
};

HostInterruptConfig one_guest(const std::string& delivery, VcpuSchedule schedule = {}) {
  HostInterruptConfig c;
  c.cpus = 2;
  c.delivery = delivery;
  GuestSpec g;
  g.name = "vm0";
  g.vcpus.push_back(VcpuSpec{1, schedule});
  c.guests.push_back(g);
  return c;
}
}  // namespace

TEST_CASE("a remapped interrupt for a running vCPU costs a VM exit and an injection", "[model]") {
  HostBench b(one_guest("remapped"));
  b.route(b.tb.enable(16));
  const double exits_before = b.guest("vm_exits");
  CHECK(b.tb.remappable(kDev, 0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("remapped") == 1);
  CHECK(b.guest("vm_exits") == exits_before + 1);
  CHECK(b.guest("seen") == 1);
  const InterruptCosts k;
  // Latency: the IOMMU's remapping (IEC miss, one IRTE read) plus exit and injection.
  CHECK(b.p50() >= (k.vm_exit + k.injection).to_seconds() * 1e12 * 0.97);
  CHECK(b.p50() <= (k.vm_exit + k.injection + sc_time(200, SC_NS)).to_seconds() * 1e12 * 1.03);
  // A blocked request reaches neither the guest nor its counters.
  CHECK(b.tb.remappable(kDev, 9) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(b.guest("requested") == 1);
  // An unrouted vector is the host's own: it goes on to the host sink.
  b.tb.irt->set_remapped(1, 0x99, 0, kDev);
  CHECK(b.tb.remappable(kDev, 1) == tlm::TLM_OK_RESPONSE);
  CHECK(b.tb.stats.value("apic.host_interrupts") == 1);
  CHECK(b.tb.irqs.size() == 1);
}

TEST_CASE("a posted interrupt for a running vCPU is taken without an exit", "[model]") {
  HostBench b(one_guest("posted"));
  b.route(b.tb.enable(16));
  CHECK(b.tb.remappable(kDev, 0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("posted") == 1);
  CHECK(b.guest("notifications") == 1);
  CHECK(b.guest("vm_exits") == 0);
  CHECK(b.guest("seen") == 1);
  const InterruptCosts k;
  CHECK(b.p50() < (k.vm_exit).to_seconds() * 1e12);
  // The CPU consumed the PIR and cleared ON: the next one notifies again.
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == 0);
  CHECK(b.tb.remappable(kDev, 0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications") == 2);
  CHECK(b.guest("seen") == 2);
}

TEST_CASE("a posted interrupt for a preempted vCPU waits in the PIR until it runs", "[model]") {
  VcpuSchedule s;
  s.run = sc_time(10, SC_US);
  s.off = sc_time(40, SC_US);
  HostBench b(one_guest("posted", s));
  b.route(b.tb.enable(16));
  sc_core::sc_start(sc_time(20, SC_US));  // descheduled at 10 us, back at 50 us
  CHECK(get_bit(b.tb.mem.storage().read64(b.apic.descriptor(0, 0) + 32), irte::kPidSn));
  CHECK(b.tb.remappable(kDev, 0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications_suppressed") == 1);
  CHECK(b.guest("seen") == 0);
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == (1ULL << 0x31));
  sc_core::sc_start(sc_time(40, SC_US));
  CHECK(b.guest("seen") == 1);
  CHECK(b.guest("vm_exits") == 0);
  // Requested at 20 us, seen at the schedule-in at 50 us plus the injection.
  CHECK(b.p50() >= 29.0e6);
  CHECK(b.p50() <= 32.0e6);
  CHECK(b.tb.mem.storage().read64(b.apic.descriptor(0, 0)) == 0);
}

TEST_CASE("a posted interrupt for a halted vCPU goes to the wake up path", "[model]") {
  VcpuSchedule s;
  s.run = sc_time(10, SC_US);
  s.off = sc_time(1000, SC_US);
  s.halted = true;
  HostBench b(one_guest("posted", s));
  b.route(b.tb.enable(16));
  sc_core::sc_start(sc_time(20, SC_US));
  const uint64_t ctl = b.tb.mem.storage().read64(b.apic.descriptor(0, 0) + 32);
  CHECK(get_bits(ctl, irte::kPidNvHi, irte::kPidNvLo) == b.apic.config().wakeup_vector);
  CHECK(b.tb.remappable(kDev, 0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("notifications") == 1);
  CHECK(b.guest("wakeups") == 1);
  sc_core::sc_start(sc_time(20, SC_US));
  CHECK(b.guest("seen") == 1);
  const InterruptCosts k;
  CHECK(b.p50() >= (k.wakeup + k.injection).to_seconds() * 1e12 * 0.97);
  CHECK(b.p50() < 10.0e6);  // long before the halt period would have ended
}

TEST_CASE("a remapped interrupt for a halted vCPU wakes it", "[model]") {
  VcpuSchedule s;
  s.run = sc_time(10, SC_US);
  s.off = sc_time(1000, SC_US);
  s.halted = true;
  HostBench b(one_guest("remapped", s));
  b.route(b.tb.enable(16));
  sc_core::sc_start(sc_time(20, SC_US));
  CHECK(b.tb.remappable(kDev, 0) == tlm::TLM_OK_RESPONSE);
  CHECK(b.guest("wakeups") == 1);
  CHECK(b.guest("vm_exits") == 0);  // the CPU was idle: no guest to exit
  sc_core::sc_start(sc_time(20, SC_US));
  CHECK(b.guest("seen") == 1);
}
