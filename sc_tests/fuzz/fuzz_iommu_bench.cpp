#include "fuzz_iommu_bench.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "iommu_sim/iommu/irte.h"

// libFuzzer brings main(); SystemC's library still asks for an sc_main.
int sc_main(int, char**) { return 0; }

namespace iommu_sim {
namespace fuzz {

namespace {
IommuConfig bench_config() {
  IommuConfig c;
  c.interrupt_remapping = true;
  c.posted_interrupts = true;
  c.x2apic = true;
  c.fault_records = 4;
  c.address_width = 57;
  c.supported_levels = {3, 4, 5};
  // Scalable mode with everything it can offer, and device TLBs: legacy and scalable tables,
  // 128- and 256-bit descriptors, translation and translated requests all reach the model.
  c.scalable.enabled = true;
  c.scalable.first_level_5level = true;
  c.scalable.second_level_ad = true;
  c.scalable.supervisor_requests = true;
  c.device_tlbs = true;
  return c;
}
}  // namespace

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

IommuBench::IommuBench(sc_core::sc_module_name name)
    : sc_module(name),
      dma("dma"),
      mmio("mmio"),
      irq("irq"),
      mem("mem", MemoryConfig{sc_core::sc_time(50, sc_core::SC_NS), sc_core::sc_time(50, sc_core::SC_NS), false},
          stats),
      router("router"),
      iommu("iommu", bench_config(), stats),
      m_regs(mmio) {
  dma.bind(iommu.upstream);
  mmio.bind(iommu.regs);
  iommu.interrupt.bind(irq);
  iommu.memory.bind(router.target);
  router.initiator.bind(mem.socket);
  router.add_window("mem", 0, kMemSize, false);
  irq.register_b_transport(this, &IommuBench::irq_write);
}

IommuBench& IommuBench::get() {
  static IommuBench* bench = [] {
    sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    auto* b = new IommuBench("bench");  // lives as long as the kernel: never destroyed
    sc_core::sc_start(sc_core::SC_ZERO_TIME);
    return b;
  }();
  return *bench;
}

tlm::tlm_response_status IommuBench::access(uint16_t rid, uint64_t addr, uint8_t* data,
                                            unsigned len, bool write, AddressType at, int pasid,
                                            bool privileged) {
  tlm::tlm_generic_payload p;
  PcieExtension ext(rid, at);
  ext.has_pasid = pasid >= 0;
  ext.pasid = pasid >= 0 ? static_cast<uint32_t>(pasid) : 0;
  ext.privileged = privileged;
  p.set_extension(&ext);
  p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  p.set_address(addr);
  p.set_data_ptr(data);
  p.set_data_length(len);
  p.set_streaming_width(len);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  dma->b_transport(p, d);
  p.clear_extension(&ext);
  return p.get_response_status();
}

void IommuBench::load_memory(FuzzedDataProvider& in, unsigned runs, size_t longest) {
  const unsigned n = in.ConsumeIntegralInRange<unsigned>(0, runs);
  for (unsigned r = 0; r < n; ++r) {
    const uint64_t addr = in.ConsumeIntegralInRange<uint64_t>(0, kMemSize - 1);
    const std::vector<uint8_t> bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, longest));
    const size_t len = std::min<uint64_t>(bytes.size(), kMemSize - addr);
    if (len) memory().write(addr, bytes.data(), len);
  }
}

void IommuBench::enable_translation(uint64_t rtaddr, bool scalable) {
  const vtd::TableMode mode = scalable ? vtd::TableMode::Scalable : vtd::TableMode::Legacy;
  reg_write(vtd::kRegRtaddr, rtaddr | (uint64_t(mode) << vtd::kRtaddrTtmLo), 8);
  reg_write(vtd::kRegGcmd, vtd::kGcmdSrtp, 4);
  reg_write(vtd::kRegGcmd, vtd::kGcmdTe, 4);
}

void IommuBench::reset() {
  namespace fmt = vtd;
  reg_write(fmt::kRegGcmd, 0, 4);  // translation, queue and interrupt remapping off
  reg_write(fmt::kRegFsts, fmt::kFstsPfo | fmt::kFstsIqe | fmt::kFstsIce | fmt::kFstsIte, 4);
  for (unsigned i = 0; i < iommu.config().fault_records; ++i)
    reg_write(fmt::kRegFrcd + fmt::kFrcdSize * i + 12, 0x80000000u, 4);
  reg_write(fmt::kRegIcs, fmt::kIcsIwc, 4);
  // Every cache, the interrupt-entry and PASID caches included, through a queue of four
  // descriptors.
  SparseMemory& m = memory();
  m.fill(0, 0, kMemSize);
  const vtd::WideDescriptor pasid_cache = vtd::make_pasid_cache_desc(vtd::PasidCacheScope::Global);
  const vtd::Descriptor flush[] = {vtd::make_iec_desc(false),
                                   vtd::make_context_cache_desc(vtd::InvalidationScope::Global),
                                   vtd::make_iotlb_desc(vtd::InvalidationScope::Global),
                                   vtd::Descriptor{pasid_cache.qw[0], pasid_cache.qw[1]}};
  for (unsigned i = 0; i < 4; ++i) {
    m.write64(16 * i, flush[i].lo);
    m.write64(16 * i + 8, flush[i].hi);
  }
  reg_write(fmt::kRegIqt, 0, 8);
  reg_write(fmt::kRegIqa, 0, 8);
  reg_write(fmt::kRegGcmd, fmt::kGcmdQie, 4);
  reg_write(fmt::kRegIqt, 4 << 4, 8);
  require(reg_read(fmt::kRegIqh, 8) == (4 << 4), "reset: the flush queue did not run");
  reg_write(fmt::kRegGcmd, 0, 4);
  reg_write(fmt::kRegIqt, 0, 8);
  reg_write(fmt::kRegIrta, 0, 8);
  reg_write(fmt::kRegGcmd, fmt::kGcmdSirtp, 4);
  reg_write(fmt::kRegRtaddr, 0, 8);
  reg_write(fmt::kRegGcmd, fmt::kGcmdSrtp, 4);
  reg_write(fmt::kRegFectl, 0, 4);  // fault events unmasked: they go to the sink
  m.fill(0, 0, kMemSize);
}

}  // namespace fuzz
}  // namespace iommu_sim
