// A minimal virtual platform on the iommu_sim library: memory, the VT-d IOMMU, the host software
// that builds its tables and turns translation on, and one device whose DMA is translated, then
// blocked by a fault that the host's fault handler reads from the fault-recording registers.
#include <cstdio>
#include <memory>

#include <systemc>

#include "iommu_sim/common/address_router.h"
#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/host/gated_workload.h"
#include "iommu_sim/host/host_setup.h"
#include "iommu_sim/host/interrupt_sink.h"
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/pcie/dma_engine.h"

using namespace iommu_sim;

// What the device does: two writes into its mapped buffer, one outside it.
class DeviceProgram : public Workload {
 public:
  std::string kind() const override { return "example"; }
  void run(DmaPort& port) override {
    const uint8_t data[64] = {0xA5};
    for (uint64_t iova : {0x10000000ULL, 0x10001040ULL, 0x10200000ULL}) {
      const bool ok = port.write(iova, data, sizeof data) == tlm::TLM_OK_RESPONSE;
      std::printf("device: DMA write to IOVA 0x%llx: %s\n", (unsigned long long)iova, ok ? "done" : "blocked");
    }
  }
};

int sc_main(int, char*[]) {
  StatsRegistry stats;
  MemoryTarget memory("memory", MemoryConfig{}, stats);
  Iommu iommu("iommu", IommuConfig{}, stats);
  InterruptSink interrupts("interrupts", stats);

  // Domain 1: device 00:02.0, 1 MiB at IOVA 0x10000000 mapped to 0x80000000, readable and writable.
  const uint16_t device_id = make_requester_id(0, 2, 0);
  DomainSpec domain;
  domain.id = 1;
  domain.devices = {device_id};
  domain.mappings = {MappingSpec{0x10000000, 0x80000000, 1 << 20}};
  HostSetupConfig host_config;
  host_config.domains = {domain};
  HostSetup host("host", host_config, memory.storage(), stats);

  // The host's bus: memory, the IOMMU's registers (by offset), the interrupt window.
  AddressRouter bus("bus");
  bus.add_window("memory", 0, 0xC0000000, false);
  bus.initiator.bind(memory.socket);
  bus.add_window("iommu", host_config.register_base, vtd::register_block_size(8), true);
  bus.initiator.bind(iommu.regs);
  bus.add_window("msi", InterruptSink::kMsiBase, InterruptSink::kMsiSize, false);
  bus.initiator.bind(interrupts.socket);
  host.bus.bind(bus.target);
  iommu.memory.bind(memory.socket);
  iommu.interrupt.bind(interrupts.socket);
  interrupts.on_interrupt([&](const MsiMessage& m) {
    if (m.vector() == HostSetup::kFaultVector) host.fault_event();
  });

  // The device starts once the host has turned translation on.
  DmaEngine device("device", device_id,
                   std::make_unique<GatedWorkload>(std::make_unique<DeviceProgram>(), host.ready_event(), host.ready()),
                   stats);
  device.socket.bind(iommu.upstream);

  sc_core::sc_start();

  for (const VtdFault& f : host.faults_handled())
    std::printf("host: fault from %02x:%02x.%x, %s of page 0x%llx, reason 0x%x\n", f.source_id >> 8,
                (f.source_id >> 3) & 0x1F, f.source_id & 7, f.is_read ? "read" : "write",
                (unsigned long long)f.address, f.reason);
  std::printf("memory at 0x80001040: 0x%02x\n", memory.storage().read32(0x80001040) & 0xFF);
  std::printf("IOTLB: %.0f lookups, %.0f misses; %.0f page walks\n", stats.value("iommu.iotlb.lookups"),
              stats.value("iommu.iotlb.misses"), stats.value("iommu.walks"));
  return host.ok() ? 0 : 1;
}
