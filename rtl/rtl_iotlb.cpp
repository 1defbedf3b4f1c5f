#include "iommu_sim/rtl/rtl_iotlb.h"

#include <algorithm>
#include <stdexcept>

#include "iommu_sim/common/stats.h"
#include "rtl_iotlb_variants.h"  // generated: the Verilated classes and IOMMU_RTL_IOTLB_VARIANTS
#include "verilated.h"
#include "verilated_fst_c.h"

namespace iommu_sim {

namespace {

uint64_t offset_mask(PageSize size) { return (1ULL << page_shift_pages(size)) - 1; }

// Ties one Verilated class to the adapter: binds its ports and forwards the trace hooks.
template <typename Model>
class RtlIotlbOf final : public RtlIotlb {
 public:
  RtlIotlbOf(const sc_core::sc_module_name& name, const IotlbConfig& config,
             const std::string& variant)
      : RtlIotlb(name, config, variant), m_model("rtl") {
    m_model.clk_i(m_clk);
    m_model.rst_ni(m_rst_n);
    m_model.lookup_valid_i(m_lookup_valid);
    m_model.lookup_ready_o(m_lookup_ready);
    m_model.lookup_did_i(m_lookup_did);
    m_model.lookup_vpn_i(m_lookup_vpn);
    m_model.lookup_rsp_valid_o(m_lookup_rsp_valid);
    m_model.lookup_hit_o(m_lookup_hit);
    m_model.lookup_set_o(m_lookup_set);
    m_model.lookup_way_o(m_lookup_way);
    m_model.lookup_frame_o(m_lookup_frame);
    m_model.lookup_read_o(m_lookup_read);
    m_model.lookup_write_o(m_lookup_write);
    m_model.lookup_size_o(m_lookup_size);
    m_model.fill_valid_i(m_fill_valid);
    m_model.fill_ready_o(m_fill_ready);
    m_model.fill_did_i(m_fill_did);
    m_model.fill_vpn_i(m_fill_vpn);
    m_model.fill_pfn_i(m_fill_pfn);
    m_model.fill_read_i(m_fill_read);
    m_model.fill_write_i(m_fill_write);
    m_model.fill_size_i(m_fill_size);
    m_model.fill_rsp_valid_o(m_fill_rsp_valid);
    m_model.fill_set_o(m_fill_set);
    m_model.fill_way_o(m_fill_way);
    m_model.fill_evicted_o(m_fill_evicted);
    m_model.victim_did_o(m_victim_did);
    m_model.victim_vpn_o(m_victim_vpn);
    m_model.victim_pfn_o(m_victim_pfn);
    m_model.victim_read_o(m_victim_read);
    m_model.victim_write_o(m_victim_write);
    m_model.victim_size_o(m_victim_size);
    m_model.inv_valid_i(m_inv_valid);
    m_model.inv_kind_i(m_inv_kind);
    m_model.inv_did_i(m_inv_did);
    m_model.inv_vpn_i(m_inv_vpn);
    m_model.inv_am_i(m_inv_am);
    m_model.inv_rsp_valid_o(m_inv_rsp_valid);
    m_model.inv_count_o(m_inv_count);
  }
  ~RtlIotlbOf() override {
    close_trace();
    m_model.final();
  }

 private:
  void attach_trace(VerilatedFstC* fst) override { m_model.trace(fst, 99); }

