#include "iommu_sim/platform/strategy_study.h"
#include "iommu_sim/platform/exit_codes.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <sstream>

#include <systemc>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/host/dma_driver.h"
#include "iommu_sim/host/interrupt_sink.h"
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/pcie/dma_engine.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/table.h"

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {


const char* const kUsage =
    "usage: iommu-sim study STUDY.yaml --out DIR [--jobs N] [--set KEY=VALUE]... [--quiet]\n"
    "  runs every strategy x message size of the study, one process per point, and writes\n"
    "  DIR/strategies.csv and DIR/points/pNNNN.{json,log}; prints the table.\n"
    "  --set overrides a key of the study file for every point (e.g. platform.iommu.iotlb.ways=8)\n";

struct UsageError {
  std::string message;
};

// ---------------------------------------------------------------- the study file

struct StudySpec {
  std::vector<std::string> strategies;
  std::string preset;
  std::vector<unsigned> sizes;
  MemoryConfig memory;
  IommuConfig iommu;
  double rate_gbps = 10.0;
  DmaDriverConfig driver;  // strategy name and message size set per point
  std::map<std::string, StrategyConfig> per_strategy;
  AtsClientConfig ats;     // the NIC's device-TLB, with driver.ats
};

sc_core::sc_time ns(double v) { return sc_core::sc_time(v, sc_core::SC_NS); }

StudySpec read_study(Section root) {
  StudySpec s;
  Section study = root.section("study");
  s.strategies = study.get_string_list("strategies");
  if (s.strategies.empty()) s.strategies = strategy_names();
  for (const std::string& n : s.strategies) {
    const auto& all = strategy_names();
    if (std::find(all.begin(), all.end(), n) == all.end())
      study.fail("strategies", "unknown strategy '" + n + "'");
  }
  s.sizes = study.get_uint_list("message_sizes", {64, 256, 1024, 4096, 16384, 65536}, 1, 65536);

  Section p = root.section("platform");
  Section mem = p.section("memory");
  s.memory.read_latency = ns(mem.get_double("read_latency_ns", 80, 0, 1e6));
  s.memory.write_latency = ns(mem.get_double("write_latency_ns", 80, 0, 1e6));

  Section io = p.section("iommu");
  Section tlb = io.section("iotlb");
  s.iommu.iotlb.sets = tlb.get_uint("sets", s.iommu.iotlb.sets, 1, 1u << 16);
  s.iommu.iotlb.ways = tlb.get_uint("ways", s.iommu.iotlb.ways, 1, 4096);
  const std::string policy = tlb.get_enum("policy", "lru", {"lru", "plru", "fifo", "random"});
  parse_replacement_kind(policy, s.iommu.iotlb.policy);
  s.iommu.iotlb_hit_latency = ns(tlb.get_double("hit_latency_ns", 2, 0, 1e6));
  s.iommu.walkers = io.get_uint("walkers", s.iommu.walkers, 1, 64);
  s.iommu.register_latency = ns(io.get_double("register_latency_ns", 1, 0, 1e6));
  const std::string err = validate_iommu_config(s.iommu);
  if (!err.empty()) io.fail("", err);

  Section nic = p.section("nic");
  DmaDriverConfig& d = s.driver;
  d.ring_size = nic.get_uint("ring_size", d.ring_size, 1, 4096);
  d.packets = nic.get_u64("packets", d.packets, 1, 100000000);
  s.rate_gbps = nic.get_double("rate_gbps", s.rate_gbps, 0.001, 10000);
  // PCIe ATS: the NIC caches translations in a device-TLB of its own.
  Section ats = nic.section("ats");
  d.ats = ats.get_bool("enabled", false);
  d.ats_queue_depth = ats.get_uint("invalidate_queue_depth", 0, 0, 31);
  Section devtlb = ats.section("devtlb");
  s.ats.devtlb.sets = devtlb.get_uint("sets", s.ats.devtlb.sets, 1, 1u << 16);
  s.ats.devtlb.ways = devtlb.get_uint("ways", s.ats.devtlb.ways, 1, 4096);
  parse_replacement_kind(devtlb.get_enum("policy", "lru", {"lru", "plru", "fifo", "random"}), s.ats.devtlb.policy);
  if (const std::string e = validate(s.ats.devtlb); !e.empty()) devtlb.fail("", e);
  s.ats.lookup_latency = ns(ats.get_double("lookup_latency_ns", 2, 0, 1e6));
  s.ats.invalidation_latency = ns(ats.get_double("invalidation_latency_ns", 500, 0, 1e9));
  s.iommu.device_tlbs = d.ats;

  Section drv = p.section("driver");
  // The preset first: it says how that platform's software invalidates (the default here).
  Section costs = drv.section("costs");
  s.preset = costs.get_enum("preset", "vtd", cost_presets());
  const CostPreset& preset = *find_cost_preset(s.preset);
  d.costs = preset.costs;
  d.costs.cpu_ghz = costs.get_double("cpu_ghz", d.costs.cpu_ghz, 0.001, 100);
  d.costs.iova_alloc = costs.get_u64("iova_alloc", d.costs.iova_alloc);
  d.costs.iova_free = costs.get_u64("iova_free", d.costs.iova_free);
  d.costs.page_table_update = costs.get_u64("page_table_update", d.costs.page_table_update);
  d.costs.iotlb_invalidation = costs.get_u64("iotlb_invalidation", d.costs.iotlb_invalidation);
  d.costs.invalidation_wait = costs.get_u64("invalidation_wait", d.costs.invalidation_wait);
  d.costs.invalidation_hardware = costs.get_u64("invalidation_hardware", d.costs.invalidation_hardware);
  d.costs.packet = costs.get_u64("packet", d.costs.packet);
  d.queued_invalidation = drv.get_enum("invalidation", preset.queued_invalidation ? "queued" : "register",
                                       {"queued", "register"}) == "queued";
  d.guest_size = drv.get_size("guest_size", d.guest_size, 4ULL << 20, 1ULL << 34);
  d.buffer_stride = drv.get_uint("buffer_stride", 0, 0, 1u << 20);
  d.pool_buffers = drv.get_uint("pool_buffers", 0, 0, 1u << 20);
  {
    // The CPU time the study charges must fit in simulated time (2^64 ps, about 213 days):
    // bound every packet's software steps (its pages mapped and unmapped, one invalidation and
    // its wait) and direct-map's one-off mapping of the guest.
    const SoftwareCostConfig& k = d.costs;
    const unsigned largest = s.sizes.empty() ? 1 : *std::max_element(s.sizes.begin(), s.sizes.end());
    const long double pages = largest / 4096 + 2;
    const long double per_packet = static_cast<long double>(k.iova_alloc) + k.iova_free +
                                   2 * pages * k.page_table_update + k.iotlb_invalidation +
                                   k.invalidation_wait + k.invalidation_hardware + k.packet;
    const long double cycles = per_packet * d.packets + static_cast<long double>(k.page_table_update) *
                                                            (d.guest_size / 4096);
    const long double limit_ns = sc_core::sc_max_time().to_seconds() * 1e9 / 2;
    if (cycles / k.cpu_ghz > limit_ns)
      costs.fail("", "these costs for " + std::to_string(d.packets) +
                         " packets run past the end of simulated time (2^64 ps, about 213 days)");
  }

  Section st = drv.section("strategies");
  for (const std::string& n : strategy_names()) {
    Section one = st.section(n);
    StrategyConfig c;
    c.name = n;
    if (n == "persistent") c.budget_pages = one.get_u64("budget_pages", 0);
    if (n == "direct-map") {
      const std::string page = one.get_enum("page", "4K", {"4K", "2M", "1G"});
      c.direct_page = page == "4K" ? PageSize::Size4K : page == "2M" ? PageSize::Size2M : PageSize::Size1G;
    }
    if (n == "deferred") {
      c.batch = one.get_uint("batch", c.batch, 1, 1u << 20);
      c.flush_us = one.get_double("flush_us", c.flush_us, 0.001, 1e9);
    }
    if (n == "optimistic") c.grace_us = one.get_double("grace_us", c.grace_us, 0, 1e9);
    s.per_strategy[n] = c;
  }

  Section inj = p.section("inject");
  d.inject.bad_address_at = inj.get_u64("bad_address_at", 0);
  d.inject.invalid_use_at = inj.get_u64("invalid_use_at", 0);
  d.inject.bad_device_at = inj.get_u64("bad_device_at", 0);
  d.inject.invalid_use_delay_ns = inj.get_double("invalid_use_delay_ns", 0, 0, 1e9);
  for (uint64_t at : {d.inject.bad_address_at, d.inject.invalid_use_at, d.inject.bad_device_at})
    if (at > d.packets) inj.fail("", "an injection point lies beyond platform.nic.packets");
  return s;
}

// ---------------------------------------------------------------- one point's platform

// Driver -> register window -> IOMMU; the NIC's engine -> IOMMU -> memory; IOMMU events -> sink.
class StudyPlatform : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(StudyPlatform);
  StudyPlatform(sc_core::sc_module_name name, const StudySpec& spec, const DmaDriverConfig& d,
                StatsRegistry& stats)
      : sc_module(name),
        m_memory("memory", spec.memory, stats),
        m_iommu("iommu", spec.iommu, stats),
        m_host_bus("host_bus"),
        m_interrupts("interrupts", stats),
        m_driver("driver", d, m_memory.storage(), stats) {
    m_host_bus.add_window("iommu_regs", d.register_base, 0x1000, true);
    m_host_bus.initiator.bind(m_iommu.regs);
    m_driver.bus.bind(m_host_bus.target);
    m_iommu.memory.bind(m_memory.socket);
    m_iommu.interrupt.bind(m_interrupts.socket);
    m_nic = std::make_unique<DmaEngine>("nic", d.source_id, m_driver.make_device_workload(spec.rate_gbps), stats);
    m_nic->set_start_gate([this] { return m_driver.ready(); }, &m_driver.ready_event());
    m_nic->socket.bind(m_iommu.upstream);
    if (d.ats) {  // the NIC's device-TLB, and the IOMMU's invalidate requests straight to it
      m_ats = std::make_unique<AtsClient>(spec.ats, stats, std::string(m_nic->name()) + ".ats");
      m_nic->set_ats(m_ats.get());
      m_ats_port = std::make_unique<AtsInvalidationPort>("nic_ats", *m_ats, d.source_id);
      m_iommu.ats_invalidation.bind(m_ats_port->in);
    }
    SC_THREAD(stopper);
  }
  const DmaDriver& driver() const { return m_driver; }

 private:
  void stopper() {
    sc_core::wait(m_driver.done_event());
    if (!m_nic->finished()) sc_core::wait(m_nic->done());
    sc_core::sc_stop();
  }
  MemoryTarget m_memory;
  Iommu m_iommu;
  AddressRouter m_host_bus;
  InterruptSink m_interrupts;
  DmaDriver m_driver;
  std::unique_ptr<DmaEngine> m_nic;
  std::unique_ptr<AtsClient> m_ats;
  std::unique_ptr<AtsInvalidationPort> m_ats_port;
};

