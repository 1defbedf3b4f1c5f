// Waveforms of a whole platform stream to the file as the run goes: the writer's reorder buffer
// holds a window of events, not the run, and no event arrives behind the watermark. Every
// translation is a transaction of its own in the file, and the running counts in the file add up
// to the run's statistics.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "default_platform.h"
#include "iommu_sim/platform/platform.h"
#include "platform_test_util.h"
#include "wave_file.h"

using namespace iommu_sim;

namespace {

// Runs `platform` with waves to `path` and reads the file back.
test::WaveFile run_with_waves(Platform& platform, const std::string& path) {
  VcdWriter vcd;
  vcd.open(path);
  platform.trace_to(vcd);
  REQUIRE(platform.run().ok);
  vcd.close();
  CHECK(vcd.late_events() == 0);
  test::WaveFile file = test::read_vcd(path);
  std::remove(path.c_str());
  return file;
}

// Every transaction lane of the IOMMU at `scope`: its signals by name.
std::vector<std::map<std::string, const test::WaveSignal*>> lanes(const test::WaveFile& f,
                                                                  const std::string& scope) {
  std::vector<std::map<std::string, const test::WaveSignal*>> out;
  for (unsigned i = 0;; ++i) {
    const std::string prefix = scope + ".xlat.lane" + std::to_string(i) + ".";
    if (!f.signals.count(prefix + "id")) break;
    std::map<std::string, const test::WaveSignal*> lane;
    for (const char* s : {"id", "rid", "domain", "iova", "write", "path", "result", "latency_ps", "active"})
      lane[s] = &f.at(prefix + s);
    out.push_back(lane);
  }
  return out;
}

}  // namespace

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

TEST_CASE("platform waves draw every translation as a transaction of its own", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", test::load(kDefaultPlatformYaml, {}, "default.yaml"), stats);
  const test::WaveFile f = run_with_waves(platform, "waves_xlat.vcd");
  const std::string io = "platform.iommu";
  const uint64_t translations = static_cast<uint64_t>(stats.value(io + ".translations"));
  REQUIRE(translations == 30000);
  CHECK(f.at(io + ".xlat.translations").last() == translations);
  CHECK(f.at(io + ".xlat.unplaced").last() == 0);

  // Each translation is on one lane with its own number: none merges with another, not even
  // where several begin at one instant (single-bit pulses merged there).
  std::set<uint64_t> ids;
  std::map<uint64_t, unsigned> starts_at;
  uint64_t faults = 0, hits = 0;
  const auto all = lanes(f, io);
  REQUIRE(all.size() >= 2);
  for (const auto& lane : all) {
    const auto& id = lane.at("id")->changes;
    const auto& active = lane.at("active")->changes;
    const auto& result = lane.at("result")->changes;
    const auto& latency = lane.at("latency_ps")->changes;
    const auto& path = lane.at("path")->changes;
    REQUIRE(active.size() == 1 + 2 * (id.size() - 1));  // initial value, then 1 and 0 per translation
    REQUIRE(result.size() == 1 + 2 * (id.size() - 1));   // in flight, then the outcome
    REQUIRE(latency.size() == id.size());
    for (size_t k = 1; k < id.size(); ++k) {
      CHECK(ids.insert(id[k].second).second);
      ++starts_at[id[k].first];
      const uint64_t start = active[2 * k - 1].first, end = active[2 * k].first;
      CHECK(start == id[k].first);
      CHECK(result[2 * k - 1].second == 0xFF);
      CHECK(latency[k].second == end - start);  // latency_ps is the transaction's length
      if (k > 1) CHECK(start > active[2 * k - 2].first);  // apart from the lane's previous one
      if (result[2 * k].second != 0) ++faults;
      if (path[k].second == 0) ++hits;
    }
  }
  CHECK(ids.size() == translations);
  CHECK(*ids.rbegin() == translations);
  unsigned shared = 0;
  for (const auto& [t, n] : starts_at) shared += n > 1;
  CHECK(shared > 0);  // the default platform has translations that begin together
  CHECK(faults == static_cast<uint64_t>(stats.value(io + ".faults")));
  CHECK(hits == static_cast<uint64_t>(stats.value(io + ".iotlb.hits")));

  // Running counts end at the statistics.
  CHECK(f.at(io + ".iotlb.lookups").last() == stats.value(io + ".iotlb.lookups"));
  CHECK(f.at(io + ".iotlb.hits").last() == stats.value(io + ".iotlb.hits"));
  CHECK(f.at(io + ".iotlb.misses").last() == stats.value(io + ".iotlb.misses"));
  CHECK(f.at(io + ".context_cache.hits").last() == stats.value(io + ".context_cache.hits"));
  CHECK(f.at(io + ".context_cache.misses").last() == stats.value(io + ".context_cache.misses"));
  CHECK(f.at(io + ".pscache.probes").last() == stats.value(io + ".pscache.l2.lookups"));
  // Table reads: the walk's by level, two per context fetch, one per queued descriptor.
  uint64_t walk_reads = 0;
  for (int l = 1; l <= 5; ++l) walk_reads += f.at(io + ".walk.reads_l" + std::to_string(l)).last();
  CHECK(f.at(io + ".walk.reads_l1").last() > 0);
  CHECK(walk_reads + 2 * f.at(io + ".context_fetches").last() + stats.value(io + ".qi_descriptors") ==
        stats.value(io + ".walk_reads"));
  CHECK(f.at(io + ".inval.context").last() + f.at(io + ".inval.iotlb").last() +
            f.at(io + ".inval.pages").last() >= 1);  // the host's set-up flushes the caches
}

TEST_CASE("platform waves give each faulting translation its requester, domain and reason", "[platform]") {
  StatsRegistry stats;
  Platform platform("platform", test::load(test::kStrayVfYaml), stats);
  const test::WaveFile f = run_with_waves(platform, "waves_fault.vcd");
  const std::string io = "platform.iommu";
  const uint64_t faults = static_cast<uint64_t>(stats.value(io + ".faults"));
  REQUIRE(faults > 0);
  uint64_t seen = 0;
  std::set<uint64_t> rids, domains;
  for (const auto& lane : lanes(f, io)) {
    const auto& result = lane.at("result")->changes;
    const auto& iova = lane.at("iova")->changes;
    for (size_t k = 1; k < lane.at("id")->changes.size(); ++k) {
      rids.insert(lane.at("rid")->changes[k].second);
      domains.insert(lane.at("domain")->changes[k].second);
      if (result[2 * k].second == 0) continue;
      ++seen;
      CHECK(result[2 * k].second == 0x5);  // a write the page does not allow (VT-d reason 5)
      CHECK(iova[k].second >= 0x50000000);  // only the stray writes fault
      CHECK(iova[k].second < 0x50010000);
      CHECK(lane.at("write")->changes[k].second == 1);
    }
  }
  CHECK(seen == faults);
  CHECK(rids.size() == 2);     // two VFs
  CHECK(domains.size() == 2);  // each in its own domain
}
