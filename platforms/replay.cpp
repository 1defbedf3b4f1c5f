#include "iommu_sim/platform/replay.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "iommu_sim/common/memory_target.h"
#include "iommu_sim/common/pcie_extension.h"
#include "iommu_sim/platform/config_reader.h"
#include "iommu_sim/platform/exit_codes.h"
#include "iommu_sim/iommu/iommu.h"
#include "iommu_sim/iommu/irte.h"
#include "iommu_sim/iommu/vtd_format.h"
#include "iommu_sim/platform/platform_config.h"
#include "iommu_sim/platform/report.h"
#include "iommu_sim/iommu/vtd_format_scalable.h"

namespace iommu_sim {

namespace fmt = vtd;
using sc_core::sc_time;
using K = CaptureEvent::Kind;

namespace {

constexpr uint64_t kAddrMask = bit_mask(51, 12);

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string rid_text(uint16_t rid) {
  char b[16];
  std::snprintf(b, sizeof b, "%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1F, rid & 7);
  return b;
}

// Between the IOMMU's memory socket and memory: remembers what one request read and where its
// data access went, so that the model's answer and the entries it used can be reported.
class MemoryProbe : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryProbe> in;
  tlm_utils::simple_initiator_socket<MemoryProbe> out;

  struct Access {
    uint64_t address;
    uint64_t value;  // the first 8 bytes (table entries)
    bool write;
  };
  std::vector<Access> accesses;

  explicit MemoryProbe(sc_core::sc_module_name name) : sc_module(name), in("in"), out("out") {
    in.register_b_transport(this, &MemoryProbe::b_transport);
    in.register_transport_dbg(this, &MemoryProbe::transport_dbg);
    in.register_get_direct_mem_ptr(this, &MemoryProbe::get_direct_mem_ptr);
    out.register_invalidate_direct_mem_ptr(this, &MemoryProbe::invalidate);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
    out->b_transport(t, delay);
    uint64_t v = 0;
    std::memcpy(&v, t.get_data_ptr(), std::min<unsigned>(8, t.get_data_length()));
    accesses.push_back(Access{t.get_address(), v, t.is_write()});
  }
  unsigned transport_dbg(tlm::tlm_generic_payload& t) { return out->transport_dbg(t); }
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& t, tlm::tlm_dmi& d) {
    return out->get_direct_mem_ptr(t, d);
  }
  void invalidate(sc_dt::uint64 s, sc_dt::uint64 e) { in->invalidate_direct_mem_ptr(s, e); }
};

// The IOMMU's interrupt socket: remapped (or passed-through) MSIs and the unit's own events.
class InterruptCatcher : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<InterruptCatcher> in;
  std::vector<std::pair<uint64_t, uint32_t>> messages;

