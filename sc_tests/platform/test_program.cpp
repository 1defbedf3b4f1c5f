// The `iommu-sim` program as its users meet it: the version, how the models' messages and
// errors come out, and the metadata of its statistics files.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/sweep/stats_json.h"

using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  const fs::path p = fs::current_path() / "program_out" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Result {
  int code = -1;
  std::string out, err;
};

Result run(const std::string& args, const std::string& dir) {
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  return Result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read(out), read(err)};
}

}  // namespace

TEST_CASE("iommu-sim --version gives the package version and the git revision", "[program]") {
  const Result r = run("--version", scratch("version"));
  REQUIRE(r.code == 0);
  CHECK(std::regex_match(r.out, std::regex(R"(iommu-sim \d+\.\d+\.\d+ \(git [0-9a-zA-Z.\-]+\)\n)")));
}

// The front end opens every output file before the platform is built, so a path the IOMMU could
// not open never reaches the model: the program names the option.
TEST_CASE("an unwritable --iotlb-trace is bad input, said once on stderr", "[program]") {
  const std::string dir = scratch("config_error");
  const Result r = run("run --quiet --iotlb-trace " + dir + "/no/such/dir/x.iotlb", dir);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "iommu-sim: --iotlb-trace " + dir + "/no/such/dir/x.iotlb: cannot open for writing\n");
}

TEST_CASE("run writes its traces in the format and with the operations it is asked for", "[program]") {
  const std::string dir = scratch("trace_style");
  const std::string small = " --quiet --set traffic.0.count=200 --set traffic.1.count=100";
  REQUIRE(run("run" + small + " --iotlb-trace " + dir + "/all.trace", dir).code == 0);
  REQUIRE(run("run" + small + " --iotlb-trace " + dir + "/acc.trace --trace-format binary --trace-ops accesses",
              dir).code == 0);
  std::ifstream all_in(dir + "/all.trace"), acc_in(dir + "/acc.trace", std::ios::binary);
  std::vector<iommu_sim::IotlbOp> all, acc;
  std::string error;
  REQUIRE(iommu_sim::read_iotlb_trace(all_in, all, error));
  REQUIRE(iommu_sim::read_iotlb_trace(acc_in, acc, error));
  CHECK(read(dir + "/acc.trace").compare(0, 6, "\x89IOTLB") == 0);
  std::vector<iommu_sim::IotlbOp> want;
  for (const iommu_sim::IotlbOp& op : all)
    if (op.kind != iommu_sim::IotlbOp::Lookup && op.kind != iommu_sim::IotlbOp::Fill) want.push_back(op);
  REQUIRE(want.size() < all.size());
  REQUIRE(acc.size() == want.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    CHECK(acc[i].kind == want[i].kind);
    CHECK(acc[i].entry == want[i].entry);
  }
  const Result format = run("run --quiet --trace-format xml", dir);
  CHECK(format.code == 2);
  CHECK(format.err.find("--trace-format xml: accepted are text and binary") != std::string::npos);
  const Result ops = run("run --quiet --trace-ops some", dir);
  CHECK(ops.code == 2);
  CHECK(ops.err.find("--trace-ops some: accepted are all and accesses") != std::string::npos);
}

