#include "iommu_sim/platform/calibrate/measured_curve.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "iommu_sim/platform/sweep/csv.h"

namespace iommu_sim {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool parse_double(const std::string& text, double& out) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(t.c_str(), &end);
  return errno == 0 && end == t.c_str() + t.size() && std::isfinite(out);
}

// One CSV line (no quoted line breaks in either layout).
CsvRow split(const std::string& line) {
  std::istringstream is(line);
  std::vector<CsvRow> rows;
  std::string error;
  if (!read_csv(is, rows, error) || rows.empty()) return {};
  CsvRow r = rows[0];
  for (auto& f : r) f = trim(f);
  return r;
}

struct Columns {
  std::map<std::string, size_t> index;  // lower-case name -> column
  bool has(const std::string& n) const { return index.count(n) != 0; }
  size_t at(const std::string& n) const { return index.at(n); }
};

}  // namespace

bool parse_byte_count(const std::string& text, uint64_t& out) {
  std::string t = trim(text);
  if (t.empty()) return false;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    for (size_t i = 2; i < t.size(); ++i)
      if (!std::isxdigit(static_cast<unsigned char>(t[i]))) return false;
    errno = 0;
    out = std::strtoull(t.c_str() + 2, nullptr, 16);
    return errno == 0;
  }
  double mult = 1;
  std::string up = t;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const auto& [suffix, m] : std::vector<std::pair<std::string, double>>{
           {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"KB", 1024.0},
           {"MB", 1048576.0}, {"GB", 1073741824.0}, {"K", 1024.0}, {"M", 1048576.0},
           {"G", 1073741824.0}}) {
    if (up.size() > suffix.size() && up.compare(up.size() - suffix.size(), suffix.size(), suffix) == 0) {
      t.resize(t.size() - suffix.size());
      mult = m;
      break;
    }
  }
  double v = 0;
  if (!parse_double(t, v) || v < 0) return false;
  const double bytes = v * mult;
  if (bytes > 1.8e19 || std::fabs(bytes - std::round(bytes)) > 1e-6 * std::max(1.0, bytes)) return false;
  out = static_cast<uint64_t>(std::llround(bytes));
  return true;
}

std::string format_byte_count(uint64_t bytes) {
  const std::pair<uint64_t, const char*> units[] = {{1ULL << 30, "G"}, {1ULL << 20, "M"}, {1ULL << 10, "K"}};
  for (const auto& [u, name] : units) {
    if (bytes >= u && (bytes * 10) % u == 0) {
      std::ostringstream os;
      os << static_cast<double>(bytes) / static_cast<double>(u) << name;
      return os.str();
    }
  }
  return std::to_string(bytes);
}

