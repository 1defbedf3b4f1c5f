#include "iommu_sim/platform/sweep/grid.h"

#include <cctype>
#include <cstdlib>
#include <set>

namespace iommu_sim {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

bool parse_positive(const std::string& s, unsigned& out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  out = static_cast<unsigned>(std::strtoul(s.c_str(), nullptr, 10));
  return out > 0;
}

}  // namespace

bool parse_grid_axis(const std::string& text, GridAxis& out, std::string& error) {
  const char* accepted = "--grid expects KEY=V1,V2,... (a dotted configuration key and "
                         "comma-separated values, e.g. iommu.iotlb.ways=1,2,4)";
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    error = std::string(accepted) + ", got '" + text + "'";
    return false;
  }
  GridAxis axis;
  axis.key = text.substr(0, eq);
  for (char c : axis.key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '[' || c == ']')) {
      error = std::string(accepted) + "; the key '" + axis.key + "' has a '" + c + "'";
      return false;
    }
  }
  std::set<std::string> seen;
  for (const std::string& v : split(text.substr(eq + 1), ',')) {
    if (v.empty() || v.find_first_of(" \t") != std::string::npos) {
      error = std::string(accepted) + "; empty value or space in '" + text + "'";
      return false;
    }
    if (!seen.insert(v).second) {
      error = "--grid " + axis.key + ": value '" + v + "' is listed twice";
      return false;
    }
    axis.values.push_back(v);
  }
  out = axis;
  return true;
}

std::vector<GridPoint> expand_grid(const std::vector<GridAxis>& axes) {
  size_t total = 1;
  for (const GridAxis& a : axes) total *= a.values.size();
  std::vector<GridPoint> points(total);
  for (size_t i = 0; i < total; ++i) {
    points[i].index = i;
    // Mixed-radix digits of i, the last axis the least significant.
    size_t rest = i;
    std::vector<size_t> digit(axes.size());
    for (size_t a = axes.size(); a-- > 0;) {
      digit[a] = rest % axes[a].values.size();
      rest /= axes[a].values.size();
    }
    for (size_t a = 0; a < axes.size(); ++a)
      points[i].settings.emplace_back(axes[a].key, axes[a].values[digit[a]]);
  }
  return points;
}

bool parse_shard(const std::string& text, unsigned& index, unsigned& count, std::string& error) {
  const size_t slash = text.find('/');
  unsigned i = 0, n = 0;
  if (slash == std::string::npos || !parse_positive(text.substr(0, slash), i) ||
      !parse_positive(text.substr(slash + 1), n) || i > n) {
    error = "--shard expects I/N with 1 <= I <= N (the I-th of N slices), got '" + text + "'";
    return false;
  }
  index = i;
  count = n;
  return true;
}

std::vector<GridPoint> shard_points(const std::vector<GridPoint>& points, unsigned index,
                                    unsigned count) {
  std::vector<GridPoint> out;
  for (const GridPoint& p : points)
    if (p.index % count == index - 1) out.push_back(p);
  return out;
}

}  // namespace iommu_sim
