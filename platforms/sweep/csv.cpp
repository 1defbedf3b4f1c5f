#include "iommu_sim/platform/sweep/csv.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace iommu_sim {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_csv_row(std::ostream& os, const CsvRow& row) {
  for (size_t i = 0; i < row.size(); ++i) os << (i ? "," : "") << csv_field(row[i]);
  os << "\n";
}

bool read_csv(std::istream& is, std::vector<CsvRow>& rows, std::string& error) {
  rows.clear();
  std::string line;
  size_t line_no = 0;
  while (std::getline(is, line)) {
    ++line_no;
    const size_t first_line = line_no;
    if (line.empty() || line == "\r") continue;
    CsvRow row;
    std::string field;
    bool quoted = false;
    size_t i = 0;
    for (;;) {
      if (i == line.size()) {
        if (!quoted) break;
        // A quoted field that holds a line break continues on the next line.
        std::string more;
        if (!std::getline(is, more)) {
          error = "line " + std::to_string(first_line) + ": unterminated quoted field";
          return false;
        }
        ++line_no;
        field += '\n';
        line += more;
        continue;
      }
      const char c = line[i++];
      if (quoted) {
        if (c == '"' && i < line.size() && line[i] == '"') {
          field += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        row.push_back(field);
        field.clear();
      } else if (c != '\r') {
        field += c;
      }
    }
    row.push_back(field);
    if (!rows.empty() && row.size() != rows[0].size()) {
      error = "line " + std::to_string(first_line) + ": " + std::to_string(row.size()) +
              " fields where the header has " + std::to_string(rows[0].size());
      return false;
    }
    rows.push_back(std::move(row));
  }
  return true;
}

namespace {

// Equal apart from the run time, which differs from run to run of the same point.
bool same_result(const CsvRow& header, const CsvRow& a, const CsvRow& b) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] != "seconds" && a[i] != b[i]) return false;
  return true;
}

}  // namespace

std::string merge_sweep_csvs(const std::vector<std::string>& inputs, const std::string& output,
                             size_t& rows_written) {
  rows_written = 0;
  if (inputs.empty()) return "merge needs at least one input CSV";
  CsvRow header;
  std::map<unsigned long long, std::pair<CsvRow, std::string>> by_point;  // point -> row, file
  for (const std::string& path : inputs) {
    std::ifstream in(path);
    if (!in) return path + ": cannot open";
    std::vector<CsvRow> rows;
    std::string error;
    if (!read_csv(in, rows, error)) return path + ": " + error;
    if (rows.empty()) return path + ": empty file (no header)";
    if (rows[0].empty() || rows[0][0] != "point")
      return path + ": not a sweep CSV (the first column is not 'point')";
    if (header.empty()) header = rows[0];
    else if (rows[0] != header)
      return path + ": its columns differ from " + inputs[0] + "'s (another grid?)";
    for (size_t r = 1; r < rows.size(); ++r) {
      char* end = nullptr;
      const unsigned long long p = std::strtoull(rows[r][0].c_str(), &end, 10);
      if (rows[r][0].empty() || *end != '\0')
        return path + ": row " + std::to_string(r + 1) + " has point '" + rows[r][0] +
               "', not a number";
      auto it = by_point.find(p);
      if (it == by_point.end()) {
        by_point.emplace(p, std::make_pair(rows[r], path));
      } else if (!same_result(header, it->second.first, rows[r])) {
        return "point " + rows[r][0] + " differs between " + it->second.second + " and " + path;
      }
    }
  }
  // Shards as the sweep names them (sweep-shard-I-of-N.csv): all N must be there. A shard
  // whose points come last leaves no hole in the numbering, so the names are checked too.
  std::map<unsigned, std::set<unsigned>> shards;  // N -> the I given
  for (const std::string& path : inputs) {
    unsigned i = 0, n = 0;
    char tail = 0;
    const std::string name = std::filesystem::path(path).filename().string();
    if (std::sscanf(name.c_str(), "sweep-shard-%u-of-%u.cs%c", &i, &n, &tail) == 3 && tail == 'v')
      shards[n].insert(i);
  }
  for (const auto& [n, given] : shards)
    for (unsigned i = 1; i <= n; ++i)
      if (!given.count(i))
        return "sweep-shard-" + std::to_string(i) + "-of-" + std::to_string(n) +
               ".csv is missing: a merge needs every shard of the grid";
  // Shards take every N-th point: a missing shard leaves a hole in the numbering.
  unsigned long long expected = 0;
  for (const auto& e : by_point) {
    if (e.first != expected)
      return "point " + std::to_string(expected) + " is in none of the inputs: a shard is missing";
    ++expected;
  }
  std::ofstream out(output);
  if (!out) return output + ": cannot open for writing";
  write_csv_row(out, header);
  for (const auto& e : by_point) write_csv_row(out, e.second.first);
  out.flush();
  if (!out) return output + ": write failed";
  rows_written = by_point.size();
  return "";
}

}  // namespace iommu_sim
