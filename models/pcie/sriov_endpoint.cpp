#include "iommu_sim/pcie/sriov_endpoint.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "iommu_sim/common/messages.h"

namespace iommu_sim {

std::string validate(const EndpointConfig& c) {
  if (c.device_number > 31) return "device_number: at most 31";
  const std::string err = validate(c.device);
  if (!err.empty() || !c.device.pf.ats.present) return err;
  const std::string ats = validate(c.ats);
  return ats.empty() ? "" : "ats." + ats;
}

namespace {
const SriovDeviceConfig& checked(const EndpointConfig& c) {
  const std::string err = validate(c);
  if (!err.empty()) report_config_error("SR-IOV endpoint: " + err);
  return c.device;
}

// The routing ID an engine claims: where its function will sit once software enables VFs with
// the hierarchy the device expects (ARI when it has ARI). The root port stamps the real one.
uint16_t expected_rid(const EndpointConfig& c, unsigned function) {
  if (function == 0) return c.pf_rid();
  const SriovConfig& s = c.device.sriov;
  const uint16_t off = s.ari ? s.first_vf_offset : s.first_vf_offset_no_ari;
  const uint16_t stride = s.ari ? s.vf_stride : s.vf_stride_no_ari;
  return static_cast<uint16_t>(c.pf_rid() + off + (function - 1) * stride);
}
}  // namespace

SriovEndpoint::SriovEndpoint(sc_core::sc_module_name name, const EndpointConfig& config,
                             std::vector<std::unique_ptr<Workload>> workloads,
                             StatsRegistry& stats)
    : sc_module(name),
      mmio("mmio"),
      ats("ats"),
      m_config(config),
      m_device(checked(config), config.pf_rid()),
      m_mmio_reads(stats.counter(std::string(this->name()) + ".mmio_reads")),
      m_mmio_writes(stats.counter(std::string(this->name()) + ".mmio_writes")) {
  const unsigned n = m_device.function_count();
  if (workloads.size() > n) {
    report_config_error("SR-IOV endpoint: " + std::to_string(workloads.size()) +
                                " workloads for " + std::to_string(n) + " functions");
  }
  workloads.resize(n);
  for (unsigned f = 0; f < n; ++f) {
    m_msix.push_back(std::make_unique<MsixTable>(m_device.function(f).config().msix_vectors));
    const std::string engine_name = f == 0 ? "pf" : "vf" + std::to_string(f - 1);
    m_engines.push_back(std::make_unique<DmaEngine>(engine_name.c_str(), expected_rid(config, f),
                                                    std::move(workloads[f]), stats));
    m_engines.back()->set_msix_table(m_msix.back().get());
    m_engines.back()->set_start_gate([this, f] { return m_device.may_dma(f); },
                                     &m_config_changed);
    if (config.device.pf.ats.present) {
      m_ats.push_back(std::make_unique<AtsClient>(config.ats, stats,
                                                  std::string(m_engines.back()->name()) + ".ats"));
      m_ats.back()->set_function_state([this, f] { return m_device.function(f).ats_enabled(); },
                                       [this] { return m_device.ats_stu_log2(); });
      m_engines.back()->set_ats(m_ats.back().get());
    }
  }
  mmio.register_b_transport(this, &SriovEndpoint::b_transport);
  mmio.register_transport_dbg(this, &SriovEndpoint::transport_dbg);
  ats.register_b_transport(this, &SriovEndpoint::ats_b_transport);
}

void SriovEndpoint::set_devtlb_trace(IotlbTraceWriter* trace) {
  for (auto& c : m_ats) c->set_trace(trace);
}

void SriovEndpoint::trace_to(VcdWriter& vcd) {
  for (size_t f = 0; f < m_ats.size(); ++f) m_ats[f]->trace_to(vcd, std::string(m_engines[f]->name()) + ".ats");
}

void SriovEndpoint::ats_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const PcieExtension* ext = trans.get_extension<PcieExtension>();
  const auto f = ext ? m_device.function_for_rid(ext->requester_id) : std::nullopt;
  if (!f || m_ats.empty()) {  // nobody here to complete it
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  m_ats[*f]->handle_invalidation(trans, delay);
}

bool SriovEndpoint::all_finished() const {
  for (const auto& e : m_engines) {
    if (!e->finished()) return false;
  }
  return true;
}

std::optional<uint32_t> SriovEndpoint::config_read(uint16_t rid, uint16_t offset, unsigned len) {
  return m_device.config_read(rid, offset, len);
}

bool SriovEndpoint::config_write(uint16_t rid, uint16_t offset, unsigned len, uint32_t value) {
  const auto f = m_device.function_for_rid(rid);
  if (!f) return false;
  const bool ats_was_enabled = m_device.function(*f).ats_enabled();
  m_device.function(*f).write(offset, len, value);
  // A function whose ATS is disabled may not use what its device-TLB holds.
  if (ats_was_enabled && !m_device.function(*f).ats_enabled()) m_ats[*f]->flush();
  // MSI-X Enable / Function Mask live in config space, the table in the BAR: keep them agreeing.
  sync_msix(*f);
  m_config_changed.notify(sc_core::SC_ZERO_TIME);
  return true;
}

void SriovEndpoint::sync_msix(unsigned f) {
  const PcieFunction& fn = m_device.function(f);
  MsixTable& t = *m_msix[f];
  t.set_enabled(fn.msix_enabled());
  if (auto msg = t.set_function_mask(fn.msix_function_mask())) m_engines[f]->post_msix(*msg);
}

void SriovEndpoint::mmio_access(tlm::tlm_generic_payload& trans) {
  const auto hit = m_device.decode(trans.get_address());
  const unsigned len = trans.get_data_length();
  uint8_t* data = trans.get_data_ptr();
  if (!hit || len == 0 || len > 8 || trans.get_byte_enable_ptr() != nullptr) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  const FunctionConfig& fc = m_device.function(hit->function).config();
  MsixTable& t = *m_msix[hit->function];
  const bool msix_bar = fc.msix_vectors > 0 && hit->bar == fc.msix_bar;
  const uint64_t off = hit->offset;
  if (trans.is_read()) m_mmio_reads.inc();
  if (trans.is_write()) m_mmio_writes.inc();

  if (msix_bar && off >= fc.msix_table_offset && off < fc.msix_table_offset + t.table_bytes()) {
    const uint32_t rel = static_cast<uint32_t>(off - fc.msix_table_offset);
    if (trans.is_read()) {
      const uint64_t v = t.read_table(rel, len);
      std::memcpy(data, &v, len);
    } else if (trans.is_write()) {
      uint64_t v = 0;
      std::memcpy(&v, data, len);
      if (auto msg = t.write_table(rel, len, v)) m_engines[hit->function]->post_msix(*msg);
    }
    return;
  }
  if (msix_bar && off >= fc.msix_pba_offset && off < fc.msix_pba_offset + t.pba_bytes()) {
    if (trans.is_read()) {
      const uint64_t v = t.read_pba(static_cast<uint32_t>(off - fc.msix_pba_offset), len);
      std::memcpy(data, &v, len);
    }
    return;  // the PBA is read-only
  }
  // Register file in 8-byte granules; an access must not straddle two.
  const uint64_t granule = off & ~7ULL;
  const unsigned shift = static_cast<unsigned>(off & 7);
  if (shift + len > 8) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  uint64_t& reg = m_regs[{hit->function, hit->bar, granule}];
  if (trans.is_read()) {
    const uint64_t v = reg >> (8 * shift);
    std::memcpy(data, &v, len);
  } else if (trans.is_write()) {
    uint64_t v = 0;
    std::memcpy(&v, data, len);
    const uint64_t mask = (len == 8 ? ~0ULL : ((1ULL << (8 * len)) - 1)) << (8 * shift);
    reg = (reg & ~mask) | ((v << (8 * shift)) & mask);
  }
}

void SriovEndpoint::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  mmio_access(trans);
  delay += m_config.mmio_latency;
}

unsigned SriovEndpoint::transport_dbg(tlm::tlm_generic_payload& trans) {
  mmio_access(trans);
  return trans.is_response_ok() ? trans.get_data_length() : 0;
}

void connect(RootComplex& rc, SriovEndpoint& ep) {
  rc.add_device(ep);
  rc.mmio_out.bind(ep.mmio);
  rc.ats_out.bind(ep.ats);
  for (unsigned f = 0; f < ep.function_count(); ++f) {
    rc.add_dma_port(ep, f);
    ep.engine(f).socket.bind(rc.dma_in);
  }
}

}  // namespace iommu_sim
