#include "iommu_sim/host/interrupt_sink.h"

#include <cstring>

namespace iommu_sim {

InterruptSink::InterruptSink(sc_core::sc_module_name name, StatsRegistry& stats)
    : sc_module(name),
      socket("socket"),
      m_interrupts(stats.counter(std::string(this->name()) + ".interrupts")),
      m_malformed(stats.counter(std::string(this->name()) + ".malformed")) {
  socket.register_b_transport(this, &InterruptSink::b_transport);
  socket.register_transport_dbg(this, &InterruptSink::transport_dbg);
}

void InterruptSink::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  uint64_t addr = trans.get_address();
  if (addr < kMsiBase) addr += kMsiBase;  // a relative window on the host bus
  // An interrupt message is a DWORD write; anything else is an error the sender sees.
  if (!trans.is_write() || trans.get_data_length() != 4 || addr < kMsiBase ||
      addr >= kMsiBase + kMsiSize) {
    m_malformed.inc();
    trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  MsiMessage msg;
  msg.address = addr;
  std::memcpy(&msg.data, trans.get_data_ptr(), 4);
  msg.time = sc_core::sc_time_stamp() + delay;
  m_received.push_back(msg);
  m_interrupts.inc();
  for (auto& fn : m_listeners) fn(msg);
  m_event.notify(delay);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned int InterruptSink::transport_dbg(int, tlm::tlm_generic_payload&) { return 0; }

}  // namespace iommu_sim