  explicit InterruptCatcher(sc_core::sc_module_name name) : sc_module(name), in("in") {
    in.register_b_transport(this, &InterruptCatcher::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& t, sc_time&) {
    uint32_t data = 0;
    std::memcpy(&data, t.get_data_ptr(), std::min<unsigned>(4, t.get_data_length()));
    messages.emplace_back(t.get_address(), data);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

// The functions below QEMU's root ports as the model's ATS invalidate requests reach them: QEMU
// completes a device-TLB invalidation as it processes the descriptor, so each completes at once;
// what was asked of which function is kept for the comparison.
class DeviceFunctions : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket_optional<DeviceFunctions> in;  // bound with device TLBs
  std::vector<std::pair<uint16_t, ats::Range>> invalidations;

  explicit DeviceFunctions(sc_core::sc_module_name name) : sc_module(name), in("in") {
    in.register_b_transport(this, &DeviceFunctions::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& t, sc_time&) {
    const PcieExtension* ext = t.get_extension<PcieExtension>();
    uint64_t body = 0;
    std::memcpy(&body, t.get_data_ptr(), std::min<unsigned>(8, t.get_data_length()));
    invalidations.emplace_back(ext ? ext->requester_id : 0, ats::decode_invalidate(body));
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

class Replayer : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Replayer);

  Replayer(sc_core::sc_module_name name, const LinuxCapture& capture, const IommuConfig& config,
           const ReplayOptions& options, StatsRegistry& stats, ReplayResult& result)
      : sc_module(name),
        regs("regs"),
        dma("dma"),
        m_capture(capture),
        m_options(options),
        m_result(result),
        m_stats(stats),
        m_memory("memory", MemoryConfig{}, stats),
        m_probe("probe"),
        m_irq("interrupts"),
        m_functions("functions"),
        m_iommu("iommu", config, stats),
        m_dmas(stats.counter(std::string(this->name()) + ".replay.dmas")),
        m_bytes(stats.counter(std::string(this->name()) + ".replay.bytes")),
        m_errors(stats.counter(std::string(this->name()) + ".replay.errors")),
        m_latency(stats.histogram(std::string(this->name()) + ".replay.latency", "ps")) {
    regs.bind(m_iommu.regs);
    dma.bind(m_iommu.upstream);
    m_iommu.memory.bind(m_probe.in);
    m_probe.out.bind(m_memory.socket);
    m_iommu.interrupt.bind(m_irq.in);
    if (config.device_tlbs) m_iommu.ats_invalidation.bind(m_functions.in);
    for (const auto& [addr, page] : capture.pages) m_memory.storage().write(addr, page.data(), page.size());
    SC_THREAD(run);
  }

  tlm_utils::simple_initiator_socket<Replayer> regs;
  tlm_utils::simple_initiator_socket<Replayer> dma;
  Iommu& iommu() { return m_iommu; }
  const DeviceFunctions& functions() const { return m_functions; }
  std::string engine_name() const { return std::string(name()) + ".replay"; }
  sc_time end_time() const { return m_end; }

 private:
  struct Pending {
    bool valid = false;
    CaptureEvent e;
  };

  void run();
  void wait_for(const CaptureEvent& e);
  void reg_write(size_t i);
  void translation(const CaptureEvent& t, const Pending& leaf, const Pending& ctx);
  void dma_fault(const CaptureEvent& f);
  void msi(const CaptureEvent& out, const Pending& req, const Pending& irte);
  // The model's answer to a DMA: response and the physical address its data access went to.
  tlm::tlm_response_status issue(uint16_t rid, uint64_t address, bool write, uint32_t data,
                                 uint64_t& phys);
  // Where the model reads sid's context entry (scalable mode: the lower or upper context table
  // of 256-bit entries), 0 if the root entry leads nowhere.
  uint64_t context_entry_address(uint16_t sid);
  // The second-level table sid's requests without PASID go through: legacy, the context entry's;
  // scalable mode, the PASID entry of RID_PASID's. False if there is none (pass-through: true,
  // with pass_through set).
  bool second_level_of(uint16_t sid, uint64_t& table, unsigned& levels, bool& pass_through);
  bool scalable() { return get_bits(m_iommu.peek_register(fmt::kRegRtaddr, 8), fmt::kRtaddrTtmHi, fmt::kRtaddrTtmLo) != 0; }
  // Puts back the context entry QEMU used (its low 128 bits); false if the root entry leads nowhere.
  bool restore_context(uint16_t sid, uint64_t lo, uint64_t hi, bool& restored);
  // Puts back the leaf entry QEMU used; false if the path to it is gone from the snapshot.
  bool restore_leaf(uint16_t sid, uint64_t iova, uint64_t slpte, unsigned level, bool& restored);
  // Faults by reason so far (index = reason): which one a DMA raised, recorded or not.
  std::vector<double> fault_counts() const {
    std::vector<double> v(fmt::kMaxScalableFaultReason + 1, 0.0);
    for (unsigned r = 1; r <= fmt::kMaxScalableFaultReason; ++r) {
      char n[64];
      std::snprintf(n, sizeof n, "%s.faults.reason_0x%X", m_iommu.name(), r);
      if (m_stats.has(n)) v[r] = m_stats.value(n);
    }
    return v;
  }
  uint64_t read64(uint64_t a) { return m_memory.storage().read64(a); }
  void write64(uint64_t a, uint64_t v) { m_memory.storage().write64(a, v); }
  void mismatch(const char* what, uint16_t rid, uint64_t addr, std::string qemu, std::string model,
                unsigned line);

  const LinuxCapture& m_capture;
  const ReplayOptions& m_options;
  ReplayResult& m_result;
  StatsRegistry& m_stats;
  MemoryTarget m_memory;
  MemoryProbe m_probe;
  InterruptCatcher m_irq;
  DeviceFunctions m_functions;
  Iommu m_iommu;
  Counter& m_dmas;
  Counter& m_bytes;
  Counter& m_errors;
  Histogram& m_latency;
  double m_t0 = 0;
  sc_time m_end;
  unsigned m_last_reason = 0;  // the fault reason of the last DMA, 0 if none
};

void Replayer::wait_for(const CaptureEvent& e) {
  const double due = (e.time_s - m_t0) * m_options.time_scale;
  const double now = sc_core::sc_time_stamp().to_seconds();
  if (due > now) sc_core::wait(sc_time(due - now, sc_core::SC_SEC));
}

void Replayer::run() {
  const auto& ev = m_capture.events;
  if (!ev.empty()) m_t0 = ev.front().time_s;
  Pending leaf, ctx, req, irte;
  for (size_t i = 0; i < ev.size(); ++i) {
    const CaptureEvent& e = ev[i];
    wait_for(e);
    switch (e.kind) {
      case K::RegWrite:
        reg_write(i);
        break;
      case K::InvDesc:
        ++m_result.descriptors;
        break;
      case K::ContextEntry:
        ctx = Pending{true, e};
        break;
      case K::Leaf:
        leaf = Pending{true, e};
        break;
      case K::Translate:
        translation(e, leaf, ctx);
        leaf.valid = ctx.valid = false;
        break;
      case K::DmaFault:
        dma_fault(e);
        leaf.valid = ctx.valid = false;
        break;
      case K::FaultDisabled:
        ++m_result.faults.total;
        ++m_result.faults.not_comparable;  // QEMU names neither requester nor address
        leaf.valid = ctx.valid = false;
        break;
      case K::MsiRequest:
        req = Pending{true, e};
        irte.valid = false;
        break;
      case K::IrteRead:
        irte = Pending{true, e};
        break;
      case K::MsiRemapped:
        msi(e, req, irte);
        req.valid = irte.valid = false;
        break;
    }
  }
  m_end = sc_core::sc_time_stamp();
  sc_core::sc_stop();
}

void Replayer::reg_write(size_t i) {
  const CaptureEvent& e = m_capture.events[i];
  ++m_result.register_writes;
  if ((e.a & ~7ULL) == fmt::kRegIqt && !(e.a & 4)) {
    // QEMU fetched the descriptors between IQH and the new tail while handling this write and
    // traced each one: put them into the queue (the snapshot holds only its last contents).
    const uint64_t iqa = m_iommu.peek_register(fmt::kRegIqa, 8);
    const uint64_t base = iqa & fmt::kTableAddrMask;
    const uint64_t bytes = 4096ULL << get_bits(iqa, fmt::kIqaQsHi, fmt::kIqaQsLo);
    // 256-bit descriptors (IQA.DW): QEMU traces the low 128 bits; the rest is reserved, zero.
    const unsigned slot = get_bit(iqa, fmt::kIqaDw) ? 32 : 16;
    uint64_t head = m_iommu.peek_register(fmt::kRegIqh, 8);
    for (size_t j = i + 1; j < m_capture.events.size() && m_capture.events[j].kind == K::InvDesc; ++j) {
      write64(base + head, m_capture.events[j].a);
      write64(base + head + 8, m_capture.events[j].b);
      for (unsigned q = 16; q < slot; q += 8) write64(base + head + q, 0);
      head = (head + slot) % bytes;
    }
  }
  uint8_t data[8];
  std::memcpy(data, &e.c, 8);
  tlm::tlm_generic_payload p;
  p.set_command(tlm::TLM_WRITE_COMMAND);
  p.set_address(e.a);
  p.set_data_ptr(data);
  p.set_data_length(static_cast<unsigned>(e.b));
  p.set_streaming_width(static_cast<unsigned>(e.b));
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_time d = sc_core::SC_ZERO_TIME;
  regs->b_transport(p, d);
}

tlm::tlm_response_status Replayer::issue(uint16_t rid, uint64_t address, bool write, uint32_t data,
                                         uint64_t& phys) {
  tlm::tlm_generic_payload p;
  PcieExtension ext(rid);
  uint32_t buf = write ? data : 0;
  p.set_extension(&ext);
  p.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  p.set_address(address);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&buf));
  p.set_data_length(4);
  p.set_streaming_width(4);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  m_probe.accesses.clear();
  m_irq.messages.clear();
  const std::vector<double> before = fault_counts();
  sc_time d = sc_core::SC_ZERO_TIME;
  dma->b_transport(p, d);
  const std::vector<double> after = fault_counts();
  m_last_reason = 0;
  for (unsigned r = 1; r < after.size(); ++r)
    if (after[r] > before[r]) m_last_reason = r;
  p.clear_extension(&ext);
  m_dmas.inc();
  m_bytes.inc(4);
  m_latency.add(static_cast<uint64_t>(d.to_seconds() * 1e12 + 0.5));
  if (p.is_response_error()) m_errors.inc();
  phys = m_probe.accesses.empty() ? ~0ULL : m_probe.accesses.back().address;
  return p.get_response_status();
}

uint64_t Replayer::context_entry_address(uint16_t sid) {
  const uint64_t root = m_iommu.peek_register(fmt::kRegRtaddr, 8) & fmt::kTableAddrMask;
  const uint8_t devfn = sid & 0xFF;
  if (!scalable()) {
    const uint64_t re = read64(root + 16ULL * (sid >> 8));
    return get_bit(re, fmt::kEntryPresent) ? (re & kAddrMask) + 16ULL * devfn : 0;
  }
  const uint64_t re = read64(root + 16ULL * (sid >> 8) + 8 * (devfn >> 7));
  return get_bit(re, fmt::kSmRootPresent) ? (re & kAddrMask) + uint64_t(fmt::kSmContextBytes) * (devfn & 0x7F) : 0;
}

bool Replayer::second_level_of(uint16_t sid, uint64_t& table, unsigned& levels, bool& pass_through) {
  const uint64_t ce = context_entry_address(sid);
  if (ce == 0) return false;
  const uint64_t lo = read64(ce), hi = read64(ce + 8);
  pass_through = false;
  if (!scalable()) {
    pass_through = get_bits(lo, fmt::kCtxTtHi, fmt::kCtxTtLo) ==
                   static_cast<uint64_t>(fmt::TranslationType::PassThrough);
    table = lo & kAddrMask;
    levels = fmt::aw_to_levels(static_cast<unsigned>(get_bits(hi, fmt::kCtxAwHi, fmt::kCtxAwLo)));
    return get_bit(lo, fmt::kEntryPresent);
  }
  // Scalable mode: RID_PASID's PASID entry.
  const auto pasid = static_cast<uint32_t>(get_bits(hi, fmt::kSmCtxRidPasidHi, fmt::kSmCtxRidPasidLo));
  const uint64_t dir = read64((lo & kAddrMask) + 8 * fmt::pasid_dir_index(pasid));
  if (!get_bit(lo, fmt::kSmCtxPresent) || !get_bit(dir, fmt::kPasidDirPresent)) return false;
  const uint64_t pe = read64((dir & kAddrMask) + fmt::kPasidEntryBytes * fmt::pasid_table_index(pasid));
  if (!get_bit(pe, fmt::kPePresent)) return false;
  const auto pgtt = static_cast<fmt::Pgtt>(get_bits(pe, fmt::kPePgttHi, fmt::kPePgttLo));
  pass_through = pgtt == fmt::Pgtt::PassThrough;
  table = pe & kAddrMask;
  levels = fmt::aw_to_levels(static_cast<unsigned>(get_bits(pe, fmt::kPeAwHi, fmt::kPeAwLo)));
  return pass_through || pgtt == fmt::Pgtt::SecondLevel;
}

bool Replayer::restore_context(uint16_t sid, uint64_t lo, uint64_t hi, bool& restored) {
  const uint64_t ce = context_entry_address(sid);
  if (ce == 0) return false;
  if (read64(ce) != lo || read64(ce + 8) != hi) {
    write64(ce, lo);
    write64(ce + 8, hi);
    restored = true;
  }
  return true;
}

bool Replayer::restore_leaf(uint16_t sid, uint64_t iova, uint64_t slpte, unsigned leaf_level,
                            bool& restored) {
  uint64_t table = 0;
  unsigned levels = 0;
  bool pass_through = false;
  if (!second_level_of(sid, table, levels, pass_through) || pass_through) return false;
  for (unsigned l = levels; l > leaf_level; --l) {
    const uint64_t e = read64(table + 8ULL * fmt::pte_index(iova, l));
    if (!(e & 3) || get_bit(e, fmt::kPteSuperpage)) return false;
    table = e & kAddrMask;
  }
  const uint64_t slot = table + 8ULL * fmt::pte_index(iova, leaf_level);
  if (read64(slot) != slpte) {
    write64(slot, slpte);
    restored = true;
  }
  return true;
}

void Replayer::mismatch(const char* what, uint16_t rid, uint64_t addr, std::string qemu,
                        std::string model, unsigned line) {
  ReplayMismatch m;
  m.what = what;
  m.requester = rid;
  m.address = addr;
  m.qemu = std::move(qemu);
  m.model = std::move(model);
  m.trace_line = line;
  for (const auto& a : m_probe.accesses)
    if (!a.write) m.entries.emplace_back(a.address, a.value);
  if (!m.entries.empty()) m.entries.pop_back();  // the last read is the data access itself
  m_result.mismatches.push_back(std::move(m));
}

unsigned level_of_mask(uint64_t mask) {
  unsigned level = 1;
  while (level < 5 && mask >= fmt::level_span(level + 1) - 1) ++level;
  return level;
}

void Replayer::translation(const CaptureEvent& t, const Pending& leaf, const Pending& ctx) {
  ReplayCounts& c = m_result.translations;
  ++c.total;
  bool comparable = true, restored = false;
  bool write = false;
  if (ctx.valid && ctx.e.sid == t.sid)
    comparable = restore_context(t.sid, ctx.e.a, ctx.e.b, restored);
  const unsigned level = level_of_mask(t.c);
  if (comparable && leaf.valid && leaf.e.sid == t.sid &&
      (leaf.e.a & ~(fmt::level_span(level) - 1)) == (t.a & ~t.c)) {
    comparable = restore_leaf(t.sid, t.a, leaf.e.b, level, restored);
    // QEMU's trace gives no direction: take one the leaf allows (Linux maps DMA_FROM_DEVICE
    // buffers write-only).
    write = !get_bit(leaf.e.b, fmt::kPteRead);
  } else if (comparable) {
    // No leaf event: a pass-through context (or PASID entry) translates without one.
    uint64_t table = 0;
    unsigned levels = 0;
    bool pass_through = false;
    comparable = second_level_of(t.sid, table, levels, pass_through) && pass_through;
  }
  uint64_t phys = 0;
  const tlm::tlm_response_status r = issue(t.sid, t.a, write, 0, phys);
  if (!comparable) {
    ++c.not_comparable;
    return;
  }
  const bool agree = r == tlm::TLM_OK_RESPONSE && phys == t.b;
  (restored ? c.compared_restored : c.compared_final)++;
  if (agree) {
    (restored ? c.agreed_restored : c.agreed_final)++;
    return;
  }
  const std::string model = r == tlm::TLM_OK_RESPONSE ? "phys " + hex(phys) : "fault " + hex(m_last_reason);
  mismatch("translation", t.sid, t.a, "gpa " + hex(t.b) + " mask " + hex(t.c) + (restored ? " (entries restored)" : ""),
           model, t.line);
}

void Replayer::dma_fault(const CaptureEvent& f) {
  ReplayCounts& c = m_result.faults;
  ++c.total;
  uint64_t phys = 0;
  const tlm::tlm_response_status r = issue(f.sid, f.a, f.write, 0, phys);
  ++c.compared_final;
  if (r != tlm::TLM_OK_RESPONSE && m_last_reason == f.b) {
    ++c.agreed_final;
    return;
  }
  mismatch("fault", f.sid, f.a, "fault " + hex(f.b),
           r == tlm::TLM_OK_RESPONSE ? "phys " + hex(phys) : "fault " + hex(m_last_reason), f.line);
}

void Replayer::msi(const CaptureEvent& out, const Pending& req, const Pending& irte) {
  ReplayCounts& c = m_result.msis;
  ++c.total;
  bool restored = false;
  uint16_t rid = 0;
  if (irte.valid) {
    // The entry QEMU read, put back where the model reads it.
    const uint64_t irta = m_iommu.irta();
    const uint64_t slot = (irta & fmt::kTableAddrMask) + 16 * irte.e.a;
    if (read64(slot) != irte.e.b || read64(slot + 8) != irte.e.c) {
      write64(slot, irte.e.b);
      write64(slot + 8, irte.e.c);
      restored = true;
    }
    // QEMU's trace has no requester ID for an MSI: send it as the requester the entry names.
    const uint64_t hi = irte.e.c;
    const auto svt = get_bits(hi, irte::kSvtHi, irte::kSvtLo);
    const auto sid = static_cast<uint16_t>(get_bits(hi, irte::kSidHi, irte::kSidLo));
    rid = svt == 2 ? static_cast<uint16_t>(sid & 0xFF00) : sid;
    ++m_result.msis_remapped;
  } else {
    ++m_result.msis_passed;
  }
  const uint64_t address = req.valid ? req.e.a : out.a;
  const uint32_t data = static_cast<uint32_t>(req.valid ? req.e.b : out.b);
  uint64_t phys = 0;
  const tlm::tlm_response_status r = issue(rid, address, true, data, phys);
  (restored ? c.compared_restored : c.compared_final)++;
  const bool agree = r == tlm::TLM_OK_RESPONSE && m_irq.messages.size() == 1 &&
                     (m_irq.messages[0].first & 0xFFFFFFFFULL) == (out.c & 0xFFFFFFFFULL) &&
                     m_irq.messages[0].second == static_cast<uint32_t>(out.d);
  if (agree) {
    (restored ? c.agreed_restored : c.agreed_final)++;
    return;
  }
  std::string model = r != tlm::TLM_OK_RESPONSE ? "blocked"
                      : m_irq.messages.empty() ? "no message"
                      : "addr " + hex(m_irq.messages[0].first) + " data " + hex(m_irq.messages[0].second);
  mismatch("MSI", rid, address, "addr " + hex(out.c) + " data " + hex(out.d), model, out.line);
}

struct RegisterSpec {
  const char* name;
  uint64_t offset;
  unsigned size;
};
// The registers Linux 6.1's intel-iommu driver reads (dmar.c, iommu.c, irq_remapping.c).
const RegisterSpec kLinuxReads[] = {
    {"VER", fmt::kRegVer, 4},     {"CAP", fmt::kRegCap, 8},     {"ECAP", fmt::kRegEcap, 8},
    {"GSTS", fmt::kRegGsts, 4},   {"RTADDR", fmt::kRegRtaddr, 8}, {"FSTS", fmt::kRegFsts, 4},
    {"FECTL", fmt::kRegFectl, 4}, {"FEDATA", fmt::kRegFedata, 4}, {"FEADDR", fmt::kRegFeaddr, 4},
    {"FEUADDR", fmt::kRegFeuaddr, 4}, {"IQH", fmt::kRegIqh, 8},  {"IQT", fmt::kRegIqt, 8},
    {"IQA", fmt::kRegIqa, 8},     {"ICS", fmt::kRegIcs, 4},     {"IQER", fmt::kRegIqer, 8},
    {"IRTA", fmt::kRegIrta, 8},
};

// Every device-TLB invalidation descriptor Linux queued must have reached its function as an
// invalidate request for the range QEMU decodes from it (QEMU: 8 KiB << the ones above bit 11
// of the address when S is set), in order.
void check_device_tlb_invalidations(const LinuxCapture& cap, const DeviceFunctions& functions,
                                    ReplayResult& result) {
  size_t n = 0;
  for (const CaptureEvent& e : cap.events) {
    if (e.kind != K::InvDesc || e.text != "device") continue;
    ++result.devtlb_invalidations.total;
    const uint16_t sid = static_cast<uint16_t>(get_bits(e.a, fmt::kDescDevTlbSidHi, fmt::kDescDevTlbSidLo));
    uint64_t addr = e.b & fmt::kTableAddrMask, bytes = 4096;
    if (e.b & 1) {
      unsigned ones = 0;
      while (ones < 52 && ((addr >> (12 + ones)) & 1)) ++ones;
      bytes = ones >= 51 ? 0 : 8192ULL << ones;  // 0: every address
      addr = bytes ? addr & ~(bytes - 1) : 0;
    }
    ++result.devtlb_invalidations.compared_final;
    if (n < functions.invalidations.size()) {
      const auto& [rid, range] = functions.invalidations[n];
      if (rid == sid && range.base == addr && range.bytes() == bytes) {
        ++result.devtlb_invalidations.agreed_final;
      } else {
        ReplayMismatch m;
        m.what = "device-TLB invalidation";
        m.requester = sid;
        m.address = addr;
        m.qemu = "range of " + std::to_string(bytes) + " bytes";
        m.model = rid_text(rid) + " " + hex(range.base) + ", " + std::to_string(range.bytes()) + " bytes";
        m.trace_line = e.line;
        result.mismatches.push_back(m);
      }
    } else {
      ReplayMismatch m;
      m.what = "device-TLB invalidation";
      m.requester = sid;
      m.address = addr;
      m.qemu = "delivered";
      m.model = "never sent";
      m.trace_line = e.line;
      result.mismatches.push_back(m);
    }
    ++n;
  }
}

void check_registers(const LinuxCapture& cap, Iommu& iommu, ReplayResult& result) {
  for (const RegisterSpec& r : kLinuxReads) {
    RegisterCheck c;
    c.name = r.name;
    c.offset = r.offset;
    c.size = r.size;
    c.qemu = r.size == 8 ? cap.reg(r.offset) : cap.reg32(r.offset);
    c.model = iommu.peek_register(r.offset, r.size);
    // Scalable mode: QEMU 7.2 reports version 1.0 (scalable mode came with 3.0), and reads IQA
    // back without DW (its vtd_mem_read keeps QS only; later QEMU keeps DW).
    if (r.offset == fmt::kRegVer && c.qemu == fmt::kVersion && c.model == fmt::kVersionScalable)
      c.qemu_deviation = "QEMU 7.2 reports version 1.0 with scalable mode offered";
    if (r.offset == fmt::kRegIqa && get_bit(c.model, fmt::kIqaDw) && c.qemu == set_bit(c.model, fmt::kIqaDw, false))
      c.qemu_deviation = "QEMU 7.2 reads IQA.DW back as 0";
    result.registers.push_back(c);
  }
  // Linux reads fault records from CAP.FRO.
  const uint64_t frcd = 16 * get_bits(cap.reg(fmt::kRegCap), fmt::kCapFroHi, fmt::kCapFroLo);
  const unsigned records = static_cast<unsigned>(get_bits(cap.reg(fmt::kRegCap), fmt::kCapNfrHi, fmt::kCapNfrLo)) + 1;
  for (unsigned i = 0; i < records; ++i) {
    RegisterCheck c;
    c.name = "FRCD" + std::to_string(i) + ".hi";
    c.offset = frcd + 16 * i + 8;
    c.size = 8;
    c.qemu = cap.reg(c.offset);
    c.model = iommu.peek_register(c.offset, 8);
    result.registers.push_back(c);
  }
}

// Which named fields of CAP/ECAP the model reports differently from QEMU.
std::string capability_differences(uint64_t qcap, uint64_t qecap, uint64_t mcap, uint64_t mecap) {
  struct Field {
    const char* name;
    bool ecap;
    unsigned hi, lo;
  };
  static const Field fields[] = {
      {"CAP.ND", false, 2, 0},     {"CAP.AFL", false, 3, 3},      {"CAP.RWBF", false, 4, 4},
      {"CAP.PLMR", false, 5, 5},   {"CAP.PHMR", false, 6, 6},     {"CAP.CM", false, 7, 7},
      {"CAP.SAGAW", false, 12, 8}, {"CAP.MGAW", false, 21, 16},   {"CAP.ZLR", false, 22, 22},
      {"CAP.FRO", false, 33, 24},  {"CAP.SLLPS", false, 37, 34},  {"CAP.PSI", false, 39, 39},
      {"CAP.NFR", false, 47, 40},  {"CAP.MAMV", false, 53, 48},   {"CAP.DWD", false, 54, 54},
      {"CAP.DRD", false, 55, 55},  {"CAP.PI", false, 59, 59},     {"ECAP.C", true, 0, 0},
      {"ECAP.QI", true, 1, 1},     {"ECAP.DT", true, 2, 2},       {"ECAP.IR", true, 3, 3},
      {"ECAP.EIM", true, 4, 4},    {"ECAP.PT", true, 6, 6},       {"ECAP.SC", true, 7, 7},
      {"ECAP.IRO", true, 17, 8},   {"ECAP.MHMV", true, 23, 20},   {"ECAP.NEST", true, 26, 26},
      {"ECAP.PRS", true, 29, 29},  {"ECAP.ERS", true, 30, 30},    {"ECAP.SRS", true, 31, 31},
      {"ECAP.PSS", true, 39, 35},  {"ECAP.PASID", true, 40, 40},  {"ECAP.SMTS", true, 43, 43},
      {"ECAP.SLADS", true, 45, 45}, {"ECAP.SLTS", true, 46, 46},  {"ECAP.FLTS", true, 47, 47},
      {"ECAP.SMPWC", true, 48, 48}, {"CAP.FL1GP", false, 56, 56}, {"CAP.FL5LP", false, 60, 60},
  };
  std::string out;
  for (const Field& f : fields) {
    const uint64_t q = get_bits(f.ecap ? qecap : qcap, f.hi, f.lo);
    const uint64_t m = get_bits(f.ecap ? mecap : mcap, f.hi, f.lo);
    if (q != m) out += std::string(out.empty() ? "" : ", ") + f.name + " " + std::to_string(m) +
                       " (QEMU " + std::to_string(q) + ")";
  }
  return out;
}

std::string percent(uint64_t n, uint64_t d) {
  char b[16];
  std::snprintf(b, sizeof b, "%.1f%%", d ? 100.0 * static_cast<double>(n) / static_cast<double>(d) : 0.0);
  return b;
}

void print_counts(std::ostream& os, const char* label, const ReplayCounts& c) {
  os << "  " << std::left << std::setw(21) << label << c.total << " in the trace: compared " << c.compared()
     << " (" << percent(c.compared(), c.total) << "), agreed " << c.agreed() << ", disagreed "
     << c.disagreed() << ", not comparable " << c.not_comparable << "\n";
  if (c.compared_restored)
    os << "    " << std::setw(19) << "" << "on the final tables " << c.compared_final << " (agreed "
       << c.agreed_final << "); changed after the access, compared on the entries QEMU read "
       << c.compared_restored << " (agreed " << c.agreed_restored << ")\n";
}

void print_replay_report(std::ostream& os, const LinuxCapture& cap, const ReplayResult& r,
                         const IommuConfig& config, const StatsRegistry& stats, unsigned max_details) {
  os << "iommu-sim replay: " << cap.dir << "\n";
  os << "  capture              Linux " << cap.get("kernel", "?") << ", " << cap.get("device", "?")
     << ", iommu.strict=" << cap.get("strict", "?") << (cap.get("scalable", "0") == "1" ? ", scalable mode" : "")
     << ", " << cap.get("qemu", "QEMU") << "\n";
  os << "  capabilities         CAP " << hex(cap.reg(fmt::kRegCap)) << " ECAP " << hex(cap.reg(fmt::kRegEcap))
     << (r.capabilities_note.empty() ? ": the model reports the same"
                                     : ": the model differs in " + r.capabilities_note)
     << "\n";
  os << "  register writes      " << r.register_writes << " (" << r.descriptors
     << " invalidation descriptors)\n";
  print_counts(os, "translations", r.translations);
  print_counts(os, "DMA faults", r.faults);
  print_counts(os, "MSIs", r.msis);
  os << "    " << std::setw(19) << "" << "remapped " << r.msis_remapped << ", passed through (remapping off) "
     << r.msis_passed << "\n";
  if (r.devtlb_invalidations.total)
    print_counts(os, "device-TLB inval.", r.devtlb_invalidations);
  unsigned same = 0, deviations = 0;
  std::string differ;
  for (const RegisterCheck& c : r.registers) {
    if (c.equal()) {
      ++same;
    } else {
      deviations += c.qemu_deviation.empty() ? 0 : 1;
      differ += "\n    " + c.name + " model " + hex(c.model) + ", QEMU " + hex(c.qemu) +
                (c.qemu_deviation.empty() ? "" : " (" + c.qemu_deviation + ")");
    }
  }
  os << "  registers            " << same << " of " << r.registers.size()
     << " Linux reads are equal to QEMU's at the end"
     << (deviations ? ", " + std::to_string(deviations) + " more where QEMU departs from the specification" : "")
     << differ << "\n";
  os << "  guest map/unmap      " << r.guest_maps << " map, " << r.guest_unmaps << " unmap events\n";
  const double lookups = stats.has("platform.iommu.iotlb.lookups") ? stats.value("platform.iommu.iotlb.lookups") : 0;
  const double hits = stats.has("platform.iommu.iotlb.hits") ? stats.value("platform.iommu.iotlb.hits") : 0;
  os << "  IOTLB                " << config.iotlb.sets << " sets x " << config.iotlb.ways << " ways, "
     << to_string(config.iotlb.policy) << ": hit rate " << percent(static_cast<uint64_t>(hits), static_cast<uint64_t>(lookups))
     << " of " << static_cast<uint64_t>(lookups) << " lookups\n";
  os << "  simulated time       " << std::fixed << std::setprecision(3) << r.simulated_s << " s\n";
  unsigned n = 0;
  for (const ReplayMismatch& m : r.mismatches) {
    if (n++ == max_details) {
      os << "  ... " << (r.mismatches.size() - max_details) << " more disagreements\n";
      break;
    }
    os << "  DISAGREE " << m.what << " (qemu-vtd.trace:" << m.trace_line << ") requester "
       << rid_text(m.requester) << " address " << hex(m.address) << ": QEMU " << m.qemu << ", model "
       << m.model << "\n";
    for (const auto& [a, v] : m.entries) os << "      model read " << hex(a) << " = " << hex(v) << "\n";
  }
}

}  // namespace

