// The Verilated RTL IOTLB (rtl/iotlb) behind the same Iotlb interface as the C++ model, so that
// `iommu.iotlb.impl: rtl` can put it inside the DMA remapper and the co-simulation can drive it
// in lockstep with the reference. Ports, latency and the clocking scheme: docs/rtl-iotlb.md.
//
// Clocking: the adapter owns the model's clock as a plain sc_signal<bool> and toggles it itself,
// letting each edge settle with delta cycles (wait(SC_ZERO_TIME)). Simulated time never moves,
// so platform statistics come out the same with the C++ model and with the RTL. The cost is
// that every Iotlb call must come from an SC_THREAD (or from sc_main between sc_start calls,
// where the adapter runs the deltas itself with sc_start(SC_ZERO_TIME)); an SC_METHOD cannot
// wait and gets std::logic_error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/iommu/caches/iotlb.h"

class VerilatedFstC;

namespace iommu_sim {

class StatsRegistry;

// One Verilated build of the RTL: a Verilated model has its parameters fixed at build time.
struct RtlIotlbVariant {
  const char* policy;  // "lru", "plru", "fifo", or "any" (one way: every policy is the same)
  unsigned sets;
  unsigned ways;
  IotlbIndex index;    // the set index function the build was Verilated with
};

// The variants this build contains (rtl/CMakeLists.txt, IOTLB_RTL_VARIANTS).
const std::vector<RtlIotlbVariant>& rtl_iotlb_variants();
// "lru 32x4 page, plru 32x4 page, ..., lru 32x4 page-xor-domain" for messages.
std::string rtl_iotlb_variants_text();

// Requests presented to the RTL in one clock cycle. Any combination is allowed; the RTL orders
// them (lookup before a same-cycle invalidation; invalidation before fill; fill before lookup,
// which then waits: see the ready flags in RtlCycleOut).
struct RtlCycleIn {
  bool lookup = false;
  uint16_t lookup_domain = 0;
  uint64_t lookup_vpn = 0;

  bool fill = false;
  IotlbEntry fill_entry;

  enum InvKind : unsigned { InvGlobal = 0, InvDomain = 1, InvPages = 2 };
  bool invalidate = false;
  InvKind inv_kind = InvGlobal;
  uint16_t inv_domain = 0;
  uint64_t inv_vpn = 0;
  unsigned inv_am = 0;  // clamped to 63, which already covers every page
};

// What the RTL answered: ready flags before the edge, registered responses after it.
struct RtlCycleOut {
  bool lookup_ready = false, fill_ready = false;

  bool lookup_valid = false;  // a lookup was accepted this cycle
  IotlbHit lookup;            // entry.vpn and entry.pfn rebuilt from the frame and page size
  uint64_t lookup_frame = 0;  // the frame as the RTL computed it (pfn | offset in the page)

  bool fill_valid = false;
  IotlbFillResult fill;

  bool inv_valid = false;
  unsigned inv_count = 0;
};

class RtlIotlb : public sc_core::sc_module, public Iotlb {
 public:
  ~RtlIotlb() override;

  // Iotlb: each call is one RTL clock cycle (plus one reset cycle before the first).
  IotlbHit lookup(uint16_t domain, uint64_t vpn) override;
  IotlbFillResult fill(const IotlbEntry& entry) override;
  unsigned invalidate_all() override;
  unsigned invalidate_domain(uint16_t domain) override;
  unsigned invalidate_pages(uint16_t domain, uint64_t vpn, unsigned am) override;
  const CacheStats& stats() const override { return m_stats; }
  const IotlbConfig& config() const override { return m_config; }

  // One clock cycle with any mix of requests. Updates stats() for whatever was accepted.
  RtlCycleOut cycle(const RtlCycleIn& in);

  // Writes an FST waveform of the model to `path` from the next cycle on (it may be called
  // during elaboration; the file opens at the first cycle). Once per adapter.
  // Time in the file, without `now_ps`: 10 ns per RTL cycle, rising edge at 5 ns. With it (a
  // platform's simulated time in ps, which never goes back): in ps, each cycle at now_ps() with
  // its rising edge 1 ps later; cycles that share an instant follow each other 2 ps apart (the
  // adapter runs its cycles in zero simulated time).
  void trace_to(const std::string& path, std::function<uint64_t()> now_ps = {});
  // Flushes and closes the waveform (also done by the destructor).
  void close_trace();

  // RTL clock cycles run so far, the reset cycle included.
  uint64_t rtl_cycles() const { return m_cycles; }
  // The cache counters (register_cache_stats) plus "<prefix>.rtl_cycles".
  void register_stats(StatsRegistry& registry, const std::string& prefix) const;
  // The Verilated build in use, e.g. "lru 32x4 page".
  const std::string& variant() const { return m_variant; }