// One point's driver; throws ConfigError naming the point when the study file asks for a
// combination the driver refuses.
DmaDriverConfig point_config(const std::string& file, const StudySpec& spec,
                             const std::string& strategy, unsigned size) {
  DmaDriverConfig d = spec.driver;
  d.strategy = spec.per_strategy.at(strategy);
  d.message_size = size;
  const std::string err = validate(d);
  if (!err.empty())
    throw ConfigError(file + ": the point " + strategy + " at " + std::to_string(size) +
                      " B: driver: " + err);
  return d;
}

int run_point(const std::string& file, const std::vector<std::string>& sets,
              const std::string& strategy, unsigned size, const std::string& stats_path) {
  ConfigReader reader = ConfigReader::from_file(file);
  for (const auto& s : sets) reader.apply_override(s);
  const StudySpec spec = read_study(reader.root());
  reader.finish();
  const DmaDriverConfig d = point_config(file, spec, strategy, size);
  std::ofstream os(stats_path);
  if (!os) throw ConfigError(stats_path + ": cannot open for writing");

  StatsRegistry stats;
  StudyPlatform platform("study", spec, d, stats);
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_start();
  if (!platform.driver().done()) throw std::runtime_error("the driver never finished");
  if (!platform.driver().ok()) throw std::runtime_error(platform.driver().error());
  stats.write_json(os);
  return kExitOk;
}

