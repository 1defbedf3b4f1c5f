// Iommu: the register file (decoded by offset, 4- and 8-byte accesses; an 8-byte write is two
// 4-byte writes, low half first, so commands in a high half see their low half already written),
// capability registers, fault recording and the fault / invalidation-completion events.
#include "iommu_sim/iommu/iommu.h"

#include <cstring>

namespace iommu_sim {

using sc_core::sc_time;
namespace fmt = vtd;

void Iommu::build_capabilities() {
  const IommuConfig& c = m_config;
  uint64_t cap = 0;
  cap = set_bits(cap, fmt::kCapNdHi, fmt::kCapNdLo, c.domain_bits_nd);
  cap = set_bits(cap, fmt::kCapSagawHi, fmt::kCapSagawLo, m_sagaw);
  cap = set_bits(cap, fmt::kCapMgawHi, fmt::kCapMgawLo, c.address_width - 1);
  cap = set_bits(cap, fmt::kCapFroHi, fmt::kCapFroLo, fmt::kFro);
  cap = set_bit(cap, fmt::kCapSllps2M, c.superpages_2m);
  cap = set_bit(cap, fmt::kCapSllps1G, c.superpages_1g);
  cap = set_bit(cap, fmt::kCapPsi, c.page_selective);
  cap = set_bits(cap, fmt::kCapNfrHi, fmt::kCapNfrLo, c.fault_records - 1);
  if (c.page_selective) cap = set_bits(cap, fmt::kCapMamvHi, fmt::kCapMamvLo, c.mamv);
  // Requests are handled one at a time, so draining is always trivially complete.
  cap = set_bit(cap, fmt::kCapDwd, true);
  cap = set_bit(cap, fmt::kCapDrd, true);
  cap = set_bit(cap, fmt::kCapPi, c.posted_interrupts);

  uint64_t ecap = 0;
  ecap = set_bit(ecap, fmt::kEcapC, c.coherent);
  ecap = set_bit(ecap, fmt::kEcapQi, c.queued_invalidation);
  ecap = set_bit(ecap, fmt::kEcapDt, c.device_tlbs);
  ecap = set_bit(ecap, fmt::kEcapIr, c.interrupt_remapping);
  ecap = set_bit(ecap, fmt::kEcapEim, c.interrupt_remapping && c.x2apic);
  ecap = set_bit(ecap, fmt::kEcapPt, c.pass_through);
  ecap = set_bits(ecap, fmt::kEcapIroHi, fmt::kEcapIroLo, fmt::kIro);
  if (c.interrupt_remapping) ecap = set_bits(ecap, fmt::kEcapMhmvHi, fmt::kEcapMhmvLo, 0xF);
  scalable_capabilities(cap, ecap);
  m_cap = cap;
  m_ecap = ecap;
}

uint32_t Iommu::fsts() const {
  uint32_t v = m_fsts_sticky;
  for (const auto& r : m_frcd)
    if (get_bit(r[1], fmt::kFrcdF)) {
      v |= fmt::kFstsPpf;
      break;
    }
  return static_cast<uint32_t>(set_bits(v, fmt::kFstsFriHi, fmt::kFstsFriLo, m_fri));
}

uint64_t Iommu::read_qword(uint64_t off) const {
  switch (off) {
    case fmt::kRegVer: return m_config.scalable.enabled ? fmt::kVersionScalable : fmt::kVersion;
    case fmt::kRegCap: return m_cap;
    case fmt::kRegEcap: return m_ecap;
    case fmt::kRegGcmd: return static_cast<uint64_t>(m_gsts) << 32;  // GCMD reads 0
    case fmt::kRegRtaddr: return m_rtaddr;
    case fmt::kRegCcmd: return m_ccmd;
    case fmt::kRegFsts - 4: return static_cast<uint64_t>(fsts()) << 32;
    case fmt::kRegFectl: return m_fectl | (static_cast<uint64_t>(m_fedata) << 32);
    case fmt::kRegFeaddr: return m_feaddr | (static_cast<uint64_t>(m_feuaddr) << 32);
    case fmt::kRegIqh: return m_iqh;
    case fmt::kRegIqt: return m_iqt;
    case fmt::kRegIqa: return m_iqa;
    case fmt::kRegIcs - 4: return static_cast<uint64_t>(m_ics) << 32;
    case fmt::kRegIectl: return m_iectl | (static_cast<uint64_t>(m_iedata) << 32);
    case fmt::kRegIeaddr: return m_ieaddr | (static_cast<uint64_t>(m_ieuaddr) << 32);
    case fmt::kRegIqer: return m_iqer;
    case fmt::kRegIrta: return m_irta;
    case fmt::kRegIva: return m_iva;
    case fmt::kRegIotlb: return m_iotlb_reg;
    default: break;
  }
  if (off >= fmt::kRegFrcd && off < fmt::register_block_size(m_config.fault_records)) {
    const uint64_t rel = off - fmt::kRegFrcd;
    return m_frcd[rel / fmt::kFrcdSize][(rel / 8) & 1];
  }
  return 0;  // unimplemented offsets inside the block read as zero
}

uint64_t Iommu::peek_register(uint64_t offset, unsigned size) const {
  const uint64_t q = read_qword(offset & ~7ULL);
  if (size == 8) return q;
  return (offset & 4) ? (q >> 32) : (q & 0xFFFFFFFFULL);
}

namespace {
void set_half(uint64_t& reg, bool high, uint32_t v) {
  reg = high ? ((reg & 0xFFFFFFFFULL) | (static_cast<uint64_t>(v) << 32))
             : ((reg & ~0xFFFFFFFFULL) | v);
}
}  // namespace

void Iommu::regs_b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const uint64_t off = trans.get_address();
  const unsigned len = trans.get_data_length();
  delay += m_config.register_latency;
  if ((len != 4 && len != 8) || (off & (len - 1)) || trans.get_byte_enable_ptr() ||
      trans.get_streaming_width() < len) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  if (off + len > fmt::register_block_size(m_config.fault_records)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  unsigned char* data = trans.get_data_ptr();
  if (trans.is_read()) {
    const uint64_t v = peek_register(off, len);
    std::memcpy(data, &v, len);
  } else if (trans.is_write()) {
    uint32_t lo = 0, hi = 0;
    std::memcpy(&lo, data, 4);
    write_dword(off, lo, delay);
    if (len == 8) {
      std::memcpy(&hi, data + 4, 4);
      write_dword(off + 4, hi, delay);
    }
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned int Iommu::regs_transport_dbg(tlm::tlm_generic_payload& trans) {
  // Debug reads only: a debugger must not start invalidations.
  if (!trans.is_read()) return 0;
  const uint64_t off = trans.get_address();
  unsigned n = 0;
  for (; n < trans.get_data_length(); ++n) {
    const uint64_t a = off + n;
    if (a >= fmt::register_block_size(m_config.fault_records)) break;
    trans.get_data_ptr()[n] = static_cast<unsigned char>(read_qword(a & ~7ULL) >> (8 * (a & 7)));
  }
  return n;
}

void Iommu::write_dword(uint64_t off, uint32_t v, sc_time& delay) {
  const bool high = off & 4;
  switch (off & ~7ULL) {
    case fmt::kRegGcmd:
      if (!high) write_gcmd(v, delay);
      return;
    case fmt::kRegRtaddr:
      // Bits 9:0 read as zero, and TTM (11:10) too unless scalable mode is offered.
      set_half(m_rtaddr, high, v);
      m_rtaddr &= fmt::kTableAddrMask |
                  (m_config.scalable.enabled ? bit_mask(fmt::kRtaddrTtmHi, fmt::kRtaddrTtmLo) : 0);
      return;
    case fmt::kRegCcmd:
      set_half(m_ccmd, high, v);
      if (high && get_bit(m_ccmd, fmt::kCcmdIcc)) register_context_invalidation(delay);
      return;
    case fmt::kRegFsts - 4:
      if (high) {
        const uint32_t clear = v & (fmt::kFstsPfo | fmt::kFstsIqe | fmt::kFstsIce | fmt::kFstsIte);
        const uint32_t stopped = fmt::kFstsIqe | fmt::kFstsIte;  // conditions that stop the queue
        const bool resumed = (clear & stopped & m_fsts_sticky) && !(m_fsts_sticky & stopped & ~clear);
        m_fsts_sticky &= ~clear;
        update_pending(delay);
        if (resumed) process_queue(delay);  // software dealt with the queue: resume at IQH
      }
      return;
    case fmt::kRegFectl:
      if (high) {
        m_fedata = v;
      } else {
        m_fectl = (m_fectl & ~fmt::kCtlIm) | (v & fmt::kCtlIm);
        if (!(m_fectl & fmt::kCtlIm) && (m_fectl & fmt::kCtlIp)) {  // unmasked while pending
          m_fectl &= ~fmt::kCtlIp;
          send_event(m_feaddr | (static_cast<uint64_t>(m_feuaddr) << 32), m_fedata, delay);
          m_fault_events.inc();
        }
      }
      return;
    case fmt::kRegFeaddr:
      if (high) m_feuaddr = v; else m_feaddr = v & ~3u;
      return;
    case fmt::kRegIqh:
      return;  // read-only
    case fmt::kRegIqt:
      if (!high) {
        m_iqt = v & fmt::kIqhMask;
        process_queue(delay);
      }
      return;
    case fmt::kRegIqa:
      set_half(m_iqa, high, v);
      m_iqa &= fmt::kTableAddrMask | (1ULL << fmt::kIqaDw) | bit_mask(fmt::kIqaQsHi, fmt::kIqaQsLo);
      return;
    case fmt::kRegIcs - 4:
      if (high && (v & fmt::kIcsIwc)) {
        m_ics &= ~fmt::kIcsIwc;
        m_iectl &= ~fmt::kCtlIp;
      }
      return;
    case fmt::kRegIectl:
      if (high) {
        m_iedata = v;
      } else {
        m_iectl = (m_iectl & ~fmt::kCtlIm) | (v & fmt::kCtlIm);
        if (!(m_iectl & fmt::kCtlIm) && (m_iectl & fmt::kCtlIp)) {
          m_iectl &= ~fmt::kCtlIp;
          send_event(m_ieaddr | (static_cast<uint64_t>(m_ieuaddr) << 32), m_iedata, delay);
        }
      }
      return;
    case fmt::kRegIeaddr:
      if (high) m_ieuaddr = v; else m_ieaddr = v & ~3u;
      return;
    case fmt::kRegIrta:
      set_half(m_irta, high, v);
      m_irta &= irte::kIrtaMask;
      // EIME is writable only where ECAP.EIM says x2APIC mode exists.
      if (!(m_config.interrupt_remapping && m_config.x2apic))
        m_irta = set_bit(m_irta, irte::kIrtaEime, false);
      return;
    case fmt::kRegIva:
      set_half(m_iva, high, v);
      m_iva &= fmt::kTableAddrMask | (1ULL << fmt::kIvaIh) | bit_mask(fmt::kIvaAmHi, fmt::kIvaAmLo);
      return;
    case fmt::kRegIotlb:
      set_half(m_iotlb_reg, high, v);
      if (high && get_bit(m_iotlb_reg, fmt::kIotlbIvt)) register_iotlb_invalidation(delay);
      return;
    default:
      break;
  }
  if (off >= fmt::kRegFrcd && off < fmt::register_block_size(m_config.fault_records)) {
    // Only F (bit 127 of a record, bit 31 of its last dword) is writable: 1 clears it.
    if ((off & 0xF) == 12 && (v & 0x80000000u)) {
      auto& rec = m_frcd[(off - fmt::kRegFrcd) / fmt::kFrcdSize];
      rec[1] = set_bit(rec[1], fmt::kFrcdF, false);
      update_pending(delay);
    }
  }
}

void Iommu::write_gcmd(uint32_t v, sc_time& delay) {
  const uint32_t before = m_gsts;
  // Level commands: the status follows the command bit.
  uint32_t level_mask = fmt::kGcmdTe;
  if (m_config.queued_invalidation) level_mask |= fmt::kGcmdQie;
  if (m_config.interrupt_remapping) level_mask |= fmt::kGcmdIre | fmt::kGcmdCfi;
  m_gsts = (m_gsts & ~level_mask) | (v & level_mask);

  if ((v & fmt::kGcmdQie) && !(before & fmt::kGcmdQie) && (m_gsts & fmt::kGcmdQie))
    m_iqh = 0;  // enabling the queue starts fetching at its base
  if (v & fmt::kGcmdSrtp) {
    m_root_table = m_rtaddr & fmt::kTableAddrMask;
    m_table_mode = static_cast<fmt::TableMode>(get_bits(m_rtaddr, fmt::kRtaddrTtmHi, fmt::kRtaddrTtmLo));
    m_gsts |= fmt::kGcmdSrtp;  // RTPS: latched at once
    revoke_dmi(0, ~0ULL);
  }
  if ((v & fmt::kGcmdSirtp) && m_config.interrupt_remapping) {
    m_irta_active = m_irta;
    m_gsts |= fmt::kGcmdSirtp;  // IRTPS
    if (on_irta_latched) on_irta_latched(m_irta_active);
  }
  if ((before ^ m_gsts) & fmt::kGcmdTe) revoke_dmi(0, ~0ULL);  // every mapping changed
  (void)delay;
}

void Iommu::update_pending(sc_time&) {
  // FECTL.IP clears once software has serviced every interrupt condition.
  if (!(fsts() & fmt::kFstsEventConditions))
    m_fectl &= ~fmt::kCtlIp;
}

void Iommu::send_event(uint64_t addr, uint32_t data, const sc_time& delay) {
  // The event's own latency is not charged to the request that caused it.
  sc_time d = delay;
  tlm::tlm_generic_payload& p = m_event_trans;
  p.set_command(tlm::TLM_WRITE_COMMAND);
  p.set_address(addr);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
  p.set_data_length(4);
  p.set_streaming_width(4);
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  interrupt->b_transport(p, d);
}

void Iommu::signal_fault_event(const sc_time& delay) {
  // IP holds the event while IM masks it; unmasking sends it (write_dword, FECTL).
  if (m_fectl & fmt::kCtlIm) {
    m_fectl |= fmt::kCtlIp;
    return;
  }
  m_fectl &= ~fmt::kCtlIp;
  m_fault_events.inc();
  send_event(m_feaddr | (static_cast<uint64_t>(m_feuaddr) << 32), m_fedata, delay);
}

void Iommu::signal_completion_event(const sc_time& delay) {
  if (m_iectl & fmt::kCtlIp) return;
  if (m_iectl & fmt::kCtlIm) {
    m_iectl |= fmt::kCtlIp;
    return;
  }
  send_event(m_ieaddr | (static_cast<uint64_t>(m_ieuaddr) << 32), m_iedata, delay);
}

bool Iommu::record_fault(const FaultInfo& f, const sc_time& delay) {
  const uint32_t before = fsts();
  // While PFO is set nothing more is recorded (VT-d 7.3.1; QEMU drops these too).
  if (before & fmt::kFstsPfo) {
    m_fault_overflows.inc();
    return false;
  }
  auto& rec = m_frcd[m_next_frcd];
  if (get_bit(rec[1], fmt::kFrcdF)) {
    // The record hardware would use next still holds an unserviced fault: overflow. Setting
    // PFO is not an interrupt condition (FECTL.IP), so no event.
    m_fault_overflows.inc();
    m_fsts_sticky |= fmt::kFstsPfo;
    return false;
  }
  rec[0] = f.fault_info & fmt::kTableAddrMask;
  uint64_t hi = 0;
  hi = set_bits(hi, fmt::kFrcdSidHi, fmt::kFrcdSidLo, f.source_id);
  hi = set_bits(hi, fmt::kFrcdFrHi, fmt::kFrcdFrLo, f.reason);
  hi = set_bit(hi, fmt::kFrcdT, f.is_read);
  hi = set_bit(hi, fmt::kFrcdPp, f.has_pasid);
  if (f.has_pasid) hi = set_bits(hi, fmt::kFrcdPasidHi, fmt::kFrcdPasidLo, f.pasid & fmt::kPasidMask);
  if (m_config.device_tlbs)  // AT is reserved (zero) on a unit without device TLBs
    hi = set_bits(hi, fmt::kFrcdAtHi, fmt::kFrcdAtLo, static_cast<uint64_t>(f.address_type));
  hi = set_bit(hi, fmt::kFrcdF, true);
  rec[1] = hi;
  // FRI names the first pending fault: it is written only when PPF goes from 0 to 1, so that
  // software reading records from FRI on meets the oldest first.
  if (!(before & fmt::kFstsPpf)) m_fri = m_next_frcd;
  m_next_frcd = (m_next_frcd + 1) % m_config.fault_records;
  // An interrupt condition only when no status was pending before (FECTL.IP, VT-d 11.4.7.2).
  if (!(before & fmt::kFstsEventConditions)) signal_fault_event(delay);
  return true;
}

}  // namespace iommu_sim
