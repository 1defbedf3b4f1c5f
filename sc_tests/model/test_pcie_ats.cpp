// The ATS side of a function: its DMA engine with an ATS client against a stand-in translation
// agent that answers translation requests from a table and records every other request.
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/ats_format.h"
#include "iommu_sim/pcie/dma_engine.h"

using namespace iommu_sim;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

const uint16_t kRid = make_requester_id(1, 0, 2);

// Answers translation requests for the pages in `map` (a page missing: R = W = 0; `ur`: UR), and
// records every request.
struct Agent : sc_core::sc_module {
  struct Request {
    uint64_t addr;
    uint32_t len;
    bool write;
    AddressType type;
  };
  tlm_utils::simple_target_socket<Agent> socket;
  std::map<uint64_t, ats::Translation> map;  // by untranslated range base
  std::vector<Request> log;
  bool ur = false;
  sc_time round_trip{300, SC_NS};

  explicit Agent(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &Agent::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
    const auto* ext = t.get_extension<PcieExtension>();
    REQUIRE(ext);
    REQUIRE(ext->requester_id == kRid);
    log.push_back({t.get_address(), t.get_data_length(), t.is_write(), ext->address_type});
    if (ext->address_type != AddressType::TranslationRequest) {
      delay += sc_time(50, SC_NS);
      t.set_response_status(tlm::TLM_OK_RESPONSE);
      return;
    }
    delay += round_trip;
    if (ur) {
      t.set_response_status(ats::kUnsupportedRequest);
      return;
    }
    ats::Translation x;
    x.range = {t.get_address(), 12};
    for (const auto& [base, tr] : map)
      if (tr.range.contains(t.get_address())) x = tr;
    const uint64_t e = ats::encode_completion(x);
    std::memcpy(t.get_data_ptr(), &e, 8);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  size_t count(AddressType type) const {
    size_t n = 0;
    for (const auto& r : log) n += r.type == type;
    return n;
  }
};

// A workload that runs a script.
class Script : public Workload {
 public:
  explicit Script(std::function<void(DmaPort&)> fn) : m_fn(std::move(fn)) {}
  std::string kind() const override { return "script"; }
  void run(DmaPort& port) override { m_fn(port); }

 private:
  std::function<void(DmaPort&)> m_fn;
};

ats::Translation page(uint64_t untranslated, uint64_t phys, unsigned log2, bool read, bool write) {
  ats::Translation t;
  t.range = {untranslated, log2};
  t.phys = phys;
  t.read = read;
  t.write = write;
  return t;
}

struct Bench {
  StatsRegistry stats;
  AtsClientConfig config;
  std::unique_ptr<AtsClient> client;
  std::unique_ptr<DmaEngine> engine;
  Agent agent{"agent"};
  bool enabled = true;
  unsigned stu = 12;

  explicit Bench(std::function<void(DmaPort&)> script) {
    config.devtlb.sets = 4;
    config.devtlb.ways = 2;
    client = std::make_unique<AtsClient>(config, stats, "fn.ats");
    client->set_function_state([this] { return enabled; }, [this] { return stu; });
    engine = std::make_unique<DmaEngine>("fn", kRid, std::make_unique<Script>(std::move(script)), stats);
    engine->set_ats(client.get());
    engine->socket.bind(agent.socket);
  }
  double stat(const std::string& leaf) const { return stats.value("fn.ats." + leaf); }
  // An invalidate request to the function (`ext` names it, and a PASID if any) with `body`:
  // completed, and after the function's invalidation latency.
  void invalidate(PcieExtension ext, uint64_t body) {
    tlm::tlm_generic_payload inv;
    inv.set_extension(&ext);
    inv.set_command(tlm::TLM_WRITE_COMMAND);
    inv.set_data_ptr(reinterpret_cast<unsigned char*>(&body));
    inv.set_data_length(8);
    sc_time d = sc_core::SC_ZERO_TIME;
    client->handle_invalidation(inv, d);
    inv.clear_extension(&ext);
    CHECK(inv.is_response_ok());
    CHECK(d == config.invalidation_latency);
  }
};

}  // namespace

TEST_CASE("ATS client: translated requests from the device-TLB, split where a translation ends", "[model]") {
  std::vector<tlm::tlm_response_status> st;
  Bench b([&](DmaPort& p) {
    uint8_t buf[256] = {};
    st.push_back(p.read(0x10000F80, buf, 256));  // crosses from one 4 KiB page into the next
    st.push_back(p.read(0x10000F00, buf, 64));   // device-TLB hit
    st.push_back(p.write(0x40100000, buf, 64));  // inside a 2 MiB translation
    st.push_back(p.write(0x401FF000, buf, 64));  // the same translation: a hit
  });
  b.agent.map[0x10000000] = page(0x10000000, 0x80000000, 12, true, true);
  b.agent.map[0x10001000] = page(0x10001000, 0x90000000, 12, true, false);
  b.agent.map[0x40000000] = page(0x40000000, 0xA0000000, 21, true, true);
  sc_core::sc_start();
  REQUIRE(st.size() == 4);
  for (auto s : st) CHECK(s == tlm::TLM_OK_RESPONSE);
  // Translation requests: 0x10000000, 0x10001000, 0x40100000 (for its 4 KiB aligned block).
  REQUIRE(b.agent.count(AddressType::TranslationRequest) == 3);
  CHECK(b.agent.log[0].addr == 0x10000000);
  CHECK(b.agent.log[0].len == 8);
  CHECK(b.agent.log[1].type == AddressType::Translated);
  CHECK(b.agent.log[1].addr == 0x80000F80);
  CHECK(b.agent.log[1].len == 128);
  CHECK(b.agent.log[2].addr == 0x10001000);  // the second page's translation request
  CHECK(b.agent.log[3].addr == 0x90000000);
  CHECK(b.agent.log[3].len == 128);
  CHECK(b.agent.log[4].type == AddressType::Translated);  // the device-TLB hit: no request
  CHECK(b.agent.log[4].addr == 0x80000F00);
  CHECK(b.agent.log[5].addr == 0x40100000);
  CHECK(b.agent.log[6].addr == 0xA0100000);
  CHECK(b.agent.log[7].addr == 0xA01FF000);
  CHECK(b.agent.log.size() == 8);
  CHECK(b.stat("translation_requests") == 3);
  CHECK(b.stat("translated_requests") == 5);
  CHECK(b.stat("devtlb.hits") == 2);
  CHECK(b.stats.value("fn.dmas") == 4);
  // The round trip is the time the request took to come back.
  const Histogram* rt = b.stats.find_histogram("fn.ats.translation_latency");
  REQUIRE(rt);
  CHECK(rt->count() == 3);
  CHECK(rt->min() == 300000);
}

