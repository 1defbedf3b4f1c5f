#include "iommu_sim/platform/sweep/table.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace iommu_sim {

std::string fixed_text(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

void print_aligned_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      out << (i ? "  " : "") << std::setw(static_cast<int>(width[i])) << row[i];
    out << "\n";
  }
}

}  // namespace iommu_sim
