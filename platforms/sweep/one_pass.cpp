#include "iommu_sim/platform/sweep/one_pass.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <queue>
#include <stdexcept>

#include "iommu_sim/iommu/caches/iotlb.h"

namespace iommu_sim {

namespace {

constexpr uint32_t kHole = 0xFFFFFFFFu;

bool is_pow2(unsigned v) { return v != 0 && (v & (v - 1)) == 0; }

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

unsigned log2_of(unsigned v) {
  unsigned n = 0;
  while ((1u << n) < v) ++n;
  return n;
}

}  // namespace

std::string validate_one_pass_limits(const OnePassLimits& l) {
  if (!is_pow2(l.max_sets) || l.max_sets > (1u << 20))
    return "max sets must be a power of two from 1 to 1048576, got " + std::to_string(l.max_sets);
  if (l.max_ways < 1 || l.max_ways > 1024)
    return "max ways must be 1 to 1024, got " + std::to_string(l.max_ways);
  if (l.max_entries < 1 || l.max_entries > (1u << 24))
    return "max entries must be 1 to 16777216, got " + std::to_string(l.max_entries);
  if (l.index != IotlbIndex::Page && l.index != IotlbIndex::PageXorDomain)
    return "index must be page or page-xor-domain";
  for (unsigned e : l.fa_entries)
    if (e < 1 || e > l.max_entries)
      return "fully associative size " + std::to_string(e) + " is outside 1 .. max entries (" +
             std::to_string(l.max_entries) + ")";
  return "";
}

// Recency stacks of one set count and the histograms the counts of every associativity are read
// from. Depths are 0-based; `cap` stands for "deeper than any explored associativity".
class OnePassExplorer::Stack {
 public:
  Stack(unsigned sets, unsigned cap)
      : m_sets(sets), m_cap(cap), m_depth(cap + 1), m_hole(cap + 1), m_invalidated(cap + 1) {}
  virtual ~Stack() = default;

  // The IOTLB's set index (docs/iotlb.md): the page number, XOR the domain with PageXorDomain.
  // The key carries the domain, so either index is exact here.
  unsigned set_of(const Key& k) const {
    return (static_cast<unsigned>(k.vpn >> (9u * k.size)) ^ (k.domain & m_domain_mask)) &
           (m_sets - 1);
  }
  void use_index(IotlbIndex index) {
    m_domain_mask = index == IotlbIndex::PageXorDomain ? 0xFFFFu : 0u;
  }
  unsigned cap() const { return m_cap; }

  // Depth of a live item, or cap if no explored geometry can hold it.
  virtual unsigned depth(uint32_t id, unsigned set) const = 0;
  // Touch or insert: the item goes to the top. Records its old depth d (a W-way cache hits iff
  // d < W) and the depth h of the slot the push consumed (the first hole, or the item's own old
  // slot; a W-way cache evicts iff h >= W).
  virtual void push(uint32_t id, unsigned set) = 0;
  // The item's slot becomes a hole.
  virtual void invalidate(uint32_t id, unsigned set) = 0;
  virtual void invalidate_all(const std::vector<uint32_t>& live) = 0;

  // Counts of a W-way cache of this set count (W <= cap), given the op totals.
  CacheStats stats(unsigned ways, uint64_t accesses, uint64_t invalidations) const {
    CacheStats s;
    s.lookups = accesses;
    for (unsigned d = 0; d < ways; ++d) s.hits += m_depth[d];
    s.misses = accesses - s.hits;
    s.fills = s.misses;  // replay fills on every miss
    for (unsigned h = ways; h <= m_cap; ++h) s.evictions += m_hole[h];
    s.invalidations = invalidations;
    for (unsigned d = 0; d < ways; ++d) s.invalidated_entries += m_invalidated[d];
    return s;
  }

 protected:
  void record_push(unsigned d, unsigned h) {
    ++m_depth[std::min(d, m_cap)];
    ++m_hole[std::min(h, m_cap)];
  }
  void record_invalidate(unsigned d) { ++m_invalidated[std::min(d, m_cap)]; }

