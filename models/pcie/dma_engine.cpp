#include "iommu_sim/pcie/dma_engine.h"

#include <string>

#include "iommu_sim/common/sim_time.h"

namespace iommu_sim {

DmaEngine::DmaEngine(sc_core::sc_module_name name, uint16_t requester_id,
                     std::unique_ptr<Workload> workload, StatsRegistry& stats)
    : sc_module(name),
      socket("socket"),
      m_requester_id(requester_id),
      m_workload(std::move(workload)),
      m_dmas(stats.counter(std::string(this->name()) + ".dmas")),
      m_bytes(stats.counter(std::string(this->name()) + ".bytes")),
      m_errors(stats.counter(std::string(this->name()) + ".errors")),
      m_msix(stats.counter(std::string(this->name()) + ".msix")),
      m_msix_pending(stats.counter(std::string(this->name()) + ".msix_pending")),
      m_latency(stats.histogram(std::string(this->name()) + ".latency", "ps")) {
  SC_THREAD(run_thread);
  SC_THREAD(msix_thread);
}

void DmaEngine::run_thread() {
  m_qk.reset();
  if (m_start_delay > sc_core::SC_ZERO_TIME) sc_core::wait(m_start_delay);
  if (m_gate && m_gate_changed) {
    while (!m_gate()) sc_core::wait(*m_gate_changed);
  }
  if (m_workload) m_workload->run(*this);
  // Bring the kernel up to the engine's local time so done() fires when the work really ended.
  m_qk.sync();
  m_finished = true;
  m_done.notify(sc_core::SC_ZERO_TIME);
}

void DmaEngine::msix_thread() {
  for (;;) {
    while (m_posted.empty()) sc_core::wait(m_posted_event);
    const MsixMessage msg = m_posted.front();
    m_posted.pop_front();
    // This thread keeps no local time of its own: it sends at the current kernel time.
    tlm::tlm_generic_payload trans;
    PcieExtension ext(m_requester_id);
    uint32_t data = msg.data;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    trans.set_command(tlm::TLM_WRITE_COMMAND);
    trans.set_address(msg.address);
    trans.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
    trans.set_data_length(4);
    trans.set_streaming_width(4);
    trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    trans.set_extension(&ext);
    socket->b_transport(trans, delay);
    trans.clear_extension(&ext);
    m_msix.inc();
    if (!trans.is_response_ok()) m_errors.inc();
    sc_core::wait(delay);
  }
}

void DmaEngine::post_msix(const MsixMessage& msg) {
  m_posted.push_back(msg);
  m_posted_event.notify(sc_core::SC_ZERO_TIME);
}

tlm::tlm_response_status DmaEngine::send(tlm::tlm_command cmd, uint64_t addr, uint8_t* data,
                                         uint32_t len, AddressType type, sc_core::sc_time& delay,
                                         bool is_msix) {
  tlm::tlm_generic_payload& trans = m_payloads.acquire();
  PcieExtension& ext = PayloadPool::pcie(trans);
  ext = PcieExtension(m_requester_id, type);
  if (m_has_pasid && !is_msix) {
    ext.has_pasid = true;
    ext.pasid = m_pasid;
    ext.privileged = m_privileged;
  }
  trans.set_command(cmd);
  trans.set_address(addr);
  trans.set_data_ptr(data);
  trans.set_data_length(len);
  trans.set_streaming_width(len);
  trans.set_byte_enable_ptr(nullptr);
  trans.set_byte_enable_length(0);
  trans.set_dmi_allowed(false);
  trans.set_gp_option(tlm::TLM_MIN_PAYLOAD);
  trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  socket->b_transport(trans, delay);
  const tlm::tlm_response_status status = trans.get_response_status();
  trans.release();
  return status;
}

tlm::tlm_response_status DmaEngine::send_with_ats(tlm::tlm_command cmd, uint64_t addr,
                                                  uint8_t* data, uint32_t len,
                                                  sc_core::sc_time& delay) {
  const AtsClient::Send upstream = [this](tlm::tlm_generic_payload& p, sc_core::sc_time& d) {
    socket->b_transport(p, d);
  };
  const bool write = cmd == tlm::TLM_WRITE_COMMAND;
  // A translation covers a naturally aligned range: a DMA crossing its end continues with the
  // next translation.
  for (uint32_t done = 0; done < len;) {
    const AtsClient::Route r = m_ats->route(m_requester_id, addr + done, write, upstream, delay);
    if (r.status != tlm::TLM_OK_RESPONSE) return r.status;
    uint32_t n = len - done;
    if (r.bytes != 0 && r.bytes < n) n = static_cast<uint32_t>(r.bytes);
    if (r.type == AddressType::Untranslated) n = len - done;  // the IOMMU splits what it must
    const tlm::tlm_response_status s = send(cmd, r.address, data + done, n, r.type, delay);
    if (s != tlm::TLM_OK_RESPONSE) return s;
    done += n;
  }
  return tlm::TLM_OK_RESPONSE;
}

tlm::tlm_response_status DmaEngine::transport(tlm::tlm_command cmd, uint64_t addr,
                                              uint8_t* data, uint32_t len, bool is_msix,
                                              AddressType at) {
  const sc_core::sc_time before = m_qk.get_local_time();
  sc_core::sc_time delay = before;
  // Interrupt messages go untranslated, as ATS leaves them; a request the workload itself marks
  // as translated goes as it is, whatever the ATS client holds. The device-TLB holds no PASID's
  // translations: DMA with a PASID goes untranslated too.
  const tlm::tlm_response_status status =
      m_ats && !is_msix && !m_has_pasid && at == AddressType::Untranslated && m_ats->enabled()
          ? send_with_ats(cmd, addr, data, len, delay)
          : send(cmd, addr, data, len, at, delay, is_msix);

  // A target that wrongly moves time backwards must not make the latency wrap.
  const sc_core::sc_time took = delay > before ? delay - before : sc_core::SC_ZERO_TIME;
  // Every transaction occupies the link for at least the time resolution: with every latency
  // at zero, simulated time would otherwise never advance, and neither the quantum nor
  // simulation.max_time_us could ever end the run.
  m_qk.set(delay > before ? delay : before + sc_core::sc_get_time_resolution());
  if (m_qk.need_sync()) m_qk.sync();

  if (is_msix) {
    m_msix.inc();
  } else {
    m_dmas.inc();
    m_bytes.inc(len);
    m_latency.add(to_ps(took));
  }
  if (status != tlm::TLM_OK_RESPONSE) m_errors.inc();
  return status;
}

tlm::tlm_response_status DmaEngine::read(uint64_t addr, uint8_t* data, uint32_t len) {
  return transport(tlm::TLM_READ_COMMAND, addr, data, len, false);
}

tlm::tlm_response_status DmaEngine::write(uint64_t addr, const uint8_t* data, uint32_t len) {
  // TLM's data pointer is not const; a write target only reads it.
  return transport(tlm::TLM_WRITE_COMMAND, addr, const_cast<uint8_t*>(data), len, false);
}

tlm::tlm_response_status DmaEngine::translated(bool write, uint64_t addr, uint8_t* data,
                                               uint32_t len) {
  return transport(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, addr, data, len, false,
                   AddressType::Translated);
}

void DmaEngine::delay(const sc_core::sc_time& t) {
  m_qk.inc(t);
  if (m_qk.need_sync()) m_qk.sync();
}

sc_core::sc_time DmaEngine::now() const { return m_qk.get_current_time(); }

void DmaEngine::send_msix(const MsixMessage& msg) {
  uint32_t data = msg.data;
  transport(tlm::TLM_WRITE_COMMAND, msg.address, reinterpret_cast<uint8_t*>(&data), 4, true);
}

bool DmaEngine::raise_msix(unsigned vector) {
  if (!m_msix_table) return false;
  MsixMessage msg;
  switch (m_msix_table->trigger(vector, msg)) {
    case MsixTable::Trigger::Sent:
      send_msix(msg);
      return true;
    case MsixTable::Trigger::Pending:
      m_msix_pending.inc();
      return true;
    case MsixTable::Trigger::Disabled:
      return true;
    case MsixTable::Trigger::NoSuchVector:
      break;
  }
  return false;
}

}  // namespace iommu_sim
