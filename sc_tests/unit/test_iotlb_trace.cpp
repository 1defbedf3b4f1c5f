// The IOTLB trace: text round trip, error reporting, replay.
#include <catch2/catch.hpp>

#include <random>
#include <sstream>

#include "iommu_sim/iommu/caches/iotlb_trace.h"

using namespace iommu_sim;

namespace {

IotlbOp op(IotlbOp::Kind kind, uint16_t domain = 0, uint64_t vpn = 0, uint64_t pfn = 0,
           bool r = false, bool w = false, PageSize size = PageSize::Size4K, unsigned am = 0) {
  IotlbOp o;
  o.kind = kind;
  o.entry.domain = domain;
  o.entry.vpn = vpn;
  o.entry.pfn = pfn;
  o.entry.read = r;
  o.entry.write = w;
  o.entry.size = size;
  o.am = am;
  return o;
}

bool same(const IotlbOp& a, const IotlbOp& b) {
  return a.kind == b.kind && a.entry == b.entry && a.am == b.am;
}

}  // namespace

TEST_CASE("trace write and read round trip", "[unit]") {
  const std::vector<IotlbOp> ops = {
      op(IotlbOp::Lookup, 1, 0x12345),
      op(IotlbOp::Fill, 1, 0x12345, 0xABCDE, true, true),
      op(IotlbOp::Access, 1, 0x12345, 0xABCDE, true, true),
      op(IotlbOp::Fill, 65535, 0x400, 0x80200, true, false, PageSize::Size2M),
      op(IotlbOp::Access, 2, 0xFFFFFFFFC0000, 0x40000, false, true, PageSize::Size1G),
      op(IotlbOp::Fill, 3, 0x1, 0x2, false, false),
      op(IotlbOp::InvalidateAll),
      op(IotlbOp::InvalidateDomain, 7),
      op(IotlbOp::InvalidatePages, 7, 0x100, 0, false, false, PageSize::Size4K, 63),
  };
  std::ostringstream out;
  IotlbTraceWriter writer(out);
  writer.comment("recorded by a test\nsecond line");
  for (const IotlbOp& o : ops) writer.write(o);
  CHECK(writer.ops_written() == ops.size());
  const std::string text = out.str();
  CHECK(text.find("# recorded by a test second line\n") == 0);
  CHECK(text.find("F 65535 400 80200 r 2M\n") != std::string::npos);
  CHECK(text.find("F 3 1 2 - 4K\n") != std::string::npos);
  CHECK(text.find("IP 7 100 63\n") != std::string::npos);

  std::istringstream in(text);
  std::vector<IotlbOp> back;
  std::string error;
  REQUIRE(read_iotlb_trace(in, back, error));
  CHECK(error.empty());
  REQUIRE(back.size() == ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    INFO("op " << i);
    CHECK(same(back[i], ops[i]));
  }
}

