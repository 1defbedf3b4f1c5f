// iotlb-cosim: drives the Verilated IOTLB and the C++ IOTLB in lockstep with one stream and
// compares every output. Exit status 0 when all equal, 1 on a mismatch (and only then), 2 on bad
// input: a usage error, a trace that cannot be read or is malformed, a geometry not built.
#include <cstdlib>
#include <iostream>
#include <string>

#include "iommu_sim/common/parse_number.h"
#include "iommu_sim/rtl/cosim/iotlb_lockstep.h"

using namespace iommu_sim;

namespace {

void usage(std::ostream& os) {
  os << "usage: iotlb-cosim [options]\n"
        "  --policy lru|plru|fifo   replacement policy (default plru)\n"
        "  --sets N --ways N        geometry (default 32 x 4); --list shows the built variants\n"
        "  --index page|page-xor-domain  set index function (default page)\n"
        "  --random                 seeded constrained-random stream (the default)\n"
        "  --directed               directed corner cases\n"
        "  --trace FILE             replay an IOTLB trace (iommu-sim run --iotlb-trace FILE)\n"
        "  --transactions N         random stream length (default 100000)\n"
        "  --soak                   a long random run: 5000000 transactions unless given\n"
        "  --seed N                 random seed (default 1)\n"
        "  --domains N --hot-pages N --hot P --sequential P --superpages P --invalidate P\n"
        "                           locality and mix knobs of the random stream\n"
        "  --waves FILE             FST waveform of the whole run\n"
        "  --mismatch-waves FILE    where a mismatch's replay waves go\n"
        "                           (default iotlb-cosim-mismatch.fst)\n"
        "  --no-probe               skip the content probes after invalidations\n";
}

bool parse_u64(const char* s, uint64_t& out) { return iommu_sim::parse_u64(s, out); }

bool parse_p(const char* s, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end && *end == '\0' && out >= 0.0 && out <= 1.0;
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  CosimOptions opt;
  opt.iotlb.policy = ReplacementKind::Plru;
  bool soak = false, transactions_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    uint64_t n = 0;
    double p = 0;
    auto bad = [&]() {
      std::cerr << "iotlb-cosim: bad or missing value for " << a << "\n";
      usage(std::cerr);
      return 2;
    };
    if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else if (a == "--list") {
      std::cout << "RTL IOTLB variants: " << rtl_iotlb_variants_text() << "\n";
      return 0;
    } else if (a == "--policy") {
      if (!v || !parse_replacement_kind(v, opt.iotlb.policy)) return bad();
      ++i;
    } else if (a == "--index") {
      if (!v || !parse_iotlb_index(v, opt.iotlb.index)) return bad();
      ++i;
    } else if (a == "--sets" || a == "--ways" || a == "--transactions" || a == "--seed" ||
               a == "--domains" || a == "--hot-pages") {
      if (!v || !parse_u64(v, n)) return bad();
      ++i;
      if (a == "--sets") opt.iotlb.sets = static_cast<unsigned>(n);
      else if (a == "--ways") opt.iotlb.ways = static_cast<unsigned>(n);
      else if (a == "--transactions") { opt.transactions = n; transactions_given = true; }
      else if (a == "--seed") opt.knobs.seed = n;
      else if (a == "--domains") opt.knobs.domains = static_cast<unsigned>(n);
      else opt.knobs.hot_pages = static_cast<unsigned>(n);
    } else if (a == "--hot" || a == "--sequential" || a == "--superpages" ||
               a == "--invalidate") {
      if (!v || !parse_p(v, p)) return bad();
      ++i;
      if (a == "--hot") opt.knobs.hot = p;
      else if (a == "--sequential") opt.knobs.sequential = p;
      else if (a == "--invalidate") opt.knobs.invalidate = p;
      else { opt.knobs.size_2m = p * 0.8; opt.knobs.size_1g = p * 0.2; }
    } else if (a == "--random") {
      opt.stimulus = CosimOptions::Random;
    } else if (a == "--directed") {
      opt.stimulus = CosimOptions::Directed;
    } else if (a == "--trace") {
      if (!v) return bad();
      opt.stimulus = CosimOptions::Trace;
      opt.trace_path = v;
      ++i;
    } else if (a == "--soak") {
      soak = true;
    } else if (a == "--waves" || a == "--mismatch-waves") {
      if (!v) return bad();
      (a == "--waves" ? opt.waves : opt.mismatch_waves) = v;
      ++i;
    } else if (a == "--no-probe") {
      opt.probe_after_invalidate = false;
    } else {
      std::cerr << "iotlb-cosim: unknown option " << a << "\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (soak && !transactions_given) opt.transactions = 5000000;

  const CosimReport report = run_cosim(opt);
  if (!report.ok) {
    std::cerr << (report.bad_input ? "iotlb-cosim: " : "") << report.message;
    if (report.message.empty() || report.message.back() != '\n') std::cerr << "\n";
    return report.bad_input ? 2 : 1;
  }
  std::cout << report.message << "\n"
            << "  " << report.seconds << " s, "
            << (report.seconds > 0 ? static_cast<double>(report.rtl_cycles) / report.seconds : 0)
            << " RTL cycles per second\n";
  return 0;
}
