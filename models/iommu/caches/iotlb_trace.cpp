#include "iommu_sim/iommu/caches/iotlb_trace.h"

#include <algorithm>
#include <cstring>

namespace iommu_sim {

namespace {

// ---- binary format (docs/iotlb.md, "Binary trace format") ----

// 0x89 first (not ASCII: a text trace never starts with it, and a 7-bit channel breaks it),
// then the name, then ^Z and a newline, which text-mode transfers and tools would mangle.
constexpr char kMagic[8] = {'\x89', 'I', 'O', 'T', 'L', 'B', '\x1a', '\n'};
constexpr size_t kHeaderSize = 16;  // magic, version (u32), flags (u32, zero)

// Record kinds: the low three bits of a record's first byte.
enum RecordKind : uint8_t {
  kRecLookup = 0, kRecFill = 1, kRecAccess = 2, kRecInvalidateAll = 3,
  kRecInvalidateDomain = 4, kRecInvalidatePages = 5, kRecComment = 6,
};
// Record sizes, first byte included: domain u16, page numbers u64, am u8, comment length u32.
constexpr size_t kRecordSize[7] = {11, 19, 19, 1, 3, 12, 5};

constexpr size_t kBlock = size_t{1} << 16;      // bytes read from the stream at a time
// Room kept after the data in the reader's buffer: for the '\n' a last line without one is
// given, and so that the parser, which looks a character or two ahead, never reads past it.
constexpr size_t kPadding = 4;
constexpr size_t kMaxLine = size_t{1} << 20;    // longer text lines are an error
constexpr uint32_t kMaxComment = 1u << 20;      // longer comment records are an error

// Little-endian fields of `bytes` bytes (2, 4 or 8).
void put_le(char* p, uint64_t v, unsigned bytes) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v) >> (64 - 8 * bytes);
#endif
  std::memcpy(p, &v, bytes);
}

uint64_t get_le(const char* p, unsigned bytes) {
  uint64_t v = 0;
  std::memcpy(&v, p, bytes);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v) >> (64 - 8 * bytes);
#endif
  return v;
}

// ---- text format ----

const char* rw_token(const IotlbEntry& e) {
  if (e.read && e.write) return "rw";
  if (e.read) return "r";
  if (e.write) return "w";
  return "-";
}

char* put_text(char* p, const char* s) {
  while (*s) *p++ = *s++;
  return p;
}

char* put_decimal(char* p, unsigned v) {
  char digits[10];
  unsigned n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

char* put_hex(char* p, uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  const unsigned n = v == 0 ? 1 : (64 - static_cast<unsigned>(__builtin_clzll(v)) + 3) / 4;
  for (unsigned i = n; i-- > 0; v >>= 4) p[i] = kDigits[v & 15];
  return p + n;
}

std::string hex(uint64_t v) {
  char buf[16];
  return std::string(buf, put_hex(buf, v));
}

// Character classes of the text format, one table lookup per character. Blanks separate fields,
// as for `istream >> string`; '#' starts a comment anywhere. Hex digits carry their value. The
// parser sees every line followed by its '\n' (kEnd), which stops every scan without a bounds
// check; '\n' never occurs inside a line.
struct CharClasses {
  static constexpr uint8_t kNotHex = 16, kBlank = 32, kHash = 64, kEnd = 128;
  uint8_t of[256];
  constexpr CharClasses() : of() {
    for (unsigned c = 0; c < 256; ++c) of[c] = kNotHex;
    for (unsigned d = 0; d < 10; ++d) of['0' + d] = static_cast<uint8_t>(d);
    for (unsigned d = 0; d < 6; ++d) {
      of['a' + d] = static_cast<uint8_t>(10 + d);
      of['A' + d] = static_cast<uint8_t>(10 + d);
    }
    for (char c : {' ', '\t', '\r', '\v', '\f'}) of[static_cast<unsigned char>(c)] = kNotHex | kBlank;
    of[static_cast<unsigned char>('#')] = kNotHex | kHash;
    of[static_cast<unsigned char>('\n')] = kNotHex | kEnd;
  }
};
constexpr CharClasses kChars;

inline uint8_t char_class(char c) { return kChars.of[static_cast<unsigned char>(c)]; }
inline bool is_blank(char c) { return (char_class(c) & CharClasses::kBlank) != 0; }
// A field ends at a blank, a '#' or the end of the line.
inline bool ends_field(char c) {
  return (char_class(c) & (CharClasses::kBlank | CharClasses::kHash | CharClasses::kEnd)) != 0;
}

struct Token {
  const char* b;
  const char* e;
  size_t size() const { return static_cast<size_t>(e - b); }
};

// A token as it appears in a message: quoted, unprintable bytes escaped, long ones cut.
std::string quoted(const Token& t) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s = "'";
  const size_t n = std::min<size_t>(t.size(), 40);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(t.b[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      s += static_cast<char>(c);
    } else {
      s += "\\x";
      s += kDigits[c >> 4];
      s += kDigits[c & 15];
    }
  }
  if (t.size() > n) s += "...";
  return s + "'";
}

