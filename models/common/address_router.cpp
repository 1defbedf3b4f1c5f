#include "iommu_sim/common/address_router.h"

#include <algorithm>
#include <stdexcept>

#include "iommu_sim/common/messages.h"

namespace iommu_sim {

AddressRouter::AddressRouter(sc_core::sc_module_name name)
    : sc_module(name), target("target", *this), initiator("initiator") {
  initiator.register_invalidate_direct_mem_ptr(this, &AddressRouter::invalidate_direct_mem_ptr);
}

int AddressRouter::add_window(const std::string& name, uint64_t base, uint64_t size,
                               bool relative, int binding) {
  for (const Window& w : m_windows) {
    if (base < w.base + w.size && w.base < base + size)
      report_config_error(std::string(this->name()) + ": address window '" + name + "' overlaps '" + w.name + "'");
  }
  if (binding < 0) binding = m_bindings;
  m_bindings = std::max(m_bindings, binding + 1);
  m_windows.push_back(Window{name, base, size, relative, binding});
  return binding;
}

const AddressRouter::Window* AddressRouter::decode(uint64_t addr, uint64_t len, int& index) const {
  // The whole access must lie in one window: one that runs off its end would reach whatever the
  // target has beyond the window. One that runs past 2^64 goes to the window of its first byte,
  // whose target refuses it (the IOMMU records an address-width fault, memory an address error).
  const uint64_t extent = len ? len - 1 : 0;
  const bool wraps = extent > UINT64_MAX - addr;
  for (size_t i = 0; i < m_windows.size(); ++i) {
    const Window& w = m_windows[i];
    if (addr >= w.base && addr - w.base < w.size &&
        (wraps || extent <= w.size - 1 - (addr - w.base))) {
      index = w.binding;
      return &w;
    }
  }
  return nullptr;
}

void AddressRouter::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  int index = -1;
  const uint64_t addr = trans.get_address();
  const Window* w = decode(addr, trans.get_data_length(), index);
  if (!w) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (w->relative) trans.set_address(addr - w->base);
  initiator[index]->b_transport(trans, delay);
  trans.set_address(addr);
}

unsigned int AddressRouter::transport_dbg(tlm::tlm_generic_payload& trans) {
  int index = -1;
  const uint64_t addr = trans.get_address();
  const Window* w = decode(addr, trans.get_data_length(), index);
  if (!w) return 0;
  if (w->relative) trans.set_address(addr - w->base);
  const unsigned n = initiator[index]->transport_dbg(trans);
  trans.set_address(addr);
  return n;
}

bool AddressRouter::get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  int index = -1;
  const uint64_t addr = trans.get_address();
  const Window* w = decode(addr, 1, index);
  if (!w) return false;
  if (w->relative) trans.set_address(addr - w->base);
  const bool ok = initiator[index]->get_direct_mem_ptr(trans, dmi);
  trans.set_address(addr);
  if (w->relative) {
    dmi.set_start_address(dmi.get_start_address() + w->base);
    dmi.set_end_address(dmi.get_end_address() + w->base);
  }
  return ok;
}

void AddressRouter::invalidate_direct_mem_ptr(int id, sc_dt::uint64 start, sc_dt::uint64 end) {
  for (const Window& w : m_windows) {
    if (w.binding != id) continue;
    const uint64_t s = w.relative ? start + w.base : start;
    const uint64_t e = w.relative ? end + w.base : end;
    for (int i = 0; i < target.size(); ++i) target[i]->invalidate_direct_mem_ptr(s, e);
  }
}

}  // namespace iommu_sim
