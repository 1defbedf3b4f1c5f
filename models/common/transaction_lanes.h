// Places transactions (closed time intervals) on waveform lanes so that no two on one lane
// overlap or touch: two transactions that share an instant land on different lanes and stay
// apart in the viewer. Transactions arrive out of time order (loosely-timed initiators run ahead
// by up to a quantum), so each lane keeps the intervals that may still collide with a later one;
// those that end before the horizon (a time before which nothing new starts) are dropped.
// Plain C++: times in picoseconds.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace iommu_sim {

class TransactionLanes {
 public:
  explicit TransactionLanes(unsigned lanes) : m_lanes(lanes) {}

  // A lane free over [start, end] (end < start counts as start): `preferred` when it is free,
  // else the first free one; -1 when every lane is taken. `horizon`: no later call will start
  // before it. Placing first-fit in arrival order may need more lanes than transactions ever
  // overlap; giving each initiator a lane of its own as `preferred` needs no more.
  int place(uint64_t start, uint64_t end, uint64_t horizon, int preferred = -1);

  unsigned lanes() const { return static_cast<unsigned>(m_lanes.size()); }

 private:
  // Per lane: start -> end of the intervals placed and not yet behind the horizon.
  std::vector<std::map<uint64_t, uint64_t>> m_lanes;
  uint64_t m_pruned_at = 0;
};

}  // namespace iommu_sim
