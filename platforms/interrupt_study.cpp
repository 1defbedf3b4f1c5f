#include "iommu_sim/platform/interrupt_study.h"
#include "iommu_sim/platform/exit_codes.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/sweep/csv.h"
#include "iommu_sim/platform/sweep/grid.h"
#include "iommu_sim/platform/sweep/plots.h"
#include "iommu_sim/platform/sweep/process_pool.h"
#include "iommu_sim/platform/sweep/stats_json.h"
#include "iommu_sim/platform/sweep/table.h"

namespace fs = std::filesystem;

namespace iommu_sim {

namespace {

const char* const kKind = "interrupt-delivery";
const char* const kApic = "platform.apic.guest.";

const char* const kUsage =
    "usage: iommu-sim study INTERRUPTS.yaml --out DIR [--jobs N] [--set KEY=VALUE]... [--no-plots] [--quiet]\n"
    "  (a study file with study.kind: interrupt-delivery, e.g. yaml/studies/interrupts.yaml)\n"
    "  runs every delivery mode x interrupt rate x vCPU scheduling of the study, each point a\n"
    "  platform run in a process of its own, and writes DIR/interrupts.csv,\n"
    "  DIR/interrupts_per_guest.csv, DIR/points/pNNNN.{json,config.yaml,log} and plots; prints\n"
    "  the table. --set overrides a platform key for every point (after the study's own).\n";

struct UsageError {
  std::string message;
};

// One value of an axis: its name and the platform settings ("key=value") it stands for.
struct AxisValue {
  std::string name;
  std::vector<std::string> settings;
};

struct InterruptStudy {
  std::string platform;            // the platform description, as a path
  std::vector<std::string> common;  // settings of every point
  std::vector<AxisValue> modes, rates, schedules;
};

std::vector<AxisValue> read_axis(Section study, const std::string& key) {
  std::vector<AxisValue> values;
  std::set<std::string> names;
  for (Section v : study.list(key)) {
    AxisValue a;
    a.name = v.get_string("name", "");
    if (a.name.empty() || a.name.find_first_of(", ") != std::string::npos)
      v.fail("name", "every " + key + " item needs a name without commas or spaces");
    if (!names.insert(a.name).second) v.fail("name", "'" + a.name + "' is used twice");
    a.settings = v.get_string_list("set");
    for (const std::string& kv : a.settings)
      if (kv.find('=') == std::string::npos || kv.front() == '=')
        v.fail("set", "'" + kv + "' is not KEY=VALUE");
    values.push_back(a);
  }
  if (values.empty()) study.fail(key, "needs at least one item");
  return values;
}

InterruptStudy read_study(Section root, const std::string& file) {
  InterruptStudy s;
  Section study = root.section("study");
  study.get_enum("kind", kKind, {kKind});
  const std::string platform = study.get_string("platform", "");
  if (platform.empty()) study.fail("platform", "names the platform description the points run");
  // Relative to the study file, so that the study runs from any directory.
  s.platform = fs::path(platform).is_absolute() ? platform
                                                 : (fs::path(file).parent_path() / platform).lexically_normal().string();
  if (!fs::is_regular_file(s.platform)) study.fail("platform", "'" + s.platform + "' is not a file");
  s.common = study.get_string_list("set");
  s.modes = read_axis(study, "modes");
  s.rates = read_axis(study, "rates");
  s.schedules = read_axis(study, "scheduling");
  return s;
}

struct Options {
  std::string file, out_dir;
  std::vector<std::string> sets;
  unsigned jobs = 2;
  bool plots = true;
  bool quiet = false;
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
      const std::string& kv = value();
      if (kv.find('=') == std::string::npos || kv.front() == '=')
        throw UsageError{"--set expects KEY=VALUE, got '" + kv + "'"};
      o.sets.push_back(kv);
    } else if (a == "--no-plots") {
      o.plots = false;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "': accepted are --out, --jobs, --set, --no-plots, --quiet"};
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      throw UsageError{"more than one study file ('" + o.file + "' and '" + a + "')"};
    }
  }
  if (o.file.empty()) throw UsageError{"a STUDY.yaml is required"};
  if (o.out_dir.empty()) throw UsageError{"--out DIR is required"};
  return o;
}

