// Configuration of the DMA remapper (VT-d legacy mode). Every latency has a documented default;
// the memory latency is not here: table reads cost whatever the memory target annotates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/iommu/caches/translation_cache.h"
#include "iommu_sim/iommu/scalable_config.h"

namespace iommu_sim {

struct IommuConfig {
  uint64_t register_base = 0xFED90000;  // for the platform's address map; registers decode by offset
  unsigned address_width = 48;          // MGAW + 1: widest input address (32..57)
  unsigned host_address_width = 48;     // HAW: table pointers and frames above it are reserved bits
  std::vector<unsigned> supported_levels = {3, 4};  // CAP.SAGAW: 3, 4 and/or 5-level tables
  bool superpages_2m = true, superpages_1g = true;  // CAP.SLLPS
  unsigned domain_bits_nd = 2;          // CAP.ND (domains = 2^(4+2*ND)), 0..6
  unsigned fault_records = 8;           // CAP.NFR + 1, 1..256
  bool pass_through = true;             // ECAP.PT
  bool coherent = true;                 // ECAP.C: what the unit says of its table reads (the
                                        // model reads memory as it is either way)
  bool queued_invalidation = true;      // ECAP.QI
  bool device_tlbs = false;             // ECAP.DT: ATS translation requests, translated requests
                                        // and device-TLB invalidation (context TT = 01b)
  bool page_selective = true;           // CAP.PSI
  unsigned mamv = 9;                    // CAP.MAMV: largest address mask (2^mamv pages)
  bool interrupt_remapping = false;     // ECAP.IR (the interrupt remapper sets it when present)
  bool x2apic = false;                  // ECAP.EIM
  bool posted_interrupts = false;       // CAP.PI
  IotlbConfig iotlb;
  CacheGeometry context_cache{true, 1, 16};
  CacheGeometry pscache{true, 1, 16};   // one per level (L2..L5 tables), same geometry
  CacheGeometry interrupt_entry_cache{true, 1, 32};  // IEC: IRTEs by index
  sc_core::sc_time iec_latency{2, sc_core::SC_NS};   // one IEC probe, hit or miss
  unsigned walkers = 4;                 // page-walker slots: misses beyond this many queue
  sc_core::sc_time iotlb_hit_latency{2, sc_core::SC_NS};  // one IOTLB lookup, hit or miss
  sc_core::sc_time cache_latency{2, sc_core::SC_NS};      // one context-cache or pscache probe
  sc_core::sc_time register_latency{1, sc_core::SC_NS};   // one MMIO register access
  std::string iotlb_trace_path;         // non-empty: record the IOTLB access stream there
  IotlbTraceStyle iotlb_trace_style;
  ScalableConfig scalable;              // scalable mode (off: legacy mode only)
};

// "" when valid, else a message naming the offending field ("address_width: ...").
std::string validate_iommu_config(const IommuConfig& config);

}  // namespace iommu_sim
