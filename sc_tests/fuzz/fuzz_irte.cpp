// Random interrupt-remapping tables and posted-interrupt descriptors: the input gives memory
// (IRT entries and descriptors), IRTA (base, size, x2APIC mode), whether compatibility format
// passes, and then interrupt requests from any requester with any address and data in the
// interrupt window. Each one is delivered, posted or blocked with a fault: never a crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <vector>

#include "fuzz_iommu_bench.h"

using namespace iommu_sim;
using namespace iommu_sim::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IommuBench& b = IommuBench::get();
  b.reset();
  FuzzedDataProvider in(data, size);
  b.load_memory(in, 32, 256);
  // IRTA: mostly inside memory, sometimes anywhere.
  uint64_t irta = in.ConsumeIntegral<uint64_t>();
  if (!in.ConsumeBool()) irta = (irta & 0xFFF) | (irta & (IommuBench::kMemSize - 1) & ~0xFFFULL);
  b.reg_write(vtd::kRegIrta, irta, 8);
  b.reg_write(vtd::kRegGcmd, vtd::kGcmdSirtp, 4);
  const uint32_t cfi = in.ConsumeBool() ? vtd::kGcmdCfi : 0;
  b.reg_write(vtd::kRegGcmd, vtd::kGcmdIre | cfi, 4);
  for (unsigned step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    uint8_t buf[8] = {};
    const uint64_t msi = in.ConsumeIntegral<uint64_t>();
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<uint8_t>(msi >> (8 * i));
    const uint64_t addr = irte::kWindowBase | (in.ConsumeIntegral<uint32_t>() & (irte::kWindowSize - 1));
    const unsigned len = in.ConsumeIntegralInRange<unsigned>(1, 8);
    const double blocked = b.stat("ir.blocked");
    const auto status = b.access(in.ConsumeIntegral<uint16_t>(), addr, buf, len, true);
    require(status == tlm::TLM_OK_RESPONSE || status == tlm::TLM_ADDRESS_ERROR_RESPONSE ||
                status == tlm::TLM_GENERIC_ERROR_RESPONSE || status == tlm::TLM_BURST_ERROR_RESPONSE,
            "an interrupt request completes or is refused");
    if (status == tlm::TLM_ADDRESS_ERROR_RESPONSE)
      require(b.stat("ir.blocked") >= blocked, "a blocked interrupt request is counted");
  }
  return 0;
}