  unsigned m_sets;
  unsigned m_domain_mask = 0;
  unsigned m_cap;
  std::vector<uint64_t> m_depth, m_hole, m_invalidated;
};

// Set counts above 1: per set, the top `cap` slots (ids or kHole) in a flat array. Slots deeper
// than cap never come back up (only a push moves anything up, and only to the top), so dropping
// them changes no explored geometry.
class OnePassExplorer::ArrayStack : public OnePassExplorer::Stack {
 public:
  ArrayStack(unsigned sets, unsigned cap)
      : Stack(sets, cap), m_slots(static_cast<size_t>(sets) * cap, kHole) {}

  unsigned depth(uint32_t id, unsigned set) const override {
    const uint32_t* s = &m_slots[static_cast<size_t>(set) * m_cap];
    for (unsigned p = 0; p < m_cap; ++p)
      if (s[p] == id) return p;
    return m_cap;
  }

  void push(uint32_t id, unsigned set) override {
    uint32_t* s = &m_slots[static_cast<size_t>(set) * m_cap];
    unsigned p = 0;
    while (p < m_cap && s[p] != id && s[p] != kHole) ++p;
    unsigned d, h;
    if (p == m_cap) {
      // Neither the item nor a hole in the top cap slots: everything moves down one.
      d = h = m_cap;
      std::memmove(s + 1, s, (m_cap - 1) * sizeof(uint32_t));
    } else if (s[p] == id) {
      d = h = p;  // classic stack update: the slots above it move down into its slot
      std::memmove(s + 1, s, p * sizeof(uint32_t));
    } else {
      // A hole above the item: the slots above the hole move down into it, and the item's old
      // slot (if it is in the top cap) becomes a hole.
      h = p;
      unsigned q = p + 1;
      while (q < m_cap && s[q] != id) ++q;
      d = q;
      if (q < m_cap) s[q] = kHole;
      std::memmove(s + 1, s, p * sizeof(uint32_t));
    }
    s[0] = id;
    record_push(d, h);
  }

  void invalidate(uint32_t id, unsigned set) override {
    uint32_t* s = &m_slots[static_cast<size_t>(set) * m_cap];
    for (unsigned p = 0; p < m_cap; ++p) {
      if (s[p] == id) {
        s[p] = kHole;
        record_invalidate(p);
        return;
      }
    }
  }

  void invalidate_all(const std::vector<uint32_t>&) override {
    for (size_t i = 0; i < m_slots.size(); ++i) {
      if (m_slots[i] != kHole) {
        record_invalidate(static_cast<unsigned>(i % m_cap));
        m_slots[i] = kHole;
      }
    }
  }

 private:
  std::vector<uint32_t> m_slots;
};

// Set count 1, where the fully associative sizes need deep stacks: every slot (item or hole)
// carries the time it was pushed, the stack is in decreasing time order, and the depth of a slot
// is the number of slots pushed after it, counted with a Fenwick tree over push times. The first
// hole from the top is the hole with the latest time: a max-heap, since holes are only ever
// consumed from the top.
//
// Times run out when the clock reaches the tree's end. Then the stack is renumbered, keeping only
// its top cap slots: a slot's depth never decreases (a push moves only the pushed item up), so a
// slot at depth cap or more counts as "deeper than any explored size" for good, and so does an
// item or a hole that is not in the stack at all. The state is then bounded by the explored
// sizes instead of growing with every access.
class OnePassExplorer::TreeStack : public OnePassExplorer::Stack {
 public:
  explicit TreeStack(unsigned cap) : Stack(1, cap) { rebuild(1u << 16); }

  unsigned depth(uint32_t id, unsigned) const override {
    const uint64_t t = time_of(id);
    return t ? clamp(above(t)) : m_cap;
  }