IommuConfig iommu_config_from_capabilities(uint64_t cap, uint64_t ecap, const IommuConfig& base) {
  IommuConfig c = base;
  c.address_width = static_cast<unsigned>(get_bits(cap, fmt::kCapMgawHi, fmt::kCapMgawLo)) + 1;
  // QEMU's DMAR table gives the host address width as its aw-bits too.
  c.host_address_width = std::max(32u, std::min(52u, c.address_width));
  c.supported_levels.clear();
  const unsigned sagaw = static_cast<unsigned>(get_bits(cap, fmt::kCapSagawHi, fmt::kCapSagawLo));
  for (unsigned aw = 1; aw <= 3; ++aw)
    if ((sagaw >> aw) & 1) c.supported_levels.push_back(fmt::aw_to_levels(aw));
  if (c.supported_levels.empty())
    throw CaptureError("CAP " + hex(cap) + ": SAGAW offers no 3-, 4- or 5-level tables");
  c.superpages_2m = get_bit(cap, fmt::kCapSllps2M);
  c.superpages_1g = get_bit(cap, fmt::kCapSllps1G);
  c.domain_bits_nd = static_cast<unsigned>(get_bits(cap, fmt::kCapNdHi, fmt::kCapNdLo));
  c.fault_records = static_cast<unsigned>(get_bits(cap, fmt::kCapNfrHi, fmt::kCapNfrLo)) + 1;
  c.page_selective = get_bit(cap, fmt::kCapPsi);
  c.mamv = static_cast<unsigned>(get_bits(cap, fmt::kCapMamvHi, fmt::kCapMamvLo));
  c.posted_interrupts = get_bit(cap, fmt::kCapPi);
  c.queued_invalidation = get_bit(ecap, fmt::kEcapQi);
  c.interrupt_remapping = get_bit(ecap, fmt::kEcapIr);
  c.x2apic = get_bit(ecap, fmt::kEcapEim);
  c.pass_through = get_bit(ecap, fmt::kEcapPt);
  c.coherent = get_bit(ecap, fmt::kEcapC);
  if (get_bits(cap, fmt::kCapFroHi, fmt::kCapFroLo) != fmt::kFro ||
      get_bits(ecap, fmt::kEcapIroHi, fmt::kEcapIroLo) != fmt::kIro)
    throw CaptureError("CAP/ECAP: the fault-recording (FRO) or IOTLB (IRO) registers are not where "
                       "the model has them (0x220, 0xF0)");
  c.device_tlbs = get_bit(ecap, fmt::kEcapDt);
  // Scalable mode as QEMU offers it (x-scalable-mode=on: second-level translation, supervisor
  // requests).
  ScalableConfig& s = c.scalable;
  s.enabled = get_bit(ecap, fmt::kEcapSmts);
  s.first_level = get_bit(ecap, fmt::kEcapFlts);
  s.second_level = get_bit(ecap, fmt::kEcapSlts);
  s.nested = get_bit(ecap, fmt::kEcapNest);
  s.pasid = get_bit(ecap, fmt::kEcapPasid);
  if (s.pasid) s.pasid_bits = static_cast<unsigned>(get_bits(ecap, fmt::kEcapPssHi, fmt::kEcapPssLo)) + 1;
  s.supervisor_requests = get_bit(ecap, fmt::kEcapSrs);
  s.second_level_ad = get_bit(ecap, fmt::kEcapSlads);
  s.first_level_1g = get_bit(cap, fmt::kCapFl1gp);
  s.first_level_5level = get_bit(cap, fmt::kCapFl5lp);
  const std::string err = validate_iommu_config(c);
  if (!err.empty()) throw CaptureError("CAP/ECAP give a configuration the model rejects: " + err);
  return c;
}

