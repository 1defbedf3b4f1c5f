#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "iommu_sim/host/apic_system.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "iommu_sim/common/messages.h"
#include "iommu_sim/iommu/irte.h"
#include "iommu_sim/iommu/irte_message.h"

namespace iommu_sim {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

const char* to_string(InterruptDelivery d) {
  switch (d) {
    case InterruptDelivery::Remapped: return "remapped";
    case InterruptDelivery::Eli: return "eli";
    case InterruptDelivery::Posted: return "posted";
  }
  return "?";
}

bool parse_interrupt_delivery(const std::string& text, InterruptDelivery& out) {
  for (InterruptDelivery d : {InterruptDelivery::Remapped, InterruptDelivery::Eli, InterruptDelivery::Posted}) {
    if (text == to_string(d)) {
      out = d;
      return true;
    }
  }
  return false;
}

namespace {

// One vCPU's claim on a CPU: it runs there in [start, start + run) of every period (ps).
struct Occupant {
  std::string who;
  bool always = false, halted = false;
  uint64_t period = 0, start = 0, run = 0;
};

std::string guest_name(const HostInterruptConfig& c, size_t g) {
  return c.guests[g].name.empty() ? "guest " + std::to_string(g) : "'" + c.guests[g].name + "'";
}

std::string vcpu_name(const HostInterruptConfig& c, size_t g, size_t v) {
  return guest_name(c, g) + " vCPU " + std::to_string(v);
}

// Two vCPUs may share a CPU only when neither always runs nor halts (a halted vCPU woken early
// shifts its schedule), their periods are equal and their run windows do not overlap. A vCPU
// that migrates claims its window on every CPU it visits.
std::string check_cpu_sharing(const HostInterruptConfig& c) {
  std::vector<std::vector<Occupant>> on(c.cpus);
  for (size_t g = 0; g < c.guests.size(); ++g) {
    for (size_t v = 0; v < c.guests[g].vcpus.size(); ++v) {
      const VcpuSpec& spec = c.guests[g].vcpus[v];
      const VcpuSchedule& s = spec.schedule;
      Occupant o;
      o.who = vcpu_name(c, g, v);
      o.always = s.off == SC_ZERO_TIME;
      o.halted = s.halted;
      o.run = s.run.value();
      o.period = (s.run + s.off).value();
      o.start = o.period ? (o.period - s.phase.value() % o.period) % o.period : 0;
      std::vector<unsigned> cpus = {spec.cpu};
      for (unsigned m : spec.moves)
        if (std::find(cpus.begin(), cpus.end(), m) == cpus.end()) cpus.push_back(m);
      for (unsigned cpu : cpus) on[cpu].push_back(o);
    }
  }
  for (unsigned cpu = 0; cpu < c.cpus; ++cpu) {
    for (size_t i = 0; i < on[cpu].size(); ++i) {
      for (size_t j = i + 1; j < on[cpu].size(); ++j) {
        const Occupant& a = on[cpu][i];
        const Occupant& b = on[cpu][j];
        const std::string both = a.who + " and " + b.who + " share cpu " + std::to_string(cpu);
        if (a.always || b.always) return "guests: " + both + " but one of them always runs";
        if (a.halted || b.halted) return "guests: " + both + " but one of them halts (woken early, it would overlap)";
        if (a.period != b.period) return "guests: " + both + " with different periods (run_us + off)";
        const uint64_t ab = (b.start + a.period - a.start) % a.period;  // b's start after a's
        const uint64_t ba = (a.start + a.period - b.start) % a.period;
        if (ab < a.run || ba < b.run) return "guests: " + both + " and their run windows overlap (see phase_us)";
      }
    }
  }
  return "";
}

}  // namespace

std::string validate(const HostInterruptConfig& c) {
  if (c.cpus < 1 || c.cpus > (c.x2apic ? 4096u : 255u))
    return "cpus: must be 1..255 (xAPIC) or 1..4096 (x2APIC)";
  if (c.delivery == InterruptDelivery::Posted && !c.apicv)
    return "apicv: posted delivery needs APIC virtualization (the CPU's posted-interrupt processing)";
  if (c.delivery == InterruptDelivery::Eli && c.apicv)
    return "apicv: eli gives the guest the physical APIC's EOI, which APIC virtualization would take "
           "over: eli needs apicv: false";
  if (c.host_cpu >= c.cpus) return "host_cpu: " + std::to_string(c.host_cpu) + " is beyond cpus";
  if (!(c.host_timer_hz >= 0 && c.host_timer_hz <= 1e6)) return "host_timer_hz: must be 0..1000000";
  if (c.notification_vector < 0x20 || c.wakeup_vector < 0x20 || c.notification_vector == c.wakeup_vector)
    return "wakeup_vector: notification_vector and wakeup_vector must be two different vectors 0x20..0xFF";
  for (size_t g = 0; g < c.guests.size(); ++g) {
    const GuestSpec& guest = c.guests[g];
    if (guest.vcpus.empty()) return "guests: " + guest_name(c, g) + " needs at least one vCPU";
    for (size_t v = 0; v < guest.vcpus.size(); ++v) {
      const VcpuSpec& spec = guest.vcpus[v];
      const VcpuSchedule& s = spec.schedule;
      const std::string who = vcpu_name(c, g, v);
      if (spec.cpu >= c.cpus) return "guests: " + who + ": cpu " + std::to_string(spec.cpu) + " is beyond cpus";
      for (unsigned m : spec.moves)
        if (m >= c.cpus) return "guests: " + who + ": cpu " + std::to_string(m) + " is beyond cpus";
      const bool always = s.off == SC_ZERO_TIME;
      if (always && (s.phase != SC_ZERO_TIME || !spec.moves.empty()))
        return "guests: " + who + " always runs: it has no phase and does not migrate (give run_us and preempted_us or halted_us)";
      if (!always && s.run == SC_ZERO_TIME) return "guests: " + who + ": a vCPU that is descheduled needs run > 0";
      if (!always && s.phase >= s.run + s.off) return "guests: " + who + ": phase must be below run + off";
    }
  }
  return check_cpu_sharing(c);
}

ApicSystem::ApicSystem(sc_core::sc_module_name name, const HostInterruptConfig& config,
                       SparseMemory& memory, std::function<uint64_t()> allocate_page,
                       StatsRegistry& stats)
    : sc_module(name),
      socket("socket"),
      host_out("host_out"),
      m_config(config),
      m_memory(memory),
      m_received(stats.counter(std::string(this->name()) + ".received")),
      m_host_interrupts(stats.counter(std::string(this->name()) + ".host_interrupts")),
      m_spurious(stats.counter(std::string(this->name()) + ".spurious_notifications")),
      m_timer_ticks(stats.counter(std::string(this->name()) + ".timer_ticks")),
      m_timer_exits(stats.counter(std::string(this->name()) + ".timer_exits")),
      m_host_hypervisor_ps(stats.counter(std::string(this->name()) + ".host_hypervisor_ps")) {
  const std::string err = validate(config);
  if (!err.empty()) report_config_error("interrupts." + err);
  socket.register_b_transport(this, &ApicSystem::b_transport);
  m_next_vector.assign(config.cpus, 0x40);  // host vectors for devices start above the legacy ones
  m_cpus.resize(config.cpus);

  uint64_t page = 0;
  unsigned in_page = 4096 / irte::kPidBytes;
  const std::string base = this->name();
  for (unsigned g = 0; g < config.guests.size(); ++g) {
    const GuestSpec& spec = config.guests[g];
    const std::string gname = spec.name.empty() ? "g" + std::to_string(g) : spec.name;
    const std::string gb = base + ".guest." + gname;
    GuestStats s;
    s.requested = &stats.counter(gb + ".requested");
    s.remapped = &stats.counter(gb + ".remapped");
    s.posted = &stats.counter(gb + ".posted");
    s.cpu_posted = &stats.counter(gb + ".cpu_posted");
    s.forwarded = &stats.counter(gb + ".forwarded");
    s.notifications = &stats.counter(gb + ".notifications");
    s.suppressed = &stats.counter(gb + ".notifications_suppressed");
    s.vm_exits = &stats.counter(gb + ".vm_exits");
    s.exits_arrival = &stats.counter(gb + ".exits.arrival");
    s.exits_eoi = &stats.counter(gb + ".exits.eoi");
    s.exits_host = &stats.counter(gb + ".exits.host");
    s.exits_wakeup = &stats.counter(gb + ".exits.wakeup");
    s.hypervisor_ps = &stats.counter(gb + ".hypervisor_ps");
    s.seen = &stats.counter(gb + ".seen");
    s.latency = &stats.histogram(gb + ".latency", "ps");
    m_guest_stats.push_back(s);
    m_guest_vcpus.emplace_back();
    for (unsigned i = 0; i < spec.vcpus.size(); ++i) {
      auto c = std::make_unique<Vcpu>();
      c->guest = g;
      c->index = i;
      c->cpu = spec.vcpus[i].cpu;
      c->cycle.push_back(c->cpu);
      c->cycle.insert(c->cycle.end(), spec.vcpus[i].moves.begin(), spec.vcpus[i].moves.end());
      c->schedule = spec.vcpus[i].schedule;
      // With APIC virtualization every vCPU has a posted-interrupt descriptor: the IOMMU posts
      // into it (posted delivery) and so does the host (CPU posted interrupts).
      if (config.apicv) {
        if (in_page == 4096 / irte::kPidBytes) {
          page = allocate_page();
          in_page = 0;
        }
        c->pda = page + irte::kPidBytes * in_page++;
        m_memory.fill(c->pda, 0, irte::kPidBytes);
        m_by_pda[c->pda] = static_cast<unsigned>(m_vcpus.size());
      }
      m_guest_vcpus.back().push_back(static_cast<unsigned>(m_vcpus.size()));
      m_vcpus.push_back(std::move(c));
    }
  }
  for (unsigned v = 0; v < m_vcpus.size(); ++v) {
    Vcpu& c = *m_vcpus[v];
    const bool starts_off = c.schedule.off != SC_ZERO_TIME && c.schedule.phase >= c.schedule.run;
    set_state(c, starts_off ? (c.schedule.halted ? State::Halted : State::Preempted) : State::Running,
              SC_ZERO_TIME);
    sc_core::sc_spawn_options opts;
    sc_core::sc_spawn([this, v] { vcpu_thread(v); }, ("vcpu_" + std::to_string(v)).c_str(), &opts);
  }
  if (config.host_timer_hz > 0) {
    // Ticks are spread over the period so that the CPUs do not all exit at once.
    m_timer_period = sc_time(1.0 / config.host_timer_hz, sc_core::SC_SEC);
    for (unsigned cpu = 0; cpu < config.cpus; ++cpu)
      m_cpus[cpu].next_tick = m_timer_period * (static_cast<double>(cpu + 1) / config.cpus);
  }
}

uint64_t ApicSystem::ps(const sc_time& t) const {
  return static_cast<uint64_t>(t.to_seconds() * 1e12 + 0.5);
}

ApicSystem::Vcpu& ApicSystem::vcpu_of(unsigned guest, unsigned vcpu) const {
  return *m_vcpus[m_guest_vcpus.at(guest).at(vcpu)];
}

ApicSystem::HostRoute ApicSystem::route_remapped(unsigned guest, unsigned vcpu, uint8_t guest_vector) {
  const unsigned v = m_guest_vcpus.at(guest).at(vcpu);
  const unsigned cpu = m_config.host_affinity ? m_config.host_cpu : m_vcpus[v]->cpu;
  if (m_next_vector[cpu] >= 0xE0)  // leave the top range to the host's own vectors
    throw std::runtime_error("ApicSystem: host vectors of cpu " + std::to_string(cpu) + " exhausted");
  const uint8_t hv = static_cast<uint8_t>(m_next_vector[cpu]++);
  m_routes[(cpu << 8) | hv] = Route{v, guest_vector};
  return HostRoute{hv, cpu};
}

uint64_t ApicSystem::descriptor(unsigned guest, unsigned vcpu) const { return vcpu_of(guest, vcpu).pda; }

unsigned ApicSystem::cpu_of(unsigned guest, unsigned vcpu) const { return vcpu_of(guest, vcpu).cpu; }

void ApicSystem::trace_to(VcdWriter& vcd) {
  m_vcd = &vcd;
  for (auto& c : m_vcpus) {
    const std::string scope = std::string(name()) + ".guest" + std::to_string(c->guest) + ".vcpu" +
                              std::to_string(c->index);
    c->sig_pending = vcd.add_signal(scope, "pending", 8);
    c->sig_state = vcd.add_signal(scope, "state", 2);  // 0 running, 1 preempted, 2 halted
  }
}

void ApicSystem::set_state(Vcpu& c, State s, const sc_time& at) {
  timer_until(c.cpu, at);  // the ticks before the change saw the CPU as it was
  Cpu& cpu = m_cpus[c.cpu];
  if (s == State::Running) {
    cpu.running = &c;
  } else if (cpu.running == &c) {
    cpu.running = nullptr;
  }
  c.state = s;
  if (m_vcd) m_vcd->record(c.sig_state, ps(at), static_cast<uint64_t>(s));
  if (!c.pda) return;
  // The hypervisor's part of the posted-interrupt protocol: SN while preempted, the wake-up
  // vector while halted, the notification vector and this CPU while running. ON is the IOMMU's.
  const uint64_t addr = c.pda + 8 * irte::kPidControl;
  const bool on = get_bit(m_memory.read64(addr), irte::kPidOn);
  const uint8_t nv = s == State::Halted ? m_config.wakeup_vector : m_config.notification_vector;
  m_memory.write64(addr, irte::make_pid_control(nv, c.cpu, m_config.x2apic, on,
                                                s == State::Preempted));
}

sc_time ApicSystem::hypervisor(unsigned cpu, const sc_time& at, const sc_time& cost, int guest) {
  const sc_time start = free_at(cpu, at);
  Cpu& c = m_cpus[cpu];
  c.busy_until = start + cost;
  (guest < 0 ? m_host_hypervisor_ps : *m_guest_stats[static_cast<unsigned>(guest)].hypervisor_ps).inc(ps(cost));
  return c.busy_until;
}

sc_time ApicSystem::free_at(unsigned cpu, const sc_time& at) {
  timer_until(cpu, at);
  return std::max(at, m_cpus[cpu].busy_until);
}

void ApicSystem::timer_until(unsigned cpu, const sc_time& until, bool inclusive) {
  if (m_timer_period == SC_ZERO_TIME) return;
  Cpu& c = m_cpus[cpu];
  while (c.next_tick < until || (inclusive && c.next_tick == until)) {
    const sc_time tick = c.next_tick;
    c.next_tick += m_timer_period;  // first, so that the tick's own work does not come back here
    m_timer_ticks.inc();
    if (Vcpu* r = c.running) {
      m_timer_exits.inc();
      hypervisor(cpu, foreign_exit(*r, tick), m_config.costs.host_handler, static_cast<int>(r->guest));
    } else {
      hypervisor(cpu, tick, m_config.costs.host_handler, -1);
    }
  }
}

void ApicSystem::settle(const sc_time& until) {
  for (unsigned cpu = 0; cpu < m_config.cpus; ++cpu) timer_until(cpu, until, false);
}

void ApicSystem::count_exit(const Vcpu& c, Cause cause) {
  GuestStats& s = m_guest_stats[c.guest];
  s.vm_exits->inc();
  switch (cause) {
    case Cause::Arrival: s.exits_arrival->inc(); break;
    case Cause::Eoi: s.exits_eoi->inc(); break;
    case Cause::Host: s.exits_host->inc(); break;
    case Cause::Wakeup: s.exits_wakeup->inc(); break;
  }
}

sc_time ApicSystem::foreign_exit(Vcpu& r, const sc_time& at) {
  count_exit(r, Cause::Host);
  const InterruptCosts& k = m_config.costs;
  const sc_time cost = k.vm_exit + (m_config.delivery == InterruptDelivery::Eli ? k.shadow_idt : SC_ZERO_TIME);
  return hypervisor(r.cpu, at, cost, static_cast<int>(r.guest));
}

bool ApicSystem::eoi_traps(bool direct) const {
  switch (m_config.delivery) {
    case InterruptDelivery::Remapped: return !m_config.apicv;
    // Direct delivery: EOI through the MSR bitmap needs x2APIC. The host's injections run in
    // ELI's injection mode, which traps EOI.
    case InterruptDelivery::Eli: return direct ? !m_config.x2apic : true;
    case InterruptDelivery::Posted: return false;  // virtual EOI on the virtual-APIC page
  }
  return true;
}

void ApicSystem::pending_changed(Vcpu& c, int delta, const sc_time& at) {
  c.pending = static_cast<unsigned>(static_cast<int>(c.pending) + delta);
  if (m_vcd) m_vcd->record(c.sig_pending, ps(at), c.pending > 255 ? 255 : c.pending);
}

void ApicSystem::seen(Vcpu& c, const sc_time& request, const sc_time& at, bool direct) {
  GuestStats& s = m_guest_stats[c.guest];
  s.seen->inc();
  // Within a quantum the request may be stamped later than the kernel time of the schedule-in
  // that picks it up: such an interrupt is seen the moment it arrives.
  const sc_time when = std::max(at, request);
  s.latency->add(ps(when - request));
  pending_changed(c, -1, when);
  if (eoi_traps(direct)) {
    count_exit(c, Cause::Eoi);
    hypervisor(c.cpu, when, m_config.costs.vm_exit + m_config.costs.eoi_emulation, static_cast<int>(c.guest));
  }
}

void ApicSystem::drain_pir(Vcpu& c, const sc_time& at) {
  if (!c.pda) return;
  // One read-modify-write of the descriptor, as the CPU's posted-interrupt processing does.
  uint64_t pid[8];
  m_memory.read(c.pda, pid, sizeof pid);
  for (unsigned v = 0; v < 256; ++v) {
    if (!irte::pir_test(pid, static_cast<uint8_t>(v))) continue;
    auto it = c.posted.find(static_cast<uint8_t>(v));
    if (it == c.posted.end()) continue;  // set without a probe record: nothing to time
    for (const sc_time& t : it->second) seen(c, t, at, false);
    c.posted.erase(it);
  }
  for (unsigned q = 0; q < 4; ++q) pid[q] = 0;
  pid[irte::kPidControl] = set_bit(pid[irte::kPidControl], irte::kPidOn, false);
  m_memory.write(c.pda, pid, sizeof pid);
}

void ApicSystem::deliver_pending(Vcpu& c, const sc_time& at) {
  const InterruptCosts& k = m_config.costs;
  // Event injection delivers one interrupt per VM entry: each waits for the previous one's
  // handling (and EOI exit, where EOI traps) to end.
  for (const sc_time& t : c.injected) {
    const sc_time entry = hypervisor(c.cpu, at, k.injection, static_cast<int>(c.guest));
    seen(c, t, entry, false);
  }
  c.injected.clear();
  // With APIC virtualization the PIR is synced into the virtual APIC at entry.
  if (c.pda && !c.posted.empty()) drain_pir(c, hypervisor(c.cpu, at, k.injection, static_cast<int>(c.guest)));
}

void ApicSystem::posted_requested(uint64_t pda, uint8_t vector, bool notified, const sc_time& time) {
  auto it = m_by_pda.find(pda);
  if (it == m_by_pda.end()) return;
  Vcpu& c = *m_vcpus[it->second];
  GuestStats& s = m_guest_stats[c.guest];
  s.requested->inc();
  s.posted->inc();
  (notified ? s.notifications : s.suppressed)->inc();
  c.posted[vector].push_back(time);
  pending_changed(c, +1, time);
}

bool ApicSystem::host_post(Vcpu& t, uint8_t gv, const sc_time& request) {
  uint64_t pid[8];
  m_memory.read(t.pda, pid, sizeof pid);
  const irte::PostedUpdate u = irte::post_interrupt(pid, gv, false, m_config.x2apic);
  m_memory.write(t.pda, pid, sizeof pid);
  m_guest_stats[t.guest].cpu_posted->inc();
  t.posted[gv].push_back(request);
  return u.notify && t.state == State::Running;
}

void ApicSystem::wake(Vcpu& t, const sc_time& at) {
  if (t.state != State::Halted || t.woken) return;
  t.woken = true;
  count_exit(t, Cause::Wakeup);
  m_guest_stats[t.guest].hypervisor_ps->inc(ps(m_config.costs.wakeup));
  const sc_time now = sc_core::sc_time_stamp();
  t.wake.notify((at > now ? at - now : SC_ZERO_TIME) + m_config.costs.wakeup);
}

void ApicSystem::vcpu_thread(unsigned v) {
  Vcpu& c = *m_vcpus[v];
  const VcpuSchedule& s = c.schedule;
  if (s.off == SC_ZERO_TIME) return;  // always running: arrivals deliver directly
  const auto descheduled_for = [&](const sc_time& d) {
    if (s.halted) {
      sc_core::wait(d, c.wake);  // an interrupt's wake-up ends the halt early
    } else {
      sc_core::wait(d);
    }
  };
  // Schedule-in, on the next CPU of its cycle (the first run is on the first): the descriptor's
  // NDST follows it there.
  const auto schedule_in = [&](bool move) {
    if (move) {
      c.next_in_cycle = (c.next_in_cycle + 1) % c.cycle.size();
      c.cpu = c.cycle[c.next_in_cycle];
    }
    set_state(c, State::Running, sc_core::sc_time_stamp());
    deliver_pending(c, sc_core::sc_time_stamp());
    sc_core::wait(s.run);
  };
  if (c.state == State::Running) {
    sc_core::wait(s.run - s.phase);
  } else {
    descheduled_for(s.run + s.off - s.phase);
    schedule_in(false);
  }
  for (;;) {
    set_state(c, s.halted ? State::Halted : State::Preempted, sc_core::sc_time_stamp());
    c.woken = false;
    descheduled_for(s.off);
    schedule_in(true);
  }
}

void ApicSystem::guest_interrupt(Vcpu& t, uint8_t gv, unsigned cpu, const sc_time& request,
                                 const sc_time& at) {
  const InterruptCosts& k = m_config.costs;
  GuestStats& s = m_guest_stats[t.guest];
  s.requested->inc();
  s.remapped->inc();
  pending_changed(t, +1, request);
  Vcpu* r = m_cpus[cpu].running;
  const int owner = static_cast<int>(t.guest);
  if (r == &t) {
    if (m_config.delivery == InterruptDelivery::Eli) {
      // The shadow IDT has this vector: the guest's own handler runs, no exit.
      seen(t, request, free_at(cpu, at) + k.eli_delivery, true);
    } else {
      count_exit(t, Cause::Arrival);
      seen(t, request, hypervisor(cpu, at, k.vm_exit + k.host_handler + k.injection, owner), false);
    }
    return;
  }
  // Its vCPU is not running here: whoever runs here exits, and the host handles the interrupt.
  s.forwarded->inc();
  const sc_time taken = r ? foreign_exit(*r, at) : at;
  forward(t, gv, cpu, request, hypervisor(cpu, taken, k.host_handler, owner));
}

void ApicSystem::forward(Vcpu& t, uint8_t gv, unsigned from, const sc_time& request,
                         const sc_time& at) {
  const InterruptCosts& k = m_config.costs;
  const int owner = static_cast<int>(t.guest);
  if (m_config.apicv) {
    // A CPU posted interrupt: the descriptor, then a notification IPI if it runs (no exit
    // there), a wake-up if it is halted; a preempted vCPU finds it at its next entry.
    if (host_post(t, gv, request)) {
      const sc_time sent = hypervisor(from, at, k.notification, owner);
      drain_pir(t, free_at(t.cpu, sent) + k.posted_delivery);
    } else {
      wake(t, at);
    }
    return;
  }
  if (t.state == State::Running) {
    // A kick IPI: the target exits (under ELI through its shadow IDT) and is injected at entry.
    count_exit(t, Cause::Arrival);
    const sc_time shadow = m_config.delivery == InterruptDelivery::Eli ? k.shadow_idt : SC_ZERO_TIME;
    seen(t, request, hypervisor(t.cpu, at, k.vm_exit + shadow + k.injection, owner), false);
    return;
  }
  t.injected.push_back(request);
  wake(t, at);
}

void ApicSystem::b_transport(int, tlm::tlm_generic_payload& trans, sc_time& delay) {
  const sc_time at = sc_core::sc_time_stamp() + delay;
  uint64_t addr = trans.get_address();
  if (addr < irte::kWindowBase) addr += irte::kWindowBase;  // a relative window on the host bus
  if (!trans.is_write() || trans.get_data_length() != 4) {
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  uint32_t data = 0;
  std::memcpy(&data, trans.get_data_ptr(), 4);
  const InterruptMessage* msg = trans.get_extension<InterruptMessage>();
  const uint8_t vector = static_cast<uint8_t>(data & 0xFF);
  const uint32_t dest = msg ? msg->destination
                            : static_cast<uint32_t>(get_bits(addr, irte::kMsiDestHi, irte::kMsiDestLo));
  m_received.inc();
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  const InterruptCosts& k = m_config.costs;
  if (dest >= m_config.cpus) {
    m_host_interrupts.inc();
    host_out->b_transport(trans, delay);
    return;
  }
  timer_until(dest, at);
  Vcpu* r = m_cpus[dest].running;

  if (vector == m_config.notification_vector) {
    // The running vCPU processes the PIR in guest mode if the notification is its own (with a
    // different vCPU there it finds its own PIR empty; the owner's waits for its next entry).
    auto owner = msg && msg->pda ? m_by_pda.find(msg->pda) : m_by_pda.end();
    const bool for_running = r && r->pda && (owner == m_by_pda.end() || m_vcpus[owner->second].get() == r);
    if (for_running) {
      drain_pir(*r, free_at(dest, at) + k.posted_delivery);
    } else {
      m_spurious.inc();
      if (!r) hypervisor(dest, at, k.host_handler, -1);
    }
    return;
  }
  if (vector == m_config.wakeup_vector) {
    // The host's wake-up handler: every halted vCPU of this CPU with ON set is woken. Its time is
    // the (first) woken guest's.
    std::vector<Vcpu*> to_wake;
    for (auto& c : m_vcpus) {
      if (c->cpu != dest || c->state != State::Halted || c->woken || !c->pda) continue;
      if (get_bit(m_memory.read64(c->pda + 8 * irte::kPidControl), irte::kPidOn)) to_wake.push_back(c.get());
    }
    const sc_time taken = r ? foreign_exit(*r, at) : at;
    const sc_time handled =
        hypervisor(dest, taken, k.host_handler, to_wake.empty() ? -1 : static_cast<int>(to_wake[0]->guest));
    for (Vcpu* c : to_wake) wake(*c, handled);
    return;
  }
  auto route = m_routes.find((dest << 8) | vector);
  if (route != m_routes.end()) {
    guest_interrupt(*m_vcpus[route->second.vcpu], route->second.guest_vector, dest,
                    msg ? msg->request_time : at, at);
    return;
  }
  // Not a guest's: the host's own (fault events, compatibility-format device interrupts). A
  // guest running on that CPU exits for it.
  if (r) hypervisor(dest, foreign_exit(*r, at), k.host_handler, static_cast<int>(r->guest));
  m_host_interrupts.inc();
  host_out->b_transport(trans, delay);
}

}  // namespace iommu_sim
