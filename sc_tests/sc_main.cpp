// One sc_main for every test that needs the SystemC kernel: it runs a Catch2 session.
// The kernel cannot be restarted in one process, so ctest runs each test case in its own process.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}