  void push(uint32_t id, unsigned) override {
    if (m_clock + 1 >= m_present.size()) renumber();  // before this push changes anything
    uint64_t d = m_cap;
    const uint64_t t = time_of(id);
    if (t) {
      d = above(t);
      m_holes.push(t);  // its slot is vacated, like an invalidation
    }
    uint64_t h;
    if (!m_holes.empty()) {
      const uint64_t ht = m_holes.top();
      m_holes.pop();
      h = above(ht);
      add(ht, -1);
    } else {
      h = above(m_base);  // no hole: the stack grows, every slot moves down
    }
    ++m_clock;
    add(m_clock, +1);
    m_owner[m_clock] = id;
    set_time(id, m_clock);
    record_push(clamp(d), clamp(h));
  }

  void invalidate(uint32_t id, unsigned) override {
    const uint64_t t = time_of(id);
    if (!t) return;
    record_invalidate(clamp(above(t)));
    m_holes.push(t);
    set_time(id, 0);
  }

  void invalidate_all(const std::vector<uint32_t>& live) override {
    for (uint32_t id : live) invalidate(id, 0);
    // An all-hole stack behaves as an empty one: forget everything pushed so far.
    m_base = m_clock;
    m_holes = {};
  }

 private:
  unsigned clamp(uint64_t d) const { return d < m_cap ? static_cast<unsigned>(d) : m_cap; }
  uint64_t time_of(uint32_t id) const { return id < m_time.size() ? m_time[id] : 0; }
  void set_time(uint32_t id, uint64_t t) {
    if (id >= m_time.size()) m_time.resize(std::max<size_t>(id + 1, m_time.size() * 2), 0);
    m_time[id] = t;
  }
  // Live slots pushed after time t.
  uint64_t above(uint64_t t) const { return prefix(m_clock) - prefix(t); }
  uint64_t prefix(uint64_t t) const {
    uint64_t s = 0;
    for (; t > 0; t -= t & (~t + 1)) s += m_tree[t];
    return s;
  }
  void add(uint64_t t, int delta) {
    m_present[t] = static_cast<uint8_t>(m_present[t] + delta);
    for (; t < m_tree.size(); t += t & (~t + 1))
      m_tree[t] = static_cast<uint32_t>(static_cast<int64_t>(m_tree[t]) + delta);
  }
  // The top cap slots (or all, if fewer) get the times 1..n in their order; the others leave the
  // stack, and their items with them. The tree doubles when the kept slots fill half of it, so
  // that renumbering costs a few steps per push.
  void renumber() {
    std::vector<uint64_t> kept;  // old times, newest first
    uint64_t t = m_clock;
    for (; t > m_base && kept.size() < m_cap; --t)
      if (m_present[t]) kept.push_back(t);
    for (; t > m_base; --t)  // the dropped slots: their live items are no longer in the stack
      if (m_present[t] && m_time[m_owner[t]] == t) m_time[m_owner[t]] = 0;
    const size_t n = kept.size();
    const std::vector<uint32_t> owner = std::move(m_owner);
    m_owner.assign(owner.size(), 0);
    m_present.assign(owner.size(), 0);
    m_holes = {};
    for (size_t i = 0; i < n; ++i) {
      const uint64_t old_time = kept[i], new_time = n - i;
      const uint32_t id = owner[old_time];
      m_owner[new_time] = id;
      m_present[new_time] = 1;
      if (m_time[id] == old_time) m_time[id] = new_time;
      else m_holes.push(new_time);  // a slot in the stack that holds no live item is a hole
    }
    m_clock = n;
    m_base = 0;
    rebuild(2 * (n + 1) > m_present.size() ? 2 * m_present.size() : m_present.size());
  }
  // Sizes the arrays by time to n entries and builds the tree over m_present in linear time:
  // each node passes its sum to its parent.
  void rebuild(size_t n) {
    m_present.resize(n, 0);
    m_owner.resize(n, 0);
    m_tree.assign(n, 0);
    for (size_t i = 1; i < n; ++i) {
      m_tree[i] += m_present[i];
      const size_t parent = i + (i & (~i + 1));
      if (parent < n) m_tree[parent] += m_tree[i];
    }
  }

