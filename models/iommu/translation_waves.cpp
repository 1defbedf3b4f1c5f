#include "iommu_sim/iommu/translation_waves.h"

#include <algorithm>

namespace iommu_sim {

TranslationWaves::TranslationWaves(VcdWriter& vcd, const std::string& scope, unsigned lanes)
    : m_vcd(vcd), m_placer(std::max(lanes, 1u)) {
  const std::string xlat = scope + ".xlat";
  m_translations = vcd.add_signal(xlat, "translations", 32);
  m_unplaced = vcd.add_signal(xlat, "unplaced", 32);
  for (unsigned i = 0; i < m_placer.lanes(); ++i) {
    const std::string s = xlat + ".lane" + std::to_string(i);
    Lane l;
    l.id = vcd.add_signal(s, "id", 32);
    l.rid = vcd.add_signal(s, "rid", 16);
    l.domain = vcd.add_signal(s, "domain", 16);
    l.iova = vcd.add_signal(s, "iova", 64);
    l.write = vcd.add_signal(s, "write", 1);
    l.path = vcd.add_signal(s, "path", 2);
    l.result = vcd.add_signal(s, "result", 8);
    l.latency = vcd.add_signal(s, "latency_ps", 32);
    l.active = vcd.add_signal(s, "active", 1);
    m_lanes.push_back(l);
  }
  m_lookups = vcd.add_signal(scope + ".iotlb", "lookups", 32);
  m_hits = vcd.add_signal(scope + ".iotlb", "hits", 32);
  m_misses = vcd.add_signal(scope + ".iotlb", "misses", 32);
  m_cc_hits = vcd.add_signal(scope + ".context_cache", "hits", 32);
  m_cc_misses = vcd.add_signal(scope + ".context_cache", "misses", 32);
  m_fetches = vcd.add_signal(scope, "context_fetches", 32);
  m_ps_probes = vcd.add_signal(scope + ".pscache", "probes", 32);
  for (unsigned l = 2; l <= 5; ++l)
    m_ps_hits[l] = vcd.add_signal(scope + ".pscache", "hits_l" + std::to_string(l), 32);
  for (unsigned l = 1; l <= 5; ++l)
    m_walk_reads[l] = vcd.add_signal(scope + ".walk", "reads_l" + std::to_string(l), 32);
  m_inv_context = vcd.add_signal(scope + ".inval", "context", 32);
  m_inv_iotlb = vcd.add_signal(scope + ".inval", "iotlb", 32);
  m_inv_pages = vcd.add_signal(scope + ".inval", "pages", 32);
  m_inv_domain = vcd.add_signal(scope + ".inval", "domain", 16);
}

void TranslationWaves::translation(const Transaction& t, uint64_t horizon_ps) {
  const uint64_t id = m_next_id++;
  m_vcd.add(m_translations, t.start_ps, 1);
  auto home = m_home.find(t.rid);
  if (home == m_home.end()) {
    const unsigned n = static_cast<unsigned>(m_home.size());
    home = m_home.emplace(t.rid, n < m_placer.lanes() ? static_cast<int>(n) : -1).first;
  }
  const int lane = m_placer.place(t.start_ps, t.end_ps, horizon_ps, home->second);
  if (lane < 0) {
    m_vcd.add(m_unplaced, t.start_ps, 1);
    return;
  }
  const Lane& l = m_lanes[static_cast<size_t>(lane)];
  m_vcd.record(l.id, t.start_ps, id);
  m_vcd.record(l.rid, t.start_ps, t.rid);
  m_vcd.record(l.domain, t.start_ps, t.domain);
  m_vcd.record(l.iova, t.start_ps, t.iova);
  m_vcd.record(l.write, t.start_ps, t.write);
  m_vcd.record(l.path, t.start_ps, static_cast<uint64_t>(t.path));
  m_vcd.record(l.result, t.start_ps, kInFlight);
  m_vcd.record(l.active, t.start_ps, 1);
  const uint64_t end = std::max(t.end_ps, t.start_ps);
  m_vcd.record(l.result, end, t.result);
  m_vcd.record(l.latency, end, std::min<uint64_t>(end - t.start_ps, UINT32_MAX));
  m_vcd.record(l.active, end, 0);
}

void TranslationWaves::iotlb_lookup(uint64_t at_ps, bool hit) {
  m_vcd.add(m_lookups, at_ps, 1);
  m_vcd.add(hit ? m_hits : m_misses, at_ps, 1);
}

void TranslationWaves::context_cache(uint64_t at_ps, bool hit) {
  m_vcd.add(hit ? m_cc_hits : m_cc_misses, at_ps, 1);
}

void TranslationWaves::context_fetch(uint64_t at_ps) { m_vcd.add(m_fetches, at_ps, 1); }

void TranslationWaves::pscache_probe(uint64_t at_ps, unsigned deepest_hit) {
  m_vcd.add(m_ps_probes, at_ps, 1);
  if (deepest_hit >= 2 && deepest_hit <= 5) m_vcd.add(m_ps_hits[deepest_hit], at_ps, 1);
}

void TranslationWaves::walk_read(uint64_t at_ps, unsigned level) {
  if (level >= 1 && level <= 5) m_vcd.add(m_walk_reads[level], at_ps, 1);
}

void TranslationWaves::invalidation(uint64_t at_ps, Invalidation kind, int domain) {
  switch (kind) {
    case Invalidation::Context: m_vcd.add(m_inv_context, at_ps, 1); break;
    case Invalidation::Iotlb: m_vcd.add(m_inv_iotlb, at_ps, 1); break;
    case Invalidation::Pages: m_vcd.add(m_inv_pages, at_ps, 1); break;
  }
  if (domain >= 0) m_vcd.record(m_inv_domain, at_ps, static_cast<uint64_t>(domain));
}

}  // namespace iommu_sim
