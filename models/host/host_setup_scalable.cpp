// HostSetup in scalable mode: the host software builds a scalable-mode root table, a context
// entry and PASID directory per device, and one PASID entry per (device, PASID) of every domain:
// second-level domains (PGTT 2) over the VtdTableBuilder's tables, first-level domains (PGTT 1)
// with IA-32e tables in host memory, nested domains (PGTT 3) whose first-level tables a guest
// keeps in its own memory (guest-physical pages reached through the parent domain's second
// level), and pass-through (PGTT 4). A blocked domain's devices have a context entry and no
// PASID entry.
#include "iommu_sim/host/host_setup.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace iommu_sim {

namespace fmt = vtd;

FirstLevelTables* HostSetup::first_level_tables(uint16_t domain) {
  const auto it = m_first_level.find(domain);
  return it == m_first_level.end() ? nullptr : it->second.get();
}

void HostSetup::build_scalable_tables() {
  m_scalable = std::make_unique<ScalableTables>(m_memory, [this] { return m_tables.allocate_page(); });
  uint32_t max_pasid = 0;
  for (const DomainSpec& d : m_config.domains) max_pasid = std::max(max_pasid, d.pasid);
  const unsigned pdts = fmt::pdts_for(max_pasid);

  // Second-level tables first: nested domains translate their tables' addresses through them.
  for (const DomainSpec& d : m_config.domains) {
    if (d.translation != "translate") continue;
    m_tables.create_domain(d.id, d.levels);
    for (const MappingSpec& m : d.mappings)
      m_tables.map(d.id, m.iova, m.phys, m.size, m.read, m.write, m.page);
  }
  for (const DomainSpec& d : m_config.domains) {
    PasidEntrySpec e;
    e.did = d.id;
    e.fpd = d.fault_processing_disable;
    e.sre = d.supervisor_requests;
    e.slade = d.second_level_ad;
    if (d.translation == "translate") {
      e.pgtt = fmt::Pgtt::SecondLevel;
      e.sl_root = m_tables.domain_root(d.id);
      e.sl_levels = d.levels;
    } else if (d.translation == "pass-through") {
      e.pgtt = fmt::Pgtt::PassThrough;
    } else if (d.translation == "first-level") {
      auto tables = std::make_unique<FirstLevelTables>(
          m_memory, d.first_level_levels, [this] { return m_tables.allocate_page(); },
          [](uint64_t a) { return a; });
      for (const MappingSpec& m : d.mappings) tables->map(m.iova, m.phys, m.size, m.write, m.user, m.page);
      e.pgtt = fmt::Pgtt::FirstLevel;
      e.fl_root = tables->root();
      e.fl_levels = d.first_level_levels;
      m_first_level[d.id] = std::move(tables);
    } else if (d.translation == "nested") {
      // The guest's page allocator hands out its table region a page at a time; every page is
      // written at the host physical address the parent's second level gives it.
      const uint16_t parent = d.parent;
      const auto to_host = [this, parent, id = d.id](uint64_t gpa) {
        const std::optional<uint64_t> hpa = m_tables.translate(parent, gpa);
        if (!hpa) {
          char buf[128];
          std::snprintf(buf, sizeof buf, "domain %u: guest-physical page 0x%llx is not mapped by domain %u",
                        unsigned(id), static_cast<unsigned long long>(gpa), unsigned(parent));
          throw std::invalid_argument(buf);
        }
        return *hpa;
      };
      auto next = std::make_shared<uint64_t>(d.guest_tables_base);
      const uint64_t end = d.guest_tables_base + d.guest_tables_size;
      const auto allocate = [this, next, end, to_host, id = d.id] {
        if (*next + 4096 > end)
          throw std::runtime_error("domain " + std::to_string(id) + ": guest_tables is full");
        const uint64_t gpa = *next;
        *next += 4096;
        m_memory.fill(to_host(gpa), 0, 4096);
        return gpa;
      };
      auto tables = std::make_unique<FirstLevelTables>(m_memory, d.first_level_levels, allocate, to_host);
      for (const MappingSpec& m : d.mappings) tables->map(m.iova, m.phys, m.size, m.write, m.user, m.page);
      e.pgtt = fmt::Pgtt::Nested;
      e.sl_root = m_tables.domain_root(parent);
      e.sl_levels = m_tables.domain_levels(parent);
      e.fl_root = tables->root();
      e.fl_levels = d.first_level_levels;
      m_first_level[d.id] = std::move(tables);
    }
    for (uint16_t rid : d.devices) {
      if (m_scalable->context_entry_address(rid) == 0 ||
          !get_bit(m_memory.read64(m_scalable->context_entry_address(rid)), fmt::kSmCtxPresent))
        m_scalable->set_context(rid, true, d.fault_processing_disable && d.pasid == 0, pdts);
      if (d.translation != "blocked") m_scalable->set_pasid_entry(rid, d.pasid, e);
    }
  }
}

void HostSetup::attach_functions_scalable() {
  // Each PCIe function's requests (without PASID) go through its domain's second level; a
  // function the driver enabled ATS on gets DTE, as Linux sets it (the TT=01b of legacy mode).
  for (const DiscoveredFunction& f : m_functions) {
    m_scalable->set_context(f.rid, true, false, 2, f.ats);
    PasidEntrySpec e;
    e.pgtt = fmt::Pgtt::SecondLevel;
    e.did = f.domain;
    e.sl_root = m_tables.domain_root(f.domain);
    e.sl_levels = m_tables.domain_levels(f.domain);
    m_scalable->set_pasid_entry(f.rid, 0, e);
  }
}

}  // namespace iommu_sim
