// The text tables the studies print: numbers with a fixed number of decimals, and rows of cells
// in right-aligned columns.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

// `v` with `digits` decimals ("12.500").
std::string fixed_text(double v, int digits);

// Every row's cells right-aligned to the widest cell of their column, two spaces apart. Rows may
// have fewer cells than others (a failed point).
void print_aligned_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

}  // namespace iommu_sim