// The field starting at p: up to the next blank, '#' or the end of the line.
Token field_at(const char* p) {
  const char* start = p;
  while (!ends_field(*p)) ++p;
  return Token{start, p};
}

// Fields of the line that starts at p (up to its '\n').
size_t count_fields(const char* p) {
  size_t n = 0;
  for (;;) {
    while (is_blank(*p)) ++p;
    if (*p == '\n' || *p == '#') return n;
    p = field_at(p).e;
    ++n;
  }
}

// The fields of the text format. Each scans its own characters from p and, when the whole field
// is valid, moves p past it; otherwise p stays and the caller reports the field.

// A decimal number: digits only, no sign, no leading zero (C would read 010 as octal 8, so a
// leading zero is refused rather than guessed), at most `max`.
inline bool scan_decimal(const char*& p, unsigned max, unsigned& out) {
  const char* q = p;
  unsigned v = 0, d;
  while ((d = static_cast<unsigned>(*q - '0')) <= 9) {  // past 5 digits v is wrong, and refused
    v = v * 10 + d;
    ++q;
  }
  const ptrdiff_t digits = q - p;
  if (digits < 1 || digits > 5 || v > max || !ends_field(*q) || (digits > 1 && *p == '0'))
    return false;
  p = q;
  out = v;
  return true;
}

// A hex page number: digits with or without 0x, at most 52 bits. Without 0x a leading zero is
// refused (it would read as octal elsewhere); after 0x leading zeros are harmless.
inline bool scan_page_number(const char*& p, uint64_t& out) {
  const char* q = p;
  const bool prefixed = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
  if (prefixed) {
    q += 2;
    while (q[0] == '0' && char_class(q[1]) < 16) ++q;
  }
  const char* digits_start = q;
  uint64_t v = 0;
  unsigned d;
  while ((d = char_class(*q)) < 16) {  // past 16 digits v is wrong, and refused
    v = (v << 4) | d;
    ++q;
  }
  const ptrdiff_t digits = q - digits_start;
  if (digits < 1 || digits > 13 || v > kPageNumberMask || !ends_field(*q) ||
      (!prefixed && digits > 1 && *digits_start == '0'))
    return false;
  p = q;
  out = v;
  return true;
}

// r, w, rw or -. (The line's '\n' stops every comparison before the end.)
inline bool scan_permissions(const char*& p, IotlbEntry& entry) {
  const bool r = p[0] == 'r', w = p[0] == 'w' || (r && p[1] == 'w');
  const unsigned n = r && w ? 2 : 1;
  if (!(r || w || p[0] == '-') || !ends_field(p[n])) return false;
  entry.read = r;
  entry.write = w;
  p += n;
  return true;
}

// 4K, 2M or 1G.
inline bool scan_page_size(const char*& p, PageSize& out) {
  const char unit = p[0] == '4' ? 'K' : p[0] == '2' ? 'M' : p[0] == '1' ? 'G' : '\0';
  if (unit == '\0' || p[1] != unit || !ends_field(p[2])) return false;
  out = unit == 'K' ? PageSize::Size4K : unit == 'M' ? PageSize::Size2M : PageSize::Size1G;
  p += 2;
  return true;
}

enum class Field { Domain, Vpn, Am, Pfn, Permissions, Size };

// The messages, kept out of the parser so that a line that parses pays nothing for them.

[[gnu::cold, gnu::noinline]] bool field_count_error(const Token& code, size_t fields,
                                                    const char* line, std::string& error) {
  error = std::string(code.b, code.e) + " takes " + std::to_string(fields) + " fields, got " +
          std::to_string(count_fields(line) - 1);
  return false;
}

