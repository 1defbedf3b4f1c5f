# Thin wrapper over CMake: the two commands a new user needs.
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: run test build configure bootstrap bench clean

run: build
	SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 $(BUILD_DIR)/platforms/iommu-sim run

test: build
	cd $(BUILD_DIR) && SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 ctest --output-on-failure -j $(JOBS)

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
