// Interrupt remapper: the interrupt window on the upstream path, IRTE decoding, source-ID
// validation, every interrupt-remapping fault reason, the interrupt-entry cache and posted
// interrupts, driven through the IOMMU's sockets.
#include <catch2/catch.hpp>

#include "test_remapper_tb.h"

using namespace iommu_sim;
using namespace iommu_sim::test;
namespace fmt = iommu_sim::vtd;

namespace {
const uint16_t kDev = make_requester_id(0, 3, 0);  // 00:03.0

tlm::tlm_response_status msi_write(RemapperTb& tb, uint16_t rid, uint64_t addr, uint32_t data) {
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  return tb.access(rid, addr, &data, 4, true, d);
}
}  // namespace

TEST_CASE("interrupt window writes pass unremapped while remapping is off", "[model]") {
  RemapperTb tb;
  tb.start();
  // Translation on with no context for the device: a memory write would fault.
  REQUIRE(tb.prog.enable(tb.tables.root_table()));
  CHECK(msi_write(tb, kDev, 0xFEE01000, 0x41) == tlm::TLM_OK_RESPONSE);
  REQUIRE(tb.irqs.size() == 1);
  CHECK(tb.irqs[0].addr == 0xFEE01000);
  CHECK(tb.irqs[0].data == 0x41);
  CHECK(tb.stat("faults") == 0);
  CHECK(tb.stats.value("tb.mem.writes") == 0);
}

TEST_CASE("a DMA write into the interrupt window never changes memory", "[model]") {
  RemapperTb tb;
  tb.start();
  // Translation off: identity DMA would land on the same physical address.
  uint64_t before = 0x1122334455667788ULL;
  tb.mem.storage().write(0xFEE00100, &before, 8);
  uint64_t v = 0xDEADBEEFDEADBEEFULL;
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  tb.access(kDev, 0xFEE00100, &v, 8, true, d);
  uint64_t after = 0;
  tb.mem.storage().read(0xFEE00100, &after, 8);
  CHECK(after == before);
  CHECK(tb.stats.value("tb.mem.writes") == 0);
  // A read of the window is an error and no DMI is offered over it.
  uint64_t r = 0;
  CHECK(tb.read64(kDev, 0xFEE00100, r) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  tlm::tlm_generic_payload p;
  PcieExtension ext(kDev);
  p.set_extension(&ext);
  p.set_address(0xFEE00000);
  p.set_command(tlm::TLM_WRITE_COMMAND);
  tlm::tlm_dmi dmi;
  CHECK_FALSE(tb.dma->get_direct_mem_ptr(p, dmi));
  p.clear_extension(&ext);
}
