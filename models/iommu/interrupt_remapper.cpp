#include "iommu_sim/iommu/interrupt_remapper.h"

#include <cstdio>
#include <cstring>

#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {

using sc_core::sc_time;

InterruptRemapper::InterruptRemapper(Iommu& iommu, const IommuConfig& config, StatsRegistry& stats,
                                     const std::string& base)
    : m_iommu(iommu),
      m_config(config),
      m_iec(config.interrupt_entry_cache),
      m_requests(stats.counter(base + ".ir.requests")),
      m_compatibility(stats.counter(base + ".ir.compatibility")),
      m_remapped(stats.counter(base + ".ir.remapped")),
      m_posted(stats.counter(base + ".ir.posted")),
      m_notifications(stats.counter(base + ".ir.notifications")),
      m_suppressed(stats.counter(base + ".ir.notifications_suppressed")),
      m_blocked(stats.counter(base + ".ir.blocked")),
      m_faults_suppressed(stats.counter(base + ".ir.faults_suppressed")),
      m_irte_reads(stats.counter(base + ".ir.irte_reads")),
      m_pid_updates(stats.counter(base + ".ir.pid_updates")),
      m_latency(stats.histogram(base + ".ir.latency", "ps")) {
  register_cache_stats(stats, base + ".iec", m_iec.stats());
  for (unsigned r = irte::kFirstFaultReason; r <= irte::kLastFaultReason; ++r) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%X", r);
    m_reason[r - irte::kFirstFaultReason] = &stats.counter(base + ".ir.faults.reason_" + buf);
  }
}

void InterruptRemapper::trace_to(VcdWriter& vcd, const std::string& scope) {
  m_vcd = &vcd;
  m_sig_msi = vcd.add_signal(scope, "msi_received", 1);
  m_sig_hit = vcd.add_signal(scope, "iec_hit", 1);
  m_sig_miss = vcd.add_signal(scope, "iec_miss", 1);
  m_sig_pid = vcd.add_signal(scope, "pid_update", 1);
  m_sig_notify = vcd.add_signal(scope, "notification", 1);
  m_sig_fault = vcd.add_signal(scope, "ir_fault", 1);
  m_sig_index = vcd.add_signal(scope, "irte_index", 16);
}

uint64_t InterruptRemapper::ps(const sc_time& t) const {
  return static_cast<uint64_t>((sc_core::sc_time_stamp() + t).to_seconds() * 1e12 + 0.5);
}

bool InterruptRemapper::x2apic_mode() const {
  return m_config.x2apic && get_bit(m_iommu.irta(), irte::kIrtaEime);
}

void InterruptRemapper::request(tlm::tlm_generic_payload& trans, uint16_t rid, sc_time& delay) {
  m_requests.inc();
  if (m_vcd) m_vcd->pulse(m_sig_msi, ps(delay));
  if (!m_iommu.interrupt_remapping_enabled()) {
    pass_through(trans, rid, delay);
    return;
  }
  const sc_time start = delay;
  const uint64_t addr = trans.get_address();
  // An interrupt request is one aligned DWORD write without byte enables.
  if (trans.get_data_length() != 4 || (addr & 3) || trans.get_byte_enable_ptr() ||
      trans.get_streaming_width() < 4) {
    block(trans, rid, irte::kFaultRequestReserved, 0, false, delay);
    return;
  }
  uint32_t data = 0;
  std::memcpy(&data, trans.get_data_ptr(), 4);

  if (!irte::is_remappable(addr)) {
    if (get_bit(m_iommu.irta(), irte::kIrtaEime) || !m_iommu.compatibility_format_allowed()) {
      block(trans, rid, irte::kFaultCompatBlocked, 0, false, delay);
    } else {
      pass_through(trans, rid, delay);
    }
    return;
  }

  const uint32_t handle = static_cast<uint32_t>(get_bits(addr, irte::kMsiHandleHi, irte::kMsiHandleLo) |
                                                (get_bit(addr, irte::kMsiHandle15) << 15));
  const bool shv = get_bit(addr, irte::kMsiShv);
  if (shv && (data >> 16)) {  // the subhandle is 16 bits: the upper half of the data is reserved
    block(trans, rid, irte::kFaultRequestReserved, handle, false, delay);
    return;
  }
  const uint32_t index = shv ? handle + (data & 0xFFFF) : handle;
  if (m_vcd) m_vcd->record(m_sig_index, ps(delay), index & 0xFFFF);
  if (index >= irte::irta_entries(m_iommu.irta())) {
    block(trans, rid, irte::kFaultIndexBeyondTable, index, false, delay);
    return;
  }

  irte::Entry e;
  bool fpd = false;
  const uint8_t fault = fetch_entry(index, rid, e, fpd, delay);
  if (fault) {
    block(trans, rid, fault, index, fpd, delay);
    return;
  }
  if (!irte::source_id_ok(e, rid)) {
    block(trans, rid, irte::kFaultSourceId, index, e.fpd, delay);
    return;
  }
  if (e.posted) {
    post(e, rid, index, start, delay, trans);
  } else {
    remap(e, rid, index, start, delay, trans);
  }
}