// The field at p did not scan. A wrong number of fields is reported before anything wrong
// inside one of them.
[[gnu::cold, gnu::noinline]] bool field_error(Field field, const char* p, const Token& code,
                                              size_t fields, const char* line,
                                              std::string& error) {
  if (count_fields(line) - 1 != fields) return field_count_error(code, fields, line, error);
  const Token t = field_at(p);
  bool digits_only = t.size() >= 2, hex_only = t.size() >= 2;
  uint64_t decimal = 0, hex = 0;
  for (const char* q = t.b; q < t.e; ++q) {
    digits_only = digits_only && *q >= '0' && *q <= '9';
    hex_only = hex_only && char_class(*q) < 16;
    if (digits_only) decimal = decimal * 10 + static_cast<unsigned>(*q - '0');
    if (hex_only) hex = (hex << 4) | char_class(*q);
  }
  const bool leading_zero = t.size() >= 2 && *t.b == '0';
  switch (field) {
    case Field::Domain:
    case Field::Am: {
      const unsigned max = field == Field::Domain ? 0xFFFF : 63;
      error = std::string(field == Field::Domain ? "domain" : "address mask") +
              " must be a decimal number 0-" + std::to_string(max) + ", got " + quoted(t);
      if (digits_only && leading_zero && t.size() <= 5 && decimal <= max)
        error += ": a leading zero is not accepted (it would read as octal elsewhere)";
      break;
    }
    case Field::Vpn:
    case Field::Pfn:
      error = std::string(field == Field::Vpn ? "vpn" : "pfn") +
              " must be a hex page number of at most 52 bits, got " + quoted(t);
      if (hex_only && leading_zero && t.size() <= 13 && hex <= kPageNumberMask)
        error += ": a leading zero is only accepted after 0x (it would read as octal elsewhere)";
      break;
    case Field::Permissions:
      error = "permissions must be r, w, rw or -, got " + quoted(t);
      break;
    case Field::Size:
      error = "page size must be 4K, 2M or 1G, got " + quoted(t);
      break;
  }
  return false;
}

[[gnu::cold, gnu::noinline]] bool unknown_operation(const Token& code, std::string& error) {
  error = "unknown operation " + quoted(code) + " (expected L, F, A, IG, ID or IP)";
  return false;
}

[[gnu::cold, gnu::noinline]] bool alignment_error(const IotlbEntry& e, std::string& error) {
  error = std::string("vpn and pfn of a ") + to_string(e.size) + " page must have their low " +
          std::to_string(page_shift_pages(e.size)) + " bits zero";
  return false;
}

bool check_alignment(const IotlbEntry& e, std::string& error) {
  const uint64_t low = (1ULL << page_shift_pages(e.size)) - 1;
  return ((e.vpn | e.pfn) & low) == 0 || alignment_error(e, error);
}

// The '\n' that ends the line p is in.
const char* line_end(const char* p) {
  while (*p != '\n') ++p;
  return p;
}

// The text of a whole-line comment that starts at p (the '#'): after one blank, without the
// trailing ones.
void comment_text(const char* p, std::string& comment) {
  ++p;
  if (is_blank(*p)) ++p;
  const char* e = line_end(p);
  while (e > p && is_blank(e[-1])) --e;
  comment.assign(p, e);
}

enum class LineKind { Blank, Comment, Op };

