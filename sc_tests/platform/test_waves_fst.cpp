// `iommu-sim run --waves FILE.fst` writes FST: the same signals under the same scopes, with the
// same value changes at the same times, as the VCD of the same run (plain C++: it spawns
// iommu-sim and reads both files back).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "wave_file.h"

using iommu_sim::test::WaveFile;

namespace {

WaveFile run_with_waves(const std::string& path, const std::string& sets) {
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " run --quiet " + sets + " --waves " + path;
  REQUIRE(std::system(cmd.c_str()) == 0);
  WaveFile file = iommu_sim::test::read_waves(path);
  std::remove(path.c_str());
  return file;
}

void check_same_waves(const std::string& sets) {
  const std::string base = "/tmp/iommu-sim-waves-fst-" + std::to_string(::getpid());
  const WaveFile vcd = run_with_waves(base + ".vcd", sets);
  const WaveFile fst = run_with_waves(base + ".fst", sets);
  CHECK(fst.timescale == "1ps");
  CHECK(vcd.timescale == "1ps");
  REQUIRE(vcd.signals.size() >= 50);
  REQUIRE(fst.signals.size() == vcd.signals.size());
  size_t changes = 0;
  for (const auto& [name, v] : vcd.signals) {
    INFO(name);
    REQUIRE(fst.signals.count(name) == 1);
    const auto& f = fst.at(name);
    CHECK(f.width == v.width);
    CHECK(f.changes.size() == v.changes.size());
    CHECK(f.changes == v.changes);
    changes += v.changes.size();
  }
  CHECK(changes > 100000);
  CHECK(fst.end_time == vcd.end_time);
}

}  // namespace

TEST_CASE("FST waves of the default platform hold what its VCD holds", "[platform]") {
  check_same_waves("");
}

TEST_CASE("FST waves of the SR-IOV platform with ATS hold what its VCD holds", "[platform]") {
  check_same_waves(IOMMU_SIM_SOURCE_DIR "/yaml/nic_sriov_ats.yaml");
}
