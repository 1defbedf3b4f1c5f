// A TLM-2.0 target socket that is its own forward interface and calls its owner's member
// functions directly. tlm_utils' convenience sockets reach the owner through registered callbacks
// (a functor, then a pointer to member, with checks for the callback kinds on every call); every
// DMA crosses a few sockets, and on the per-DMA path that indirection costs as much as the work
// behind it.
//
// The owner provides, callable by the socket (make it a friend when they are private):
//   void b_transport(tlm::tlm_generic_payload&, sc_core::sc_time&);
//   unsigned int transport_dbg(tlm::tlm_generic_payload&);
//   bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&);
// The models are loosely timed: nb_transport_fw completes the transaction at once through
// b_transport (which must not wait()), as the base protocol allows.
//
// N = 0 accepts any number of initiators (they all reach the one owner; the backward path is
// then not addressable through this socket).
#pragma once

#include <systemc>
#include <tlm>

namespace iommu_sim {

template <class Owner, int N = 1>
class DirectTargetSocket : public tlm::tlm_target_socket<32, tlm::tlm_base_protocol_types, N>,
                           private tlm::tlm_fw_transport_if<tlm::tlm_base_protocol_types> {
  using Base = tlm::tlm_target_socket<32, tlm::tlm_base_protocol_types, N>;

 public:
  DirectTargetSocket(const char* name, Owner& owner) : Base(name), m_owner(owner) {
    Base::bind(static_cast<tlm::tlm_fw_transport_if<tlm::tlm_base_protocol_types>&>(*this));
  }
  const char* kind() const override { return "iommu_sim::DirectTargetSocket"; }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override {
    m_owner.b_transport(trans, delay);
  }
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) override {
    if (phase != tlm::BEGIN_REQ) return tlm::TLM_ACCEPTED;  // END_RESP: nothing left to do
    m_owner.b_transport(trans, delay);
    phase = tlm::BEGIN_RESP;
    return tlm::TLM_COMPLETED;
  }
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) override {
    return m_owner.get_direct_mem_ptr(trans, dmi);
  }
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans) override {
    return m_owner.transport_dbg(trans);
  }

  Owner& m_owner;
};

}  // namespace iommu_sim
