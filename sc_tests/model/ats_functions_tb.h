// The PCIe functions below the IOMMU's `ats_invalidation` socket, as its invalidate requests see
// them: each request is recorded (requester ID, PASID, Global Invalidate, range, when it arrived
// and when its completion came back) and completed `latency` later, unless the functions are
// absent (no completion: the IOMMU times the invalidation out).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/common/pcie_extension.h"

namespace iommu_sim {
namespace test {

class AtsFunctions : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<AtsFunctions> socket;
  struct Request {
    uint16_t rid;
    ats::Range range;
    sc_core::sc_time arrived, completed;  // absolute
    bool has_pasid = false;
    uint32_t pasid = 0;
    bool global = false;  // the body's Global Invalidate bit
  };
  std::vector<Request> requests;
  sc_core::sc_time latency{5000, sc_core::SC_NS};
  bool present = true;

  explicit AtsFunctions(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &AtsFunctions::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& p, sc_core::sc_time& delay) {
    const PcieExtension* ext = p.get_extension<PcieExtension>();
    REQUIRE(ext);
    REQUIRE(p.is_write());
    REQUIRE(p.get_data_length() == 8);
    if (!present) {
      p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    uint64_t body = 0;
    std::memcpy(&body, p.get_data_ptr(), 8);
    const sc_core::sc_time arrived = sc_core::sc_time_stamp() + delay;
    delay += latency;
    Request r{ext->requester_id, ats::decode_invalidate(body), arrived, sc_core::sc_time_stamp() + delay};
    r.has_pasid = ext->has_pasid;
    r.pasid = ext->pasid;
    r.global = get_bit(body, ats::kInvGlobal);
    requests.push_back(r);
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

}  // namespace test
}  // namespace iommu_sim