// Parses the text line at `line`, which ends with a '\n' (not part of it), in a single pass:
// each field is scanned by the scanner of its type; only an error goes back over the line. A
// whole-line comment gives its text in `comment` when that is not null. `next` gets the start of
// the next line.
bool parse_line(const char* line, const char** next, IotlbOp& op, LineKind& kind,
                std::string* comment, std::string& error) {
  const char* p = line;
  auto at_field = [&] {
    if (p[0] == ' ' && !ends_field(p[1])) {  // the usual single space before a field
      ++p;
      return true;
    }
    while (is_blank(*p)) ++p;
    return *p != '\n' && *p != '#';
  };
  kind = LineKind::Blank;
  if (!at_field()) {
    if (*p == '#') {
      kind = LineKind::Comment;
      if (comment) comment_text(p, *comment);
    }
    *next = line_end(p) + 1;
    return true;
  }
  const Token code = field_at(p);
  p = code.e;
  size_t fields = 0;
  const char c0 = code.b[0];
  const char c1 = code.size() == 2 ? code.b[1] : '\0';
  if (code.size() == 1 && c0 == 'A') { op.kind = IotlbOp::Access; fields = 5; }
  else if (code.size() == 1 && c0 == 'L') { op.kind = IotlbOp::Lookup; fields = 2; }
  else if (code.size() == 1 && c0 == 'F') { op.kind = IotlbOp::Fill; fields = 5; }
  else if (code.size() == 2 && c0 == 'I' && c1 == 'P') { op.kind = IotlbOp::InvalidatePages; fields = 3; }
  else if (code.size() == 2 && c0 == 'I' && c1 == 'D') { op.kind = IotlbOp::InvalidateDomain; fields = 1; }
  else if (code.size() == 2 && c0 == 'I' && c1 == 'G') { op.kind = IotlbOp::InvalidateAll; fields = 0; }
  else return unknown_operation(code, error);

  op.entry = IotlbEntry{};
  op.am = 0;
  auto missing = [&] { return field_count_error(code, fields, line, error); };
  auto bad = [&](Field f) { return field_error(f, p, code, fields, line, error); };
  if (fields >= 1) {
    unsigned domain = 0;
    if (!at_field()) return missing();
    if (!scan_decimal(p, 0xFFFF, domain)) return bad(Field::Domain);
    op.entry.domain = static_cast<uint16_t>(domain);
  }
  if (fields >= 2) {
    if (!at_field()) return missing();
    if (!scan_page_number(p, op.entry.vpn)) return bad(Field::Vpn);
  }
  if (op.kind == IotlbOp::InvalidatePages) {
    if (!at_field()) return missing();
    if (!scan_decimal(p, 63, op.am)) return bad(Field::Am);
  }
  if (fields == 5) {
    if (!at_field()) return missing();
    if (!scan_page_number(p, op.entry.pfn)) return bad(Field::Pfn);
    if (!at_field()) return missing();
    if (!scan_permissions(p, op.entry)) return bad(Field::Permissions);
    if (!at_field()) return missing();
    if (!scan_page_size(p, op.entry.size)) return bad(Field::Size);
  }
  if (at_field()) return missing();
  if (fields == 5 && !check_alignment(op.entry, error)) return false;
  kind = LineKind::Op;
  *next = (*p == '\n' ? p : line_end(p)) + 1;  // past a trailing comment, if any
  return true;
}

// The lines of A, F and L operations as the writer writes them (one space between fields, hex
// without 0x and without leading zeros, no comment), read straight through: almost every line
// of a recorded trace. False, having looked no further than the line's '\n', for anything else,
// which parse_line() then reads and judges. Accepts only what parse_line() accepts, with the
// same operation (sc_tests/unit/test_iotlb_trace.cpp compares the two on mutated lines).
inline bool parse_written_line(const char* p, const char** next, IotlbOp& op) {
  const char code = p[0];
  const bool with_entry = code == 'A' || code == 'F';
  if (!(with_entry || code == 'L') || p[1] != ' ') return false;
  p += 2;
  // The domain: decimal, 1 to 5 digits, no leading zero.
  const char* q = p;
  unsigned domain = 0, d;
  while ((d = static_cast<unsigned>(*q - '0')) <= 9) {
    domain = domain * 10 + d;
    ++q;
  }
  const ptrdiff_t domain_digits = q - p;
  if (domain_digits < 1 || domain_digits > 5 || domain > 0xFFFF || (domain_digits > 1 && *p == '0') || *q != ' ')
    return false;
  p = q + 1;
  // Page numbers: 1 to 13 hex digits (52 bits at most), no leading zero.
  const auto page_number = [&p](char after, uint64_t& out) {
    const char* h = p;
    uint64_t v = 0;
    unsigned x;
    while ((x = char_class(*h)) < 16) {
      v = (v << 4) | x;
      ++h;
    }
    const ptrdiff_t digits = h - p;
    if (digits < 1 || digits > 13 || (digits > 1 && *p == '0') || *h != after) return false;
    out = v;
    p = h + 1;
    return true;
  };
  uint64_t vpn = 0, pfn = 0;
  if (!page_number(with_entry ? ' ' : '\n', vpn)) return false;
  op.am = 0;
  op.entry = IotlbEntry{};
  op.entry.domain = static_cast<uint16_t>(domain);
  op.entry.vpn = vpn;
  if (!with_entry) {
    op.kind = IotlbOp::Lookup;
    *next = p;
    return true;
  }
  if (!page_number(' ', pfn)) return false;
  // r, w, rw or -, then 4K, 2M or 1G, then the end of the line.
  const bool r = p[0] == 'r', w = p[0] == 'w' || (r && p[1] == 'w');
  if (!(r || w || p[0] == '-')) return false;
  p += r && w ? 2 : 1;
  if (*p != ' ') return false;
  ++p;
  const char unit = p[0] == '4' ? 'K' : p[0] == '2' ? 'M' : p[0] == '1' ? 'G' : '\0';
  if (unit == '\0' || p[1] != unit || p[2] != '\n') return false;
  const PageSize size = unit == 'K' ? PageSize::Size4K : unit == 'M' ? PageSize::Size2M : PageSize::Size1G;
  if (((vpn | pfn) & ((1ULL << page_shift_pages(size)) - 1)) != 0) return false;  // misaligned: said below
  op.kind = code == 'A' ? IotlbOp::Access : IotlbOp::Fill;
  op.entry.pfn = pfn;
  op.entry.read = r;
  op.entry.write = w;
  op.entry.size = size;
  *next = p + 3;
  return true;
}

