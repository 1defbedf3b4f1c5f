#include "iommu_sim/pcie/root_complex.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "iommu_sim/common/messages.h"
#include "iommu_sim/common/pcie_extension.h"

namespace iommu_sim {

std::string validate(const RootComplexConfig& c) {
  if (c.bus_last < c.bus_first) return "bus_last: below bus_first";
  if (c.ecam_base % (1ULL << 20) != 0) return "ecam_base: must be 1 MiB aligned";
  if (c.mmio_size == 0) return "mmio_size: must be greater than 0";
  const bool overlap = c.ecam_base < c.mmio_base + c.mmio_size &&
                       c.mmio_base < c.ecam_base + c.ecam_size();
  if (overlap) return "mmio_base: the MMIO window overlaps the ECAM window";
  return "";
}

RootComplex::RootComplex(sc_core::sc_module_name name, const RootComplexConfig& config,
                         StatsRegistry& stats)
    : sc_module(name),
      host("host"),
      upstream("upstream"),
      dma_in("dma_in"),
      mmio_out("mmio_out"),
      ats_in("ats_in"),
      ats_out("ats_out"),
      m_config(config),
      m_config_reads(stats.counter(std::string(this->name()) + ".config_reads")),
      m_config_writes(stats.counter(std::string(this->name()) + ".config_writes")),
      m_unsupported(stats.counter(std::string(this->name()) + ".unsupported_requests")),
      m_mmio(stats.counter(std::string(this->name()) + ".mmio")),
      m_unclaimed_mmio(stats.counter(std::string(this->name()) + ".unclaimed_mmio")),
      m_upstream(stats.counter(std::string(this->name()) + ".upstream")),
      m_dma_blocked(stats.counter(std::string(this->name()) + ".dma_blocked")),
      m_rid_corrected(stats.counter(std::string(this->name()) + ".rid_corrected")),
      m_ats_invalidations(stats.counter(std::string(this->name()) + ".ats_invalidations")) {
  const std::string err = validate(config);
  if (!err.empty()) report_config_error("root complex: " + err);
  host.register_b_transport(this, &RootComplex::host_b_transport);
  host.register_transport_dbg(this, &RootComplex::host_transport_dbg);
  dma_in.register_b_transport(this, &RootComplex::dma_b_transport);
  dma_in.register_transport_dbg(this, &RootComplex::dma_transport_dbg);
  ats_in.register_b_transport(this, &RootComplex::ats_b_transport);
}

unsigned RootComplex::add_device(PcieDevice& device) {
  m_devices.push_back(&device);
  return static_cast<unsigned>(m_devices.size() - 1);
}

unsigned RootComplex::add_dma_port(PcieDevice& device, unsigned function) {
  m_ports.push_back({&device, function});
  return static_cast<unsigned>(m_ports.size() - 1);
}

void RootComplex::config_access(tlm::tlm_generic_payload& trans) {
  const uint64_t off = trans.get_address() - m_config.ecam_base;
  const unsigned len = trans.get_data_length();
  const uint16_t reg = off & 0xFFF;
  const uint16_t rid = static_cast<uint16_t>(((off >> 20) + m_config.bus_first) << 8 |
                                             ((off >> 12) & 0xFF));
  uint8_t* data = trans.get_data_ptr();
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  // Only naturally aligned 1-, 2- and 4-byte accesses make configuration requests.
  const bool sized = (len == 1 || len == 2 || len == 4) && reg % len == 0;
  if (trans.is_read()) {
    m_config_reads.inc();
    uint32_t value = 0xFFFFFFFFu;
    bool found = false;
    for (PcieDevice* d : m_devices) {
      if (!sized) break;
      if (auto v = d->config_read(rid, reg, len)) {
        value = *v;
        found = true;
        break;
      }
    }
    if (!found) {
      m_unsupported.inc();
      std::memset(data, 0xFF, len);
      return;
    }
    std::memcpy(data, &value, len);  // little endian host
  } else if (trans.is_write()) {
    m_config_writes.inc();
    uint32_t value = 0;
    bool found = false;
    if (sized) {
      std::memcpy(&value, data, len);
      for (PcieDevice* d : m_devices) {
        if (d->config_write(rid, reg, len, value)) {
          found = true;
          break;
        }
      }
    }
    if (!found) m_unsupported.inc();
  }
}

int RootComplex::mmio_target(uint64_t addr) const {
  for (size_t i = 0; i < m_devices.size(); ++i) {
    if (m_devices[i]->claims(addr)) return static_cast<int>(i);
  }
  return -1;
}

void RootComplex::host_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address();
  if (addr >= m_config.ecam_base && addr - m_config.ecam_base < m_config.ecam_size()) {
    config_access(trans);
    delay += m_config.config_latency;
    return;
  }
  m_mmio.inc();
  delay += m_config.mmio_latency;
  const int target = mmio_target(addr);
  if (target < 0 || target >= static_cast<int>(mmio_out.size())) {
    m_unclaimed_mmio.inc();
    if (trans.is_read()) std::memset(trans.get_data_ptr(), 0xFF, trans.get_data_length());
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  mmio_out[target]->b_transport(trans, delay);
}

unsigned RootComplex::host_transport_dbg(tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  if (addr >= m_config.ecam_base && addr - m_config.ecam_base < m_config.ecam_size()) {
    config_access(trans);
    return trans.get_data_length();
  }
  const int target = mmio_target(addr);
  if (target < 0 || target >= static_cast<int>(mmio_out.size())) return 0;
  return mmio_out[target]->transport_dbg(trans);
}

std::optional<uint16_t> RootComplex::stamp(int id, tlm::tlm_generic_payload& trans) {
  if (id < 0 || id >= static_cast<int>(m_ports.size())) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return std::nullopt;
  }
  const DmaPort& port = m_ports[id];
  const std::optional<uint16_t> rid = port.device->dma_requester(port.function);
  if (!rid) {
    m_dma_blocked.inc();
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
  }
  return rid;
}

