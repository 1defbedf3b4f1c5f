#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "host/apic_system.h"

#include <cstring>
#include <stdexcept>

#include "iommu/irte.h"
#include "iommu/irte_message.h"

namespace iommu_sim {

using sc_core::sc_time;

std::string validate(const HostInterruptConfig& c) {
  if (c.cpus < 1 || c.cpus > (c.x2apic ? 4096u : 255u))
    return "cpus: must be 1..255 (xAPIC) or 1..4096 (x2APIC)";
  if (c.delivery != "remapped" && c.delivery != "posted")
    return "delivery: must be remapped or posted, got '" + c.delivery + "'";
  if (c.notification_vector < 0x20 || c.wakeup_vector < 0x20 ||
      c.notification_vector == c.wakeup_vector)
    return "notification_vector and wakeup_vector: two different vectors 0x20..0xFF";
  for (size_t g = 0; g < c.guests.size(); ++g) {
    const GuestSpec& guest = c.guests[g];
    if (guest.vcpus.empty()) return "guests[" + std::to_string(g) + "]: at least one vCPU";
    for (const VcpuSpec& v : guest.vcpus) {
      if (v.cpu >= c.cpus)
        return "guests[" + std::to_string(g) + "]: cpu " + std::to_string(v.cpu) + " beyond cpus";
      const bool always = v.schedule.off == sc_core::SC_ZERO_TIME;
      if (!always && v.schedule.run == sc_core::SC_ZERO_TIME)
        return "guests[" + std::to_string(g) + "]: a vCPU that is descheduled needs run > 0";
    }
  }
  return "";
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
      m_spurious(stats.counter(std::string(this->name()) + ".spurious_notifications")) {
  const std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument("interrupts: " + err);
  socket.register_b_transport(this, &ApicSystem::b_transport);
  m_next_vector.assign(config.cpus, 0x40);  // host vectors for devices start above the legacy ones

  const bool posted = config.delivery == "posted";
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
    s.notifications = &stats.counter(gb + ".notifications");
    s.suppressed = &stats.counter(gb + ".notifications_suppressed");
    s.vm_exits = &stats.counter(gb + ".vm_exits");
    s.wakeups = &stats.counter(gb + ".wakeups");
    s.seen = &stats.counter(gb + ".seen");
    s.latency = &stats.histogram(gb + ".latency", "ps");
    m_guest_stats.push_back(s);
    m_guest_vcpus.emplace_back();
    for (unsigned i = 0; i < spec.vcpus.size(); ++i) {
      auto c = std::make_unique<Vcpu>();
      c->guest = g;
      c->index = i;
      c->cpu = spec.vcpus[i].cpu;
      c->schedule = spec.vcpus[i].schedule;
      if (posted) {
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
    set_state(*m_vcpus[v], State::Running, sc_core::SC_ZERO_TIME);
    sc_core::sc_spawn_options opts;
    sc_core::sc_spawn([this, v] { vcpu_thread(v); },
                      ("vcpu_" + std::to_string(v)).c_str(), &opts);
  }
}

uint64_t ApicSystem::ps(const sc_time& t) const {
  return static_cast<uint64_t>(t.to_seconds() * 1e12 + 0.5);
}

uint8_t ApicSystem::route_remapped(unsigned guest, unsigned vcpu, uint8_t guest_vector) {
  const unsigned v = m_guest_vcpus.at(guest).at(vcpu);
  const unsigned cpu = m_vcpus[v]->cpu;
  if (m_next_vector[cpu] >= 0xE0)  // leave the top range to the host's own vectors
    throw std::runtime_error("ApicSystem: host vectors of cpu " + std::to_string(cpu) + " exhausted");
  const uint8_t hv = static_cast<uint8_t>(m_next_vector[cpu]++);
  m_routes[(cpu << 8) | hv] = Route{v, guest_vector};
  return hv;
}

uint64_t ApicSystem::descriptor(unsigned guest, unsigned vcpu) const {
  return m_vcpus[m_guest_vcpus.at(guest).at(vcpu)]->pda;
}

unsigned ApicSystem::cpu_of(unsigned guest, unsigned vcpu) const {
  return m_vcpus[m_guest_vcpus.at(guest).at(vcpu)]->cpu;
}

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

ApicSystem::Vcpu* ApicSystem::running_on(unsigned cpu) {
  for (auto& c : m_vcpus)
    if (c->cpu == cpu && c->state == State::Running) return c.get();
  return nullptr;
}

void ApicSystem::pending_changed(Vcpu& c, int delta, const sc_time& at) {
  c.pending = static_cast<unsigned>(static_cast<int>(c.pending) + delta);
  if (m_vcd) m_vcd->record(c.sig_pending, ps(at), c.pending > 255 ? 255 : c.pending);
}

void ApicSystem::seen(Vcpu& c, const sc_time& request, const sc_time& at) {
  GuestStats& s = m_guest_stats[c.guest];
  s.seen->inc();
  // Within a quantum the request may be stamped later than the kernel time of the schedule-in
  // that picks it up: such an interrupt is seen the moment it arrives.
  s.latency->add(at > request ? ps(at - request) : 0);
  pending_changed(c, -1, at > request ? at : request);
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
    for (const sc_time& t : it->second) seen(c, t, at);
    c.posted.erase(it);
  }
  for (unsigned q = 0; q < 4; ++q) pid[q] = 0;
  pid[irte::kPidControl] = set_bit(pid[irte::kPidControl], irte::kPidOn, false);
  m_memory.write(c.pda, pid, sizeof pid);
}

void ApicSystem::deliver_pending(Vcpu& c, const sc_time& at) {
  const sc_time when = at + m_config.costs.injection;
  for (const sc_time& t : c.injected) seen(c, t, when);
  c.injected.clear();
  drain_pir(c, when);
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

void ApicSystem::vcpu_thread(unsigned v) {
  Vcpu& c = *m_vcpus[v];
  const VcpuSchedule& s = c.schedule;
  if (s.off == sc_core::SC_ZERO_TIME) return;  // always running: arrivals deliver directly
  sc_time first = s.phase < s.run ? s.run - s.phase : s.run;
  sc_core::wait(first);
  for (;;) {
    const State off = s.halted ? State::Halted : State::Preempted;
    set_state(c, off, sc_core::sc_time_stamp());
    c.woken = false;
    if (s.halted) {
      sc_core::wait(s.off, c.wake);
    } else {
      sc_core::wait(s.off);
    }
    set_state(c, State::Running, sc_core::sc_time_stamp());
    deliver_pending(c, sc_core::sc_time_stamp());
    sc_core::wait(s.run);
  }
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

  if (dest < m_config.cpus && vector == m_config.notification_vector) {
    Vcpu* r = running_on(dest);
    if (r && r->pda) {
      drain_pir(*r, at + k.posted_delivery);  // in guest mode: no exit
    } else {
      m_spurious.inc();  // the vCPU left the CPU: its PIR waits for the next schedule-in
    }
    return;
  }
  if (dest < m_config.cpus && vector == m_config.wakeup_vector) {
    Vcpu* r = running_on(dest);
    if (r) m_guest_stats[r->guest].vm_exits->inc();  // the host takes it: the guest there exits
    for (auto& c : m_vcpus) {
      if (c->cpu != dest || c->state != State::Halted || c->woken || !c->pda) continue;
      if (!get_bit(m_memory.read64(c->pda + 8 * irte::kPidControl), irte::kPidOn)) continue;
      c->woken = true;
      m_guest_stats[c->guest].wakeups->inc();
      c->wake.notify(delay + k.wakeup);
    }
    return;
  }
  auto route = m_routes.find((dest << 8) | vector);
  if (dest < m_config.cpus && route != m_routes.end()) {
    Vcpu& t = *m_vcpus[route->second.vcpu];
    GuestStats& s = m_guest_stats[t.guest];
    const sc_time request = msg ? msg->request_time : at;
    s.requested->inc();
    s.remapped->inc();
    pending_changed(t, +1, request);
    Vcpu* r = running_on(dest);
    if (r) m_guest_stats[r->guest].vm_exits->inc();  // a host interrupt in guest mode exits
    if (r == &t) {
      seen(t, request, at + k.vm_exit + k.injection);
      return;
    }
    t.injected.push_back(request);
    if (t.state == State::Halted && !t.woken) {
      t.woken = true;
      s.wakeups->inc();
      t.wake.notify(delay + k.wakeup);
    }
    return;
  }
  // Not a guest's: the host's own (fault events, compatibility-format device interrupts).
  m_host_interrupts.inc();
  host_out->b_transport(trans, delay);
}

}  // namespace iommu_sim
