// The sweep's CSV files (RFC 4180 quoting) and the merge of shard CSVs.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace iommu_sim {

using CsvRow = std::vector<std::string>;

// Quotes a field when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s);
void write_csv_row(std::ostream& os, const CsvRow& row);

// Reads every row (the header included). Returns false with `error` ("line N: ...") on an
// unterminated quote or a row whose field count differs from the first row's.
bool read_csv(std::istream& is, std::vector<CsvRow>& rows, std::string& error);

// Joins sweep CSVs that share one header and a leading `point` column: rows are ordered by point
// index; a point in several inputs must have identical rows there, the `seconds` column aside (the
// same point run twice gives the same numbers). Returns "" or what went wrong, naming the file.
std::string merge_sweep_csvs(const std::vector<std::string>& inputs, const std::string& output,
                             size_t& rows_written);

}  // namespace iommu_sim