std::string without_newlines(const std::string& text) {
  std::string t = text;
  for (char& c : t)
    if (c == '\n' || c == '\r') c = ' ';
  return t;
}

}  // namespace

const char* to_string(IotlbTraceFormat format) {
  return format == IotlbTraceFormat::Binary ? "binary" : "text";
}

bool parse_iotlb_trace_format(const std::string& text, IotlbTraceFormat& out) {
  if (text == "text") out = IotlbTraceFormat::Text;
  else if (text == "binary") out = IotlbTraceFormat::Binary;
  else return false;
  return true;
}

bool parse_iotlb_trace_ops(const std::string& text, bool& accesses_only) {
  if (text != "all" && text != "accesses") return false;
  accesses_only = text == "accesses";
  return true;
}

// ---- writer ----

IotlbTraceWriter::IotlbTraceWriter(std::ostream& os, const IotlbTraceStyle& style)
    : IotlbTraceWriter(os, style.format) {
  m_accesses_only = style.accesses_only;
}

IotlbTraceWriter::IotlbTraceWriter(std::ostream& os, IotlbTraceFormat format)
    : m_os(os), m_format(format) {
  if (format == IotlbTraceFormat::Binary) {
    char header[kHeaderSize];
    std::memcpy(header, kMagic, sizeof kMagic);
    put_le(header + 8, kIotlbTraceBinaryVersion, 4);
    put_le(header + 12, 0, 4);  // flags
    put(header, sizeof header);
  }
}

void IotlbTraceWriter::put(const char* data, size_t size) {
  // Straight into the stream's buffer: an ostream::write per record costs more than the record.
  std::streambuf* buf = m_os.rdbuf();
  const auto n = static_cast<std::streamsize>(size);
  if (buf == nullptr || buf->sputn(data, n) != n) m_os.setstate(std::ios::badbit);
}

