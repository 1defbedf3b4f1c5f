// Root complex + SR-IOV endpoint: ECAM routing, BAR routing, requester-ID stamping, MSI-X.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/pcie/random_workload.h"
#include "iommu_sim/pcie/sriov_endpoint.h"

using namespace iommu_sim;
using sc_core::SC_NS;
using sc_core::sc_time;
namespace sr = pci::sriov;

namespace {

// The CPU side: debug accesses through the root complex's host socket.
struct Cpu : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Cpu> socket;
  explicit Cpu(sc_core::sc_module_name n) : sc_module(n), socket("socket") {}
  uint64_t read(uint64_t addr, unsigned len) {
    uint64_t v = 0;
    access(tlm::TLM_READ_COMMAND, addr, len, v);
    return v;
  }
  void write(uint64_t addr, unsigned len, uint64_t v) {
    access(tlm::TLM_WRITE_COMMAND, addr, len, v);
  }
  void access(tlm::tlm_command cmd, uint64_t addr, unsigned len, uint64_t& v) {
    tlm::tlm_generic_payload t;
    t.set_command(cmd);
    t.set_address(addr);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
    t.set_data_length(len);
    t.set_streaming_width(len);
    sc_time d = sc_core::SC_ZERO_TIME;
    socket->b_transport(t, d);
  }
};

