# Thin wrapper over CMake: the two commands a new user needs.
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# The sanitizer build: clang, AddressSanitizer and UndefinedBehaviorSanitizer on every library
# and test, and the libFuzzer targets (docs/fuzzing.md). No RTL: Verilated code is not ours.
SAN_DIR ?= build-asan
SAN_ENV = SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/sc_tests/sanitizers/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/sc_tests/sanitizers/ubsan.supp

.PHONY: run test build configure bootstrap bench clean sanitize

run: build
	SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 $(BUILD_DIR)/platforms/iommu-sim run

# Every test, then the whole suite again under the sanitizers with a short run of each fuzzer.
test: build
	cd $(BUILD_DIR) && SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 ctest --output-on-failure -j $(JOBS)
	$(MAKE) sanitize

sanitize: bootstrap
	cmake -S . -B $(SAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOMMU_RTL=OFF \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DIOMMU_SANITIZE=ON -DIOMMU_FUZZ=ON
	$(SAN_ENV) cmake --build $(SAN_DIR) -j $(JOBS)
	cd $(SAN_DIR) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

configure: bootstrap
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

bootstrap:
	@scripts/bootstrap

bench: build
	SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 $(BUILD_DIR)/bench/iommu-bench

clean:
	rm -rf $(BUILD_DIR)
