// DMA engine with the random workload against a recording target.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/payload_pool.h"
#include "iommu_sim/pcie/dma_engine.h"
#include "iommu_sim/pcie/random_workload.h"

using namespace iommu_sim;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

// Records every access; answers an address error inside [fail_base, fail_base + fail_size).
struct Recorder : sc_core::sc_module {
  struct Access {
    uint64_t addr;
    uint32_t len;
    bool write;
    uint16_t rid;
    bool has_ext;
  };
  tlm_utils::simple_target_socket<Recorder> socket;
  std::vector<Access> log;
  uint64_t fail_base = 0, fail_size = 0;
  sc_time latency = sc_time(50, SC_NS);

  explicit Recorder(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &Recorder::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
    auto* ext = t.get_extension<PcieExtension>();
    log.push_back({t.get_address(), t.get_data_length(), t.is_write(),
                   ext ? ext->requester_id : uint16_t(0), ext != nullptr});
    delay += latency;
    const bool fail = t.get_address() >= fail_base && t.get_address() < fail_base + fail_size;
    t.set_response_status(fail ? tlm::TLM_ADDRESS_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
  }
};

}  // namespace

TEST_CASE("random workload issues size aligned accesses inside its window", "[model]") {
  StatsRegistry stats;
  RandomWorkloadConfig cfg;
  cfg.base = 0x100000;
  cfg.window = 0x4000;
  cfg.size = 128;
  cfg.count = 200;
  cfg.direction = RandomWorkloadConfig::Mixed;
  DmaEngine engine("ep", make_requester_id(3, 0, 1),
                   std::make_unique<RandomWorkload>(cfg), stats);
  Recorder rec("rec");
  engine.socket.bind(rec.socket);
  sc_core::sc_start();

  REQUIRE(engine.finished());
  REQUIRE(rec.log.size() == 200);
  unsigned writes = 0;
  for (const auto& a : rec.log) {
    CHECK(a.has_ext);
    CHECK(a.rid == make_requester_id(3, 0, 1));
    CHECK(a.len == 128);
    CHECK(a.addr % 128 == 0);
    CHECK(a.addr >= cfg.base);
    CHECK(a.addr + a.len <= cfg.base + cfg.window);
    writes += a.write;
  }
  // Mixed direction: both kinds appear (200 fair coin flips).
  CHECK(writes > 50);
  CHECK(writes < 150);
  CHECK(stats.value("ep.dmas") == 200);
  CHECK(stats.value("ep.bytes") == 200 * 128);
  CHECK(stats.value("ep.errors") == 0);
  const Histogram* lat = stats.find_histogram("ep.latency");
  REQUIRE(lat != nullptr);
  CHECK(lat->count() == 200);
  CHECK(lat->min() == 50000);
  CHECK(lat->max() == 50000);
  // 200 accesses of 50 ns plus 199 gaps of 10 ns.
  CHECK(sc_core::sc_time_stamp() == sc_time(200 * 50 + 199 * 10, SC_NS));
}

TEST_CASE("random workload sends every nth access to the stray window", "[model]") {
  StatsRegistry stats;
  RandomWorkloadConfig cfg;
  cfg.base = 0x100000;
  cfg.window = 0x1000;
  cfg.size = 64;
  cfg.count = 100;
  cfg.stray_every = 10;
  cfg.stray_base = 0x80000000;
  DmaEngine engine("ep", 0x0100, std::make_unique<RandomWorkload>(cfg), stats);
  Recorder rec("rec");
  rec.fail_base = cfg.stray_base;
  rec.fail_size = cfg.window;
  engine.socket.bind(rec.socket);
  bool done_seen = false;
  struct Watcher : sc_core::sc_module {
    SC_HAS_PROCESS(Watcher);
    Watcher(sc_core::sc_module_name n, DmaEngine& e, bool& seen) : sc_module(n) {
      SC_THREAD(watch);
      m_e = &e;
      m_seen = &seen;
    }
    void watch() {
      sc_core::wait(m_e->done());
      *m_seen = true;
    }
    DmaEngine* m_e;
    bool* m_seen;
  } watcher("watcher", engine, done_seen);
  sc_core::sc_start();

  REQUIRE(rec.log.size() == 100);
  for (size_t i = 0; i < rec.log.size(); ++i) {
    const bool stray = (i + 1) % 10 == 0;
    const uint64_t base = stray ? cfg.stray_base : cfg.base;
    CHECK(rec.log[i].addr >= base);
    CHECK(rec.log[i].addr < base + cfg.window);
    CHECK_FALSE(rec.log[i].write);
  }
  CHECK(stats.value("ep.errors") == 10);
  CHECK(stats.value("ep.dmas") == 100);
  CHECK(done_seen);
}

TEST_CASE("random workload writes reach memory", "[model]") {
  StatsRegistry stats;
  RandomWorkloadConfig cfg;
  cfg.base = 0x2000;
  cfg.window = 0x1000;
  cfg.size = 0x1000;
  cfg.count = 2;
  cfg.direction = RandomWorkloadConfig::Write;
  DmaEngine engine("ep", 0x0100, std::make_unique<RandomWorkload>(cfg), stats);
  MemoryTarget mem("mem", MemoryConfig{}, stats);
  engine.socket.bind(mem.socket);
  sc_core::sc_start();
  uint8_t byte = 0xAA;
  mem.storage().read(0x2FFF, &byte, 1);
  CHECK(byte == 1);  // one slot: the second access overwrote it with its number, 1
  CHECK(stats.value("mem.writes") == 2);
  CHECK(stats.find_histogram("ep.latency")->min() == 80000);
}

TEST_CASE("random workload config validation names the field", "[model]") {
  RandomWorkloadConfig cfg;
  CHECK(validate(cfg).empty());
  cfg.size = 0;
  CHECK(validate(cfg).rfind("size", 0) == 0);
  cfg.size = 64;
  cfg.window = 100;
  CHECK(validate(cfg).rfind("window", 0) == 0);
  cfg.window = 4096;
  cfg.base = 3;
  CHECK(validate(cfg).rfind("base", 0) == 0);
  CHECK_THROWS_AS(RandomWorkload(cfg), std::invalid_argument);
}

TEST_CASE("the payload pool reuses released payloads and never hands out one still held", "[model]") {
  PayloadPool pool;
  tlm::tlm_generic_payload& a = pool.acquire();
  CHECK(a.get_ref_count() == 1);
  PayloadPool::pcie(a).requester_id = 0x0102;
  a.release();
  tlm::tlm_generic_payload& b = pool.acquire();
  CHECK(&b == &a);  // back from the free list, its extension still attached
  CHECK(PayloadPool::pcie(b).requester_id == 0x0102);
  b.acquire();  // a target keeps it past its call
  b.release();  // the sender is done with it
  tlm::tlm_generic_payload& c = pool.acquire();
  CHECK(&c != &b);
  CHECK(pool.size() == 2);
  b.release();  // the target lets go: back to the pool
  c.release();
  tlm::tlm_generic_payload& d = pool.acquire();
  CHECK((&d == &b || &d == &c));
  CHECK(pool.size() == 2);
  d.release();
}
