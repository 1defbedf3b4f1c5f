// A measured DMA latency curve: mean latency of single outstanding DMA reads at random addresses
// within a window, against the window's size. Read from CSV in one of two layouts (docs/calibrate.md):
//
//   curve CSV     a header row naming the columns, then one row per window:
//                   window        bytes; plain, or with a K/M/G suffix (1.5M = 1572864)
//                   mean_ns       mean latency
//                   p50_ns, p90_ns, p99_ns   optional percentiles
//                   samples       optional: DMAs measured at this window
//                 `#` starts a comment line. `iommu-sim calibrate --curve` writes this layout.
//   pcie-bench    the CSV that pcie-bench writes for a latency window sweep (header
//                 `Test,PAT,Cache,HO,DO,WinSZ,SZ,...,Avg(ns),Med(ns),...,#samples`): rows of one
//                 test (LAT_DMA_RD), one access pattern (Rand) and one host-cache state are used;
//                 WinSZ is the window, SZ the DMA size, Avg(ns) the mean, Med(ns) the median.
//
// Plain C++; errors name the file and line.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace iommu_sim {

struct CurvePoint {
  uint64_t window = 0;  // bytes
  double mean_ns = 0;
  double p50_ns = -1, p90_ns = -1, p99_ns = -1;  // < 0: not measured
  uint64_t samples = 0;                          // 0: not given
};

struct MeasuredCurve {
  std::vector<CurvePoint> points;  // ascending window, one per window
  uint32_t access_size = 0;        // bytes per DMA when the file says (pcie-bench SZ), else 0
  std::string format;              // "curve" or "pcie-bench"
  std::string cache_state;         // pcie-bench: the host-cache state used
};

struct CurveReadOptions {
  // pcie-bench files hold several host-cache states (Cold, DThrash, DWarm, HWarm); empty: the
  // file must hold exactly one.
  std::string cache_state;
};

// Returns "" or what is wrong ("FILE:LINE: ..."). `name` is the file's name in messages.
std::string read_measured_curve(std::istream& in, const std::string& name,
                                const CurveReadOptions& options, MeasuredCurve& out);
std::string read_measured_curve_file(const std::string& path, const CurveReadOptions& options,
                                     MeasuredCurve& out);

// Writes the curve CSV layout (the columns that are present in any point).
void write_curve_csv(std::ostream& os, const MeasuredCurve& curve);

// "8K", "1.5M", "65536", "0x1000", "1572864.0": a byte count (whole bytes). False when malformed.
bool parse_byte_count(const std::string& text, uint64_t& out);
// 1.5M -> "1.5M", 65536 -> "64K", 1000 -> "1000".
std::string format_byte_count(uint64_t bytes);

}  // namespace iommu_sim
