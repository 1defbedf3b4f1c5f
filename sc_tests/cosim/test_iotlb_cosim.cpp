// Lockstep co-simulation of the Verilated IOTLB against the C++ IOTLB, and the adapter's own
// promises (no simulated time, waves, errors). Each test case runs in its own process (the
// SystemC kernel cannot restart), so each may elaborate and sc_start once.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "iommu_sim/rtl/cosim/iotlb_lockstep.h"

using namespace iommu_sim;

namespace {

IotlbConfig geometry(ReplacementKind policy, unsigned sets, unsigned ways,
                     IotlbIndex index = IotlbIndex::Page) {
  IotlbConfig c;
  c.policy = policy;
  c.sets = sets;
  c.ways = ways;
  c.index = index;
  return c;
}

void check_random(ReplacementKind policy, unsigned sets, unsigned ways, uint64_t seed,
                  IotlbIndex index = IotlbIndex::Page, unsigned domains = 4) {
  CosimOptions opt;
  opt.iotlb = geometry(policy, sets, ways, index);
  opt.stimulus = CosimOptions::Random;
  opt.transactions = 100000;
  opt.knobs.seed = seed;
  opt.knobs.domains = domains;
  const CosimReport r = run_cosim(opt);
  INFO(r.message);
  REQUIRE(r.ok);
  CHECK(r.transactions == 100000);
  // The stream must have exercised what it is there for.
  CHECK(r.stats.hits > 10000);
  CHECK(r.stats.misses > 10000);
  CHECK(r.stats.evictions > 1000);
  CHECK(r.stats.invalidated_entries > 100);
}

void check_directed(ReplacementKind policy, unsigned sets, unsigned ways,
                    IotlbIndex index = IotlbIndex::Page) {
  CosimOptions opt;
  opt.iotlb = geometry(policy, sets, ways, index);
  opt.stimulus = CosimOptions::Directed;
  const CosimReport r = run_cosim(opt);
  INFO(r.message);
  REQUIRE(r.ok);
  CHECK(r.stats.evictions > 0);
  CHECK(r.stats.invalidations >= 40);
}

bool file_has_data(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  return f && f.tellg() > 100;
}

}  // namespace

TEST_CASE("Cosim random lru 32x4", "[cosim]") { check_random(ReplacementKind::Lru, 32, 4, 11); }
TEST_CASE("Cosim random plru 32x4", "[cosim]") { check_random(ReplacementKind::Plru, 32, 4, 12); }
TEST_CASE("Cosim random fifo 32x4", "[cosim]") { check_random(ReplacementKind::Fifo, 32, 4, 13); }
TEST_CASE("Cosim random lru fully associative 16", "[cosim]") {
  check_random(ReplacementKind::Lru, 1, 16, 21);
}
TEST_CASE("Cosim random plru fully associative 16", "[cosim]") {
  check_random(ReplacementKind::Plru, 1, 16, 22);
}
TEST_CASE("Cosim random fifo fully associative 16", "[cosim]") {
  check_random(ReplacementKind::Fifo, 1, 16, 23);
}
TEST_CASE("Cosim random lru 16x3", "[cosim]") { check_random(ReplacementKind::Lru, 16, 3, 31); }
TEST_CASE("Cosim random plru 4x8", "[cosim]") { check_random(ReplacementKind::Plru, 4, 8, 32); }
TEST_CASE("Cosim random fifo 16x3", "[cosim]") { check_random(ReplacementKind::Fifo, 16, 3, 33); }
TEST_CASE("Cosim random lru direct mapped 64", "[cosim]") {
  check_random(ReplacementKind::Lru, 64, 1, 41);
}
TEST_CASE("Cosim random plru direct mapped 64", "[cosim]") {
  check_random(ReplacementKind::Plru, 64, 1, 42);
}
TEST_CASE("Cosim random fifo direct mapped 64", "[cosim]") {
  check_random(ReplacementKind::Fifo, 64, 1, 43);
}

