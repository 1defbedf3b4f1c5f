#include "iommu_sim/host/mapping_strategies.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace iommu_sim {

namespace {
constexpr uint64_t kPage = IovaAllocator::kPage;
uint64_t page_bytes(PageSize p) { return kPage << (9 * static_cast<unsigned>(p)); }
}  // namespace

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = {"none",       "single-use", "shared",    "persistent",
                                                 "direct-map", "deferred",   "optimistic"};
  return names;
}

std::string validate(const StrategyConfig& c) {
  const auto& n = strategy_names();
  if (std::find(n.begin(), n.end(), c.name) == n.end()) return "strategy: unknown '" + c.name + "'";
  if (c.iova_base % kPage || c.iova_size % kPage || c.iova_size == 0)
    return "iova window: must be whole 4 KiB pages";
  if (c.name == "direct-map") {
    const uint64_t bytes = page_bytes(c.direct_page);
    if (c.memory_size == 0 || c.memory_base % bytes || c.memory_size % bytes)
      return "direct-map: guest memory must be whole pages of the chosen size";
  }
  if (c.batch == 0) return "batch: must be at least 1";
  if (!(c.flush_us > 0)) return "flush_us: must be greater than 0";
  if (!(c.grace_us >= 0)) return "grace_us: must not be negative";
  return "";
}

// ---------------------------------------------------------------- VulnerabilityWindow

void VulnerabilityWindow::open(uint64_t buffer_phys, uint64_t first_page, uint64_t pages,
                               double now, uint64_t dmas) {
  // A buffer released twice without being closed keeps its first release: the older one bounds
  // the window.
  m_open_buffers.emplace(buffer_phys, Open{first_page, pages, now, dmas});
}

void VulnerabilityWindow::close(std::map<uint64_t, Open>::iterator it, double now, uint64_t dmas) {
  const double ns = now - it->second.since;
  const uint64_t n = dmas - it->second.dmas;
  m_max_ns = std::max(m_max_ns, ns);
  m_sum_ns += ns;
  m_max_dmas = std::max(m_max_dmas, n);
  m_sum_dmas += n;
  ++m_closed;
  m_open_buffers.erase(it);
}

void VulnerabilityWindow::close_pages(uint64_t first_page, uint64_t pages, double now,
                                      uint64_t dmas) {
  for (auto it = m_open_buffers.begin(); it != m_open_buffers.end();) {
    const Open& o = it->second;
    const bool overlaps = o.first_page < first_page + pages && first_page < o.first_page + o.pages;
    if (overlaps) {
      auto next = std::next(it);
      close(it, now, dmas);
      it = next;
    } else {
      ++it;
    }
  }
}

void VulnerabilityWindow::close_buffer(uint64_t buffer_phys, double now, uint64_t dmas) {
  auto it = m_open_buffers.find(buffer_phys);
  if (it != m_open_buffers.end()) close(it, now, dmas);
}

double VulnerabilityWindow::oldest_open_ns(double now) const {
  double oldest = 0;
  for (const auto& [phys, o] : m_open_buffers) oldest = std::max(oldest, now - o.since);
  return oldest;
}

// ---------------------------------------------------------------- ProtectionStrategy

ProtectionStrategy::ProtectionStrategy(const StrategyConfig& config, MappingBackend& backend)
    : m_config(config), m_backend(backend), m_iova(config.iova_base, config.iova_size) {}

uint64_t ProtectionStrategy::page_count(const DmaBuffer& b) {
  const uint64_t end = b.phys + std::max<uint32_t>(b.size, 1);
  return (end + kPage - 1) / kPage - b.phys / kPage;
}

uint64_t ProtectionStrategy::alloc_iova(uint64_t pages) {
  m_backend.charge(CostStep::IovaAlloc);
  uint64_t iova = 0;
  if (!m_iova.allocate(pages, iova))
    throw std::runtime_error(name() + ": IOVA window exhausted");
  return iova;
}

void ProtectionStrategy::free_iova(uint64_t iova, uint64_t pages) {
  m_backend.charge(CostStep::IovaFree);
  m_iova.free(iova, pages);
}

void ProtectionStrategy::map_pages(uint64_t iova, uint64_t first, uint64_t pages, bool write) {
  // The entries reach the IOMMU at the end of the CPU's update (written, then flushed from its
  // cache), not before: a device that races the map finds them not present.
  m_backend.charge(CostStep::PageTableUpdate, pages);
  m_backend.map_range(iova, first * kPage, pages * kPage, write, PageSize::Size4K);
  ++m_counts.maps;
  m_counts.pages_mapped += pages;
}

