// The register interface under any sequence of accesses: reads and writes of any size at any
// offset of the register block (and beyond it), with memory words and DMA / interrupt requests
// in between, so that the commands it starts (root-table latch, invalidations, the queue,
// interrupt remapping) run on whatever the input left in memory.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_iommu_bench.h"

using namespace iommu_sim;
using namespace iommu_sim::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IommuBench& b = IommuBench::get();
  b.reset();
  FuzzedDataProvider in(data, size);
  const uint64_t block = vtd::register_block_size(b.iommu.config().fault_records);
  for (unsigned step = 0; step < 256 && in.remaining_bytes() > 0; ++step) {
    switch (in.ConsumeIntegralInRange<unsigned>(0, 4)) {
      case 0: {  // a register write, mostly inside the block
        const uint64_t off = in.ConsumeIntegralInRange<uint64_t>(0, block + 16);
        const unsigned len = in.ConsumeBool() ? 8 : 4;
        b.reg_write(off, in.ConsumeIntegral<uint64_t>(), len);
        break;
      }
      case 1: {
        const uint64_t off = in.ConsumeIntegralInRange<uint64_t>(0, block + 16);
        b.reg_read(off, in.ConsumeBool() ? 8 : 4);
        break;
      }
      case 2: {  // a word of memory (tables, queue, IRT)
        const uint64_t addr = in.ConsumeIntegralInRange<uint64_t>(0, IommuBench::kMemSize - 8) & ~7ULL;
        b.memory().write64(addr, in.ConsumeIntegral<uint64_t>());
        break;
      }
      case 3: {  // a DMA
        uint8_t buf[64] = {};
        const uint16_t rid = in.ConsumeIntegral<uint16_t>();
        const uint64_t addr = in.ConsumeIntegral<uint64_t>();
        const unsigned len = in.ConsumeIntegralInRange<unsigned>(1, sizeof buf);
        const auto status = b.access(rid, addr, buf, len, in.ConsumeBool());
        require(status == tlm::TLM_OK_RESPONSE || status == tlm::TLM_ADDRESS_ERROR_RESPONSE,
                "a DMA completes or is refused as an address error");
        break;
      }
      case 4: {  // an interrupt request
        uint8_t buf[4];
        const uint32_t msi = in.ConsumeIntegral<uint32_t>();
        for (int i = 0; i < 4; ++i) buf[i] = static_cast<uint8_t>(msi >> (8 * i));
        const uint64_t addr = 0xFEE00000 | (in.ConsumeIntegral<uint32_t>() & 0xFFFFC);
        b.access(in.ConsumeIntegral<uint16_t>(), addr, buf, 4, true);
        break;
      }
    }
  }
  return 0;
}
