#include "iommu_sim/iommu/nested_walker.h"

#include <algorithm>

#include "iommu_sim/iommu/vtd_format_scalable.h"

namespace iommu_sim {

namespace fmt = vtd;

namespace {
constexpr uint64_t kAddrBits = bit_mask(51, 12);

// Bytes mapped by one entry of `level` (4 KiB, 2 MiB, 1 GiB, ...).
constexpr uint64_t span(unsigned level) { return fmt::level_span(level); }

// A fault of a nested walk: nothing of a second-level leaf found on the way may be cached.
WalkResult fault_only(uint8_t reason) {
  WalkResult r;
  r.fault = reason;
  return r;
}
}  // namespace

NestedWalker::NestedWalker(WalkMemory& memory, const WalkFeatures& features, const Caches& caches,
                           bool update_ad)
    : m_memory(memory), m_features(features), m_caches(caches), m_update_ad(update_ad) {}

bool NestedWalker::read_entry(uint64_t addr, uint64_t& value, unsigned level, bool first_level) {
  ++(first_level ? m_counts.first_level_reads : m_counts.second_level_reads);
  m_memory.entry_read(level);
  return m_memory.read(addr, value);
}

bool NestedWalker::write_entry(uint64_t addr, uint64_t value) {
  ++m_counts.writes;
  return m_memory.write(addr, value);
}

WalkResult NestedWalker::second_level(const SecondLevelTable& sl, uint64_t addr, bool write,
                                      const SecondLevelFaults& faults) {
  WalkResult r;
  uint64_t table = sl.root;
  bool read_ok = true, write_ok = true;
  unsigned level = sl.levels;
  const PsCacheSet& cache = m_caches.second_level;
  if (cache[0]) {
    // One probe of every level's cache in parallel; the deepest hit saves the most reads.
    for (unsigned l = 2; l <= sl.levels; ++l) {
      if (const PsEntry* p = cache[l - 2]->lookup(second_level_key(sl.did, addr, l))) {
        table = p->table;
        read_ok = p->read;
        write_ok = p->write;
        level = l - 1;
        break;
      }
    }
    m_memory.cache_probe(level == sl.levels ? 0 : level + 1);
  }
  for (;;) {
    const uint64_t slot = table + fmt::pte_index(addr, level) * 8ULL;
    uint64_t e = 0;
    if (!read_entry(slot, e, level, false)) {
      r.fault = faults.access;
      return r;
    }
    const bool rd = get_bit(e, fmt::kPteRead), wr = get_bit(e, fmt::kPteWrite);
    if (!rd && !wr) {
      r.fault = faults.not_present;
      return r;
    }
    if (e & (m_features.haw_reserved | m_features.sl_entry_reserved)) {
      r.fault = faults.reserved;
      return r;
    }
    bool leaf = level == 1;
    if (level > 1 && get_bit(e, fmt::kPteSuperpage)) {
      // PS is reserved above level 3 and where CAP.SLLPS does not offer the size; a superpage
      // frame must be aligned to its size.
      const bool offered = (level == 2 && m_features.sl_2m) || (level == 3 && m_features.sl_1g);
      if (!offered || (e & bit_mask(12 + 9 * (level - 1) - 1, 12))) {
        r.fault = faults.reserved;
        return r;
      }
      leaf = true;
    }
    read_ok = read_ok && rd;
    write_ok = write_ok && wr;
    const uint64_t next = e & kAddrBits;
    if (leaf) {
      const uint64_t bytes = span(level);
      r.have_leaf = true;
      r.phys = next | (addr & (bytes - 1));
      r.page_bytes = bytes;
      r.read = read_ok;
      r.write = write_ok;
      if (!(write ? write_ok : read_ok)) {
        r.fault = faults.denied;
        return r;
      }
      if (sl.ad) {
        uint64_t updated = set_bit(e, fmt::kSlAccessed, true);
        if (write) updated = set_bit(updated, fmt::kSlDirty, true);
        if (updated != e && m_update_ad && !write_entry(slot, updated)) {
          r.fault = faults.access;
          return r;
        }
        r.dirty = get_bit(updated, fmt::kSlDirty);
        r.write = r.write && r.dirty;
      }
      return r;
    }
    if (sl.ad && !get_bit(e, fmt::kSlAccessed) && m_update_ad &&
        !write_entry(slot, set_bit(e, fmt::kSlAccessed, true))) {
      r.fault = faults.access;
      return r;
    }
    if (cache[0])
      cache[level - 2]->insert(second_level_key(sl.did, addr, level), sl.did,
                               PsEntry{next, 0, read_ok, write_ok, true, true});
    table = next;
    --level;
  }
}

WalkResult NestedWalker::table_through(const SecondLevelTable& nest, uint64_t gpa, bool root,
                                       bool write) {
  if (nest.width < 64 && (gpa >> nest.width) != 0) return fault_only(fmt::kSmFaultNestedAddress);
  SecondLevelFaults faults;
  faults.access = fmt::kSmFaultSlAccess;
  faults.not_present = fmt::kSmFaultSlNotPresent;
  faults.reserved = fmt::kSmFaultSlReserved;
  faults.denied = write ? fmt::kSmFaultNestedTableWrite
                        : root ? fmt::kSmFaultNestedRootRead : fmt::kSmFaultNestedTableRead;
  return second_level(nest, gpa, write, faults);
}

WalkResult NestedWalker::first_level(const FirstLevelTable& fl, const SecondLevelTable* nest,
                                     uint64_t va, bool write, bool user) {
  WalkResult r;
  // The input address must be canonical: the bits above the top level's sign-extend it.
  const unsigned width = fmt::levels_to_width(fl.levels);
  const uint64_t top = va >> (width - 1);
  if (top != 0 && top != (~0ULL >> (width - 1))) {
    r.fault = fmt::kSmFaultNonCanonical;
    return r;
  }
  const PsCacheSet& cache = m_caches.first_level;
  uint64_t table = 0, table_gpa = fl.root;
  bool write_ok = true, user_ok = true;
  // Whether an accessed/dirty update may write into the current table: under nested translation
  // the second level must allow it (and, with its own A/D flags, have the page dirty already);
  // otherwise that table's translation is walked again as a write, which checks the permission
  // and sets the second level's dirty flag.
  bool table_writable = nest == nullptr;
  unsigned level = fl.levels;
  bool cached = false;
  if (cache[0]) {
    for (unsigned l = 2; l <= fl.levels; ++l) {
      if (const PsEntry* p = cache[l - 2]->lookup(first_level_key(fl.pasid, va, l), fl.did)) {
        table = p->table;
        table_gpa = p->table_gpa;
        write_ok = p->write;
        user_ok = p->user;
        table_writable = p->table_writable;
        level = l - 1;
        cached = true;
        break;
      }
    }
    m_memory.cache_probe(cached ? level + 1 : 0);
  }
  if (!cached) {
    if (nest) {
      const WalkResult t = table_through(*nest, fl.root, true, false);
      if (t.fault) return fault_only(t.fault);
      table = t.phys;
      table_writable = t.write;
    } else {
      table = fl.root;
    }
  }
  const auto update = [&](uint64_t slot, uint64_t value) -> uint8_t {
    if (!m_update_ad) return 0;
    if (!table_writable) {
      const WalkResult t = table_through(*nest, table_gpa, false, true);
      if (t.fault) return t.fault;
      table_writable = true;
    }
    return write_entry(slot, value) ? 0 : fmt::kSmFaultFlAccess;
  };
  for (;;) {
    const uint64_t slot = table + fmt::pte_index(va, level) * 8ULL;
    uint64_t e = 0;
    if (!read_entry(slot, e, level, true)) {
      r.fault = level == fl.levels ? fmt::kSmFaultFlRootAccess : fmt::kSmFaultFlAccess;
      return r;
    }
    if (!get_bit(e, fmt::kFlPresent)) {
      r.fault = fmt::kSmFaultFlNotPresent;
      return r;
    }
    const bool ps = get_bit(e, fmt::kFlPs);
    // PS is reserved in PML5 and PML4 entries, and at level 3 without FL1GP; a large page's
    // frame bits below its size (above the PAT bit 12) are reserved.
    bool reserved = (e & m_features.haw_reserved) != 0;
    if (ps && level >= 4) reserved = true;
    if (ps && level == 3 && !m_features.fl_1g) reserved = true;
    if (ps && (level == 2 || level == 3) && (e & bit_mask(12 + 9 * (level - 1) - 1, 13)))
      reserved = true;
    if (reserved) {
      r.fault = fmt::kSmFaultFlReserved;
      return r;
    }
    write_ok = write_ok && get_bit(e, fmt::kFlRw);
    user_ok = user_ok && get_bit(e, fmt::kFlUs);
    const bool leaf = level == 1 || ps;
    if (!leaf) {
      if (!get_bit(e, fmt::kFlAccessed)) {
        if (const uint8_t f = update(slot, set_bit(e, fmt::kFlAccessed, true))) {
          r.fault = f;
          return r;
        }
      }
      const uint64_t next_gpa = e & kAddrBits;
      uint64_t next = next_gpa;
      bool next_writable = true;
      if (nest) {
        const WalkResult t = table_through(*nest, next_gpa, false, false);
        if (t.fault) return fault_only(t.fault);
        next = t.phys;
        next_writable = t.write;
      }
      if (cache[0])
        cache[level - 2]->insert(first_level_key(fl.pasid, va, level), fl.did,
                                 PsEntry{next, next_gpa, true, write_ok, user_ok, next_writable});
      table = next;
      table_gpa = next_gpa;
      table_writable = next_writable;
      --level;
      continue;
    }
    // The leaf: privilege and write permission, then the accessed and dirty flags.
    if (user && !user_ok) {
      r.fault = fmt::kSmFaultUserSupervisor;
      return r;
    }
    if (write && !write_ok && (user || fl.wpe)) {
      r.fault = fmt::kSmFaultWrite;
      return r;
    }
    uint64_t updated = set_bit(e, fmt::kFlAccessed, true);
    if (write) updated = set_bit(updated, fmt::kFlDirty, true);
    if (updated != e) {
      if (const uint8_t f = update(slot, updated)) {
        r.fault = f;
        return r;
      }
    }
    const uint64_t bytes = span(level);
    const uint64_t out = ((e & kAddrBits) & ~(bytes - 1)) | (va & (bytes - 1));
    // What an IOTLB entry may keep: user permissions, writes once dirty.
    r.dirty = get_bit(updated, fmt::kFlDirty);
    r.read = user_ok;
    r.write = user_ok && write_ok && r.dirty;
    if (!nest) {
      r.have_leaf = true;
      r.phys = out;
      r.page_bytes = bytes;
      return r;
    }
    // Nested: the output is a guest physical address, translated by the second level too; the
    // combined page is the smaller of the two.
    if (nest->width < 64 && (out >> nest->width) != 0) return fault_only(fmt::kSmFaultNestedAddress);
    SecondLevelFaults faults;
    faults.access = fmt::kSmFaultSlAccess;
    faults.not_present = fmt::kSmFaultSlNotPresent;
    faults.reserved = fmt::kSmFaultSlReserved;
    faults.denied = write ? fmt::kSmFaultWrite : fmt::kSmFaultRead;
    const WalkResult s = second_level(*nest, out, write, faults);
    if (s.fault) return fault_only(s.fault);
    r.have_leaf = true;
    r.phys = s.phys;
    r.page_bytes = std::min(bytes, s.page_bytes);
    r.dirty = r.dirty && s.dirty;
    r.read = r.read && s.read;
    r.write = r.write && s.write;
    return r;
  }
}

}  // namespace iommu_sim
