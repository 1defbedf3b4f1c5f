// Iommu: PCIe ATS. Translation requests answered with translation completions, and device-TLB
// invalidation (descriptor 0x3) as invalidate requests sent to the functions, whose completions
// the invalidation-wait descriptor waits for. Translated requests pass in iommu_walk.cpp (where
// the context's TT allows device TLBs). Formats: common/ats_format.h; behaviour: docs/ats.md.
#include "iommu_sim/iommu/iommu_ats.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {

using sc_core::sc_time;
namespace fmt = vtd;

IommuAts::IommuAts(StatsRegistry& s, const std::string& b)
    : stats(s),
      base(b),
      translation_requests(s.counter(b + ".ats.translation_requests")),
      translations(s.counter(b + ".ats.translations")),
      no_permission(s.counter(b + ".ats.no_permission")),
      unsupported_requests(s.counter(b + ".ats.unsupported_requests")),
      completer_aborts(s.counter(b + ".ats.completer_aborts")),
      translated_requests(s.counter(b + ".ats.translated_requests")),
      invalidations(s.counter(b + ".ats.invalidations")),
      invalidation_timeouts(s.counter(b + ".ats.invalidation_timeouts")),
      queue_depth_stalls(s.counter(b + ".ats.queue_depth_stalls")),
      invalidation_latency(s.histogram(b + ".ats.invalidation_latency", "ps")),
      wait_stall(s.histogram(b + ".ats.wait_stall", "ps")) {}

Counter& IommuAts::requests_of(uint16_t rid) {
  Counter*& c = per_requester[rid];
  if (!c) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ".rid.%02x:%02x.%x.", rid >> 8, (rid >> 3) & 0x1F, rid & 7);
    c = &stats.counter(base + buf + "translation_requests");
  }
  return *c;
}

void Iommu::trace_ats_to(VcdWriter& vcd, const std::string& scope) {
  m_ats->sig_request = vcd.add_signal(scope, "ats_translation_request", 1);
  m_ats->sig_translated = vcd.add_signal(scope, "ats_translated_request", 1);
  m_ats->sig_invalidate = vcd.add_signal(scope, "devtlb_invalidate", 1);
  m_ats->sig_pending = vcd.add_signal(scope, "devtlb_invalidations_pending", 8);
}

namespace {
// The outcome of one translation for a translation request.
enum class Answer { Complete, UnsupportedRequest, CompleterAbort };

// How VT-d answers a translation request whose translation ended in `reason` (docs/ats.md):
// conditions of the page walk itself are the device's to know (a successful completion with the
// permissions found, R = W = 0 when nothing is mapped); the context's refusal to serve it
// (not present, TT without device TLBs; in scalable mode also DTE or PASIDE clear, and a PASID
// directory or table entry not present) is UR; errors and invalid programming are CA. UR and CA
// are recorded as faults, subject to FPD.
Answer classify(uint8_t reason) {
  switch (reason) {
    case fmt::kFaultNone:
    case fmt::kFaultAddressWidth:
    case fmt::kFaultWrite:
    case fmt::kFaultRead:
    case fmt::kSmFaultFlNotPresent:
    case fmt::kSmFaultSlNotPresent:
    case fmt::kSmFaultNonCanonical:
    case fmt::kSmFaultUserSupervisor:
    case fmt::kSmFaultAddressWidth:
    case fmt::kSmFaultWrite:
    case fmt::kSmFaultRead:
      return Answer::Complete;
    case fmt::kFaultRootNotPresent:
    case fmt::kFaultContextNotPresent:
    case fmt::kFaultBlockedByTt:
    case fmt::kSmFaultRootNotPresent:
    case fmt::kSmFaultContextNotPresent:
    case fmt::kSmFaultDteClear:
    case fmt::kSmFaultPasideClear:
    case fmt::kSmFaultPasidDirNotPresent:
    case fmt::kSmFaultPasidNotPresent:
      return Answer::UnsupportedRequest;
    default:
      return Answer::CompleterAbort;
  }
}
}  // namespace