 protected:
  RtlIotlb(const sc_core::sc_module_name& name, const IotlbConfig& config,
           const std::string& variant);

  // Hooks into the Verilated class, which only the variant template knows.
  virtual void attach_trace(VerilatedFstC* fst) = 0;

  // The model's ports, bound by the variant template. Widths as in iotlb_sc_top.sv. Several
  // threads may call the adapter (DMA initiators, the host's register writes), one after the
  // other, so the inputs allow more than one writing process.
  template <typename T>
  using Sig = sc_core::sc_signal<T, sc_core::SC_MANY_WRITERS>;
  Sig<bool> m_clk{"clk"}, m_rst_n{"rst_n"};
  Sig<bool> m_lookup_valid{"lookup_valid"}, m_lookup_ready{"lookup_ready"};
  Sig<uint32_t> m_lookup_did{"lookup_did"};
  Sig<uint64_t> m_lookup_vpn{"lookup_vpn"};
  Sig<bool> m_lookup_rsp_valid{"lookup_rsp_valid"}, m_lookup_hit{"lookup_hit"};
  Sig<uint32_t> m_lookup_set{"lookup_set"}, m_lookup_way{"lookup_way"};
  Sig<uint64_t> m_lookup_frame{"lookup_frame"};
  Sig<bool> m_lookup_read{"lookup_read"}, m_lookup_write{"lookup_write"};
  Sig<uint32_t> m_lookup_size{"lookup_size"};

  Sig<bool> m_fill_valid{"fill_valid"}, m_fill_ready{"fill_ready"};
  Sig<uint32_t> m_fill_did{"fill_did"};
  Sig<uint64_t> m_fill_vpn{"fill_vpn"}, m_fill_pfn{"fill_pfn"};
  Sig<bool> m_fill_read{"fill_read"}, m_fill_write{"fill_write"};
  Sig<uint32_t> m_fill_size{"fill_size"};
  Sig<bool> m_fill_rsp_valid{"fill_rsp_valid"}, m_fill_evicted{"fill_evicted"};
  Sig<uint32_t> m_fill_set{"fill_set"}, m_fill_way{"fill_way"};
  Sig<uint32_t> m_victim_did{"victim_did"};
  Sig<uint64_t> m_victim_vpn{"victim_vpn"}, m_victim_pfn{"victim_pfn"};
  Sig<bool> m_victim_read{"victim_read"}, m_victim_write{"victim_write"};
  Sig<uint32_t> m_victim_size{"victim_size"};

  Sig<bool> m_inv_valid{"inv_valid"};
  Sig<uint32_t> m_inv_kind{"inv_kind"}, m_inv_did{"inv_did"}, m_inv_am{"inv_am"};
  Sig<uint64_t> m_inv_vpn{"inv_vpn"};
  Sig<bool> m_inv_rsp_valid{"inv_rsp_valid"};
  Sig<uint32_t> m_inv_count{"inv_count"};

 private:
  // Lets the signal writes of this delta reach the model and the model's outputs come back.
  void settle();
  // Reset cycle before the first request.
  void start();
  void open_pending_trace();
  void drive(const RtlCycleIn& in);
  // Clock low with the requests applied, then the rising edge; dumps the waveform if asked.
  void clock_cycle(RtlCycleOut* out);

  IotlbConfig m_config;
  std::string m_variant;
  CacheStats m_stats;
  uint64_t m_cycles = 0;
  bool m_started = false;
  // One request at a time: a second thread calling while a cycle is settling waits for it.
  bool m_busy = false;
  sc_core::sc_event m_idle{"idle"};
  std::string m_trace_path;
  std::function<uint64_t()> m_trace_now;  // the platform's time (ps), or none: cycle-based
  uint64_t m_trace_time = 0;              // where the last cycle was dumped
  bool m_trace_dumped = false;
  std::unique_ptr<VerilatedFstC> m_fst;
};

// The RTL variant for `config`, built during elaboration (it is an sc_module created under the
// module being constructed). nullptr with `error` set if the configuration is invalid or no
// variant of this geometry and policy was built; the message lists the ones that were.
std::unique_ptr<Iotlb> make_rtl_iotlb(const IotlbConfig& config, std::string& error);
// The same with the adapter's own type (waves, RTL cycles, cycle-level access) and a name.
std::unique_ptr<RtlIotlb> make_rtl_iotlb_adapter(const IotlbConfig& config, std::string& error,
                                                 const std::string& name = "rtl_iotlb");

}  // namespace iommu_sim
