// Reader for the statistics JSON that `iommu-sim run --stats` writes: one object of numbers and
// nested objects (histograms: {"count":..,"mean":..,"p50":..,"p99":..}), flattened here to
// dotted names ("summary.dmas", "platform.iommu.walk_latency.p99").
#pragma once

#include <istream>
#include <map>
#include <string>

namespace iommu_sim {

// Numbers (and true/false as 1/0) under their dotted names; strings go to `strings` when given
// (the metadata's "meta.platform"), nulls and arrays are skipped. Returns false with `error`
// (with the byte offset) on malformed JSON.
bool read_stats_json(std::istream& is, std::map<std::string, double>& out, std::string& error,
                     std::map<std::string, std::string>* strings = nullptr);

}  // namespace iommu_sim
