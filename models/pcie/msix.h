// MSI-X table and pending-bit array of one function. Plain C++.
//
// Table entry layout (16 bytes, little endian): +0 message address low, +4 message address high,
// +8 message data, +12 vector control (bit 0 = mask). The PBA holds one bit per vector.
// A message is a function of the table entry alone (msix_message()), so the interrupt remapper
// sees exactly what software programmed: a 32-bit write of the data to the address, on the DMA
// path of the function that owns the table.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace iommu_sim {

struct MsixMessage {
  uint64_t address = 0;
  uint32_t data = 0;
};

// The message one 16-byte table entry describes, or nothing when the entry is masked.
std::optional<MsixMessage> msix_message(const uint8_t* entry16);

class MsixTable {
 public:
  static constexpr unsigned kEntryBytes = 16;

  explicit MsixTable(unsigned vectors = 0);

  unsigned vectors() const { return m_vectors; }
  uint32_t table_bytes() const { return m_vectors * kEntryBytes; }
  // The PBA is a whole number of qwords.
  uint32_t pba_bytes() const { return ((m_vectors + 63) / 64) * 8; }

  // Register accesses from the BAR (offset inside the table or PBA; 4- or 8-byte aligned
  // accesses; anything else reads zero / is ignored). Unmasking an entry whose pending bit is
  // set delivers it: the caller gets the message back and sends it.
  uint64_t read_table(uint32_t offset, unsigned len) const;
  std::optional<MsixMessage> write_table(uint32_t offset, unsigned len, uint64_t value);
  uint64_t read_pba(uint32_t offset, unsigned len) const;

  // MSI-X Enable and Function Mask from the capability's message control.
  void set_enabled(bool on) { m_enabled = on; }
  bool enabled() const { return m_enabled; }
  std::optional<MsixMessage> set_function_mask(bool on);
  bool function_mask() const { return m_function_mask; }

  enum class Trigger { Sent, Pending, Disabled, NoSuchVector };
  // The device wants to signal `vector`: Sent with the message when it may go out now, Pending
  // when masked (the PBA bit is set and the message goes when unmasked), Disabled when MSI-X is
  // off (dropped, as a device with MSI-X disabled may not signal through it).
  Trigger trigger(unsigned vector, MsixMessage& out);

  bool pending(unsigned vector) const;

 private:
  bool entry_masked(unsigned vector) const;
  std::optional<MsixMessage> deliver_pending(unsigned vector);

  unsigned m_vectors;
  std::vector<uint8_t> m_table;
  std::vector<bool> m_pending;
  bool m_enabled = false;
  bool m_function_mask = false;
};

}  // namespace iommu_sim