TEST_CASE("Cosim directed lru 32x4", "[cosim]") { check_directed(ReplacementKind::Lru, 32, 4); }
TEST_CASE("Cosim directed plru 32x4", "[cosim]") { check_directed(ReplacementKind::Plru, 32, 4); }
TEST_CASE("Cosim directed fifo 32x4", "[cosim]") { check_directed(ReplacementKind::Fifo, 32, 4); }
TEST_CASE("Cosim directed lru fully associative 16", "[cosim]") {
  check_directed(ReplacementKind::Lru, 1, 16);
}
TEST_CASE("Cosim directed plru fully associative 16", "[cosim]") {
  check_directed(ReplacementKind::Plru, 1, 16);
}
TEST_CASE("Cosim directed fifo fully associative 16", "[cosim]") {
  check_directed(ReplacementKind::Fifo, 1, 16);
}
TEST_CASE("Cosim directed lru 16x3", "[cosim]") { check_directed(ReplacementKind::Lru, 16, 3); }
TEST_CASE("Cosim directed plru 4x8", "[cosim]") { check_directed(ReplacementKind::Plru, 4, 8); }
TEST_CASE("Cosim directed fifo 16x3", "[cosim]") { check_directed(ReplacementKind::Fifo, 16, 3); }
TEST_CASE("Cosim directed direct mapped 64", "[cosim]") {
  check_directed(ReplacementKind::Lru, 64, 1);
}

// The set index that folds in the domain: the lockstep compares set numbers, so an RTL that
// placed entries by page number alone would fail here.
TEST_CASE("Cosim random lru 32x4 page xor domain", "[cosim]") {
  check_random(ReplacementKind::Lru, 32, 4, 51, IotlbIndex::PageXorDomain);
}
TEST_CASE("Cosim random lru 32x4 page xor domain many domains", "[cosim]") {
  check_random(ReplacementKind::Lru, 32, 4, 52, IotlbIndex::PageXorDomain, 12);
}
TEST_CASE("Cosim directed lru 32x4 page xor domain", "[cosim]") {
  check_directed(ReplacementKind::Lru, 32, 4, IotlbIndex::PageXorDomain);
}

TEST_CASE("Cosim page xor domain RTL places two domains in different sets", "[cosim]") {
  std::string error;
  auto rtl = make_rtl_iotlb_adapter(geometry(ReplacementKind::Lru, 32, 4,
                                             IotlbIndex::PageXorDomain), error);
  INFO(error);
  REQUIRE(rtl);
  CHECK(rtl->variant() == "lru 32x4 page-xor-domain");
  IotlbFillResult a, b;
  IotlbHit hit_b;
  run_in_sc_thread([&] {
    IotlbEntry e;
    e.vpn = 0x1003;
    e.pfn = 0x77;
    e.domain = 1;
    a = rtl->fill(e);
    e.domain = 6;
    b = rtl->fill(e);
    hit_b = rtl->lookup(6, 0x1003);
  });
  // (0x1003 ^ 1) & 31 = 2, (0x1003 ^ 6) & 31 = 5.
  CHECK(a.set == 2);
  CHECK(b.set == 5);
  REQUIRE(hit_b.hit);
  CHECK(hit_b.set == 5);
  CHECK(hit_b.frame(0x1003) == 0x77);
}

TEST_CASE("Cosim replay of a recorded IOTLB trace", "[cosim]") {
  CosimOptions opt;
  opt.iotlb = geometry(ReplacementKind::Lru, 32, 4);
  opt.stimulus = CosimOptions::Trace;
  opt.trace_path = COSIM_DATA_DIR "/platform_default.iotlb";
  const CosimReport r = run_cosim(opt);
  INFO(r.message);
  REQUIRE(r.ok);
  CHECK(r.transactions > 1000);
  CHECK(r.stats.hits > 0);
  CHECK(r.stats.fills > 0);
}

TEST_CASE("Cosim reports a malformed trace", "[cosim]") {
  const std::string path = "cosim_bad_trace.iotlb";
  {
    std::ofstream f(path);
    f << "L 1 1000\nthis is not an op\n";
  }
  CosimOptions opt;
  opt.stimulus = CosimOptions::Trace;
  opt.trace_path = path;
  const CosimReport r = run_cosim(opt);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_input);  // iotlb-cosim exits 2: bad input, not a mismatch
  CHECK(r.message.find("line 2") != std::string::npos);
}

TEST_CASE("Cosim calls a missing trace bad input", "[cosim]") {
  CosimOptions opt;
  opt.stimulus = CosimOptions::Trace;
  opt.trace_path = "/nonexistent/trace.iotlb";
  const CosimReport r = run_cosim(opt);
  CHECK_FALSE(r.ok);
  CHECK(r.bad_input);
}

