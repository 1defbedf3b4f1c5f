#include "iommu_sim/common/transaction_lanes.h"

#include <iterator>

namespace iommu_sim {

int TransactionLanes::place(uint64_t start, uint64_t end, uint64_t horizon, int preferred) {
  if (end < start) end = start;
  if (horizon > m_pruned_at) {
    // Intervals that end before the horizon cannot touch anything placed from now on.
    // On a lane, intervals are disjoint: sorted by start, they are sorted by end too.
    for (auto& lane : m_lanes)
      while (!lane.empty() && lane.begin()->second < horizon) lane.erase(lane.begin());
    m_pruned_at = horizon;
  }
  const auto try_lane = [&](size_t i) {
    auto& lane = m_lanes[i];
    // Of the lane's disjoint intervals, only the last one starting at or before `end` can
    // touch [start, end].
    auto after = lane.upper_bound(end);
    if (after != lane.begin() && std::prev(after)->second >= start) return false;
    lane.emplace(start, end);
    return true;
  };
  if (preferred >= 0 && static_cast<size_t>(preferred) < m_lanes.size() &&
      try_lane(static_cast<size_t>(preferred)))
    return preferred;
  for (size_t i = 0; i < m_lanes.size(); ++i)
    if (try_lane(i)) return static_cast<int>(i);
  return -1;
}

}  // namespace iommu_sim
