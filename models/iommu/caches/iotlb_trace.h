// The IOTLB access stream as text, one operation a line (format: docs/iotlb.md, "Trace format").
// The remapper writes it; the co-simulation replays it into the model and the RTL, and the
// one-pass exploration replays its Access and invalidation lines across many geometries.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "iommu_sim/iommu/caches/iotlb.h"

namespace iommu_sim {

struct IotlbOp {
  enum Kind { Lookup, Fill, InvalidateAll, InvalidateDomain, InvalidatePages, Access } kind =
      Lookup;
  // domain and vpn for Lookup, InvalidatePages; domain for InvalidateDomain;
  // the whole entry for Fill and Access.
  IotlbEntry entry;
  unsigned am = 0;  // InvalidatePages only
};

class IotlbTraceWriter {
 public:
  explicit IotlbTraceWriter(std::ostream& os) : m_os(os) {}
  void write(const IotlbOp& op);
  // "# text" on a line of its own (newlines in text are replaced by spaces).
  void comment(const std::string& text);
  uint64_t ops_written() const { return m_ops; }

 private:
  std::ostream& m_os;
  uint64_t m_ops = 0;
};

// Streaming reader for traces too large to hold in memory.
class IotlbTraceReader {
 public:
  explicit IotlbTraceReader(std::istream& is) : m_is(is) {}
  // The next operation; false at the end of the stream or on a malformed line, in which case
  // error() says "line N: ..." (empty at a clean end).
  bool next(IotlbOp& op);
  const std::string& error() const { return m_error; }
  uint64_t line_number() const { return m_line; }

 private:
  std::istream& m_is;
  std::string m_error;
  uint64_t m_line = 0;
};

// Parses one line. Returns false with `error` set (without the line number) if malformed;
// true with `has_op` false for a blank or comment-only line.
bool parse_iotlb_op(const std::string& line, IotlbOp& op, bool& has_op, std::string& error);

// Appends every operation of the stream to `ops`. On a malformed line returns false, with
// `error` naming the line ("line 12: ..."); the operations before it are kept.
bool read_iotlb_trace(std::istream& is, std::vector<IotlbOp>& ops, std::string& error);

// Performs the operation on the IOTLB as the remapper did. Access ops are ignored: they record
// translations, not IOTLB calls.
void apply(Iotlb& iotlb, const IotlbOp& op);

// For exploring other geometries with the same DMA stream: an Access is a lookup and, on a miss,
// a fill of its entry; invalidations are applied; Lookup and Fill ops (specific to the geometry
// that recorded them) are ignored. Returns true for an Access that hit.
bool replay_access(Iotlb& iotlb, const IotlbOp& op);

}  // namespace iommu_sim
