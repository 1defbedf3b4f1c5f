// The IOTLB: the interface the DMA remapper talks to, and the C++ reference model of it.
// The Verilated RTL IOTLB implements the same interface; both follow docs/iotlb.md exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/cache_stats.h"
#include "iommu_sim/iommu/caches/replacement_policy.h"
#include "iommu_sim/iommu/caches/cache_directory.h"

namespace iommu_sim {

enum class PageSize : uint8_t { Size4K = 0, Size2M = 1, Size1G = 2 };

// Low vpn bits covered by one page of that size: 0, 9 or 18.
constexpr unsigned page_shift_pages(PageSize s) { return 9u * static_cast<unsigned>(s); }
// Page numbers (vpn and pfn) are addresses >> 12 of 64-bit addresses: 52 significant bits.
constexpr unsigned kPageNumberBits = 52;
constexpr uint64_t kPageNumberMask = (1ULL << kPageNumberBits) - 1;
// "4K", "2M", "1G" (as in the trace format).
const char* to_string(PageSize s);

// PASID tag of the entries no PASID selects: legacy mode, and in scalable mode second-level
// and pass-through translations, which are tagged by domain alone (one above the 20-bit PASIDs).
constexpr uint32_t kNoPasid = 1u << 20;

struct IotlbEntry {
  uint16_t domain = 0;
  uint64_t vpn = 0;  // IOVA >> 12, low 9*size bits zero
  uint64_t pfn = 0;  // host physical >> 12, low 9*size bits zero
  bool read = false, write = false;
  PageSize size = PageSize::Size4K;
  // Scalable mode tags first-level and nested translations by domain and PASID (kNoPasid: by
  // domain alone). Last, so that the aggregate initialisations of legacy code keep kNoPasid.
  uint32_t pasid = kNoPasid;
};
bool operator==(const IotlbEntry& a, const IotlbEntry& b);
inline bool operator!=(const IotlbEntry& a, const IotlbEntry& b) { return !(a == b); }

struct IotlbHit {
  bool hit = false;
  unsigned set = 0, way = 0;
  IotlbEntry entry;
  // The translated frame for `vpn`: the entry's pfn plus the offset of vpn inside the page.
  uint64_t frame(uint64_t vpn) const {
    return entry.pfn | (vpn & ((1ULL << page_shift_pages(entry.size)) - 1));
  }
};

struct IotlbFillResult {
  unsigned set = 0, way = 0;
  bool evicted = false;
  IotlbEntry victim;  // the entry evicted, when evicted
};

// Set index function (docs/iotlb.md, "Set index"). Page: an entry of size s lives in set
// (vpn >> 9s) & (sets - 1). PageXorDomain: in set ((vpn >> 9s) ^ domain) & (sets - 1), which
// spreads domains with identical IOVA layouts (SR-IOV functions) over the sets.
enum class IotlbIndex : uint8_t { Page, PageXorDomain };
// "page", "page-xor-domain" (as in the YAML).
const char* to_string(IotlbIndex index);
// Parses the names above; false (out untouched) otherwise.
bool parse_iotlb_index(const std::string& text, IotlbIndex& out);

struct IotlbConfig {
  unsigned sets = 32;  // a power of two; fully associative = sets 1, ways N
  unsigned ways = 4;   // 1 or more; a power of two for plru
  ReplacementKind policy = ReplacementKind::Lru;
  uint64_t seed = 1;   // random policy only; 0 means 1
  IotlbIndex index = IotlbIndex::Page;
};

// "" when valid, else a message naming the offending field ("sets", "ways", "policy" or
// "index").
std::string validate_iotlb_config(const IotlbConfig& config);

// What the DMA remapper talks to; the C++ model and the Verilated RTL both implement it.
class Iotlb {
 public:
  virtual ~Iotlb() = default;
  // Entries tagged kNoPasid only.
  virtual IotlbHit lookup(uint16_t domain, uint64_t vpn) = 0;
  virtual IotlbFillResult fill(const IotlbEntry& entry) = 0;
  virtual unsigned invalidate_all() = 0;  // returns entries invalidated
  // Every entry of the domain, whatever its PASID tag (and so for pages below).
  virtual unsigned invalidate_domain(uint16_t domain) = 0;
  virtual unsigned invalidate_pages(uint16_t domain, uint64_t vpn, unsigned am) = 0;
  virtual const CacheStats& stats() const = 0;
  virtual const IotlbConfig& config() const = 0;

  // PASID tags (scalable mode's first-level and nested translations). An implementation without
  // them (the RTL IOTLB) answers false here and must never be given an entry tagged with a PASID:
  // the remapper refuses it for first-level and nested translation. The defaults serve such an
  // implementation: kNoPasid lookups, and invalidations widened to the whole domain.
  virtual bool pasid_tags() const { return false; }
  virtual IotlbHit lookup_pasid(uint16_t domain, uint32_t pasid, uint64_t vpn) {
    return pasid == kNoPasid ? lookup(domain, vpn) : IotlbHit{};
  }
  // Every entry of (domain, pasid); every one of them over [vpn, vpn + 2^am) pages.
  virtual unsigned invalidate_pasid(uint16_t domain, uint32_t) { return invalidate_domain(domain); }
  virtual unsigned invalidate_pasid_pages(uint16_t domain, uint32_t, uint64_t, unsigned) {
    return invalidate_domain(domain);
  }
};

// The reference model. Throws std::invalid_argument from the constructor if the configuration
// is invalid (configuration is checked before simulation; nothing at run time throws).
class IotlbModel : public Iotlb {
 public:
  explicit IotlbModel(const IotlbConfig& config);

