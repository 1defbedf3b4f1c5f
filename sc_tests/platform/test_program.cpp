// The `iommu-sim` program as its users meet it: the version, how the models' messages and
// errors come out, and the metadata of its statistics files.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  const fs::path p = fs::current_path() / "program_out" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Result {
  int code = -1;
  std::string out, err;
};

Result run(const std::string& args, const std::string& dir) {
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  const std::string cmd = std::string(IOMMU_SIM_EXE) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  return Result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read(out), read(err)};
}

}  // namespace

TEST_CASE("iommu-sim --version gives the package version and the git revision", "[program]") {
  const Result r = run("--version", scratch("version"));
  REQUIRE(r.code == 0);
  CHECK(std::regex_match(r.out, std::regex(R"(iommu-sim \d+\.\d+\.\d+ \(git [0-9a-zA-Z.\-]+\)\n)")));
}

TEST_CASE("a model's configuration error is bad input, said once on stderr", "[program]") {
  const std::string dir = scratch("config_error");
  const Result r = run("run --quiet --iotlb-trace " + dir + "/no/such/dir/x.iotlb", dir);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "iommu-sim: platform.iommu: cannot open iotlb_trace_path '" + dir + "/no/such/dir/x.iotlb'\n");
}