uint8_t InterruptRemapper::fetch_entry(uint32_t index, uint16_t rid, irte::Entry& e, bool& fpd,
                                       sc_time& delay) {
  delay += m_config.iec_latency;
  if (const CachedEntry* c = m_iec.lookup(index)) {
    if (m_vcd) m_vcd->pulse(m_sig_hit, ps(delay));
    e = c->entry;
    return 0;
  }
  if (m_vcd && m_iec.enabled()) m_vcd->pulse(m_sig_miss, ps(delay));
  // One 128-bit read: the entry is seen whole, never half old and half new.
  uint64_t raw[2] = {0, 0};
  const uint64_t table = m_iommu.irta() & vtd::kTableAddrMask;
  m_irte_reads.inc();
  if (!memory_access(false, table + 16ULL * index, raw, 16, delay)) return irte::kFaultTableAccess;
  fpd = get_bit(raw[0], irte::kFpd);
  if (!get_bit(raw[0], irte::kPresent)) return irte::kFaultNotPresent;
  const uint8_t r = irte::decode_entry(raw[0], raw[1], x2apic_mode(),
                                       m_config.host_address_width, e);
  // The source ID is verified before the rest of the entry is interpreted (VT-d 5.1.4).
  if (!irte::source_id_ok(e, rid)) return irte::kFaultSourceId;
  if (r) return r;
  // Posted format where CAP.PI is clear: IM is a reserved bit.
  if (e.posted && !m_config.posted_interrupts) return irte::kFaultEntryReserved;
  m_iec.insert(index, 0, CachedEntry{e});  // only present, well-formed entries are cached
  return 0;
}

void InterruptRemapper::invalidate(bool index_selective, uint16_t index, unsigned im) {
  if (!index_selective) {
    m_iec.invalidate_all();
    return;
  }
  const uint64_t span = 1ULL << (im > 16 ? 16 : im);
  const uint64_t first = index & ~(span - 1);
  m_iec.invalidate_if([first, span](uint64_t key, uint16_t, const CachedEntry&) {
    return key >= first && key < first + span;
  });
}