TEST_CASE("ATS client: no permission goes untranslated, UR fails the DMA, ATS off bypasses", "[model]") {
  std::vector<tlm::tlm_response_status> st;
  Bench* bench = nullptr;
  Bench b([&](DmaPort& p) {
    uint8_t buf[64] = {};
    st.push_back(p.write(0x10000000, buf, 64));  // read-only translation: the write goes untranslated
    st.push_back(p.read(0x20000000, buf, 64));   // R = W = 0: untranslated, nothing cached
    st.push_back(p.read(0x20000000, buf, 64));   // so it asks again
    bench->agent.ur = true;
    st.push_back(p.read(0x30000000, buf, 64));   // UR: the DMA fails, nothing is sent
    bench->enabled = false;
    st.push_back(p.read(0x30000000, buf, 64));   // ATS disabled: plain untranslated request
  });
  bench = &b;
  b.agent.map[0x10000000] = page(0x10000000, 0x80000000, 12, true, false);
  sc_core::sc_start();
  REQUIRE(st.size() == 5);
  CHECK(st[0] == tlm::TLM_OK_RESPONSE);
  CHECK(st[3] == ats::kUnsupportedRequest);
  CHECK(st[4] == tlm::TLM_OK_RESPONSE);
  std::vector<AddressType> types;
  for (const auto& r : b.agent.log) types.push_back(r.type);
  using AT = AddressType;
  CHECK(types == std::vector<AT>{AT::TranslationRequest, AT::Untranslated, AT::TranslationRequest,
                                 AT::Untranslated, AT::TranslationRequest, AT::Untranslated,
                                 AT::TranslationRequest, AT::Untranslated});
  CHECK(b.agent.log[1].addr == 0x10000000);  // untranslated: the device's own address
  CHECK(b.stat("untranslated_fallbacks") == 3);
  CHECK(b.stat("translation_failures") == 1);
  CHECK(b.stats.value("fn.errors") == 1);
  CHECK(b.client->devtlb().valid_entries() == 1);  // the read-only page only
}

TEST_CASE("ATS client: STU-sized translation requests and invalidations, and the completion time", "[model]") {
  Bench* bench = nullptr;
  std::vector<tlm::tlm_response_status> st;
  Bench b([&](DmaPort& p) {
    uint8_t buf[64] = {};
    st.push_back(p.read(0x40123000, buf, 64));
    st.push_back(p.read(0x40124000, buf, 64));
    // An invalidation of one 4 KiB page inside the 2 MiB STU block takes the whole block.
    bench->invalidate(PcieExtension(kRid), ats::encode_invalidate({0x40124000, 12}));
    st.push_back(p.read(0x40125000, buf, 64));
  });
  bench = &b;
  b.stu = 21;
  b.agent.map[0x40000000] = page(0x40000000, 0xA0000000, 21, true, true);
  sc_core::sc_start();
  REQUIRE(st.size() == 3);
  REQUIRE(b.agent.count(AddressType::TranslationRequest) == 2);
  CHECK(b.agent.log[0].addr == 0x40000000);  // aligned down to the STU
  CHECK(b.agent.log[2].addr == 0xA0124000);  // a hit: no request
  CHECK(b.agent.log[3].type == AddressType::TranslationRequest);  // after the invalidation
  CHECK(b.stat("invalidate_requests") == 1);
  CHECK(b.stat("devtlb.invalidated_entries") == 1);
}

TEST_CASE("ATS client: an invalidate request with a PASID is completed and leaves the PASID-less entries", "[model]") {
  // The function translates without a PASID only; descriptor 0x8's requests (with a PASID, here
  // with Global Invalidate too) find nothing of theirs in its device-TLB.
  Bench* bench = nullptr;
  Bench b([&](DmaPort& p) {
    uint8_t buf[64] = {};
    CHECK(p.read(0x40123000, buf, 64) == tlm::TLM_OK_RESPONSE);
    PcieExtension ext(kRid);
    ext.has_pasid = true;
    ext.pasid = 5;
    bench->invalidate(ext, set_bit(ats::encode_invalidate({0x40123000, 12}), ats::kInvGlobal, true));
    CHECK(p.read(0x40123000, buf, 64) == tlm::TLM_OK_RESPONSE);
  });
  bench = &b;
  b.agent.map[0x40123000] = page(0x40123000, 0xA0123000, 12, true, true);
  sc_core::sc_start();
  CHECK(b.agent.count(AddressType::TranslationRequest) == 1);  // the second read hit
  CHECK(b.stat("invalidate_requests") == 1);
  CHECK(b.stat("devtlb.invalidated_entries") == 0);
  CHECK(b.stat("devtlb.hits") == 1);
}
