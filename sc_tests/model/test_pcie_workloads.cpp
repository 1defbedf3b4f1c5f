// nic, storage and trace workloads on a DMA engine against memory (IOVA = physical here).
#include <catch2/catch.hpp>

#include <sstream>

#include <systemc>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/pcie/dma_engine.h"
#include "iommu_sim/pcie/nic_workload.h"
#include "iommu_sim/pcie/storage_workload.h"
#include "iommu_sim/pcie/trace_workload.h"

using namespace iommu_sim;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {
IovaWriter writer_for(MemoryTarget& mem) {
  return [&mem](uint64_t iova, const void* data, uint64_t len) {
    mem.storage().write(iova, data, len);
  };
}

void enable_msix(MsixTable& t) {
  t.set_enabled(true);
  for (unsigned v = 0; v < t.vectors(); ++v) {
    t.write_table(v * 16, 4, 0xFEE00000 + v * 0x1000);
    t.write_table(v * 16 + 8, 4, 0x30 + v);
    t.write_table(v * 16 + 12, 4, 0);
  }
}
}  // namespace

TEST_CASE("nic workload moves packets through its rings and coalesces interrupts", "[model]") {
  StatsRegistry stats;
  NicWorkloadConfig cfg;
  cfg.ring_size = 4;
  cfg.packets = 10;
  cfg.mode = NicWorkloadConfig::Rx;
  cfg.packet_size = 100;
  cfg.buffer_stride = 128;
  cfg.coalesce_packets = 4;
  auto w = std::make_unique<NicWorkload>(cfg);
  NicWorkload* nic = w.get();
  DmaEngine engine("nic", 0x0100, std::move(w), stats);
  MemoryTarget mem("mem", MemoryConfig{}, stats);
  engine.socket.bind(mem.socket);
  MsixTable msix(2);
  enable_msix(msix);
  engine.set_msix_table(&msix);
  nic_fill_rings(cfg, writer_for(mem));
  sc_core::sc_start();

  CHECK(nic->packets_done() == 10);
  // Per packet: descriptor read, buffer write, descriptor write-back.
  CHECK(stats.value("nic.dmas") == 30);
  CHECK(stats.value("nic.bytes") == 10 * (16 + 100 + 16));
  // 4 + 4 by count, the remaining 2 at the end.
  CHECK(stats.value("nic.msix") == 3);
  CHECK(mem.storage().read32(0xFEE00000) == 0x30u);
  // Descriptor 1 was written back with DD and the length; its buffer holds packet data.
  const uint64_t d1 = cfg.rx_ring + 16;
  CHECK(mem.storage().read64(d1 + 8) == ((1ULL << 32) | 100));
  uint8_t b = 0;
  mem.storage().read(cfg.buffer_base + 128 + 99, &b, 1);
  CHECK(b == 1);
  // 10 Gb/s offered, 100-byte packets: one every 80 ns, so the run takes at least 9 gaps.
  CHECK(sc_core::sc_time_stamp() >= sc_time(9 * 80, SC_NS));
}

TEST_CASE("nic workload drops packets whose descriptor is empty", "[model]") {
  StatsRegistry stats;
  NicWorkloadConfig cfg;
  cfg.ring_size = 4;
  cfg.packets = 4;
  cfg.mode = NicWorkloadConfig::Tx;
  auto w = std::make_unique<NicWorkload>(cfg);
  NicWorkload* nic = w.get();
  DmaEngine engine("nic", 0x0100, std::move(w), stats);
  MemoryTarget mem("mem", MemoryConfig{}, stats);
  engine.socket.bind(mem.socket);
  sc_core::sc_start();  // rings never filled: every descriptor reads zero
  CHECK(nic->packets_dropped() == 4);
  CHECK(stats.value("nic.dmas") == 4);
  CHECK(stats.value("nic.msix") == 0);
}

TEST_CASE("storage workload follows its scatter gather lists", "[model]") {
  StatsRegistry stats;
  StorageWorkloadConfig cfg;
  cfg.transfer_size = 8192;
  cfg.segment_size = 4096;
  cfg.max_payload = 256;
  cfg.sgl_slots = 2;
  cfg.requests = 3;
  cfg.data_window = 64 * 1024;
  auto w = std::make_unique<StorageWorkload>(cfg);
  StorageWorkload* st = w.get();
  DmaEngine engine("disk", 0x0100, std::move(w), stats);
  MemoryTarget mem("mem", MemoryConfig{}, stats);
  engine.socket.bind(mem.socket);
  storage_fill_sgls(cfg, writer_for(mem));
  sc_core::sc_start();
  CHECK(st->requests_done() == 3);
  // Per request: one SG list read, 8192 / 256 data writes, one completion.
  CHECK(stats.value("disk.dmas") == 3 * (1 + 32 + 1));
  CHECK(stats.value("mem.bytes_written") == 3 * (8192 + 16));
  // Request 2 used slot 0 again: its completion overwrote request 0's.
  CHECK(mem.storage().read64(cfg.completion_base) == 2u);
  CHECK(mem.storage().read64(cfg.completion_base + 8) == 0u);
  uint8_t b = 0;
  mem.storage().read(cfg.data_base + 3 * 4096 + 5, &b, 1);  // slot 1, segment 1: request 1
  CHECK(b == 1);
}

