#include "iommu_sim/pcie/ats_client.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "iommu_sim/common/sim_time.h"

namespace iommu_sim {

using sc_core::sc_time;

std::string validate(const AtsClientConfig& c) {
  const std::string err = validate(c.devtlb);
  return err.empty() ? "" : "devtlb." + err;
}

namespace {
const AtsClientConfig& checked(const AtsClientConfig& c) {
  const std::string err = validate(c);
  if (!err.empty()) throw std::invalid_argument("ATS: " + err);
  return c;
}
}  // namespace

AtsClient::AtsClient(const AtsClientConfig& config, StatsRegistry& stats, const std::string& prefix)
    : m_config(checked(config)),
      m_devtlb(config.devtlb),
      m_translation_requests(stats.counter(prefix + ".translation_requests")),
      m_translation_failures(stats.counter(prefix + ".translation_failures")),
      m_fallbacks(stats.counter(prefix + ".untranslated_fallbacks")),
      m_translated(stats.counter(prefix + ".translated_requests")),
      m_invalidate_requests(stats.counter(prefix + ".invalidate_requests")),
      m_round_trip(stats.histogram(prefix + ".translation_latency", "ps")) {
  register_cache_stats(stats, prefix + ".devtlb", m_devtlb.stats());
}

void AtsClient::set_function_state(std::function<bool()> enabled, std::function<unsigned()> stu_log2) {
  m_enabled = std::move(enabled);
  m_stu_log2 = std::move(stu_log2);
}

void AtsClient::trace_to(VcdWriter& vcd, const std::string& scope) {
  m_vcd = &vcd;
  m_sig_hit = vcd.add_signal(scope, "devtlb_hit", 1);
  m_sig_miss = vcd.add_signal(scope, "devtlb_miss", 1);
  m_sig_request = vcd.add_signal(scope, "translation_request", 1);
  m_sig_invalidate = vcd.add_signal(scope, "invalidate_request", 1);
}

uint64_t AtsClient::now_ps(const sc_time& delay) const {
  return to_ps(sc_core::sc_time_stamp() + delay);
}

void AtsClient::trace(IotlbOp::Kind kind, uint16_t rid, const IotlbEntry& e, unsigned am) {
  IotlbOp op;
  op.kind = kind;
  op.entry = e;
  op.entry.domain = rid;
  op.am = am;
  m_trace->write(op);
}

AtsClient::Route AtsClient::route(uint16_t rid, uint64_t address, bool write, const Send& send,
                                  sc_time& delay) {
  m_last_rid = rid;
  delay += m_config.lookup_latency;
  const uint64_t vpn = address >> 12;
  std::optional<IotlbEntry> entry = m_devtlb.lookup(vpn);
  const bool hit = entry && (write ? entry->write : entry->read);
  if (m_vcd) m_vcd->pulse(hit ? m_sig_hit : m_sig_miss, now_ps(delay));

  Route r;
  if (!hit) {
    // A translation request for the STU-sized block holding the address.
    const unsigned stu = m_stu_log2 ? std::max(12u, m_stu_log2()) : 12u;
    const uint64_t block = stu >= 64 ? 0 : address & ~((1ULL << stu) - 1);
    uint64_t completion = 0;
    tlm::tlm_generic_payload p;
    PcieExtension ext(rid, AddressType::TranslationRequest);
    p.set_extension(&ext);
    p.set_command(tlm::TLM_READ_COMMAND);
    p.set_address(block);
    p.set_data_ptr(reinterpret_cast<unsigned char*>(&completion));
    p.set_data_length(8);
    p.set_streaming_width(8);
    p.set_byte_enable_ptr(nullptr);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    m_translation_requests.inc();
    if (m_vcd) m_vcd->pulse(m_sig_request, now_ps(delay));
    const sc_time before = delay;
    send(p, delay);
    p.clear_extension(&ext);
    m_round_trip.add(to_ps(delay - before));
    if (!p.is_response_ok()) {
      m_translation_failures.inc();
      r.status = p.get_response_status();
      return r;
    }
    const ats::Translation t = ats::decode_completion(completion, block);
    entry = t.range.contains(address) ? m_devtlb.fill(t, address) : std::nullopt;
    if (!entry || !(write ? entry->write : entry->read)) {
      // Not allowed (or not for this device to translate): the IOMMU decides, and records.
      m_fallbacks.inc();
      r.address = address;
      r.type = AddressType::Untranslated;
      return r;
    }
  }
  if (m_trace) trace(IotlbOp::Access, rid, *entry);
  m_translated.inc();
  const unsigned shift = 12 + page_shift_pages(entry->size);
  const uint64_t offset = address & ((1ULL << shift) - 1);
  r.address = (entry->pfn << 12) + offset;
  r.type = AddressType::Translated;
  r.bytes = (1ULL << shift) - offset;
  return r;
}

void AtsClient::handle_invalidation(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  if (!trans.is_write() || trans.get_data_length() != 8 || !ext) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  uint64_t body = 0;
  std::memcpy(&body, trans.get_data_ptr(), 8);
  ats::Range range = ats::decode_invalidate(body);
  // Nothing smaller than the STU is ever cached or invalidated on its own.
  const unsigned stu = m_stu_log2 ? std::max(12u, m_stu_log2()) : 12u;
  if (range.log2_bytes < stu) {
    range.log2_bytes = stu;
    range.base = stu >= 64 ? 0 : range.base & ~((1ULL << stu) - 1);
  }
  m_invalidate_requests.inc();
  if (m_vcd) m_vcd->pulse(m_sig_invalidate, now_ps(delay));
  // The device-TLB caches translations requested without a PASID only: a request with a PASID
  // (descriptor 0x8) has nothing to remove, and is completed all the same.
  if (!ext->has_pasid) m_devtlb.invalidate(range);
  if (m_trace && !ext->has_pasid) {
    IotlbEntry e;
    if (range.all()) {
      trace(IotlbOp::InvalidateDomain, ext->requester_id, e);
    } else {
      e.vpn = range.base >> 12;
      trace(IotlbOp::InvalidatePages, ext->requester_id, e, range.log2_bytes - 12);
    }
  }
  delay += m_config.invalidation_latency;
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

AtsInvalidationPort::AtsInvalidationPort(sc_core::sc_module_name name, AtsClient& client,
                                         uint16_t requester_id)
    : sc_module(name), in("in"), m_client(client), m_requester_id(requester_id) {
  in.register_b_transport(this, &AtsInvalidationPort::b_transport);
}

void AtsInvalidationPort::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  if (!ext || ext->requester_id != m_requester_id) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  m_client.handle_invalidation(trans, delay);
}

void AtsClient::flush() {
  m_devtlb.invalidate_all();
  if (m_trace) trace(IotlbOp::InvalidateDomain, m_last_rid, IotlbEntry{});
}

}  // namespace iommu_sim