// ---------------------------------------------------------------- the table

std::string fmt(double v, int precision = 3) { return fixed_text(v, precision); }

using Stats = std::map<std::string, double>;

double stat(const Stats& st, const std::string& k) {
  auto it = st.find(k);
  return it == st.end() ? 0.0 : it->second;
}

std::string verdict(const Stats& st, const std::string& v) {
  const std::string p = "study.driver.violations." + v + ".";
  if (stat(st, p + "injected") == 0) return "-";
  if (stat(st, p + "caught") > 0) return "caught";
  if (stat(st, p + "corrupted") > 0) return "corrupted";
  return "missed";
}

// The CPU cycles of one packet, by what they were spent on (during the traffic): the mapping's
// page-table writes, the unmapping's clears, the IOVA allocator, the invalidation's software
// (requests and polls) and hardware (waiting on the IOMMU, published floor included), the
// driver's own per-packet work; `other` is the rest of the busy time (none today).
struct PacketCycles {
  double total = 0, map = 0, unmap = 0, allocator = 0, inval_sw = 0, inval_hw = 0, packet = 0;
  double other() const { return total - map - unmap - allocator - inval_sw - inval_hw - packet; }
};

PacketCycles packet_cycles(const Stats& st) {
  const std::string c = "study.driver.traffic_cost.";
  const double packets = stat(st, "study.driver.packets");
  PacketCycles p;
  if (packets <= 0) return p;
  p.total = stat(st, "study.driver.cycles_per_packet");
  p.map = stat(st, c + "page_table_update") / packets;
  p.unmap = stat(st, c + "page_table_clear") / packets;
  p.allocator = (stat(st, c + "iova_alloc") + stat(st, c + "iova_free")) / packets;
  p.inval_sw = (stat(st, c + "iotlb_invalidation") + stat(st, c + "invalidation_wait")) / packets;
  p.inval_hw = stat(st, c + "invalidation_hardware") / packets;
  p.packet = stat(st, c + "packet") / packets;
  return p;
}