void IotlbTraceWriter::write(const IotlbOp& op) {
  if (m_accesses_only && (op.kind == IotlbOp::Lookup || op.kind == IotlbOp::Fill)) return;
  const IotlbEntry& e = op.entry;
  char buf[96];
  char* p = buf;
  if (m_format == IotlbTraceFormat::Binary) {
    uint8_t code = 0;
    switch (op.kind) {
      case IotlbOp::Lookup: code = kRecLookup; break;
      case IotlbOp::Fill: code = kRecFill; break;
      case IotlbOp::Access: code = kRecAccess; break;
      case IotlbOp::InvalidateAll: code = kRecInvalidateAll; break;
      case IotlbOp::InvalidateDomain: code = kRecInvalidateDomain; break;
      case IotlbOp::InvalidatePages: code = kRecInvalidatePages; break;
    }
    if (code == kRecFill || code == kRecAccess)
      code |= static_cast<uint8_t>((static_cast<unsigned>(e.size) & 3) << 3 | (e.read ? 0x20 : 0) |
                                   (e.write ? 0x40 : 0));
    p[0] = static_cast<char>(code);
    if (code != kRecInvalidateAll) put_le(p + 1, e.domain, 2);
    if ((code & 7) != kRecInvalidateAll && (code & 7) != kRecInvalidateDomain)
      put_le(p + 3, e.vpn, 8);
    if ((code & 7) == kRecFill || (code & 7) == kRecAccess) put_le(p + 11, e.pfn, 8);
    if ((code & 7) == kRecInvalidatePages) p[11] = static_cast<char>(op.am);
    p += kRecordSize[code & 7];
  } else {
    switch (op.kind) {
      case IotlbOp::Lookup:
        p = put_text(p, "L ");
        p = put_decimal(p, e.domain);
        *p++ = ' ';
        p = put_hex(p, e.vpn);
        break;
      case IotlbOp::Fill:
      case IotlbOp::Access:
        p = put_text(p, op.kind == IotlbOp::Fill ? "F " : "A ");
        p = put_decimal(p, e.domain);
        *p++ = ' ';
        p = put_hex(p, e.vpn);
        *p++ = ' ';
        p = put_hex(p, e.pfn);
        *p++ = ' ';
        p = put_text(p, rw_token(e));
        *p++ = ' ';
        p = put_text(p, to_string(e.size));
        break;
      case IotlbOp::InvalidateAll:
        p = put_text(p, "IG");
        break;
      case IotlbOp::InvalidateDomain:
        p = put_text(p, "ID ");
        p = put_decimal(p, e.domain);
        break;
      case IotlbOp::InvalidatePages:
        p = put_text(p, "IP ");
        p = put_decimal(p, e.domain);
        *p++ = ' ';
        p = put_hex(p, e.vpn);
        *p++ = ' ';
        p = put_decimal(p, op.am);
        break;
    }
    *p++ = '\n';
  }
  put(buf, static_cast<size_t>(p - buf));
  ++m_ops;
}

void IotlbTraceWriter::comment(const std::string& text) {
  const std::string t = without_newlines(text);
  if (m_format == IotlbTraceFormat::Binary) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(t.size(), kMaxComment));
    char head[5];
    head[0] = static_cast<char>(kRecComment);
    put_le(head + 1, n, 4);
    put(head, sizeof head);
    put(t.data(), n);
  } else {
    put("# ", 2);
    put(t.data(), t.size());
    put("\n", 1);
  }
}

// ---- reader ----

bool IotlbTraceReader::ensure(size_t n) {
  while (m_end - m_pos < n) {
    if (m_eof) return false;
    if (m_pos > 0) {  // keep the unread bytes, at the front
      std::memmove(m_buf.data(), m_buf.data() + m_pos, m_end - m_pos);
      m_offset += m_pos;
      m_end -= m_pos;
      m_complete = 0;
      m_pos = 0;
    }
    // Room for n bytes and a block more (so that a long line costs a few large reads, not many
    // small ones), and kPadding more that reads leave alone.
    const size_t room = std::max(n, m_end + kBlock) + kPadding;
    if (m_buf.size() < room) m_buf.resize(std::max(room, 2 * m_buf.size()));
    const size_t want = m_buf.size() - kPadding - m_end;
    m_is.read(m_buf.data() + m_end, static_cast<std::streamsize>(want));
    const size_t got = static_cast<size_t>(m_is.gcount());
    m_end += got;
    if (got < want) m_eof = true;  // read() stops short only at the end or on an error
  }
  return true;
}

bool IotlbTraceReader::more_lines() {
  while (m_pos >= m_complete) {
    // Whole lines end at the last '\n' of the unread bytes (usually a few bytes from the end).
    size_t last = m_end;
    while (last > m_pos && m_buf[last - 1] != '\n') --last;
    if (last > m_pos) {
      m_complete = last;
      break;
    }
    if (m_eof) {
      if (m_pos == m_end) return false;
      m_buf[m_end++] = '\n';  // a last line without a newline gets one (in the padding)
      m_complete = m_end;
      break;
    }
    if (m_end - m_pos >= kMaxLine) {
      fail("line " + std::to_string(m_line + 1) + ": longer than " + std::to_string(kMaxLine) +
           " bytes");
      return false;
    }
    ensure(m_end - m_pos + 1);
    if (m_is.bad()) {
      fail("line " + std::to_string(m_line + 1) + ": read error");
      return false;
    }
  }
  return true;
}

IotlbTraceReader::Item IotlbTraceReader::fail(const std::string& message) {
  m_error = message;
  return Item::End;
}

