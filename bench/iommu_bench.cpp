// DMA remapper speed: translated DMA transactions per host second on an IOTLB-hit stream, the
// same stream with the context in pass-through, and a miss-dominated stream. All three rigs live
// in one process and are measured in one run, interleaved, so that their ratio is fair on a
// noisy machine. Transactions are 64-byte reads through b_transport (no DMI), issued back to
// back from sc_main once elaboration is done.
//
//   iommu-bench [--dmas N] [--repeats R] [--only hit|pass|miss]
// (--only runs one stream: for instruction counts under callgrind, which are repeatable.)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "common/memory_target.h"
#include "common/pcie_extension.h"
#include "common/stats.h"
#include "host/socket_mmio.h"
#include "host/vtd_tables.h"
#include "iommu/iommu.h"
#include "dma_stream.h"

using namespace iommu_sim;
using iommu_sim::bench::median;

namespace {

constexpr uint16_t kRid = 0x0010;  // 00:02.0
constexpr uint16_t kDomain = 1;
constexpr uint64_t kIova = 0x10000000, kPhys = 0x40000000;

// One IOMMU with its memory, programmed like a host driver would, and a DMA initiator.
class Rig : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Rig> dma;
  tlm_utils::simple_initiator_socket<Rig> mmio;
  tlm_utils::simple_target_socket<Rig> irq;

  Rig(sc_core::sc_module_name name, vtd::TranslationType tt, uint64_t mapped_pages)
      : sc_module(name),
        dma("dma"),
        mmio("mmio"),
        irq("irq"),
        m_memory("memory", MemoryConfig{}, m_stats),
        m_iommu("iommu", IommuConfig{}, m_stats),
        m_tables(m_memory.storage(), 0x1000000, 0x4000000),
        m_tt(tt),
        m_pages(mapped_pages) {
    dma.bind(m_iommu.upstream);
    mmio.bind(m_iommu.regs);
    m_iommu.memory.bind(m_memory.socket);
    m_iommu.interrupt.bind(irq);
    irq.register_b_transport(this, &Rig::ignore);
    m_tables.set_context(kRid, kDomain, 4, tt);
    if (tt != vtd::TranslationType::PassThrough) {
      m_tables.map(kDomain, kIova, kPhys, m_pages * 4096, true, true);
    }
  }

  // After elaboration: the enable sequence through the registers.
  void enable() {
    SocketMmio regs(mmio);  // from sc_main: no time passes
    VtdRegisterProgrammer prog(regs, m_memory.storage());
    if (!prog.enable(m_tables.root_table())) {
      std::fprintf(stderr, "iommu-bench: %s: translation did not come up\n", name());
      std::exit(1);
    }
  }

  // Issues the DMAs to the given pages (IOVA page numbers relative to kIova) and returns the
  // host seconds it took.
  double run(const std::vector<uint32_t>& pages) {
    PcieExtension ext(kRid);
    const uint64_t base = m_tt == vtd::TranslationType::PassThrough ? kPhys : kIova;
    return bench::timed_reads(dma, ext, base, pages, name());
  }

  StatsRegistry& stats() { return m_stats; }

 private:
  void ignore(tlm::tlm_generic_payload& p, sc_core::sc_time&) { p.set_response_status(tlm::TLM_OK_RESPONSE); }

  StatsRegistry m_stats;
  MemoryTarget m_memory;
  Iommu m_iommu;
  VtdTableBuilder m_tables;
  vtd::TranslationType m_tt;
  uint64_t m_pages;
};

}  // namespace

int sc_main(int argc, char* argv[]) {
  bench::Options options;
  options.dmas = 1000000;
  if (!bench::parse_options(argc, argv, "iommu-bench", "hit|pass|miss", options)) return 2;
  const uint64_t dmas = options.dmas;
  const unsigned repeats = options.repeats;
  const std::string& only = options.only;
  // Hit stream: 16 pages, well inside the default 128-entry IOTLB. Miss stream: random pages out
  // of 65536 (256 MiB), so nearly every DMA walks (the paging-structure caches still help).
  constexpr uint64_t kMissPages = 65536;
  Rig hit("hit", vtd::TranslationType::Untranslated, 16);
  Rig pass("pass_through", vtd::TranslationType::PassThrough, 0);
  Rig miss("miss", vtd::TranslationType::Untranslated, kMissPages);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  hit.enable();
  pass.enable();
  miss.enable();

  std::vector<uint32_t> hot, cold;
  bench::page_streams(dmas, kMissPages, hot, cold);
  if (!only.empty()) {
    Rig& rig = only == "hit" ? hit : only == "pass" ? pass : miss;
    const double t = rig.run(only == "miss" ? cold : hot);
    std::printf("%s: %.1f ns/DMA\n", only.c_str(), t * 1e9 / dmas);
    return 0;
  }
  hit.run(hot);  // warm the caches and the allocator once
  pass.run(hot);
  miss.run(cold);

  std::vector<double> t_hit, t_pass, t_miss;
  for (unsigned r = 0; r < repeats; ++r) {
    t_hit.push_back(hit.run(hot));
    t_pass.push_back(pass.run(hot));
    t_miss.push_back(miss.run(cold));
  }
  const double h = median(t_hit), p = median(t_pass), m = median(t_miss);
  std::printf("DMA remapper, %llu 64-byte reads per run, median of %u runs\n",
              static_cast<unsigned long long>(dmas), repeats);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "IOTLB hit, translation on", dmas / h, h * 1e9 / dmas);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "pass-through", dmas / p, p * 1e9 / dmas);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "miss-dominated", dmas / m, m * 1e9 / dmas);
  std::printf("  hit-path cost / pass-through cost: %.2fx (target: at most 1.5x)\n", h / p);
  std::printf("  miss stream IOTLB hit rate: %.3f\n",
              miss.stats().value("miss.iommu.iotlb.hits") / miss.stats().value("miss.iommu.iotlb.lookups"));
  return 0;
}