void RootComplex::dma_b_transport(int id, tlm::tlm_generic_payload& trans,
                                  sc_core::sc_time& delay) {
  const std::optional<uint16_t> requester = stamp(id, trans);
  if (!requester) return;
  const uint16_t rid = *requester;
  PcieExtension* ext = trans.get_extension<PcieExtension>();
  PcieExtension local;  // used when the function sent no extension at all
  const bool added = ext == nullptr;
  if (added) {
    ext = &local;
    trans.set_extension(ext);
  }
  if (!added && ext->requester_id != rid) m_rid_corrected.inc();
  ext->requester_id = rid;
  m_upstream.inc();
  delay += m_config.upstream_latency;
  upstream->b_transport(trans, delay);
  if (added) trans.clear_extension(ext);
}

unsigned RootComplex::dma_transport_dbg(int id, tlm::tlm_generic_payload& trans) {
  const std::optional<uint16_t> requester = stamp(id, trans);
  if (!requester) return 0;
  PcieExtension* ext = trans.get_extension<PcieExtension>();
  PcieExtension local;
  const bool added = ext == nullptr;
  if (added) {
    ext = &local;
    trans.set_extension(ext);
  }
  ext->requester_id = *requester;
  const unsigned n = upstream->transport_dbg(trans);
  if (added) trans.clear_extension(ext);
  return n;
}

void RootComplex::ats_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  m_ats_invalidations.inc();
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  delay += m_config.upstream_latency;  // down the link
  for (size_t i = 0; ext && i < m_devices.size(); ++i) {
    if (!m_devices[i]->owns(ext->requester_id)) continue;
    if (i >= ats_out.size()) break;  // a device without ATS
    ats_out[static_cast<int>(i)]->b_transport(trans, delay);
    if (trans.is_response_ok()) delay += m_config.upstream_latency;  // the completion back up
    return;
  }
  m_unsupported.inc();
  trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

}  // namespace iommu_sim
