// Grid sweeps: `--grid KEY=V1,V2,...` axes, their cartesian product, and the slice of it that one
// shard of a job array runs.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace iommu_sim {

struct GridAxis {
  std::string key;
  std::vector<std::string> values;
};

// One point of the grid: its index in the full product (stable across shards, so that merged
// shards can be put back in order) and the `--set` pairs it adds, in axis order.
struct GridPoint {
  size_t index = 0;
  std::vector<std::pair<std::string, std::string>> settings;
};

// "KEY=V1,V2,..." (values without commas or spaces). Returns false with `error` saying what is
// accepted.
bool parse_grid_axis(const std::string& text, GridAxis& out, std::string& error);

// The cartesian product, the last axis varying fastest; one empty point for no axes.
std::vector<GridPoint> expand_grid(const std::vector<GridAxis>& axes);

// "I/N" with 1 <= I <= N.
bool parse_shard(const std::string& text, unsigned& index, unsigned& count, std::string& error);

// The I-th of N slices (I from 1): points whose index modulo N is I-1. Round robin rather than
// contiguous blocks so that each shard gets a mix of small and large configurations.
std::vector<GridPoint> shard_points(const std::vector<GridPoint>& points, unsigned index,
                                    unsigned count);

}  // namespace iommu_sim
