// Configuration-space model of an SR-IOV device: one physical function (PF) with the SR-IOV and
// ARI extended capabilities, and TotalVFs virtual functions. Plain C++; the SystemC endpoint
// (sriov_endpoint.h) wraps it with MMIO, MSI-X and DMA engines.
//
// Layout of the PF: SR-IOV capability at 0x100 (64 bytes), ARI capability at 0x140, ATS
// capability at 0x150 when the PF has one (then every VF has its own at 0x100).
// Rules modelled (see the facts sheet, section 8):
//   - NumVFs is writable only while VF Enable is clear; a value above TotalVFs is ignored.
//   - ARI Capable Hierarchy is writable only while VF Enable is clear; it selects which First VF
//     Offset / VF Stride pair the capability reports.
//   - VF n's routing ID = PF RID + First VF Offset + n * VF Stride (16 bits, carries into bus).
//   - VFs exist (answer configuration requests, may DMA) only while VF Enable is set and
//     n < NumVFs; their vendor/device IDs read 0xFFFF (the PF's VF Device ID field holds it).
//   - VF BARs (VF BAR0..5 in the capability) give one VF's size; VF n decodes at base + n * size
//     while VF Enable and VF MSE are both set.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "iommu_sim/pcie/pcie_function.h"

namespace iommu_sim {

struct SriovConfig {
  uint16_t total_vfs = 4;
  uint16_t initial_vfs = 0;              // 0: same as total_vfs
  uint16_t first_vf_offset = 1;          // with ARI Capable Hierarchy set
  uint16_t vf_stride = 1;
  uint16_t first_vf_offset_no_ari = 8;   // with ARI Capable Hierarchy clear (device 1 onwards)
  uint16_t vf_stride_no_ari = 1;
  uint16_t vf_device_id = 0x1520;
  std::array<BarConfig, 6> vf_bars{};    // size of ONE VF's region; vf_bars[0] = 16 KiB
  unsigned vf_msix_vectors = 2;          // MSI-X in VF BAR0 at the PF's table/PBA offsets
  bool ari = true;                       // the PF has an ARI capability

  SriovConfig() { vf_bars[0].size = 16 * 1024; }
};

struct SriovDeviceConfig {
  FunctionConfig pf;
  SriovConfig sriov;
};

// "" when valid, else a message naming the offending field ("sriov.vf_stride: ...").
std::string validate(const SriovDeviceConfig& config);

// The PF's configuration space.
class SriovPf : public PcieFunction {
 public:
  static constexpr uint16_t kSriovCap = 0x100;
  static constexpr uint16_t kAriCap = 0x140;
  static constexpr uint16_t kAtsCap = 0x150;

  explicit SriovPf(const SriovDeviceConfig& config);

  uint16_t sriov_control() const;
  bool vf_enable() const { return sriov_control() & pci::sriov::kCtlVfEnable; }
  bool vf_mse() const { return sriov_control() & pci::sriov::kCtlVfMse; }
  bool ari_capable_hierarchy() const {
    return sriov_control() & pci::sriov::kCtlAriCapableHierarchy;
  }
  uint16_t num_vfs() const;
  uint16_t first_vf_offset() const;
  uint16_t vf_stride() const;
  uint64_t vf_bar_address(unsigned i) const;
  const SriovConfig& sriov() const { return m_sriov; }
  // Writes to NumVFs / ARI Capable Hierarchy that the rules refused.
  uint64_t refused_writes() const { return m_refused; }

 protected:
  void on_write(uint16_t dword_offset, uint32_t old_value) override;

 private:
  void update_offset_stride();

  SriovConfig m_sriov;
  uint64_t m_refused = 0;
};

class SriovDevice {
 public:
  // Throws std::invalid_argument with validate()'s message if the config is invalid.
  explicit SriovDevice(const SriovDeviceConfig& config, uint16_t pf_rid = 0x0100);

  // Function index: 0 = PF, 1 + n = VF n.
  unsigned function_count() const { return 1 + static_cast<unsigned>(m_vfs.size()); }
  PcieFunction& function(unsigned index);
  const PcieFunction& function(unsigned index) const;
  SriovPf& pf() { return *m_pf; }
  const SriovPf& pf() const { return *m_pf; }

  uint16_t pf_rid() const { return m_pf_rid; }
  // Routing ID of function `index` by the current offset/stride (also for absent VFs).
  uint16_t rid_of(unsigned index) const;
  // A function exists: the PF always, VF n while VF Enable is set and n < NumVFs.
  bool present(unsigned index) const;
  // The Smallest Translation Unit every function uses, log2 of bytes: the PF's STU field.
  unsigned ats_stu_log2() const { return 12 + m_pf->ats_stu_field(); }
  // The present function with this routing ID.
  std::optional<unsigned> function_for_rid(uint16_t rid) const;
  // Whether the function may issue DMA now (present and Bus Master Enable).
  bool may_dma(unsigned index) const;
  // rid_of(index) when may_dma(index), else nullopt.
  std::optional<uint16_t> dma_requester(unsigned index) const {
    if (index >= function_count()) return std::nullopt;
    const DmaState& s = dma_state(index);
    return s.may_dma ? std::optional<uint16_t>(s.rid) : std::nullopt;
  }

  // Configuration access by routing ID; nullopt / false when no function answers.
  std::optional<uint32_t> config_read(uint16_t rid, uint16_t offset, unsigned len) const;
  bool config_write(uint16_t rid, uint16_t offset, unsigned len, uint32_t value);

  // Memory decode: which function's BAR holds addr (only enabled decoders).
  struct BarHit {
    unsigned function;
    unsigned bar;
    uint64_t offset;
  };
  std::optional<BarHit> decode(uint64_t addr) const;

 private:
  // What the root port asks of a function on every DMA, worked out again only when the
  // function's configuration space or the PF's changed.
  struct DmaState {
    uint64_t pf_generation = UINT64_MAX, generation = UINT64_MAX;
    uint16_t rid = 0;
    bool may_dma = false;
  };
  const DmaState& dma_state(unsigned index) const;
  uint16_t compute_rid(unsigned index) const;

  SriovDeviceConfig m_config;
  uint16_t m_pf_rid;
  std::unique_ptr<SriovPf> m_pf;
  std::vector<std::unique_ptr<PcieFunction>> m_vfs;
  mutable std::vector<DmaState> m_dma_state;  // by function index
};

}  // namespace iommu_sim
