#include "iommu_sim/platform/calibrate/latency_fit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace iommu_sim {

namespace {

// Items of `span` bytes that [base, base + window) touches.
double items_touched(uint64_t base, uint64_t window, uint64_t span) {
  const uint64_t first = base / span;
  const uint64_t last = (base + window - 1) / span;
  return static_cast<double>(last - first + 1);
}

}  // namespace

double expected_misses(double items, double entries, double accesses) {
  if (accesses <= 0 || items <= 0) return 0;
  // Distinct items among `a` uniform draws: every one of them was a miss.
  auto distinct = [items](double a) { return items * (1.0 - std::pow(1.0 - 1.0 / items, a)); };
  if (items <= entries) return distinct(accesses);
  // Accesses until the cache holds `entries` distinct items (coupon collector), after which
  // each access misses with probability 1 - entries/items whatever the replacement policy.
  double fill = 0;
  const unsigned n = static_cast<unsigned>(entries);
  for (unsigned k = 0; k < n; ++k) fill += items / (items - k);
  if (accesses <= fill) return distinct(accesses);
  return entries + (accesses - fill) * (1.0 - entries / items);
}

CandidateCurve analytic_curve(const AnalyticGeometry& g, const std::vector<uint64_t>& windows,
                              uint64_t base, uint64_t dmas) {
  CandidateCurve c;
  const double n = static_cast<double>(dmas);
  for (uint64_t w : windows) {
    const double pages = items_touched(base, w, 4096);
    const double walks = expected_misses(pages, g.entries, n);
    double reads = 0;
    if (!g.pscache) {
      reads = walks * g.levels;
    } else {
      // The deepest level that hits decides the reads: L2 hit 1, L3 hit 2, L4 hit 3, none 4.
      reads = walks;
      double misses_above = walks;
      for (unsigned level = 2; level <= g.levels; ++level) {
        const uint64_t span = 4096ULL << (9 * (level - 1));
        const double m = expected_misses(items_touched(base, w, span), g.ps_entries, misses_above);
        reads += m;
        misses_above = m;
      }
    }
    const double context_reads = g.context_cache ? 2.0 : 2.0 * n;
    c.reads_per_dma.push_back((reads + context_reads) / n);
    c.walks_per_dma.push_back(walks / n);
    const double probes = (g.context_cache ? g.probe_ns : 0.0) + g.probe_ns +
                          (g.pscache ? g.probe_ns * walks / n : 0.0);
    c.other_ns.push_back(probes);
  }
  return c;
}

LinearFit fit_latencies(const std::vector<double>& y, const CandidateCurve& c, double min_read_ns,
                        double sigma2, unsigned extra_params) {
  const size_t n = y.size();
  if (c.reads_per_dma.size() != n || c.other_ns.size() != n)
    throw std::invalid_argument("fit_latencies: the candidate curve has another window count");
  // z = U + R x, x = 1 + t.
  std::vector<double> x(n), z(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = 1.0 + c.reads_per_dma[i];
    z[i] = y[i] - c.other_ns[i];
  }
  double sx = 0, sz = 0, sxx = 0, sxz = 0;
  for (size_t i = 0; i < n; ++i) {
    sx += x[i];
    sz += z[i];
    sxx += x[i] * x[i];
    sxz += x[i] * z[i];
  }
  const double N = static_cast<double>(n);
  const double det = N * sxx - sx * sx;
  LinearFit f;
  double U = 0, R = 0;
  if (det > 1e-12 * N * sxx) {
    R = (N * sxz - sx * sz) / det;
    U = (sz - R * sx) / N;
  } else {
    // t does not vary: U and R are not separable; put everything on U with R at its bound.
    R = min_read_ns;
    U = (sz - R * sx) / N;
    f.read_at_bound = true;
  }
  if (R < min_read_ns) {
    R = min_read_ns;
    U = (sz - R * sx) / N;
    f.read_at_bound = true;
  }
  if (U < 0) {
    U = 0;
    f.upstream_at_bound = true;
    R = std::max(min_read_ns, sxx > 0 ? sxz / sxx : min_read_ns);
    f.read_at_bound = R == min_read_ns;
  }
  f.upstream_ns = U;
  f.read_ns = R;
  f.fitted.resize(n);
  for (size_t i = 0; i < n; ++i) {
    f.fitted[i] = U + R * x[i] + c.other_ns[i];
    const double r = y[i] - f.fitted[i];
    f.sse += r * r;
  }
  const double dof = N - 2.0 - extra_params;
  const double s2 = sigma2 > 0 ? sigma2 : (dof > 0 ? f.sse / dof : 0.0);
  if (s2 > 0 && det > 0) {
    // Covariance s2 * (X'X)^-1 of the unconstrained problem; a parameter on its bound has none.
    if (!f.read_at_bound && !f.upstream_at_bound) {
      f.read_se = std::sqrt(s2 * N / det);
      f.upstream_se = std::sqrt(s2 * sxx / det);
      f.covariance = -s2 * sx / det;
    } else if (!f.upstream_at_bound) {
      f.upstream_se = std::sqrt(s2 / N);
    } else if (!f.read_at_bound) {
      f.read_se = std::sqrt(s2 / sxx);
    }
  }
  return f;
}

}  // namespace iommu_sim