  std::vector<uint8_t> m_present;  // by time: 1 if that slot is still in the stack
  std::vector<uint32_t> m_owner;   // by time: the id pushed then
  std::vector<uint32_t> m_tree;    // Fenwick tree over m_present
  std::vector<uint64_t> m_time;    // by id: push time of the live item's slot, 0 if none
  std::priority_queue<uint64_t> m_holes;
  uint64_t m_clock = 0;
  uint64_t m_base = 0;  // slots at or before this time were removed by a global invalidation
};

struct OnePassExplorer::DomainIndex {
  std::map<uint64_t, uint32_t> by_size[3];  // vpn -> id
};

OnePassExplorer::OnePassExplorer(const OnePassLimits& limits) : m_limits(limits) {
  const std::string err = validate_one_pass_limits(limits);
  if (!err.empty()) throw std::invalid_argument("one-pass: " + err);
  if (m_limits.fa_entries.empty())
    for (unsigned e = 1; e <= m_limits.max_entries; e *= 2) m_limits.fa_entries.push_back(e);
  m_stacks.push_back(
      std::make_unique<TreeStack>(std::max(m_limits.max_ways, m_limits.max_entries)));
  for (unsigned sets = 2; sets <= m_limits.max_sets; sets *= 2)
    m_stacks.push_back(std::make_unique<ArrayStack>(sets, m_limits.max_ways));
  for (auto& stack : m_stacks) stack->use_index(m_limits.index);
}

OnePassExplorer::~OnePassExplorer() = default;

uint32_t OnePassExplorer::intern(const Key& k) {
  auto it = m_ids.find(k);
  if (it != m_ids.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(m_keys.size());
  m_ids.emplace(k, id);
  m_keys.push_back(k);
  m_live.push_back(0);
  return id;
}

bool OnePassExplorer::feed(const IotlbOp& op) {
  ++m_ops;
  switch (op.kind) {
    case IotlbOp::Access:
      return access(op);
    case IotlbOp::InvalidateAll: {
      ++m_invalidations;
      std::vector<uint32_t> live;
      for (auto& d : m_by_domain)
        for (auto& by_vpn : d.second->by_size)
          for (auto& e : by_vpn) live.push_back(e.second);
      for (auto& stack : m_stacks) stack->invalidate_all(live);
      for (uint32_t id : live) m_live[id] = 0;
      m_by_domain.clear();
      m_live_per_size[0] = m_live_per_size[1] = m_live_per_size[2] = 0;
      return true;
    }
    case IotlbOp::InvalidateDomain:
      ++m_invalidations;
      invalidate_matching(op.entry.domain, true, 0, 0);
      return true;
    case IotlbOp::InvalidatePages:
      ++m_invalidations;
      invalidate_matching(op.entry.domain, false, op.entry.vpn & kPageNumberMask, op.am);
      return true;
    case IotlbOp::Lookup:
    case IotlbOp::Fill:
      return true;  // specific to the geometry that recorded them (see replay_access)
  }
  return true;
}

bool OnePassExplorer::access(const IotlbOp& op) {
  const unsigned es = static_cast<unsigned>(op.entry.size);
  if (es > 2) {
    m_error = "op " + std::to_string(m_ops) + ": access with an invalid page size";
    return false;
  }
  const uint16_t domain = op.entry.domain;
  const uint64_t vpn = op.entry.vpn & kPageNumberMask;
  ++m_accesses;

  // The lookup probes every page size. A live entry of another size covering this address that
  // an explored geometry may hold would be hit (and touched) in some geometries and not in
  // others: the stacks could no longer be shared, so say so rather than give wrong counts.
  for (unsigned s = 0; s < 3; ++s) {
    if (s == es || m_live_per_size[s] == 0) continue;
    const Key other{vpn & ~((1ULL << (9 * s)) - 1), domain, static_cast<uint8_t>(s)};
    auto it = m_ids.find(other);
    if (it == m_ids.end() || !m_live[it->second]) continue;
    for (auto& stack : m_stacks) {
      if (stack->depth(it->second, stack->set_of(other)) < stack->cap()) {
        m_error = "op " + std::to_string(m_ops) + ": access to domain " +
                  std::to_string(domain) + " page 0x" + hex(vpn) + " is translated by a " + to_string(op.entry.size) +
                  " entry while a live " + to_string(static_cast<PageSize>(s)) +
                  " entry also covers it (no invalidation between them): the one-pass method "
                  "needs one translation per address; explore this stream with the grid";
        return false;
      }
    }
  }

  const Key key{vpn & ~((1ULL << (9 * es)) - 1), domain, static_cast<uint8_t>(es)};
  const uint32_t id = intern(key);
  m_unbounded_hits += m_live[id];
  if (!m_live[id]) {
    m_live[id] = 1;
    ++m_live_per_size[es];
    auto& index = m_by_domain[domain];
    if (!index) index = std::make_unique<DomainIndex>();
    index->by_size[es].emplace(key.vpn, id);
  }
  for (auto& stack : m_stacks) stack->push(id, stack->set_of(key));
  return true;
}

void OnePassExplorer::invalidate_matching(uint16_t domain, bool whole_domain, uint64_t vpn,
                                          unsigned am) {
  auto dit = m_by_domain.find(domain);
  if (dit == m_by_domain.end()) return;
  std::vector<uint32_t> victims;
  for (unsigned s = 0; s < 3; ++s) {
    auto& by_vpn = dit->second->by_size[s];
    if (whole_domain) {
      for (auto& e : by_vpn) victims.push_back(e.second);
      by_vpn.clear();
      continue;
    }
    // The IOTLB's rule: same page numbers above the larger of the entry size and the mask.
    const unsigned k = std::min(63u, std::max(9u * s, am));
    const uint64_t lo = (vpn >> k) << k;
    const uint64_t hi = lo + ((1ULL << k) - 1);
    auto it = by_vpn.lower_bound(lo);
    while (it != by_vpn.end() && it->first <= hi) {
      victims.push_back(it->second);
      it = by_vpn.erase(it);
    }
  }
  for (uint32_t id : victims) kill(id);
}

void OnePassExplorer::kill(uint32_t id) {
  const Key& k = m_keys[id];
  for (auto& stack : m_stacks) stack->invalidate(id, stack->set_of(k));
  m_live[id] = 0;
  --m_live_per_size[k.size];
}

CacheStats OnePassExplorer::stats(unsigned sets, unsigned ways) const {
  if (!is_pow2(sets) || sets > m_limits.max_sets || ways < 1)
    throw std::out_of_range("one-pass: no such geometry");
  const Stack& stack = *m_stacks[log2_of(sets)];
  if (ways > stack.cap()) throw std::out_of_range("one-pass: no such geometry");
  return stack.stats(ways, m_accesses, m_invalidations);
}

std::vector<GeometryCounts> OnePassExplorer::results() const {
  std::vector<GeometryCounts> out;
  for (unsigned sets = 1; sets <= m_limits.max_sets; sets *= 2)
    for (unsigned ways = 1; ways <= m_limits.max_ways; ++ways)
      out.push_back({sets, ways, sets * ways, stats(sets, ways)});
  for (unsigned e : m_limits.fa_entries) out.push_back({1, 0, e, stats(1, e)});
  return out;
}

bool explore_iotlb_trace(std::istream& in, OnePassExplorer& explorer, std::string& error) {
  IotlbTraceReader reader(in);
  IotlbOp op;
  while (reader.next(op)) {
    if (!explorer.feed(op)) {
      error = reader.where() + ": " + explorer.error();
      return false;
    }
  }
  error = reader.error();
  return error.empty();
}

CacheStats replay_one_geometry(const std::vector<IotlbOp>& ops, unsigned sets, unsigned ways,
                               ReplacementKind policy, uint64_t seed, IotlbIndex index) {
  IotlbConfig cfg;
  cfg.index = index;
  cfg.sets = sets;
  cfg.ways = ways;
  cfg.policy = policy;
  cfg.seed = seed;
  IotlbModel model(cfg);
  for (const IotlbOp& op : ops) replay_access(model, op);
  return model.stats();
}

}  // namespace iommu_sim
