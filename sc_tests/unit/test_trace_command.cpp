// `iommu-sim trace convert`, driven through trace_main.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "command_test_util.h"
#include "iommu_sim/iommu/caches/iotlb_trace.h"
#include "iommu_sim/platform/trace_command.h"

using namespace iommu_sim;
namespace fs = std::filesystem;

namespace {

CommandRun trace(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = trace_main(args, out, err);
  return {code, out.str(), err.str()};
}

std::string scratch(const std::string& name) { return fresh_test_dir("trace_test_out", name); }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* kText =
    "# platform.iommu IOTLB access stream\n"
    "L 1 12345\nF 1 12345 abcde rw 4K\nA 1 12345 abcde rw 4K\nIP 1 12345 0\nID 2\nIG\n";

}  // namespace

TEST_CASE("trace convert goes to the other format and back, byte for byte", "[unit]") {
  const std::string dir = scratch("round_trip");
  write_file(dir + "/in.trace", kText);
  CommandRun r = trace({"convert", dir + "/in.trace", dir + "/out.bin"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("(text, 6 operations)") != std::string::npos);
  CHECK(r.out.find("(binary, ") != std::string::npos);
  const std::string binary = read_file(dir + "/out.bin");
  CHECK(binary.compare(0, 6, "\x89IOTLB") == 0);

  r = trace({"convert", dir + "/out.bin", dir + "/back.trace"});
  REQUIRE(r.code == 0);
  CHECK(read_file(dir + "/back.trace") == kText);

  // --to names the format, even the one the input is in.
  r = trace({"convert", "--to=text", dir + "/in.trace", dir + "/same.trace"});
  REQUIRE(r.code == 0);
  CHECK(read_file(dir + "/same.trace") == kText);
  r = trace({"convert", dir + "/in.trace", dir + "/again.bin", "--to", "binary"});
  REQUIRE(r.code == 0);
  CHECK(read_file(dir + "/again.bin") == binary);
}

TEST_CASE("trace convert refuses bad arguments and bad traces, leaving the output alone",
          "[unit]") {
  const std::string dir = scratch("bad");
  write_file(dir + "/in.trace", kText);
  write_file(dir + "/bad.trace", "IG\nL 1 012\n");
  write_file(dir + "/existing.bin", "keep me");

  struct Bad {
    std::vector<std::string> args;
    const char* expect;
  };
  const Bad bad[] = {
      {{}, "usage: iommu-sim trace convert"},
      {{"shuffle"}, "unknown trace command 'shuffle': accepted is convert"},
      {{"convert", dir + "/in.trace"}, "convert takes an input and an output file, got 1"},
      {{"convert", dir + "/in.trace", dir + "/o", "--to", "xml"}, "--to xml: accepted are text and binary"},
      {{"convert", dir + "/in.trace", dir + "/o", "--to"}, "--to needs a value"},
      {{"convert", dir + "/in.trace", dir + "/o", "--fast"}, "unknown option '--fast'"},
      {{"convert", dir + "/missing", dir + "/o"}, "cannot open"},
      {{"convert", dir + "/in.trace", dir + "/in.trace"}, "are the same file"},
      {{"convert", dir + "/bad.trace", dir + "/existing.bin"}, "bad.trace: line 2: vpn"},
      {{"convert", dir + "/in.trace", dir + "/no/such/dir/o"}, "cannot write"},
  };
  for (const Bad& b : bad) {
    std::string joined;
    for (const std::string& a : b.args) joined += a + " ";
    INFO(joined);
    const CommandRun r = trace(b.args);
    CHECK(r.code == 2);
    CHECK(r.err.find(b.expect) != std::string::npos);
  }
  // The failed conversion left the existing output as it was, and no partial file behind.
  CHECK(read_file(dir + "/existing.bin") == "keep me");
  CHECK_FALSE(fs::exists(dir + "/existing.bin.partial"));
  CHECK(read_file(dir + "/in.trace") == kText);

  const CommandRun help = trace({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("iommu-sim trace convert IN OUT") != std::string::npos);
}
