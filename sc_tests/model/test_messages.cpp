// The models' sc_report messages: types, severities, verbosity, and what the actions change.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "iommu_sim/common/messages.h"
#include "iommu_sim/host/host_setup.h"
#include "test_remapper_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;

namespace {
const uint16_t kRid = make_requester_id(0, 2, 0);  // 00:02.0
const uint64_t kIova = 0x12345000;

// What reached the report handler, with the actions it was given.
struct Seen {
  std::string type, text;
  sc_core::sc_severity severity;
  sc_core::sc_actions actions;
};
std::vector<Seen> g_seen;
void recording_handler(const sc_core::sc_report& r, const sc_core::sc_actions& actions) {
  g_seen.push_back({r.get_msg_type(), r.get_msg(), r.get_severity(), actions});
  sc_core::sc_report_handler::default_handler(r, actions & ~sc_core::SC_DISPLAY);
}
size_t seen(const char* type) {
  size_t n = 0;
  for (const Seen& s : g_seen) n += s.type == type;
  return n;
}
}  // namespace

TEST_CASE("a payload without the requester ID is one warning, then only counted", "[model]") {
  sc_core::sc_report_handler::set_handler(recording_handler);
  RemapperTb tb;
  tb.start();
  uint64_t v = 0;
  for (int i = 0; i < 3; ++i) {
    tlm::tlm_generic_payload p;
    p.set_command(tlm::TLM_READ_COMMAND);
    p.set_address(kIova);
    p.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
    p.set_data_length(8);
    p.set_streaming_width(8);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    tb.dma->b_transport(p, d);
    CHECK(p.get_response_status() == tlm::TLM_GENERIC_ERROR_RESPONSE);
  }
  REQUIRE(seen(msg::kNoRequesterId) == 1);
  CHECK(g_seen.back().severity == sc_core::SC_WARNING);
  CHECK(g_seen.back().text.find("tb.iommu") != std::string::npos);
  CHECK(tb.stat("missing_extension") == 3);
}

TEST_CASE("a fault is an info note that only a raised verbosity shows", "[model]") {
  sc_core::sc_report_handler::set_handler(recording_handler);
  RemapperTb tb;
  tb.start();
  tb.tables.set_context(kRid, 1, 4, TranslationType::Untranslated);
  tb.tables.map(1, kIova, kData, 0x1000, true, false);  // read-only
  REQUIRE(tb.prog.enable(tb.tables.root_table()));

  CHECK(tb.write64(kRid, kIova + 8, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(seen(msg::kFault) == 0);  // the default verbosity (SC_MEDIUM) hides it

  sc_core::sc_report_handler::set_verbosity_level(sc_core::SC_HIGH);
  CHECK(tb.write64(kRid, kIova + 16, 1) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  REQUIRE(seen(msg::kFault) == 1);
  const Seen& note = g_seen.back();
  CHECK(note.severity == sc_core::SC_INFO);
  CHECK(note.text.find("DMA write from 00:02.0 to 0x12345010") != std::string::npos);
  CHECK(note.text.find("reason 0x5") != std::string::npos);
  CHECK(tb.stat("faults") == 2);  // the note changes nothing in the model
}

TEST_CASE("a configuration the IOMMU rejects is an iommu_sim/config error", "[model]") {
  IommuConfig bad;
  bad.address_width = 30;
  StatsRegistry stats;
  try {
    Iommu iommu("iommu", bad, stats);
    FAIL("the IOMMU was built");
  } catch (const sc_core::sc_report& e) {
    CHECK(std::string(e.get_msg_type()) == msg::kConfig);
    CHECK(e.get_severity() == sc_core::SC_ERROR);
    CHECK(std::string(e.get_msg()).find("iommu: ") == 0);
  }
}

TEST_CASE("a rejected configuration stops the model even when errors do not throw", "[model]") {
  sc_core::sc_report_handler::set_actions(msg::kConfig, sc_core::SC_ERROR, sc_core::SC_LOG);
  IommuConfig bad;
  bad.address_width = 30;
  StatsRegistry stats;
  CHECK_THROWS_AS(Iommu("iommu", bad, stats), std::invalid_argument);
  CHECK(sc_core::sc_report_handler::get_count(msg::kConfig) == 1);
}

namespace {
// Host software on a bus that reaches only the IOMMU's registers, to make it fail: it asks for
// queued invalidation from an IOMMU built without it.
struct FailingHost : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<FailingHost> dma;  // no device: bound, never used
  StatsRegistry stats;
  MemoryTarget mem;
  Iommu iommu;
  HostSetup host;

  static IommuConfig no_qi() {
    IommuConfig c;
    c.queued_invalidation = false;
    return c;
  }
  static HostSetupConfig setup() {
    HostSetupConfig c;
    c.register_base = 0;  // the bus below is the register file itself
    c.invalidation = "queued";
    return c;
  }
  explicit FailingHost(sc_core::sc_module_name name = "tb")
      : sc_module(name),
        dma("dma"),
        mem("mem", MemoryConfig{}, stats),
        iommu("iommu", no_qi(), stats),
        host("host", setup(), mem.storage(), stats) {
    dma.bind(iommu.upstream);
    host.bus.bind(iommu.regs);
    iommu.memory.bind(mem.socket);
    iommu.interrupt.bind(mem.socket);
  }
};
}  // namespace

TEST_CASE("host software that fails is an iommu_sim/host error out of sc_start", "[model]") {
  FailingHost tb;
  try {
    sc_core::sc_start();
    FAIL("the simulation ran through");
  } catch (const sc_core::sc_report& e) {
    CHECK(std::string(e.get_msg_type()) == msg::kHost);
    CHECK(std::string(e.get_msg()).find("tb.host: the IOMMU did not enable its invalidation queue") == 0);
  }
  CHECK_FALSE(tb.host.ok());
}

TEST_CASE("with host errors not thrown the host keeps its failure and the run goes on", "[model]") {
  sc_core::sc_report_handler::set_actions(msg::kHost, sc_core::SC_ERROR, sc_core::SC_LOG);
  FailingHost tb;
  sc_core::sc_start();
  CHECK_FALSE(tb.host.ok());
  CHECK(tb.host.error().find("invalidation queue") != std::string::npos);
  CHECK_FALSE(tb.host.ready());
}
