// The GTKWave save files of waves/ against the files the tool writes: every signal a save file
// shows exists, with the width it gives, in the waves of the platform it is meant for.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "iommu_sim/platform/platform.h"
#include "platform_test_util.h"
#include "wave_file.h"

using namespace iommu_sim;

namespace {

// Runs the platform of yaml/`platform_yaml` briefly with waves (VCD, or FST for `format` ".fst")
// and checks the signals of `save_file` whose names begin with `prefix` against them; returns how
// many it checked.
unsigned check_save_file(const std::string& save_file, const std::string& platform_yaml,
                         const std::string& prefix = "", const std::string& format = ".vcd") {
  StatsRegistry stats;
  const std::string yaml = IOMMU_SIM_SOURCE_DIR "/yaml/" + platform_yaml;
  Platform platform("platform",
                    test::load(test::read_file(yaml), {"simulation.max_time_us=20"}, platform_yaml),
                    stats);
  const std::string path = "save_file_" + platform_yaml + format;
  VcdWriter vcd;
  vcd.open(path);
  platform.trace_to(vcd);
  platform.run();
  vcd.close();
  const test::WaveFile file = test::read_waves(path);
  std::remove(path.c_str());
  unsigned checked = 0;
  for (const auto& [name, width] : test::save_file_signals(IOMMU_SIM_SOURCE_DIR "/waves/" + save_file)) {
    if (name.rfind(prefix, 0) != 0) continue;
    INFO(save_file << " shows " << name);
    REQUIRE(file.signals.count(name) == 1);
    CHECK(file.signals.at(name).width == width);
    ++checked;
  }
  return checked;
}

}  // namespace

TEST_CASE("waves/iommu.gtkw shows signals the nic_sriov_ats platform writes", "[platform]") {
  CHECK(check_save_file("iommu.gtkw", "nic_sriov_ats.yaml") >= 20);
}

TEST_CASE("waves/iommu.gtkw shows signals the default platform writes, ATS aside", "[platform]") {
  // The ATS group names device-TLB signals of nic_sriov_ats's functions; the IOMMU's signals are
  // every platform's.
  CHECK(check_save_file("iommu.gtkw", "default.yaml", "platform.iommu.") >= 20);
}

TEST_CASE("waves/interrupts.gtkw shows signals the interrupts platform writes", "[platform]") {
  CHECK(check_save_file("interrupts.gtkw", "interrupts.yaml") >= 10);
}

TEST_CASE("waves/iommu.gtkw shows signals the nic_sriov_ats platform writes as FST", "[platform]") {
  CHECK(check_save_file("iommu.gtkw", "nic_sriov_ats.yaml", "", ".fst") >= 20);
}

TEST_CASE("waves/interrupts.gtkw shows signals the interrupts platform writes as FST", "[platform]") {
  CHECK(check_save_file("interrupts.gtkw", "interrupts.yaml", "", ".fst") >= 10);
}
