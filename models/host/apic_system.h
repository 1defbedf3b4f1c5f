// The host's interrupt model: physical CPUs with local APICs, guests whose vCPUs are scheduled on
// them, host timer interrupts, and the ways a device interrupt reaches a guest, each step with a
// configurable cost. docs/interrupts.md has the rules in full; in short:
//
//  - remapped: the IRTE names a host vector on the vCPU's CPU (or, with affinity host-cpu, on the
//    host's CPU). An interrupt that finds its vCPU running there is a VM exit ("arrival"), the
//    host's handler and an injection at re-entry; without APIC virtualization (apicv) the guest's
//    EOI write traps too ("eoi"). Anywhere else the host takes it and forwards it: with apicv as a
//    CPU posted interrupt (the vCPU's posted-interrupt descriptor and a notification IPI, no exit
//    on a running target), without apicv by a kick IPI that exits the target.
//  - eli: exitless interrupts. Remapped IRTEs as above, but the running guest has a shadow IDT in
//    which only its own assigned vectors are present: its interrupts arriving on its core are
//    delivered in guest mode, and with x2APIC its EOI goes to the physical APIC through the MSR
//    bitmap. Every other interrupt arriving there (the host's timer, another guest's interrupt)
//    hits a non-present entry: an exit ("host") and the shadow-IDT handling. An interrupt whose
//    vCPU is not on the core it arrives at is the host's to inject, and injection mode traps EOI.
//  - posted: the IOMMU writes the vCPU's posted-interrupt descriptor (needs apicv). A running
//    vCPU takes the notification without an exit; a preempted one has SN set and its interrupts
//    wait in the PIR; a halted one gets the wake-up vector, which the host handles.
//
// Exits are counted per guest by cause (arrival, eoi, host, wakeup: a halted vCPU woken by its
// interrupt) and every step's cost is charged as hypervisor time to the guest it serves (the
// exit to the guest that was interrupted, the handling to the guest whose interrupt it is).
// Each CPU's hypervisor work is serialised: work that finds the CPU busy starts when it is free.
//
// The host keeps each descriptor's SN, NV and NDST in step with the vCPU's state, as a
// hypervisor does at every schedule change. vCPU i of a guest follows a periodic schedule: it runs
// for `run`, is descheduled (preempted or halted) for `off`, and so on; off = 0 means it always
// runs. A vCPU with `moves` resumes on the next CPU of [cpu, moves...] at every schedule-in; the
// IRTEs keep the CPU they were set up with (posted descriptors follow through NDST). Interrupts
// with vectors nobody routed (the IOMMU's fault events) go out of `host_out`.
//
// Loosely timed: arrivals are handled at their annotated time; schedule changes happen in threads
// at kernel time, so within one quantum the two may be seen slightly out of order. Timer ticks are
// applied when their CPU next does something (and by settle() at the end).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/common/vcd_writer.h"

namespace iommu_sim {

struct VcpuSchedule {
  sc_core::sc_time run = sc_core::SC_ZERO_TIME;  // zero with off zero: always running
  sc_core::sc_time off = sc_core::SC_ZERO_TIME;
  bool halted = false;  // while off: halted (waits for an interrupt) or preempted (runnable)
  // Where in its run-then-off cycle the vCPU is at time zero: below `run` it starts running,
  // else descheduled (two vCPUs time-share a CPU with phases run apart).
  sc_core::sc_time phase = sc_core::SC_ZERO_TIME;
};

struct VcpuSpec {
  unsigned cpu = 0;  // the physical CPU it starts on (its APIC ID)
  VcpuSchedule schedule;
  std::vector<unsigned> moves;  // migration: at each schedule-in the next of [cpu, moves...]
};

struct GuestSpec {
  std::string name;
  std::vector<VcpuSpec> vcpus;
};

enum class InterruptDelivery { Remapped, Eli, Posted };
const char* to_string(InterruptDelivery d);
bool parse_interrupt_delivery(const std::string& text, InterruptDelivery& out);

// Defaults are round figures of the order measured on recent x86 servers (docs/interrupts.md).
struct InterruptCosts {
  sc_core::sc_time vm_exit{700, sc_core::SC_NS};          // VM exit and re-entry (both world switches)
  sc_core::sc_time host_handler{300, sc_core::SC_NS};     // the host's handler of an interrupt it takes
  sc_core::sc_time injection{300, sc_core::SC_NS};        // virtual interrupt injected at VM entry
  sc_core::sc_time eoi_emulation{200, sc_core::SC_NS};    // APIC emulation of a trapped EOI write
  sc_core::sc_time shadow_idt{400, sc_core::SC_NS};       // ELI: a host interrupt's #NP exit re-raised
  sc_core::sc_time notification{200, sc_core::SC_NS};     // the host sends a posted-interrupt IPI
  sc_core::sc_time posted_delivery{100, sc_core::SC_NS};  // the CPU processes the PIR in guest mode
  sc_core::sc_time eli_delivery{50, sc_core::SC_NS};      // ELI: through the shadow IDT in guest mode
  sc_core::sc_time wakeup{5000, sc_core::SC_NS};          // wake-up path and schedule-in of a halted vCPU
};

struct HostInterruptConfig {
  unsigned cpus = 4;
  bool x2apic = false;  // x2APIC mode: 32-bit destinations, and EOI is an MSR (ELI's exitless EOI)
  InterruptDelivery delivery = InterruptDelivery::Remapped;
  bool apicv = false;   // APIC virtualization with posted-interrupt processing (posted needs it)
  bool host_affinity = false;  // remapped/eli: IRTEs name host_cpu instead of the vCPU's CPU
  unsigned host_cpu = 0;
  double host_timer_hz = 0;  // the host's timer interrupt on every CPU; 0: none
  uint8_t notification_vector = 0xF2;
  uint8_t wakeup_vector = 0xF1;
  InterruptCosts costs;
  std::vector<GuestSpec> guests;
};

// "" when valid, else a message naming the field (schedules that share a CPU must not overlap).
std::string validate(const HostInterruptConfig& config);

class ApicSystem : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<ApicSystem> socket;  // interrupt messages in
  tlm_utils::simple_initiator_socket<ApicSystem> host_out;        // the rest, to the host sink

