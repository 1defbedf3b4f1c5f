#include "iommu_sim/host/host_driver.h"

#include <algorithm>

#include "iommu_sim/common/bits.h"
#include "iommu_sim/pcie/config_space.h"

namespace iommu_sim {

void MapOnceStrategy::map(uint16_t domain, uint64_t iova, uint64_t phys, uint64_t size,
                          bool device_writes) {
  m_tables.map(domain, iova, phys, size, true, device_writes, PageSize::Size4K);
}

std::string validate(const HostDriverConfig& c) {
  if (c.bus_last < c.bus_first) return "bus_last: below bus_first";
  if (c.levels < 3 || c.levels > 5) return "levels: must be 3, 4 or 5";
  if (c.buffer_base % 4096 != 0) return "buffer_base: must be 4 KiB aligned";
  for (uint16_t d : c.domains) {
    if (d == 0) return "domains: domain 0 is reserved";
  }
  for (const auto& a : c.ats)
    if (a.stu > 31) return "ats.stu: 0..31";
  return "";
}

HostDriver::HostDriver(const HostDriverConfig& config, MmioAccess& bus, SparseMemory& memory,
                       VtdTableBuilder& tables, MappingStrategy& strategy)
    : m_config(config),
      m_bus(bus),
      m_memory(memory),
      m_tables(tables),
      m_strategy(strategy),
      m_next_mmio(config.mmio_base),
      m_next_buffer(config.buffer_base) {
  m_error = validate(config);
}

uint32_t HostDriver::cfg_read(uint16_t rid, uint16_t reg, unsigned len) {
  const uint64_t addr = m_config.ecam_base + (uint64_t((rid >> 8) - m_config.bus_first) << 20) +
                        (uint64_t(rid & 0xFF) << 12) + reg;
  return static_cast<uint32_t>(m_bus.read(addr, len));
}

void HostDriver::cfg_write(uint16_t rid, uint16_t reg, unsigned len, uint32_t value) {
  const uint64_t addr = m_config.ecam_base + (uint64_t((rid >> 8) - m_config.bus_first) << 20) +
                        (uint64_t(rid & 0xFF) << 12) + reg;
  m_bus.write(addr, value, len);
}

void HostDriver::assign_bars(uint16_t rid, uint16_t reg, uint64_t* bar, uint64_t* size,
                             uint64_t count) {
  for (unsigned i = 0; i < 6; ++i) {
    const uint16_t off = reg + 4 * i;
    cfg_write(rid, off, 4, 0xFFFFFFFF);
    const uint32_t lo = cfg_read(rid, off, 4);
    if (lo == 0 || (lo & 1)) continue;  // not implemented (I/O BARs are not used here)
    const bool is64 = ((lo >> 1) & 3) == 2;
    uint64_t mask = lo & ~0xFull;
    if (is64) {
      cfg_write(rid, off + 4, 4, 0xFFFFFFFF);
      mask |= uint64_t(cfg_read(rid, off + 4, 4)) << 32;
    } else {
      mask |= 0xFFFFFFFF00000000ull;
    }
    const uint64_t sz = ~mask + 1;
    const uint64_t base = (m_next_mmio + sz - 1) & ~(sz - 1);  // naturally aligned
    if (base + sz * count > m_config.mmio_base + m_config.mmio_size) {
      m_error = "mmio_size: the MMIO window is too small for the BARs";
      return;
    }
    m_next_mmio = base + sz * count;
    cfg_write(rid, off, 4, static_cast<uint32_t>(base));
    if (is64) cfg_write(rid, off + 4, 4, static_cast<uint32_t>(base >> 32));
    bar[i] = base;
    size[i] = sz;
    if (is64) ++i;
  }
}

uint16_t HostDriver::find_ext_cap(uint16_t rid, uint16_t id) {
  uint16_t off = pci::kExtCapBase;
  for (int guard = 0; off != 0 && guard < 64; ++guard) {
    const uint32_t hdr = cfg_read(rid, off, 4);
    if (hdr == 0 || hdr == 0xFFFFFFFF) return 0;
    if ((hdr & 0xFFFF) == id) return off;
    off = static_cast<uint16_t>(hdr >> 20);
  }
  return 0;
}

void HostDriver::enable_sriov(DiscoveredFunction pf, uint16_t cap) {  // a copy: VFs are appended
  namespace sr = pci::sriov;
  const uint16_t total = static_cast<uint16_t>(cfg_read(pf.rid, cap + sr::kTotalVfs, 2));
  const uint16_t n = std::min(total, m_config.num_vfs);
  if (n == 0) return;
  const bool ari = m_config.ari && find_ext_cap(pf.rid, pci::kExtCapAri) != 0;
  const uint16_t ari_bit = ari ? sr::kCtlAriCapableHierarchy : 0;
  // ARI and NumVFs first: they decide First VF Offset and VF Stride.
  cfg_write(pf.rid, cap + sr::kControl, 2, ari_bit);
  cfg_write(pf.rid, cap + sr::kNumVfs, 2, n);
  DiscoveredFunction vf_template;
  assign_bars(pf.rid, cap + sr::kVfBar0, vf_template.bar, vf_template.bar_size, n);
  cfg_write(pf.rid, cap + sr::kControl, 2, ari_bit | sr::kCtlVfEnable | sr::kCtlVfMse);
  const uint16_t offset = static_cast<uint16_t>(cfg_read(pf.rid, cap + sr::kFirstVfOffset, 2));
  const uint16_t stride = static_cast<uint16_t>(cfg_read(pf.rid, cap + sr::kVfStride, 2));
  const uint16_t vf_device = static_cast<uint16_t>(cfg_read(pf.rid, cap + sr::kVfDeviceId, 2));
  for (uint16_t k = 0; k < n; ++k) {
    DiscoveredFunction vf;
    vf.rid = static_cast<uint16_t>(pf.rid + offset + k * stride);
    vf.is_vf = true;
    vf.pf_rid = pf.rid;
    vf.vendor_id = pf.vendor_id;
    vf.device_id = vf_device;
    for (unsigned i = 0; i < 6; ++i) {
      vf.bar_size[i] = vf_template.bar_size[i];
      vf.bar[i] = vf_template.bar[i] ? vf_template.bar[i] + k * vf_template.bar_size[i] : 0;
    }
    vf.ats_cap = find_ext_cap(vf.rid, pci::kExtCapAts);
    m_functions.push_back(vf);
  }
}

const std::vector<DiscoveredFunction>& HostDriver::enumerate() {
  m_functions.clear();
  for (unsigned bus = m_config.bus_first; bus <= m_config.bus_last; ++bus) {
    for (unsigned devfn = 0; devfn < 256; ++devfn) {
      const uint16_t rid = static_cast<uint16_t>(bus << 8 | devfn);
      // VFs found through their PF are not scanned again (their vendor ID reads 0xFFFF anyway).
      const uint32_t id = cfg_read(rid, pci::kVendorId, 4);
      if ((id & 0xFFFF) == 0xFFFF) continue;
      DiscoveredFunction f;
      f.rid = rid;
      f.vendor_id = static_cast<uint16_t>(id);
      f.device_id = static_cast<uint16_t>(id >> 16);
      assign_bars(rid, pci::kBar0, f.bar, f.bar_size, 1);
      cfg_write(rid, pci::kCommand, 2, pci::kCmdMemorySpace);
      f.ats_cap = find_ext_cap(rid, pci::kExtCapAts);
      m_functions.push_back(f);
      if (const uint16_t cap = find_ext_cap(rid, pci::kExtCapSriov)) {
        enable_sriov(m_functions.back(), cap);
      }
    }
  }
  for (size_t i = 0; i < m_functions.size(); ++i) {
    m_functions[i].domain = i < m_config.domains.size() ? m_config.domains[i]
                                                        : static_cast<uint16_t>(i + 1);
  }
  return m_functions;
}

void HostDriver::enable_ats(bool iommu_has_device_tlbs) {
  if (!iommu_has_device_tlbs) return;
  namespace a = pci::ats;
  for (DiscoveredFunction& f : m_functions) {
    const uint16_t pf = f.is_vf ? f.pf_rid : f.rid;
    const auto asked = std::find_if(m_config.ats.begin(), m_config.ats.end(),
                                    [pf](const HostDriverConfig::AtsRequest& r) { return r.pf_rid == pf; });
    if (asked == m_config.ats.end() || f.ats_cap == 0) continue;
    const uint32_t cap = cfg_read(f.rid, f.ats_cap + a::kCapability, 2);
    if (!(cap & a::kCapPageAligned)) continue;
    // A VF uses its PF's STU: without ATS on the PF there is none (Linux refuses it too).
    if (f.is_vf && !std::any_of(m_functions.begin(), m_functions.end(),
                                [pf](const DiscoveredFunction& p) { return p.rid == pf && p.ats; }))
      continue;
    f.ats_queue_depth = (cap & a::kCapQueueDepthMask) ? (cap & a::kCapQueueDepthMask) : 32;
    // A VF's STU is its PF's (the PF comes first in discovery order).
    const uint16_t ctl = a::kCtlEnable | (f.is_vf ? 0 : (asked->stu & a::kCtlStuMask));
    cfg_write(f.rid, f.ats_cap + a::kControl, 2, ctl);
    f.ats = (cfg_read(f.rid, f.ats_cap + a::kControl, 2) & a::kCtlEnable) != 0;
  }
}

void HostDriver::assign_domains() {
  for (const DiscoveredFunction& f : m_functions) {
    m_tables.set_context(f.rid, f.domain, m_config.levels,
                         f.ats ? TranslationType::AllowAts : TranslationType::Untranslated);
  }
}

IovaWriter HostDriver::map_regions(unsigned index, const std::vector<DmaRegion>& regions) {
  const DiscoveredFunction& f = m_functions.at(index);
  // The writer's view: one entry per region, IOVA range -> physical base. A region list, not a
  // page map, so that a function with a gigabyte mapped costs a few bytes here.
  struct Run {
    uint64_t iova, size, phys;
  };
  auto runs = std::make_shared<std::vector<Run>>();
  for (const DmaRegion& r : regions) {
    const uint64_t iova = r.iova & ~0xFFFull;
    const uint64_t size = ((r.iova + r.size + 0xFFF) & ~0xFFFull) - iova;
    if (m_next_buffer + size > m_config.buffer_base + m_config.buffer_size) {
      m_error = "buffer_size: out of physical memory for rings and buffers";
      break;
    }
    const uint64_t phys = m_next_buffer;
    m_next_buffer += size;
    m_strategy.map(f.domain, iova, phys, size, r.device_writes);
    runs->push_back(Run{iova, size, phys});
  }
  SparseMemory* memory = &m_memory;
  return [runs, memory](uint64_t iova, const void* data, uint64_t len) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    for (uint64_t done = 0; done < len;) {
      const uint64_t a = iova + done;
      const uint64_t n = std::min<uint64_t>(len - done, 4096 - (a & 0xFFF));
      // Data for IOVAs never mapped is a bug in the caller's region list: skip it. Later
      // regions win where two overlap, as the page tables do.
      for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
        if (a >= it->iova && a - it->iova < it->size) {
          memory->write(it->phys + (a - it->iova), p + done, n);
          break;
        }
      }
      done += n;
    }
  };
}

void HostDriver::start_devices() {
  for (const DiscoveredFunction& f : m_functions) {
    const uint32_t cmd = cfg_read(f.rid, pci::kCommand, 2);
    cfg_write(f.rid, pci::kCommand, 2, cmd | pci::kCmdBusMaster);
  }
}

}  // namespace iommu_sim
