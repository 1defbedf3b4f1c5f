#include "iommu_sim/pcie/sriov_device.h"

#include <algorithm>
#include <stdexcept>

namespace iommu_sim {

using namespace pci;

namespace {
FunctionConfig vf_function_config(const SriovDeviceConfig& c) {
  FunctionConfig f = c.pf;
  f.device_id = c.sriov.vf_device_id;
  f.bars = c.sriov.vf_bars;
  f.msix_vectors = c.sriov.vf_msix_vectors;
  return f;
}
}  // namespace

std::string validate(const SriovDeviceConfig& c) {
  std::string err = validate(c.pf);
  if (!err.empty()) return "pf." + err;
  const SriovConfig& s = c.sriov;
  if (s.total_vfs > 255) return "sriov.total_vfs: at most 255";
  if (s.initial_vfs > s.total_vfs) return "sriov.initial_vfs: above total_vfs";
  if (s.total_vfs > 0) {
    if (s.first_vf_offset == 0) return "sriov.first_vf_offset: must not be 0 (the PF's ID)";
    if (s.first_vf_offset_no_ari == 0) return "sriov.first_vf_offset_no_ari: must not be 0";
    if (s.total_vfs > 1 && s.vf_stride == 0) return "sriov.vf_stride: must not be 0";
    if (s.total_vfs > 1 && s.vf_stride_no_ari == 0) return "sriov.vf_stride_no_ari: must not be 0";
  }
  err = validate(vf_function_config(c));
  // The VF shares the PF's MSI-X layout but has the VF BARs: "sriov.vf_bars[0].size: ...".
  if (!err.empty()) return "sriov.vf_" + err;
  return "";
}

SriovPf::SriovPf(const SriovDeviceConfig& config)
    : PcieFunction(config.pf, false), m_sriov(config.sriov) {
  using namespace pci::sriov;
  const uint16_t c = kSriovCap;
  init(kHeaderType, 1, 0x80);  // multi-function: VFs share the device
  add_ext_capability(c, kExtCapSriov, 1);
  // Capabilities: ARI Capable Hierarchy Preserved (bit 1) only where ARI exists; no migration.
  init(c + kCaps, 4, m_sriov.ari ? 0x2u : 0x0u);
  const uint16_t ctl_rw = kCtlVfEnable | kCtlVfMse | (m_sriov.ari ? kCtlAriCapableHierarchy : 0);
  init(c + kControl, 2, 0, ctl_rw);
  init(c + pci::sriov::kStatus, 2, 0, 0, 0x1);  // VF Migration Status, W1C
  init(c + kInitialVfs, 2, m_sriov.initial_vfs ? m_sriov.initial_vfs : m_sriov.total_vfs);
  init(c + kTotalVfs, 2, m_sriov.total_vfs);
  init(c + kNumVfs, 2, 0, 0xFFFF);
  init(c + kFuncDepLink, 1, 0);
  init(c + kVfDeviceId, 2, m_sriov.vf_device_id);
  init(c + kSupportedPageSizes, 4, 0x553);  // 4K, 8K, 64K, 256K, 1M, 4M
  init(c + kSystemPageSize, 4, 0x1, 0xFFFFFFFF);
  init_bars(c + kVfBar0, m_sriov.vf_bars);
  update_offset_stride();

  if (m_sriov.ari) {
    // ARI capability: no MFVC/ACS function groups; next function number 0 (single PF).
    add_ext_capability(kAriCap, kExtCapAri, 1);
    init(kAriCap + 4, 2, 0);
    init(kAriCap + 6, 2, 0);
  }
  if (config.pf.ats.present) add_ats_capability(kAtsCap);
}

uint16_t SriovPf::sriov_control() const {
  return static_cast<uint16_t>(raw(kSriovCap + pci::sriov::kControl, 2));
}

uint16_t SriovPf::num_vfs() const {
  return static_cast<uint16_t>(raw(kSriovCap + pci::sriov::kNumVfs, 2));
}

uint16_t SriovPf::first_vf_offset() const {
  return static_cast<uint16_t>(raw(kSriovCap + pci::sriov::kFirstVfOffset, 2));
}

uint16_t SriovPf::vf_stride() const {
  return static_cast<uint16_t>(raw(kSriovCap + pci::sriov::kVfStride, 2));
}

uint64_t SriovPf::vf_bar_address(unsigned i) const {
  return bar_address_in(*this, kSriovCap + pci::sriov::kVfBar0, m_sriov.vf_bars, i);
}

void SriovPf::update_offset_stride() {
  using namespace pci::sriov;
  const bool ari = ari_capable_hierarchy();
  init(kSriovCap + kFirstVfOffset, 2,
       ari ? m_sriov.first_vf_offset : m_sriov.first_vf_offset_no_ari);
  init(kSriovCap + kVfStride, 2, ari ? m_sriov.vf_stride : m_sriov.vf_stride_no_ari);
}

void SriovPf::on_write(uint16_t dword, uint32_t old) {
  using namespace pci::sriov;
  PcieFunction::on_write(dword, old);
  if (dword == kSriovCap + kNumVfs) {
    // The dword also holds the (read-only) function dependency link.
    const uint16_t old_num = static_cast<uint16_t>(old & 0xFFFF);
    const bool enabled_before = (sriov_control() & kCtlVfEnable) != 0;
    if (num_vfs() != old_num && (enabled_before || num_vfs() > m_sriov.total_vfs)) {
      set_raw(kSriovCap + kNumVfs, 2, old_num);
      ++m_refused;
    }
  } else if (dword == kSriovCap + kControl) {
    const uint16_t old_ctl = static_cast<uint16_t>(old & 0xFFFF);
    const uint16_t ctl = sriov_control();
    // ARI Capable Hierarchy must not change while VFs are enabled (before or by this write).
    if (((old_ctl ^ ctl) & kCtlAriCapableHierarchy) &&
        ((old_ctl & kCtlVfEnable) || (ctl & kCtlVfEnable))) {
      set_raw(kSriovCap + kControl, 2,
              (ctl & ~kCtlAriCapableHierarchy) | (old_ctl & kCtlAriCapableHierarchy));
      ++m_refused;
    }
    update_offset_stride();
  }
}

SriovDevice::SriovDevice(const SriovDeviceConfig& config, uint16_t pf_rid)
    : m_config(config), m_pf_rid(pf_rid) {
  const std::string err = validate(config);
  if (!err.empty()) throw std::invalid_argument("SR-IOV device: " + err);
  m_pf = std::make_unique<SriovPf>(config);
  const FunctionConfig vf = vf_function_config(config);
  for (unsigned n = 0; n < config.sriov.total_vfs; ++n) {
    m_vfs.push_back(std::make_unique<PcieFunction>(vf, true));
  }
  m_dma_state.resize(function_count());
}

PcieFunction& SriovDevice::function(unsigned index) {
  return index == 0 ? static_cast<PcieFunction&>(*m_pf) : *m_vfs.at(index - 1);
}

const PcieFunction& SriovDevice::function(unsigned index) const {
  return index == 0 ? static_cast<const PcieFunction&>(*m_pf) : *m_vfs.at(index - 1);
}

const SriovDevice::DmaState& SriovDevice::dma_state(unsigned index) const {
  DmaState& s = m_dma_state[index];
  const uint64_t pf_generation = m_pf->generation(), generation = function(index).generation();
  if (s.pf_generation != pf_generation || s.generation != generation) {
    s.rid = compute_rid(index);
    s.may_dma = present(index) && function(index).bus_master();
    s.pf_generation = pf_generation;
    s.generation = generation;
  }
  return s;
}

uint16_t SriovDevice::rid_of(unsigned index) const {
  return index < function_count() ? dma_state(index).rid : compute_rid(index);
}

uint16_t SriovDevice::compute_rid(unsigned index) const {
  if (index == 0) return m_pf_rid;
  // 16-bit arithmetic: a carry out of the devfn byte moves into the bus number.
  return static_cast<uint16_t>(m_pf_rid + m_pf->first_vf_offset() +
                               (index - 1) * m_pf->vf_stride());
}

bool SriovDevice::present(unsigned index) const {
  if (index == 0) return true;
  if (index > m_vfs.size()) return false;
  return m_pf->vf_enable() && (index - 1) < m_pf->num_vfs();
}

std::optional<unsigned> SriovDevice::function_for_rid(uint16_t rid) const {
  if (rid == m_pf_rid) return 0u;
  if (!m_pf->vf_enable()) return std::nullopt;
  const uint16_t first = static_cast<uint16_t>(m_pf_rid + m_pf->first_vf_offset());
  const uint16_t delta = static_cast<uint16_t>(rid - first);
  const uint16_t stride = m_pf->vf_stride();
  if (stride == 0) return delta == 0 && present(1) ? std::optional<unsigned>(1u) : std::nullopt;
  if (delta % stride != 0) return std::nullopt;
  const unsigned index = 1u + delta / stride;
  if (!present(index)) return std::nullopt;
  return index;
}

bool SriovDevice::may_dma(unsigned index) const { return dma_requester(index).has_value(); }

std::optional<uint32_t> SriovDevice::config_read(uint16_t rid, uint16_t offset,
                                                 unsigned len) const {
  const auto f = function_for_rid(rid);
  if (!f) return std::nullopt;
  return function(*f).read(offset, len);
}

bool SriovDevice::config_write(uint16_t rid, uint16_t offset, unsigned len, uint32_t value) {
  const auto f = function_for_rid(rid);
  if (!f) return false;
  function(*f).write(offset, len, value);
  return true;
}

std::optional<SriovDevice::BarHit> SriovDevice::decode(uint64_t addr) const {
  const FunctionConfig& pfc = m_config.pf;
  if (m_pf->memory_enabled()) {
    for (unsigned i = 0; i < 6; ++i) {
      const uint64_t size = pfc.bars[i].size;
      const uint64_t base = m_pf->bar_address(i);
      if (size == 0 || base == 0) continue;  // unassigned BARs decode nothing
      if (addr >= base && addr - base < size) return BarHit{0, i, addr - base};
    }
  }
  if (m_pf->vf_enable() && m_pf->vf_mse()) {
    const unsigned n_vfs = std::min<unsigned>(m_pf->num_vfs(), m_vfs.size());
    for (unsigned i = 0; i < 6; ++i) {
      const uint64_t size = m_config.sriov.vf_bars[i].size;
      const uint64_t base = m_pf->vf_bar_address(i);
      if (size == 0 || base == 0) continue;
      if (addr >= base && (addr - base) / size < n_vfs) {
        return BarHit{1 + static_cast<unsigned>((addr - base) / size), i, (addr - base) % size};
      }
    }
  }
  return std::nullopt;
}

}  // namespace iommu_sim