TEST_CASE("storage workload fails a request with a malformed list", "[model]") {
  StatsRegistry stats;
  StorageWorkloadConfig cfg;
  cfg.transfer_size = 8192;
  cfg.sgl_slots = 1;
  cfg.requests = 1;
  auto w = std::make_unique<StorageWorkload>(cfg);
  StorageWorkload* st = w.get();
  DmaEngine engine("disk", 0x0100, std::move(w), stats);
  MemoryTarget mem("mem", MemoryConfig{}, stats);
  engine.socket.bind(mem.socket);
  storage_fill_sgls(cfg, writer_for(mem));
  mem.storage().write64(cfg.sgl_base + 8, 1ULL << 20);  // segment 0 longer than a segment
  sc_core::sc_start();
  CHECK(st->requests_failed() == 1);
  CHECK(mem.storage().read64(cfg.completion_base + 8) == 1u);
}

TEST_CASE("trace parser reports malformed lines with their number", "[model]") {
  std::vector<TraceEntry> e;
  std::string err;
  std::istringstream good(
      "# time requester iova size dir\n"
      "0 0x0100 0x1000 64 R\n"
      "\n"
      "50 01:00.1 4096 128 W  # a VF\n");
  REQUIRE(parse_dma_trace(good, "t.txt", e, err));
  REQUIRE(e.size() == 2);
  CHECK(e[1].requester == 0x0101);
  CHECK(e[1].iova == 4096u);
  CHECK(e[1].write);
  const char* bad[] = {"0 0x0100 0x1000 64\n", "0 0x0100 0x1000 sixty R\n",
                       "0 0x0100 0x1000 64 X\n", "10 0x100 0 4 R\n5 0x100 0 4 R\n",
                       "0 zz 0 4 R\n"};
  const char* expect[] = {"t.txt:1: expected", "t.txt:1: size", "t.txt:1: direction",
                          "t.txt:2: time_ns", "t.txt:1: requester"};
  for (int i = 0; i < 5; ++i) {
    std::istringstream in(bad[i]);
    e.clear();
    err.clear();
    CHECK_FALSE(parse_dma_trace(in, "t.txt", e, err));
    CHECK(err.rfind(expect[i], 0) == 0);
  }
  TraceWorkloadConfig cfg;
  cfg.path = "/nonexistent/trace.txt";
  CHECK_THROWS_AS(TraceWorkload(cfg), std::invalid_argument);
}

TEST_CASE("trace workload replays its requester's lines at their times", "[model]") {
  StatsRegistry stats;
  std::vector<TraceEntry> entries = {{0, 0x0100, 0x1000, 64, false},
                                     {100, 0x0101, 0x2000, 64, true},
                                     {1000, 0x0100, 0x3000, 32, true}};
  TraceWorkloadConfig cfg;
  cfg.requester = 0x0100;
  DmaEngine engine("tr", 0x0100, std::make_unique<TraceWorkload>(entries, cfg), stats);
  MemoryTarget mem("mem", MemoryConfig{}, stats);
  engine.socket.bind(mem.socket);
  sc_core::sc_start();
  CHECK(stats.value("tr.dmas") == 2);
  CHECK(stats.value("tr.bytes") == 96);
  CHECK(stats.value("mem.writes") == 1);
  // The last access starts at 1000 ns and takes the memory's 80 ns.
  CHECK(sc_core::sc_time_stamp() == sc_time(1080, SC_NS));
}

TEST_CASE("trace numbers are decimal or 0x hex, never octal, and never wrap", "[model]") {
  std::vector<TraceEntry> e;
  std::string err;
  std::istringstream octal("0 0x0100 0755 64 R\n");
  REQUIRE(parse_dma_trace(octal, "t.txt", e, err));
  CHECK(e[0].iova == 755u);  // a leading zero is still decimal
  const char* bad[] = {"99999999999999999999 0x0100 0x1000 64 R\n",  // time past 2^64
                       "0 0x0100 0x10000000000000000 64 R\n",       // iova past 2^64
                       "0 0x0100 0xFFFFFFFFFFFFFFC0 128 R\n",       // iova + size past 2^64
                       "0 0x0100 0x0x10 64 R\n",                    // a second prefix
                       "0 0x0100 0x-10 64 R\n",                     // a sign after the prefix
                       "0 0x10000 0x1000 64 R\n"};                  // routing ID past 16 bits
  const char* expect[] = {"t.txt:1: time_ns", "t.txt:1: iova", "t.txt:1: iova + size",
                          "t.txt:1: iova", "t.txt:1: iova", "t.txt:1: requester"};
  for (int i = 0; i < 6; ++i) {
    std::istringstream in(bad[i]);
    e.clear();
    err.clear();
    CHECK_FALSE(parse_dma_trace(in, "t.txt", e, err));
    CHECK(err.rfind(expect[i], 0) == 0);
  }
}

TEST_CASE("trace lines may mark a request as translated", "[model]") {
  std::vector<TraceEntry> e;
  std::string err;
  std::istringstream in("0 0x0100 0x1000 64 W T\n10 0x0100 0x1000 64 R U\n20 0x0100 0x1000 64 R\n");
  REQUIRE(parse_dma_trace(in, "t.txt", e, err));
  REQUIRE(e.size() == 3);
  CHECK(e[0].translated);
  CHECK_FALSE(e[1].translated);
  CHECK_FALSE(e[2].translated);
  std::istringstream bad("0 0x0100 0x1000 64 W X\n");
  CHECK_FALSE(parse_dma_trace(bad, "t.txt", e, err));
  CHECK(err.rfind("t.txt:1: address type", 0) == 0);
}
