// The waves writer: events that arrive out of order by up to a window are written in time order;
// with a watermark the reorder buffer stays small and the file is the same as without one. FST
// holds what VCD holds.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "../platform/wave_file.h"
#include "iommu_sim/common/vcd_writer.h"

using namespace iommu_sim;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Three initiators each run up to `lag` ps ahead of a kernel clock that steps forward; every
// event is at (clock + something in [0, lag)), the rule the watermark relies on.
void drive(VcdWriter& vcd, uint64_t& clock, unsigned steps, uint64_t lag) {
  const auto a = vcd.add_signal("top.iommu", "lookup", 1);
  const auto b = vcd.add_signal("top.iommu", "walks", 8);
  const auto c = vcd.add_signal("top.ir", "index", 16, 7);
  std::mt19937_64 rng(42);
  for (unsigned i = 0; i < steps; ++i) {
    for (int k = 0; k < 3; ++k) {
      const uint64_t t = clock + rng() % lag;
      vcd.pulse(a, t);
      vcd.add(b, t, 1);
      vcd.add(b, t + rng() % 3000, -1);
      vcd.record(c, t, rng() & 0xFFFF);
    }
    clock += 100;
  }
}

}  // namespace

TEST_CASE("vcd writer with a watermark streams and writes the same file as without", "[unit]") {
  const unsigned steps = 50000;  // 750,000 events
  uint64_t clock = 0;
  {
    VcdWriter streamed;
    streamed.open("vcd_streamed.vcd");
    streamed.set_watermark([&clock] { return clock; });
    drive(streamed, clock, steps, 5000);
    CHECK(streamed.peak_buffered() < 20000);  // a window's worth, not the whole run
    CHECK(streamed.late_events() == 0);
    streamed.close();
  }
  clock = 0;
  {
    VcdWriter whole;
    whole.open("vcd_whole.vcd");
    drive(whole, clock, steps, 5000);
    CHECK(whole.buffered() == 15u * steps);  // everything waits for close()
    whole.close();
  }
  const std::string a = slurp("vcd_streamed.vcd"), b = slurp("vcd_whole.vcd");
  CHECK(a.size() > 1000000);
  CHECK(a == b);
  CHECK(a.find("$var wire 16 # index $end") != std::string::npos);
  std::remove("vcd_streamed.vcd");
  std::remove("vcd_whole.vcd");
}

TEST_CASE("vcd writer refuses signals once it has written events", "[unit]") {
  uint64_t clock = 0;
  VcdWriter vcd;
  vcd.open("vcd_late_signal.vcd");
  vcd.set_watermark([&clock] { return clock; });
  const auto a = vcd.add_signal("top", "a", 1);
  for (int i = 0; i < 5000; ++i) vcd.record(a, clock++, i & 1);
  CHECK_THROWS_AS(vcd.add_signal("top", "b", 1), std::logic_error);
  vcd.close();
  std::remove("vcd_late_signal.vcd");
}

TEST_CASE("waves writer writes FST with the signals, scopes and changes of its VCD", "[unit]") {
  for (const char* path : {"waves_same.vcd", "waves_same.fst"}) {
    uint64_t clock = 0;
    VcdWriter waves;
    waves.open(path);
    waves.set_watermark([&clock] { return clock; });
    drive(waves, clock, 2000, 5000);
    waves.close();
  }
  const test::WaveFile vcd = test::read_vcd("waves_same.vcd"), fst = test::read_fst("waves_same.fst");
  std::remove("waves_same.vcd");
  std::remove("waves_same.fst");
  CHECK(fst.timescale == "1ps");
  REQUIRE(vcd.signals.size() == 3);
  REQUIRE(fst.signals.size() == 3);
  for (const char* name : {"top.iommu.lookup", "top.iommu.walks", "top.ir.index"}) {
    INFO(name);
    CHECK(fst.at(name).width == vcd.at(name).width);
    CHECK(fst.at(name).changes.size() > 2000);
    CHECK(fst.at(name).changes == vcd.at(name).changes);
  }
  CHECK(fst.at("top.ir.index").changes.front() == std::make_pair(uint64_t{0}, uint64_t{7}));  // initial value
}

TEST_CASE("waves writer refuses a file that is neither .vcd nor .fst", "[unit]") {
  VcdWriter waves;
  CHECK_THROWS_AS(waves.open("waves.txt"), std::invalid_argument);
  CHECK_FALSE(waves.is_open());
}
