// The Verilated IOTLB inside a whole platform: a run with iommu.iotlb.impl=rtl must give the
// same statistics, value for value, and the same IOTLB access stream as the C++ model. Its waves
// are on the platform's time base, and the save files show signals the waves have.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../platform/wave_file.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Statistics lines, minus the ones only the RTL has (its clock cycle count) and the metadata (the
// configurations differ in iommu.iotlb.impl, the host times in everything).
std::vector<std::string> stat_lines(const std::string& json) {
  std::vector<std::string> out;
  std::stringstream ss(json);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.find("rtl_cycles") == std::string::npos && line.rfind("  \"meta\": ", 0) != 0)
      out.push_back(line);
  }
  return out;
}

void run(const std::string& platform, const std::string& impl, const std::string& out) {
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " run " + platform +
                          " --quiet --set iommu.iotlb.impl=" + impl + " --stats " + out + ".json" +
                          " --iotlb-trace " + out + ".iotlb";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

void check_same(const std::string& platform, const std::string& tag) {
  const std::string dir = "/tmp/iommu-sim-rtl-test-" + std::to_string(::getpid()) + "-" + tag;
  run(platform, "model", dir + "-model");
  run(platform, "rtl", dir + "-rtl");
  const std::string model_json = read_file(dir + "-model.json");
  const std::string rtl_json = read_file(dir + "-rtl.json");
  REQUIRE(model_json.find("platform.iommu.iotlb.hits") != std::string::npos);
  CHECK(rtl_json.find("rtl_cycles") != std::string::npos);  // the RTL really ran
  const auto a = stat_lines(model_json), b = stat_lines(rtl_json);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
  CHECK(read_file(dir + "-model.iotlb") == read_file(dir + "-rtl.iotlb"));
  for (const char* s : {"-model", "-rtl"}) {
    for (const char* ext : {".json", ".config.yaml", ".iotlb"}) std::remove((dir + s + ext).c_str());
  }
}

}  // namespace

TEST_CASE("Platform cosim default platform gives identical statistics with the RTL IOTLB", "[cosim]") {
  check_same("", "default");
}

TEST_CASE("Platform cosim nic_sriov gives identical statistics with the RTL IOTLB", "[cosim]") {
  check_same(std::string(IOMMU_SIM_SOURCE_DIR) + "/yaml/nic_sriov.yaml", "nic");
}

namespace {

// Every signal `save_file` (in waves/) shows exists in `fst` with the width it gives.
void check_save_file(const iommu_sim::test::WaveFile& fst, const std::string& save_file) {
  const auto shown = iommu_sim::test::save_file_signals(IOMMU_SIM_SOURCE_DIR "/waves/" + save_file);
  REQUIRE(shown.size() >= 40);
  for (const auto& [name, width] : shown) {
    INFO(save_file << " shows " << name);
    REQUIRE(fst.signals.count(name) == 1);
    CHECK(fst.at(name).width == width);
  }
}

}  // namespace

TEST_CASE("Platform cosim RTL waves are on the platform's time base and match their save file", "[cosim]") {
  const std::string out = "/tmp/iommu-sim-rtl-waves-" + std::to_string(::getpid());
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " run " IOMMU_SIM_SOURCE_DIR "/yaml/default.yaml" +
                          " --quiet --set iommu.iotlb.impl=rtl --set simulation.max_time_us=100" +
                          " --waves " + out + ".vcd";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto vcd = iommu_sim::test::read_vcd(out + ".vcd");
  const auto fst = iommu_sim::test::read_fst(out + ".iotlb.fst");
  std::remove((out + ".vcd").c_str());
  std::remove((out + ".iotlb.fst").c_str());
  check_save_file(fst, "iotlb_platform.gtkw");
  // Picoseconds of simulated time, as the platform's own file: the last RTL cycle lies within a
  // quantum (1 us) of the last lookup there, 30,000 cycles at 10 ns would end at 300 us.
  CHECK(fst.timescale == "1ps");
  CHECK(vcd.timescale == "1ps");
  const uint64_t last_lookup = vcd.at("platform.iommu.iotlb.lookups").changes.back().first;
  CHECK(last_lookup > 50000000);  // past 50 us of the 100
  CHECK(fst.end_time <= last_lookup + 1000);
  CHECK(fst.end_time + 1000000 >= last_lookup);
}

TEST_CASE("Cosim waves match waves/iotlb.gtkw", "[cosim]") {
  const std::string out = "/tmp/iotlb-cosim-waves-" + std::to_string(::getpid()) + ".fst";
  const std::string cmd = std::string(IOTLB_COSIM_EXE) + " --directed --waves " + out + " >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto fst = iommu_sim::test::read_fst(out);
  std::remove(out.c_str());
  check_save_file(fst, "iotlb.gtkw");
  CHECK(fst.timescale == "1ns");  // 10 ns per cycle on its own
}