namespace {

std::map<std::string, double> numbers(const std::string& json) {
  std::istringstream in(json);
  std::map<std::string, double> out;
  std::string error;
  REQUIRE(iommu_sim::read_stats_json(in, out, error));
  return out;
}

// The file without its first member ("meta"), to compare two runs' statistics.
std::string without_meta(const std::string& json) {
  const auto start = json.find("\"meta\"");
  const auto end = json.find('\n', start);
  return json.substr(0, start) + json.substr(end + 1);
}

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

TEST_CASE("a statistics file leads with the run's metadata", "[program]") {
  const std::string dir = scratch("meta");
  REQUIRE(run("run --quiet --stats " + dir + "/s.json", dir).code == 0);
  const std::string text = read(dir + "/s.json");
  const auto v = numbers(text);
  CHECK(text.find("\"version\": \"") != std::string::npos);
  CHECK(text.find("\"revision\": \"") != std::string::npos);
  CHECK(text.find("\"platform\": \"default.yaml\"") != std::string::npos);
  // What the DMA engines run, for plot titles and sweep metadata.
  CHECK(text.find("\"workload\": \"dev0 random, dev1 random\"") != std::string::npos);
  char hash[64];
  std::snprintf(hash, sizeof hash, "\"config_hash\": \"fnv1a64:%016llx\"",
                static_cast<unsigned long long>(fnv1a64(read(dir + "/s.config.yaml"))));
  CHECK(text.find(hash) != std::string::npos);  // of the configuration written beside it
  CHECK(v.at("meta.seed") == 1);
  CHECK(v.at("meta.sim_time_ns") == v.at("summary.sim_time_ns"));
  CHECK(v.at("meta.measured_from_ns") == 0);
  CHECK(v.at("meta.host_time_s") > 0);
  CHECK(v.at("summary.dma_latency_p99_error_ns") >= 0);
  // The other translation caches have their summary figures too.
  CHECK(v.at("summary.context_cache_hit_rate") ==
        Approx(v.at("platform.iommu.context_cache.hits") / v.at("platform.iommu.context_cache.lookups")));
  CHECK(v.at("summary.context_cache_hit_rate") < 1);
  CHECK(v.at("summary.pscache_hit_rate") > 0);
}

TEST_CASE("simulation.seed reseeds the workloads and is in the metadata", "[program]") {
  const std::string dir = scratch("seed");
  REQUIRE(run("run --quiet --stats " + dir + "/a.json", dir).code == 0);
  REQUIRE(run("run --quiet --stats " + dir + "/b.json --set simulation.seed=2", dir).code == 0);
  const auto a = numbers(read(dir + "/a.json")), b = numbers(read(dir + "/b.json"));
  CHECK(b.at("meta.seed") == 2);
  CHECK(a.at("summary.dmas") == b.at("summary.dmas"));
  CHECK(a.at("platform.iommu.iotlb.hits") != b.at("platform.iommu.iotlb.hits"));
}

TEST_CASE("a warm-up leaves its statistics out", "[program]") {
  const std::string dir = scratch("warmup");
  REQUIRE(run("run --quiet --stats " + dir + "/all.json", dir).code == 0);
  REQUIRE(run("run --quiet --stats " + dir + "/warm.json --set simulation.warmup_us=1000", dir).code == 0);
  const auto all = numbers(read(dir + "/all.json")), warm = numbers(read(dir + "/warm.json"));
  CHECK(warm.at("meta.measured_from_ns") == 1000000);
  CHECK(warm.at("summary.sim_time_ns") == all.at("summary.sim_time_ns"));  // the same run
  CHECK(warm.at("summary.measured_ns") == all.at("summary.sim_time_ns") - 1000000);
  CHECK(warm.at("summary.dmas") > 0);
  CHECK(warm.at("summary.dmas") < all.at("summary.dmas"));
  // Every block starts over: the IOMMU's own counts and its caches' too.
  CHECK(warm.at("platform.iommu.iotlb.lookups") < all.at("platform.iommu.iotlb.lookups"));
  CHECK(warm.at("platform.iommu.dma_latency.count") < all.at("platform.iommu.dma_latency.count"));
  CHECK(warm.at("summary.throughput_mbps") ==
        Approx(warm.at("summary.bytes") * 1000.0 / warm.at("summary.measured_ns")));
}

TEST_CASE("interval records add up to the run, which they leave as it was", "[program]") {
  const std::string dir = scratch("intervals");
  REQUIRE(run("run --quiet --stats " + dir + "/all.json", dir).code == 0);
  REQUIRE(run("run --quiet --stats " + dir + "/cut.json --set simulation.stats_interval_us=500", dir).code == 0);
  CHECK(without_meta(read(dir + "/cut.json")) == without_meta(read(dir + "/all.json")));
  const auto all = numbers(read(dir + "/all.json"));

  std::ifstream in(dir + "/cut.intervals.jsonl");
  std::string line;
  double dmas = 0, latencies = 0, last_end = 0;
  int n = 0;
  while (std::getline(in, line)) {
    const auto v = numbers(line);
    CHECK(v.at("meta.interval") == n);
    CHECK(v.at("meta.interval_start_ns") == last_end);
    last_end = v.at("meta.interval_end_ns");
    dmas += v.at("platform.dev0.dmas") + v.at("platform.dev1.dmas");
    latencies += v.at("platform.iommu.dma_latency.count");
    ++n;
  }
  CHECK(n == 6);  // 2888.5 us in 500 us intervals
  CHECK(last_end == all.at("summary.sim_time_ns"));
  CHECK(dmas == all.at("summary.dmas"));
  CHECK(latencies == all.at("platform.iommu.dma_latency.count"));
}

TEST_CASE("every command has its own --help, and a wrong command lists them all", "[program]") {
  const std::string dir = scratch("help");
  const Result run_help = run("run --help", dir);
  CHECK(run_help.code == 0);
  CHECK(run_help.out.rfind("usage: iommu-sim run ", 0) == 0);
  CHECK(run_help.out.find("--waves FILE.vcd") != std::string::npos);
  const Result check_help = run("check --help", dir);
  CHECK(check_help.code == 0);
  CHECK(check_help.out.rfind("usage: iommu-sim check ", 0) == 0);
  CHECK(check_help.out.find("study file") != std::string::npos);
  for (const char* command : {"sweep", "study", "replay", "calibrate"}) {
    INFO(command);
    const Result r = run(std::string(command) + " --help", dir);
    CHECK(r.code == 0);
    CHECK(r.out.find(std::string("iommu-sim ") + command) != std::string::npos);
  }
  const Result bad = run("simulate yaml/default.yaml", dir);
  CHECK(bad.code == 2);
  CHECK(bad.err.find("unknown command 'simulate': expected run, check, sweep, study, replay, calibrate or trace") !=
        std::string::npos);
  const Result none = run("", dir);
  CHECK(none.code == 2);
  CHECK(none.out.empty());
  CHECK(none.err.find("usage: iommu-sim COMMAND") != std::string::npos);
  const Result option = run("run --frobnicate", dir);
  CHECK(option.code == 2);
  CHECK(option.err.find("accepted are --set") != std::string::npos);
  CHECK(option.err.find("usage: iommu-sim run ") != std::string::npos);
}

TEST_CASE("check validates study files as well as platforms", "[program]") {
  const std::string dir = scratch("check_study");
  const std::string studies = std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/studies/";
  for (const char* study : {"strategies.yaml", "interrupts.yaml", "viommu-netperf.yaml"}) {
    INFO(study);
    const Result r = run("check " + studies + study, dir);
    CHECK(r.code == 0);
    CHECK(r.out.find(": ok (a study of ") != std::string::npos);
  }
  CHECK(run("check " + studies + "strategies.yaml", dir).out.find("(a study of 42 points)") != std::string::npos);

  // A misspelt key of a strategies study, located.
  {
    std::ofstream f(dir + "/typo.yaml");
    f << "study:\n  strategies: [none, shared]\n  message_sizez: [64]\n";
  }
  const Result typo = run("check " + dir + "/typo.yaml", dir);
  CHECK(typo.code == 2);
  CHECK(typo.err.find("typo.yaml:3:3") != std::string::npos);
  CHECK(typo.err.find("message_sizez") != std::string::npos);

  // An interrupt study whose mode sets a platform key that does not exist: found without running.
  std::string text = read(studies + "interrupts.yaml");
  const std::string mode = "set: [interrupts.delivery=eli]";
  REQUIRE(text.find(mode) != std::string::npos);
  text.replace(text.find(mode), mode.size(), "set: [interrupts.delivry=eli]");
  const std::string platform = "platform: ../interrupts.yaml";
  REQUIRE(text.find(platform) != std::string::npos);
  text.replace(text.find(platform), platform.size(), "platform: " + std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/interrupts.yaml");
  {
    std::ofstream f(dir + "/interrupts.yaml");
    f << text;
  }
  const Result point = run("check " + dir + "/interrupts.yaml", dir);
  CHECK(point.code == 2);
  CHECK(point.err.find("the point mode=eli rate=10k scheduling=pinned") != std::string::npos);
  CHECK(point.err.find("delivry") != std::string::npos);

  // `run` of a study file says what to do instead.
  const Result wrong = run("run " + studies + "strategies.yaml", dir);
  CHECK(wrong.code == 2);
  CHECK(wrong.err.find("is a study file, not a platform description: run it with `iommu-sim study ") !=
        std::string::npos);
}

TEST_CASE("check refuses what run would refuse: an RTL IOTLB the build lacks, an empty platform", "[program]") {
  const std::string dir = scratch("check_refuses");
  // 32x4 LRU is among the geometries an RTL build Verilates; 2x2 is not.
  const std::string rtl = "--set iommu.iotlb.impl=rtl --set iommu.iotlb.sets=32 --set iommu.iotlb.ways=4";
  const Result check = run("check " + std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/default.yaml " + rtl, dir);
#ifdef IOMMU_SIM_HAS_RTL
  CHECK(check.code == 0);
  const Result unbuilt = run("check " + std::string(IOMMU_SIM_SOURCE_DIR) +
                             "/yaml/default.yaml --set iommu.iotlb.impl=rtl --set iommu.iotlb.sets=2 "
                             "--set iommu.iotlb.ways=2", dir);
  CHECK(unbuilt.code == 2);
  CHECK(unbuilt.err.find("no RTL variant") != std::string::npos);
#else
  CHECK(check.code == 2);
  CHECK(check.err.find("this build has no RTL IOTLB (configure with -DIOMMU_RTL=ON") != std::string::npos);
  CHECK(run("run --quiet " + rtl, dir).code == 2);
#endif
  { std::ofstream empty(dir + "/empty.yaml"); }
  for (const char* command : {"check", "run"}) {
    INFO(command);
    const Result r = run(std::string(command) + " " + dir + "/empty.yaml", dir);
    CHECK(r.code == 2);
    CHECK(r.err.find("the platform has no DMA source") != std::string::npos);
    CHECK(r.err.find("SystemC") == std::string::npos);
  }
}
