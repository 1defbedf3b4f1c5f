// DirectTargetSocket: a target socket that calls its model directly. It must behave as a TLM-2.0
// target socket to any initiator: blocking and debug transport, DMI, the non-blocking call of
// the base protocol, and several initiators bound to one target (memory, the address router).
#include <catch2/catch.hpp>

#include <cstring>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/stats.h"

using namespace iommu_sim;

namespace {

struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
};

void setup(tlm::tlm_generic_payload& p, tlm::tlm_command cmd, uint64_t addr, uint32_t* data) {
  p.set_command(cmd);
  p.set_address(addr);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(data));
  p.set_data_length(4);
  p.set_streaming_width(4);
  p.set_byte_enable_ptr(nullptr);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

}  // namespace

TEST_CASE("a direct target socket serves blocking, debug, DMI and non-blocking calls from several initiators",
          "[model]") {
  StatsRegistry stats;
  MemoryConfig config;
  config.read_latency = sc_core::sc_time(30, sc_core::SC_NS);
  config.write_latency = sc_core::sc_time(40, sc_core::SC_NS);
  MemoryTarget mem("mem", config, stats);
  Initiator a("a"), b("b");
  a.socket.bind(mem.socket);
  b.socket.bind(mem.socket);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);

  // Blocking write from one initiator, with the memory's latency annotated.
  uint32_t value = 0xC0FFEE11;
  tlm::tlm_generic_payload p;
  setup(p, tlm::TLM_WRITE_COMMAND, 0x1000, &value);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  a.socket->b_transport(p, delay);
  CHECK(p.get_response_status() == tlm::TLM_OK_RESPONSE);
  CHECK(delay == sc_core::sc_time(40, sc_core::SC_NS));

  // The other initiator reaches the same memory: debug read, then a non-blocking read that the
  // target completes at once.
  uint32_t seen = 0;
  setup(p, tlm::TLM_READ_COMMAND, 0x1000, &seen);
  CHECK(b.socket->transport_dbg(p) == 4);
  CHECK(seen == 0xC0FFEE11);
  seen = 0;
  setup(p, tlm::TLM_READ_COMMAND, 0x1000, &seen);
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  delay = sc_core::SC_ZERO_TIME;
  CHECK(b.socket->nb_transport_fw(p, phase, delay) == tlm::TLM_COMPLETED);
  CHECK(phase == tlm::BEGIN_RESP);
  CHECK(seen == 0xC0FFEE11);
  CHECK(delay == sc_core::sc_time(30, sc_core::SC_NS));
  CHECK(stats.value("mem.reads") == 1);  // the debug read is not counted
  CHECK(stats.value("mem.writes") == 1);

  // DMI: the page behind the address, with the memory's latencies.
  tlm::tlm_dmi dmi;
  setup(p, tlm::TLM_READ_COMMAND, 0x1004, &seen);
  REQUIRE(a.socket->get_direct_mem_ptr(p, dmi));
  CHECK(dmi.get_start_address() == 0x1000);
  CHECK(dmi.get_end_address() == 0x1FFF);
  CHECK(dmi.is_read_write_allowed());
  CHECK(dmi.get_read_latency() == sc_core::sc_time(30, sc_core::SC_NS));
  uint32_t direct = 0;
  std::memcpy(&direct, dmi.get_dmi_ptr(), 4);
  CHECK(direct == 0xC0FFEE11);
}

TEST_CASE("the address router's direct target socket routes from several initiators", "[model]") {
  StatsRegistry stats;
  MemoryTarget low("low", MemoryConfig{}, stats), high("high", MemoryConfig{}, stats);
  AddressRouter router("router");
  router.add_window("low", 0x0, 0x10000, false);
  router.add_window("high", 0x100000, 0x10000, true);  // offsets inside the window
  router.initiator.bind(low.socket);
  router.initiator.bind(high.socket);
  Initiator a("a"), b("b");
  a.socket.bind(router.target);
  b.socket.bind(router.target);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);

  uint32_t value = 0x12345678;
  tlm::tlm_generic_payload p;
  setup(p, tlm::TLM_WRITE_COMMAND, 0x100010, &value);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  a.socket->b_transport(p, delay);
  CHECK(p.get_response_status() == tlm::TLM_OK_RESPONSE);
  CHECK(p.get_address() == 0x100010);  // the initiator's address is given back
  CHECK(high.storage().read32(0x10) == 0x12345678);
  CHECK(low.storage().read32(0x10) == 0);

  uint32_t seen = 0;
  setup(p, tlm::TLM_READ_COMMAND, 0x100010, &seen);
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  delay = sc_core::SC_ZERO_TIME;
  CHECK(b.socket->nb_transport_fw(p, phase, delay) == tlm::TLM_COMPLETED);
  CHECK(seen == 0x12345678);

  setup(p, tlm::TLM_READ_COMMAND, 0x50000, &seen);  // no window
  delay = sc_core::SC_ZERO_TIME;
  b.socket->b_transport(p, delay);
  CHECK(p.get_response_status() == tlm::TLM_ADDRESS_ERROR_RESPONSE);
}