  IotlbHit lookup(uint16_t domain, uint64_t vpn) override {
    return IotlbModel::lookup_pasid(domain, kNoPasid, vpn);
  }
  IotlbFillResult fill(const IotlbEntry& entry) override;
  unsigned invalidate_all() override;
  unsigned invalidate_domain(uint16_t domain) override;
  unsigned invalidate_pages(uint16_t domain, uint64_t vpn, unsigned am) override;
  const CacheStats& stats() const override { return m_stats; }
  const IotlbConfig& config() const override { return m_config; }
  bool pasid_tags() const override { return true; }
  IotlbHit lookup_pasid(uint16_t domain, uint32_t pasid, uint64_t vpn) override;
  unsigned invalidate_pasid(uint16_t domain, uint32_t pasid) override;
  unsigned invalidate_pasid_pages(uint16_t domain, uint32_t pasid, uint64_t vpn, unsigned am) override;

  // For tests and the co-simulation: the valid entry at (set, way), nullopt if invalid or out of
  // range.
  std::optional<IotlbEntry> entry_at(unsigned set, unsigned way) const;
  unsigned valid_entries() const;
  // Power-on state: every entry invalid, replacement state and generator reset. Counters stay.
  void reset();
  void reset_stats() { m_stats = CacheStats{}; }
  const ReplacementPolicy& policy() const { return m_directory.policy(); }

 private:
  // Tag word: valid bit, size and domain packed so that a probe is two compares.
  static constexpr uint32_t kValid = 1u << 31;
  static uint32_t make_tag(uint16_t domain, PageSize size) {
    return kValid | (static_cast<uint32_t>(size) << 16) | domain;
  }
  // The key of a line is its tag, page number and PASID tag. Its hash for the directory:
  // domain and size folded in above the page bits a 48-bit IOVA uses, the PASID added (an
  // overlap only makes two keys share a hash, never a line), then a multiplicative hash.
  static uint64_t key_hash(uint32_t tag, uint64_t page, uint32_t pasid) {
    return ((page ^ (static_cast<uint64_t>(tag) << 36)) + pasid) * 0x9E3779B97F4A7C15ULL;
  }
  // Page invalidation's PASID argument when every PASID tag of the domain goes.
  static constexpr uint32_t kAnyPasid = ~0u;
  struct Line {
    uint64_t vpn = 0;
    uint32_t tag = 0;  // 0: invalid
    bool read = false, write = false;
    uint64_t pfn = 0;
    uint32_t pasid = kNoPasid;
  };
  // The domain's share of the set index: the domain with PageXorDomain, 0 with Page (so the
  // Page index costs one AND with a zero mask, computed once per call).
  unsigned index_mix(uint16_t domain) const { return domain & m_domain_mask; }
  unsigned set_of(uint64_t vpn, PageSize size, unsigned mix) const {
    return (static_cast<unsigned>(vpn >> page_shift_pages(size)) ^ mix) & m_set_mask;
  }
  // The valid line of `set` holding (tag, page, pasid), or CacheDirectory::kNoLine.
  uint32_t find(unsigned set, uint32_t tag, uint64_t page, uint32_t pasid) const {
    return m_directory.find(set, key_hash(tag, page, pasid), [&](uint32_t l) {
      return m_lines[l].tag == tag && m_lines[l].vpn == page && m_lines[l].pasid == pasid;
    });
  }
  // Whether the line's page overlaps the 2^am pages around vpn (docs/iotlb.md, page invalidation).
  static bool overlaps(const Line& line, uint64_t vpn, unsigned am);
  // Page invalidation for one PASID tag, or kAnyPasid.
  unsigned invalidate_range(uint16_t domain, uint32_t pasid, uint64_t vpn, unsigned am);
  IotlbEntry entry_of(const Line& line) const;
  void invalidate_line(uint32_t line);
  template <typename Match>
  unsigned invalidate_matching(Match match);

  IotlbConfig m_config;
  unsigned m_set_mask;
  unsigned m_domain_mask;  // 0xFFFF with PageXorDomain, 0 with Page
  std::vector<Line> m_lines;  // set-major: line (set, way) at set * ways + way
  // Valid entries per page size: lets a lookup skip sizes nobody filled (most traffic is 4 KiB).
  unsigned m_size_count[3] = {0, 0, 0};
  // Valid entries tagged with a PASID: while there are none, a page invalidation of every PASID
  // tag is the directory probe of the kNoPasid keys.
  unsigned m_pasid_entries = 0;
  CacheDirectory m_directory;
  CacheStats m_stats;
};

}  // namespace iommu_sim
