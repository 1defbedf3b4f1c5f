// The host's interrupt sink: every message-signalled interrupt (a 32-bit write to the
// 0xFEE00000-0xFEEFFFFF window, from the IOMMU's fault and completion events or from devices
// whose MSI-X is not remapped) ends here. It decodes the compatibility-format MSI address and
// data, counts per vector and lets listeners react (the host driver waits on fault events).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include "iommu_sim/common/stats.h"

namespace iommu_sim {

struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;
  sc_core::sc_time time;       // when it arrived (kernel time + annotated delay)
  uint8_t vector() const { return data & 0xFF; }
  uint8_t destination() const { return (address >> 12) & 0xFF; }  // xAPIC destination ID
};

class InterruptSink : public sc_core::sc_module {
 public:
  static constexpr uint64_t kMsiBase = 0xFEE00000;
  static constexpr uint64_t kMsiSize = 0x100000;

  // Bound by the host bus (relative addressing not required: full addresses are accepted).
  tlm_utils::multi_passthrough_target_socket<InterruptSink> socket;

  InterruptSink(sc_core::sc_module_name name, StatsRegistry& stats);

  const std::vector<MsiMessage>& received() const { return m_received; }
  void on_interrupt(std::function<void(const MsiMessage&)> fn) { m_listeners.push_back(std::move(fn)); }
  const sc_core::sc_event& interrupt_event() const { return m_event; }

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int transport_dbg(int id, tlm::tlm_generic_payload& trans);

  std::vector<MsiMessage> m_received;
  std::vector<std::function<void(const MsiMessage&)>> m_listeners;
  sc_core::sc_event m_event;
  Counter& m_interrupts;
  Counter& m_malformed;
};

}  // namespace iommu_sim