// The checker must be able to fail: an RTL PLRU against a reference LRU of the same geometry
// agrees on hits but not on victims.
TEST_CASE("Cosim mismatch gives the cycle the inputs both outputs and waves", "[cosim]") {
  std::string error;
  auto rtl = make_rtl_iotlb_adapter(geometry(ReplacementKind::Plru, 32, 4), error, "dut");
  auto replay = make_rtl_iotlb_adapter(geometry(ReplacementKind::Plru, 32, 4), error, "replay");
  REQUIRE(rtl);
  REQUIRE(replay);
  IotlbModel ref(geometry(ReplacementKind::Lru, 32, 4));
  const std::string waves = "cosim_mismatch_test.fst";
  std::remove(waves.c_str());
  IotlbLockstep lockstep(*rtl, ref, replay.get(), waves);
  run_in_sc_thread([&] {
    StimulusKnobs knobs;
    RandomStimulus gen(knobs);
    for (int i = 0; i < 100000 && lockstep.run(gen.next(lockstep.last_missed())); ++i) {
    }
  });
  REQUIRE_FALSE(lockstep.ok());
  const std::string& report = lockstep.report();
  INFO(report);
  CHECK(report.find("mismatch") != std::string::npos);
  CHECK(report.find("at RTL cycle") != std::string::npos);
  CHECK(report.find("inputs: ") != std::string::npos);
  CHECK(report.find("fill(domain") != std::string::npos);
  CHECK(report.find("rtl:    fill set") != std::string::npos);
  CHECK(report.find("model:  fill set") != std::string::npos);
  CHECK(file_has_data(waves));
  // Once failed, it stays failed.
  CHECK_FALSE(lockstep.run(RtlCycleIn{}));
}

// The XOR-indexed RTL against a reference with the page index: the sets differ, and the
// checker says so.
TEST_CASE("Cosim catches an RTL whose set index differs from the reference", "[cosim]") {
  std::string error;
  const IotlbConfig xor_lru = geometry(ReplacementKind::Lru, 32, 4, IotlbIndex::PageXorDomain);
  auto rtl = make_rtl_iotlb_adapter(xor_lru, error, "dut");
  REQUIRE(rtl);
  IotlbModel ref(geometry(ReplacementKind::Lru, 32, 4));
  IotlbLockstep lockstep(*rtl, ref, nullptr, "");
  run_in_sc_thread([&] {
    StimulusKnobs knobs;
    RandomStimulus gen(knobs);
    for (int i = 0; i < 100000 && lockstep.run(gen.next(lockstep.last_missed())); ++i) {
    }
  });
  REQUIRE_FALSE(lockstep.ok());
  INFO(lockstep.report());
  CHECK(lockstep.report().find("mismatch") != std::string::npos);
  CHECK(lockstep.report().find("set") != std::string::npos);
}

TEST_CASE("Adapter keeps simulated time still and counts RTL cycles", "[cosim]") {
  std::string error;
  auto rtl = make_rtl_iotlb_adapter(geometry(ReplacementKind::Lru, 32, 4), error);
  REQUIRE(rtl);
  sc_core::sc_time after_wait, after_calls;
  IotlbHit hit, miss;
  IotlbFillResult fill;
  unsigned invalidated = 99;
  run_in_sc_thread([&] {
    sc_core::wait(10, sc_core::SC_NS);
    after_wait = sc_core::sc_time_stamp();
    IotlbEntry e;
    e.domain = 3;
    e.vpn = 0x12345 & ~0x1FFull;
    e.pfn = 0x800;
    e.read = true;
    e.size = PageSize::Size2M;
    fill = rtl->fill(e);
    hit = rtl->lookup(3, 0x12345);
    invalidated = rtl->invalidate_domain(3);
    miss = rtl->lookup(3, 0x12345);
    after_calls = sc_core::sc_time_stamp();
  });
  CHECK(after_calls == after_wait);
  CHECK(after_wait == sc_core::sc_time(10, sc_core::SC_NS));
  CHECK_FALSE(fill.evicted);
  REQUIRE(hit.hit);
  CHECK(hit.frame(0x12345) == (0x800 | (0x12345 & 0x1FF)));
  CHECK(hit.entry.read);
  CHECK_FALSE(hit.entry.write);
  CHECK(hit.entry.size == PageSize::Size2M);
  CHECK(invalidated == 1);
  CHECK_FALSE(miss.hit);
  // One reset cycle and one per call.
  CHECK(rtl->rtl_cycles() == 5);
  CHECK(rtl->stats().lookups == 2);
  CHECK(rtl->stats().hits == 1);
  CHECK(rtl->stats().fills == 1);
  CHECK(rtl->stats().invalidated_entries == 1);
}