TEST_CASE("trace reader skips comments and blank lines and accepts 0x", "[unit]") {
  std::istringstream in("# header\n\n  L 2 0x1F   # trailing comment\n\tIG\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].kind == IotlbOp::Lookup);
  CHECK(ops[0].entry.domain == 2);
  CHECK(ops[0].entry.vpn == 0x1F);
  CHECK(ops[1].kind == IotlbOp::InvalidateAll);
}

TEST_CASE("malformed trace lines are reported with their line number", "[unit]") {
  struct Bad {
    const char* text;
    const char* expect;
  };
  const Bad bad[] = {
      {"L 1 10\nIG\nF 1 zz 1 r 4K\n", "line 3: vpn"},
      {"# c\nQ 1 2\n", "line 2: unknown operation 'Q'"},
      {"L 1\n", "line 1: L takes 2 fields, got 1"},
      {"L 70000 1\n", "line 1: domain"},
      {"IG\nIG\nIG\nIG\nF 1 401 80200 rw 2M\n", "line 5: vpn and pfn of a 2M page"},
      {"F 1 10 10 x 4K\n", "line 1: permissions"},
      {"A 1 10 10 r 8K\n", "line 1: page size"},
      {"IP 1 10 64\n", "line 1: address mask"},
      {"L 1 10000000000000\n", "line 1: vpn must be a hex page number of at most 52 bits"},
  };
  for (const Bad& b : bad) {
    INFO(b.text);
    std::istringstream in(b.text);
    std::vector<IotlbOp> ops;
    std::string error;
    CHECK_FALSE(read_iotlb_trace(in, ops, error));
    CHECK_THAT(error, Catch::StartsWith(b.expect));
  }
  // Operations before the bad line are kept.
  std::istringstream in("L 1 10\nIG\nF 1 zz 1 r 4K\nIG\n");
  std::vector<IotlbOp> ops;
  std::string error;
  CHECK_FALSE(read_iotlb_trace(in, ops, error));
  CHECK(ops.size() == 2);
}

TEST_CASE("apply replays iotlb calls and ignores access lines", "[unit]") {
  IotlbConfig c;
  c.sets = 1;
  c.ways = 2;
  IotlbModel t(c);
  std::istringstream in(
      "L 1 10\nF 1 10 20 rw 4K\nA 1 10 20 rw 4K\nA 1 11 21 rw 4K\nL 1 10\nIP 1 10 0\nL 1 10\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  for (const IotlbOp& o : ops) apply(t, o);
  CHECK(t.stats().lookups == 3);
  CHECK(t.stats().hits == 1);
  CHECK(t.stats().fills == 1);
  CHECK(t.stats().invalidations == 1);
  CHECK(t.valid_entries() == 0);  // the access to 0x11 filled nothing
}

TEST_CASE("replay access explores another geometry from access lines", "[unit]") {
  IotlbConfig c;
  c.sets = 1;
  c.ways = 2;
  IotlbModel t(c);
  std::istringstream in(
      "L 1 10\nF 1 10 20 rw 4K\nA 1 10 20 rw 4K\n"  // L and F are ignored
      "A 1 10 20 rw 4K\nA 1 11 21 rw 4K\nA 1 12 22 rw 4K\nA 1 10 20 rw 4K\n"
      "ID 1\nA 1 12 22 rw 4K\nA 1 400 80200 r 2M\nA 1 400 80200 r 2M\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  std::vector<bool> hits;
  for (const IotlbOp& o : ops)
    if (o.kind == IotlbOp::Access) hits.push_back(replay_access(t, o));
    else replay_access(t, o);
  // 10 miss, 10 hit, 11 miss, 12 miss (touches 10 10 11: evicts 10), 10 miss (evicts 11);
  // the domain invalidation empties it: 12 miss, 2M miss, 2M hit.
  const std::vector<bool> expected = {false, true, false, false, false, false, false, true};
  CHECK(hits == expected);
  CHECK(t.stats().invalidations == 1);
}

namespace {

// Reads a whole trace; the error (empty at a clean end) in `error`.
std::vector<IotlbOp> read_all(const std::string& bytes, std::string& error) {
  std::istringstream in(bytes);
  std::vector<IotlbOp> ops;
  read_iotlb_trace(in, ops, error);
  return ops;
}

// One of every operation, every page size and permission.
std::vector<IotlbOp> every_kind() {
  return {
      op(IotlbOp::Lookup, 1, 0x12345),
      op(IotlbOp::Fill, 1, 0x12345, 0xABCDE, true, true),
      op(IotlbOp::Access, 1, 0x12345, 0xABCDE, true, true),
      op(IotlbOp::Fill, 65535, 0x400, 0x80200, true, false, PageSize::Size2M),
      op(IotlbOp::Access, 2, 0xFFFFFFFFC0000, 0x40000, false, true, PageSize::Size1G),
      op(IotlbOp::Fill, 3, 0xFFFFFFFFFFFFF, 0x2, false, false),
      op(IotlbOp::InvalidateAll),
      op(IotlbOp::InvalidateDomain, 7),
      op(IotlbOp::InvalidatePages, 7, 0x100, 0, false, false, PageSize::Size4K, 63),
      op(IotlbOp::Lookup, 0, 0),
  };
}

std::string binary_trace(const std::vector<IotlbOp>& ops) {
  std::ostringstream out;
  IotlbTraceWriter writer(out, IotlbTraceFormat::Binary);
  for (const IotlbOp& o : ops) writer.write(o);
  return out.str();
}

}  // namespace

TEST_CASE("numbers that overflow or read as octal elsewhere are errors", "[unit]") {
  struct Bad {
    const char* text;
    const char* expect;
  };
  const Bad bad[] = {
      {"IG\nL 01 10\n", "line 2: domain must be a decimal number 0-65535, got '01': a leading zero"},
      {"IP 1 10 07\n", "line 1: address mask must be a decimal number 0-63, got '07': a leading zero"},
      {"L 1 010\n", "line 1: vpn must be a hex page number of at most 52 bits, got '010': a leading zero is only accepted after 0x"},
      {"A 1 10 010 r 4K\n", "line 1: pfn must be a hex page number of at most 52 bits, got '010'"},
      {"L 65536 1\n", "line 1: domain must be a decimal number 0-65535, got '65536'"},
      {"L 99999999999999999999 1\n", "line 1: domain must be a decimal number 0-65535, got '99999999999999999999'"},
      {"L 1 0x10000000000000\n", "line 1: vpn must be a hex page number of at most 52 bits"},
      {"L 1 1fffffffffffff\n", "line 1: vpn must be a hex page number of at most 52 bits"},
      {"L 1 ffffffffffffffffffff\n", "line 1: vpn must be a hex page number of at most 52 bits"},
      {"L 1 0x\n", "line 1: vpn must be a hex page number of at most 52 bits, got '0x'"},
      {"L -1 10\n", "line 1: domain must be a decimal number"},
      {"L +1 10\n", "line 1: domain must be a decimal number"},
      {"L 0x1 10\n", "line 1: domain must be a decimal number"},
      {"L 1 1e3g\n", "line 1: vpn must be a hex page number"},
      {"IP 1 10 64\n", "line 1: address mask must be a decimal number 0-63, got '64'"},
      {"A 1 10 10 rw 4K extra\n", "line 1: A takes 5 fields, got 6"},
      {"IG 1\n", "line 1: IG takes 0 fields, got 1"},
      {"L 70000\n", "line 1: L takes 2 fields, got 1"},
      {"Q\x01 1\n", "line 1: unknown operation 'Q\\x01'"},
      {"F 1 10 10 r 4k\n", "line 1: page size must be 4K, 2M or 1G, got '4k'"},
      {"F 1 10 10 RW 4K\n", "line 1: permissions must be r, w, rw or -, got 'RW'"},
  };
  for (const Bad& b : bad) {
    INFO(b.text);
    std::string error;
    read_all(b.text, error);
    CHECK_THAT(error, Catch::StartsWith(b.expect));
  }
  // What is accepted: 0 itself, leading zeros after 0x, 52 bits exactly, blanks of every kind,
  // a comment right after a field, CRLF line ends.
  std::string error;
  const std::vector<IotlbOp> ops =
      read_all("L 0 0\nL 1 0x0010\nL 65535 fffffffffffff\r\n\tIP\f2\v0X1F 63#c\nID 9#\n", error);
  CHECK(error.empty());
  REQUIRE(ops.size() == 5);
  CHECK(ops[1].entry.vpn == 0x10);
  CHECK(ops[2].entry.domain == 65535);
  CHECK(ops[2].entry.vpn == kPageNumberMask);
  CHECK(ops[3].entry.vpn == 0x1F);
  CHECK(ops[3].am == 63);
  CHECK(ops[4].kind == IotlbOp::InvalidateDomain);
  CHECK(ops[4].entry.domain == 9);
}

TEST_CASE("text reader: lines across block boundaries, a last line without newline, long lines",
          "[unit]") {
  // Far more than one 64 KiB block, lines of varying length, CRLF, no final newline.
  std::string text;
  std::vector<IotlbOp> want;
  for (uint64_t i = 0; i < 20000; ++i) {
    want.push_back(op(IotlbOp::Access, static_cast<uint16_t>(i % 70000 % 65536), i * 0x1001,
                      i * 7, i % 2 == 0, i % 3 == 0));
    std::ostringstream line;
    IotlbTraceWriter(line).write(want.back());
    text += std::string(i % 7, ' ') + line.str();
    if (i % 5 == 0) text.insert(text.size() - 1, "\r");
  }
  text.pop_back();  // no final newline
  std::string error;
  const std::vector<IotlbOp> got = read_all(text, error);
  CHECK(error.empty());
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) REQUIRE(same(got[i], want[i]));

  // A line longer than the reader takes (1 MiB) is an error naming it, not unbounded memory.
  std::string huge = "IG\n# " + std::string(2u << 20, 'x') + "\nIG\n";
  read_all(huge, error);
  CHECK_THAT(error, Catch::StartsWith("line 2: longer than"));
}

TEST_CASE("trace comments come back in order with next_item, in both formats", "[unit]") {
  for (IotlbTraceFormat format : {IotlbTraceFormat::Text, IotlbTraceFormat::Binary}) {
    INFO(to_string(format));
    std::ostringstream out;
    IotlbTraceWriter writer(out, format);
    writer.comment("first\nline");
    writer.write(op(IotlbOp::InvalidateAll));
    writer.comment("");
    writer.write(op(IotlbOp::InvalidateDomain, 4));
    std::istringstream in(out.str());
    IotlbTraceReader reader(in);
    IotlbOp o;
    std::string comment;
    REQUIRE(reader.next_item(o, comment) == IotlbTraceReader::Item::Comment);
    CHECK(comment == "first line");
    REQUIRE(reader.next_item(o, comment) == IotlbTraceReader::Item::Op);
    CHECK(o.kind == IotlbOp::InvalidateAll);
    REQUIRE(reader.next_item(o, comment) == IotlbTraceReader::Item::Comment);
    CHECK(comment.empty());
    REQUIRE(reader.next_item(o, comment) == IotlbTraceReader::Item::Op);
    CHECK(o.entry.domain == 4);
    CHECK(reader.next_item(o, comment) == IotlbTraceReader::Item::End);
    CHECK(reader.error().empty());
    CHECK(reader.format() == format);
  }
}

TEST_CASE("binary trace round trip and format detection", "[unit]") {
  const std::vector<IotlbOp> ops = every_kind();
  const std::string bytes = binary_trace(ops);
  // Header, then 11 (L), 19 (F, A), 1 (IG), 3 (ID), 12 (IP) bytes per record.
  CHECK(bytes.size() == 16 + 11 * 2 + 19 * 5 + 1 + 3 + 12);
  CHECK(bytes.compare(0, 8, "\x89IOTLB\x1a\n", 8) == 0);
  CHECK(bytes[8] == 1);  // version 1, little-endian
  std::istringstream in(bytes);
  IotlbTraceReader reader(in);
  IotlbOp o;
  for (size_t i = 0; i < ops.size(); ++i) {
    INFO("record " << i + 1);
    REQUIRE(reader.next(o));
    CHECK(same(o, ops[i]));
    CHECK(reader.line_number() == i + 1);
    CHECK(reader.where() == "record " + std::to_string(i + 1));
  }
  CHECK_FALSE(reader.next(o));
  CHECK(reader.error().empty());
  CHECK(reader.format() == IotlbTraceFormat::Binary);

  // An empty binary trace is its header; an empty stream is an empty text trace.
  std::string error;
  CHECK(read_all(binary_trace({}), error).empty());
  CHECK(error.empty());
  CHECK(read_all("", error).empty());
  CHECK(error.empty());
}

TEST_CASE("malformed binary traces are errors naming the record and its byte", "[unit]") {
  const std::string good = binary_trace(every_kind());
  const std::string header = good.substr(0, 16);
  auto with = [&](const std::string& records) { return header + records; };
  // An L record of domain 1 and a vpn.
  auto lookup = [](uint64_t vpn) {
    std::string r(1, '\0');
    r += std::string("\x01\x00", 2);
    for (int i = 0; i < 8; ++i) r += static_cast<char>((vpn >> (8 * i)) & 0xFF);
    return r;
  };
  struct Bad {
    std::string bytes;
    const char* expect;
  };
  std::string version2 = header;
  version2[8] = 2;
  std::string flags = header;
  flags[12] = 1;
  std::string fill_size3 = good.substr(16 + 11, 19);  // the first F record
  fill_size3[0] = static_cast<char>((fill_size3[0] & 0xE7) | 0x18);
  std::string misaligned = good.substr(16 + 11 + 19 * 2, 19);  // the 2M fill
  misaligned[3] = 1;
  const Bad bad[] = {
      {version2, "binary trace header: version 2 is not supported (this reader reads version 1)"},
      {flags, "binary trace header: unknown flags 0x1"},
      {header.substr(0, 12), "binary trace header: truncated"},
      {with(lookup(1) + "\x07"), "record 2 (byte 27): unknown record kind 7"},
      {with("\x0B"), "record 1 (byte 16): reserved bits set in byte 0xb"},
      {with(lookup(1) + lookup(1ULL << 52)), "record 2 (byte 27): vpn 0x10000000000000 has more than 52 bits"},
      {with(fill_size3), "record 1 (byte 16): page size field 3"},
      {with(misaligned), "record 1 (byte 16): vpn and pfn of a 2M page must have their low 9 bits zero"},
      {with(lookup(1).substr(0, 7)), "record 1 (byte 16): truncated"},
      {with(std::string("\x05\x01\x00", 3) + std::string(8, '\0') + "\x40"), "record 1 (byte 16): address mask 64"},
      {with(std::string("\x06\xFF\xFF\xFF\x00", 5)), "record 1 (byte 16): comment of 16777215 bytes"},
      {with(std::string("\x06\x10\x00\x00\x00", 5) + "short"), "record 1 (byte 16): truncated"},
  };
  for (const Bad& b : bad) {
    INFO(b.expect);
    std::string error;
    read_all(b.bytes, error);
    CHECK_THAT(error, Catch::StartsWith(b.expect));
  }
  // The records before a bad one are read.
  std::string error;
  CHECK(read_all(with(lookup(5) + lookup(6) + "\x07"), error).size() == 2);
  CHECK_FALSE(error.empty());
}

TEST_CASE("converting a trace keeps every operation and comment, both ways", "[unit]") {
  std::ostringstream text;
  IotlbTraceWriter writer(text);
  writer.comment("recorded by a test");
  for (const IotlbOp& o : every_kind()) writer.write(o);
  writer.comment("the end");

  std::istringstream in(text.str());
  std::ostringstream binary;
  std::string error;
  uint64_t ops = 0;
  REQUIRE(convert_iotlb_trace(in, binary, IotlbTraceFormat::Binary, error, &ops));
  CHECK(ops == every_kind().size());
  CHECK(binary.str().compare(0, 6, "\x89IOTLB") == 0);

  std::istringstream back_in(binary.str());
  std::ostringstream back;
  REQUIRE(convert_iotlb_trace(back_in, back, IotlbTraceFormat::Text, error));
  CHECK(back.str() == text.str());  // byte for byte, comments included

  // A malformed input: an error naming the line; what came before it is converted.
  std::istringstream bad("IG\nID 1\nL 1 zz\nIG\n");
  std::ostringstream partial;
  CHECK_FALSE(convert_iotlb_trace(bad, partial, IotlbTraceFormat::Binary, error, &ops));
  CHECK_THAT(error, Catch::StartsWith("line 3: vpn"));
  CHECK(ops == 2);
}

TEST_CASE("a trace of accesses only leaves out lookups and fills, in both formats", "[unit]") {
  const std::vector<IotlbOp> ops = every_kind();
  for (const IotlbTraceFormat format : {IotlbTraceFormat::Text, IotlbTraceFormat::Binary}) {
    INFO(to_string(format));
    std::ostringstream out;
    IotlbTraceStyle style;
    style.format = format;
    style.accesses_only = true;
    IotlbTraceWriter writer(out, style);
    for (const IotlbOp& o : ops) writer.write(o);
    std::vector<IotlbOp> want;
    for (const IotlbOp& o : ops)
      if (o.kind != IotlbOp::Lookup && o.kind != IotlbOp::Fill) want.push_back(o);
    REQUIRE(want.size() < ops.size());
    CHECK(writer.ops_written() == want.size());
    std::string error;
    const std::vector<IotlbOp> back = read_all(out.str(), error);
    CHECK(error.empty());
    REQUIRE(back.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK(same(back[i], want[i]));
  }
}

TEST_CASE("the reader's path for lines as written agrees with the full parser on mutated lines", "[unit]") {
  // The reader reads lines in the writer's own layout straight through and hands every other
  // line to the full parser: on any line, it must accept what the full parser accepts, with the
  // same operation, and refuse the rest with the full parser's message.
  const std::vector<std::string> seeds = {
      "A 1 10000 40000 rw 4K", "F 65535 fffffffffffff 1 r 4K", "L 0 0", "L 7 abc",
      "A 12 200 80200 w 2M", "F 3 40000 c0000 - 1G", "A 1 0 0 rw 4K", "IP 7 100 63", "ID 9", "IG"};
  const std::string alphabet = " \t\r#0123456789abcdefABCDEFxXAFLIPDGrw-KMG\x80";
  std::mt19937 rng(12);
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string line = seeds[rng() % seeds.size()];
    for (unsigned m = rng() % 3; m-- > 0;) {
      const size_t at = rng() % (line.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: if (at < line.size()) line[at] = c; break;
        case 1: line.insert(at, 1, c); break;
        case 2: if (at < line.size()) line.erase(at, 1); break;
      }
    }
    IotlbOp want;
    bool has_op = false;
    std::string want_error;
    const bool ok = parse_iotlb_op(line, want, has_op, want_error);
    std::istringstream in(line + "\n");
    IotlbTraceReader reader(in);
    IotlbOp got;
    const bool read = reader.next(got);
    INFO("line '" << line << "'");
    REQUIRE(read == (ok && has_op));
    if (read) {
      REQUIRE(same(got, want));
      ++accepted;
    } else if (!ok) {
      REQUIRE(reader.error() == "line 1: " + want_error);
      ++refused;
    }
  }
  CHECK(accepted > 20000);
  CHECK(refused > 20000);
}
