// Host cost of a DMA in scalable mode: an IOTLB hit, a second-level walk, a nested walk (the
// guest's first-level tables over the host's second level, with the paging-structure caches)
// and a nested walk with cold caches (24 table reads), all in one process and measured in one
// run, interleaved, so that their ratios are fair on a noisy machine. 64-byte reads through
// b_transport, back to back from sc_main once elaboration is done.
//
//   scalable-bench [--dmas N] [--repeats R] [--only hit|second-level|nested|nested-cold]
// (--only runs one stream: for instruction counts, bench/callgrind-per-op counts its DMA loop.)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/host/vtd_tables_scalable.h"
#include "iommu_sim/iommu/iommu.h"
#include "callgrind_section.h"
#include "dma_stream.h"

using namespace iommu_sim;
using iommu_sim::bench::median;

namespace {

constexpr uint16_t kRid = 0x0010;  // 00:02.0
constexpr uint64_t kIova = 0x10000000;
constexpr uint64_t kHost = 0x100000000ULL;   // guest physical 0, for the nested rigs
constexpr uint64_t kGuestData = 0x10000000;  // guest physical of the guest's buffers
constexpr uint64_t kGuestTables = 0x1000000;
constexpr uint64_t kMissPages = 65536;       // 256 MiB: nearly every DMA misses the IOTLB

enum class Kind { Hit, SecondLevel, Nested, NestedCold };

// One IOMMU in scalable mode with its memory, programmed as host software would, and a DMA
// initiator.
class Rig : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Rig> dma;
  tlm_utils::simple_initiator_socket<Rig> mmio;
  tlm_utils::simple_target_socket<Rig> irq;

  Rig(sc_core::sc_module_name name, Kind kind)
      : sc_module(name),
        dma("dma"),
        mmio("mmio"),
        irq("irq"),
        m_memory("memory", MemoryConfig{}, m_stats),
        m_iommu("iommu", config(kind), m_stats),
        m_tables(m_memory.storage(), 0x1000000000ULL, 0x40000000),
        m_scalable(m_memory.storage(), [this] { return m_tables.allocate_page(); }) {
    dma.bind(m_iommu.upstream);
    mmio.bind(m_iommu.regs);
    m_iommu.memory.bind(m_memory.socket);
    m_iommu.interrupt.bind(irq);
    irq.register_b_transport(this, &Rig::ignore);
    PasidEntrySpec e;
    e.did = 1;
    const uint64_t pages = kind == Kind::Hit ? 16 : kMissPages;
    if (kind == Kind::Hit || kind == Kind::SecondLevel) {
      m_tables.create_domain(1, 4);
      m_tables.map(1, kIova, 0x40000000, pages * 4096, true, true);
      e.pgtt = vtd::Pgtt::SecondLevel;
      e.sl_root = m_tables.domain_root(1);
    } else {
      // The guest: 512 MiB of guest memory over the host's 4 KiB second level, its first-level
      // tables in that memory.
      m_tables.create_domain(2, 4);
      m_tables.map(2, 0, kHost, 512ULL << 20, true, true);
      uint64_t next = kGuestTables;
      m_guest = std::make_unique<FirstLevelTables>(
          m_memory.storage(), 4, [&next] { const uint64_t p = next; next += 4096; return p; },
          [this](uint64_t gpa) { return *m_tables.translate(2, gpa); });
      m_guest->map(kIova, kGuestData, pages * 4096, true, true);
      e.pgtt = vtd::Pgtt::Nested;
      e.sl_root = m_tables.domain_root(2);
      e.fl_root = m_guest->root();
    }
    m_scalable.set_context(kRid);
    m_scalable.set_pasid_entry(kRid, 0, e);
  }

  static IommuConfig config(Kind kind) {
    IommuConfig c;
    c.scalable.enabled = true;
    if (kind == Kind::NestedCold) {
      c.pscache.enabled = false;
      c.scalable.nested_pscache.enabled = false;
    }
    return c;
  }