  // Posted-interrupt descriptors (with apicv) are placed in `memory` at pages from `allocate_page`.
  // An invalid configuration is an SC_ERROR of type msg::kConfig (report_config_error).
  ApicSystem(sc_core::sc_module_name name, const HostInterruptConfig& config, SparseMemory& memory,
             std::function<uint64_t()> allocate_page, StatsRegistry& stats);

  const HostInterruptConfig& config() const { return m_config; }

  // ---- Host software: where a device interrupt for (guest, vcpu, guest vector) goes ----
  // Remapped and ELI delivery: a host vector on the vCPU's CPU (or the host's CPU with host
  // affinity), routed to the vCPU. The IRTE takes the vector and the CPU (its APIC ID).
  struct HostRoute {
    uint8_t vector = 0;
    uint32_t cpu = 0;
  };
  HostRoute route_remapped(unsigned guest, unsigned vcpu, uint8_t guest_vector);
  // Posted delivery: the vCPU's descriptor address (the IRTE carries the guest vector).
  uint64_t descriptor(unsigned guest, unsigned vcpu) const;
  // The CPU the vCPU is on now.
  unsigned cpu_of(unsigned guest, unsigned vcpu) const;

  // Measurement probe from the IOMMU: a posted interrupt was written into `pda` at `time`.
  void posted_requested(uint64_t pda, uint8_t vector, bool notified, const sc_core::sc_time& time);

  // The host timer's ticks are applied lazily, when something happens on their CPU (so that
  // they never keep the simulation alive on their own): call this with the end of the run before
  // reading the statistics, to account the ticks before `until`.
  void settle(const sc_core::sc_time& until);

  void trace_to(VcdWriter& vcd);

  // Figures per guest (also registered as statistics under <name>.guest.<guest name>.*).
  struct GuestStats {
    Counter* requested = nullptr;
    Counter* remapped = nullptr;
    Counter* posted = nullptr;
    Counter* cpu_posted = nullptr;  // posted by the host through the CPU (apicv)
    Counter* forwarded = nullptr;   // arrived on a CPU where the vCPU was not running
    Counter* notifications = nullptr;
    Counter* suppressed = nullptr;
    Counter* vm_exits = nullptr;    // every exit the guest's vCPUs took, all causes
    Counter* exits_arrival = nullptr;
    Counter* exits_eoi = nullptr;
    Counter* exits_host = nullptr;
    Counter* exits_wakeup = nullptr;
    Counter* hypervisor_ps = nullptr;  // host CPU time spent on this guest's behalf
    Counter* seen = nullptr;
    Histogram* latency = nullptr;
  };
  const GuestStats& guest_stats(unsigned guest) const { return m_guest_stats.at(guest); }