  Model m_model;
};

struct VariantRow {
  RtlIotlbVariant variant;
  std::unique_ptr<RtlIotlb> (*make)(const char* name, const IotlbConfig&, const std::string&);
};

#define IOMMU_RTL_ROW(cls, policy, sets, ways, index)                                          \
  VariantRow{RtlIotlbVariant{policy, sets, ways, IotlbIndex::index},                           \
             [](const char* name, const IotlbConfig& config,                                   \
                const std::string& variant) -> std::unique_ptr<RtlIotlb> {                     \
               return std::make_unique<RtlIotlbOf<cls>>(name, config, variant);                \
             }},

const std::vector<VariantRow>& variant_rows() {
  static const std::vector<VariantRow> rows = {IOMMU_RTL_IOTLB_VARIANTS(IOMMU_RTL_ROW)};
  return rows;
}
#undef IOMMU_RTL_ROW

std::string variant_text(const RtlIotlbVariant& v) {
  return std::string(v.policy) + " " + std::to_string(v.sets) + "x" + std::to_string(v.ways) +
         " " + to_string(v.index);
}

}  // namespace

const std::vector<RtlIotlbVariant>& rtl_iotlb_variants() {
  static const std::vector<RtlIotlbVariant> variants = [] {
    std::vector<RtlIotlbVariant> v;
    for (const VariantRow& row : variant_rows()) v.push_back(row.variant);
    return v;
  }();
  return variants;
}

std::string rtl_iotlb_variants_text() {
  std::string text;
  for (const RtlIotlbVariant& v : rtl_iotlb_variants()) {
    if (!text.empty()) text += ", ";
    text += variant_text(v);
  }
  return text;
}

std::unique_ptr<RtlIotlb> make_rtl_iotlb_adapter(const IotlbConfig& config, std::string& error,
                                                 const std::string& name) {
  error = validate_iotlb_config(config);
  if (!error.empty()) {
    error = "iotlb: " + error;
    return nullptr;
  }
  const std::string policy = to_string(config.policy);
  for (const VariantRow& row : variant_rows()) {
    const RtlIotlbVariant& v = row.variant;
    if (v.sets != config.sets || v.ways != config.ways || v.index != config.index) continue;
    if (policy != v.policy && std::string(v.policy) != "any") continue;
    return row.make(sc_core::sc_gen_unique_name(name.c_str()), config, variant_text(v));
  }
  error = "iotlb: no RTL variant for policy " + policy + " with " +
          std::to_string(config.sets) + " sets x " + std::to_string(config.ways) +
          " ways and index " + to_string(config.index) + "; this build has: " + rtl_iotlb_variants_text() +
          " (\"any\": one way, every policy). Add it to IOTLB_RTL_VARIANTS in rtl/CMakeLists.txt";
  return nullptr;
}

std::unique_ptr<Iotlb> make_rtl_iotlb(const IotlbConfig& config, std::string& error) {
  return make_rtl_iotlb_adapter(config, error);
}

RtlIotlb::RtlIotlb(const sc_core::sc_module_name& name, const IotlbConfig& config,
                   const std::string& variant)
    : sc_core::sc_module(name), m_config(config), m_variant(variant) {
  // Waveforms can be asked for at any time; the model checks this flag when a trace opens.
  Verilated::traceEverOn(true);
  m_rst_n.write(false);
}

RtlIotlb::~RtlIotlb() = default;

void RtlIotlb::trace_to(const std::string& path, std::function<uint64_t()> now_ps) {
  m_trace_path = path;
  m_trace_now = std::move(now_ps);
}

void RtlIotlb::close_trace() {
  if (m_fst) {
    m_fst->close();
    m_fst.reset();
  }
  m_trace_path.clear();
}

void RtlIotlb::register_stats(StatsRegistry& registry, const std::string& prefix) const {
  register_cache_stats(registry, prefix, m_stats);
  registry.cumulative(prefix + ".rtl_cycles", [this] { return static_cast<double>(m_cycles); });
}

void RtlIotlb::settle() {
  sc_core::sc_process_handle self = sc_core::sc_get_current_process_handle();
  if (self.valid() && self.proc_kind() == sc_core::SC_THREAD_PROC_) {
    sc_core::wait(sc_core::SC_ZERO_TIME);
  } else if (!self.valid() && !sc_core::sc_is_running()) {
    // From sc_main between sc_start calls: run the delta cycle ourselves.
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
  } else {
    throw std::logic_error(std::string(name()) +
                           ": the RTL IOTLB must be called from an SC_THREAD (it waits for "
                           "delta cycles), not from an SC_METHOD");
  }
}

void RtlIotlb::open_pending_trace() {
  // The model can only be attached once elaboration is over, hence here and not in trace_to.
  m_fst = std::make_unique<VerilatedFstC>();
  const char* unit = m_trace_now ? "1ps" : "1ns";
  m_fst->spTrace()->set_time_unit(unit);
  m_fst->spTrace()->set_time_resolution(unit);
  attach_trace(m_fst.get());
  m_fst->open(m_trace_path.c_str());
}

void RtlIotlb::start() {
  m_started = true;
  // One cycle with reset asserted (the flops reset asynchronously; the edge makes sure the
  // model sees the reset whatever its initial values), then release.
  m_rst_n.write(false);
  clock_cycle(nullptr);
  m_rst_n.write(true);
}

void RtlIotlb::drive(const RtlCycleIn& in) {
  m_lookup_valid.write(in.lookup);
  if (in.lookup) {
    m_lookup_did.write(in.lookup_domain);
    m_lookup_vpn.write(in.lookup_vpn & kPageNumberMask);
  }
  m_fill_valid.write(in.fill);
  if (in.fill) {
    const IotlbEntry& e = in.fill_entry;
    m_fill_did.write(e.domain);
    m_fill_vpn.write(e.vpn & kPageNumberMask);
    m_fill_pfn.write(e.pfn & kPageNumberMask);
    m_fill_read.write(e.read);
    m_fill_write.write(e.write);
    m_fill_size.write(static_cast<uint32_t>(e.size) & 3u);
  }
  m_inv_valid.write(in.invalidate);
  if (in.invalidate) {
    m_inv_kind.write(in.inv_kind);
    m_inv_did.write(in.inv_domain);
    m_inv_vpn.write(in.inv_vpn & kPageNumberMask);
    m_inv_am.write(in.inv_am > 63 ? 63 : in.inv_am);
  }
}

void RtlIotlb::clock_cycle(RtlCycleOut* out) {
  // Clock low with the new requests: two deltas, so that the model has evaluated them
  // whichever of it and this process runs first in a delta.
  m_clk.write(false);
  settle();
  settle();
  if (out) {
    out->lookup_ready = m_lookup_ready.read();
    out->fill_ready = m_fill_ready.read();
  }
  uint64_t low = m_cycles * 10, edge = low + 5;
  if (m_fst && m_trace_now) {
    low = std::max(m_trace_now(), m_trace_dumped ? m_trace_time + 2 : 0);
    edge = low + 1;
    m_trace_time = low;
    m_trace_dumped = true;
  }
  if (m_fst) m_fst->dump(low);
  m_clk.write(true);
  settle();
  settle();
  if (m_fst) m_fst->dump(edge);
  ++m_cycles;
}

RtlCycleOut RtlIotlb::cycle(const RtlCycleIn& in) {
  // Serialize callers: waiting for a delta notification keeps simulated time where it is.
  while (m_busy) sc_core::wait(m_idle);
  m_busy = true;
  if (!m_trace_path.empty() && !m_fst) open_pending_trace();
  if (!m_started) start();

  RtlCycleOut out;
  drive(in);
  clock_cycle(&out);

  out.lookup_valid = m_lookup_rsp_valid.read();
  if (out.lookup_valid) {
    ++m_stats.lookups;
    if (m_lookup_hit.read()) {
      ++m_stats.hits;
      IotlbHit& h = out.lookup;
      h.hit = true;
      h.set = m_lookup_set.read();
      h.way = m_lookup_way.read();
      IotlbEntry& e = h.entry;
      e.domain = in.lookup_domain;
      e.size = static_cast<PageSize>(m_lookup_size.read());
      e.vpn = in.lookup_vpn & kPageNumberMask & ~offset_mask(e.size);
      out.lookup_frame = m_lookup_frame.read();
      e.pfn = out.lookup_frame & ~offset_mask(e.size);
      e.read = m_lookup_read.read();
      e.write = m_lookup_write.read();
    } else {
      ++m_stats.misses;
    }
  }
  out.fill_valid = m_fill_rsp_valid.read();
  if (out.fill_valid && static_cast<unsigned>(in.fill_entry.size) <= 2) {
    ++m_stats.fills;
    IotlbFillResult& f = out.fill;
    f.set = m_fill_set.read();
    f.way = m_fill_way.read();
    f.evicted = m_fill_evicted.read();
    if (f.evicted) {
      ++m_stats.evictions;
      f.victim.domain = static_cast<uint16_t>(m_victim_did.read());
      f.victim.vpn = m_victim_vpn.read();
      f.victim.pfn = m_victim_pfn.read();
      f.victim.read = m_victim_read.read();
      f.victim.write = m_victim_write.read();
      f.victim.size = static_cast<PageSize>(m_victim_size.read());
    }
  }
  out.inv_valid = m_inv_rsp_valid.read();
  if (out.inv_valid) {
    ++m_stats.invalidations;
    out.inv_count = m_inv_count.read();
    m_stats.invalidated_entries += out.inv_count;
  }

  m_busy = false;
  m_idle.notify(sc_core::SC_ZERO_TIME);
  return out;
}

IotlbHit RtlIotlb::lookup(uint16_t domain, uint64_t vpn) {
  RtlCycleIn in;
  in.lookup = true;
  in.lookup_domain = domain;
  in.lookup_vpn = vpn;
  return cycle(in).lookup;
}

IotlbFillResult RtlIotlb::fill(const IotlbEntry& entry) {
  // Not a page size: the reference stores and counts nothing, so neither does the adapter.
  if (static_cast<unsigned>(entry.size) > 2) return IotlbFillResult{};
  RtlCycleIn in;
  in.fill = true;
  in.fill_entry = entry;
  return cycle(in).fill;
}

unsigned RtlIotlb::invalidate_all() {
  RtlCycleIn in;
  in.invalidate = true;
  in.inv_kind = RtlCycleIn::InvGlobal;
  return cycle(in).inv_count;
}

unsigned RtlIotlb::invalidate_domain(uint16_t domain) {
  RtlCycleIn in;
  in.invalidate = true;
  in.inv_kind = RtlCycleIn::InvDomain;
  in.inv_domain = domain;
  return cycle(in).inv_count;
}

unsigned RtlIotlb::invalidate_pages(uint16_t domain, uint64_t vpn, unsigned am) {
  RtlCycleIn in;
  in.invalidate = true;
  in.inv_kind = RtlCycleIn::InvPages;
  in.inv_domain = domain;
  in.inv_vpn = vpn;
  in.inv_am = am;
  return cycle(in).inv_count;
}

}  // namespace iommu_sim