ReplayResult replay_capture(const LinuxCapture& capture, const IommuConfig& config,
                            const ReplayOptions& options, StatsRegistry& stats) {
  ReplayResult result;
  for (const GuestMapEvent& g : capture.guest) (g.map ? result.guest_maps : result.guest_unmaps)++;
  auto model = std::make_shared<Replayer>("platform", capture, config, options, stats, result);
  result.model = model;
  Replayer& replayer = *model;
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_start();
  replayer.iommu().flush_trace();
  result.simulated_s = replayer.end_time().to_seconds();
  check_registers(capture, replayer.iommu(), result);
  check_device_tlb_invalidations(capture, replayer.functions(), result);
  result.capabilities_note = capability_differences(capture.reg(fmt::kRegCap), capture.reg(fmt::kRegEcap),
                                                    replayer.iommu().peek_register(fmt::kRegCap, 8),
                                                    replayer.iommu().peek_register(fmt::kRegEcap, 8));
  PlatformOutcome outcome;
  outcome.workloads_done = true;
  outcome.end_time = replayer.end_time();
  register_summary(stats, "platform.iommu", {replayer.engine_name()}, outcome);
  return result;
}

bool run_args_name_capture(const std::vector<std::string>& run_args) {
  for (size_t i = 0; i < run_args.size(); ++i) {
    const std::string& a = run_args[i];
    if (a == "--set" || a == "--stats" || a == "--waves" || a == "--iotlb-trace" || a == "--devtlb-trace" ||
        a == "--trace-format" || a == "--trace-ops") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    return is_linux_capture(a);
  }
  return false;
}