void IotlbTraceReader::detect_format() {
  m_started = true;
  ensure(kHeaderSize);
  if (m_end - m_pos < sizeof kMagic || std::memcmp(m_buf.data() + m_pos, kMagic, sizeof kMagic))
    return;  // text
  m_format = IotlbTraceFormat::Binary;
  if (m_end - m_pos < kHeaderSize) {
    fail("binary trace header: truncated (the file ends inside the 16-byte header)");
    return;
  }
  const uint64_t version = get_le(m_buf.data() + m_pos + 8, 4);
  const uint64_t flags = get_le(m_buf.data() + m_pos + 12, 4);
  if (version != kIotlbTraceBinaryVersion) {
    fail("binary trace header: version " + std::to_string(version) +
         " is not supported (this reader reads version " +
         std::to_string(kIotlbTraceBinaryVersion) + ")");
  } else if (flags != 0) {
    fail("binary trace header: unknown flags 0x" + hex(flags) +
         " (version 1 has none)");
  }
  m_pos += kHeaderSize;
}

IotlbTraceReader::Item IotlbTraceReader::next_text(IotlbOp& op, std::string* comment) {
  while (m_pos < m_complete || more_lines()) {
    const char* line = m_buf.data() + m_pos;
    const char* next = line;
    ++m_line;
    if (parse_written_line(line, &next, op)) {
      m_pos = static_cast<size_t>(next - m_buf.data());
      return Item::Op;
    }
    LineKind kind;
    if (!parse_line(line, &next, op, kind, comment, m_error)) {
      m_error = "line " + std::to_string(m_line) + ": " + m_error;
      return Item::End;
    }
    m_pos = static_cast<size_t>(next - m_buf.data());
    if (kind == LineKind::Op) return Item::Op;
    if (kind == LineKind::Comment && comment) return Item::Comment;
  }
  return Item::End;
}

IotlbTraceReader::Item IotlbTraceReader::next_binary(IotlbOp& op, std::string* comment) {
  for (;;) {
    if (m_pos == m_end && !ensure(1)) {
      if (m_is.bad()) return fail("record " + std::to_string(m_line + 1) + ": read error");
      return Item::End;
    }
    ++m_line;
    const uint8_t code = static_cast<uint8_t>(m_buf[m_pos]);
    const unsigned kind = code & 7;
    const bool with_entry = kind == kRecFill || kind == kRecAccess;
    if (kind > kRecComment) return bad_record("unknown record kind 7 in byte 0x" + hex(code));
    if (code & (with_entry ? 0x80 : 0xF8))
      return bad_record("reserved bits set in byte 0x" + hex(code));
    const size_t size = kRecordSize[kind];
    if (m_end - m_pos < size && !ensure(size))
      return bad_record("truncated (the file ends inside the record)");
    const char* r = m_buf.data() + m_pos;
    if (kind == kRecComment) {
      const uint64_t n = get_le(r + 1, 4);
      if (n > kMaxComment)
        return bad_record("comment of " + std::to_string(n) + " bytes (at most " +
                          std::to_string(kMaxComment) + ")");
      if (!ensure(size + n)) return bad_record("truncated (the file ends inside the comment)");
      r = m_buf.data() + m_pos;
      m_pos += size + n;
      if (!comment) continue;
      comment->assign(r + size, n);
      return Item::Comment;
    }
    static constexpr IotlbOp::Kind kKinds[6] = {
        IotlbOp::Lookup, IotlbOp::Fill, IotlbOp::Access,
        IotlbOp::InvalidateAll, IotlbOp::InvalidateDomain, IotlbOp::InvalidatePages};
    op.kind = kKinds[kind];
    op.entry = IotlbEntry{};
    op.am = 0;
    if (kind != kRecInvalidateAll) op.entry.domain = static_cast<uint16_t>(get_le(r + 1, 2));
    if (kind != kRecInvalidateAll && kind != kRecInvalidateDomain) {
      op.entry.vpn = get_le(r + 3, 8);
      if (op.entry.vpn > kPageNumberMask)
        return bad_record("vpn 0x" + hex(op.entry.vpn) + " has more than 52 bits");
    }
    if (with_entry) {
      const unsigned page_size = (code >> 3) & 3;
      if (page_size > 2) return bad_record("page size field 3 (0 is 4K, 1 is 2M, 2 is 1G)");
      op.entry.size = static_cast<PageSize>(page_size);
      op.entry.read = (code & 0x20) != 0;
      op.entry.write = (code & 0x40) != 0;
      op.entry.pfn = get_le(r + 11, 8);
      if (op.entry.pfn > kPageNumberMask)
        return bad_record("pfn 0x" + hex(op.entry.pfn) + " has more than 52 bits");
      std::string error;
      if (!check_alignment(op.entry, error)) return bad_record(error);
    }
    if (kind == kRecInvalidatePages) {
      op.am = static_cast<uint8_t>(r[11]);
      if (op.am > 63) return bad_record("address mask " + std::to_string(op.am) + " (at most 63)");
    }
    m_pos += size;
    return Item::Op;
  }
}

