// Bad input to the real `iommu-sim` program: every description that `run` refuses, `check`
// refuses too, both with exit code 2 and a message that names the place (file:line:column, the
// file, or the --set) and the key, never a SystemC error or exit code 1.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "iommu_sim/platform/sweep/process_pool.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path p = fs::current_path() / "input_errors_out";
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

struct Outcome {
  int exit_code = -1;
  std::string output;
};

Outcome run(std::vector<std::string> args) {
  static int n = 0;
  ProcessSpec spec;
  spec.argv = {IOMMU_SIM_EXE};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  // Test cases run in processes of their own, in parallel: the log is this process's.
  spec.log_path = (scratch() / ("log" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".txt")).string();
  const ProcessResult r = run_process(spec);
  std::ifstream in(spec.log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Outcome{r.exit_code, ss.str()};
}

std::string file(const std::string& name, const std::string& text) {
  const fs::path p = scratch() / name;
  std::ofstream(p) << text;
  return p.string();
}

// `check` and `run` both refuse with exit 2, naming `where`; no SystemC error text.
void both_refuse(const std::string& path, const std::string& where, const std::string& what,
                 const std::vector<std::string>& extra = {}) {
  for (const char* command : {"check", "run"}) {
    std::vector<std::string> args = {command, path, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Outcome o = run(args);
    INFO(command << ": " << o.output);
    CHECK(o.exit_code == 2);
    CHECK(o.output.find("iommu-sim: " + where) != std::string::npos);
    CHECK(o.output.find(what) != std::string::npos);
    CHECK(o.output.find("E109") == std::string::npos);
    CHECK(o.output.find("E549") == std::string::npos);
  }
}

const char* kTraffic = "traffic:\n  - {name: dev0, requester: \"00:02.0\", workload: random, count: 10}\n";

}  // namespace

TEST_CASE("a platform without a DMA source is bad input, not a SystemC binding error", "[platform]") {
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"empty.yaml", ""},
           {"host_only.yaml", "host: {table_size: 1M}\n"},
           {"no_traffic.yaml", "traffic: []\n"},
           {"idle.yaml", "traffic:\n  - {name: dev0, workload: none}\n"},
           {"idle_endpoint.yaml", "pcie:\n  endpoints: [{name: nic0, bus: 1, workload: {kind: none}}]\n"}}) {
    const std::string path = file(name, text);
    both_refuse(path, path + ": ", "no DMA source");
  }
}

TEST_CASE("tables that do not fit their region name host.table_size where it was written", "[platform]") {
  // 1 GiB of 4 KiB pages needs 512 leaf tables; 64 KiB holds 16 pages.
  const std::string path = file("tables.yaml", std::string(kTraffic) +
                                                   "host:\n  table_size: 64K\n  domains:\n"
                                                   "    - id: 1\n      devices: [\"00:02.0\"]\n"
                                                   "      mappings: [{iova: 0, phys: 0x40000000, size: 1G}]\n");
  both_refuse(path, path + ":4:15: key 'host.table_size'", "need more than the 16 pages");
  // From a --set, the --set is named.
  const std::string small = file("tables_set.yaml", std::string(kTraffic) +
                                                        "host:\n  domains:\n"
                                                        "    - id: 1\n      devices: [\"00:02.0\"]\n"
                                                        "      mappings: [{iova: 0, phys: 0x40000000, size: 1G}]\n");
  both_refuse(small, "--set host.table_size=64K: key 'host.table_size'", "table memory",
              {"--set", "host.table_size=64K"});
}

TEST_CASE("driver buffers that do not fit name host.driver.buffer_size", "[platform]") {
  const std::string path = file("buffers.yaml",
                                "pcie:\n  endpoints:\n    - {name: nic0, bus: 1, workload: {kind: random, window: 2M}}\n"
                                "host:\n  driver: {buffer_size: 1M}\n");
  both_refuse(path, path + ":5:25: key 'host.driver.buffer_size'", "out of physical memory");
}