const std::vector<std::string>& columns() {
  static const std::vector<std::string> c = {
      "strategy", "message_size", "throughput_gbps", "cpu_utilisation", "cycles_per_byte",
      "maps", "unmaps", "invalidations", "iotlb_miss_rate", "bad_address", "invalid_use",
      "bad_device", "window_mean_us", "window_max_us", "window_max_dmas", "window_open_at_end",
      "cycles_per_packet", "map_cycles", "unmap_cycles", "allocator_cycles", "inval_sw_cycles",
      "inval_hw_cycles", "packet_cycles", "cpu_vs_none", "throughput_vs_none", "status", "seconds",
      "devtlb_hit_rate", "devtlb_invalidations"};
  return c;
}

size_t col(const std::string& name) {
  const auto& c = columns();
  return static_cast<size_t>(std::find(c.begin(), c.end(), name) - c.begin());
}

// `baseline`: the statistics of strategy none at the same message size, or null.
CsvRow table_row(const std::string& strategy, unsigned size, const Stats& st, bool ok, double seconds,
                 const Stats* baseline) {
  CsvRow r(columns().size());
  r[col("strategy")] = strategy;
  r[col("message_size")] = std::to_string(size);
  r[col("seconds")] = fmt(seconds, 2);
  if (!ok) {
    r[col("status")] = "failed";
    return r;
  }
  const std::string d = "study.driver.";
  const double lookups = stat(st, "study.iommu.iotlb.lookups");
  r[col("throughput_gbps")] = fmt(stat(st, d + "throughput_gbps"));
  r[col("cpu_utilisation")] = fmt(stat(st, d + "cpu_utilisation"));
  r[col("cycles_per_byte")] = fmt(stat(st, d + "cycles_per_byte"));
  r[col("maps")] = fmt(stat(st, d + "strategy.maps"), 0);
  r[col("unmaps")] = fmt(stat(st, d + "strategy.unmaps"), 0);
  r[col("invalidations")] = fmt(stat(st, d + "strategy.invalidations"), 0);
  r[col("iotlb_miss_rate")] = fmt(lookups > 0 ? stat(st, "study.iommu.iotlb.misses") / lookups : 0.0, 4);
  for (const char* v : {"bad_address", "invalid_use", "bad_device"}) r[col(v)] = verdict(st, v);
  r[col("window_mean_us")] = fmt(stat(st, d + "strategy.window.mean_ns") / 1000.0);
  r[col("window_max_us")] = fmt(stat(st, d + "strategy.window.max_ns") / 1000.0);
  r[col("window_max_dmas")] = fmt(stat(st, d + "strategy.window.max_dmas"), 0);
  r[col("window_open_at_end")] = fmt(stat(st, d + "strategy.window.open_at_end"), 0);
  const PacketCycles p = packet_cycles(st);
  r[col("cycles_per_packet")] = fmt(p.total, 1);
  r[col("map_cycles")] = fmt(p.map, 1);
  r[col("unmap_cycles")] = fmt(p.unmap, 1);
  r[col("allocator_cycles")] = fmt(p.allocator, 1);
  r[col("inval_sw_cycles")] = fmt(p.inval_sw, 1);
  r[col("inval_hw_cycles")] = fmt(p.inval_hw, 1);
  r[col("packet_cycles")] = fmt(p.packet, 1);
  if (baseline) {
    // As the published studies report them: CPU utilisation over the baseline's (the same work
    // without an IOMMU), and throughput over the baseline's.
    const double cpu0 = stat(*baseline, d + "cpu_utilisation");
    const double thr0 = stat(*baseline, d + "throughput_gbps");
    // Without per-packet work (packet: 0) the baseline's CPU is idle and no ratio exists.
    if (stat(*baseline, d + "cycles_per_packet") >= 1.0)
      r[col("cpu_vs_none")] = fmt(stat(st, d + "cpu_utilisation") / cpu0, 3);
    if (thr0 > 0) r[col("throughput_vs_none")] = fmt(stat(st, d + "throughput_gbps") / thr0, 3);
  }
  const double devtlb_lookups = stat(st, "study.nic.ats.devtlb.lookups");
  if (devtlb_lookups > 0) {
    r[col("devtlb_hit_rate")] = fmt(stat(st, "study.nic.ats.devtlb.hits") / devtlb_lookups, 4);
    r[col("devtlb_invalidations")] = fmt(stat(st, d + "strategy.devtlb_invalidations"), 0);
  }
  r[col("status")] = "ok";
  return r;
}

