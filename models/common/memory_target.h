// TLM target in front of a SparseMemory: any number of initiators, a read and a write latency
// annotated on every access, DMI to one 4 KiB page at a time (pages are not contiguous).
#pragma once

#include <systemc>
#include <tlm>

#include "iommu_sim/common/direct_target_socket.h"
#include "iommu_sim/common/sparse_memory.h"
#include "iommu_sim/common/stats.h"

namespace iommu_sim {

struct MemoryConfig {
  sc_core::sc_time read_latency = sc_core::sc_time(80, sc_core::SC_NS);
  sc_core::sc_time write_latency = sc_core::sc_time(80, sc_core::SC_NS);
  bool dmi = true;
};

class MemoryTarget : public sc_core::sc_module {
 public:
  // Any number of initiators; pages never move, so no DMI grant is ever invalidated.
  DirectTargetSocket<MemoryTarget, 0> socket;

  MemoryTarget(sc_core::sc_module_name name, const MemoryConfig& config, StatsRegistry& stats);

  SparseMemory& storage() { return m_memory; }
  const MemoryConfig& config() const { return m_config; }

 private:
  template <class, int>
  friend class DirectTargetSocket;
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  bool access(tlm::tlm_generic_payload& trans);

  MemoryConfig m_config;
  SparseMemory m_memory;
  Counter& m_reads;
  Counter& m_writes;
  Counter& m_bytes_read;
  Counter& m_bytes_written;
};

}  // namespace iommu_sim
