#include "iommu_sim/platform/report.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <map>
#include <sstream>

#include "iommu_sim/iommu/vtd_format_scalable.h"

namespace iommu_sim {

namespace {

double get(const StatsRegistry& s, const std::string& name) {
  return s.has(name) ? s.value(name) : 0.0;
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

std::string percent(double num, double den) {
  return den > 0 ? fixed(100.0 * num / den, 1) + "%" : "n/a";
}

// A time in ps as ns, and the error a quantile states when it shows at this precision.
std::string ns_text(double ps, double error_ps = 0) {
  return fixed(ps / 1000.0, 1) + (error_ps >= 50 ? "±" + fixed(error_ps / 1000.0, 1) : "") + " ns";
}

// Interrupt latencies range from hundreds of ns to a vCPU's descheduled period.
std::string latency_text(double ps, double error_ps = 0) {
  if (ps < 1e7) return ns_text(ps, error_ps);
  return fixed(ps / 1e6, 1) + (error_ps >= 5e4 ? "±" + fixed(error_ps / 1e6, 1) : "") + " us";
}

// A quantile of h as the report shows it: exact, or with the error it has.
std::string quantile_text(const Histogram& h, double q) {
  const Quantile v = h.quantile_bounds(q);
  return latency_text(static_cast<double>(v.value), static_cast<double>(v.error));
}

// The causes a guest's exits are counted under (<apic>.guest.<g>.exits.<cause>).
const char* const kExitCauses[] = {"arrival", "eoi", "host", "wakeup"};

// ATS: each function's device-TLB and IOTLB hit rates and its translation requests.
void print_ats(std::ostream& os, const PlatformConfig& config, const StatsRegistry& s,
               const std::vector<DmaSource>& sources) {
  if (!s.has("summary.devtlb_hit_rate")) return;
  const std::string iommu = "platform.iommu";
  os << "  ATS                  device-TLBs";
  for (const EndpointSpec& ep : config.pcie.endpoints) {
    if (!ep.endpoint.device.pf.ats.present) continue;
    const DeviceTlbConfig& d = ep.endpoint.ats.devtlb;
    os << " " << ep.name << ": " << d.sets << " sets x " << d.ways << " ways, " << to_string(d.policy) << ";";
  }
  os << " " << static_cast<uint64_t>(get(s, "summary.translation_requests")) << " translation requests ("
     << fixed(get(s, "summary.translation_requests_per_1000_dmas"), 1) << " per 1,000 DMAs), "
     << static_cast<uint64_t>(get(s, "summary.devtlb_invalidations")) << " device-TLB invalidations\n";
  os << "    function           devTLB hit  IOTLB hit  xlat req  per 1000  round trip  untranslated  invalidated\n";
  for (const DmaSource& src : sources) {
    const std::string a = src.engine + ".ats.";
    if (!s.has(a + "devtlb.lookups")) continue;
    const std::string rid = iommu + ".rid." + format_requester_id(src.requester_id);
    const double hits = get(s, rid + ".iotlb_hits"), misses = get(s, rid + ".iotlb_misses");
    const double requests = get(s, a + "translation_requests");
    const double dmas = get(s, src.engine + ".dmas");
    const Histogram* rt = s.find_histogram(a + "translation_latency");
    char line[200];
    std::snprintf(line, sizeof line, "    %-18s %10s %10s %9llu %9s %11s %13llu %12llu\n", src.label.c_str(),
                  percent(get(s, a + "devtlb.hits"), get(s, a + "devtlb.lookups")).c_str(),
                  percent(hits, hits + misses).c_str(), static_cast<unsigned long long>(requests),
                  dmas > 0 ? fixed(requests * 1000.0 / dmas, 1).c_str() : "-",
                  rt && rt->count() ? ns_text(rt->mean()).c_str() : "-",
                  static_cast<unsigned long long>(get(s, a + "untranslated_fallbacks")),
                  static_cast<unsigned long long>(get(s, a + "devtlb.invalidated_entries")));
    os << line;
  }
}

// <prefix>_{p50,p99}_ns and the error each has (<prefix>_{p50,p99}_error_ns) of a histogram in
// ps: the figures the report prints and the sweeps' CSV takes.
void register_quantiles(StatsRegistry& stats, const std::string& prefix, const Histogram& h) {
  for (const auto& [name, q] : {std::pair<const char*, double>{"p50", 0.5}, {"p99", 0.99}}) {
    const Quantile v = h.quantile_bounds(q);
    stats.gauge(prefix + "_" + name + "_ns", [v] { return v.value / 1000.0; });
    stats.gauge(prefix + "_" + name + "_error_ns", [v] { return v.error / 1000.0; });
  }
}

}  // namespace

const char* fault_reason_name(unsigned reason) {
  switch (reason) {
    case 0x1: return "root entry not present";
    case 0x2: return "context entry not present";
    case 0x3: return "invalid context entry";
    case 0x4: return "address above the guest address width";
    case 0x5: return "write not permitted";
    case 0x6: return "read not permitted";
    case 0x7: return "paging-entry access failed";
    case 0x8: return "root-table access failed";
    case 0x9: return "context-table access failed";
    case 0xA: return "root entry reserved bit";
    case 0xB: return "context entry reserved bit";
    case 0xC: return "paging entry reserved bit";
    case 0xD: return "blocked by context TT";
    case 0x20: return "reserved field in interrupt request";
    case 0x21: return "interrupt index beyond table";
    case 0x22: return "IRTE not present";
    case 0x23: return "IRT access failed";
    case 0x24: return "IRTE reserved field";
    case 0x25: return "compatibility-format interrupt blocked";
    case 0x26: return "source-ID check failed";
    default: {
      const char* scalable = vtd::scalable_fault_reason_name(reason);
      return scalable ? scalable : "unknown reason";
    }
  }
}

void register_summary(StatsRegistry& stats, const std::string& iommu,
                      const std::vector<std::string>& engines, const PlatformOutcome& outcome) {
  // The device-side latency of every DMA, all engines together.
  Histogram& all = stats.histogram("summary.dma_latency", "ps");
  double dmas = 0, bytes = 0, errors = 0;
  for (const auto& e : engines) {
    if (const Histogram* h = stats.find_histogram(e + ".latency")) all.merge(*h);
    dmas += get(stats, e + ".dmas");
    bytes += get(stats, e + ".bytes");
    errors += get(stats, e + ".errors");
  }
  const double sim_ns = outcome.end_time.to_seconds() * 1e9;
  const double measured_ns = (outcome.end_time - outcome.measured_from).to_seconds() * 1e9;
  const double lookups = get(stats, iommu + ".iotlb.lookups");
  const double hits = get(stats, iommu + ".iotlb.hits");
  const double misses = get(stats, iommu + ".iotlb.misses");
  const double walks = get(stats, iommu + ".walks");
  // DMA faults (0x1-0xD) and interrupt-remapping faults (0x20-0x26) go to the same fault
  // recording registers: both count, and each kind is also given apart.
  const double dma_faults = get(stats, iommu + ".faults");
  const double interrupt_faults = get(stats, iommu + ".ir.blocked");
  const double faults = dma_faults + interrupt_faults;
  stats.gauge("summary.dmas", [dmas] { return dmas; });
  stats.gauge("summary.bytes", [bytes] { return bytes; });
  stats.gauge("summary.dma_errors", [errors] { return errors; });
  stats.gauge("summary.sim_time_ns", [sim_ns] { return sim_ns; });
  stats.gauge("summary.measured_ns", [measured_ns] { return measured_ns; });
  stats.gauge("summary.throughput_mbps",
              [bytes, measured_ns] { return measured_ns > 0 ? bytes * 1000.0 / measured_ns : 0.0; });
  stats.gauge("summary.iotlb_hit_rate", [hits, lookups] { return lookups > 0 ? hits / lookups : 0.0; });
  stats.gauge("summary.iotlb_misses_per_1000_dmas", [misses, dmas] { return dmas > 0 ? misses * 1000.0 / dmas : 0.0; });
  stats.gauge("summary.walks", [walks] { return walks; });
  stats.gauge("summary.faults", [faults] { return faults; });
  // The other translation caches: the context cache, and the paging-structure caches of every
  // level together (a walk probes them all at once).
  const double ctx_hits = get(stats, iommu + ".context_cache.hits");
  const double ctx_lookups = get(stats, iommu + ".context_cache.lookups");
  double ps_hits = 0, ps_lookups = 0;
  for (const char* level : {"l2", "l3", "l4", "l5"}) {
    ps_hits += get(stats, iommu + ".pscache." + level + ".hits");
    ps_lookups += get(stats, iommu + ".pscache." + level + ".lookups");
  }
  stats.gauge("summary.context_cache_hit_rate",
              [ctx_hits, ctx_lookups] { return ctx_lookups > 0 ? ctx_hits / ctx_lookups : 0.0; });
  stats.gauge("summary.pscache_hit_rate",
              [ps_hits, ps_lookups] { return ps_lookups > 0 ? ps_hits / ps_lookups : 0.0; });
  // ATS: the device-TLBs of every engine's function, and the translation requests that reached
  // the IOMMU. Only where some function used a device-TLB.
  double devtlb_hits = 0, devtlb_lookups = 0;
  for (const auto& e : engines) {
    devtlb_hits += get(stats, e + ".ats.devtlb.hits");
    devtlb_lookups += get(stats, e + ".ats.devtlb.lookups");
  }
  if (devtlb_lookups > 0) {
    const double requests = get(stats, iommu + ".ats.translation_requests");
    const double invalidations = get(stats, iommu + ".ats.invalidations");
    stats.gauge("summary.devtlb_hit_rate", [devtlb_hits, devtlb_lookups] { return devtlb_hits / devtlb_lookups; });
    stats.gauge("summary.translation_requests", [requests] { return requests; });
    stats.gauge("summary.translation_requests_per_1000_dmas",
                [requests, dmas] { return dmas > 0 ? requests * 1000.0 / dmas : 0.0; });
    stats.gauge("summary.devtlb_invalidations", [invalidations] { return invalidations; });
  }
  stats.gauge("summary.dma_faults", [dma_faults] { return dma_faults; });
  stats.gauge("summary.interrupt_faults", [interrupt_faults] { return interrupt_faults; });
  const Histogram* h = &all;
  stats.gauge("summary.dma_latency_mean_ns", [h] { return h->mean() / 1000.0; });
  register_quantiles(stats, "summary.dma_latency", *h);
}

void register_interrupt_summary(StatsRegistry& stats, const std::string& iommu,
                                const std::string& apic, const std::vector<std::string>& guests) {
  Histogram& all = stats.histogram("summary.interrupt_latency", "ps");
  double sent = 0, seen = 0, exits = 0, notified = 0, suppressed = 0, hypervisor_ps = 0;
  std::map<std::string, double> by_cause;
  for (const std::string& g : guests) {
    const std::string b = apic + ".guest." + g;
    if (const Histogram* h = stats.find_histogram(b + ".latency")) all.merge(*h);
    sent += get(stats, b + ".requested");
    seen += get(stats, b + ".seen");
    exits += get(stats, b + ".vm_exits");
    notified += get(stats, b + ".notifications");
    suppressed += get(stats, b + ".notifications_suppressed");
    hypervisor_ps += get(stats, b + ".hypervisor_ps");
    for (const char* cause : kExitCauses) by_cause[cause] += get(stats, b + ".exits." + cause);
  }
  const double iec_hits = get(stats, iommu + ".iec.hits");
  const double iec_lookups = get(stats, iommu + ".iec.lookups");
  const auto per_1000 = [sent](double n) { return sent > 0 ? n * 1000.0 / sent : 0.0; };
  stats.gauge("summary.interrupts", [sent] { return sent; });
  stats.gauge("summary.interrupts_seen", [seen] { return seen; });
  stats.gauge("summary.vm_exits", [exits] { return exits; });
  stats.gauge("summary.vm_exits_per_1000_interrupts", [per_1000, exits] { return per_1000(exits); });
  for (const auto& [cause, n] : by_cause) {
    const double v = per_1000(n);
    stats.gauge("summary.exits_per_1000_interrupts." + cause, [v] { return v; });
  }
  stats.gauge("summary.hypervisor_us", [hypervisor_ps] { return hypervisor_ps / 1e6; });
  stats.gauge("summary.hypervisor_ns_per_interrupt",
              [hypervisor_ps, sent] { return sent > 0 ? hypervisor_ps / 1000.0 / sent : 0.0; });
  stats.gauge("summary.notifications", [notified] { return notified; });
  stats.gauge("summary.notifications_suppressed", [suppressed] { return suppressed; });
  stats.gauge("summary.iec_hit_rate",
              [iec_hits, iec_lookups] { return iec_lookups > 0 ? iec_hits / iec_lookups : 0.0; });
  const Histogram* h = &all;
  register_quantiles(stats, "summary.interrupt_latency", *h);
}

void print_report(std::ostream& os, const std::string& source, const PlatformConfig& config,
                  const StatsRegistry& s, const PlatformOutcome& outcome,
                  const std::vector<FaultRecord>& records, const std::vector<DmaSource>& sources) {
  const std::string iommu = "platform.iommu";
  const auto& tlb = config.iommu.iotlb;
  const double lookups = get(s, iommu + ".iotlb.lookups");
  os << "iommu-sim: " << source << "\n";
  os << "  simulated time       " << fixed(outcome.end_time.to_seconds() * 1e6, 2) << " us"
     << (outcome.workloads_done ? "" : " (stopped at simulation.max_time_us)")
     << (outcome.measured_from > sc_core::SC_ZERO_TIME
             ? ", statistics from " + fixed(outcome.measured_from.to_seconds() * 1e6, 2) + " us on"
             : "")
     << "\n";
  os << "  DMAs                 " << static_cast<uint64_t>(get(s, "summary.dmas")) << " ("
     << static_cast<uint64_t>(get(s, "summary.dma_errors")) << " completed with an error), "
     << fixed(get(s, "summary.bytes") / 1e6, 2) << " MB, "
     << fixed(get(s, "summary.throughput_mbps"), 1) << " MB/s\n";
  os << "  IOTLB                " << tlb.sets << " sets x " << tlb.ways << " ways, "
     << to_string(tlb.policy)
     << (tlb.index == IotlbIndex::Page ? "" : std::string(", index ") + to_string(tlb.index))
     << " (" << config.iotlb_impl << "): hit rate "
     << percent(get(s, iommu + ".iotlb.hits"), lookups) << " of "
     << static_cast<uint64_t>(lookups) << " lookups, "
     << static_cast<uint64_t>(get(s, iommu + ".iotlb.evictions")) << " evictions\n";
  os << "  page walks           " << static_cast<uint64_t>(get(s, iommu + ".walks")) << " ("
     << static_cast<uint64_t>(get(s, iommu + ".walk_reads")) << " table reads; paging-structure cache hits "
     << percent(get(s, iommu + ".pscache.l2.hits") + get(s, iommu + ".pscache.l3.hits") +
                    get(s, iommu + ".pscache.l4.hits"),
                get(s, iommu + ".pscache.l2.lookups") + get(s, iommu + ".pscache.l3.lookups") +
                    get(s, iommu + ".pscache.l4.lookups"))
     << ")\n";
  os << "  context cache        hit rate "
     << percent(get(s, iommu + ".context_cache.hits"), get(s, iommu + ".context_cache.lookups")) << "\n";
  if (config.iommu.scalable.enabled) print_scalable_report(os, config, s);
  if (const Histogram* h = s.find_histogram("summary.dma_latency")) {
    os << "  DMA latency          mean " << ns_text(h->mean()) << ", p50 " << quantile_text(*h, 0.5)
       << ", p99 " << quantile_text(*h, 0.99) << ", max " << ns_text(h->max()) << "\n";
  }
  const double measured_ns = (outcome.end_time - outcome.measured_from).to_seconds() * 1e9;
  if (!sources.empty()) {
    os << "  per function         requester domain     DMAs  errors     MB/s  IOTLB hit  lat mean          p99\n";
  }
  std::map<uint16_t, std::vector<std::string>> domains;
  for (const DmaSource& src : sources) {
    const std::string rid = "rid." + format_requester_id(src.requester_id);
    const Histogram* h = s.find_histogram(src.engine + ".latency");
    const double hits = get(s, iommu + "." + rid + ".iotlb_hits");
    const double misses = get(s, iommu + "." + rid + ".iotlb_misses");
    char line[200];
    std::snprintf(line, sizeof line, "    %-18s %-9s %6s %8llu %7llu %8.1f %10s %8s %14s\n",
                  src.label.c_str(), format_requester_id(src.requester_id).c_str(),
                  src.domain ? std::to_string(src.domain).c_str() : "-",
                  static_cast<unsigned long long>(get(s, src.engine + ".dmas")),
                  static_cast<unsigned long long>(get(s, src.engine + ".errors")),
                  measured_ns > 0 ? get(s, src.engine + ".bytes") * 1000.0 / measured_ns : 0.0,
                  percent(hits, hits + misses).c_str(), h ? ns_text(h->mean()).c_str() : "-",
                  h ? quantile_text(*h, 0.99).c_str() : "-");
    os << line;
    if (src.domain) domains[src.domain].push_back(src.label);
  }
  if (domains.size() > 1) {
    os << "  per domain\n";
    for (const auto& [id, labels] : domains) {
      const std::string d = iommu + ".domain." + std::to_string(id);
      const double hits = get(s, d + ".iotlb_hits"), misses = get(s, d + ".iotlb_misses");
      std::string names;
      for (const auto& l : labels) names += (names.empty() ? "" : " ") + l;
      os << "    domain " << std::left << std::setw(5) << id << std::right << " IOTLB hit rate "
         << std::setw(6) << percent(hits, hits + misses) << " of " << static_cast<uint64_t>(hits + misses)
         << " lookups (" << names << ")\n";
    }
  }
  print_ats(os, config, s, sources);
  if (config.interrupts_configured) {
    const std::string apic = "platform.apic";
    const HostInterruptConfig& ic = config.interrupts;
    os << "  interrupts           " << to_string(ic.delivery) << " delivery"
       << (ic.apicv ? ", APICv" : "") << (ic.host_affinity ? ", to cpu " + std::to_string(ic.host_cpu) : "")
       << ": " << static_cast<uint64_t>(get(s, "summary.interrupts")) << " to guests, "
       << fixed(get(s, "summary.vm_exits_per_1000_interrupts"), 1) << " VM exits per 1,000, IEC hit rate "
       << percent(get(s, iommu + ".iec.hits"), get(s, iommu + ".iec.lookups")) << " of "
       << static_cast<uint64_t>(get(s, iommu + ".iec.lookups")) << " lookups\n";
    if (ic.host_timer_hz > 0)
      os << "  host timer           " << fixed(ic.host_timer_hz, 0) << " Hz per CPU: "
         << static_cast<uint64_t>(get(s, apic + ".timer_ticks")) << " ticks, "
         << static_cast<uint64_t>(get(s, apic + ".timer_exits")) << " of them in a guest (an exit)\n";
    if (!ic.guests.empty())
      os << "  per guest            interrupts    seen  exits/1000: arrival  eoi  host  wake        lat p50"
            "            p99   hyp ns/irq  notified  suppressed\n";
    for (const GuestSpec& g : ic.guests) {
      const std::string b = apic + ".guest." + g.name;
      const double sent = get(s, b + ".requested");
      const Histogram* h = s.find_histogram(b + ".latency");
      const bool timed = h && h->count() > 0;
      const auto rate = [&](const char* cause) {
        return sent > 0 ? fixed(get(s, b + ".exits." + cause) * 1000.0 / sent, 0) : std::string("-");
      };
      char line[300];
      std::snprintf(line, sizeof line, "    %-18s %10llu %7llu %19s %4s %5s %5s %14s %14s %12s %9llu %11llu\n",
                    g.name.c_str(), static_cast<unsigned long long>(sent),
                    static_cast<unsigned long long>(get(s, b + ".seen")), rate("arrival").c_str(),
                    rate("eoi").c_str(), rate("host").c_str(), rate("wakeup").c_str(),
                    timed ? quantile_text(*h, 0.5).c_str() : "-",
                    timed ? quantile_text(*h, 0.99).c_str() : "-",
                    sent > 0 ? fixed(get(s, b + ".hypervisor_ps") / 1000.0 / sent, 0).c_str() : "-",
                    static_cast<unsigned long long>(get(s, b + ".notifications")),
                    static_cast<unsigned long long>(get(s, b + ".notifications_suppressed")));
      os << line;
    }
  }
  const double dma_faults = get(s, iommu + ".faults");
  const double interrupt_faults = get(s, iommu + ".ir.blocked");
  os << "  faults recorded      " << static_cast<uint64_t>(dma_faults + interrupt_faults);
  // Each kind with its reasons: DMA remapping under <iommu>.faults, interrupt remapping under
  // <iommu>.ir.faults.
  const auto by_reason = [&](const char* kind, double count, const std::string& prefix,
                             unsigned from, unsigned to) {
    os << " " << static_cast<uint64_t>(count) << " " << kind;
    if (count <= 0) return;
    os << " (";
    bool first = true;
    for (unsigned reason = from; reason <= to; ++reason) {
      char name[24];
      std::snprintf(name, sizeof name, "reason_0x%X", reason);
      const double n = get(s, prefix + name);
      if (n <= 0) continue;
      os << (first ? "" : ", ") << static_cast<uint64_t>(n) << " x 0x" << std::hex << reason
         << std::dec << " " << fault_reason_name(reason);
      first = false;
    }
    os << ")";
  };
  if (dma_faults + interrupt_faults > 0) {
    os << ":";
    by_reason("DMA", dma_faults, iommu + ".faults.", 1, vtd::kMaxScalableFaultReason);
    if (config.iommu.interrupt_remapping) {
      os << ",";
      by_reason("interrupt", interrupt_faults, iommu + ".ir.faults.", 0x20, 0x2F);
    }
  }
  os << "\n";
  const size_t shown = std::min<size_t>(records.size(), 8);
  for (size_t i = 0; i < shown; ++i) {
    const FaultRecord& r = records[i];
    char line[160];
    std::snprintf(line, sizeof line, "    FRCD: source %s %s page 0x%llx, reason 0x%x %s\n",
                  format_requester_id(r.source_id).c_str(), r.is_read ? "read " : "write",
                  static_cast<unsigned long long>(r.page), r.reason, fault_reason_name(r.reason));
    os << line;
  }
  if (records.size() > shown) os << "    ... " << records.size() - shown << " more\n";
  if (get(s, iommu + ".fault_overflows") > 0)
    os << "  fault overflows      " << static_cast<uint64_t>(get(s, iommu + ".fault_overflows"))
       << " (FRCD ring full: not recorded)\n";
}

}  // namespace iommu_sim
