// Pieces of Iommu that iommu_walk.cpp and iommu_scalable.cpp both compile inline, being on the
// path of every translated DMA: the IOTLB probe, and WalkPort, the page walker's view of memory.
#pragma once

#include "iommu_sim/iommu/iommu.h"

namespace iommu_sim {

// Table reads and accessed/dirty writes through the `memory` socket, timed, or through
// transport_dbg and never writing on the debug path (delay null).
class Iommu::WalkPort : public WalkMemory {
 public:
  WalkPort(Iommu& iommu, sc_core::sc_time* delay) : m_iommu(iommu), m_delay(delay) {}
  bool read(uint64_t addr, uint64_t& value) override {
    return m_iommu.read_table(addr, &value, 8, m_delay);
  }
  bool write(uint64_t addr, uint64_t value) override {
    return m_delay && m_iommu.write_memory(addr, &value, 8, *m_delay);
  }
  void cache_probe(unsigned deepest_hit) override {
    if (!m_delay) return;
    *m_delay += m_iommu.m_config.cache_latency;
    if (m_iommu.m_waves) m_iommu.m_waves->pscache_probe(m_iommu.now_ps(*m_delay), deepest_hit);
  }
  void entry_read(unsigned level) override {
    if (m_delay && m_iommu.m_waves) m_iommu.m_waves->walk_read(m_iommu.now_ps(*m_delay), level);
  }

 private:
  Iommu& m_iommu;
  sc_core::sc_time* m_delay;
};

inline bool Iommu::iotlb_lookup(uint16_t rid, uint16_t domain, uint32_t pasid, uint64_t iova,
                                bool write, AddressType at, Translation& t,
                                sc_core::sc_time& delay) {
  const uint64_t vpn = iova >> 12;
  delay += m_config.iotlb_hit_latency;
  // One virtual call either way: an IOTLB without PASID tags answers kNoPasid with lookup().
  const IotlbHit hit = m_iotlb->lookup_pasid(domain, pasid, vpn);
  count_iotlb(rid, domain, hit.hit);
  if (m_trace) trace_op(IotlbOp::Lookup, IotlbEntry{domain, vpn, 0, false, false, PageSize::Size4K});
  if (m_vcd) {
    const uint64_t now = now_ps(delay);
    m_vcd->pulse(m_sig_lookup, now);
    m_vcd->pulse(hit.hit ? m_sig_hit : m_sig_miss, now);
    m_waves->iotlb_lookup(now, hit.hit);
  }
  // A cached entry that does not allow the access is not trusted: walk again, since software
  // may have widened the permissions without invalidating. A translation request asks for
  // whatever the mapping allows: any cached permission answers it.
  if (!hit.hit) return false;
  const bool allowed = at == AddressType::TranslationRequest ? (hit.entry.read || hit.entry.write)
                                                             : (write ? hit.entry.write : hit.entry.read);
  if (!allowed) return false;
  t.path = TranslationWaves::Path::IotlbHit;
  t.phys = (hit.frame(vpn) << 12) | (iova & 0xFFF);
  t.page_bytes = 4096ULL << page_shift_pages(hit.entry.size);
  t.cacheable = true;
  t.entry = hit.entry;
  if (m_trace) trace_op(IotlbOp::Access, hit.entry);
  return true;
}

}  // namespace iommu_sim