// Stands for the IOMMU: records the requester ID of everything that arrives upstream.
struct Upstream : sc_core::sc_module {
  tlm_utils::simple_target_socket<Upstream> socket;
  struct Seen {
    uint64_t addr;
    uint16_t rid;
    uint32_t data;
  };
  std::vector<Seen> seen;
  explicit Upstream(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &Upstream::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& t, sc_time& d) {
    auto* ext = t.get_extension<PcieExtension>();
    uint32_t data = 0;
    if (t.is_write() && t.get_data_length() == 4) std::memcpy(&data, t.get_data_ptr(), 4);
    seen.push_back({t.get_address(), ext ? ext->requester_id : uint16_t(0xDEAD), data});
    d += sc_time(10, SC_NS);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

// A workload that raises MSI-X vector 0 once after one read.
struct OneReadAndIrq : Workload {
  std::string kind() const override { return "test"; }
  void run(DmaPort& port) override {
    uint8_t b[8];
    port.read(0x1000, b, 8);
    port.raise_msix(0);
  }
};

struct Bench {
  StatsRegistry stats;
  RootComplexConfig rc_cfg;
  EndpointConfig ep_cfg;
  std::unique_ptr<RootComplex> rc;
  std::unique_ptr<SriovEndpoint> ep;
  Cpu cpu{"cpu"};
  Upstream up{"up"};

  explicit Bench(std::vector<std::unique_ptr<Workload>> w = {}) {
    ep_cfg.bus = 1;
    ep_cfg.device.sriov.total_vfs = 4;
    rc = std::make_unique<RootComplex>("rc", rc_cfg, stats);
    ep = std::make_unique<SriovEndpoint>("ep", ep_cfg, std::move(w), stats);
    connect(*rc, *ep);
    cpu.socket.bind(rc->host);
    rc->upstream.bind(up.socket);
  }
  uint64_t ecam(unsigned bus, unsigned devfn, unsigned reg) const {
    return rc_cfg.ecam_base + (uint64_t(bus) << 20) + (uint64_t(devfn) << 12) + reg;
  }
  // Assigns PF BAR0 and VF BAR0, enables memory and bus mastering, NumVFs VFs with ARI.
  void set_up(unsigned num_vfs) {
    const unsigned S = SriovPf::kSriovCap;
    cpu.write(ecam(1, 0, pci::kBar0), 4, 0xC0000000);
    cpu.write(ecam(1, 0, pci::kBar0 + 4), 4, 0);
    cpu.write(ecam(1, 0, S + sr::kVfBar0), 4, 0xC1000000);
    cpu.write(ecam(1, 0, S + sr::kVfBar0 + 4), 4, 0);
    cpu.write(ecam(1, 0, pci::kCommand), 2, pci::kCmdMemorySpace | pci::kCmdBusMaster);
    cpu.write(ecam(1, 0, S + sr::kControl), 2, sr::kCtlAriCapableHierarchy);
    cpu.write(ecam(1, 0, S + sr::kNumVfs), 2, num_vfs);
    cpu.write(ecam(1, 0, S + sr::kControl), 2,
              sr::kCtlAriCapableHierarchy | sr::kCtlVfEnable | sr::kCtlVfMse);
  }
};

// Runs the elaboration so that port bindings are complete, then stops at time 0.
void elaborate() { sc_core::sc_start(sc_core::SC_ZERO_TIME); }

}  // namespace

TEST_CASE("ECAM routes configuration requests by bus device and function", "[model]") {
  Bench b;
  elaborate();
  CHECK(b.cpu.read(b.ecam(1, 0, 0), 4) == 0x15218086u);
  CHECK(b.stats.value("rc.unsupported_requests") == 0);
  // Nothing at bus 0 or at 01:01.0: all ones, counted.
  CHECK(b.cpu.read(b.ecam(0, 0, 0), 4) == 0xFFFFFFFFu);
  CHECK(b.cpu.read(b.ecam(1, 8, 0), 2) == 0xFFFFu);
  CHECK(b.stats.value("rc.unsupported_requests") == 2);
  b.cpu.write(b.ecam(2, 0, pci::kCommand), 2, 6);
  CHECK(b.stats.value("rc.unsupported_requests") == 3);
  // VFs appear at 01:00.1.. once enabled (ARI: function numbers 1..4).
  CHECK(b.cpu.read(b.ecam(1, 1, 0), 4) == 0xFFFFFFFFu);
  const double before = b.stats.value("rc.unsupported_requests");
  b.set_up(2);
  CHECK(b.cpu.read(b.ecam(1, 1, 0), 2) == 0xFFFFu);  // VF vendor ID reads 0xFFFF
  CHECK(b.cpu.read(b.ecam(1, 1, 0x08), 4) >> 8 == 0x020000u);
  CHECK(b.stats.value("rc.unsupported_requests") == before);
  CHECK(b.cpu.read(b.ecam(1, 3, 0x08), 4) == 0xFFFFFFFFu);
  CHECK(b.stats.value("rc.unsupported_requests") == before + 1);
}

TEST_CASE("MMIO reaches the function whose BAR holds the address", "[model]") {
  Bench b;
  elaborate();
  b.set_up(3);
  b.cpu.write(0xC0000100, 4, 0x11111111);
  b.cpu.write(0xC1000100 + 2 * 0x4000, 4, 0x22222222);  // VF 2's BAR0
  CHECK(b.cpu.read(0xC0000100, 4) == 0x11111111u);
  CHECK(b.cpu.read(0xC1000100 + 2 * 0x4000, 4) == 0x22222222u);
  CHECK(b.cpu.read(0xC1000100, 4) == 0u);  // VF 0: its own registers
  // Beyond the last enabled VF: nobody claims it.
  CHECK(b.cpu.read(0xC1000100 + 3 * 0x4000, 4) == 0xFFFFFFFFu);
  CHECK(b.stats.value("rc.unclaimed_mmio") == 1);
  // The MSI-X table of VF 1 sits in its BAR at the table offset; entries reset masked.
  CHECK(b.cpu.read(0xC1004000 + 0x2000 + 12, 4) == 1u);
}

TEST_CASE("a function cannot send DMA under another requester ID", "[model]") {
  struct Liar : Workload {
    std::string kind() const override { return "liar"; }
    void run(DmaPort& port) override {
      uint8_t b[4] = {};
      port.write(0x2000, b, 4);
    }
  };
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(std::make_unique<Liar>());
  w.push_back(std::make_unique<Liar>());
  w.push_back(std::make_unique<Liar>());
  Bench b(std::move(w));
  elaborate();
  b.set_up(2);
  b.cpu.write(b.ecam(1, 1, pci::kCommand), 2, pci::kCmdBusMaster);
  // VF 1 (function 2) keeps Bus Master Enable clear: its engine is held back.
  sc_core::sc_start();
  REQUIRE(b.up.seen.size() == 2);
  std::vector<uint16_t> rids{b.up.seen[0].rid, b.up.seen[1].rid};
  std::sort(rids.begin(), rids.end());
  CHECK(rids == std::vector<uint16_t>{0x0100, 0x0101});
  CHECK_FALSE(b.ep->engine(2).finished());
  CHECK(b.stats.value("ep.vf1.dmas") == 0);
  CHECK(b.stats.value("ep.pf.errors") == 0);
}

TEST_CASE("stamping corrects an engine that claims a foreign requester ID", "[model]") {
  StatsRegistry stats;
  RootComplex rc("rc", RootComplexConfig{}, stats);
  EndpointConfig cfg;
  cfg.device.sriov.total_vfs = 1;
  SriovEndpoint ep("ep", cfg, {}, stats);
  connect(rc, ep);
  RandomWorkloadConfig rw;
  rw.count = 3;
  DmaEngine rogue("rogue", 0x4242, std::make_unique<RandomWorkload>(rw), stats);
  rc.add_dma_port(ep, 0);  // the port belongs to the PF at 01:00.0
  rogue.socket.bind(rc.dma_in);
  // A second rogue on the port of VF 0, which does not exist (no VFs enabled).
  DmaEngine ghost("ghost", 0x0101, std::make_unique<RandomWorkload>(rw), stats);
  rc.add_dma_port(ep, 1);
  ghost.socket.bind(rc.dma_in);
  Upstream up("up");
  rc.upstream.bind(up.socket);
  Cpu cpu("cpu");
  cpu.socket.bind(rc.host);
  ep.device().function(0).write(pci::kCommand, 2, pci::kCmdBusMaster);
  sc_core::sc_start();
  REQUIRE(up.seen.size() == 3);
  for (const auto& s : up.seen) CHECK(s.rid == 0x0100);
  CHECK(stats.value("rc.rid_corrected") == 3);
  CHECK(stats.value("rc.dma_blocked") == 3);
  CHECK(stats.value("ghost.errors") == 3);
}

TEST_CASE("MSI-X is a memory write on the DMA path of the function", "[model]") {
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(nullptr);
  w.push_back(std::make_unique<OneReadAndIrq>());
  Bench b(std::move(w));
  elaborate();
  b.set_up(1);
  b.cpu.write(b.ecam(1, 1, pci::kCommand), 2, pci::kCmdBusMaster);
  const uint64_t table = 0xC1000000 + 0x2000;
  b.cpu.write(table + 0, 4, 0xFEE00000 | (0x12 << 12));
  b.cpu.write(table + 4, 4, 0);
  b.cpu.write(table + 8, 4, 0x4031);
  b.cpu.write(table + 12, 4, 0);  // unmask
  const uint16_t ctl = PcieFunction::kMsixCap + pci::msix::kControl;
  b.cpu.write(b.ecam(1, 1, ctl), 2, pci::msix::kCtlEnable);
  sc_core::sc_start();
  REQUIRE(b.up.seen.size() == 2);
  CHECK(b.up.seen[1].addr == 0xFEE12000u);
  CHECK(b.up.seen[1].data == 0x4031u);
  CHECK(b.up.seen[1].rid == 0x0101);
  CHECK(b.stats.value("ep.vf0.msix") == 1);
  CHECK(b.stats.value("ep.vf0.dmas") == 1);
}

TEST_CASE("a masked MSI-X vector is sent when software unmasks it", "[model]") {
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(std::make_unique<OneReadAndIrq>());
  Bench b(std::move(w));
  elaborate();
  b.set_up(0);
  const uint16_t ctl = PcieFunction::kMsixCap + pci::msix::kControl;
  b.cpu.write(b.ecam(1, 0, ctl), 2, pci::msix::kCtlEnable);
  const uint64_t table = 0xC0000000 + 0x2000;
  b.cpu.write(table + 0, 4, 0xFEE00000);
  b.cpu.write(table + 8, 4, 0x55);
  sc_core::sc_start(sc_time(1, sc_core::SC_US));
  CHECK(b.up.seen.size() == 1);  // the read; the interrupt is pending
  CHECK(b.cpu.read(0xC0000000 + 0x3000, 8) == 1u);
  b.cpu.write(table + 12, 4, 0);
  sc_core::sc_start(sc_time(1, sc_core::SC_US));
  REQUIRE(b.up.seen.size() == 2);
  CHECK(b.up.seen[1].addr == 0xFEE00000u);
  CHECK(b.up.seen[1].data == 0x55u);
  CHECK(b.cpu.read(0xC0000000 + 0x3000, 8) == 0u);
}
