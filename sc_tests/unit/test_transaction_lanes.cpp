// Transactions placed on waveform lanes: never two that overlap or touch on one lane, whatever
// order they arrive in, and lanes free again once the horizon has passed their transactions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <random>
#include <vector>

#include "iommu_sim/common/transaction_lanes.h"

using namespace iommu_sim;

TEST_CASE("transaction lanes keep transactions that share an instant apart", "[unit]") {
  TransactionLanes lanes(3);
  CHECK(lanes.place(100, 200, 0) == 0);
  CHECK(lanes.place(100, 150, 0) == 1);  // begins with the first
  CHECK(lanes.place(200, 300, 0) == 1);  // begins as lane 0's ends: touching is not apart
  CHECK(lanes.place(150, 160, 0) == 2);  // touches lane 1's first
  CHECK(lanes.place(150, 150, 0) == -1); // every lane busy at 150
  CHECK(lanes.place(155, 158, 0) == 1);  // between lane 1's two
  CHECK(lanes.place(50, 99, 0) == 0);    // earlier than what lane 0 holds, arriving later
  CHECK(lanes.place(10, 10, 0) == 0);    // a zero-length transaction
  CHECK(lanes.place(10, 10, 0) == 1);
  CHECK(lanes.place(400, 500, 0, 2) == 2);  // the preferred lane when it is free
  CHECK(lanes.place(450, 460, 0, 2) == 0);  // else the first free one
}

TEST_CASE("transaction lanes forget what lies behind the horizon", "[unit]") {
  TransactionLanes lanes(1);
  CHECK(lanes.place(0, 1000, 0) == 0);
  CHECK(lanes.place(500, 600, 0) == -1);
  // With the horizon at 1001 nothing can start before it: the lane is free from there on.
  CHECK(lanes.place(1001, 1100, 1001) == 0);
  CHECK(lanes.place(1050, 1060, 1001) == -1);
}

TEST_CASE("transaction lanes never overlap on random out-of-order arrivals", "[unit]") {
  // Initiators run ahead of a clock by up to a window; each one's transactions follow each other.
  const unsigned initiators = 6;
  TransactionLanes lanes(initiators);
  std::mt19937_64 rng(7);
  std::vector<uint64_t> local(initiators, 0);
  std::vector<std::map<uint64_t, uint64_t>> placed(initiators);
  uint64_t clock = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned i = static_cast<unsigned>(rng() % initiators);
    if (local[i] < clock) local[i] = clock;
    const uint64_t start = local[i] + rng() % 50, end = start + rng() % 400;
    local[i] = end + 1;
    const int lane = lanes.place(start, end, clock, static_cast<int>(i));
    REQUIRE(lane == static_cast<int>(i));  // an initiator's own lane is always free for it
    auto& l = placed[static_cast<size_t>(lane)];
    auto after = l.upper_bound(end);
    if (after != l.begin()) REQUIRE(std::prev(after)->second < start);
    if (after != l.end()) REQUIRE(after->first > end);
    l.emplace(start, end);
    if (rng() % 8 == 0) clock = *std::min_element(local.begin(), local.end());
  }
}

TEST_CASE("transaction lanes placed first-fit never overlap either", "[unit]") {
  TransactionLanes lanes(4);
  std::mt19937_64 rng(11);
  std::vector<std::map<uint64_t, uint64_t>> placed(4);
  unsigned unplaced = 0;
  for (int step = 0; step < 20000; ++step) {
    const uint64_t start = rng() % 100000, end = start + rng() % 40;
    const int lane = lanes.place(start, end, 0);
    if (lane < 0) {
      ++unplaced;
      continue;
    }
    auto& l = placed[static_cast<size_t>(lane)];
    auto after = l.upper_bound(end);
    if (after != l.begin()) REQUIRE(std::prev(after)->second < start);
    if (after != l.end()) REQUIRE(after->first > end);
    l.emplace(start, end);
  }
  CHECK(unplaced > 0);  // 20,000 random ones crowd four lanes at times
}
