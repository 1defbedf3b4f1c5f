// Remapped interrupts per host second with an interrupt-entry-cache hit: one device writes a
// remappable-format MSI through the IOMMU's upstream socket, the remapper finds the IRTE in the
// IEC and sends the interrupt to a sink. Five timed runs; the median is printed.
//   interrupt-bench [INTERRUPTS]   (per run)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/common/stats.h"
#include "iommu_sim/host/interrupt_tables.h"
#include "iommu_sim/host/socket_mmio.h"
#include "iommu_sim/host/vtd_tables.h"
#include "iommu_sim/iommu/iommu.h"
#include "bench_args.h"

using namespace iommu_sim;

namespace {
class Bench : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Bench> dma{"dma"};
  tlm_utils::simple_initiator_socket<Bench> mmio{"mmio"};
  tlm_utils::simple_target_socket<Bench> sink{"sink"};
  StatsRegistry stats;
  MemoryTarget mem{"mem", MemoryConfig{}, stats};
  Iommu iommu;
  uint64_t delivered = 0;

  Bench(sc_core::sc_module_name name, const IommuConfig& c) : sc_module(name), iommu("iommu", c, stats) {
    dma.bind(iommu.upstream);
    mmio.bind(iommu.regs);
    iommu.memory.bind(mem.socket);
    iommu.interrupt.bind(sink);
    sink.register_b_transport(this, &Bench::on_interrupt);
  }
  SocketMmio regs{mmio};  // set-up from sc_main: no time passes

 private:
  void on_interrupt(tlm::tlm_generic_payload& p, sc_core::sc_time&) {
    ++delivered;
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};
}  // namespace

int sc_main(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    std::fprintf(stderr, "usage: interrupt-bench [INTERRUPTS]   (per run; default 2000000)\n");
    return 2;
  }
  const uint64_t n = argc > 1 ? parse_count("interrupt-bench", "INTERRUPTS", argv[1]) : 2000000;
  IommuConfig c;
  c.interrupt_remapping = true;
  c.posted_interrupts = true;
  Bench b("bench", c);
  sc_core::sc_start(sc_core::SC_ZERO_TIME);

  VtdTableBuilder pages(b.mem.storage(), 0x1000000, 0x1000000);
  VtdRegisterProgrammer vtd(b.regs, b.mem.storage());
  if (!vtd.enable_queued_invalidation(pages.allocate_page(), 0, pages.allocate_page())) return 1;
  InterruptTableBuilder irt(b.mem.storage(), pages, 256, false);
  const uint16_t rid = make_requester_id(1, 0, 1);
  irt.set_remapped(7, 0x41, 1, rid, irte::SourceValidation::RequesterId);
  if (!enable_interrupt_remapping(b.regs, vtd, irt.irta(), false)) return 1;

  tlm::tlm_generic_payload p;
  PcieExtension ext(rid);
  uint32_t data = 0;
  p.set_extension(&ext);
  p.set_command(tlm::TLM_WRITE_COMMAND);
  p.set_address(irte::make_remappable_address(7, false));
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
  p.set_data_length(4);
  p.set_streaming_width(4);
  std::vector<double> rates;
  for (int run = 0; run < 5; ++run) {
    const uint64_t before = b.delivered;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      sc_core::sc_time d;
      p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      b.dma->b_transport(p, d);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (b.delivered - before != n) {
      std::fprintf(stderr, "interrupt-bench: %llu of %llu delivered\n",
                   static_cast<unsigned long long>(b.delivered - before),
                   static_cast<unsigned long long>(n));
      return 1;
    }
    rates.push_back(static_cast<double>(n) / s);
    std::printf("run %d: %.0f remapped interrupts/s\n", run + 1, rates.back());
  }
  p.clear_extension(&ext);
  std::sort(rates.begin(), rates.end());
  std::printf("median of 5: %.0f remapped interrupts per host second (IEC hit rate %.4f)\n",
              rates[2], b.stats.value("bench.iommu.iec.hit_rate"));
  return 0;
}