 private:
  enum class State : uint8_t { Running = 0, Preempted = 1, Halted = 2 };
  enum class Cause : uint8_t { Arrival, Eoi, Host, Wakeup };
  struct Vcpu {
    unsigned guest = 0, index = 0;
    unsigned cpu = 0;              // where it is (or last was)
    std::vector<unsigned> cycle;   // CPUs it resumes on in turn
    size_t next_in_cycle = 0;
    VcpuSchedule schedule;
    State state = State::Running;
    uint64_t pda = 0;
    // Interrupts the host queued for injection at the next VM entry: request times.
    std::vector<sc_core::sc_time> injected;
    // Posted interrupts in the PIR not yet seen, per vector: request times.
    std::map<uint8_t, std::vector<sc_core::sc_time>> posted;
    unsigned pending = 0;
    sc_core::sc_event wake;
    bool woken = false;
    VcdWriter::SignalId sig_pending = 0, sig_state = 0;
  };
  // A physical CPU: who runs there and until when its hypervisor work keeps it busy.
  struct Cpu {
    Vcpu* running = nullptr;
    sc_core::sc_time busy_until = sc_core::SC_ZERO_TIME;
    sc_core::sc_time next_tick = sc_core::SC_ZERO_TIME;  // of the host timer
  };
  struct Route {
    unsigned vcpu;  // index into m_vcpus
    uint8_t guest_vector;
  };

  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void vcpu_thread(unsigned v);
  // Applies the host timer's ticks on `cpu` up to `until` (or only before it): each an exit of
  // the guest running there.
  void timer_until(unsigned cpu, const sc_core::sc_time& until, bool inclusive = true);
  void set_state(Vcpu& c, State s, const sc_core::sc_time& at);

  // Hypervisor work of `cost` on `cpu` from `at` (or when the CPU is free), charged to `guest`
  // (-1: the host's own). Returns when it ends.
  sc_core::sc_time hypervisor(unsigned cpu, const sc_core::sc_time& at, const sc_core::sc_time& cost,
                              int guest);
  // When `cpu` can take new work arriving at `at` (its timer ticks up to then applied).
  sc_core::sc_time free_at(unsigned cpu, const sc_core::sc_time& at);
  void count_exit(const Vcpu& c, Cause cause);
  // An interrupt that is not `r`'s arrives while r runs: its exit (and, under ELI, the shadow
  // IDT's #NP handling). Returns when the host can handle the interrupt.
  sc_core::sc_time foreign_exit(Vcpu& r, const sc_core::sc_time& at);
  // Whether the guest's EOI write traps for an interrupt delivered directly (ELI in guest mode)
  // or injected by the host.
  bool eoi_traps(bool direct) const;
  // The guest sees one interrupt at `at`; its EOI exits afterwards when the mode traps it.
  void seen(Vcpu& c, const sc_core::sc_time& request, const sc_core::sc_time& at, bool direct);
  // A routed interrupt of vCPU t (guest vector gv) arriving on `cpu`.
  void guest_interrupt(Vcpu& t, uint8_t gv, unsigned cpu, const sc_core::sc_time& request,
                       const sc_core::sc_time& at);
  // The host, having taken t's interrupt on `from` by `at`, gets it to t.
  void forward(Vcpu& t, uint8_t gv, unsigned from, const sc_core::sc_time& request,
               const sc_core::sc_time& at);
  // The host posts gv into t's descriptor (CPU posted interrupt); true when a notification is due.
  bool host_post(Vcpu& t, uint8_t gv, const sc_core::sc_time& request);
  void wake(Vcpu& t, const sc_core::sc_time& at);
  // Everything pending for c (injection queue, PIR) at its VM entry on its CPU at `at`.
  void deliver_pending(Vcpu& c, const sc_core::sc_time& at);
  void drain_pir(Vcpu& c, const sc_core::sc_time& at);
  void pending_changed(Vcpu& c, int delta, const sc_core::sc_time& at);
  Vcpu& vcpu_of(unsigned guest, unsigned vcpu) const;
  uint64_t ps(const sc_core::sc_time& t) const;

  HostInterruptConfig m_config;
  SparseMemory& m_memory;
  std::vector<std::unique_ptr<Vcpu>> m_vcpus;
  std::vector<std::vector<unsigned>> m_guest_vcpus;  // guest -> indices into m_vcpus
  std::vector<Cpu> m_cpus;
  sc_core::sc_time m_timer_period = sc_core::SC_ZERO_TIME;  // zero: no host timer
  std::map<uint64_t, unsigned> m_by_pda;
  std::map<uint32_t, Route> m_routes;                 // (cpu << 8 | vector) -> route
  std::vector<unsigned> m_next_vector;                // per CPU: next free host vector
  std::vector<GuestStats> m_guest_stats;
  Counter& m_received;
  Counter& m_host_interrupts;
  Counter& m_spurious;
  Counter& m_timer_ticks;
  Counter& m_timer_exits;
  Counter& m_host_hypervisor_ps;  // the host's own interrupts handled outside any guest
  VcdWriter* m_vcd = nullptr;
};

}  // namespace iommu_sim