// "+12%" of a ratio, or "-" when it is not there.
std::string percent_over(const std::string& ratio) {
  if (ratio.empty()) return "-";
  const double v = (std::stod(ratio) - 1.0) * 100.0;
  return (v >= 0 ? "+" : "") + fmt(v, 0) + "%";
}

void print_table(std::ostream& out, const std::vector<CsvRow>& rows) {
  // The printed table: the window's maximum reads "unbounded" when some release was still
  // reachable at the end of the run.
  std::vector<std::string> head = {"strategy", "size", "Gbit/s", "cpu", "cyc/B", "maps",
                                   "unmaps", "invals", "miss", "bad_addr", "invalid_use",
                                   "bad_dev", "win_mean_us", "win_max_us", "win_dmas"};
  // With ATS: the device-TLB's hit rate and the device-TLB invalidations.
  const bool ats = std::any_of(rows.begin(), rows.end(),
                               [](const CsvRow& r) { return !r[col("devtlb_hit_rate")].empty(); });
  if (ats) head.insert(head.end(), {"devtlb_hit", "devtlb_invals"});
  std::vector<std::vector<std::string>> cells = {head};
  for (const CsvRow& r : rows) {
    if (r[col("status")] != "ok") {
      cells.push_back({r[0], r[1], "failed"});
      continue;
    }
    const bool open = r[col("window_open_at_end")] != "0";
    cells.push_back({r[0], r[1], r[col("throughput_gbps")], r[col("cpu_utilisation")],
                     r[col("cycles_per_byte")], r[col("maps")], r[col("unmaps")], r[col("invalidations")],
                     r[col("iotlb_miss_rate")], r[col("bad_address")], r[col("invalid_use")],
                     r[col("bad_device")], r[col("window_mean_us")],
                     open ? "unbounded" : r[col("window_max_us")], open ? "unbounded" : r[col("window_max_dmas")]});
    if (ats) cells.back().insert(cells.back().end(), {r[col("devtlb_hit_rate")], r[col("devtlb_invalidations")]});
  }
  print_aligned_table(out, cells);
  // CPU cycles per packet by where they went, and against the baseline without an IOMMU.
  out << "\nCPU cycles per packet (during the traffic) and against strategy none at the same size:\n";
  cells = {{"strategy", "size", "total", "packet", "map", "unmap", "allocator", "inval_sw", "inval_hw",
            "cpu_vs_none", "Gbit/s_vs_none"}};
  for (const CsvRow& r : rows) {
    if (r[col("status")] != "ok") continue;
    cells.push_back({r[0], r[1], r[col("cycles_per_packet")], r[col("packet_cycles")], r[col("map_cycles")],
                     r[col("unmap_cycles")], r[col("allocator_cycles")], r[col("inval_sw_cycles")],
                     r[col("inval_hw_cycles")], percent_over(r[col("cpu_vs_none")]),
                     percent_over(r[col("throughput_vs_none")])});
  }
  print_aligned_table(out, cells);
}

