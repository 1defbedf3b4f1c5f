#include "iommu_sim/rtl/cosim/iotlb_lockstep.h"

#include <chrono>
#include <sstream>

namespace iommu_sim {

namespace {

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

std::string entry_text(const IotlbEntry& e) {
  return "{domain " + std::to_string(e.domain) + ", vpn " + hex(e.vpn) + ", pfn " + hex(e.pfn) +
         ", " + (e.read ? "r" : "-") + (e.write ? "w" : "-") + ", " + to_string(e.size) + "}";
}

std::string hit_text(const IotlbHit& h, uint64_t frame) {
  if (!h.hit) return "miss";
  return "hit set " + std::to_string(h.set) + " way " + std::to_string(h.way) + " frame " +
         hex(frame) + " entry " + entry_text(h.entry);
}

std::string fill_text(const IotlbFillResult& f) {
  std::string s = "set " + std::to_string(f.set) + " way " + std::to_string(f.way);
  if (f.evicted) s += " evicted " + entry_text(f.victim);
  return s;
}

bool same_hit(const IotlbHit& a, const IotlbHit& b) {
  if (a.hit != b.hit) return false;
  if (!a.hit) return true;
  return a.set == b.set && a.way == b.way && a.entry == b.entry;
}

bool same_fill(const IotlbFillResult& a, const IotlbFillResult& b) {
  return a.set == b.set && a.way == b.way && a.evicted == b.evicted &&
         (!a.evicted || a.victim == b.victim);
}

std::string stats_text(const CacheStats& s) {
  return "lookups " + std::to_string(s.lookups) + " hits " + std::to_string(s.hits) +
         " misses " + std::to_string(s.misses) + " fills " + std::to_string(s.fills) +
         " evictions " + std::to_string(s.evictions) + " invalidations " +
         std::to_string(s.invalidations) + " invalidated " +
         std::to_string(s.invalidated_entries);
}

bool same_stats(const CacheStats& a, const CacheStats& b) {
  return a.lookups == b.lookups && a.hits == b.hits && a.misses == b.misses &&
         a.fills == b.fills && a.evictions == b.evictions && a.invalidations == b.invalidations &&
         a.invalidated_entries == b.invalidated_entries;
}

class ThreadHost : public sc_core::sc_module {
 public:
  ThreadHost(const sc_core::sc_module_name& name, const std::function<void()>& body)
      : sc_core::sc_module(name), m_body(body) {
    SC_HAS_PROCESS(ThreadHost);
    SC_THREAD(run);
  }

