// The IOTLB access stream, through the public reader interface only: any input reads to its end
// or stops at a malformed line ("line N: ..."), binary record ("record N ...") or binary header
// ("binary trace header: ..."); every operation read can be applied to an
// IOTLB and replayed, and written back it reads as the same operation.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "iommu_sim/iommu/caches/iotlb.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"

using namespace iommu_sim;

namespace {
bool same(const IotlbOp& a, const IotlbOp& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case IotlbOp::InvalidateAll: return true;
    case IotlbOp::InvalidateDomain: return a.entry.domain == b.entry.domain;
    case IotlbOp::InvalidatePages:
      return a.entry.domain == b.entry.domain && a.entry.vpn == b.entry.vpn && a.am == b.am;
    case IotlbOp::Lookup: return a.entry.domain == b.entry.domain && a.entry.vpn == b.entry.vpn;
    default: return a.entry == b.entry;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  IotlbConfig cfg;
  cfg.sets = 4;
  cfg.ways = 2;
  IotlbModel tlb(cfg);
  IotlbModel replay(cfg);
  IotlbTraceReader reader(in);
  IotlbOp op;
  while (reader.next(op)) {
    apply(tlb, op);
    replay_access(replay, op);
    std::ostringstream written;
    IotlbTraceWriter(written).write(op);
    std::istringstream back(written.str());
    IotlbTraceReader again(back);
    IotlbOp read_back;
    if (!again.next(read_back) || !same(op, read_back)) {
      std::fprintf(stderr, "an operation does not read back as written: %s (%s)\n",
                   written.str().c_str(), again.error().c_str());
      std::abort();
    }
  }
  const std::string& error = reader.error();
  const auto starts = [&](const char* prefix) { return error.rfind(prefix, 0) == 0; };
  if (!error.empty() && !starts("line ") && !starts("record ") && !starts("binary trace header: ")) {
    std::fprintf(stderr, "an error that names no place: %s\n", error.c_str());
    std::abort();
  }
  return 0;
}
