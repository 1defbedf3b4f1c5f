// A TLM-2.0 memory manager for the payloads an initiator sends upstream: payloads are taken from
// a free list and go back to it when the last holder releases them, instead of being built and
// destroyed per transaction. Each carries its PcieExtension for good (a sticky extension, owned
// by the payload and deleted with it), which the sender fills in per transaction.
//
//   tlm::tlm_generic_payload& trans = pool.acquire();  // one reference, held by the caller
//   PcieExtension& ext = PayloadPool::pcie(trans);
//   ... fill in trans and ext, socket->b_transport(trans, delay) ...
//   trans.release();                                    // back to the pool unless a target kept it
//
// A target that keeps a payload past the call (acquire()) holds it out of the pool until it
// releases it; the pool then hands out another.
#pragma once

#include <memory>
#include <vector>

#include <tlm>

#include "iommu_sim/common/pcie_extension.h"

namespace iommu_sim {

class PayloadPool : public tlm::tlm_mm_interface {
 public:
  PayloadPool() = default;
  PayloadPool(const PayloadPool&) = delete;
  PayloadPool& operator=(const PayloadPool&) = delete;
  ~PayloadPool() override = default;

  // A payload with a reference count of one and its PcieExtension attached. Its attributes are
  // whatever its last use left: set every one the transaction needs.
  tlm::tlm_generic_payload& acquire() {
    tlm::tlm_generic_payload* trans;
    if (m_free.empty()) {
      m_all.push_back(std::make_unique<tlm::tlm_generic_payload>(this));
      trans = m_all.back().get();
      trans->set_extension(new PcieExtension());
    } else {
      trans = m_free.back();
      m_free.pop_back();
    }
    trans->acquire();
    return *trans;
  }

  // The PcieExtension of a payload this pool handed out.
  static PcieExtension& pcie(tlm::tlm_generic_payload& trans) {
    return *trans.get_extension<PcieExtension>();
  }

  // tlm_mm_interface: called by release() when the last reference goes.
  void free(tlm::tlm_generic_payload* trans) override {
    trans->reset();  // drops the extensions targets added with set_auto_extension
    m_free.push_back(trans);
  }

  size_t size() const { return m_all.size(); }

 private:
  std::vector<std::unique_ptr<tlm::tlm_generic_payload>> m_all;  // every payload, to delete them
  std::vector<tlm::tlm_generic_payload*> m_free;
};

}  // namespace iommu_sim
