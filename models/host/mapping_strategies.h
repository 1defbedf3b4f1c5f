// Protection strategies: how host software maps the buffers of each DMA into a device's IOMMU
// domain, and when it tears the mappings down (the comparison of the published studies).
// Plain C++: a strategy decides, a MappingBackend carries out (page tables, IOTLB invalidation,
// CPU time); the driver model supplies a backend that works in simulated time, tests supply one
// that records.
//
//   single-use  map every buffer right before its DMA; unmap, invalidate and wait right after.
//   shared      as single-use, but a DMA whose pages are mapped by a DMA still in flight reuses
//               that mapping (reference counted); torn down when the last user completes.
//   persistent  mappings stay after use and later DMAs to the same pages reuse them; at most
//               budget_pages pages stay mapped: a new mapping that would exceed it first evicts
//               idle mappings, least recently released first (an idle mapping is one no DMA in
//               flight uses; if none is idle the budget is exceeded rather than the DMA refused).
//   direct-map  the whole guest memory mapped once at set-up (IOVA = guest-physical address),
//               4 KiB pages or superpages; nothing per DMA.
//   deferred    as single-use, but the page-table entries are cleared at once and the IOTLB
//               invalidation is batched: one domain invalidation after `batch` unmaps or
//               `flush_us` after the oldest pending one, whichever comes first; the IOVAs are
//               freed only then (reusing them earlier would reach the stale translation).
//   optimistic  a mapping stays for `grace_us` after its last DMA completes and is reused if the
//               same buffer is mapped again within that time; then it is torn down strictly.
//   none        the baseline without an IOMMU: translation stays off, the device uses physical
//               addresses, nothing is mapped (the driver leaves the remapping hardware disabled).
//
// Mappings are of whole pages; a buffer's device address is its IOVA range plus the buffer's
// offset in its first page. Two buffers share a mapping (shared, persistent, optimistic) when
// they cover the same pages.
//
// With a device-TLB (ATS), every IOTLB invalidation is followed by a device-TLB invalidation of
// the same range (one more descriptor, charged as an IOTLB invalidation), and the wait covers
// both: the device's own completion is part of the teardown.
//
// Vulnerability window: for every buffer released (its DMA completed and unmap() called), the time
// and the number of DMAs until no translation of its pages remains usable: the teardown of the
// mapping has completed (invalidation included), or the same buffer was handed to the device
// again (the translation is in legitimate use once more). Releases still exposed at the end of
// the run are counted apart: their window has no bound.
#pragma once

#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/cost_model.h"
#include "iommu_sim/host/iova_allocator.h"
#include "iommu_sim/iommu/caches/iotlb.h"  // PageSize

namespace iommu_sim {

// The buffer of one DMA, in guest-physical memory.
struct DmaBuffer {
  uint64_t phys = 0;
  uint32_t size = 0;
  bool device_writes = true;  // the device writes it (receive); else it only reads it
};

// What a strategy asks of the software and hardware below it, all in one domain.
class MappingBackend {
 public:
  virtual ~MappingBackend() = default;
  // Page-table leaves for [iova, iova + size) -> [phys, phys + size); read always allowed.
  virtual void map_range(uint64_t iova, uint64_t phys, uint64_t size, bool write, PageSize page) = 0;
  // Clears the leaves over [iova, iova + size).
  virtual void unmap_range(uint64_t iova, uint64_t size) = 0;
  // Issues a page-selective IOTLB invalidation of 2^am pages at iova (aligned to that size).
  virtual void invalidate_pages(uint64_t iova, unsigned am) = 0;
  // Issues a domain-selective IOTLB invalidation.
  virtual void invalidate_domain() = 0;
  // With ATS (StrategyConfig::device_tlb): a device-TLB invalidation of 2^am pages at iova, or of
  // every address, for the device the domain serves. A backend without device-TLBs throws
  // std::logic_error.
  virtual void invalidate_device_tlb_pages(uint64_t iova, unsigned am);
  virtual void invalidate_device_tlb_all();
  // Returns once every invalidation issued so far has completed (charging the polls).
  virtual void wait_invalidations() = 0;
  // Spends the CPU cycles of `times` occurrences of `step`.
  virtual void charge(CostStep step, uint64_t times = 1) = 0;
  // Simulated time, and DMAs the device has completed so far (for the vulnerability window).
  virtual double now_ns() const = 0;
  virtual uint64_t dmas_done() const = 0;
};

struct StrategyConfig {
  std::string name = "single-use";
  uint64_t iova_base = 1ULL << 32;  // IOVA window of the dynamic strategies, kept apart from
  uint64_t iova_size = 1ULL << 32;  // guest-physical addresses so that the two never alias
  uint64_t budget_pages = 0;        // persistent: most pages kept mapped (0: no limit)
  uint64_t memory_base = 0;         // direct-map: the guest memory mapped at set-up
  uint64_t memory_size = 0;
  PageSize direct_page = PageSize::Size4K;
  unsigned batch = 250;             // deferred: flush after this many unmaps
  double flush_us = 10000;          // deferred: or this long after the oldest pending unmap
  double grace_us = 100;            // optimistic: how long an idle mapping is kept
  bool device_tlb = false;          // the device caches translations (ATS): every IOTLB
                                    // invalidation comes with a device-TLB one, as Linux does
};

const std::vector<std::string>& strategy_names();
std::string validate(const StrategyConfig& config);

struct StrategyCounts {
  uint64_t maps = 0;            // map operations (one range of pages each)
  uint64_t unmaps = 0;          // unmap operations
  uint64_t pages_mapped = 0;    // page-table leaves written by maps
  uint64_t pages_unmapped = 0;  // leaves cleared by unmaps
  uint64_t reuses = 0;          // DMAs that found their mapping in place
  uint64_t invalidations = 0;   // IOTLB invalidation requests issued
  uint64_t devtlb_invalidations = 0;  // device-TLB invalidation requests issued (ATS)
  uint64_t waits = 0;           // waits for invalidation completion
  uint64_t flushes_by_count = 0, flushes_by_time = 0;  // deferred
  uint64_t evictions = 0;       // persistent: budget evictions; optimistic: grace expiries
};

class VulnerabilityWindow {
 public:
  // Buffer [phys, phys + pages pages) released at now / after `dmas` DMAs.
  void open(uint64_t buffer_phys, uint64_t first_page, uint64_t pages, double now, uint64_t dmas);
  // Every open release on pages [first_page, first_page + pages): their translation is gone.
  void close_pages(uint64_t first_page, uint64_t pages, double now, uint64_t dmas);
  // The buffer is the device's again.
  void close_buffer(uint64_t buffer_phys, double now, uint64_t dmas);

