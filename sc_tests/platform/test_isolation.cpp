// Isolation: a rogue bus master, bound in front of the IOMMU beside the platform's devices,
// tries every way out we know once the host has set the platform up, on every platform kind:
// static domains (translated, pass-through, blocked), SR-IOV functions in domains of their own,
// and interrupt remapping with posted interrupts. Each attempt must fault (or, for the
// interrupt window, never reach memory), and memory is compared byte by byte with what it held
// before the first attempt: nothing but the attacker's own legitimate write may differ.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <tlm_utils/simple_initiator_socket.h>

#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/iommu/irte.h"
#include "iommu_sim/platform/platform.h"
#include "platform_test_util.h"

using namespace iommu_sim;

namespace {

using Page = std::array<uint8_t, SparseMemory::kPageSize>;
using Snapshot = std::map<uint64_t, Page>;

Snapshot snapshot(const SparseMemory& m) {
  Snapshot s;
  m.for_each_page([&s](uint64_t addr, const uint8_t* data) { std::memcpy(s[addr].data(), data, SparseMemory::kPageSize); });
  return s;
}

// Byte-by-byte differences between two snapshots outside [allowed_first, allowed_last]; a page
// that exists in one only counts as differing wherever the other is not zero.
std::vector<uint64_t> differences(const Snapshot& before, const Snapshot& after, uint64_t allowed_first = 1,
                                  uint64_t allowed_last = 0) {
  static const Page zero{};
  std::vector<uint64_t> out;
  auto compare = [&](uint64_t addr, const Page& a, const Page& b) {
    for (size_t i = 0; i < a.size(); ++i) {
      const uint64_t at = addr + i;
      if (a[i] != b[i] && !(at >= allowed_first && at <= allowed_last)) out.push_back(at);
    }
  };
  for (const auto& [addr, page] : after) {
    auto it = before.find(addr);
    compare(addr, it == before.end() ? zero : it->second, page);
  }
  for (const auto& [addr, page] : before)
    if (!after.count(addr)) compare(addr, page, zero);
  return out;
}

// A bus master that claims any requester ID and address type: the strongest device there is.
class RogueDevice : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<RogueDevice> socket;
  explicit RogueDevice(sc_core::sc_module_name name) : sc_module(name), socket("socket") {}

  tlm::tlm_response_status access(uint16_t rid, uint64_t addr, unsigned len, bool write,
                                  AddressType at = AddressType::Untranslated, uint32_t fill = 0xD7D7D7D7) {
    std::vector<uint8_t> data(len);
    for (unsigned i = 0; i < len; ++i) data[i] = static_cast<uint8_t>(fill >> (8 * (i % 4)));
    tlm::tlm_generic_payload p;
    PcieExtension ext(rid, at);
    p.set_extension(&ext);
    p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    p.set_address(addr);
    p.set_data_ptr(data.data());
    p.set_data_length(len);
    p.set_streaming_width(len);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(p, delay);
    p.clear_extension(&ext);
    sc_core::wait(delay);
    return p.get_response_status();
  }
};

const uint16_t kAttacker = make_requester_id(0, 3, 0),
               kPassThrough = make_requester_id(0, 4, 0), kNoContext = make_requester_id(0, 5, 0),
               kBlocked = make_requester_id(0, 6, 0), kNoRoot = make_requester_id(5, 0, 0);

// One attempt that must fault with `reason` (0: refused without a fault record, as a read of
// the interrupt window is).
struct Attempt {
  const char* what;
  uint16_t rid;
  uint64_t addr;
  unsigned len;
  bool write;
  AddressType at;
  uint8_t reason;
};

}  // namespace