TEST_CASE("an unwritable --iotlb-trace path is bad input", "[platform]") {
  const std::string path = file("ok.yaml", kTraffic);
  const Outcome o = run({"run", path, "--quiet", "--iotlb-trace", "/nonexistent/dir/x.iotlb"});
  CHECK(o.exit_code == 2);
  CHECK(o.output.find("--iotlb-trace /nonexistent/dir/x.iotlb: cannot open for writing") != std::string::npos);
  CHECK(run({"check", path, "--quiet"}).exit_code == 0);
}

TEST_CASE("waves are written to .vcd or .fst only, and an unwritable path of either is bad input", "[platform]") {
  const std::string path = file("ok.yaml", kTraffic);
  const std::string out = (scratch() / "waves.txt").string();
  const Outcome o = run({"run", path, "--quiet", "--waves", out});
  CHECK(o.exit_code == 2);
  CHECK(o.output.find("--waves: '" + out + "': the waveform format is chosen by the extension: "
                      "accepted are .vcd (VCD) and .fst (FST)") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  for (const char* bad : {"/nonexistent/dir/x.vcd", "/nonexistent/dir/x.fst"}) {
    INFO(bad);
    const Outcome u = run({"run", path, "--quiet", "--waves", bad});
    CHECK(u.exit_code == 2);
    CHECK(u.output.find(std::string("--waves: cannot open waveform file '") + bad + "' for writing") !=
          std::string::npos);
  }
}

TEST_CASE("a run with every latency at zero still ends, at its time limit or its count", "[platform]") {
  const std::string zero =
      "memory: {read_latency_ns: 0, write_latency_ns: 0}\n"
      "iommu: {cache_latency_ns: 0, register_latency_ns: 0, iotlb: {hit_latency_ns: 0}}\n";
  const std::string limited = file("zero_limited.yaml",
                                   zero + "simulation: {max_time_us: 1}\n"
                                          "traffic:\n  - {name: dev0, requester: \"00:02.0\", workload: random, "
                                          "gap_ns: 0, count: 1000000000000}\n"
                                          "host:\n  domains: [{id: 1, devices: [\"00:02.0\"], "
                                          "mappings: [{iova: 0, phys: 0x40000000, size: 1M}]}]\n");
  const Outcome a = run({"run", limited, "--quiet"});
  CHECK(a.exit_code == 0);
  const std::string counted = file("zero_counted.yaml",
                                   zero + "traffic:\n  - {name: dev0, requester: \"00:02.0\", workload: random, "
                                          "gap_ns: 0, count: 1000}\n");
  CHECK(run({"run", counted, "--quiet"}).exit_code == 0);
}

TEST_CASE("a DMA trace whose times run past simulated time is bad input", "[platform]") {
  const std::string trace = file("far.trace", "0 00:02.0 0x1000 64 R\n100000000000000000 00:02.0 0x1000 64 R\n");
  const std::string path = file("far.yaml", "traffic:\n  - {name: dev0, requester: \"00:02.0\", workload: trace, path: \"" +
                                                trace + "\"}\n");
  both_refuse(path, path + ": " + trace + ": time", "past the end of simulated time");
}

TEST_CASE("a study whose points the driver refuses fails before any point runs", "[platform]") {
  const std::string path = file("study.yaml",
                                "study: {strategies: [single-use], message_sizes: [64, 65536]}\n"
                                "platform:\n  nic: {packets: 10}\n  driver: {guest_size: 4M}\n");
  const Outcome o = run({"study", path, "--out", (scratch() / "study_out").string(), "--quiet"});
  CHECK(o.exit_code == 2);
  CHECK(o.output.find("the point single-use at 65536 B: driver: guest_size") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch() / "study_out" / "points"));
  const std::string costly = file("costly.yaml",
                                  "study: {strategies: [single-use], message_sizes: [64]}\n"
                                  "platform:\n  driver:\n    costs: {packet: 18446744073709551615}\n");
  const Outcome c = run({"study", costly, "--out", (scratch() / "costly_out").string(), "--quiet"});
  CHECK(c.exit_code == 2);
  CHECK(c.output.find("run past the end of simulated time") != std::string::npos);
}