void ProtectionStrategy::unmap_pages(uint64_t iova, uint64_t pages) {
  m_backend.unmap_range(iova, pages * kPage);
  m_backend.charge(CostStep::PageTableClear, pages);
  ++m_counts.unmaps;
  m_counts.pages_unmapped += pages;
}

void ProtectionStrategy::invalidate_range(uint64_t iova, uint64_t pages) {
  m_backend.charge(CostStep::IotlbInvalidation);
  m_backend.invalidate_pages(iova, IovaAllocator::order(pages));
  ++m_counts.invalidations;
  if (!m_config.device_tlb) return;
  m_backend.charge(CostStep::IotlbInvalidation);
  m_backend.invalidate_device_tlb_pages(iova, IovaAllocator::order(pages));
  ++m_counts.devtlb_invalidations;
}

void ProtectionStrategy::invalidate_domain() {
  m_backend.charge(CostStep::IotlbInvalidation);
  m_backend.invalidate_domain();
  ++m_counts.invalidations;
  if (!m_config.device_tlb) return;
  m_backend.charge(CostStep::IotlbInvalidation);
  m_backend.invalidate_device_tlb_all();
  ++m_counts.devtlb_invalidations;
}

void MappingBackend::invalidate_device_tlb_pages(uint64_t, unsigned) {
  throw std::logic_error("this mapping backend has no device-TLBs to invalidate");
}

void MappingBackend::invalidate_device_tlb_all() {
  throw std::logic_error("this mapping backend has no device-TLBs to invalidate");
}

void ProtectionStrategy::wait() {
  m_backend.wait_invalidations();
  ++m_counts.waits;
}

void ProtectionStrategy::released(const DmaBuffer& b) {
  m_window.open(b.phys, first_page(b), page_count(b), m_backend.now_ns(), m_backend.dmas_done());
}

void ProtectionStrategy::reacquired(const DmaBuffer& b) {
  m_window.close_buffer(b.phys, m_backend.now_ns(), m_backend.dmas_done());
}

uint64_t ProtectionStrategy::map_fresh(const DmaBuffer& b) {
  const uint64_t pages = page_count(b);
  const uint64_t iova = alloc_iova(pages);
  map_pages(iova, first_page(b), pages, b.device_writes);
  reacquired(b);
  return iova + offset(b);
}

void ProtectionStrategy::gone(uint64_t first, uint64_t pages) {
  m_window.close_pages(first, pages, m_backend.now_ns(), m_backend.dmas_done());
}

void ProtectionStrategy::register_stats(StatsRegistry& stats, const std::string& prefix) const {
  const StrategyCounts* c = &m_counts;
  const VulnerabilityWindow* w = &m_window;
  auto g = [&](const std::string& leaf, std::function<double()> fn) {
    stats.cumulative(prefix + "." + leaf, std::move(fn));
  };
  // The windows' figures are about the windows themselves, whenever they opened.
  auto level = [&](const std::string& leaf, std::function<double()> fn) {
    stats.gauge(prefix + "." + leaf, std::move(fn));
  };
  g("maps", [c] { return double(c->maps); });
  g("unmaps", [c] { return double(c->unmaps); });
  g("pages_mapped", [c] { return double(c->pages_mapped); });
  g("pages_unmapped", [c] { return double(c->pages_unmapped); });
  g("reuses", [c] { return double(c->reuses); });
  g("invalidations", [c] { return double(c->invalidations); });
  g("devtlb_invalidations", [c] { return double(c->devtlb_invalidations); });
  g("waits", [c] { return double(c->waits); });
  g("flushes_by_count", [c] { return double(c->flushes_by_count); });
  g("flushes_by_time", [c] { return double(c->flushes_by_time); });
  g("evictions", [c] { return double(c->evictions); });
  g("window.closed", [w] { return double(w->closed()); });
  level("window.open_at_end", [w] { return double(w->open_count()); });
  level("window.max_ns", [w] { return w->max_ns(); });
  level("window.mean_ns", [w] { return w->mean_ns(); });
  level("window.max_dmas", [w] { return double(w->max_dmas()); });
  level("window.mean_dmas", [w] { return w->mean_dmas(); });
}

