// The IOTLB trace: text round trip, error reporting, replay.
#include <catch2/catch.hpp>

#include <sstream>

#include "iommu_sim/iommu/caches/iotlb_trace.h"

using namespace iommu_sim;

namespace {

IotlbOp op(IotlbOp::Kind kind, uint16_t domain = 0, uint64_t vpn = 0, uint64_t pfn = 0,
           bool r = false, bool w = false, PageSize size = PageSize::Size4K, unsigned am = 0) {
  IotlbOp o;
  o.kind = kind;
  o.entry.domain = domain;
  o.entry.vpn = vpn;
  o.entry.pfn = pfn;
  o.entry.read = r;
  o.entry.write = w;
  o.entry.size = size;
  o.am = am;
  return o;
}

bool same(const IotlbOp& a, const IotlbOp& b) {
  return a.kind == b.kind && a.entry == b.entry && a.am == b.am;
}

}  // namespace

TEST_CASE("trace write and read round trip", "[unit]") {
  const std::vector<IotlbOp> ops = {
      op(IotlbOp::Lookup, 1, 0x12345),
      op(IotlbOp::Fill, 1, 0x12345, 0xABCDE, true, true),
      op(IotlbOp::Access, 1, 0x12345, 0xABCDE, true, true),
      op(IotlbOp::Fill, 65535, 0x400, 0x80200, true, false, PageSize::Size2M),
      op(IotlbOp::Access, 2, 0xFFFFFFFFC0000, 0x40000, false, true, PageSize::Size1G),
      op(IotlbOp::Fill, 3, 0x1, 0x2, false, false),
      op(IotlbOp::InvalidateAll),
      op(IotlbOp::InvalidateDomain, 7),
      op(IotlbOp::InvalidatePages, 7, 0x100, 0, false, false, PageSize::Size4K, 63),
  };
  std::ostringstream out;
  IotlbTraceWriter writer(out);
  writer.comment("recorded by a test\nsecond line");
  for (const IotlbOp& o : ops) writer.write(o);
  CHECK(writer.ops_written() == ops.size());
  const std::string text = out.str();
  CHECK(text.find("# recorded by a test second line\n") == 0);
  CHECK(text.find("F 65535 400 80200 r 2M\n") != std::string::npos);
  CHECK(text.find("F 3 1 2 - 4K\n") != std::string::npos);
  CHECK(text.find("IP 7 100 63\n") != std::string::npos);

  std::istringstream in(text);
  std::vector<IotlbOp> back;
  std::string error;
  REQUIRE(read_iotlb_trace(in, back, error));
  CHECK(error.empty());
  REQUIRE(back.size() == ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    INFO("op " << i);
    CHECK(same(back[i], ops[i]));
  }
}

TEST_CASE("trace reader skips comments and blank lines and accepts 0x", "[unit]") {
  std::istringstream in("# header\n\n  L 2 0x1F   # trailing comment\n\tIG\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].kind == IotlbOp::Lookup);
  CHECK(ops[0].entry.domain == 2);
  CHECK(ops[0].entry.vpn == 0x1F);
  CHECK(ops[1].kind == IotlbOp::InvalidateAll);
}

TEST_CASE("malformed trace lines are reported with their line number", "[unit]") {
  struct Bad {
    const char* text;
    const char* expect;
  };
  const Bad bad[] = {
      {"L 1 10\nIG\nF 1 zz 1 r 4K\n", "line 3: vpn"},
      {"# c\nQ 1 2\n", "line 2: unknown operation 'Q'"},
      {"L 1\n", "line 1: L takes 2 fields, got 1"},
      {"L 70000 1\n", "line 1: domain"},
      {"IG\nIG\nIG\nIG\nF 1 401 80200 rw 2M\n", "line 5: vpn and pfn of a 2M page"},
      {"F 1 10 10 x 4K\n", "line 1: permissions"},
      {"A 1 10 10 r 8K\n", "line 1: page size"},
      {"IP 1 10 64\n", "line 1: address mask"},
      {"L 1 10000000000000\n", "line 1: vpn must be a hex page number of at most 52 bits"},
  };
  for (const Bad& b : bad) {
    INFO(b.text);
    std::istringstream in(b.text);
    std::vector<IotlbOp> ops;
    std::string error;
    CHECK_FALSE(read_iotlb_trace(in, ops, error));
    CHECK_THAT(error, Catch::StartsWith(b.expect));
  }
  // Operations before the bad line are kept.
  std::istringstream in("L 1 10\nIG\nF 1 zz 1 r 4K\nIG\n");
  std::vector<IotlbOp> ops;
  std::string error;
  CHECK_FALSE(read_iotlb_trace(in, ops, error));
  CHECK(ops.size() == 2);
}

TEST_CASE("apply replays iotlb calls and ignores access lines", "[unit]") {
  IotlbConfig c;
  c.sets = 1;
  c.ways = 2;
  IotlbModel t(c);
  std::istringstream in(
      "L 1 10\nF 1 10 20 rw 4K\nA 1 10 20 rw 4K\nA 1 11 21 rw 4K\nL 1 10\nIP 1 10 0\nL 1 10\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  for (const IotlbOp& o : ops) apply(t, o);
  CHECK(t.stats().lookups == 3);
  CHECK(t.stats().hits == 1);
  CHECK(t.stats().fills == 1);
  CHECK(t.stats().invalidations == 1);
  CHECK(t.valid_entries() == 0);  // the access to 0x11 filled nothing
}

TEST_CASE("replay access explores another geometry from access lines", "[unit]") {
  IotlbConfig c;
  c.sets = 1;
  c.ways = 2;
  IotlbModel t(c);
  std::istringstream in(
      "L 1 10\nF 1 10 20 rw 4K\nA 1 10 20 rw 4K\n"  // L and F are ignored
      "A 1 10 20 rw 4K\nA 1 11 21 rw 4K\nA 1 12 22 rw 4K\nA 1 10 20 rw 4K\n"
      "ID 1\nA 1 12 22 rw 4K\nA 1 400 80200 r 2M\nA 1 400 80200 r 2M\n");
  std::vector<IotlbOp> ops;
  std::string error;
  REQUIRE(read_iotlb_trace(in, ops, error));
  std::vector<bool> hits;
  for (const IotlbOp& o : ops)
    if (o.kind == IotlbOp::Access) hits.push_back(replay_access(t, o));
    else replay_access(t, o);
  // 10 miss, 10 hit, 11 miss, 12 miss (touches 10 10 11: evicts 10), 10 miss (evicts 11);
  // the domain invalidation empties it: 12 miss, 2M miss, 2M hit.
  const std::vector<bool> expected = {false, true, false, false, false, false, false, true};
  CHECK(hits == expected);
  CHECK(t.stats().invalidations == 1);
}
