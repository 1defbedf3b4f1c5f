// Random tables: the input's first bytes are memory (the root table at 0, everything a pointer
// may reach below IommuBench::kMemSize), then a flag byte that selects legacy tables (root,
// context, second level) or scalable-mode ones (root, 256-bit context, PASID directory and
// table, first-level, second-level and nested), the rest DMAs from any requester to any
// address, with or without a PASID, untranslated, translated or translation requests. Every DMA
// either completes or faults; a faulting one changes no byte of memory (the memory target counts
// no write) and counts one fault. A translation request writes no memory either, and ends in a
// completion or an unsuccessful one (UR, CA).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstring>
#include <vector>

#include "fuzz_iommu_bench.h"
#include "iommu_sim/common/ats_format.h"

using namespace iommu_sim;
using namespace iommu_sim::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IommuBench& b = IommuBench::get();
  b.reset();
  FuzzedDataProvider in(data, size);
  // Memory: runs of (page, offset, bytes), so that short inputs reach every table page.
  b.load_memory(in, 32, 512);
  b.enable_translation(0, in.ConsumeBool());
  for (unsigned step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    uint8_t buf[256];
    std::memset(buf, 0xA5, sizeof buf);
    const uint16_t rid = in.ConsumeIntegral<uint16_t>();
    // Small IOVAs, large ones and ones near 2^64 (the wrap) alike.
    uint64_t addr = in.ConsumeIntegral<uint64_t>();
    switch (in.ConsumeIntegralInRange<unsigned>(0, 2)) {
      case 0: addr &= 0xFFFFFFF; break;
      case 1: addr |= 0xFFFFFFFFFFFFF000ULL; break;
      default: break;
    }
    const unsigned len = in.ConsumeIntegralInRange<unsigned>(1, sizeof buf);
    const bool write = in.ConsumeBool();
    const unsigned kind = in.ConsumeIntegralInRange<unsigned>(0, 3);
    const AddressType at = kind == 2 ? AddressType::Translated
                           : kind == 3 ? AddressType::TranslationRequest
                                       : AddressType::Untranslated;
    const int pasid =
        in.ConsumeBool() ? static_cast<int>(in.ConsumeIntegralInRange<uint32_t>(0, (1u << 20) - 1)) : -1;
    const bool privileged = in.ConsumeBool();
    const bool interrupt = addr <= irte::kWindowLast && addr + len - 1 >= irte::kWindowBase;
    // Every write to memory goes through the memory target, which counts it (no DMI here);
    // the walker's accessed/dirty updates (scalable mode) are counted apart, and may come with
    // any request, a faulting one too, as a CPU's walker sets them on the way.
    const auto data_writes = [&b] { return b.stats.value("bench.mem.writes") - b.stat("walk_writes"); };
    const double writes = data_writes();
    const double faults = b.stat("faults");
    const auto status = b.access(rid, addr, buf, len, write, at, pasid, privileged);
    if (at == AddressType::TranslationRequest) {
      require(status == tlm::TLM_OK_RESPONSE || status == ats::kUnsupportedRequest ||
                  status == ats::kCompleterAbort,
              "a translation request completes, successfully or not");
      require(data_writes() == writes, "a translation request writes no memory");
      continue;
    }
    if (interrupt) continue;  // the interrupt remapper's business (fuzz_irte)
    require(status == tlm::TLM_OK_RESPONSE || status == tlm::TLM_ADDRESS_ERROR_RESPONSE,
            "a DMA completes or faults");
    if (status != tlm::TLM_OK_RESPONSE) {
      require(data_writes() == writes, "a faulting DMA writes no memory");
      require(b.stat("faults") == faults + 1, "a faulting DMA counts one fault");
    }
  }
  return 0;
}