namespace {

// ---------------------------------------------------------------- single-use

class SingleUse : public ProtectionStrategy {
 public:
  using ProtectionStrategy::ProtectionStrategy;
  std::string name() const override { return "single-use"; }
  uint64_t map(const DmaBuffer& b) override { return map_fresh(b); }
  void unmap(const DmaBuffer& b, uint64_t device_addr) override {
    released(b);
    const uint64_t pages = page_count(b);
    const uint64_t iova = device_addr - offset(b);
    unmap_pages(iova, pages);
    invalidate_range(iova, pages);
    wait();
    gone(first_page(b), pages);
    free_iova(iova, pages);
  }
};

// ---------------------------------------------------------------- deferred

class Deferred : public ProtectionStrategy {
 public:
  using ProtectionStrategy::ProtectionStrategy;
  std::string name() const override { return "deferred"; }
  uint64_t map(const DmaBuffer& b) override { return map_fresh(b); }
  void unmap(const DmaBuffer& b, uint64_t device_addr) override {
    released(b);
    const uint64_t pages = page_count(b);
    const uint64_t iova = device_addr - offset(b);
    unmap_pages(iova, pages);
    if (m_pending.empty()) m_oldest = m_backend.now_ns();
    m_pending.push_back(Pending{iova, first_page(b), pages});
    if (m_pending.size() >= m_config.batch) {
      ++m_counts.flushes_by_count;
      flush();
    }
  }
  double next_deadline_ns() const override {
    return m_pending.empty() ? kNever : m_oldest + m_config.flush_us * 1000.0;
  }
  void on_timer() override {
    if (m_pending.empty() || m_backend.now_ns() + kSlackNs < next_deadline_ns()) return;
    ++m_counts.flushes_by_time;
    flush();
  }

 private:
  struct Pending {
    uint64_t iova, first_page, pages;
  };
  void flush() {
    invalidate_domain();
    wait();
    for (const Pending& p : m_pending) {
      gone(p.first_page, p.pages);
      free_iova(p.iova, p.pages);
    }
    m_pending.clear();
  }
  std::vector<Pending> m_pending;
  double m_oldest = 0;
};

// ---------------------------------------------------------------- kept mappings

// Shared, persistent and optimistic keep a table of mappings by page range, with a count of the
// DMAs in flight on each; they differ in when an idle mapping is torn down.
class KeptMappings : public ProtectionStrategy {
 public:
  using ProtectionStrategy::ProtectionStrategy;
  uint64_t map(const DmaBuffer& b) override {
    const Key key{first_page(b), page_count(b)};
    auto it = m_map.find(key);
    if (it != m_map.end()) {
      Entry& e = it->second;
      if (b.device_writes && !e.write) {  // widen the permission in place
        map_pages(e.iova, key.first, key.pages, true);
        e.write = true;
      } else {
        ++m_counts.reuses;
      }
      if (e.users++ == 0) m_idle.erase(e.idle_pos);
      reacquired(b);
      return e.iova + offset(b);
    }
    before_new_mapping(key.pages);
    Entry e;
    e.iova = alloc_iova(key.pages);
    e.write = b.device_writes;
    e.users = 1;
    map_pages(e.iova, key.first, key.pages, e.write);
    m_map.emplace(key, e);
    m_mapped_pages += key.pages;
    reacquired(b);
    return e.iova + offset(b);
  }
  void unmap(const DmaBuffer& b, uint64_t) override {
    released(b);
    auto it = m_map.find(Key{first_page(b), page_count(b)});
    if (it == m_map.end() || it->second.users == 0)
      throw std::logic_error(name() + ": unmap of a buffer that is not mapped");
    Entry& e = it->second;
    if (--e.users > 0) return;
    e.idle_since = m_backend.now_ns();
    e.idle_pos = m_idle.insert(m_idle.end(), it->first);
    after_idle(it->first);
  }

 protected:
  struct Key {
    uint64_t first, pages;
    bool operator<(const Key& o) const { return first != o.first ? first < o.first : pages < o.pages; }
  };
  struct Entry {
    uint64_t iova = 0;
    bool write = false;
    unsigned users = 0;
    double idle_since = 0;
    std::list<Key>::iterator idle_pos;
  };
  virtual void before_new_mapping(uint64_t) {}
  virtual void after_idle(const Key&) {}

  // Unmaps and invalidates (without waiting) an idle mapping; the caller waits, then calls
  // retire() on each key torn down.
  void tear_down(const Key& key) {
    Entry& e = m_map.at(key);
    unmap_pages(e.iova, key.pages);
    invalidate_range(e.iova, key.pages);
    m_idle.erase(e.idle_pos);
  }
  // `key` by value: callers pass the map's own key, which the erase below frees.
  void retire(const Key key) {
    const Entry e = m_map.at(key);
    m_map.erase(key);
    m_mapped_pages -= key.pages;
    gone(key.first, key.pages);
    free_iova(e.iova, key.pages);
  }