// The figures of one point, for all its guests together or for one of them (`prefix` is
// "summary" or the guest's statistics prefix).
struct Figures {
  double interrupts = 0, rate_per_guest = 0, exits = 0, latency_p50_us = 0, latency_p99_us = 0;
  double hypervisor_ns_per_irq = 0, hypervisor_cpu_percent = 0;
  std::map<std::string, double> by_cause;  // per 1,000 interrupts
};

const char* const kCauses[] = {"arrival", "eoi", "host", "wakeup"};

const std::vector<std::string>& figure_columns() {
  static const std::vector<std::string> c = {
      "interrupts", "interrupts_per_s_per_guest", "exits_per_1000", "arrival_per_1000",
      "eoi_per_1000", "host_per_1000", "wakeup_per_1000", "latency_p50_us", "latency_p99_us",
      "hypervisor_ns_per_interrupt", "hypervisor_cpu_percent"};
  return c;
}

std::vector<std::string> figure_cells(const Figures& f) {
  std::vector<std::string> r = {fixed_text(f.interrupts, 0), fixed_text(f.rate_per_guest, 0), fixed_text(f.exits, 1)};
  for (const char* c : kCauses) r.push_back(fixed_text(f.by_cause.at(c), 1));
  r.push_back(fixed_text(f.latency_p50_us, 3));
  r.push_back(fixed_text(f.latency_p99_us, 3));
  r.push_back(fixed_text(f.hypervisor_ns_per_irq, 0));
  r.push_back(fixed_text(f.hypervisor_cpu_percent, 2));
  return r;
}

