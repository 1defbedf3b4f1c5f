// The IOTLB access stream, one operation a record, as text (one operation a line) or in a
// compact binary form (formats: docs/iotlb.md, "Trace format"). The remapper writes it; the
// co-simulation replays it into the model and the RTL, and the one-pass exploration replays its
// Access and invalidation records across many geometries. Readers tell the two formats apart by
// the binary header, so every consumer takes either.
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

enum class IotlbTraceFormat : uint8_t { Text, Binary };
// "text", "binary".
const char* to_string(IotlbTraceFormat format);
// Parses the names above; false (out untouched) otherwise.
bool parse_iotlb_trace_format(const std::string& text, IotlbTraceFormat& out);

// How a trace is written: its format, and which operations it records.
struct IotlbTraceStyle {
  IotlbTraceFormat format = IotlbTraceFormat::Text;
  // Only Access records and invalidations: what a one-pass exploration reads (it ignores Lookup
  // and Fill, which are what the recording geometry itself did), at under half the size. A
  // co-simulation replay needs every operation.
  bool accesses_only = false;
};
// Which operations a style records, by name: "all" or "accesses" (accesses_only); false (out
// untouched) for anything else.
bool parse_iotlb_trace_ops(const std::string& text, bool& accesses_only);

// The version of the binary format this build writes and reads.
constexpr uint32_t kIotlbTraceBinaryVersion = 1;

class IotlbTraceWriter {
 public:
  // A binary writer writes the header at once, so that a trace with no operation is still a
  // valid binary trace. Each write() goes to the stream whole: nothing is held back.
  explicit IotlbTraceWriter(std::ostream& os,
                            IotlbTraceFormat format = IotlbTraceFormat::Text);
  IotlbTraceWriter(std::ostream& os, const IotlbTraceStyle& style);
  // Writes the operation, unless the style leaves its kind out.
  void write(const IotlbOp& op);
  // A comment: "# text" on a line of its own, or a comment record (newlines in text are
  // replaced by spaces in both).
  void comment(const std::string& text);
  uint64_t ops_written() const { return m_ops; }
  IotlbTraceFormat format() const { return m_format; }

 private:
  void put(const char* data, size_t size);

  std::ostream& m_os;
  IotlbTraceFormat m_format;
  bool m_accesses_only = false;
  uint64_t m_ops = 0;
};

// Streaming reader for traces too large to hold in memory, of either format (the binary
// header decides; anything else is read as text). Reads the stream in large blocks, so it may
// read past the last operation it returns.
class IotlbTraceReader {
 public:
  explicit IotlbTraceReader(std::istream& is) : m_is(is) {}

  // The next operation; false at the end of the stream or on a malformed line or record, in
  // which case error() says where and what ("line N: ..." or "record N (byte B): ..."; empty at
  // a clean end).
  bool next(IotlbOp& op);
  // The next operation or comment, in stream order (for converting a trace with its comments).
  enum class Item { Op, Comment, End };
  Item next_item(IotlbOp& op, std::string& comment);

  const std::string& error() const { return m_error; }
  // Text: the line of the latest operation (or error). Binary: its record number (1-based,
  // the header not counted).
  uint64_t line_number() const { return m_line; }
  // "line N" or "record N", for messages about the latest operation.
  std::string where() const;
  // Known once the first operation, comment or end has been read; Text before.
  IotlbTraceFormat format() const { return m_format; }

 private:
  Item next_text(IotlbOp& op, std::string* comment);
  Item next_binary(IotlbOp& op, std::string* comment);
  void detect_format();
  // Makes at least `n` unread bytes available if the stream has them; false at its end.
  bool ensure(size_t n);
  // Makes [m_pos, m_complete) hold at least one whole line, ending with its '\n'; false at the
  // end of the stream or on an error (with m_error set).
  bool more_lines();
  Item fail(const std::string& message);
  // A malformed binary record: "record N (byte B): what", B its offset in the stream.
  Item bad_record(const std::string& what);

  std::istream& m_is;
  std::vector<char> m_buf;  // a block of the stream; [m_pos, m_end) not consumed yet
  size_t m_pos = 0, m_end = 0;
  size_t m_complete = 0;    // text: the bytes before it are whole lines
  uint64_t m_offset = 0;    // stream offset of m_buf[0]
  bool m_eof = false;
  bool m_started = false;
  IotlbTraceFormat m_format = IotlbTraceFormat::Text;
  std::string m_error;
  uint64_t m_line = 0;
};

// Parses one text line. Returns false with `error` set (without the line number) if malformed;
// true with `has_op` false for a blank or comment-only line.
bool parse_iotlb_op(const std::string& line, IotlbOp& op, bool& has_op, std::string& error);

// Appends every operation of the stream (either format) to `ops`. On a malformed line or record
// returns false, with `error` naming it ("line 12: ..."); the operations before it are kept.
bool read_iotlb_trace(std::istream& is, std::vector<IotlbOp>& ops, std::string& error);

// Copies a trace of either format, operations and comments in order, into `to` format. Returns
// false with `error` naming the bad line or record (what came before it is written), or when
// the output cannot be written. `ops` (if given) gets the number of operations copied.
bool convert_iotlb_trace(std::istream& in, std::ostream& out, IotlbTraceFormat to,
                         std::string& error, uint64_t* ops = nullptr);

// Performs the operation on the IOTLB as the remapper did. Access ops are ignored: they record
// translations, not IOTLB calls.
void apply(Iotlb& iotlb, const IotlbOp& op);

// For exploring other geometries with the same DMA stream: an Access is a lookup and, on a miss,
// a fill of its entry; invalidations are applied; Lookup and Fill ops (specific to the geometry
// that recorded them) are ignored. Returns true for an Access that hit.
bool replay_access(Iotlb& iotlb, const IotlbOp& op);

}  // namespace iommu_sim
