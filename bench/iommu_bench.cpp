// DMA remapper speed: translated DMA transactions per host second on an IOTLB-hit stream, the
// same stream with the context in pass-through, a miss-dominated stream, and the hit stream with
// PCIe ATS: the function's device-TLB hits and its translated requests pass the IOMMU without an
// IOTLB lookup (the per-DMA host cost of a device-TLB hit against an IOTLB hit). All four rigs
// live in one process and are measured in one run, interleaved, so that their ratios are fair on
// a noisy machine. Transactions are 64-byte reads through b_transport (no DMI), issued back to
// back from sc_main once elaboration is done.
//
//   iommu-bench [--dmas N] [--repeats R] [--only hit|pass|miss|ats]
// (--only runs one stream: for instruction counts, which are repeatable:
// `bench/callgrind-per-op build/bench/iommu-bench --only hit --dmas 100000`.)
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

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/pcie/ats_client.h"
#include "callgrind_section.h"
#include "dma_stream.h"

using namespace iommu_sim;
using iommu_sim::bench::median;

namespace {

constexpr uint16_t kRid = 0x0010;  // 00:02.0
constexpr uint16_t kDomain = 1;
constexpr uint64_t kIova = 0x10000000, kPhys = 0x40000000;

IommuConfig iommu_config(vtd::TranslationType tt) {
  IommuConfig c;
  c.device_tlbs = tt == vtd::TranslationType::AllowAts;
  return c;
}

// One IOMMU with its memory, programmed like a host driver would, and a DMA initiator: with
// TT = 01b, a function with ATS whose device-TLB holds the whole stream.
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
        m_iommu("iommu", iommu_config(tt), m_stats),
        m_tables(m_memory.storage(), 0x1000000, 0x4000000),
        m_tt(tt),
        m_pages(mapped_pages) {
    if (tt == vtd::TranslationType::AllowAts) {
      AtsClientConfig ats;
      ats.devtlb.sets = 4;
      ats.devtlb.ways = 8;
      m_ats = std::make_unique<AtsClient>(ats, m_stats, std::string(this->name()) + ".fn.ats");
    }
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
    if (!m_ats) return bench::timed_reads(dma, ext, base, pages, name());
    // With ATS: the device-TLB first; the request goes translated.
    tlm::tlm_generic_payload p;
    p.set_extension(&ext);
    uint8_t data[64];
    sc_core::sc_time delay;
    const AtsClient::Send upstream = [this](tlm::tlm_generic_payload& t, sc_core::sc_time& d) {
      dma->b_transport(t, d);
    };
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t page : pages) {
      uint64_t addr = base + uint64_t(page) * 4096 + 64;
      delay = sc_core::SC_ZERO_TIME;
      const AtsClient::Route r = m_ats->route(kRid, addr, false, upstream, delay);
      addr = r.address;
      ext.address_type = r.type;
      p.set_command(tlm::TLM_READ_COMMAND);
      p.set_address(addr);
      p.set_data_ptr(data);
      p.set_data_length(64);
      p.set_streaming_width(64);
      p.set_byte_enable_ptr(nullptr);
      p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      dma->b_transport(p, delay);
      if (!p.is_response_ok()) {
        std::fprintf(stderr, "iommu-bench: %s: DMA failed\n", name());
        std::exit(1);
      }
    }
    const auto end = std::chrono::steady_clock::now();
    p.clear_extension(&ext);
    return std::chrono::duration<double>(end - start).count();
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
  std::unique_ptr<AtsClient> m_ats;
};

}  // namespace

int sc_main(int argc, char* argv[]) {
  bench::Options options;
  options.dmas = 1000000;
  if (!bench::parse_options(argc, argv, "iommu-bench", "hit|pass|miss|ats", options)) return 2;
  const uint64_t dmas = options.dmas;
  const unsigned repeats = options.repeats;
  const std::string& only = options.only;
  // Hit stream: 16 pages, well inside the default 128-entry IOTLB. Miss stream: random pages out
  // of 65536 (256 MiB), so nearly every DMA walks (the paging-structure caches still help).
  constexpr uint64_t kMissPages = 65536;
  Rig hit("hit", vtd::TranslationType::Untranslated, 16);
  Rig pass("pass_through", vtd::TranslationType::PassThrough, 0);
  Rig miss("miss", vtd::TranslationType::Untranslated, kMissPages);
  Rig ats("ats", vtd::TranslationType::AllowAts, 16);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);
  hit.enable();
  pass.enable();
  miss.enable();
  ats.enable();

  std::vector<uint32_t> hot, cold;
  bench::page_streams(dmas, kMissPages, hot, cold);
  if (!only.empty()) {
    Rig& rig = only == "hit" ? hit : only == "pass" ? pass : only == "ats" ? ats : miss;
    const std::vector<uint32_t>& pages = only == "miss" ? cold : hot;
    double t = 0;
    {
      // Under bench/callgrind-per-op: the instructions of the DMA loop alone, per DMA.
      CallgrindSection section(only, pages.size());
      t = rig.run(pages);
    }
    std::printf("%s: %.1f ns/DMA\n", only.c_str(), t * 1e9 / dmas);
    return 0;
  }
  hit.run(hot);  // warm the caches and the allocator once
  pass.run(hot);
  miss.run(cold);
  ats.run(hot);

  std::vector<double> t_hit, t_pass, t_miss, t_ats;
  for (unsigned r = 0; r < repeats; ++r) {
    t_hit.push_back(hit.run(hot));
    t_pass.push_back(pass.run(hot));
    t_miss.push_back(miss.run(cold));
    t_ats.push_back(ats.run(hot));
  }
  const double h = median(t_hit), p = median(t_pass), m = median(t_miss), a = median(t_ats);
  std::printf("DMA remapper, %llu 64-byte reads per run, median of %u runs\n",
              static_cast<unsigned long long>(dmas), repeats);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "IOTLB hit, translation on", dmas / h, h * 1e9 / dmas);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "pass-through", dmas / p, p * 1e9 / dmas);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "miss-dominated", dmas / m, m * 1e9 / dmas);
  std::printf("  %-28s %12.0f DMAs/s  %7.1f ns/DMA\n", "ATS, device-TLB hit", dmas / a, a * 1e9 / dmas);
  std::printf("  hit-path cost / pass-through cost: %.2fx (target: at most 1.3x)\n", h / p);
  std::printf("  ATS device-TLB hit cost / IOTLB hit cost: %.2fx\n", a / h);
  std::printf("  ATS stream device-TLB hit rate: %.4f, IOMMU translation requests: %.0f\n",
              ats.stats().value("ats.fn.ats.devtlb.hits") / ats.stats().value("ats.fn.ats.devtlb.lookups"),
              ats.stats().value("ats.iommu.ats.translation_requests"));
  std::printf("  miss stream IOTLB hit rate: %.3f\n",
              miss.stats().value("miss.iommu.iotlb.hits") / miss.stats().value("miss.iommu.iotlb.lookups"));
  return 0;
}
