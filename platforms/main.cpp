// iommu-sim: runs, checks and sweeps the virtual platforms described in YAML.
//
// Exit codes: 0 success, 2 bad input (file, key, value, flag), 1 simulation failure.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <systemc>

#include "iommu_sim/platform/command_line.h"
#include "iommu_sim/platform/config_reader.h"
#include "default_platform.h"
#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/platform/platform.h"
#include "iommu_sim/platform/platform_config.h"
#include "iommu_sim/platform/replay.h"
#include "iommu_sim/platform/report.h"
#include "iommu_sim/platform/calibrate/calibrate.h"
#include "iommu_sim/platform/sweep/sweep.h"
#include "iommu_sim/platform/strategy_study.h"
#include "iommu_sim/platform/interrupt_study.h"
#include "iommu_sim_revision.h"
#include "iommu_sim/version.h"
#include "iommu_sim/platform/report_handler.h"
#include "iommu_sim/platform/stats_files.h"
#include "iommu_sim/platform/trace_command.h"

namespace {

using namespace iommu_sim;


const char* const kUsage =
    "usage: iommu-sim COMMAND [arguments]\n"
    "commands:\n"
    "  run [PLATFORM.yaml] [options]    run a platform (default: the built-in default.yaml)\n"
    "  check FILE.yaml [--set K=V]      validate a platform description or a study file\n"
    "  sweep ...                        design-space sweeps: grids and one-pass exploration\n"
    "  study STUDY.yaml --out DIR       a study: protection strategies or interrupt delivery\n"
    "  replay CAPTURE [options]         replay Linux under QEMU's VT-d and compare\n"
    "  calibrate MEASURED.csv --out DIR fit the model to a measured latency curve\n"
    "  trace convert IN OUT [--to F]    an IOTLB trace between text and binary\n"
    "  --help | --version\n"
    "`iommu-sim COMMAND --help` lists a command's options.\n"
    "exit status: 0 success, 2 bad input (file, key, value, option), 1 simulation failure\n";

const char* const kRunUsage =
    "usage: iommu-sim run [PLATFORM.yaml] [options]\n"
    "  runs the platform (default: the built-in default.yaml), prints a summary\n"
    "options:\n"
    "  --set KEY=VALUE     override any scalar (dotted key, e.g. iommu.iotlb.ways=8); repeatable\n"
    "  --stats FILE.json   write every statistic as JSON with the run's metadata, the effective\n"
    "                      configuration beside it as FILE.config.yaml, and with\n"
    "                      simulation.stats_interval_us one line per interval to FILE.intervals.jsonl\n"
    "  --waves FILE.vcd    write a waveform of the translation pipeline: VCD, or FST for FILE.fst\n"
    "                      (with the RTL IOTLB, its own FST waveform goes to FILE.iotlb.fst)\n"
    "  --iotlb-trace FILE  record the IOTLB access stream (for co-simulation replay and one-pass sweeps)\n"
    "  --devtlb-trace FILE record every function's device-TLB access stream (ATS; one-pass sweeps)\n"
    "  --trace-format F    text (default) or binary, for both traces (formats: docs/iotlb.md)\n"
    "  --trace-ops all|accesses  every operation (default), or only the accesses and\n"
    "                      invalidations that one-pass sweeps read (not for co-simulation replay)\n"
    "  --quiet             print nothing but errors\n"
    "exit status: 0 success, 2 bad input, 1 simulation failure\n";

const char* const kCheckUsage =
    "usage: iommu-sim check FILE.yaml [--set KEY=VALUE]... [--quiet]\n"
    "  validates without running:\n"
    "  - a platform description: every key, and everything `run` refuses before the devices start\n"
    "    (the platform is built and its host software set up; an `impl: rtl` IOTLB in a build\n"
    "    without the RTL is refused);\n"
    "  - a study file (top-level `study:`): the study, and every point's configuration\n"
    "    (for an interrupt study, the platform it names with every point's settings).\n"
    "  --set applies to the platform, or to the study file's keys (interrupt study: to every\n"
    "  point's platform). Prints FILE: ok.\n"
    "exit status: 0 valid, 2 bad input, 1 simulation failure during set-up\n";

const char* const kCommands = "expected run, check, sweep, study, replay, calibrate or trace";

struct Options {
  std::string command;
  std::string platform;  // empty: the built-in default
  std::vector<std::string> sets;
  std::string stats_path, waves_path, iotlb_trace_path, devtlb_trace_path;
  IotlbTraceStyle trace_style;
  bool quiet = false;
};

Options parse_args(const std::vector<std::string>& args) {
  Options o;
  o.command = args.at(0);
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& flag) -> std::string {
      const auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) throw UsageError{flag + " needs a value"};
      return args[++i];
    };
    auto is = [&](const std::string& flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
    if (is("--set")) {
      o.sets.push_back(value("--set"));
    } else if (is("--stats")) {
      o.stats_path = value("--stats");
    } else if (is("--waves")) {
      o.waves_path = value("--waves");
    } else if (is("--iotlb-trace")) {
      o.iotlb_trace_path = value("--iotlb-trace");
    } else if (is("--devtlb-trace")) {
      o.devtlb_trace_path = value("--devtlb-trace");
    } else if (is("--trace-format")) {
      const std::string v = value("--trace-format");
      if (!parse_iotlb_trace_format(v, o.trace_style.format))
        throw UsageError{"--trace-format " + v + ": accepted are text and binary"};
    } else if (is("--trace-ops")) {
      const std::string v = value("--trace-ops");
      if (!parse_iotlb_trace_ops(v, o.trace_style.accesses_only))
        throw UsageError{"--trace-ops " + v + ": accepted are all and accesses"};
    } else if (a == "--quiet" || a == "-q") {
      o.quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a +
                       "': accepted are --set, --stats, --waves, --iotlb-trace, --devtlb-trace, "
                       "--trace-format, --trace-ops, --quiet, --help"};
    } else if (o.platform.empty()) {
      o.platform = a;
    } else {
      throw UsageError{"more than one platform file given ('" + o.platform + "' and '" + a + "')"};
    }
  }
  if (o.command == "check" && o.platform.empty()) throw UsageError{"check needs a FILE.yaml"};
  return o;
}

