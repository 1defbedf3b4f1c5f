// Catch2's own main for the plain C++ unit tests (no SystemC kernel).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