TEST_CASE("Adapter serves two threads calling at the same time", "[cosim]") {
  std::string error;
  auto rtl = make_rtl_iotlb_adapter(geometry(ReplacementKind::Plru, 32, 4), error);
  REQUIRE(rtl);
  IotlbModel ref(geometry(ReplacementKind::Plru, 32, 4));
  bool second_hit = false;
  struct Second : sc_core::sc_module {
    SC_HAS_PROCESS(Second);
    Second(const sc_core::sc_module_name& n, RtlIotlb& r, bool& hit)
        : sc_core::sc_module(n), m_rtl(r), m_hit(hit) {
      SC_THREAD(run);
    }
    void run() {
      sc_core::wait(sc_core::SC_ZERO_TIME);  // arrives while the first thread is mid-cycle
      m_hit = m_rtl.lookup(1, 0x42).hit;
    }
    RtlIotlb& m_rtl;
    bool& m_hit;
  } second("second", *rtl, second_hit);
  run_in_sc_thread([&] {
    IotlbEntry e;
    e.domain = 1;
    e.vpn = 0x42;
    e.pfn = 0x99;
    rtl->fill(e);
  });
  CHECK(second_hit);
  CHECK(sc_core::sc_time_stamp() == sc_core::SC_ZERO_TIME);
  CHECK(rtl->stats().lookups == 1);
}

TEST_CASE("Adapter writes waves when asked", "[cosim]") {
  const std::string path = "cosim_adapter_waves.fst";
  std::remove(path.c_str());
  CosimOptions opt;
  opt.iotlb = geometry(ReplacementKind::Fifo, 16, 3);
  opt.stimulus = CosimOptions::Directed;
  opt.waves = path;
  const CosimReport r = run_cosim(opt);
  INFO(r.message);
  REQUIRE(r.ok);
  CHECK(file_has_data(path));
}

TEST_CASE("Adapter rejects a geometry that was not built and lists the built ones", "[cosim]") {
  std::string error;
  CHECK(make_rtl_iotlb(geometry(ReplacementKind::Plru, 64, 2), error) == nullptr);
  CHECK(error.find("plru 32x4") != std::string::npos);
  CHECK(error.find("any 64x1") != std::string::npos);
  CHECK(make_rtl_iotlb(geometry(ReplacementKind::Random, 32, 4), error) == nullptr);
  CHECK(error.find("random") != std::string::npos);
  CHECK(make_rtl_iotlb(geometry(ReplacementKind::Lru, 3, 4), error) == nullptr);
  CHECK(error.find("sets") != std::string::npos);
  // The index must match too, and the message gives the index of every build.
  CHECK(make_rtl_iotlb(geometry(ReplacementKind::Plru, 32, 4, IotlbIndex::PageXorDomain),
                       error) == nullptr);
  CHECK(error.find("index page-xor-domain") != std::string::npos);
  CHECK(error.find("plru 32x4 page,") != std::string::npos);
  CHECK(error.find("lru 32x4 page-xor-domain") != std::string::npos);
  CHECK(make_rtl_iotlb(geometry(ReplacementKind::Lru, 16, 3, IotlbIndex::PageXorDomain),
                       error) == nullptr);
  CHECK(error.find("lru 16x3 page") != std::string::npos);
  // One way: every policy shares the direct-mapped build.
  auto dm = make_rtl_iotlb(geometry(ReplacementKind::Random, 64, 1), error);
  CHECK(dm != nullptr);
  // Build time: at most ten builds with the page index, and the one with the domain folded in.
  unsigned page_builds = 0, xor_builds = 0;
  for (const RtlIotlbVariant& v : rtl_iotlb_variants())
    ++(v.index == IotlbIndex::Page ? page_builds : xor_builds);
  CHECK(page_builds <= 10);
  CHECK(xor_builds == 1);
}
