// Random invalidation-queue descriptors: the input gives the queue's memory, IQA (base, 128 or
// 256-bit descriptors, size) and a sequence of tail writes and error clears. The unit offers
// scalable mode and device TLBs, so every type up to 0x8 (PASID-based IOTLB, PASID cache,
// device-TLB and PASID-based device-TLB) is carried out. Whatever the descriptors hold, the
// queue stops with IQE (or ITE) or runs them; the head stays inside the queue.
#include <fuzzer/FuzzedDataProvider.h>

#include <vector>

#include "fuzz_iommu_bench.h"

using namespace iommu_sim;
using namespace iommu_sim::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IommuBench& b = IommuBench::get();
  b.reset();
  FuzzedDataProvider in(data, size);
  // The queue at a page of memory; QS 0..7 (a queue larger than memory reads bus errors).
  const uint64_t base = in.ConsumeIntegralInRange<uint64_t>(0, IommuBench::kMemSize / 4096 - 1) * 4096;
  const bool wide = in.ConsumeBool();
  const unsigned qs = in.ConsumeIntegralInRange<unsigned>(0, 7);
  const std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 4096));
  const size_t n = std::min<uint64_t>(bytes.size(), IommuBench::kMemSize - base);
  if (n) b.memory().write(base, bytes.data(), n);
  b.enable_translation(0);
  b.reg_write(vtd::kRegIqa, base | (uint64_t(wide) << vtd::kIqaDw) | qs, 8);
  b.reg_write(vtd::kRegGcmd, vtd::kGcmdTe | vtd::kGcmdQie, 4);
  const uint64_t queue_bytes = (256ULL << qs) * 16;  // 2^(QS+8) 128-bit slots
  for (unsigned step = 0; step < 32 && in.remaining_bytes() > 0; ++step) {
    if (in.ConsumeIntegralInRange<unsigned>(0, 3) == 0) {
      // Software "fixed" the queue, or gave up on a device-TLB invalidation no function
      // answered (nothing is bound to the invalidation socket): resume.
      b.reg_write(vtd::kRegFsts, vtd::kFstsIqe | vtd::kFstsIte, 4);
    } else {
      b.reg_write(vtd::kRegIqt, in.ConsumeIntegral<uint32_t>(), 8);
    }
    const uint64_t iqh = b.reg_read(vtd::kRegIqh, 8);
    require(iqh < queue_bytes, "the queue head stays inside the queue");
  }
  return 0;
}