// `check` of a study file. Returns the exit code.
int check_study(const Options& o) {
  const size_t points = is_interrupt_study({o.platform}) ? check_interrupt_study(o.platform, o.sets)
                                                         : check_strategy_study(o.platform, o.sets);
  if (!o.quiet) std::cout << o.platform << ": ok (a study of " << points << " points)\n";
  return kExitOk;
}

int run(const Options& o) {
  if (!o.platform.empty() && is_study_file(o.platform)) {
    if (o.command == "check") return check_study(o);
    throw ConfigError(o.platform + " is a study file, not a platform description: run it with "
                      "`iommu-sim study " + o.platform + " --out DIR`");
  }
  ConfigReader reader = o.platform.empty()
                            ? ConfigReader::from_text(kDefaultPlatformYaml, "default.yaml")
                            : ConfigReader::from_file(o.platform);
  for (const auto& s : o.sets) reader.apply_override(s);
  PlatformConfig config = read_platform_config(reader.root());
  reader.finish();
  // A failure that is the description's (a region too small for what it must hold) names the
  // key to change, located like every other input error.
  const auto input_error = [&reader](const PlatformOutcome& outcome) {
    return ConfigError(reader.where_is(outcome.input_key) + ": key '" + outcome.input_key +
                       "': " + outcome.message);
  };

  // What only the wiring can refuse (no DMA source, an RTL IOTLB in a build without one, a
  // trace file) is about the description as a whole: name it.
  const auto build = [&reader](const PlatformConfig& c, StatsRegistry& stats) {
    try {
      return std::make_unique<Platform>("platform", c, stats);
    } catch (const ConfigError& e) {
      throw ConfigError(reader.source_name() + ": " + e.what());
    }
  };

  install_report_handler(o.quiet);
  if (o.command == "check") {
    // Beyond the keys, everything `run` would refuse before the devices start: the platform is
    // built and its host software sets up (tables, registers, enumeration, interrupt tables).
    StatsRegistry stats;
    const std::unique_ptr<Platform> built = build(config, stats);
    Platform& platform = *built;
    const PlatformOutcome outcome = platform.run_setup();
    if (!outcome.ok && !outcome.input_key.empty()) throw input_error(outcome);
    if (!outcome.ok) {
      std::cerr << "iommu-sim: simulation failed during set-up: " << outcome.message << "\n";
      return kExitFailure;
    }
    if (!o.quiet) std::cout << reader.source_name() << ": ok\n";
    return kExitOk;
  }

  // Output files are opened before the simulation so that a bad path costs nothing.
  if (!o.iotlb_trace_path.empty()) {
    if (!std::ofstream(o.iotlb_trace_path))
      throw ConfigError("--iotlb-trace " + o.iotlb_trace_path + ": cannot open for writing");
    config.iommu.iotlb_trace_path = o.iotlb_trace_path;
    config.iommu.iotlb_trace_style = o.trace_style;
  }
  if (!o.devtlb_trace_path.empty()) {
    if (!std::ofstream(o.devtlb_trace_path))
      throw ConfigError("--devtlb-trace " + o.devtlb_trace_path + ": cannot open for writing");
    config.devtlb_trace_path = o.devtlb_trace_path;
    config.devtlb_trace_style = o.trace_style;
  }
  const bool intervals = config.simulation.stats_interval > sc_core::SC_ZERO_TIME;
  if (intervals && o.stats_path.empty() && !o.quiet)
    std::cerr << "iommu-sim: warning: simulation.stats_interval_us needs --stats FILE.json to write to\n";
  StatsFiles stats_files(o.stats_path, intervals);
  stats_files.describe(IOMMU_SIM_VERSION, IOMMU_SIM_REVISION, reader.source_name(), reader.effective_yaml(),
                       config.simulation.seed, describe_workloads(config));
  VcdWriter waves;
  if (!o.waves_path.empty()) {
    try {
      waves.open(o.waves_path);
    } catch (const std::exception& e) {
      throw ConfigError(std::string("--waves: ") + e.what());
    }
  }

  StatsRegistry stats;
  const std::unique_ptr<Platform> built = build(config, stats);
  Platform& platform = *built;
  if (waves.is_open()) {
    // With the RTL IOTLB, the Verilated model's own waveform goes beside the platform's.
    const std::string rtl_waves =
        config.iotlb_impl == "rtl" ? o.waves_path.substr(0, o.waves_path.rfind('.')) + ".iotlb.fst" : "";
    platform.trace_to(waves, rtl_waves);
  }
  const PlatformOutcome outcome = platform.run(stats_files.interval_writer(stats));
  waves.close();
  if (!outcome.ok && !outcome.input_key.empty()) throw input_error(outcome);
  stats_files.finish(stats, outcome);
  if (!o.quiet) print_report(std::cout, reader.source_name(), config, stats, outcome, platform.fault_records(),
                             platform.dma_sources());
  if (!outcome.ok) {
    std::cerr << "iommu-sim: simulation failed: " << outcome.message << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

// The program's own path, for the sweep to spawn one run per point.
std::string self_path(const char* argv0) {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  return argv0;
}

}  // namespace

// Our own main: SystemC prints its banner before sc_main unless told not to, and the banner is
// noise in a report or a CSV. A user who wants it can set the variable to 0.
int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}

