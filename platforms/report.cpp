#include "report.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <map>
#include <sstream>

#include "iommu/vtd_format_scalable.h"

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

std::string ns_text(double ps) { return fixed(ps / 1000.0, 1) + " ns"; }

// Interrupt latencies range from hundreds of ns to a vCPU's descheduled period.
std::string latency_text(double ps) { return ps < 1e7 ? ns_text(ps) : fixed(ps / 1e6, 1) + " us"; }

// The causes a guest's exits are counted under (<apic>.guest.<g>.exits.<cause>).
const char* const kExitCauses[] = {"arrival", "eoi", "host", "wakeup"};

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
  const double lookups = get(stats, iommu + ".iotlb.lookups");
  const double hits = get(stats, iommu + ".iotlb.hits");
  const double misses = get(stats, iommu + ".iotlb.misses");
  const double walks = get(stats, iommu + ".walks");
  const double faults = get(stats, iommu + ".faults");
  stats.gauge("summary.dmas", [dmas] { return dmas; });
  stats.gauge("summary.bytes", [bytes] { return bytes; });
  stats.gauge("summary.dma_errors", [errors] { return errors; });
  stats.gauge("summary.sim_time_ns", [sim_ns] { return sim_ns; });
  stats.gauge("summary.throughput_mbps", [bytes, sim_ns] { return sim_ns > 0 ? bytes * 1000.0 / sim_ns : 0.0; });
  stats.gauge("summary.iotlb_hit_rate", [hits, lookups] { return lookups > 0 ? hits / lookups : 0.0; });
  stats.gauge("summary.iotlb_misses_per_1000_dmas", [misses, dmas] { return dmas > 0 ? misses * 1000.0 / dmas : 0.0; });
  stats.gauge("summary.walks", [walks] { return walks; });
  stats.gauge("summary.faults", [faults] { return faults; });
  const Histogram* h = &all;
  stats.gauge("summary.dma_latency_mean_ns", [h] { return h->mean() / 1000.0; });
  stats.gauge("summary.dma_latency_p50_ns", [h] { return h->quantile(0.5) / 1000.0; });
  stats.gauge("summary.dma_latency_p99_ns", [h] { return h->quantile(0.99) / 1000.0; });
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
  stats.gauge("summary.interrupt_latency_p50_ns", [h] { return h->quantile(0.5) / 1000.0; });
  stats.gauge("summary.interrupt_latency_p99_ns", [h] { return h->quantile(0.99) / 1000.0; });
}

void print_report(std::ostream& os, const std::string& source, const PlatformConfig& config,
                  const StatsRegistry& s, const PlatformOutcome& outcome,
                  const std::vector<FaultRecord>& records, const std::vector<DmaSource>& sources) {
  const std::string iommu = "platform.iommu";
  const auto& tlb = config.iommu.iotlb;
  const double lookups = get(s, iommu + ".iotlb.lookups");
  os << "iommu-sim: " << source << "\n";
  os << "  simulated time       " << fixed(outcome.end_time.to_seconds() * 1e6, 2) << " us"
     << (outcome.workloads_done ? "" : " (stopped at simulation.max_time_us)") << "\n";
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
    os << "  DMA latency          mean " << ns_text(h->mean()) << ", p50 " << ns_text(h->quantile(0.5))
       << ", p99 " << ns_text(h->quantile(0.99)) << ", max " << ns_text(h->max()) << "\n";
  }
  const double sim_ns = outcome.end_time.to_seconds() * 1e9;
  if (!sources.empty()) {
    os << "  per function         requester domain     DMAs  errors     MB/s  IOTLB hit  lat mean    p99\n";
  }
  std::map<uint16_t, std::vector<std::string>> domains;
  for (const DmaSource& src : sources) {
    const std::string rid = "rid." + format_requester_id(src.requester_id);
    const Histogram* h = s.find_histogram(src.engine + ".latency");
    const double hits = get(s, iommu + "." + rid + ".iotlb_hits");
    const double misses = get(s, iommu + "." + rid + ".iotlb_misses");
    char line[200];
    std::snprintf(line, sizeof line, "    %-18s %-9s %6s %8llu %7llu %8.1f %10s %8s %8s\n",
                  src.label.c_str(), format_requester_id(src.requester_id).c_str(),
                  src.domain ? std::to_string(src.domain).c_str() : "-",
                  static_cast<unsigned long long>(get(s, src.engine + ".dmas")),
                  static_cast<unsigned long long>(get(s, src.engine + ".errors")),
                  sim_ns > 0 ? get(s, src.engine + ".bytes") * 1000.0 / sim_ns : 0.0,
                  percent(hits, hits + misses).c_str(), h ? ns_text(h->mean()).c_str() : "-",
                  h ? ns_text(static_cast<double>(h->quantile(0.99))).c_str() : "-");
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
      os << "  per guest            interrupts    seen  exits/1000: arrival  eoi  host  wake   lat p50       p99"
            "   hyp ns/irq  notified  suppressed\n";
    for (const GuestSpec& g : ic.guests) {
      const std::string b = apic + ".guest." + g.name;
      const double sent = get(s, b + ".requested");
      const Histogram* h = s.find_histogram(b + ".latency");
      const bool timed = h && h->count() > 0;
      const auto rate = [&](const char* cause) {
        return sent > 0 ? fixed(get(s, b + ".exits." + cause) * 1000.0 / sent, 0) : std::string("-");
      };
      char line[300];
      std::snprintf(line, sizeof line, "    %-18s %10llu %7llu %19s %4s %5s %5s %9s %9s %12s %9llu %11llu\n",
                    g.name.c_str(), static_cast<unsigned long long>(sent),
                    static_cast<unsigned long long>(get(s, b + ".seen")), rate("arrival").c_str(),
                    rate("eoi").c_str(), rate("host").c_str(), rate("wakeup").c_str(),
                    timed ? latency_text(static_cast<double>(h->quantile(0.5))).c_str() : "-",
                    timed ? latency_text(static_cast<double>(h->quantile(0.99))).c_str() : "-",
                    sent > 0 ? fixed(get(s, b + ".hypervisor_ps") / 1000.0 / sent, 0).c_str() : "-",
                    static_cast<unsigned long long>(get(s, b + ".notifications")),
                    static_cast<unsigned long long>(get(s, b + ".notifications_suppressed")));
      os << line;
    }
  }
  const double faults = get(s, iommu + ".faults");
  os << "  faults recorded      " << static_cast<uint64_t>(faults);
  if (faults > 0) {
    os << " (";
    bool first = true;
    for (unsigned reason = 0; reason <= vtd::kMaxScalableFaultReason; ++reason) {
      char name[64];
      std::snprintf(name, sizeof name, "%s.faults.reason_0x%X", iommu.c_str(), reason);
      const double n = get(s, name);
      if (n <= 0) continue;
      os << (first ? "" : ", ") << static_cast<uint64_t>(n) << " x 0x" << std::hex << reason
         << std::dec << " " << fault_reason_name(reason);
      first = false;
    }
    os << ")";
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
