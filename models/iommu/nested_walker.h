// The page walker: second-level tables (legacy and scalable mode), first-level tables in the
// IA-32e format (4 and 5 levels, 2 MiB / 1 GiB pages, R/W, U/S, accessed and dirty flags), and
// nested translation, where every first-level table pointer and the first level's output (guest
// physical addresses) go through a second-level walk: with 4 levels in each dimension and cold
// caches that is 4 x 5 + 4 = 24 memory references per walk.
//
// Plain C++ (no SystemC): table memory comes through WalkMemory, and the paging-structure caches
// are the remapper's TranslationCaches, passed in. Faults come back as VT-d fault reasons; the
// second-level codes are the caller's (legacy and scalable mode differ), the first-level and
// nested ones are scalable mode's (vtd_format_scalable.h).
#pragma once

#include <array>
#include <cstdint>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/translation_cache.h"

namespace iommu_sim {

// Table memory as the walker sees it: every call is one memory reference.
class WalkMemory {
 public:
  virtual ~WalkMemory() = default;
  virtual bool read(uint64_t addr, uint64_t& value) = 0;   // one 8-byte entry
  virtual bool write(uint64_t addr, uint64_t value) = 0;   // an accessed/dirty update
  // One probe of a set of paging-structure caches; deepest_hit: the level (2..5) of the deepest
  // cache that hit, 0 for none.
  virtual void cache_probe(unsigned /*deepest_hit*/) {}
  // Told before each read of an entry of a level-`level` table (1: the leaf table), for waves.
  virtual void entry_read(unsigned /*level*/) {}
};

// A paging-structure cache entry: the next-lower table and the permissions gathered above it.
struct PsEntry {
  uint64_t table = 0;      // host physical address of the next-lower table
  uint64_t table_gpa = 0;  // nested: its guest physical address (for accessed/dirty updates)
  bool read = false, write = false;
  bool user = true;        // first level: U/S along the way
  bool table_writable = true;  // nested: the second level lets accessed/dirty updates write it
};
// One cache per level of table that points at another: [0] holds level-2 entries (PDE, or the
// second level's), [3] level-5 entries. Null: that level is not cached.
using PsCacheSet = std::array<TranslationCache<PsEntry>*, 4>;

// What the unit offers, for the reserved-bit checks.
struct WalkFeatures {
  uint64_t haw_reserved = 0;         // bits 51:HAW of addresses in entries
  uint64_t sl_entry_reserved = 0;    // further second-level bits (TM; SNP in legacy mode)
  bool sl_2m = true, sl_1g = true;   // CAP.SLLPS
  bool fl_1g = true;                 // CAP.FL1GP (2 MiB first-level pages always exist)
};

// A second-level table: DID tags its cache entries; `ad` is the PASID entry's SLADE.
struct SecondLevelTable {
  uint64_t root = 0;
  unsigned levels = 4;
  uint16_t did = 0;
  bool ad = false;
  unsigned width = 48;  // input address width: min(MGAW, what `levels` cover)
};

// A first-level table: DID and PASID tag its cache entries; `wpe` makes supervisor writes obey
// R/W. `root` is host physical, or guest physical under nested translation.
struct FirstLevelTable {
  uint64_t root = 0;
  unsigned levels = 4;
  uint16_t did = 0;
  uint32_t pasid = 0;
  bool wpe = false;
};

// Fault reasons of one second-level walk: they depend on the mode and on what is being
// translated (an IOVA, a first-level table, the first level's output).
struct SecondLevelFaults {
  uint8_t access = 0;       // reading an entry failed
  uint8_t not_present = 0;  // R = W = 0
  uint8_t reserved = 0;
  uint8_t denied = 0;       // the leaf does not allow the access
};

struct WalkResult {
  uint8_t fault = 0;
  bool have_leaf = false;   // a present leaf was found (the translation may be cached)
  uint64_t phys = 0;        // output address of the walked address
  uint64_t page_bytes = 0;  // size of the page that translated it
  // Permissions an IOTLB entry may hold: what the walked page allows a request without
  // privilege, and writes only once the page is dirty (so that the first write walks again and
  // sets the dirty flag).
  bool read = false, write = false;
  bool dirty = true;        // the page's dirty flags are set (always, without A/D updates)
};

// The IOTLB page size of a page of `bytes` (4 KiB, 2 MiB or 1 GiB).
constexpr PageSize page_size_of(uint64_t bytes) {
  return bytes >= (1ULL << 30) ? PageSize::Size1G : bytes >= (1ULL << 21) ? PageSize::Size2M : PageSize::Size4K;
}

// Memory references of walks, by dimension.
struct WalkCounts {
  uint64_t first_level_reads = 0;
  uint64_t second_level_reads = 0;
  uint64_t writes = 0;      // accessed/dirty updates
};

class NestedWalker {
 public:
  struct Caches {
    PsCacheSet second_level{};  // DID + address
    PsCacheSet first_level{};   // DID + PASID + address (nested: the nested PS caches)
  };
  // update_ad false: accessed/dirty flags are never written (debug accesses).
  NestedWalker(WalkMemory& memory, const WalkFeatures& features, const Caches& caches,
               bool update_ad = true);

  // Walks `sl` for `addr` (the caller has checked it against sl.width).
  WalkResult second_level(const SecondLevelTable& sl, uint64_t addr, bool write,
                          const SecondLevelFaults& faults);
  // Walks `fl` for the input address `va`; with `nest`, every table pointer and the output go
  // through that second level. `user`: a request without supervisor privilege.
  WalkResult first_level(const FirstLevelTable& fl, const SecondLevelTable* nest, uint64_t va,
                         bool write, bool user);

  const WalkCounts& counts() const { return m_counts; }

  // Paging-structure cache keys. Second level: DID in 63:48, the address bits above `level`'s
  // entries below. First level (the cache's domain tag holds the DID): PASID in 63:44 (above the
  // 44 bits a 57-bit address leaves at level 2), the address bits below.
  static uint64_t second_level_key(uint16_t did, uint64_t addr, unsigned level) {
    return (static_cast<uint64_t>(did) << 48) | (addr >> (12 + 9 * (level - 1)));
  }
  static uint64_t first_level_key(uint32_t pasid, uint64_t va, unsigned level) {
    return (static_cast<uint64_t>(pasid) << 44) | ((va & ((1ULL << 57) - 1)) >> (12 + 9 * (level - 1)));
  }

 private:
  // Translates a first-level table's guest physical address through `nest`.
  WalkResult table_through(const SecondLevelTable& nest, uint64_t gpa, bool root, bool write);
  bool read_entry(uint64_t addr, uint64_t& value, unsigned level, bool first_level);
  bool write_entry(uint64_t addr, uint64_t value);

  WalkMemory& m_memory;
  WalkFeatures m_features;
  Caches m_caches;
  bool m_update_ad;
  WalkCounts m_counts;
};

}  // namespace iommu_sim