  std::map<Key, Entry> m_map;
  std::list<Key> m_idle;  // idle mappings, least recently released first
  uint64_t m_mapped_pages = 0;
};

class Shared : public KeptMappings {
 public:
  using KeptMappings::KeptMappings;
  std::string name() const override { return "shared"; }

 protected:
  void after_idle(const Key& key) override {
    tear_down(key);
    wait();
    retire(key);
  }
};

class Persistent : public KeptMappings {
 public:
  using KeptMappings::KeptMappings;
  std::string name() const override { return "persistent"; }

 protected:
  void before_new_mapping(uint64_t pages) override {
    if (m_config.budget_pages == 0) return;
    std::vector<Key> evicted;
    uint64_t after = m_mapped_pages;
    for (auto it = m_idle.begin(); it != m_idle.end() && after + pages > m_config.budget_pages;) {
      const Key key = *it++;
      after -= key.pages;
      tear_down(key);
      evicted.push_back(key);
      ++m_counts.evictions;
    }
    if (evicted.empty()) return;
    wait();  // one wait covers every invalidation issued before it
    for (const Key& key : evicted) retire(key);
  }
};

class Optimistic : public KeptMappings {
 public:
  using KeptMappings::KeptMappings;
  std::string name() const override { return "optimistic"; }
  double next_deadline_ns() const override {
    if (m_idle.empty()) return kNever;
    return m_map.at(m_idle.front()).idle_since + m_config.grace_us * 1000.0;
  }
  void on_timer() override {
    const double now = m_backend.now_ns() + kSlackNs;
    std::vector<Key> expired;
    // Idle mappings are in release order: the expired ones are at the front.
    for (auto it = m_idle.begin(); it != m_idle.end();) {
      const Key key = *it++;
      if (m_map.at(key).idle_since + m_config.grace_us * 1000.0 > now) break;
      tear_down(key);
      expired.push_back(key);
      ++m_counts.evictions;
    }
    if (expired.empty()) return;
    wait();
    for (const Key& key : expired) retire(key);
  }
};

// ---------------------------------------------------------------- direct-map

class DirectMap : public ProtectionStrategy {
 public:
  using ProtectionStrategy::ProtectionStrategy;
  std::string name() const override { return "direct-map"; }
  void setup() override {
    const uint64_t bytes = page_bytes(m_config.direct_page);
    const uint64_t entries = m_config.memory_size / bytes;
    m_backend.map_range(m_config.memory_base, m_config.memory_base, m_config.memory_size, true,
                        m_config.direct_page);
    m_backend.charge(CostStep::PageTableUpdate, entries);
    ++m_counts.maps;
    m_counts.pages_mapped += entries;
  }
  uint64_t map(const DmaBuffer& b) override {
    ++m_counts.reuses;
    reacquired(b);
    return b.phys;
  }
  void unmap(const DmaBuffer& b, uint64_t) override { released(b); }
};

// ---------------------------------------------------------------- none

// The baseline: translation stays off (the driver never enables it), the device reaches memory
// by physical address, nothing is mapped and nothing protects.
class NoTranslation : public ProtectionStrategy {
 public:
  using ProtectionStrategy::ProtectionStrategy;
  std::string name() const override { return "none"; }
  uint64_t map(const DmaBuffer& b) override {
    reacquired(b);
    return b.phys;
  }
  void unmap(const DmaBuffer& b, uint64_t) override { released(b); }
};

}  // namespace

std::unique_ptr<ProtectionStrategy> make_protection_strategy(const StrategyConfig& config,
                                                             MappingBackend& backend) {
  const std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument(err);
  const std::string& n = config.name;
  if (n == "none") return std::make_unique<NoTranslation>(config, backend);
  if (n == "single-use") return std::make_unique<SingleUse>(config, backend);
  if (n == "shared") return std::make_unique<Shared>(config, backend);
  if (n == "persistent") return std::make_unique<Persistent>(config, backend);
  if (n == "direct-map") return std::make_unique<DirectMap>(config, backend);
  if (n == "deferred") return std::make_unique<Deferred>(config, backend);
  return std::make_unique<Optimistic>(config, backend);
}

}  // namespace iommu_sim
