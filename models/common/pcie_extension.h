// PCIe sideband carried on every upstream TLM transaction: who sent it and what kind of address
// it carries. The root port stamps it; the IOMMU reads it.
#pragma once

#include <cstdint>
#include <tlm>

namespace iommu_sim {

enum class AddressType : uint8_t {
  Untranslated = 0,        // AT=00: an IOVA, to be translated
  TranslationRequest = 1,  // AT=01: an ATS translation request
  Translated = 2,          // AT=10: already translated by the device (ATS)
};

// Requester ID (bus<<8 | device<<3 | function), optional PASID (with its privilege), address type.
class PcieExtension : public tlm::tlm_extension<PcieExtension> {
 public:
  PcieExtension() = default;
  explicit PcieExtension(uint16_t rid, AddressType at = AddressType::Untranslated)
      : requester_id(rid), address_type(at) {}

  uint16_t requester_id = 0;
  bool has_pasid = false;
  uint32_t pasid = 0;       // 20 bits
  bool privileged = false;  // with a PASID: privileged-mode requested (a supervisor request)
  AddressType address_type = AddressType::Untranslated;

  uint8_t bus() const { return requester_id >> 8; }
  uint8_t devfn() const { return requester_id & 0xFF; }
  uint8_t device() const { return (requester_id >> 3) & 0x1F; }
  uint8_t function() const { return requester_id & 0x7; }

  tlm::tlm_extension_base* clone() const override { return new PcieExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const PcieExtension&>(other);
  }
};

inline uint16_t make_requester_id(unsigned bus, unsigned device, unsigned function) {
  return static_cast<uint16_t>(((bus & 0xFF) << 8) | ((device & 0x1F) << 3) | (function & 0x7));
}

namespace ats {
// An unsuccessful translation completion, as the TLM response status carries it (the formats of
// the ATS messages: common/ats_format.h).
constexpr tlm::tlm_response_status kUnsupportedRequest = tlm::TLM_ADDRESS_ERROR_RESPONSE;
constexpr tlm::tlm_response_status kCompleterAbort = tlm::TLM_GENERIC_ERROR_RESPONSE;
}  // namespace ats

}  // namespace iommu_sim
