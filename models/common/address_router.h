// Address decoder: one or more initiators in, a target per address window out. Each window is
// [base, base + size) and forwards either the full address or the offset inside the window.
// Unmapped addresses answer TLM_ADDRESS_ERROR_RESPONSE.
#pragma once

#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>

#include "iommu_sim/common/direct_target_socket.h"

namespace iommu_sim {

class AddressRouter : public sc_core::sc_module {
 public:
  DirectTargetSocket<AddressRouter, 0> target;  // any number of initiators
  tlm_utils::multi_passthrough_initiator_socket<AddressRouter> initiator;

  explicit AddressRouter(sc_core::sc_module_name name);

  // The window goes to binding `binding` of `initiator`; by default (-1) to the next binding not
  // yet used by a window, so windows and bindings are made in the same order. Several windows
  // may share a binding (a target with two address ranges). A window that overlaps an
  // existing one is an SC_ERROR of type msg::kConfig (report_config_error). Returns the binding used.
  int add_window(const std::string& name, uint64_t base, uint64_t size, bool relative,
                  int binding = -1);

 private:
  template <class, int>
  friend class DirectTargetSocket;
  struct Window {
    std::string name;
    uint64_t base, size;
    bool relative;
    int binding;
  };
  // The window that holds all of [addr, addr + len) (len 0 counts as 1), or null.
  const Window* decode(uint64_t addr, uint64_t len, int& index) const;
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  void invalidate_direct_mem_ptr(int id, sc_dt::uint64 start, sc_dt::uint64 end);

  std::vector<Window> m_windows;
  int m_bindings = 0;  // bindings handed out to windows so far
};

}  // namespace iommu_sim