// Guest names, from the statistics (platform.apic.guest.<name>.requested).
std::vector<std::string> guest_names(const std::map<std::string, double>& st) {
  std::vector<std::string> out;
  const std::string p = kApic, suffix = ".requested";
  for (const auto& [k, v] : st) {
    if (k.rfind(p, 0) != 0 || k.size() <= p.size() + suffix.size()) continue;
    if (k.compare(k.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string name = k.substr(p.size(), k.size() - p.size() - suffix.size());
    if (name.find('.') == std::string::npos) out.push_back(name);
  }
  return out;
}

Figures figures(const std::map<std::string, double>& st, const std::vector<std::string>& guests) {
  auto get = [&](const std::string& k) { auto it = st.find(k); return it == st.end() ? 0.0 : it->second; };
  Figures f;
  const double seconds = get("summary.sim_time_ns") / 1e9;
  double hypervisor_ps = 0, p50 = 0, p99 = 0;
  for (const std::string& g : guests) {
    const std::string b = kApic + g + ".";
    f.interrupts += get(b + "requested");
    f.exits += get(b + "vm_exits");
    for (const char* c : kCauses) f.by_cause[c] += get(b + "exits." + c);
    hypervisor_ps += get(b + "hypervisor_ps");
  }
  if (guests.size() == 1) {
    p50 = get(kApic + guests[0] + ".latency.p50");
    p99 = get(kApic + guests[0] + ".latency.p99");
  } else {
    p50 = get("summary.interrupt_latency_p50_ns") * 1000.0;
    p99 = get("summary.interrupt_latency_p99_ns") * 1000.0;
  }
  const double n = f.interrupts;
  f.exits = n > 0 ? f.exits * 1000.0 / n : 0.0;
  for (const char* c : kCauses) f.by_cause[c] = n > 0 ? f.by_cause[c] * 1000.0 / n : 0.0;
  f.latency_p50_us = p50 / 1e6;
  f.latency_p99_us = p99 / 1e6;
  f.hypervisor_ns_per_irq = n > 0 ? hypervisor_ps / 1000.0 / n : 0.0;
  const double guest_seconds = seconds * static_cast<double>(guests.size());
  f.hypervisor_cpu_percent = guest_seconds > 0 ? 100.0 * hypervisor_ps / 1e12 / guest_seconds : 0.0;
  f.rate_per_guest = guest_seconds > 0 ? n / guest_seconds : 0.0;
  return f;
}

int run_study(const Options& o, const std::string& self_exe, std::ostream& out, std::ostream& err) {
  // Read (and check) once here, so that a bad file fails before any process starts.
  ConfigReader reader = ConfigReader::from_file(o.file);
  const InterruptStudy study = read_study(reader.root(), o.file);
  reader.finish();

  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir / "points", ec);
  if (ec) {
    err << "study: cannot create " << (dir / "points").string() << ": " << ec.message() << "\n";
    return kExitBadInput;
  }
  // The grid of the three axes, by value name.
  std::vector<GridAxis> axes(3);
  axes[0].key = "mode";
  axes[1].key = "rate";
  axes[2].key = "scheduling";
  const std::vector<const std::vector<AxisValue>*> values = {&study.modes, &study.rates, &study.schedules};
  for (size_t a = 0; a < 3; ++a)
    for (const AxisValue& v : *values[a]) axes[a].values.push_back(v.name);
  const std::vector<GridPoint> points = expand_grid(axes);

  std::vector<ProcessSpec> specs;
  for (const GridPoint& p : points) {
    char name[32];
    std::snprintf(name, sizeof name, "p%04zu", p.index);
    ProcessSpec s;
    s.argv = {self_exe, "run", study.platform};
    std::vector<std::string> sets = study.common;
    for (size_t a = 0; a < 3; ++a) {
      for (const AxisValue& v : *values[a])
        if (v.name == p.settings[a].second) sets.insert(sets.end(), v.settings.begin(), v.settings.end());
    }
    sets.insert(sets.end(), o.sets.begin(), o.sets.end());
    for (const std::string& kv : sets) s.argv.insert(s.argv.end(), {"--set", kv});
    s.argv.insert(s.argv.end(), {"--stats", (dir / "points" / (std::string(name) + ".json")).string(), "--quiet"});
    s.log_path = (dir / "points" / (std::string(name) + ".log")).string();
    specs.push_back(s);
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ProcessResult> results(points.size());
  size_t finished = 0;
  if (!o.quiet) err << "study: " << points.size() << " points, " << o.jobs << " at a time\n";
  run_processes(specs, o.jobs, 0, [&](size_t i, const ProcessResult& r) {
    results[i] = r;
    ++finished;
    if (!o.quiet)
      err << "study: [" << finished << "/" << points.size() << "] " << points[i].settings[0].second << " "
          << points[i].settings[1].second << " " << points[i].settings[2].second << ": "
          << (r.ok() ? "ok" : r.describe(0)) << " (" << fixed_text(r.seconds, 1) << " s)\n";
  });
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  CsvRow header = {"point", "mode", "rate", "scheduling"};
  CsvRow guest_header = header;
  guest_header.push_back("guest");
  for (const std::string& c : figure_columns()) {
    header.push_back(c);
    guest_header.push_back(c);
  }
  for (const char* c : {"status", "seconds", "error"}) header.push_back(c);
  std::vector<CsvRow> rows, guest_rows;
  std::vector<std::vector<std::string>> table = {
      {"mode", "rate", "scheduling", "irq/s/guest", "exits/1000", "arrival", "eoi", "host", "wakeup",
       "p50 us", "p99 us", "hyp ns/irq", "hyp cpu %"}};
  bool all_ok = true, all_bad_input = true;
  for (size_t i = 0; i < points.size(); ++i) {
    const GridPoint& p = points[i];
    CsvRow row = {std::to_string(p.index), p.settings[0].second, p.settings[1].second, p.settings[2].second};
    std::map<std::string, double> st;
    std::string error;
    bool ok = results[i].ok();
    if (ok) {
      std::ifstream in(specs[i].argv[specs[i].argv.size() - 2]);
      ok = in && read_stats_json(in, st, error);
      if (!ok && error.empty()) error = "no statistics file";
    } else {
      error = results[i].describe(0);
    }
    all_ok = all_ok && ok;
    all_bad_input = all_bad_input && !ok && results[i].started && results[i].exit_code == kExitBadInput;
    const std::vector<std::string> guests = guest_names(st);
    if (ok && guests.empty()) {
      ok = false;
      all_ok = false;
      error = "the platform has no guests (no interrupts: section?)";
    }
    if (ok) {
      const Figures f = figures(st, guests);
      for (const std::string& cell : figure_cells(f)) row.push_back(cell);
      table.push_back({row[1], row[2], row[3], fixed_text(f.rate_per_guest, 0), fixed_text(f.exits, 0),
                       fixed_text(f.by_cause.at("arrival"), 0), fixed_text(f.by_cause.at("eoi"), 0),
                       fixed_text(f.by_cause.at("host"), 0), fixed_text(f.by_cause.at("wakeup"), 0),
                       fixed_text(f.latency_p50_us, 2), fixed_text(f.latency_p99_us, 2), fixed_text(f.hypervisor_ns_per_irq, 0),
                       fixed_text(f.hypervisor_cpu_percent, 2)});
      for (const std::string& g : guests) {
        CsvRow gr = {row[0], row[1], row[2], row[3], g};
        for (const std::string& cell : figure_cells(figures(st, {g}))) gr.push_back(cell);
        guest_rows.push_back(gr);
      }
    } else {
      row.resize(4 + figure_columns().size());
      table.push_back({row[1], row[2], row[3], "failed"});
    }
    row.push_back(ok ? "ok" : "failed");
    row.push_back(fixed_text(results[i].seconds, 2));
    row.push_back(error);
    rows.push_back(row);
  }

  const std::string csv = (dir / "interrupts.csv").string();
  const std::string guest_csv = (dir / "interrupts_per_guest.csv").string();
  for (const auto& [path, head, body] : {std::make_tuple(csv, &header, &rows),
                                         std::make_tuple(guest_csv, &guest_header, &guest_rows)}) {
    std::ofstream f(path);
    write_csv_row(f, *head);
    for (const CsvRow& r : *body) write_csv_row(f, r);
    f.flush();
    if (!f) {
      err << "study: cannot write " << path << "\n";
      return kExitFailure;
    }
  }
  if (!o.quiet) {
    print_aligned_table(out, table);
    out << "study: " << points.size() << " points in " << fixed_text(total, 1) << " s with " << o.jobs
        << " jobs -> " << csv << ", " << guest_csv << "\n";
  }
  if (o.plots) make_plots("plot_interrupts.py", csv, dir.string(), out, err, "study");
  if (all_ok) return kExitOk;
  return all_bad_input ? kExitBadInput : kExitFailure;
}

// The first word that is not an option or an option's value: the study file.
std::string study_file(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--out" || a == "--jobs" || a == "-j" || a == "--set" || a == "--point-strategy" ||
        a == "--point-size" || a == "--point-stats") {
      ++i;
    } else if (a.empty() || a[0] != '-') {
      return a;
    }
  }
  return "";
}

}  // namespace

const char* interrupt_study_usage() { return kUsage; }

bool is_interrupt_study(const std::vector<std::string>& args) {
  const std::string file = study_file(args);
  if (file.empty()) return false;
  try {
    const YAML::Node root = YAML::LoadFile(file);
    const YAML::Node kind = root["study"] ? root["study"]["kind"] : YAML::Node();
    return kind && kind.IsScalar() && kind.Scalar() == kKind;
  } catch (const std::exception&) {
    return false;
  }
}

int interrupt_study_main(const std::vector<std::string>& args, const std::string& self_exe,
                         std::ostream& out, std::ostream& err) {
  try {
    const Options o = parse(args);
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
