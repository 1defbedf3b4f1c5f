// The host's interrupt model: physical CPUs with local APICs, guests whose vCPUs are scheduled on
// them, and the delivery paths of device interrupts into guests, each with a configurable cost.
//
//  - Remapped (or compatibility-format) interrupt whose vector the host routed to a guest vCPU:
//    the CPU takes it in host mode. If it was running a guest that is a VM exit; the host then
//    injects the interrupt into the target vCPU (at once if it runs there, at its next schedule-in
//    if preempted, after a wake-up if halted).
//  - Posted interrupt: the IOMMU wrote the vCPU's posted-interrupt descriptor. A notification
//    (vector `notification_vector`) reaching the CPU that runs the vCPU is processed without an
//    exit; a notification for a halted vCPU uses `wakeup_vector` and goes to the wake-up path;
//    a preempted vCPU has SN set, so the interrupt waits in the PIR until it runs again.
//
// The host keeps each descriptor's SN, NV and NDST in step with the vCPU's state, as a
// hypervisor does at every schedule change. vCPU i of a guest follows a periodic schedule: it runs
// for `run`, is descheduled (preempted or halted) for `off`, and so on; off = 0 means it always
// runs. Interrupts with vectors nobody routed (the IOMMU's fault events) go out of `host_out`.
//
// Loosely timed: arrivals are handled at their annotated time; schedule changes happen in
// per-vCPU threads at kernel time, so within one quantum the two may be seen slightly out of order.
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

#include "common/sparse_memory.h"
#include "common/stats.h"
#include "common/vcd_writer.h"

namespace iommu_sim {

struct VcpuSchedule {
  sc_core::sc_time run = sc_core::SC_ZERO_TIME;  // zero with off zero: always running
  sc_core::sc_time off = sc_core::SC_ZERO_TIME;
  bool halted = false;  // while off: halted (waits for an interrupt) or preempted (runnable)
  sc_core::sc_time phase = sc_core::SC_ZERO_TIME;  // start this far into the first run period
};

struct VcpuSpec {
  unsigned cpu = 0;  // the physical CPU it is pinned to (its APIC ID)
  VcpuSchedule schedule;
};

struct GuestSpec {
  std::string name;
  std::vector<VcpuSpec> vcpus;
};

// Defaults are round figures of the order measured on recent x86 servers.
struct InterruptCosts {
  sc_core::sc_time vm_exit{1000, sc_core::SC_NS};       // exit, host handler, re-entry
  sc_core::sc_time injection{300, sc_core::SC_NS};      // virtual interrupt injected at entry
  sc_core::sc_time posted_delivery{100, sc_core::SC_NS};  // PIR processed in guest mode
  sc_core::sc_time wakeup{5000, sc_core::SC_NS};        // wake-up handler and schedule-in
};

struct HostInterruptConfig {
  unsigned cpus = 4;
  bool x2apic = false;
  std::string delivery = "remapped";  // remapped | posted: how guest interrupts are set up
  uint8_t notification_vector = 0xF2;
  uint8_t wakeup_vector = 0xF1;
  InterruptCosts costs;
  std::vector<GuestSpec> guests;
};

// "" when valid, else a message naming the field.
std::string validate(const HostInterruptConfig& config);

class ApicSystem : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<ApicSystem> socket;  // interrupt messages in
  tlm_utils::simple_initiator_socket<ApicSystem> host_out;        // the rest, to the host sink

  // Posted-interrupt descriptors are placed in `memory` at pages from `allocate_page`.
  ApicSystem(sc_core::sc_module_name name, const HostInterruptConfig& config, SparseMemory& memory,
             std::function<uint64_t()> allocate_page, StatsRegistry& stats);

  const HostInterruptConfig& config() const { return m_config; }

  // ---- Host software: where a device interrupt for (guest, vcpu, guest vector) goes ----
  // Remapped delivery: a host vector on the vCPU's CPU, routed to the vCPU. Returns the vector;
  // the destination is the CPU's APIC ID (cpu index).
  uint8_t route_remapped(unsigned guest, unsigned vcpu, uint8_t guest_vector);
  // Posted delivery: the vCPU's descriptor address (the IRTE carries the guest vector).
  uint64_t descriptor(unsigned guest, unsigned vcpu) const;
  unsigned cpu_of(unsigned guest, unsigned vcpu) const;

  // Measurement probe from the IOMMU: a posted interrupt was written into `pda` at `time`.
  void posted_requested(uint64_t pda, uint8_t vector, bool notified, const sc_core::sc_time& time);

  void trace_to(VcdWriter& vcd);

  // Figures per guest (also registered as statistics under <name>.guest.<guest name>.*).
  struct GuestStats {
    Counter* requested = nullptr;
    Counter* remapped = nullptr;
    Counter* posted = nullptr;
    Counter* notifications = nullptr;
    Counter* suppressed = nullptr;
    Counter* vm_exits = nullptr;
    Counter* wakeups = nullptr;
    Counter* seen = nullptr;
    Histogram* latency = nullptr;
  };
  const GuestStats& guest_stats(unsigned guest) const { return m_guest_stats.at(guest); }

 private:
  enum class State : uint8_t { Running = 0, Preempted = 1, Halted = 2 };
  struct Vcpu {
    unsigned guest = 0, index = 0, cpu = 0;
    VcpuSchedule schedule;
    State state = State::Running;
    uint64_t pda = 0;
    // Interrupts the host queued for injection (remapped path): request times.
    std::vector<sc_core::sc_time> injected;
    // Posted interrupts in the PIR not yet seen, per vector: request times.
    std::map<uint8_t, std::vector<sc_core::sc_time>> posted;
    unsigned pending = 0;
    sc_core::sc_event wake;
    bool woken = false;
    VcdWriter::SignalId sig_pending = 0, sig_state = 0;
  };
  struct Route {
    unsigned vcpu;  // index into m_vcpus
    uint8_t guest_vector;
  };

  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void vcpu_thread(unsigned v);
  void set_state(Vcpu& c, State s, const sc_core::sc_time& at);
  // The guest sees everything pending for c at `at` (PIR and injected queue drained).
  void deliver_pending(Vcpu& c, const sc_core::sc_time& at);
  void drain_pir(Vcpu& c, const sc_core::sc_time& at);
  void seen(Vcpu& c, const sc_core::sc_time& request, const sc_core::sc_time& at);
  void pending_changed(Vcpu& c, int delta, const sc_core::sc_time& at);
  Vcpu* running_on(unsigned cpu);
  uint64_t ps(const sc_core::sc_time& t) const;

  HostInterruptConfig m_config;
  SparseMemory& m_memory;
  std::vector<std::unique_ptr<Vcpu>> m_vcpus;
  std::vector<std::vector<unsigned>> m_guest_vcpus;  // guest -> indices into m_vcpus
  std::map<uint64_t, unsigned> m_by_pda;
  std::map<uint32_t, Route> m_routes;                 // (cpu << 8 | vector) -> route
  std::vector<unsigned> m_next_vector;                // per CPU: next free host vector
  std::vector<GuestStats> m_guest_stats;
  Counter& m_received;
  Counter& m_host_interrupts;
  Counter& m_spurious;
  VcdWriter* m_vcd = nullptr;
};

}  // namespace iommu_sim