// The strict map+unmap of one page as the study charged it (single-use with a message of one
// page), decomposed, against the preset's published figure.
void print_strict_cost(std::ostream& out, const StudySpec& spec, const std::vector<CsvRow>& rows) {
  const CostPreset& preset = *find_cost_preset(spec.preset);
  out << "costs: preset " << spec.preset << " at " << fmt(spec.driver.costs.cpu_ghz, 2) << " GHz, "
      << (spec.driver.queued_invalidation ? "queued" : "register") << " invalidation; published strict "
      << "map+unmap of one page " << preset.published_map_unmap << " cycles (" << preset.source << ")\n";
  for (const CsvRow& r : rows) {
    if (r[0] != "single-use" || r[col("status")] != "ok") continue;
    const unsigned size = static_cast<unsigned>(std::stoul(r[1]));
    if (size > 4096 || spec.driver.stride() < size) continue;
    const double map = std::stod(r[col("map_cycles")]), unmap = std::stod(r[col("unmap_cycles")]);
    const double alloc = std::stod(r[col("allocator_cycles")]), sw = std::stod(r[col("inval_sw_cycles")]);
    const double hw = std::stod(r[col("inval_hw_cycles")]);
    const double total = map + unmap + alloc + sw + hw;
    const double gap = preset.published_map_unmap ? 100.0 * (total / preset.published_map_unmap - 1.0) : 0.0;
    out << "  as charged (single-use, " << size << " B): " << fmt(total, 0) << " cycles = map " << fmt(map, 0)
        << " + unmap " << fmt(unmap, 0) << " + allocator " << fmt(alloc, 0) << " + invalidation software "
        << fmt(sw, 0) << " + invalidation hardware " << fmt(hw, 0) << " (" << (gap >= 0 ? "+" : "")
        << fmt(gap, 1) << "% of the published figure, if the preset is unchanged)\n";
    return;
  }
}

struct Options {
  std::string file, out_dir;
  std::vector<std::string> sets;
  unsigned jobs = 2;
  bool quiet = false;
  std::string point_strategy, point_stats;
  unsigned point_size = 0;
};

Options parse(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError{a + " needs a value"};
      return args[++i];
    };
    if (a == "--out") {
      o.out_dir = value();
    } else if (a == "--jobs" || a == "-j") {
      const std::string& v = value();
      o.jobs = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 10));
      if (o.jobs == 0 || o.jobs > 1024) throw UsageError{"--jobs expects 1 to 1024, got '" + v + "'"};
    } else if (a == "--set") {
      o.sets.push_back(value());
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--point-strategy") {  // internal: one point, run by the study itself
      o.point_strategy = value();
    } else if (a == "--point-size") {
      o.point_size = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
    } else if (a == "--point-stats") {
      o.point_stats = value();
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "': accepted are --out, --jobs, --set, --quiet"};
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      throw UsageError{"more than one study file ('" + o.file + "' and '" + a + "')"};
    }
  }
  if (o.file.empty()) throw UsageError{"a STUDY.yaml is required"};
  if (o.point_strategy.empty() && o.out_dir.empty()) throw UsageError{"--out DIR is required"};
  return o;
}

