// Register access over a TLM initiator socket: the MmioAccess that host software (the table
// programmer, the PCIe and interrupt set-up) runs on. Offsets are added to `base`.
//
// What an access's annotated delay means is the owner's to say: a host thread waits it out, a
// CPU model charges it as busy time; without `on_delay` it is dropped (set-up driven from
// sc_main, tests). `on_pause` is what a poll loop does between polls.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <utility>

#include <systemc>
#include <tlm>

#include "iommu_sim/host/vtd_tables.h"

namespace iommu_sim {

class SocketMmio : public MmioAccess {
 public:
  using DelayFn = std::function<void(const sc_core::sc_time&)>;

  explicit SocketMmio(tlm::tlm_initiator_socket<>& socket, uint64_t base = 0, DelayFn on_delay = {},
                      std::function<void()> on_pause = {})
      : m_socket(socket), m_base(base), m_on_delay(std::move(on_delay)), m_on_pause(std::move(on_pause)) {}

  uint64_t read(uint64_t offset, unsigned size) override {
    return access(tlm::TLM_READ_COMMAND, offset, 0, size);
  }
  void write(uint64_t offset, uint64_t value, unsigned size) override {
    access(tlm::TLM_WRITE_COMMAND, offset, value, size);
  }
  void poll_pause() override {
    if (m_on_pause) m_on_pause();
  }

 private:
  uint64_t access(tlm::tlm_command cmd, uint64_t offset, uint64_t value, unsigned size) {
    uint8_t data[8] = {};
    std::memcpy(data, &value, size);
    tlm::tlm_generic_payload trans;
    trans.set_command(cmd);
    trans.set_address(m_base + offset);
    trans.set_data_ptr(data);
    trans.set_data_length(size);
    trans.set_streaming_width(size);
    trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    m_socket->b_transport(trans, delay);
    if (m_on_delay) m_on_delay(delay);
    uint64_t out = 0;
    std::memcpy(&out, data, size);
    return out;
  }

  tlm::tlm_initiator_socket<>& m_socket;
  uint64_t m_base;
  DelayFn m_on_delay;
  std::function<void()> m_on_pause;
};

}  // namespace iommu_sim
