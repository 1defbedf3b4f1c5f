// The YAML front end: typed values, ranges, unknown keys, --set overrides, and every error
// naming where the bad value came from.
#include <catch2/catch.hpp>

#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/platform_config.h"

using namespace iommu_sim;

namespace {

PlatformConfig load(const std::string& text, const std::vector<std::string>& sets = {}) {
  ConfigReader reader = ConfigReader::from_text(text, "test.yaml");
  for (const auto& s : sets) reader.apply_override(s);
  PlatformConfig pc = read_platform_config(reader.root());
  reader.finish();
  return pc;
}

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    load(text, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("empty description gives the documented defaults", "[unit]") {
  const PlatformConfig pc = load("");
  CHECK(pc.iommu.iotlb.sets == 32);
  CHECK(pc.iommu.iotlb.ways == 4);
  CHECK(pc.iommu.iotlb.policy == ReplacementKind::Lru);
  CHECK(pc.iommu.walkers == 4);
  CHECK(pc.memory.read_latency == sc_core::sc_time(80, sc_core::SC_NS));
  CHECK(pc.iotlb_impl == "model");
  CHECK(pc.traffic.empty());
}

TEST_CASE("values are read with their types and units", "[unit]") {
  const PlatformConfig pc = load(R"(
iommu:
  iotlb: {sets: 64, ways: 8, policy: plru, hit_latency_ns: 3.5}
  walkers: 2
host:
  domains:
    - id: 7
      levels: 3
      devices: ["01:00.1"]
      mappings:
        - {iova: 0x200000, phys: 0x40000000, size: 4M, page: 2M, write: false}
traffic:
  - {name: nic, requester: "01:00.1", base: 0x200000, window: 64K, count: 5}
)");
  CHECK(pc.iommu.iotlb.sets == 64);
  CHECK(pc.iommu.iotlb.ways == 8);
  CHECK(pc.iommu.iotlb.policy == ReplacementKind::Plru);
  CHECK(pc.iommu.iotlb_hit_latency == sc_core::sc_time(3.5, sc_core::SC_NS));
  REQUIRE(pc.host.domains.size() == 1);
  CHECK(pc.host.domains[0].id == 7);
  CHECK(pc.host.domains[0].devices == std::vector<uint16_t>{0x0101});
  REQUIRE(pc.host.domains[0].mappings.size() == 1);
  CHECK(pc.host.domains[0].mappings[0].size == (4u << 20));
  CHECK(pc.host.domains[0].mappings[0].page == PageSize::Size2M);
  CHECK_FALSE(pc.host.domains[0].mappings[0].write);
  REQUIRE(pc.traffic.size() == 1);
  CHECK(pc.traffic[0].workload.random.window == 65536);
}

TEST_CASE("fully associative is ways 0 with entries", "[unit]") {
  const PlatformConfig pc = load("iommu:\n  iotlb: {ways: 0, entries: 48}\n");
  CHECK(pc.iommu.iotlb.sets == 1);
  CHECK(pc.iommu.iotlb.ways == 48);
  CHECK(error_of("iommu:\n  iotlb: {ways: 0}\n").find("entries") != std::string::npos);
}

TEST_CASE("unknown key names file line and column", "[unit]") {
  const std::string e = error_of("iommu:\n  iotlb:\n    sets: 16\n    wayz: 4\n");
  CHECK(e == "test.yaml:4:5: unknown key 'wayz' in 'iommu.iotlb'");
}

TEST_CASE("wrong type names file line column and key", "[unit]") {
  const std::string e = error_of("iommu:\n  walkers: many\n");
  CHECK(e.rfind("test.yaml:2:12: key 'iommu.walkers': expected an unsigned integer", 0) == 0);
}

TEST_CASE("out of range value is rejected", "[unit]") {
  const std::string e = error_of("iommu:\n  address_width: 64\n");
  CHECK(e.rfind("test.yaml:2:18: key 'iommu.address_width': must be between 39 and 57", 0) == 0);
}

TEST_CASE("sets must be a power of two", "[unit]") {
  const std::string e = error_of("iommu:\n  iotlb: {sets: 24}\n");
  CHECK(e.find("test.yaml:2:17") == 0);
  CHECK(e.find("power of two") != std::string::npos);
}

TEST_CASE("unknown policy lists the accepted ones", "[unit]") {
  const std::string e = error_of("iommu:\n  iotlb:\n    policy: mru\n");
  CHECK(e.find("test.yaml:3:13: key 'iommu.iotlb.policy': 'mru' is not accepted") == 0);
  CHECK(e.find("lru, plru, fifo, random") != std::string::npos);
}

TEST_CASE("iotlb set index reads page and page xor domain", "[unit]") {
  CHECK(load("").iommu.iotlb.index == IotlbIndex::Page);
  CHECK(load("iommu:\n  iotlb: {index: page}\n").iommu.iotlb.index == IotlbIndex::Page);
  CHECK(load("iommu:\n  iotlb: {index: page-xor-domain}\n").iommu.iotlb.index ==
        IotlbIndex::PageXorDomain);
  CHECK(load("", {"iommu.iotlb.index=page-xor-domain"}).iommu.iotlb.index ==
        IotlbIndex::PageXorDomain);
}

TEST_CASE("unknown iotlb set index lists the accepted ones", "[unit]") {
  const std::string e = error_of("iommu:\n  iotlb:\n    sets: 16\n    index: domain\n");
  CHECK(e.find("test.yaml:4:12: key 'iommu.iotlb.index': 'domain' is not accepted") == 0);
  CHECK(e.find("page, page-xor-domain") != std::string::npos);
}

TEST_CASE("YAML syntax errors carry a position", "[unit]") {
  const std::string e = error_of("iommu:\n  iotlb: {sets: 4\n");
  CHECK(e.find("test.yaml:") == 0);
  CHECK(e.find("YAML syntax error") != std::string::npos);
}

TEST_CASE("set overrides any scalar and is named in errors", "[unit]") {
  CHECK(load("", {"iommu.iotlb.ways=16"}).iommu.iotlb.ways == 16);
  CHECK(load("iommu:\n  iotlb: {ways: 2}\n", {"iommu.iotlb.ways=8"}).iommu.iotlb.ways == 8);
  CHECK(error_of("", {"iommu.iotlb.wayz=8"}) ==
        "--set iommu.iotlb.wayz=8: unknown key 'wayz' in 'iommu.iotlb'");
  CHECK(error_of("", {"iommu.iotlb.ways=eight"})
            .rfind("--set iommu.iotlb.ways=eight: key 'iommu.iotlb.ways': expected an unsigned integer", 0) == 0);
  CHECK(error_of("", {"iommu.iotlb.sets=3"}).find("power of two") != std::string::npos);
  CHECK(error_of("", {"iommu.iotlb.policy=mru"}).find("--set iommu.iotlb.policy=mru") == 0);
  CHECK(error_of("", {"novalue"}).find("expected KEY=VALUE") != std::string::npos);
}

TEST_CASE("set reaches into lists by index", "[unit]") {
  const std::string text = "traffic:\n  - {name: a, count: 5}\n";
  CHECK(load(text, {"traffic.0.count=9"}).traffic[0].workload.random.count == 9);
  CHECK(error_of(text, {"traffic.3.count=9"}).find("not an item") != std::string::npos);
}

TEST_CASE("requester IDs and duplicate devices are checked", "[unit]") {
  CHECK(error_of("host:\n  domains:\n    - {id: 1, devices: [\"zz\"]}\n").find("not a requester ID") !=
        std::string::npos);
  CHECK(error_of("host:\n  domains:\n    - {id: 1, devices: [\"00:01.0\"]}\n    - {id: 2, devices: [\"00:01.0\"]}\n")
            .find("more than one domain") != std::string::npos);
  uint16_t rid = 0;
  REQUIRE(parse_requester_id("1f:1f.7", rid));
  CHECK(rid == 0x1FFF);
  CHECK(format_requester_id(0x0311) == "03:02.1");
}

TEST_CASE("effective configuration lists defaults and reloads to the same values", "[unit]") {
  ConfigReader reader = ConfigReader::from_text("iommu:\n  iotlb: {ways: 8}\n", "a.yaml");
  reader.apply_override("iommu.walkers=3");
  const PlatformConfig first = read_platform_config(reader.root());
  reader.finish();
  const std::string effective = reader.effective_yaml();
  CHECK(effective.find("sets: 32") != std::string::npos);  // a default, written out
  ConfigReader again = ConfigReader::from_text(effective, "effective.yaml");
  const PlatformConfig second = read_platform_config(again.root());
  again.finish();
  CHECK(second.iommu.iotlb.ways == 8);
  CHECK(second.iommu.walkers == 3);
  CHECK(second.iommu.supported_levels == first.iommu.supported_levels);
  CHECK(second.memory.write_latency == first.memory.write_latency);
}

TEST_CASE("scalable-mode keys are read and checked, errors naming their place", "[unit]") {
  const std::string iommu = "iommu:\n  scalable: {enabled: true}\n";
  const PlatformConfig pc = load(iommu + R"(host:
  tables: scalable
  domains:
    - {id: 10, mappings: [{iova: 0, phys: 0x100000000, size: 16M}]}
    - id: 11
      translation: nested
      parent: 10
      pasid: 3
      devices: ["00:03.0"]
      guest_tables: {base: 0xF00000, size: 64K}
      mappings: [{iova: 0xFFFF800000000000, phys: 0x200000, size: 8K, user: false}]
    - {id: 12, translation: first-level, first_level_levels: 4, devices: ["00:03.0"]}
traffic:
  - {name: a, requester: "00:03.0", pasid: 3, privileged: true}
)");
  CHECK(pc.iommu.scalable.enabled);
  CHECK(pc.iommu.scalable.nested);
  CHECK(pc.host.tables == "scalable");
  REQUIRE(pc.host.domains.size() == 3);
  CHECK(pc.host.domains[1].parent == 10);
  CHECK(pc.host.domains[1].pasid == 3);
  CHECK(pc.host.domains[1].guest_tables_size == 64 * 1024);
  CHECK_FALSE(pc.host.domains[1].mappings[0].user);
  CHECK(pc.traffic[0].has_pasid);
  CHECK(pc.traffic[0].privileged);
  // Scalable tables need the unit to offer scalable mode, and the queue.
  CHECK(error_of("host: {tables: scalable}\n").find("test.yaml:1:") != std::string::npos);
  CHECK(error_of("host: {tables: scalable}\n").find("iommu.scalable.enabled") != std::string::npos);
  CHECK(error_of(iommu + "host: {tables: scalable, invalidation: register}\n").find("queue") != std::string::npos);
  CHECK(error_of("iommu:\n  scalable: {enabled: true, queued_invalidation: true}\n").find("queued_invalidation") !=
        std::string::npos);
  CHECK(error_of("iommu:\n  queued_invalidation: false\n  scalable: {enabled: true}\n").find("queued_invalidation") !=
        std::string::npos);
  CHECK(error_of("iommu:\n  scalable: {enabled: true, first_level: false, nested: true}\n")
            .find("key 'iommu.scalable.nested'") != std::string::npos);
  CHECK(error_of("iommu:\n  iotlb: {impl: rtl}\n  scalable: {enabled: true}\n").find("PASID tag") != std::string::npos);
  CHECK(load("iommu:\n  iotlb: {impl: rtl}\n  scalable: {enabled: true, first_level: false}\n").iommu.scalable.enabled);
  // First-level and nested domains exist with scalable tables only; a nested one needs a parent.
  CHECK(error_of("host:\n  domains: [{id: 1, translation: nested}]\n").find("not accepted") != std::string::npos);
  const std::string tables = iommu + "host:\n  tables: scalable\n  domains:\n";
  CHECK(error_of(tables + "    - {id: 11, translation: nested, parent: 10}\n").find("key 'host.domains.0.parent'") !=
        std::string::npos);
  CHECK(error_of(tables + "    - {id: 10}\n    - {id: 11, translation: nested, parent: 10, guest_tables: {base: 0}}\n")
            .find("not mapped by domain 10") != std::string::npos);
  CHECK(error_of(tables + "    - {id: 12, translation: first-level, mappings: [{iova: 0x800000000000, phys: 0}]}\n")
            .find("canonical") != std::string::npos);
  CHECK(error_of(tables + "    - {id: 12, translation: first-level, first_level_levels: 5}\n")
            .find("first_level_5level") != std::string::npos);
  CHECK(error_of(tables + "    - {id: 1, devices: [\"00:03.0\"]}\n    - {id: 2, devices: [\"00:03.0\"]}\n")
            .find("at this PASID") != std::string::npos);
  CHECK(error_of("traffic:\n  - {name: a, pasid: 3}\n").find("key 'traffic.0.pasid'") != std::string::npos);
  // user is a first-level key: elsewhere an unknown key.
  CHECK(error_of("host:\n  domains: [{id: 1, mappings: [{iova: 0, phys: 0, user: true}]}]\n")
            .find("user") != std::string::npos);
}

// ---- Values that must be refused, not read some other way ----

TEST_CASE("a key given twice is an error at its second place", "[unit]") {
  const std::string e = error_of("iommu:\n  walkers: 2\n  walkers: 3\n");
  CHECK(e.rfind("test.yaml:3:3: ", 0) == 0);
  CHECK(e.find("'walkers' appears twice (first at line 2:3)") != std::string::npos);
  CHECK(error_of("iommu: {walkers: 2}\niommu: {walkers: 3}\n").find("appears twice") != std::string::npos);
}

TEST_CASE("a key with a dot is an error, in the file and in a --set value", "[unit]") {
  const std::string e = error_of("iommu.walkers: 2\n");
  CHECK(e.rfind("test.yaml:1:1: ", 0) == 0);
  CHECK(e.find("contains a dot") != std::string::npos);
  CHECK(error_of("", {"iommu={a.b: 1}"}).rfind("--set iommu={a.b: 1}: ", 0) == 0);
  CHECK(error_of("", {"iommu={walkers: 1, walkers: 2}"}).find("appears twice") != std::string::npos);
}

namespace {
std::string domain_with(const std::string& mappings, const std::string& host_extra = "") {
  return "host:\n" + host_extra + "  domains:\n    - id: 1\n      devices: [\"00:02.0\"]\n      mappings:\n" +
         mappings;
}
}  // namespace

TEST_CASE("mappings that overlap in one domain are refused", "[unit]") {
  const std::string e = error_of(domain_with(
      "        - {iova: 0x10000000, phys: 0x80000000, size: 1M}\n"
      "        - {iova: 0x10080000, phys: 0x90000000, size: 4K}\n"));
  CHECK(e.rfind("test.yaml:7:", 0) == 0);
  CHECK(e.find("overlaps mapping 0") != std::string::npos);
  // A 4 KiB mapping inside a 2 MiB one.
  CHECK(error_of(domain_with("        - {iova: 0x200000, phys: 0x80000000, size: 2M, page: 2M}\n"
                             "        - {iova: 0x201000, phys: 0x90000000, size: 4K}\n"))
            .find("overlaps mapping 0") != std::string::npos);
}

TEST_CASE("a mapping whose IOVA or physical range wraps past 2^64 is refused", "[unit]") {
  CHECK(error_of(domain_with("        - {iova: 0xFFFFFFFFFFFFF000, phys: 0x80000000, size: 8K}\n"))
            .find("key 'host.domains.0.mappings.0.iova'") != std::string::npos);
  CHECK(error_of(domain_with("        - {iova: 0x1000, phys: 0xFFFFFFFFFFFFF000, size: 8K}\n"))
            .find("key 'host.domains.0.mappings.0.phys'") != std::string::npos);
  // Below 2^64 but above what a 3-level domain's table indexes (39 bits).
  CHECK(error_of("host:\n  domains:\n    - {id: 1, levels: 3, mappings: [{iova: 0x8000000000, phys: 0x80000000}]}\n")
            .find("39-bit input address width of a 3-level domain") != std::string::npos);
}

TEST_CASE("a mapping that exposes the VT-d tables to the device is refused", "[unit]") {
  const std::string e = error_of(domain_with("        - {iova: 0x10000000, phys: 0x1000000, size: 4K}\n"));
  CHECK(e.find("key 'host.domains.0.mappings.0.phys'") != std::string::npos);
  CHECK(e.find("exposes the VT-d table region") != std::string::npos);
}

TEST_CASE("table and buffer regions must lie in memory, apart, below 2^64", "[unit]") {
  CHECK(error_of("host: {table_base: 0xFFFFFFFFFFFF0000, table_size: 1M}\n").find("runs past 2^64") !=
        std::string::npos);
  CHECK(error_of("host: {table_base: 0xC0000000}\n").find("is not in memory") != std::string::npos);
  const std::string endpoint = "pcie:\n  endpoints: [{name: nic0, bus: 1}]\n";
  const std::string e = error_of(endpoint + "host:\n  table_base: 0x40000000\n");
  CHECK(e.find("key 'host.driver.buffer_base'") != std::string::npos);
  CHECK(e.find("overlap the VT-d table region") != std::string::npos);
}

TEST_CASE("domain IDs the hardware cannot hold are refused", "[unit]") {
  // nd 0: 16 domains (0-15); the PF and 16 VFs would need domains 1 to 17.
  const std::string e = error_of(
      "iommu: {nd: 0}\npcie:\n  endpoints: [{name: nic0, bus: 1, total_vfs: 16}]\n"
      "host:\n  driver: {num_vfs: 16}\n");
  CHECK(e.find("key 'host.driver.num_vfs'") != std::string::npos);
  CHECK(e.find("17 PCIe functions") != std::string::npos);
  CHECK(error_of("iommu: {nd: 0}\npcie:\n  endpoints: [{name: nic0, bus: 1}]\nhost:\n  driver: {domains: [16]}\n")
            .find("domain 16 is beyond the 16 domains") != std::string::npos);
  // Page-table depths the hardware does not offer.
  CHECK(error_of("iommu: {levels: [4]}\nhost:\n  domains: [{id: 1, levels: 3}]\n")
            .find("3-level tables are not among iommu.levels") != std::string::npos);
}

TEST_CASE("vCPU schedules shorter than 0.1 us are refused", "[unit]") {
  const std::string base =
      "iommu:\n  interrupt_remapping: {enabled: true}\npcie:\n  endpoints: [{name: nic0, bus: 1}]\n"
      "host:\n  driver: {num_vfs: 1}\ninterrupts:\n  guests:\n    - vcpus: [{cpu: 1, ";
  CHECK(error_of(base + "run_us: 0.000001, preempted_us: 0.000001}]\n").find("at least 0.1 us") !=
        std::string::npos);
  CHECK(error_of(base + "run_us: 10, halted_us: 0.05}]\n").find("key 'interrupts.guests.0.vcpus.0.halted_us'") !=
        std::string::npos);
  CHECK(error_of(base + "run_us: 10, preempted_us: 5}]\n").empty());
}

TEST_CASE("the effective configuration reads back any name and any number unchanged", "[unit]") {
  const std::string text =
      "traffic:\n"
      "  - {name: \"[x\", requester: \"00:02.0\", workload: random, gap_ns: 1234567.891}\n"
      "  - {name: \"null\", requester: \"00:03.0\", workload: random}\n"
      "  - {name: \"yes # not a comment\", requester: \"00:04.0\", workload: random}\n"
      "  - {name: \"{a: 1}\", requester: \"00:05.0\", workload: random, gap_ns: 0.1}\n";
  ConfigReader reader = ConfigReader::from_text(text, "a.yaml");
  const PlatformConfig first = read_platform_config(reader.root());
  reader.finish();
  const std::string effective = reader.effective_yaml();
  ConfigReader again = ConfigReader::from_text(effective, "effective.yaml");
  const PlatformConfig second = read_platform_config(again.root());
  again.finish();
  REQUIRE(second.traffic.size() == 4);
  CHECK(second.traffic[0].name == "[x");
  CHECK(second.traffic[1].name == "null");
  CHECK(second.traffic[2].name == "yes # not a comment");
  CHECK(second.traffic[3].name == "{a: 1}");
  CHECK(second.traffic[0].workload.random.gap == first.traffic[0].workload.random.gap);
  CHECK(second.traffic[3].workload.random.gap == first.traffic[3].workload.random.gap);
  CHECK(again.effective_yaml() == effective);  // a fixed point
}

TEST_CASE("workload regions that wrap or lie above the address width are refused", "[unit]") {
  CHECK(error_of("traffic: [{workload: random, base: 0xFFFFFFFFFFFFF000, window: 8K}]\n")
            .find("above the 48-bit input address width") != std::string::npos);
  CHECK(error_of("pcie:\n  endpoints: [{name: nic0, workload: {kind: nic, rx_ring: 0x1000000000000}}]\n")
            .find("'pcie.endpoints.0.workload': nic workload: touches 0x1000000000000") != std::string::npos);
}
