// Waveforms of a whole platform stream to the file as the run goes: the writer's reorder buffer
// holds a window of events, not the run, and no event arrives behind the watermark.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "default_platform.h"
#include "iommu_sim/platform/platform.h"
#include "platform_test_util.h"

using namespace iommu_sim;

TEST_CASE("platform waves stream with a small reorder buffer and no late event", "[platform]") {
  StatsRegistry stats;
  PlatformConfig config = test::load(kDefaultPlatformYaml, {}, "default.yaml");
  Platform platform("platform", config, stats);
  VcdWriter vcd;
  vcd.open("waves_stream.vcd");
  platform.trace_to(vcd);
  REQUIRE(platform.run().ok);
  vcd.close();
  uint64_t changes = 0;
  std::ifstream in("waves_stream.vcd");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && (line[0] == '0' || line[0] == '1' || line[0] == 'b')) ++changes;
  CHECK(changes > 200000);                       // 30,000 DMAs, several signals each
  CHECK(vcd.peak_buffered() < changes / 10);     // streamed, not held until close
  CHECK(vcd.late_events() == 0);                 // every model kept to the watermark rule
  std::remove("waves_stream.vcd");
}
