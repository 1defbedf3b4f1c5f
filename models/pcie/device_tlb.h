// The device-TLB (ATS translation cache) of one PCIe function. Plain C++, on the IOTLB's own
// model and replacement policies (iommu/caches/iotlb.h): sets, ways, policy and page sizes mean
// what they mean for the IOTLB (docs/iotlb.md), so tests, the one-pass exploration and the grid
// sweeps treat device-TLBs and the IOTLB alike. Entries are tagged with domain 0: each function
// has a device-TLB of its own.
//
// A translation completion covers a naturally aligned range of any power-of-two size; the
// device-TLB caches the piece of it that holds the address asked for, in the largest page size
// it has (4 KiB, 2 MiB or 1 GiB, at most `largest_page`) that fits in the range. Completions with
// neither R nor W, or with U (untranslated access only), are not cached.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/iommu/caches/iotlb.h"

namespace iommu_sim {

struct DeviceTlbConfig {
  unsigned sets = 16;  // a power of two
  unsigned ways = 4;   // a power of two for plru
  ReplacementKind policy = ReplacementKind::Lru;
  uint64_t seed = 1;   // random policy
  PageSize largest_page = PageSize::Size1G;  // larger translations are cached in pieces this big
};

// "" when valid, else a message naming the field.
std::string validate(const DeviceTlbConfig& config);

class DeviceTlb {
 public:
  // Throws std::invalid_argument when the configuration is invalid.
  explicit DeviceTlb(const DeviceTlbConfig& config);

  // The entry translating page `vpn` (address >> 12), counted as a lookup; nullopt on a miss.
  std::optional<IotlbEntry> lookup(uint64_t vpn);
  // Caches what a completion gave for `address`; returns the entry as cached, or nullopt when
  // the completion is not cacheable (no permission, or U).
  std::optional<IotlbEntry> fill(const ats::Translation& t, uint64_t address);
  // An invalidate request: every entry overlapping the range. Returns the entries invalidated.
  unsigned invalidate(const ats::Range& range);
  unsigned invalidate_all() { return m_tlb.invalidate_all(); }

  const CacheStats& stats() const { return m_tlb.stats(); }
  const DeviceTlbConfig& config() const { return m_config; }
  unsigned valid_entries() const { return m_tlb.valid_entries(); }
  // The entry cached for a completion of `t` at `address`, without caching it.
  std::optional<IotlbEntry> entry_for(const ats::Translation& t, uint64_t address) const;

 private:
  DeviceTlbConfig m_config;
  IotlbModel m_tlb;
};

}  // namespace iommu_sim