int run_study(const Options& o, const std::string& self_exe, std::ostream& out, std::ostream& err) {
  // Read once here so that a bad file fails before any process starts.
  ConfigReader reader = ConfigReader::from_file(o.file);
  for (const auto& s : o.sets) reader.apply_override(s);
  const StudySpec spec = read_study(reader.root());
  reader.finish();
  // Every point too: one the driver refuses is a bad study file, not a failed run.
  for (const std::string& s : spec.strategies)
    for (unsigned size : spec.sizes) point_config(o.file, spec, s, size);

  fs::create_directories(fs::path(o.out_dir) / "points");
  struct Point {
    std::string strategy;
    unsigned size;
    std::string stats;
  };
  std::vector<Point> points;
  std::vector<ProcessSpec> specs;
  for (const std::string& s : spec.strategies) {
    for (unsigned size : spec.sizes) {
      char name[32];
      std::snprintf(name, sizeof name, "p%04zu", points.size());
      const std::string base = (fs::path(o.out_dir) / "points" / name).string();
      points.push_back(Point{s, size, base + ".json"});
      ProcessSpec p;
      p.argv = {self_exe, "study", o.file, "--point-strategy", s, "--point-size",
                std::to_string(size), "--point-stats", base + ".json"};
      for (const auto& kv : o.sets) {
        p.argv.push_back("--set");
        p.argv.push_back(kv);
      }
      p.log_path = base + ".log";
      specs.push_back(p);
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ProcessResult> results(points.size());
  size_t finished = 0;
  run_processes(specs, o.jobs, 0, [&](size_t i, const ProcessResult& r) {
    results[i] = r;
    ++finished;
    if (!o.quiet)
      err << "[" << finished << "/" << points.size() << "] " << points[i].strategy << " "
          << points[i].size << " B: " << (r.ok() ? "ok" : r.describe(0)) << " ("
          << fmt(r.seconds, 1) << " s)\n";
  });
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<Stats> stats(points.size());
  std::vector<bool> ok(points.size());
  std::map<unsigned, size_t> baseline;  // message size -> the point of strategy none
  bool all_ok = true;
  for (size_t i = 0; i < points.size(); ++i) {
    ok[i] = results[i].ok();
    if (ok[i]) {
      std::ifstream is(points[i].stats);
      std::string e;
      ok[i] = is && read_stats_json(is, stats[i], e);
    }
    all_ok = all_ok && ok[i];
    if (ok[i] && points[i].strategy == "none") baseline[points[i].size] = i;
  }
  std::vector<CsvRow> rows;
  for (size_t i = 0; i < points.size(); ++i) {
    auto b = baseline.find(points[i].size);
    rows.push_back(table_row(points[i].strategy, points[i].size, stats[i], ok[i], results[i].seconds,
                             b == baseline.end() ? nullptr : &stats[b->second]));
  }
  const std::string csv_path = (fs::path(o.out_dir) / "strategies.csv").string();
  std::ofstream csv(csv_path);
  write_csv_row(csv, columns());
  for (const CsvRow& r : rows) write_csv_row(csv, r);
  if (!o.quiet) {
    print_strict_cost(out, spec, rows);
    print_table(out, rows);
    out << "wrote " << csv_path << " (" << points.size() << " points, " << fmt(total, 1)
        << " s with " << o.jobs << " jobs)\n";
  }
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace

int study_main(const std::vector<std::string>& args, const std::string& self_exe,
               std::ostream& out, std::ostream& err) {
  try {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      out << kUsage;
      return kExitOk;
    }
    const Options o = parse(args);
    if (!o.point_strategy.empty()) return run_point(o.file, o.sets, o.point_strategy, o.point_size, o.point_stats);
    return run_study(o, self_exe, out, err);
  } catch (const UsageError& e) {
    err << "iommu-sim study: " << e.message << "\n" << kUsage;
    return kExitBadInput;
  } catch (const ConfigError& e) {
    err << "iommu-sim study: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    err << "iommu-sim study: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace iommu_sim
