// The Verilated IOTLB inside a whole platform: a run with iommu.iotlb.impl=rtl must give the
// same statistics, value for value, and the same IOTLB access stream as the C++ model.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
