#include "iommu_sim/iommu/caches/iotlb_trace.h"

#include <cstdio>
#include <sstream>

namespace iommu_sim {

namespace {

const char* rw_token(const IotlbEntry& e) {
  if (e.read && e.write) return "rw";
  if (e.read) return "r";
  if (e.write) return "w";
  return "-";
}

void write_hex(std::ostream& os, uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  os << buf;
}

bool parse_domain(const std::string& t, uint16_t& out, std::string& error) {
  uint32_t v = 0;
  bool ok = !t.empty() && t.size() <= 5;
  for (char c : t) {
    if (c < '0' || c > '9') ok = false;
    else v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!ok || v > 0xFFFF) {
    error = "domain must be a decimal number 0-65535, got '" + t + "'";
    return false;
  }
  out = static_cast<uint16_t>(v);
  return true;
}

bool parse_page_number(const std::string& t, const char* what, uint64_t& out,
                       std::string& error) {
  size_t i = (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) ? 2 : 0;
  uint64_t v = 0;
  bool ok = i < t.size() && t.size() - i <= 13;  // 52 bits are 13 hex digits
  for (; ok && i < t.size(); ++i) {
    const char c = t[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    else { ok = false; break; }
    v = (v << 4) | d;
  }
  if (!ok || v > kPageNumberMask) {
    error = std::string(what) + " must be a hex page number of at most 52 bits, got '" + t + "'";
    return false;
  }
  out = v;
  return true;
}

bool parse_rw(const std::string& t, IotlbEntry& e, std::string& error) {
  if (t == "rw") { e.read = true; e.write = true; }
  else if (t == "r") { e.read = true; e.write = false; }
  else if (t == "w") { e.read = false; e.write = true; }
  else if (t == "-") { e.read = false; e.write = false; }
  else {
    error = "permissions must be r, w, rw or -, got '" + t + "'";
    return false;
  }
  return true;
}

bool parse_size(const std::string& t, PageSize& out, std::string& error) {
  if (t == "4K") out = PageSize::Size4K;
  else if (t == "2M") out = PageSize::Size2M;
  else if (t == "1G") out = PageSize::Size1G;
  else {
    error = "page size must be 4K, 2M or 1G, got '" + t + "'";
    return false;
  }
  return true;
}

bool parse_am(const std::string& t, unsigned& out, std::string& error) {
  unsigned v = 0;
  bool ok = !t.empty() && t.size() <= 2;
  for (char c : t) {
    if (c < '0' || c > '9') ok = false;
    else v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || v > 63) {
    error = "address mask must be a decimal number 0-63, got '" + t + "'";
    return false;
  }
  out = v;
  return true;
}

}  // namespace

void IotlbTraceWriter::write(const IotlbOp& op) {
  const IotlbEntry& e = op.entry;
  switch (op.kind) {
    case IotlbOp::Lookup:
      m_os << "L " << e.domain << ' ';
      write_hex(m_os, e.vpn);
      break;
    case IotlbOp::Fill:
    case IotlbOp::Access:
      m_os << (op.kind == IotlbOp::Fill ? "F " : "A ") << e.domain << ' ';
      write_hex(m_os, e.vpn);
      m_os << ' ';
      write_hex(m_os, e.pfn);
      m_os << ' ' << rw_token(e) << ' ' << to_string(e.size);
      break;
    case IotlbOp::InvalidateAll:
      m_os << "IG";
      break;
    case IotlbOp::InvalidateDomain:
      m_os << "ID " << e.domain;
      break;
    case IotlbOp::InvalidatePages:
      m_os << "IP " << e.domain << ' ';
      write_hex(m_os, e.vpn);
      m_os << ' ' << op.am;
      break;
  }
  m_os << '\n';
  ++m_ops;
}

void IotlbTraceWriter::comment(const std::string& text) {
  std::string t = text;
  for (char& c : t)
    if (c == '\n' || c == '\r') c = ' ';
  m_os << "# " << t << '\n';
}

bool parse_iotlb_op(const std::string& line, IotlbOp& op, bool& has_op, std::string& error) {
  has_op = false;
  std::istringstream in(line.substr(0, line.find('#')));
  std::vector<std::string> tok;
  for (std::string t; in >> t;) tok.push_back(t);
  if (tok.empty()) return true;

  const std::string& code = tok[0];
  size_t want;
  if (code == "L") { op.kind = IotlbOp::Lookup; want = 3; }
  else if (code == "F") { op.kind = IotlbOp::Fill; want = 6; }
  else if (code == "A") { op.kind = IotlbOp::Access; want = 6; }
  else if (code == "IG") { op.kind = IotlbOp::InvalidateAll; want = 1; }
  else if (code == "ID") { op.kind = IotlbOp::InvalidateDomain; want = 2; }
  else if (code == "IP") { op.kind = IotlbOp::InvalidatePages; want = 4; }
  else {
    error = "unknown operation '" + code + "' (expected L, F, A, IG, ID or IP)";
    return false;
  }
  if (tok.size() != want) {
    error = code + " takes " + std::to_string(want - 1) + " fields, got " +
            std::to_string(tok.size() - 1);
    return false;
  }
  op.entry = IotlbEntry{};
  op.am = 0;
  if (want >= 2 && !parse_domain(tok[1], op.entry.domain, error)) return false;
  if (want >= 3 && !parse_page_number(tok[2], "vpn", op.entry.vpn, error)) return false;
  if (op.kind == IotlbOp::InvalidatePages && !parse_am(tok[3], op.am, error)) return false;
  if (want == 6) {
    if (!parse_page_number(tok[3], "pfn", op.entry.pfn, error) ||
        !parse_rw(tok[4], op.entry, error) || !parse_size(tok[5], op.entry.size, error))
      return false;
    const uint64_t low = (1ULL << page_shift_pages(op.entry.size)) - 1;
    if ((op.entry.vpn & low) || (op.entry.pfn & low)) {
      error = std::string("vpn and pfn of a ") + to_string(op.entry.size) +
              " page must have their low " + std::to_string(page_shift_pages(op.entry.size)) +
              " bits zero";
      return false;
    }
  }
  has_op = true;
  return true;
}

bool IotlbTraceReader::next(IotlbOp& op) {
  std::string line;
  while (m_error.empty() && std::getline(m_is, line)) {
    ++m_line;
    bool has_op = false;
    std::string err;
    if (!parse_iotlb_op(line, op, has_op, err)) {
      m_error = "line " + std::to_string(m_line) + ": " + err;
      return false;
    }
    if (has_op) return true;
  }
  return false;
}

bool read_iotlb_trace(std::istream& is, std::vector<IotlbOp>& ops, std::string& error) {
  IotlbTraceReader reader(is);
  IotlbOp op;
  while (reader.next(op)) ops.push_back(op);
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