IotlbTraceReader::Item IotlbTraceReader::bad_record(const std::string& what) {
  return fail("record " + std::to_string(m_line) + " (byte " + std::to_string(m_offset + m_pos) +
              "): " + what);
}

IotlbTraceReader::Item IotlbTraceReader::next_item(IotlbOp& op, std::string& comment) {
  if (!m_started) detect_format();
  if (!m_error.empty()) return Item::End;
  return m_format == IotlbTraceFormat::Binary ? next_binary(op, &comment)
                                              : next_text(op, &comment);
}

bool IotlbTraceReader::next(IotlbOp& op) {
  if (!m_started) detect_format();
  if (!m_error.empty()) return false;
  const Item item = m_format == IotlbTraceFormat::Text ? next_text(op, nullptr)
                                                       : next_binary(op, nullptr);
  return item == Item::Op;
}

std::string IotlbTraceReader::where() const {
  return (m_format == IotlbTraceFormat::Binary ? "record " : "line ") + std::to_string(m_line);
}

bool parse_iotlb_op(const std::string& line, IotlbOp& op, bool& has_op, std::string& error) {
  // The parser needs the line's '\n' after it; a '\n' inside ends the line there.
  const std::string terminated = line.substr(0, line.find('\n')) + '\n';
  LineKind kind;
  const char* next;
  const bool ok = parse_line(terminated.data(), &next, op, kind, nullptr, error);
  has_op = ok && kind == LineKind::Op;
  return ok;
}

bool read_iotlb_trace(std::istream& is, std::vector<IotlbOp>& ops, std::string& error) {
  IotlbTraceReader reader(is);
  IotlbOp op;
  while (reader.next(op)) ops.push_back(op);
  error = reader.error();
  return error.empty();
}

bool convert_iotlb_trace(std::istream& in, std::ostream& out, IotlbTraceFormat to,
                         std::string& error, uint64_t* ops) {
  IotlbTraceReader reader(in);
  IotlbTraceWriter writer(out, to);
  IotlbOp op;
  std::string comment;
  for (;;) {
    const IotlbTraceReader::Item item = reader.next_item(op, comment);
    if (item == IotlbTraceReader::Item::End) break;
    if (item == IotlbTraceReader::Item::Op) writer.write(op);
    else writer.comment(comment);
    if (!out) break;
  }
  if (ops) *ops = writer.ops_written();
  out.flush();
  if (!out) {
    error = "cannot write the converted trace";
    return false;
  }
  error = reader.error();
  return error.empty();
}

void apply(Iotlb& iotlb, const IotlbOp& op) {
  const IotlbEntry& e = op.entry;
  switch (op.kind) {
    case IotlbOp::Lookup: iotlb.lookup(e.domain, e.vpn); break;
    case IotlbOp::Fill: iotlb.fill(e); break;
    case IotlbOp::InvalidateAll: iotlb.invalidate_all(); break;
    case IotlbOp::InvalidateDomain: iotlb.invalidate_domain(e.domain); break;
    case IotlbOp::InvalidatePages: iotlb.invalidate_pages(e.domain, e.vpn, op.am); break;
    case IotlbOp::Access: break;
  }
}

bool replay_access(Iotlb& iotlb, const IotlbOp& op) {
  switch (op.kind) {
    case IotlbOp::Access:
      if (iotlb.lookup(op.entry.domain, op.entry.vpn).hit) return true;
      iotlb.fill(op.entry);
      return false;
    case IotlbOp::Lookup:
    case IotlbOp::Fill:
      return false;
    default:
      apply(iotlb, op);
      return false;
  }
}

}  // namespace iommu_sim