int sc_main(int argc, char* argv[]) {
  install_report_handler(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? std::cerr : std::cout) << kUsage;
    return args.empty() ? kExitBadInput : kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "iommu-sim " << IOMMU_SIM_VERSION << " (git " << IOMMU_SIM_REVISION << ")\n";
    return kExitOk;
  }
  if (args[0] == "study") {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (is_interrupt_study(rest)) return interrupt_study_main(rest, self_path(argv[0]), std::cout, std::cerr);
    if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) std::cout << interrupt_study_usage();
    return study_main(std::vector<std::string>(args.begin() + 1, args.end()), self_path(argv[0]),
                      std::cout, std::cerr);
  }
  // A capture of Linux under QEMU replays; `run CAPTURE/capture.txt` too, so that grid sweeps and
  // one-pass exploration take a capture where they take a platform.
  if (args[0] == "replay" || (args[0] == "run" && run_args_name_capture({args.begin() + 1, args.end()}))) {
    return replay_main(std::vector<std::string>(args.begin() + 1, args.end()), std::cout, std::cerr);
  }
  if (args[0] == "calibrate") {
    return calibrate_main(std::vector<std::string>(args.begin() + 1, args.end()), self_path(argv[0]),
                          std::cout, std::cerr);
  }
  if (args[0] == "trace") {
    return trace_main(std::vector<std::string>(args.begin() + 1, args.end()), std::cout,
                      std::cerr);
  }
  if (args[0] == "sweep") {
    return sweep_main(std::vector<std::string>(args.begin() + 1, args.end()), self_path(argv[0]),
                      std::cout, std::cerr);
  }
  if (args[0] != "run" && args[0] != "check") {
    std::cerr << "iommu-sim: unknown command '" << args[0] << "': " << kCommands << "\n" << kUsage;
    return kExitBadInput;
  }
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << (args[0] == "run" ? kRunUsage : kCheckUsage);
      return kExitOk;
    }
  }
  const char* usage = args[0] == "run" ? kRunUsage : kCheckUsage;
  try {
    return run(parse_args(args));
  } catch (const UsageError& e) {
    std::cerr << "iommu-sim " << args[0] << ": " << e.message << "\n" << usage;
    return kExitBadInput;
  } catch (const ConfigError& e) {
    std::cerr << "iommu-sim: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const sc_core::sc_report& e) {
    const int code = exit_code_for(e);
    std::cerr << "iommu-sim: " << (code == kExitFailure ? "simulation failed: " : "") << e.get_msg() << "\n";
    return code;
  } catch (const std::exception& e) {
    std::cerr << "iommu-sim: simulation failed: " << e.what() << "\n";
    return kExitFailure;
  }
}