void Iommu::answer_translation_request(tlm::tlm_generic_payload& trans, const PcieExtension& ext,
                                       sc_time& delay) {
  IommuAts& a = *m_ats;
  const uint16_t rid = ext.requester_id;
  a.translation_requests.inc();
  a.requests_of(rid).inc();
  if (m_vcd) m_vcd->pulse(a.sig_request, now_ps(delay));
  const unsigned len = trans.get_data_length();
  // A translation request is a read of whole 8-byte entries; anything else is the device's
  // mistake, which the completer aborts.
  if (!trans.is_read() || len == 0 || len % 8 != 0 || trans.get_byte_enable_ptr() ||
      trans.get_streaming_width() < len) {
    a.completer_aborts.inc();
    trans.set_response_status(ats::kCompleterAbort);
    return;
  }
  unsigned char* data = trans.get_data_ptr();
  uint64_t addr = trans.get_address() & ats::kAddressMask;
  for (unsigned i = 0; i < len / 8; ++i) {
    ats::Translation x;
    x.range.base = addr;
    if (!(m_gsts & fmt::kGcmdTe)) {
      // Translation off: every address is its own, as untranslated requests see it.
      x.phys = addr;
      x.read = x.write = true;
    } else if (irte::touches_window(addr, addr | 0xFFF)) {
      // The interrupt range is never translated: writes there must go untranslated (VT-d:
      // R = 0, W = 1, U = 1).
      x.phys = addr;
      x.write = true;
      x.untranslated_only = true;
    } else {
      Translation t;
      int walker = -1;
      const uint8_t reason = translate(ext, addr, addr, false, t, delay, walker);
      release_walker(walker, delay);
      const Answer answer = classify(reason);
      if (answer != Answer::Complete) {
        dma_fault(ext, reason, addr, false, t.fpd, delay);
        (answer == Answer::UnsupportedRequest ? a.unsupported_requests : a.completer_aborts).inc();
        trans.set_response_status(answer == Answer::UnsupportedRequest ? ats::kUnsupportedRequest
                                                                       : ats::kCompleterAbort);
        return;
      }
      if (reason == fmt::kFaultNone && t.page_bytes == 0) {
        // Pass-through (a scalable-mode PASID entry of PGTT 100b): the address itself.
        x.phys = addr;
        x.read = x.write = true;
      } else if (reason == fmt::kFaultNone || t.have_leaf) {  // the mapping's permissions, whatever was asked
        x.range.log2_bytes = 12 + page_shift_pages(t.entry.size);
        x.range.base = t.entry.vpn << 12;
        x.phys = t.entry.pfn << 12;
        x.read = t.entry.read;
        x.write = t.entry.write;
      }
    }
    if (!x.read && !x.write && !x.untranslated_only) a.no_permission.inc();
    a.translations.inc();
    const uint64_t entry = ats::encode_completion(x);
    std::memcpy(data + 8 * i, &entry, 8);
    const uint64_t next = x.range.base + x.range.bytes();
    if (next <= addr) break;  // the top of the address space: nothing follows
    addr = next;
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

fmt::QueueErrorInfo Iommu::execute_device_tlb_descriptor(const uint64_t* qw, sc_time& delay) {
  if ((qw[0] & fmt::kDescDevTlbReserved0) || (qw[1] & fmt::kDescDevTlbReserved1))
    return fmt::kIqeiReservedField;
  const auto sid = static_cast<uint16_t>(get_bits(qw[0], fmt::kDescDevTlbSidHi, fmt::kDescDevTlbSidLo));
  const auto depth = static_cast<unsigned>(get_bits(qw[0], fmt::kDescDevTlbMipHi, fmt::kDescDevTlbMipLo));
  // PFSID names the VF's PF, for hardware that tracks completions per physical device; here every
  // function answers for itself, so it is read only to be checked for reserved bits.
  const ats::Range range = ats::decode_range(qw[1], get_bit(qw[1], fmt::kDescDevTlbS));
  invalidate_device_tlb(sid, depth, range, false, 0, false, delay);
  return fmt::kIqeiNone;
}

fmt::QueueErrorInfo Iommu::execute_pasid_device_tlb_descriptor(const uint64_t* qw, sc_time& delay) {
  // The PASID form takes a 256-bit descriptor's upper half as reserved, like the other types.
  if ((qw[1] & fmt::kDescPdevReserved1) || qw[2] || qw[3]) return fmt::kIqeiReservedField;
  const auto sid = static_cast<uint16_t>(get_bits(qw[0], fmt::kDescPdevSidHi, fmt::kDescPdevSidLo));
  const auto depth = static_cast<unsigned>(get_bits(qw[0], fmt::kDescPdevMipHi, fmt::kDescPdevMipLo));
  const auto pasid = static_cast<uint32_t>(get_bits(qw[0], fmt::kDescPasidHi, fmt::kDescPasidLo));
  // PFSID, as for 0x3, only names the VF's PF.
  const ats::Range range = ats::decode_range(qw[1], get_bit(qw[1], fmt::kDescPdevS));
  invalidate_device_tlb(sid, depth, range, true, pasid, get_bit(qw[1], fmt::kDescPdevG), delay);
  return fmt::kIqeiNone;
}

bool Iommu::invalidate_device_tlb(uint16_t sid, unsigned queue_depth, const ats::Range& range,
                                  bool has_pasid, uint32_t pasid, bool global, sc_time& delay) {
  IommuAts& a = *m_ats;
  const sc_time now = sc_core::sc_time_stamp();
  auto& pending = a.outstanding[sid];
  while (!pending.empty() && pending.front() <= now + delay) pending.pop_front();
  // The function holds at most `queue_depth` invalidations: beyond that, wait for its oldest.
  const size_t depth = queue_depth == 0 ? 32 : queue_depth;
  if (pending.size() >= depth) {
    a.queue_depth_stalls.inc();
    delay = pending.front() - now;
    while (!pending.empty() && pending.front() <= now + delay) pending.pop_front();
  }
  const sc_time sent = delay;
  if (m_vcd) m_vcd->pulse(a.sig_invalidate, now_ps(delay));
  a.invalidations.inc();

  bool completed = false;
  if (ats_invalidation.size() > 0) {
    uint64_t body = set_bit(ats::encode_invalidate(range), ats::kInvGlobal, has_pasid && global);
    tlm::tlm_generic_payload p;
    PcieExtension ext(sid);
    ext.has_pasid = has_pasid;
    ext.pasid = pasid;
    p.set_extension(&ext);
    p.set_command(tlm::TLM_WRITE_COMMAND);
    p.set_address(0);
    p.set_data_ptr(reinterpret_cast<unsigned char*>(&body));
    p.set_data_length(8);
    p.set_streaming_width(8);
    p.set_byte_enable_ptr(nullptr);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_time done = delay;
    ats_invalidation->b_transport(p, done);
    p.clear_extension(&ext);
    completed = p.is_response_ok();
    if (completed) {
      const sc_time at = now + std::max(done, sent);
      pending.push_back(at);
      a.latest_completion = std::max(a.latest_completion, at);
      a.invalidation_latency.add(to_ps(at - (now + sent)));
      if (m_vcd) {
        m_vcd->add(a.sig_pending, now_ps(sent), 1);
        m_vcd->add(a.sig_pending, to_ps(at), -1);
      }
    }
  }
  if (completed) return true;
  // No completion will come: the invalidation times out. ITE is an interrupt condition like
  // IQE; the queue stops behind this descriptor until software clears it.
  a.invalidation_timeouts.inc();
  const uint32_t before = fsts();
  m_fsts_sticky |= fmt::kFstsIte;
  if (!(before & fmt::kFstsEventConditions)) signal_fault_event(delay);
  return false;
}

void Iommu::wait_device_tlb_invalidations(sc_time& delay) {
  IommuAts& a = *m_ats;
  const sc_time now = sc_core::sc_time_stamp();
  if (a.latest_completion > now + delay) {
    const sc_time stall = a.latest_completion - (now + delay);
    a.wait_stall.add(to_ps(stall));
    delay += stall;
  }
  a.outstanding.clear();
}

}  // namespace iommu_sim
