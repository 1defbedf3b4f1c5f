// What the host's table builders share about tables of 512 8-byte entries per 4 KiB level
// (second-level and first-level tables alike): clearing the leaves over a range. Plain C++.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/iommu/vtd_format.h"

namespace iommu_sim {

// Clears the leaves over [va, va + size) of the `levels`-level table at `root`, skipping the
// spans of entries that map nothing. `present(e)` says whether an entry maps anything, a set bit
// 7 (PS) above level 1 makes it a leaf; `to_host(a)` turns a table address held in entries (and
// `root`) into the host physical address where the table lives. A large leaf must be covered
// whole; throws std::invalid_argument naming `who` otherwise, or for a range not 4 KiB aligned.
template <typename Present, typename ToHost>
void clear_leaves(SparseMemory& memory, uint64_t root, unsigned levels, uint64_t va, uint64_t size,
                  Present present, ToHost to_host, const std::string& who) {
  constexpr uint64_t kPage = 4096;
  if ((va | size) & (kPage - 1)) throw std::invalid_argument(who + ": the range must be 4 KiB aligned");
  const uint64_t end = va + size;
  while (va < end) {
    uint64_t table = root;
    uint64_t step = kPage;
    for (unsigned l = levels;; --l) {
      const uint64_t slot = to_host(table) + vtd::pte_index(va, l) * 8ULL;
      const uint64_t e = memory.read64(slot);
      const uint64_t span = vtd::level_span(l);
      if (!present(e)) {  // nothing mapped below: skip the rest of this entry's span
        step = span - (va & (span - 1));
        break;
      }
      if (l == 1 || get_bit(e, vtd::kPteSuperpage)) {
        if ((va & (span - 1)) || va + span > end)
          throw std::invalid_argument(who + ": a large page must be unmapped whole");
        memory.write64(slot, 0);
        step = span;
        break;
      }
      table = e & bit_mask(51, 12);
    }
    va += step;
  }
}

}  // namespace iommu_sim
