// The interrupt-delivery study against the real `iommu-sim` program: a small study file over
// yaml/interrupts.yaml (two modes, one rate, two schedules), its table, its CSVs, and its errors.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "iommu_sim/platform/sweep/csv.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  const fs::path p = fs::current_path() / "interrupt_study_out" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

int run(const std::string& args, const std::string& log) {
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " " + args + " >" + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Rows of a CSV as maps from column name to cell.
std::vector<std::map<std::string, std::string>> load_csv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<CsvRow> rows;
  std::string error;
  REQUIRE(read_csv(in, rows, error));
  REQUIRE(!rows.empty());
  std::vector<std::map<std::string, std::string>> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    std::map<std::string, std::string> m;
    for (size_t c = 0; c < rows[0].size(); ++c) m[rows[0][c]] = rows[r][c];
    out.push_back(m);
  }
  return out;
}

const std::string kStudy = std::string(R"(study:
  kind: interrupt-delivery
  platform: )") + IOMMU_SIM_SOURCE_DIR + R"(/yaml/interrupts.yaml
  set: [interrupts.host_timer_hz=1000, pcie.endpoints.0.workload.packets=800]
  modes:
    - {name: remapped, set: [interrupts.delivery=remapped]}
    - {name: posted, set: [interrupts.delivery=posted]}
  rates:
    - {name: 100k, set: [pcie.endpoints.0.workload.rate_gbps=9.6]}
  scheduling:
    - {name: pinned, set: []}
    - name: shared
      set:
        - "interrupts.guests=[{name: vm0, vcpus: [{cpu: 1, run_us: 47, preempted_us: 47}]},
                              {name: vm1, vcpus: [{cpu: 1, run_us: 47, preempted_us: 47, phase_us: 47}]}]"
)";

std::string write_study(const std::string& dir, const std::string& text) {
  const std::string path = dir + "/study.yaml";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("iommu-sim study runs the interrupt-delivery grid and tabulates it", "[platform]") {
  const std::string dir = scratch("grid");
  const std::string log = dir + "/log.txt";
  REQUIRE(run("study " + write_study(dir, kStudy) + " --out " + dir + "/out --jobs 2 --no-plots", log) == 0);
  const std::string printed = read(log);
  CHECK(printed.find("exits/1000") != std::string::npos);
  CHECK(printed.find("host-cpu") == std::string::npos);

  const auto rows = load_csv(dir + "/out/interrupts.csv");
  REQUIRE(rows.size() == 4);  // modes x rates x schedules, the last axis fastest
  std::map<std::string, std::map<std::string, std::string>> by;
  for (const auto& r : rows) {
    INFO(r.at("mode") << " " << r.at("scheduling") << ": " << r.at("error"));
    CHECK(r.at("status") == "ok");
    by[r.at("mode") + "/" + r.at("scheduling")] = r;
  }
  CHECK(rows[0].at("mode") == "remapped");
  CHECK(rows[0].at("scheduling") == "pinned");
  CHECK(rows[1].at("scheduling") == "shared");
  const auto num = [&](const std::string& point, const std::string& col) { return std::stod(by.at(point).at(col)); };
  // Remapped without APICv on pinned vCPUs: one arrival and one EOI exit per interrupt.
  CHECK(num("remapped/pinned", "arrival_per_1000") == Approx(1000.0));
  CHECK(num("remapped/pinned", "eoi_per_1000") == Approx(1000.0));
  CHECK(num("remapped/pinned", "host_per_1000") > 0.0);  // the host's timer
  // Time-sharing a CPU: half the interrupts find the other guest there, which exits for them.
  CHECK(num("remapped/shared", "arrival_per_1000") < 800.0);
  CHECK(num("remapped/shared", "host_per_1000") > 200.0);
  CHECK(num("remapped/shared", "latency_p99_us") > 10.0);
  // Posted: none of that.
  CHECK(num("posted/pinned", "arrival_per_1000") == 0.0);
  CHECK(num("posted/pinned", "eoi_per_1000") == 0.0);
  CHECK(num("posted/shared", "host_per_1000") < 100.0);
  CHECK(num("posted/pinned", "hypervisor_ns_per_interrupt") < num("remapped/pinned", "hypervisor_ns_per_interrupt"));
  CHECK(num("posted/pinned", "interrupts_per_s_per_guest") > 50000.0);

  // Per guest: the pinned points have 4 guests, the shared ones the 2 the schedule names.
  const auto guests = load_csv(dir + "/out/interrupts_per_guest.csv");
  CHECK(guests.size() == 4 + 2 + 4 + 2);
  CHECK(fs::is_regular_file(dir + "/out/points/p0000.config.yaml"));
}

TEST_CASE("iommu-sim study reports a bad interrupt study file with its location", "[platform]") {
  const std::string dir = scratch("bad");
  const std::string log = dir + "/log.txt";
  std::string bad = kStudy;
  bad.replace(bad.find("rates:"), 6, "ratez:");
  CHECK(run("study " + write_study(dir, bad) + " --out " + dir + "/out", log) == 2);
  CHECK(read(log).find("study.yaml:") != std::string::npos);
  // Every point rejected by the platform's own checks: bad input, and the CSV says why.
  std::string wrong = kStudy;
  wrong.replace(wrong.find("interrupts.delivery=posted"), 26, "interrupts.delivery=direct");
  wrong.replace(wrong.find("interrupts.delivery=remapped"), 28, "interrupts.delivery=direct");
  CHECK(run("study " + write_study(dir, wrong) + " --out " + dir + "/out2 --no-plots", log) == 2);
  const auto rows = load_csv(dir + "/out2/interrupts.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].at("status") == "failed");
  CHECK(run("study " + write_study(dir, kStudy) + " --jobs 0 --out " + dir + "/out3", log) == 2);
  CHECK(read(log).find("--jobs") != std::string::npos);
}