int replay_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  static const char* kUsage =
      "usage: iommu-sim replay CAPTURE [options]   replay a capture of Linux under QEMU's VT-d\n"
      "                                            (tools/linux-capture/) and compare with QEMU\n"
      "options:\n"
      "  --set KEY=VALUE     the model's caches and latencies (iommu.iotlb.sets=64, ...); the\n"
      "                      capabilities come from the capture\n"
      "  --stats FILE.json   every statistic as JSON (and FILE.config.yaml)\n"
      "  --iotlb-trace FILE  the IOTLB access stream (for one-pass sweeps)\n"
      "  --trace-format F    text (default) or binary (docs/iotlb.md)\n"
      "  --trace-ops all|accesses  every operation (default), or the accesses and invalidations\n"
      "  --time-scale X      simulated seconds per captured second (default 1)\n"
      "  --details N         disagreements printed in full (default 20)\n"
      "  --quiet             print nothing but errors and disagreements\n";
  ReplayOptions o;
  std::string capture_path;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&](const std::string& flag) -> std::string {
        const auto eq = a.find('=');
        if (a.rfind(flag + "=", 0) == 0) return a.substr(eq + 1);
        if (i + 1 >= args.size()) throw ConfigError(flag + " needs a value");
        return args[++i];
      };
      auto is = [&](const std::string& flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
      if (a == "--help" || a == "-h") {
        out << kUsage;
        return kExitOk;
      } else if (is("--set")) {
        o.sets.push_back(value("--set"));
      } else if (is("--stats")) {
        o.stats_path = value("--stats");
      } else if (is("--iotlb-trace")) {
        o.iotlb_trace_path = value("--iotlb-trace");
      } else if (is("--trace-format")) {
        const std::string v = value("--trace-format");
        if (!parse_iotlb_trace_format(v, o.trace_style.format))
          throw ConfigError("--trace-format " + v + ": accepted are text and binary");
      } else if (is("--trace-ops")) {
        const std::string v = value("--trace-ops");
        if (!parse_iotlb_trace_ops(v, o.trace_style.accesses_only))
          throw ConfigError("--trace-ops " + v + ": accepted are all and accesses");
      } else if (is("--time-scale")) {
        const std::string v = value("--time-scale");
        char* end = nullptr;
        o.time_scale = std::strtod(v.c_str(), &end);
        if (!end || *end || !(o.time_scale > 0))
          throw ConfigError("--time-scale: '" + v + "' is not accepted; expected a positive number");
      } else if (is("--details")) {
        const std::string v = value("--details");
        char* end = nullptr;
        const unsigned long n = std::strtoul(v.c_str(), &end, 10);
        if (v.empty() || !end || *end) throw ConfigError("--details: '" + v + "' is not a whole number");
        o.max_details = static_cast<unsigned>(n);
      } else if (a == "--quiet" || a == "-q") {
        o.quiet = true;
      } else if (!a.empty() && a[0] == '-') {
        throw ConfigError("unknown option '" + a + "': accepted are --set, --stats, --iotlb-trace, "
                          "--trace-format, --trace-ops, --time-scale, --details, --quiet, --help");
      } else if (capture_path.empty()) {
        capture_path = a;
      } else {
        throw ConfigError("more than one capture given ('" + capture_path + "' and '" + a + "')");
      }
    }
    if (capture_path.empty()) throw ConfigError("replay needs a CAPTURE (a directory written by tools/linux-capture/capture.sh)");
    if (!is_linux_capture(capture_path))
      throw ConfigError(capture_path + ": not a capture (no capture.txt starting '" + kCaptureSignature + "')");

    const LinuxCapture capture = read_linux_capture(capture_path);
    // The model's own settings (caches, latencies) through the platform front end, so that --set
    // takes the same keys, checks and messages as `iommu-sim run`.
    ConfigReader reader = ConfigReader::from_text("{}", "replay");
    for (const auto& s : o.sets) reader.apply_override(s);
    PlatformConfig pc = read_platform_config(reader.root());
    reader.finish();
    IommuConfig config = iommu_config_from_capabilities(capture.reg(fmt::kRegCap), capture.reg(fmt::kRegEcap), pc.iommu);
    config.iotlb_trace_path = o.iotlb_trace_path;
    config.iotlb_trace_style = o.trace_style;

    std::ofstream stats_file, config_file;
    if (!o.stats_path.empty()) {
      stats_file.open(o.stats_path);
      if (!stats_file) throw ConfigError("--stats " + o.stats_path + ": cannot open for writing");
      const auto dot = o.stats_path.rfind('.');
      const std::string cfg = (dot == std::string::npos ? o.stats_path : o.stats_path.substr(0, dot)) + ".config.yaml";
      config_file.open(cfg);
      if (!config_file) throw ConfigError("--stats: cannot write " + cfg);
    }

    StatsRegistry stats;
    const ReplayResult r = replay_capture(capture, config, o, stats);
    if (stats_file.is_open()) {
      stats.write_json(stats_file);
      config_file << "# replay of " << capture.dir << ": the model's settings; its capabilities\n"
                  << "# (address width, levels, superpages, fault records, ...) came from the capture\n"
                  << reader.effective_yaml();
    }
    if (!o.quiet) {
      print_replay_report(out, capture, r, config, stats, o.max_details);
    } else if (!r.ok()) {
      print_replay_report(err, capture, r, config, stats, o.max_details);
    }
    return r.ok() ? kExitOk : kExitFailure;
  } catch (const ConfigError& e) {
    err << "iommu-sim replay: " << e.what() << "\n";
    if (capture_path.empty()) err << kUsage;
    return kExitBadInput;
  } catch (const CaptureError& e) {
    err << "iommu-sim replay: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    err << "iommu-sim replay: simulation failed: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace iommu_sim
