#include "iommu_sim/platform/strategy_study.h"
#include "iommu_sim/platform/exit_codes.h"

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
  std::vector<unsigned> sizes;
  MemoryConfig memory;
  IommuConfig iommu;
  double rate_gbps = 10.0;
  DmaDriverConfig driver;  // strategy name and message size set per point
  std::map<std::string, StrategyConfig> per_strategy;
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

  Section drv = p.section("driver");
  d.queued_invalidation = drv.get_enum("invalidation", "queued", {"queued", "register"}) == "queued";
  d.guest_size = drv.get_size("guest_size", d.guest_size, 4ULL << 20, 1ULL << 34);
  d.buffer_stride = drv.get_uint("buffer_stride", 0, 0, 1u << 20);
  d.pool_buffers = drv.get_uint("pool_buffers", 0, 0, 1u << 20);

  Section costs = drv.section("costs");
  const std::string preset = costs.get_enum("preset", "vtd", cost_presets());
  cost_preset(preset, d.costs);
  d.costs.cpu_ghz = costs.get_double("cpu_ghz", d.costs.cpu_ghz, 0.001, 100);
  d.costs.iova_alloc = costs.get_u64("iova_alloc", d.costs.iova_alloc);
  d.costs.iova_free = costs.get_u64("iova_free", d.costs.iova_free);
  d.costs.page_table_update = costs.get_u64("page_table_update", d.costs.page_table_update);
  d.costs.iotlb_invalidation = costs.get_u64("iotlb_invalidation", d.costs.iotlb_invalidation);
  d.costs.invalidation_wait = costs.get_u64("invalidation_wait", d.costs.invalidation_wait);
  d.costs.packet = costs.get_u64("packet", d.costs.packet);

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
};

int run_point(const std::string& file, const std::vector<std::string>& sets,
              const std::string& strategy, unsigned size, const std::string& stats_path) {
  ConfigReader reader = ConfigReader::from_file(file);
  for (const auto& s : sets) reader.apply_override(s);
  const StudySpec spec = read_study(reader.root());
  reader.finish();
  DmaDriverConfig d = spec.driver;
  d.strategy = spec.per_strategy.at(strategy);
  d.message_size = size;
  const std::string err = validate(d);
  if (!err.empty()) throw ConfigError(file + ": driver: " + err);
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

std::string verdict(const std::map<std::string, double>& st, const std::string& v) {
  const std::string p = "study.driver.violations." + v + ".";
  auto get = [&](const std::string& k) { auto it = st.find(p + k); return it == st.end() ? 0.0 : it->second; };
  if (get("injected") == 0) return "-";
  if (get("caught") > 0) return "caught";
  if (get("corrupted") > 0) return "corrupted";
  return "missed";
}

const std::vector<std::string>& columns() {
  static const std::vector<std::string> c = {
      "strategy", "message_size", "throughput_gbps", "cpu_utilisation", "cycles_per_byte",
      "maps", "unmaps", "invalidations", "iotlb_miss_rate", "bad_address", "invalid_use",
      "bad_device", "window_mean_us", "window_max_us", "window_max_dmas", "window_open_at_end",
      "status", "seconds"};
  return c;
}

CsvRow table_row(const std::string& strategy, unsigned size, const std::map<std::string, double>& st,
                 bool ok, double seconds) {
  auto get = [&](const std::string& k) { auto it = st.find(k); return it == st.end() ? 0.0 : it->second; };
  const std::string d = "study.driver.";
  const double lookups = get("study.iommu.iotlb.lookups");
  CsvRow r = {strategy, std::to_string(size)};
  if (!ok) {
    r.resize(columns().size());
    r[columns().size() - 2] = "failed";
    r.back() = fmt(seconds, 2);
    return r;
  }
  r.push_back(fmt(get(d + "throughput_gbps")));
  r.push_back(fmt(get(d + "cpu_utilisation")));
  r.push_back(fmt(get(d + "cycles_per_byte")));
  r.push_back(fmt(get(d + "strategy.maps"), 0));
  r.push_back(fmt(get(d + "strategy.unmaps"), 0));
  r.push_back(fmt(get(d + "strategy.invalidations"), 0));
  r.push_back(fmt(lookups > 0 ? get("study.iommu.iotlb.misses") / lookups : 0.0, 4));
  for (const char* v : {"bad_address", "invalid_use", "bad_device"}) r.push_back(verdict(st, v));
  r.push_back(fmt(get(d + "strategy.window.mean_ns") / 1000.0));
  r.push_back(fmt(get(d + "strategy.window.max_ns") / 1000.0));
  r.push_back(fmt(get(d + "strategy.window.max_dmas"), 0));
  r.push_back(fmt(get(d + "strategy.window.open_at_end"), 0));
  r.push_back("ok");
  r.push_back(fmt(seconds, 2));
  return r;
}

void print_table(std::ostream& out, const std::vector<CsvRow>& rows) {
  // The printed table: the window's maximum reads "unbounded" when some release was still
  // reachable at the end of the run.
  const std::vector<std::string> head = {"strategy", "size", "Gbit/s", "cpu", "cyc/B", "maps",
                                         "unmaps", "invals", "miss", "bad_addr", "invalid_use",
                                         "bad_dev", "win_mean_us", "win_max_us", "win_dmas"};
  std::vector<std::vector<std::string>> cells = {head};
  for (const CsvRow& r : rows) {
    if (r[16] != "ok") {
      cells.push_back({r[0], r[1], "failed"});
      continue;
    }
    const bool open = r[15] != "0";
    cells.push_back({r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
                     r[12], open ? "unbounded" : r[13], open ? "unbounded" : r[14]});
  }
  print_aligned_table(out, cells);
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

  std::vector<CsvRow> rows;
  bool all_ok = true;
  for (size_t i = 0; i < points.size(); ++i) {
    std::map<std::string, double> st;
    bool ok = results[i].ok();
    if (ok) {
      std::ifstream is(points[i].stats);
      std::string e;
      ok = is && read_stats_json(is, st, e);
    }
    all_ok = all_ok && ok;
    rows.push_back(table_row(points[i].strategy, points[i].size, st, ok, results[i].seconds));
  }
  const std::string csv_path = (fs::path(o.out_dir) / "strategies.csv").string();
  std::ofstream csv(csv_path);
  write_csv_row(csv, columns());
  for (const CsvRow& r : rows) write_csv_row(csv, r);
  if (!o.quiet) {
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
