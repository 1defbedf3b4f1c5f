// iotlb-rtl-bench: speed of the Verilated IOTLB, alone and in lockstep with the C++ model, in
// one run. Both drive the same random stream through the adapter (delta-cycle clocking, as in
// the platform); "alone" leaves the C++ model out. Prints RTL cycles per host second for each
// and their ratio, per repetition and the median.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "iommu_sim/rtl/cosim/iotlb_lockstep.h"

using namespace iommu_sim;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

// The stream without a reference: the RTL's own lookups drive the fill-after-miss feedback,
// and requests the RTL leaves waiting are presented again, as the lockstep bench does.
void run_alone(RtlIotlb& rtl, RandomStimulus& gen, uint64_t transactions, bool& last_missed) {
  for (uint64_t i = 0; i < transactions; ++i) {
    RtlCycleIn pending = gen.next(last_missed);
    while (pending.lookup || pending.fill || pending.invalidate) {
      const RtlCycleIn in = pending;
      const RtlCycleOut out = rtl.cycle(in);
      if (out.lookup_valid) last_missed = !out.lookup.hit;
      pending = RtlCycleIn{};
      if (in.invalidate && in.fill) {
        pending.fill = true;
        pending.fill_entry = in.fill_entry;
      } else if (!in.invalidate && in.fill && in.lookup) {
        pending.lookup = true;
        pending.lookup_domain = in.lookup_domain;
        pending.lookup_vpn = in.lookup_vpn;
      }
    }
  }
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  IotlbConfig config;
  config.policy = ReplacementKind::Plru;
  uint64_t transactions = 200000, repeat = 5, seed = 1;
  for (int i = 1; i + 1 < argc || (i < argc && std::string(argv[i]) == "--help"); i += 2) {
    const std::string a = argv[i];
    if (a == "--help") {
      std::cout << "usage: iotlb-rtl-bench [--policy lru|plru|fifo] [--sets N] [--ways N]\n"
                   "                       [--transactions N] [--repeat N] [--seed N]\n";
      return 0;
    }
    const std::string v = argv[i + 1];
    if (a == "--policy") {
      if (!parse_replacement_kind(v, config.policy)) {
        std::cerr << "iotlb-rtl-bench: unknown policy " << v << "\n";
        return 2;
      }
    } else if (a == "--sets") config.sets = static_cast<unsigned>(std::stoul(v));
    else if (a == "--ways") config.ways = static_cast<unsigned>(std::stoul(v));
    else if (a == "--transactions") transactions = std::stoull(v);
    else if (a == "--repeat") repeat = std::max<uint64_t>(1, std::stoull(v));
    else if (a == "--seed") seed = std::stoull(v);
    else {
      std::cerr << "iotlb-rtl-bench: unknown option " << a << "\n";
      return 2;
    }
  }

  std::string error;
  std::unique_ptr<RtlIotlb> alone = make_rtl_iotlb_adapter(config, error, "alone");
  std::unique_ptr<RtlIotlb> paired = make_rtl_iotlb_adapter(config, error, "paired");
  if (!alone || !paired) {
    std::cerr << "iotlb-rtl-bench: " << error << "\n";
    return 2;
  }
  IotlbModel ref(config);
  // No content probes: both runs then see exactly the same cycles.
  IotlbLockstep lockstep(*paired, ref, nullptr, "", false);

  std::vector<double> alone_rate, lockstep_rate, ratio;
  bool failed = false;
  run_in_sc_thread([&] {
    StimulusKnobs knobs;
    knobs.seed = seed;
    RandomStimulus gen_alone(knobs), gen_lockstep(knobs);
    bool last_missed = false;
    for (uint64_t r = 0; r < repeat && !failed; ++r) {
      const uint64_t c0 = alone->rtl_cycles();
      auto t0 = std::chrono::steady_clock::now();
      run_alone(*alone, gen_alone, transactions, last_missed);
      const double s_alone = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double a = static_cast<double>(alone->rtl_cycles() - c0) / s_alone;

      const uint64_t c1 = paired->rtl_cycles();
      t0 = std::chrono::steady_clock::now();
      for (uint64_t i = 0; i < transactions && !failed; ++i)
        failed = !lockstep.run(gen_lockstep.next(lockstep.last_missed()));
      const double s_lock = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double l = static_cast<double>(paired->rtl_cycles() - c1) / s_lock;

      alone_rate.push_back(a);
      lockstep_rate.push_back(l);
      ratio.push_back(a / l);
      std::cout << "run " << r + 1 << ": alone " << static_cast<uint64_t>(a)
                << " cycles/s, lockstep " << static_cast<uint64_t>(l)
                << " cycles/s, lockstep slowdown " << a / l << "x\n";
    }
  });
  if (failed) {
    std::cerr << lockstep.report();
    return 1;
  }
  std::cout << "iotlb-rtl-bench " << alone->variant() << ", " << transactions
            << " transactions per run, median of " << repeat << ":\n"
            << "  RTL alone:     " << static_cast<uint64_t>(median(alone_rate))
            << " cycles per host second\n"
            << "  RTL + C++ model in lockstep: " << static_cast<uint64_t>(median(lockstep_rate))
            << " cycles per host second\n"
            << "  lockstep slowdown: " << median(ratio) << "x (target: at most 3x)\n";
  return 0;
}
