// The DMA remapper's waveform signals that show what each translation did, beyond the pipeline
// pulses: every translated DMA as a transaction on a lane of its own (requester, domain, IOVA,
// result, latency), and running counts of context-cache and paging-structure-cache probes,
// context fetches, page-table reads by level and invalidations. Counts go up by one per event,
// so events that share an instant add up instead of merging as pulses do.
//
// Signals (scope = the IOMMU's name):
//   xlat.translations                    translated DMAs begun, counted at their start
//   xlat.unplaced                        translations that found every lane busy (not drawn)
//   xlat.laneN.{id, rid, domain, iova, write, path, result, latency_ps, active}
//       id: the translation's number (1, 2, ...); path: 0 IOTLB hit, 1 page walk, 2 no walk
//       (pass-through or translated request), 3 stopped at the context (result says why);
//       result: 0xFF while in flight, then 0 translated or the VT-d fault reason;
//       domain: 0 on path 3; latency_ps: from arrival to completion, set at completion.
//   iotlb.{lookups, hits, misses}
//   context_cache.{hits, misses}, context_fetches (root + context entry reads)
//   pscache.{probes, hits_l2 .. hits_l5}  (the level of the deepest hit; a probe without a hit
//                                          is probes minus the hits)
//   walk.reads_l1 .. reads_l5           second-level entries read, by level
//   inval.{context, iotlb, pages}       context-cache, IOTLB (global or domain) and page-selective
//                                       IOTLB invalidations carried out
//   inval.domain                         the domain of the last domain-selective or page
//                                        invalidation
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "iommu_sim/common/transaction_lanes.h"
#include "iommu_sim/common/vcd_writer.h"

namespace iommu_sim {

class TranslationWaves {
 public:
  // How a translation was served (the lane's `path` signal).
  enum class Path : uint8_t { IotlbHit = 0, Walk = 1, NoWalk = 2, Context = 3 };
  enum class Invalidation : uint8_t { Context, Iotlb, Pages };
  static constexpr uint8_t kInFlight = 0xFF;

  struct Transaction {
    uint64_t start_ps = 0, end_ps = 0;
    uint16_t rid = 0, domain = 0;
    uint64_t iova = 0;
    bool write = false;
    Path path = Path::Context;
    uint8_t result = 0;  // 0 or the fault reason
  };

  // Registers the signals under `scope` with `lanes` transaction lanes. Each requester gets a
  // lane of its own while there are lanes enough (one per requester suffices when each has one
  // translation in flight at a time); beyond that, or when its lane is busy, the first free one.
  TranslationWaves(VcdWriter& vcd, const std::string& scope, unsigned lanes);

  // `horizon_ps`: no later translation starts before it (the kernel's time).
  void translation(const Transaction& t, uint64_t horizon_ps);
  void iotlb_lookup(uint64_t at_ps, bool hit);
  void context_cache(uint64_t at_ps, bool hit);
  void context_fetch(uint64_t at_ps);
  // deepest_hit: the level (2..5) of the deepest paging-structure cache hit, 0 for none.
  void pscache_probe(uint64_t at_ps, unsigned deepest_hit);
  void walk_read(uint64_t at_ps, unsigned level);
  // domain < 0: a global invalidation (inval.domain keeps its value).
  void invalidation(uint64_t at_ps, Invalidation kind, int domain);

 private:
  struct Lane {
    VcdWriter::SignalId id, rid, domain, iova, write, path, result, latency, active;
  };
  using Sig = VcdWriter::SignalId;

  VcdWriter& m_vcd;
  TransactionLanes m_placer;
  std::vector<Lane> m_lanes;
  uint64_t m_next_id = 1;
  std::map<uint16_t, int> m_home;  // requester -> its lane
  Sig m_translations, m_unplaced;
  Sig m_lookups, m_hits, m_misses;
  Sig m_cc_hits, m_cc_misses, m_fetches;
  Sig m_ps_probes;
  std::array<Sig, 6> m_ps_hits{};     // [2..5]
  std::array<Sig, 6> m_walk_reads{};  // [1..5]
  Sig m_inv_context, m_inv_iotlb, m_inv_pages, m_inv_domain;
};

}  // namespace iommu_sim
