// The arithmetic of `iommu-sim calibrate`: the latency of one outstanding DMA read as the model
// computes it, fitted to a measured curve. Plain C++.
//
// With one DMA outstanding nothing in the model waits on anything else, so the mean latency at a
// window is linear in the two continuous parameters fitted:
//
//   latency = U + R * (1 + t) + K
//
//   U  fixed link and root-complex latency (pcie.upstream_latency_ns)
//   R  memory read latency: the data read itself and every table read of a walk
//      (memory.read_latency_ns)
//   t  table reads per DMA (walk and context reads over DMAs), a property of the IOTLB and
//      paging-structure-cache geometry and of the access stream, not of U or R
//   K  the rest: IOTLB and cache probes, per DMA
//
// A model run with any U and R therefore gives t and K for its geometry, and the best U and R for
// that geometry are a linear least-squares fit. The discrete parameters (IOTLB entries, paging-
// structure caches) are searched over candidates; the analytic predictor below ranks them before
// the model runs the best ones (it is checked against the model by the tests).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iommu_sim {

// One candidate geometry's curve, per window: what the model (or the analytic predictor) says.
struct CandidateCurve {
  std::vector<double> reads_per_dma;  // t
  std::vector<double> walks_per_dma;  // IOTLB misses that walked, over DMAs
  std::vector<double> other_ns;       // K
};

struct LinearFit {
  double upstream_ns = 0;      // U
  double read_ns = 0;          // R
  double sse = 0;              // sum of squared residuals, ns^2
  std::vector<double> fitted;  // per window
  // Standard errors from the residual variance `sigma2` given to fit_latencies (0 when the fit
  // has no degrees of freedom left or a parameter sits on its bound).
  double upstream_se = 0, read_se = 0, covariance = 0;  // covariance of U and R
  bool upstream_at_bound = false, read_at_bound = false;
};

// Least squares of measured = U + R * (1 + t) + K over U >= 0, R >= min_read_ns. sigma2 <= 0:
// the residual variance is estimated as sse / (n - extra_params - 2).
LinearFit fit_latencies(const std::vector<double>& measured, const CandidateCurve& c,
                        double min_read_ns = 0.0, double sigma2 = 0.0, unsigned extra_params = 0);

// What a geometry does to uniformly random DMAs over a contiguous window, in expectation, from a
// cold start: an IOTLB of `entries` (any associativity: a contiguous window spreads its pages
// evenly over the sets, so every geometry of the same size sees the same hit rate) and the
// paging-structure caches (one per level, `ps_entries` each; off: every walk reads `levels`
// entries). Counts of `dmas` accesses of `access_size` bytes from `base`.
struct AnalyticGeometry {
  unsigned entries = 128;
  bool pscache = true;
  unsigned ps_entries = 16;
  unsigned levels = 4;
  double probe_ns = 2.0;       // context-cache probe, IOTLB lookup, paging-structure probe each
  bool context_cache = true;
};

CandidateCurve analytic_curve(const AnalyticGeometry& g, const std::vector<uint64_t>& windows,
                              uint64_t base, uint64_t dmas);

// Expected misses of a cache of `entries` over `accesses` uniform references to `items` items,
// from empty (fill phase, then the steady miss ratio 1 - entries/items).
double expected_misses(double items, double entries, double accesses);

}  // namespace iommu_sim