TEST_CASE("static domains: no way out of a domain, a pass-through or a blocked context", "[platform]") {
  const PlatformConfig config = test::load(R"(
iommu: {address_width: 48, levels: [3, 4], pass_through: true, fault_records: 16}
host:
  domains:
    - {id: 1, devices: ["00:02.0"], mappings: [{iova: 0x30000000, phys: 0x80000000, size: 1M}]}
    - id: 2
      devices: ["00:03.0"]
      mappings:
        - {iova: 0x10000000, phys: 0x90000000, size: 64K}
        - {iova: 0x20000000, phys: 0x98000000, size: 4K, write: false}
    - {id: 3, translation: pass-through, devices: ["00:04.0"]}
    - {id: 4, translation: blocked, devices: ["00:06.0"]}
traffic:
  - {name: victim, requester: "00:02.0", workload: random, base: 0x30000000, window: 1M, direction: read, count: 200}
)");
  StatsRegistry stats;
  Platform platform("platform", config, stats);
  RogueDevice rogue("rogue");
  rogue.socket.bind(platform.upstream().target);
  const std::vector<Attempt> attempts = {
      {"another domain's IOVA", kAttacker, 0x30000000, 64, true, AddressType::Untranslated, 0x5},
      {"a read-only page", kAttacker, 0x20000000, 64, true, AddressType::Untranslated, 0x5},
      {"beyond the address width", kAttacker, 1ULL << 48, 64, true, AddressType::Untranslated, 0x4},
      {"a range that wraps past 2^64", kAttacker, 0xFFFFFFFFFFFFFFC0ULL, 128, true, AddressType::Untranslated, 0x4},
      {"across the end of its mapping", kAttacker, 0x1000FFC0, 128, true, AddressType::Untranslated, 0x5},
      {"a translated request", kAttacker, 0x90000000, 64, true, AddressType::Translated, 0xD},
      {"a read of the interrupt window", kAttacker, 0xFEE00000, 4, false, AddressType::Untranslated, 0},
      {"pass-through past 2^64", kPassThrough, 0xFFFFFFFFFFFFFFC0ULL, 128, true, AddressType::Untranslated, 0x4},
      {"pass-through beyond the host width", kPassThrough, 1ULL << 48, 64, true, AddressType::Untranslated, 0x4},
      {"a pass-through translated request", kPassThrough, 0x80000000, 64, true, AddressType::Translated, 0xD},
      {"a context not present", kNoContext, 0x10000000, 64, true, AddressType::Untranslated, 0x2},
      {"a root entry not present", kNoRoot, 0x10000000, 64, true, AddressType::Untranslated, 0x1},
      {"a blocked context (TT reserved)", kBlocked, 0x10000000, 64, true, AddressType::Untranslated, 0x3},
  };
  Snapshot before, after;
  unsigned faults_expected = 0;
  sc_core::sc_spawn([&] {
    sc_core::wait(platform.host().ready_event());
    before = snapshot(platform.memory().storage());
    // The one legitimate write: 64 bytes at the start of its own mapping.
    CHECK(rogue.access(kAttacker, 0x10000000, 64, true) == tlm::TLM_OK_RESPONSE);
    for (const Attempt& a : attempts) {
      INFO(a.what);
      const std::string reason = "platform.iommu.faults.reason_0x" + std::string(1, "0123456789ABCDEF"[a.reason]);
      const double reason_before = a.reason ? stats.value(reason) : 0;
      CHECK(rogue.access(a.rid, a.addr, a.len, a.write, a.at) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
      if (a.reason) {
        ++faults_expected;
        CHECK(stats.value(reason) == reason_before + 1);
      }
    }
    // A write into the interrupt window (remapping off) is an interrupt request, not memory.
    rogue.access(kAttacker, 0xFEE00000, 4, true);
    after = snapshot(platform.memory().storage());
  });
  REQUIRE(platform.run().ok);
  REQUIRE_FALSE(before.empty());
  CHECK(differences(before, after, 0x90000000, 0x9000003F).empty());
  CHECK(differences(before, after).size() == 64);  // the legitimate write did land
  CHECK(stats.value("summary.dma_faults") == faults_expected);
  CHECK(stats.value("platform.victim.errors") == 0);
}

TEST_CASE("SR-IOV: a VF cannot reach beyond its domain, its width or 2^64", "[platform]") {
  const PlatformConfig config = test::load(R"(
iommu: {address_width: 48, levels: [3, 4]}
pcie:
  endpoints:
    - name: nic0
      bus: 1
      total_vfs: 4
      pf_workload: {kind: none}
      workload: {kind: random, base: 0x10000000, window: 64K, direction: read, count: 100}
      vf_workloads: [{kind: random, base: 0x10000000, window: 64K, direction: mixed, count: 100}]
host:
  driver: {num_vfs: 3, levels: 4}
)");
  StatsRegistry stats;
  Platform platform("platform", config, stats);
  RogueDevice rogue("rogue");
  rogue.socket.bind(platform.upstream().target);
  Snapshot before, after;
  uint64_t own_phys = 0;
  unsigned faults_expected = 0;
  sc_core::sc_spawn([&] {
    sc_core::wait(platform.host().ready_event());
    before = snapshot(platform.memory().storage());
    const std::vector<DiscoveredFunction>& f = platform.host().functions();
    REQUIRE(f.size() == 4);
    const DiscoveredFunction& attacker = f[1];  // VF0 (read-write); VF1 and VF2 (read-only) are the victims
    own_phys = platform.host().tables().translate(attacker.domain, 0x10000000).value_or(0);
    REQUIRE(own_phys != 0);
    CHECK(rogue.access(attacker.rid, 0x10000000, 64, true) == tlm::TLM_OK_RESPONSE);
    for (const DiscoveredFunction& victim : {f[2], f[3]}) {
      // The victims' buffers by their physical address, as a device that knows them would try.
      const uint64_t phys = platform.host().tables().translate(victim.domain, 0x10000000).value_or(0);
      REQUIRE(phys != 0);
      CHECK(rogue.access(attacker.rid, phys, 64, true) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
      CHECK(rogue.access(attacker.rid, phys, 64, true, AddressType::Translated) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
      faults_expected += 2;
    }
    CHECK(rogue.access(attacker.rid, 1ULL << 48, 64, true) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(rogue.access(attacker.rid, 0xFFFFFFFFFFFFFFC0ULL, 128, true) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(rogue.access(attacker.rid, 0x1000FFC0, 128, true) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    // A function the driver never enabled (VF3) has no context.
    CHECK(rogue.access(static_cast<uint16_t>(f[3].rid + (f[3].rid - f[2].rid)), 0x10000000, 64, true) ==
          tlm::TLM_ADDRESS_ERROR_RESPONSE);
    faults_expected += 4;
    after = snapshot(platform.memory().storage());
  });
  REQUIRE(platform.run().ok);
  REQUIRE_FALSE(before.empty());
  // VF0's own 64 KiB (its workload writes there too); nothing of the victims'.
  CHECK(differences(before, after, own_phys, own_phys + 0xFFFF).empty());
  CHECK(platform.memory().storage().read64(own_phys) == 0xD7D7D7D7D7D7D7D7ULL);
  CHECK(stats.value("summary.dma_faults") == faults_expected);
}

TEST_CASE("interrupt remapping: forged interrupt requests are blocked and change no memory", "[platform]") {
  const PlatformConfig config = test::load(R"(
iommu:
  interrupt_remapping: {enabled: true, posted: true}
pcie:
  endpoints:
    - name: nic0
      bus: 1
      total_vfs: 4
      vf_msix_vectors: 2
      pf_workload: {kind: none}
      workload: {kind: random, base: 0x10000000, window: 64K, direction: read, count: 100}
host:
  driver: {num_vfs: 2}
interrupts:
  delivery: posted
  guests: [{vcpus: [{cpu: 1}]}, {vcpus: [{cpu: 2}]}]
)");
  StatsRegistry stats;
  Platform platform("platform", config, stats);
  RogueDevice rogue("rogue");
  rogue.socket.bind(platform.upstream().target);
  Snapshot before, after;
  sc_core::sc_spawn([&] {
    sc_core::wait(platform.host().ready_event());
    before = snapshot(platform.memory().storage());
    const std::vector<DiscoveredFunction>& f = platform.host().functions();
    REQUIRE(f.size() == 3);
    const uint16_t attacker = f[1].rid;  // VF0, guest 0
    SriovEndpoint& nic = platform.endpoint(0);
    // VF1's own, well-formed message, sent by VF0: the source-ID check refuses it.
    const uint64_t stolen = nic.msix(2).read_table(0, 4);
    const uint32_t stolen_data = static_cast<uint32_t>(nic.msix(2).read_table(8, 4));
    REQUIRE(irte::is_remappable(stolen));
    CHECK(rogue.access(attacker, stolen, 4, true, AddressType::Untranslated, stolen_data) ==
          tlm::TLM_ADDRESS_ERROR_RESPONSE);
    // A compatibility-format message (remapping blocks them), an index past the table, a
    // subhandle with reserved bits set.
    CHECK(rogue.access(attacker, irte::make_compat_address(0), 4, true, AddressType::Untranslated, 0x31) ==
          tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(rogue.access(attacker, irte::make_remappable_address(0x7FFF, false), 4, true,
                       AddressType::Untranslated, 0) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    CHECK(rogue.access(attacker, irte::make_remappable_address(0, true), 4, true, AddressType::Untranslated,
                       0xFFFF0000) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    // A DMA read of the window, and a write that runs out of it into memory above.
    CHECK(rogue.access(attacker, 0xFEE00000, 4, false) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
    after = snapshot(platform.memory().storage());
  });
  REQUIRE(platform.run().ok);
  REQUIRE_FALSE(before.empty());
  CHECK(differences(before, after).empty());  // no PIR, no IRTE, no table changed
  CHECK(stats.value("platform.iommu.ir.faults.reason_0x26") == 1);
  CHECK(stats.value("platform.iommu.ir.faults.reason_0x25") == 1);
  CHECK(stats.value("platform.iommu.ir.faults.reason_0x21") == 1);
  CHECK(stats.value("platform.iommu.ir.faults.reason_0x20") == 1);
  CHECK(stats.value("summary.interrupt_faults") == 4);
  CHECK(stats.value("summary.faults") == stats.value("summary.dma_faults") + 4);
}