std::string read_measured_curve(std::istream& in, const std::string& name,
                                const CurveReadOptions& options, MeasuredCurve& out) {
  out = MeasuredCurve{};
  std::string line;
  size_t line_no = 0;
  Columns cols;
  CsvRow header;
  auto where = [&](size_t n) { return name + ":" + std::to_string(n) + ": "; };
  // The header: the first line that is neither blank nor a comment.
  while (std::getline(in, line)) {
    ++line_no;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    header = split(t);
    break;
  }
  if (header.empty()) return name + ": no header row: expected a curve CSV (window,mean_ns,...) or a pcie-bench CSV";
  for (size_t i = 0; i < header.size(); ++i) cols.index[lower(header[i])] = i;
  const size_t header_line = line_no;

  const bool pcie_bench = cols.has("winsz") && cols.has("avg(ns)");
  out.format = pcie_bench ? "pcie-bench" : "curve";
  if (!pcie_bench && !options.cache_state.empty())
    return name + ": a curve CSV has no host-cache states; --cache applies to pcie-bench files";
  if (!pcie_bench) {
    for (const char* need : {"window", "mean_ns"})
      if (!cols.has(need))
        return where(header_line) + "no '" + need +
               "' column: a curve CSV has window,mean_ns[,p50_ns,p90_ns,p99_ns,samples]; a "
               "pcie-bench CSV has WinSZ and Avg(ns)";
  }

  struct Row {
    size_t line;
    CsvRow f;
  };
  std::vector<Row> rows;
  std::set<std::string> states, tests, patterns;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    CsvRow f = split(t);
    if (f.size() != header.size())
      return where(line_no) + std::to_string(f.size()) + " fields, the header has " +
             std::to_string(header.size());
    if (pcie_bench) {
      auto field = [&](const char* c) { return cols.has(c) ? f[cols.at(c)] : std::string(); };
      states.insert(field("cache"));
      tests.insert(field("test"));
      patterns.insert(field("pat"));
    }
    rows.push_back(Row{line_no, f});
  }

  if (pcie_bench) {
    // One test, the random pattern, one cache state.
    auto field = [&](const Row& r, const char* c) { return cols.has(c) ? r.f[cols.at(c)] : std::string(); };
    std::string state = options.cache_state;
    if (state.empty()) {
      if (states.size() > 1) {
        std::string list;
        for (const auto& s : states) list += (list.empty() ? "" : ", ") + s;
        return name + ": holds several host-cache states (" + list +
               "): choose one with --cache STATE";
      }
      state = states.empty() ? "" : *states.begin();
    } else if (!states.count(state)) {
      std::string list;
      for (const auto& s : states) list += (list.empty() ? "" : ", ") + s;
      return name + ": no rows of cache state '" + state + "'; the file has: " + list;
    }
    out.cache_state = state;
    std::vector<Row> kept;
    for (const Row& r : rows) {
      if (field(r, "cache") != state) continue;
      const std::string test = field(r, "test"), pat = field(r, "pat");
      if (!test.empty() && test != "LAT_DMA_RD")
        return where(r.line) + "test '" + test + "': only LAT_DMA_RD (DMA read latency) is calibrated";
      if (!pat.empty() && lower(pat) != "rand")
        return where(r.line) + "access pattern '" + pat + "': only Rand (random addresses) is calibrated";
      kept.push_back(r);
    }
    rows = kept;
  }

  std::set<uint64_t> seen;
  for (const Row& r : rows) {
    CurvePoint p;
    const std::string wcol = pcie_bench ? "winsz" : "window";
    const std::string mcol = pcie_bench ? "avg(ns)" : "mean_ns";
    if (!parse_byte_count(r.f[cols.at(wcol)], p.window) || p.window == 0)
      return where(r.line) + "window '" + r.f[cols.at(wcol)] + "': expected a byte count (65536, 64K, 1.5M)";
    if (!parse_double(r.f[cols.at(mcol)], p.mean_ns) || !(p.mean_ns > 0))
      return where(r.line) + "mean '" + r.f[cols.at(mcol)] + "': expected a latency in ns greater than 0";
    auto optional = [&](const char* col, double& v) -> std::string {
      if (!cols.has(col) || r.f[cols.at(col)].empty()) return "";
      if (!parse_double(r.f[cols.at(col)], v) || v < 0)
        return where(r.line) + std::string(col) + " '" + r.f[cols.at(col)] + "': expected a latency in ns";
      return "";
    };
    std::string e;
    if (pcie_bench) {
      e = optional("med(ns)", p.p50_ns);
    } else {
      if (e.empty()) e = optional("p50_ns", p.p50_ns);
      if (e.empty()) e = optional("p90_ns", p.p90_ns);
      if (e.empty()) e = optional("p99_ns", p.p99_ns);
    }
    if (!e.empty()) return e;
    const std::string scol = pcie_bench ? "#samples" : "samples";
    if (cols.has(scol) && !r.f[cols.at(scol)].empty()) {
      double s = 0;
      if (!parse_double(r.f[cols.at(scol)], s) || s < 0)
        return where(r.line) + "samples '" + r.f[cols.at(scol)] + "': expected a count";
      p.samples = static_cast<uint64_t>(s);
    }
    if (pcie_bench && cols.has("sz")) {
      uint64_t sz = 0;
      if (!parse_byte_count(r.f[cols.at("sz")], sz) || sz == 0 || sz > (1u << 20))
        return where(r.line) + "SZ '" + r.f[cols.at("sz")] + "': expected a DMA size in bytes";
      if (out.access_size && out.access_size != sz)
        return where(r.line) + "SZ " + std::to_string(sz) + " differs from the earlier rows' " +
               std::to_string(out.access_size) + ": one curve has one DMA size";
      out.access_size = static_cast<uint32_t>(sz);
    }
    if (!seen.insert(p.window).second)
      return where(r.line) + "window " + std::to_string(p.window) + " appears twice";
    out.points.push_back(p);
  }
  if (out.points.size() < 3)
    return name + ": " + std::to_string(out.points.size()) +
           " usable windows: a fit needs at least 3 (more than the parameters it fits)";
  std::sort(out.points.begin(), out.points.end(),
            [](const CurvePoint& a, const CurvePoint& b) { return a.window < b.window; });
  return "";
}

std::string read_measured_curve_file(const std::string& path, const CurveReadOptions& options,
                                     MeasuredCurve& out) {
  std::ifstream in(path);
  if (!in) return path + ": cannot open";
  return read_measured_curve(in, path, options, out);
}

void write_curve_csv(std::ostream& os, const MeasuredCurve& curve) {
  bool p50 = false, p90 = false, p99 = false, samples = false;
  for (const CurvePoint& p : curve.points) {
    p50 = p50 || p.p50_ns >= 0;
    p90 = p90 || p.p90_ns >= 0;
    p99 = p99 || p.p99_ns >= 0;
    samples = samples || p.samples > 0;
  }
  CsvRow head = {"window", "mean_ns"};
  if (p50) head.push_back("p50_ns");
  if (p90) head.push_back("p90_ns");
  if (p99) head.push_back("p99_ns");
  if (samples) head.push_back("samples");
  write_csv_row(os, head);
  auto num = [](double v) {
    if (v < 0) return std::string();
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
  };
  for (const CurvePoint& p : curve.points) {
    CsvRow r = {std::to_string(p.window), num(p.mean_ns)};
    if (p50) r.push_back(num(p.p50_ns));
    if (p90) r.push_back(num(p.p90_ns));
    if (p99) r.push_back(num(p.p99_ns));
    if (samples) r.push_back(p.samples ? std::to_string(p.samples) : "");
    write_csv_row(os, r);
  }
}

}  // namespace iommu_sim