  uint64_t closed() const { return m_closed; }
  uint64_t open_count() const { return m_open_buffers.size(); }
  double max_ns() const { return m_max_ns; }
  double mean_ns() const { return m_closed ? m_sum_ns / m_closed : 0.0; }
  uint64_t max_dmas() const { return m_max_dmas; }
  double mean_dmas() const { return m_closed ? double(m_sum_dmas) / m_closed : 0.0; }
  // The longest window still open at `now` (a lower bound of an unbounded one).
  double oldest_open_ns(double now) const;

 private:
  struct Open {
    uint64_t first_page, pages;
    double since;
    uint64_t dmas;
  };
  void close(std::map<uint64_t, Open>::iterator it, double now, uint64_t dmas);
  std::map<uint64_t, Open> m_open_buffers;  // buffer phys -> its release
  uint64_t m_closed = 0, m_max_dmas = 0, m_sum_dmas = 0;
  double m_max_ns = 0, m_sum_ns = 0;
};

class ProtectionStrategy {
 public:
  static constexpr double kNever = std::numeric_limits<double>::infinity();
  // A deadline this close counts as reached: simulated time moves in picoseconds, and a wait
  // rounded down by one must not leave a timer forever a hair short of its deadline.
  static constexpr double kSlackNs = 0.001;

  // Public so that the strategies can inherit it; the class is abstract all the same.
  ProtectionStrategy(const StrategyConfig& config, MappingBackend& backend);
  virtual ~ProtectionStrategy() = default;
  virtual std::string name() const = 0;
  // Before any DMA (direct-map maps the guest memory here).
  virtual void setup() {}
  // The device address of the buffer for a DMA about to be posted.
  virtual uint64_t map(const DmaBuffer& buffer) = 0;
  // The DMA that used `iova` (from map()) has completed.
  virtual void unmap(const DmaBuffer& buffer, uint64_t iova) = 0;
  // When on_timer() wants to run next (kNever: no timer).
  virtual double next_deadline_ns() const { return kNever; }
  virtual void on_timer() {}
  // End of the run, once the driver has let the timers run out. Kept mappings stay (their
  // releases count as open); a strategy with work no timer covers would do it here.
  virtual void finish() {}

  const StrategyCounts& counts() const { return m_counts; }
  const VulnerabilityWindow& window() const { return m_window; }
  // Registers counts and window under prefix ("platform.driver.strategy").
  void register_stats(StatsRegistry& stats, const std::string& prefix) const;

 protected:
  // Helpers that do one step each, charge it and count it.
  uint64_t alloc_iova(uint64_t pages);
  void free_iova(uint64_t iova, uint64_t pages);
  void map_pages(uint64_t iova, uint64_t first_page, uint64_t pages, bool write);
  void unmap_pages(uint64_t iova, uint64_t pages);
  void invalidate_range(uint64_t iova, uint64_t pages);
  void invalidate_domain();
  void wait();
  void released(const DmaBuffer& b);
  void reacquired(const DmaBuffer& b);
  void gone(uint64_t first_page, uint64_t pages);
  // A fresh IOVA range for the buffer, mapped: what single-use and deferred do on every map.
  uint64_t map_fresh(const DmaBuffer& b);

  static uint64_t first_page(const DmaBuffer& b) { return b.phys / IovaAllocator::kPage; }
  static uint64_t page_count(const DmaBuffer& b);
  static uint64_t offset(const DmaBuffer& b) { return b.phys % IovaAllocator::kPage; }

  StrategyConfig m_config;
  MappingBackend& m_backend;
  IovaAllocator m_iova;
  StrategyCounts m_counts;
  VulnerabilityWindow m_window;
};

// Throws std::invalid_argument for an unknown name or an invalid configuration.
std::unique_ptr<ProtectionStrategy> make_protection_strategy(const StrategyConfig& config,
                                                             MappingBackend& backend);

}  // namespace iommu_sim
