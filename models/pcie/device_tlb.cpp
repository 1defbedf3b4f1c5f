#include "iommu_sim/pcie/device_tlb.h"

#include <algorithm>
#include <stdexcept>

namespace iommu_sim {

namespace {
IotlbConfig geometry(const DeviceTlbConfig& c) {
  IotlbConfig g;
  g.sets = c.sets;
  g.ways = c.ways;
  g.policy = c.policy;
  g.seed = c.seed;
  g.index = IotlbIndex::Page;  // one function per device-TLB: no domain to fold in
  return g;
}

const DeviceTlbConfig& checked(const DeviceTlbConfig& c) {
  const std::string err = validate(c);
  if (!err.empty()) throw std::invalid_argument("device-TLB: " + err);
  return c;
}
}  // namespace

std::string validate(const DeviceTlbConfig& c) { return validate_iotlb_config(geometry(c)); }

DeviceTlb::DeviceTlb(const DeviceTlbConfig& config)
    : m_config(checked(config)), m_tlb(geometry(config)) {}

std::optional<IotlbEntry> DeviceTlb::lookup(uint64_t vpn) {
  const IotlbHit hit = m_tlb.lookup(0, vpn);
  if (!hit.hit) return std::nullopt;
  return hit.entry;
}

std::optional<IotlbEntry> DeviceTlb::entry_for(const ats::Translation& t, uint64_t address) const {
  if ((!t.read && !t.write) || t.untranslated_only) return std::nullopt;
  // The largest page size that fits in the completion's range and that this device-TLB has.
  PageSize size = PageSize::Size4K;
  for (PageSize s : {PageSize::Size2M, PageSize::Size1G})
    if (s <= m_config.largest_page && 12 + page_shift_pages(s) <= t.range.log2_bytes) size = s;
  const unsigned shift = page_shift_pages(size);
  const uint64_t vpn = (address >> 12) & ~((1ULL << shift) - 1);
  // The piece's frame: the completion's base plus the piece's offset inside the range.
  const uint64_t range_first = t.range.base >> 12;
  IotlbEntry e;
  e.domain = 0;
  e.vpn = vpn & kPageNumberMask;
  e.pfn = ((t.phys >> 12) + (vpn - range_first)) & kPageNumberMask;
  e.read = t.read;
  e.write = t.write;
  e.size = size;
  return e;
}

std::optional<IotlbEntry> DeviceTlb::fill(const ats::Translation& t, uint64_t address) {
  const std::optional<IotlbEntry> e = entry_for(t, address);
  if (e) m_tlb.fill(*e);
  return e;
}

unsigned DeviceTlb::invalidate(const ats::Range& range) {
  if (range.all()) return m_tlb.invalidate_all();
  return m_tlb.invalidate_pages(0, range.base >> 12, range.log2_bytes - 12);
}

}  // namespace iommu_sim
