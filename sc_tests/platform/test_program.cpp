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
  char hash[64];
  std::snprintf(hash, sizeof hash, "\"config_hash\": \"fnv1a64:%016llx\"",
                static_cast<unsigned long long>(fnv1a64(read(dir + "/s.config.yaml"))));
  CHECK(text.find(hash) != std::string::npos);  // of the configuration written beside it
  CHECK(v.at("meta.seed") == 1);
  CHECK(v.at("meta.sim_time_ns") == v.at("summary.sim_time_ns"));
  CHECK(v.at("meta.measured_from_ns") == 0);
  CHECK(v.at("meta.host_time_s") > 0);
  CHECK(v.at("summary.dma_latency_p99_error_ns") >= 0);
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
