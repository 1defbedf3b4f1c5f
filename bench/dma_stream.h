// What the remapper benchmarks share: a stream of 64-byte DMA reads through an initiator socket
// (b_transport, no DMI), timed on the host, and the median of repeated runs.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>

#include "iommu_sim/common/pcie_extension.h"

namespace iommu_sim {
namespace bench {

// Reads 64 bytes at base + page * 4096 + 64 for every page, as requester `ext`, and returns the
// host seconds it took; a DMA that fails ends the program naming `who`.
template <typename Socket>
double timed_reads(Socket& socket, PcieExtension& ext, uint64_t base, const std::vector<uint32_t>& pages,
                   const char* who) {
  tlm::tlm_generic_payload p;
  p.set_extension(&ext);
  uint8_t data[64];
  sc_core::sc_time delay;
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t page : pages) {
    p.set_command(tlm::TLM_READ_COMMAND);
    p.set_address(base + uint64_t(page) * 4096 + 64);
    p.set_data_ptr(data);
    p.set_data_length(64);
    p.set_streaming_width(64);
    p.set_byte_enable_ptr(nullptr);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(p, delay);
    if (!p.is_response_ok()) {
      std::fprintf(stderr, "%s: DMA failed\n", who);
      std::exit(1);
    }
  }
  const auto end = std::chrono::steady_clock::now();
  p.clear_extension(&ext);
  return std::chrono::duration<double>(end - start).count();
}

// The page streams of the remapper benchmarks: `hot` cycles over 16 pages, `random` draws from
// `pages` pages (xorshift64 from a fixed seed, the same sequence in every benchmark).
inline void page_streams(uint64_t dmas, uint64_t pages, std::vector<uint32_t>& hot,
                         std::vector<uint32_t>& random) {
  hot.resize(dmas);
  random.resize(dmas);
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (uint64_t i = 0; i < dmas; ++i) {
    hot[i] = static_cast<uint32_t>(i % 16);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    random[i] = static_cast<uint32_t>(x % pages);
  }
}

// The remapper benchmarks' options: [--dmas N] [--repeats R] [--only STREAM], STREAM one of
// `streams` ("a|b|c"). False, having printed why, on anything else (exit status 2).
struct Options {
  uint64_t dmas = 0;
  unsigned repeats = 5;
  std::string only;  // empty: every stream
};
inline bool parse_options(int argc, char* argv[], const char* program, const std::string& streams,
                          Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dmas" && i + 1 < argc) {
      o.dmas = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--repeats" && i + 1 < argc) {
      o.repeats = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--only" && i + 1 < argc) {
      o.only = argv[++i];
      if (("|" + streams + "|").find("|" + o.only + "|") == std::string::npos) {
        std::fprintf(stderr, "%s: --only takes one of %s\n", program, streams.c_str());
        return false;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--dmas N] [--repeats R] [--only %s]\n", program, streams.c_str());
      return false;
    }
  }
  if (o.dmas == 0 || o.repeats == 0) {
    std::fprintf(stderr, "%s: --dmas and --repeats must be positive\n", program);
    return false;
  }
  return true;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace bench
}  // namespace iommu_sim