  // After elaboration: the queue with 256-bit descriptors, TTM scalable, translation on.
  void enable() {
    SocketMmio regs(mmio);  // from sc_main: no time passes
    VtdRegisterProgrammer prog(regs, m_memory.storage());
    const uint64_t queue = m_tables.allocate_page(), status = m_tables.allocate_page();
    if (!prog.enable_queued_invalidation(queue, 0, status, true) || !prog.enable(m_scalable.root_table(), true)) {
      std::fprintf(stderr, "scalable-bench: %s: translation did not come up\n", name());
      std::exit(1);
    }
  }

  // Issues the DMAs to the given pages (relative to kIova); returns the host seconds it took.
  double run(const std::vector<uint32_t>& pages) {
    PcieExtension ext(kRid);
    return bench::timed_reads(dma, ext, kIova, pages, name());
  }

  double stat(const std::string& leaf) { return m_stats.value(std::string(name()) + ".iommu." + leaf); }
  double reads_per_walk() {
    const double walks = stat("walks");
    return walks > 0 ? (stat("walk_reads.first_level") + stat("walk_reads.second_level")) / walks : 0.0;
  }

 private:
  void ignore(tlm::tlm_generic_payload& p, sc_core::sc_time&) { p.set_response_status(tlm::TLM_OK_RESPONSE); }

  StatsRegistry m_stats;
  MemoryTarget m_memory;
  Iommu m_iommu;
  VtdTableBuilder m_tables;
  ScalableTables m_scalable;
  std::unique_ptr<FirstLevelTables> m_guest;
};

}  // namespace

int sc_main(int argc, char* argv[]) {
  bench::Options options;
  options.dmas = 200000;
  if (!bench::parse_options(argc, argv, "scalable-bench", "hit|second-level|nested|nested-cold", options)) return 2;
  const uint64_t dmas = options.dmas;
  const unsigned repeats = options.repeats;
  const std::string& only = options.only;
  Rig hit("hit", Kind::Hit);
  Rig second("second_level", Kind::SecondLevel);
  Rig nested("nested", Kind::Nested);
  Rig cold("nested_cold", Kind::NestedCold);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  for (Rig* r : {&hit, &second, &nested, &cold}) r->enable();

  std::vector<uint32_t> hot, random;
  bench::page_streams(dmas, kMissPages, hot, random);
  if (!only.empty()) {
    Rig& rig = only == "hit" ? hit : only == "second-level" ? second : only == "nested" ? nested : cold;
    const std::vector<uint32_t>& pages = only == "hit" ? hot : random;
    double t = 0;
    {
      // Under bench/callgrind-per-op: the instructions of the DMA loop alone, per DMA.
      CallgrindSection section(only, pages.size());
      t = rig.run(pages);
    }
    std::printf("%s: %.1f ns/DMA\n", only.c_str(), t * 1e9 / dmas);
    return 0;
  }
  struct Stream {
    const char* label;
    Rig& rig;
    const std::vector<uint32_t>& pages;
    std::vector<double> times;
  };
  Stream streams[] = {{"IOTLB hit (second level)", hit, hot, {}},
                      {"second-level walk", second, random, {}},
                      {"nested walk", nested, random, {}},
                      {"nested walk, cold caches", cold, random, {}}};
  for (Stream& s : streams) s.rig.run(s.pages);  // warm the caches and the allocator once
  for (unsigned r = 0; r < repeats; ++r)
    for (Stream& s : streams) s.times.push_back(s.rig.run(s.pages));
  std::printf("DMA remapper in scalable mode, %llu 64-byte reads per run, median of %u runs\n",
              static_cast<unsigned long long>(dmas), repeats);
  const double base = median(streams[0].times);
  for (Stream& s : streams) {
    const double t = median(s.times);
    std::printf("  %-26s %10.0f DMAs/s %8.1f ns/DMA %6.2fx  IOTLB hit rate %.3f, %.2f reads per walk\n",
                s.label, dmas / t, t * 1e9 / dmas, t / base,
                s.rig.stat("iotlb.hits") / s.rig.stat("iotlb.lookups"), s.rig.reads_per_walk());
  }
  return 0;
}