 private:
  // When the body returns nothing is left to run and sc_start returns on its own.
  void run() { m_body(); }
  std::function<void()> m_body;
};

}  // namespace

IotlbLockstep::IotlbLockstep(RtlIotlb& rtl, IotlbModel& ref, RtlIotlb* replay,
                             std::string mismatch_waves, bool probe_after_invalidate,
                             uint64_t log_limit)
    : m_rtl(rtl),
      m_ref(ref),
      m_replay(replay),
      m_mismatch_waves(std::move(mismatch_waves)),
      m_probe(probe_after_invalidate),
      m_log_limit(log_limit) {}

bool IotlbLockstep::run(const RtlCycleIn& in) {
  if (!ok()) return false;
  ++m_transactions;
  RtlCycleIn pending = in;
  // A request the RTL left waiting is presented again the next cycle, alone.
  while (pending.lookup || pending.fill || pending.invalidate) {
    RtlCycleIn now = pending;
    if (!cycle(now, pending)) return false;
  }
  return true;
}

bool IotlbLockstep::cycle(const RtlCycleIn& in, RtlCycleIn& pending) {
  if (m_log.size() < m_log_limit) m_log.push_back(in);
  else m_log_complete = false;
  const RtlCycleOut out = m_rtl.cycle(in);
  pending = RtlCycleIn{};

  // The RTL's order: invalidation goes before a fill, which waits; a fill goes before a
  // lookup, which waits; a lookup goes before a same-cycle invalidation.
  const bool want_lookup_ready = !(in.fill && !in.invalidate);
  const bool want_fill_ready = !in.invalidate;
  if (out.lookup_ready != want_lookup_ready || out.fill_ready != want_fill_ready) {
    mismatch(in,
             "lookup_ready " + std::to_string(out.lookup_ready) + " fill_ready " +
                 std::to_string(out.fill_ready),
             "lookup_ready " + std::to_string(want_lookup_ready) + " fill_ready " +
                 std::to_string(want_fill_ready));
    return false;
  }
  const bool lookup_now = in.lookup && want_lookup_ready;
  const bool fill_now = in.fill && want_fill_ready;
  if (out.lookup_valid != lookup_now || out.fill_valid != fill_now ||
      out.inv_valid != in.invalidate) {
    mismatch(in,
             "responses: lookup " + std::to_string(out.lookup_valid) + " fill " +
                 std::to_string(out.fill_valid) + " invalidate " + std::to_string(out.inv_valid),
             "responses: lookup " + std::to_string(lookup_now) + " fill " +
                 std::to_string(fill_now) + " invalidate " + std::to_string(in.invalidate));
    return false;
  }

  if (fill_now) {
    const IotlbFillResult want = m_ref.fill(in.fill_entry);
    if (!same_fill(out.fill, want)) {
      mismatch(in, "fill " + fill_text(out.fill), "fill " + fill_text(want));
      return false;
    }
  }
  if (lookup_now) {
    if (!compare_lookup(in, out, "lookup")) return false;
    m_last_missed = !out.lookup.hit;
  }
  if (in.invalidate) {
    std::vector<IotlbEntry> before;
    if (m_probe) {
      for (unsigned s = 0; s < m_ref.config().sets; ++s)
        for (unsigned w = 0; w < m_ref.config().ways; ++w)
          if (auto e = m_ref.entry_at(s, w)) before.push_back(*e);
    }
    unsigned want = 0;
    switch (in.inv_kind) {
      case RtlCycleIn::InvGlobal: want = m_ref.invalidate_all(); break;
      case RtlCycleIn::InvDomain: want = m_ref.invalidate_domain(in.inv_domain); break;
      case RtlCycleIn::InvPages:
        want = m_ref.invalidate_pages(in.inv_domain, in.inv_vpn, in.inv_am);
        break;
    }
    if (out.inv_count != want) {
      mismatch(in, "invalidated " + std::to_string(out.inv_count),
               "invalidated " + std::to_string(want));
      return false;
    }
    if (in.fill) {
      pending.fill = true;
      pending.fill_entry = in.fill_entry;
    }
    if (m_probe && !before.empty()) {
      probe_contents(before);
      if (!ok()) return false;
    }
  } else if (in.fill && in.lookup) {
    pending.lookup = true;
    pending.lookup_domain = in.lookup_domain;
    pending.lookup_vpn = in.lookup_vpn;
  }
  return true;
}

bool IotlbLockstep::compare_lookup(const RtlCycleIn& in, const RtlCycleOut& out,
                                   const char* what) {
  const IotlbHit want = m_ref.lookup(in.lookup_domain, in.lookup_vpn);
  const uint64_t want_frame = want.hit ? want.frame(in.lookup_vpn & kPageNumberMask) : 0;
  if (!same_hit(out.lookup, want) || (want.hit && out.lookup_frame != want_frame)) {
    mismatch(in, std::string(what) + " " + hit_text(out.lookup, out.lookup_frame),
             std::string(what) + " " + hit_text(want, want_frame));
    return false;
  }
  return true;
}

void IotlbLockstep::probe_contents(const std::vector<IotlbEntry>& before) {
  // Every entry the invalidation removed must be gone from both; a few survivors must still
  // hit in both. These lookups touch the replacement state of both alike.
  unsigned survivors = 0;
  for (const IotlbEntry& e : before) {
    const unsigned set = static_cast<unsigned>(e.vpn >> page_shift_pages(e.size)) &
                         (m_ref.config().sets - 1);
    bool gone = true;
    for (unsigned w = 0; w < m_ref.config().ways && gone; ++w) {
      auto now = m_ref.entry_at(set, w);
      if (now && *now == e) gone = false;
    }
    if (!gone && ++survivors > 4) continue;
    RtlCycleIn probe;
    probe.lookup = true;
    probe.lookup_domain = e.domain;
    probe.lookup_vpn = e.vpn;
    if (m_log.size() < m_log_limit) m_log.push_back(probe);
    else m_log_complete = false;
    ++m_probes;
    const RtlCycleOut out = m_rtl.cycle(probe);
    if (!compare_lookup(probe, out, "probe lookup after invalidation")) return;
  }
}

void IotlbLockstep::mismatch(const RtlCycleIn& in, const std::string& rtl,
                             const std::string& model) {
  const uint64_t cycle = m_rtl.rtl_cycles() - 1;  // the cycle just run; cycle 0 is the reset
  std::ostringstream os;
  os << "IOTLB co-simulation mismatch (RTL " << m_rtl.variant() << ") at RTL cycle " << cycle
     << ", transaction " << m_transactions << "\n"
     << "  inputs: " << describe(in) << "\n"
     << "  rtl:    " << rtl << "\n"
     << "  model:  " << model << "\n";
  if (m_replay && m_log_complete && !m_mismatch_waves.empty()) {
    // A fresh instance, the same cycles from reset: the same mismatch, with waves.
    m_replay->trace_to(m_mismatch_waves);
    for (const RtlCycleIn& c : m_log) m_replay->cycle(c);
    m_replay->close_trace();
    os << "  waves:  " << m_mismatch_waves << " (the failing edge is at " << cycle * 10 + 5
       << " ns; open with gtkwave " << m_mismatch_waves << " waves/iotlb.gtkw)\n";
  } else {
    os << "  waves:  not written; rerun with --waves FILE to record them\n";
  }
  m_report = os.str();
}

bool IotlbLockstep::check_stats() {
  if (!ok()) return false;
  if (!same_stats(m_rtl.stats(), m_ref.stats())) {
    m_report = "IOTLB co-simulation mismatch in statistics\n  rtl:   " +
               stats_text(m_rtl.stats()) + "\n  model: " + stats_text(m_ref.stats()) + "\n";
    return false;
  }
  return true;
}

void run_in_sc_thread(const std::function<void()>& body) {
  ThreadHost host("cosim_host", body);
  sc_core::sc_start();
}

CosimReport run_cosim(const CosimOptions& options) {
  CosimReport report;
  std::string error;
  std::unique_ptr<RtlIotlb> rtl = make_rtl_iotlb_adapter(options.iotlb, error, "dut");
  if (!rtl) {
    report.bad_input = true;
    report.message = error;
    return report;
  }
  std::unique_ptr<RtlIotlb> replay = make_rtl_iotlb_adapter(options.iotlb, error, "replay");
  IotlbModel ref(options.iotlb);
  if (!options.waves.empty()) rtl->trace_to(options.waves);

  std::vector<RtlCycleIn> stream;
  if (options.stimulus == CosimOptions::Directed) {
    stream = directed_stimulus(options.iotlb);
  } else if (options.stimulus == CosimOptions::Trace) {
    if (!trace_stimulus(options.trace_path, stream, error)) {
      report.bad_input = true;
      report.message = error;
      return report;
    }
  }

  IotlbLockstep lockstep(*rtl, ref, replay.get(), options.mismatch_waves,
                         options.probe_after_invalidate);
  const auto t0 = std::chrono::steady_clock::now();
  run_in_sc_thread([&] {
    if (options.stimulus == CosimOptions::Random) {
      RandomStimulus gen(options.knobs);
      for (uint64_t i = 0; i < options.transactions; ++i)
        if (!lockstep.run(gen.next(lockstep.last_missed()))) break;
    } else {
      for (const RtlCycleIn& in : stream)
        if (!lockstep.run(in)) break;
    }
    lockstep.check_stats();
  });
  rtl->close_trace();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.ok = lockstep.ok();
  report.transactions = lockstep.transactions();
  report.probes = lockstep.probes();
  report.rtl_cycles = rtl->rtl_cycles();
  report.stats = ref.stats();
  if (report.ok) {
    std::ostringstream os;
    os << "iotlb cosim " << rtl->variant() << ": " << report.transactions << " transactions, "
       << report.probes << " probe lookups, " << report.rtl_cycles << " RTL cycles, all equal ("
       << stats_text(report.stats) << ")";
    report.message = os.str();
  } else {
    report.message = lockstep.report();
  }
  return report;
}

}  // namespace iommu_sim
