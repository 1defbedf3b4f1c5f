// Sideband on the interrupt messages the IOMMU sends out of its `interrupt` socket. The message
// itself is a DWORD write of the data to a compatibility-format address (what an xAPIC bus would
// carry); this extension adds what that format cannot hold (a 32-bit x2APIC destination) and what
// measurements need (the time the device's MSI write reached the IOMMU). Receivers that do not
// know it still see a well-formed MSI.
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>

namespace iommu_sim {

class InterruptMessage : public tlm::tlm_extension<InterruptMessage> {
 public:
  enum class Kind : uint8_t {
    Compatibility,  // passed unremapped
    Remapped,       // built from a remapped-format IRTE
    Notification,   // a posted-interrupt notification (vector NV to NDST)
    Event,          // the IOMMU's own fault or invalidation-completion event
  };

  Kind kind = Kind::Compatibility;
  uint8_t vector = 0;
  uint32_t destination = 0;  // APIC ID (x2APIC: 32 bits)
  bool dest_mode = false;    // 1 = logical
  uint8_t delivery_mode = 0;
  uint16_t source_id = 0;    // requester ID of the MSI write
  uint16_t index = 0;        // IRTE index (remapped, notification)
  uint64_t pda = 0;          // posted-descriptor address (notification)
  sc_core::sc_time request_time;  // when the MSI write reached the IOMMU

  tlm::tlm_extension_base* clone() const override { return new InterruptMessage(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const InterruptMessage&>(other);
  }
};

}  // namespace iommu_sim