void InterruptRemapper::block(tlm::tlm_generic_payload& trans, uint16_t rid, uint8_t reason,
                              uint32_t index, bool fpd, sc_time& delay) {
  m_blocked.inc();
  m_reason[reason - irte::kFirstFaultReason]->inc();
  if (m_vcd) m_vcd->pulse(m_sig_fault, ps(delay));
  Iommu::FaultInfo f;
  f.source_id = rid;
  f.reason = reason;
  f.fault_info = static_cast<uint64_t>(index & 0xFFFF) << 48;
  f.is_read = false;  // interrupt requests are writes
  m_iommu.note_fault(f, trans.get_address(), fpd);
  if (fpd) {
    m_faults_suppressed.inc();
  } else {
    m_iommu.record_fault(f, delay);
  }
  trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

void InterruptRemapper::pass_through(tlm::tlm_generic_payload& trans, uint16_t rid, sc_time& delay) {
  m_compatibility.inc();
  // The request goes out as it came; the sideband says who sent it and when.
  InterruptMessage& msg = m_pass_msg;
  msg = InterruptMessage{};
  msg.kind = InterruptMessage::Kind::Compatibility;
  msg.source_id = rid;
  msg.request_time = sc_core::sc_time_stamp() + delay;
  if (trans.get_data_length() >= 1) msg.vector = trans.get_data_ptr()[0];
  msg.destination = static_cast<uint32_t>(get_bits(trans.get_address(), irte::kMsiDestHi, irte::kMsiDestLo));
  tlm::tlm_extension_base* previous = trans.set_extension(&msg);
  m_iommu.interrupt->b_transport(trans, delay);
  if (previous) {
    trans.set_extension(InterruptMessage::ID, previous);
  } else {
    trans.clear_extension(&msg);
  }
}

tlm::tlm_response_status InterruptRemapper::send(uint32_t address, uint32_t data,
                                                 InterruptMessage& msg, sc_time& delay) {
  tlm::tlm_generic_payload& p = m_msg_trans;
  p.set_command(tlm::TLM_WRITE_COMMAND);
  p.set_address(address);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
  p.set_data_length(4);
  p.set_streaming_width(4);
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  p.set_extension(&msg);
  m_iommu.interrupt->b_transport(p, delay);
  p.clear_extension(&msg);
  return p.get_response_status();
}

void InterruptRemapper::remap(const irte::Entry& e, uint16_t rid, uint32_t index,
                              const sc_time& start, sc_time& delay,
                              tlm::tlm_generic_payload& trans) {
  m_remapped.inc();
  InterruptMessage msg;
  msg.kind = InterruptMessage::Kind::Remapped;
  msg.vector = e.vector;
  msg.destination = e.destination;
  msg.dest_mode = e.dest_mode;
  msg.delivery_mode = e.delivery_mode;
  msg.source_id = rid;
  msg.index = static_cast<uint16_t>(index);
  msg.request_time = sc_core::sc_time_stamp() + start;
  m_latency.add(static_cast<uint64_t>((delay - start).to_seconds() * 1e12 + 0.5));
  trans.set_response_status(send(irte::make_compat_address(static_cast<uint8_t>(e.destination),
                                                           e.dest_mode, e.redirection),
                                 // Sent with its level field "asserted", whatever the
                                 // trigger mode (VT-d 5.1.4, footnote to the remapping steps).
                                 irte::make_msi_data(e.vector, e.delivery_mode, e.level_trigger) |
                                     (1u << irte::kMsiDataLevel),
                                 msg, delay));
}

void InterruptRemapper::post(const irte::Entry& e, uint16_t rid, uint32_t index,
                             const sc_time& start, sc_time& delay,
                             tlm::tlm_generic_payload& trans) {
  // One atomic read-modify-write: nothing else runs between the read and the write (the
  // memory target annotates its latency and returns without yielding).
  uint64_t pid[8];
  if (!memory_access(false, e.pda, pid, irte::kPidBytes, delay)) {
    block(trans, rid, irte::kFaultTableAccess, index, e.fpd, delay);
    return;
  }
  const irte::PostedUpdate u = irte::post_interrupt(pid, e.vector, e.urgent, x2apic_mode());
  if (u.reserved) {
    block(trans, rid, irte::kFaultEntryReserved, index, e.fpd, delay);
    return;
  }
  if (!memory_access(true, e.pda, pid, irte::kPidBytes, delay)) {
    block(trans, rid, irte::kFaultTableAccess, index, e.fpd, delay);
    return;
  }
  m_posted.inc();
  m_pid_updates.inc();
  if (m_vcd) m_vcd->pulse(m_sig_pid, ps(delay));
  PostedRecord rec;
  rec.pda = e.pda;
  rec.vector = e.vector;
  rec.notified = u.notify;
  rec.source_id = rid;
  rec.index = static_cast<uint16_t>(index);
  rec.time = sc_core::sc_time_stamp() + start;
  // The descriptor is written (visible) before the notification goes out.
  if (on_posted) on_posted(rec);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  if (!u.notify) {
    m_suppressed.inc();
    return;
  }
  m_notifications.inc();
  if (m_vcd) m_vcd->pulse(m_sig_notify, ps(delay));
  InterruptMessage msg;
  msg.kind = InterruptMessage::Kind::Notification;
  msg.vector = u.nv;
  msg.destination = u.ndst;
  msg.source_id = rid;
  msg.index = static_cast<uint16_t>(index);
  msg.pda = e.pda;
  msg.request_time = rec.time;
  m_latency.add(static_cast<uint64_t>((delay - start).to_seconds() * 1e12 + 0.5));
  // Fixed, edge-triggered, physical destination.
  send(irte::make_compat_address(static_cast<uint8_t>(u.ndst)), irte::make_msi_data(u.nv), msg,
       delay);
}

bool InterruptRemapper::memory_access(bool write, uint64_t addr, void* buf, unsigned len,
                                      sc_time& delay) {
  tlm::tlm_generic_payload& p = m_mem_trans;
  p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  p.set_address(addr);
  p.set_data_ptr(static_cast<unsigned char*>(buf));
  p.set_data_length(len);
  p.set_streaming_width(len);
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  m_iommu.memory->b_transport(p, delay);
  return p.is_response_ok();
}

}  // namespace iommu_sim
