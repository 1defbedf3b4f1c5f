#include "iommu_sim/common/memory_target.h"

namespace iommu_sim {

MemoryTarget::MemoryTarget(sc_core::sc_module_name name, const MemoryConfig& config,
                           StatsRegistry& stats)
    : sc_module(name),
      socket("socket", *this),
      m_config(config),
      m_reads(stats.counter(std::string(this->name()) + ".reads")),
      m_writes(stats.counter(std::string(this->name()) + ".writes")),
      m_bytes_read(stats.counter(std::string(this->name()) + ".bytes_read")),
      m_bytes_written(stats.counter(std::string(this->name()) + ".bytes_written")) {
}

bool MemoryTarget::access(tlm::tlm_generic_payload& trans) {
  if (trans.get_byte_enable_ptr() != nullptr) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return false;
  }
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  if (len > 1 && len - 1ULL > UINT64_MAX - addr) {  // no memory lies past 2^64 - 1
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return false;
  }
  if (trans.is_read()) {
    m_memory.read(addr, trans.get_data_ptr(), len);
  } else if (trans.is_write()) {
    m_memory.write(addr, trans.get_data_ptr(), len);
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  return true;
}

void MemoryTarget::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  if (!access(trans)) return;
  if (trans.is_read()) {
    m_reads.inc();
    m_bytes_read.inc(trans.get_data_length());
    delay += m_config.read_latency;
  } else if (trans.is_write()) {
    m_writes.inc();
    m_bytes_written.inc(trans.get_data_length());
    delay += m_config.write_latency;
  }
  trans.set_dmi_allowed(m_config.dmi);
}

unsigned int MemoryTarget::transport_dbg(tlm::tlm_generic_payload& trans) {
  return access(trans) ? trans.get_data_length() : 0;
}

bool MemoryTarget::get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  if (!m_config.dmi) return false;
  const uint64_t page = trans.get_address() & ~(SparseMemory::kPageSize - 1);
  dmi.set_dmi_ptr(m_memory.page_for_dmi(page));
  dmi.set_start_address(page);
  dmi.set_end_address(page + SparseMemory::kPageSize - 1);
  dmi.allow_read_write();
  dmi.set_read_latency(m_config.read_latency);
  dmi.set_write_latency(m_config.write_latency);
  return true;
}

}  // namespace iommu_sim
