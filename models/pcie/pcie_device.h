// What the root complex sees of a device below it: configuration access by routing ID, memory
// decode, and which routing ID each of its functions currently has. Plain C++.
#pragma once

#include <cstdint>
#include <optional>

namespace iommu_sim {

class PcieDevice {
 public:
  virtual ~PcieDevice() = default;
  // nullopt / false: no function of this device has that routing ID (unsupported request).
  virtual std::optional<uint32_t> config_read(uint16_t rid, uint16_t offset, unsigned len) = 0;
  virtual bool config_write(uint16_t rid, uint16_t offset, unsigned len, uint32_t value) = 0;
  // Whether an enabled BAR of one of the device's functions holds addr.
  virtual bool claims(uint64_t addr) const = 0;
  // The routing ID of function `function` (0 = PF) as configured now.
  virtual uint16_t routing_id(unsigned function) const = 0;
  // What the root port asks on every DMA: the function's routing ID when it may DMA now (exists
  // and has Bus Master Enable set), nullopt when it may not.
  virtual std::optional<uint16_t> dma_requester(unsigned function) const = 0;
  // Whether one of its present functions has routing ID `rid` (messages routed by ID).
  virtual bool owns(uint16_t rid) const = 0;
};

}  // namespace iommu_sim
