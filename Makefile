# The two commands: `make run` (the main job) and `make test` (every test). Both install missing Debian
# packages (as root), configure and build first.
BUILD   ?= build
CONFIG  ?= configs/quickstart.json
PRESET_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
ARGS    ?=
JOBS    ?= $(shell nproc)
FUZZ_SECONDS ?= 20

.PHONY: all deps configure build run test test-cpu sanitize tsan emulate tidy format clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(PRESET_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/lstmad run $(CONFIG) $(ARGS)

# Every test: the GoogleTest suites and end-to-end tests (ctest), then the fuzzers for a bounded time.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

# The two sanitizer builds compile most of their shared files to the same preprocessed text with the same
# flags (the rest see LSTMAD_WITH_CUDA and are kept out of the unity sources, cmake/LstmadUnity.cmake). With
# ccache (installed by scripts/install-deps.sh) the second build takes those objects from the first: in CI
# the emulation stage's configure and build took 140 s instead of about 310 s. The cache lives in
# build-ccache/. NOHASHDIR lets the two build folders share it (the folder only names the objects'
# DW_AT_comp_dir); BASEDIR has ccache name the sources by paths relative to the build folder, without which
# the unity sources, which lie in each build folder, would be named apart and never shared (their reports
# and __FILE__ then read ../framework/... instead of the absolute path). Without ccache both build as before.
SAN_LAUNCHER = $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_DIR ?= $(CURDIR)/build-ccache
export CCACHE_NOHASHDIR ?= true
export CCACHE_BASEDIR ?= $(CURDIR)

# The CPU tests under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	cmake --preset asan $(SAN_LAUNCHER) && cmake --build --preset asan -j $(JOBS) && ctest --preset asan

# The CPU tests under ThreadSanitizer (the thread pool, the scheduler's workers, progress and the results
# writer; the lstmad the tests start is instrumented too). Not in CI: its own build and run take about ten
# minutes on two cores, beyond CI's budget; run it after a change to anything that threads share.
tsan: deps
	cmake --preset tsan $(SAN_LAUNCHER) && cmake --build --preset tsan -j $(JOBS) && ctest --preset tsan

# The GPU tests on the host emulation of CUDA (tests/emulation; needs the CUDA toolkit's headers, no GPU),
# under ASan + UBSan: the kernels' barriers, warp collectives, clusters and memory accesses, checked here.
emulate: deps
	@if [ ! -f /usr/local/cuda/include/cuda_runtime.h ] && ! command -v nvcc >/dev/null; then \
	  echo "make emulate: no CUDA toolkit (its headers are needed, not a GPU): the emulated GPU tests cannot be built here"; \
	  exit 0; fi; \
	cmake --preset emulation $(SAN_LAUNCHER) && cmake --build --preset emulation -j $(JOBS) && ctest --preset emulation

# clang-tidy with the checks in .clang-tidy over the C++ sources of framework/ and experiments/ (not the .cu
# files), from the compile database of a folder configured for it (build-tidy, configured only, never built:
# without the unity sources, so that each file has its own compile command); fails when it reports
# anything. Not in CI: about 20 minutes on one core. The log is build-tidy/tidy.log.
RUN_CLANG_TIDY ?= run-clang-tidy-14
TIDY_BUILD ?= build-tidy
tidy: deps
	@bash scripts/install-deps.sh clang-tidy
	@test -f $(TIDY_BUILD)/build.ninja || cmake -S . -B $(TIDY_BUILD) -G Ninja $(PRESET_FLAGS) -DLSTMAD_UNITY=OFF
	@rc=0; $(RUN_CLANG_TIDY) -p $(TIDY_BUILD) -j $(JOBS) -quiet '^$(CURDIR)/(framework|experiments)/.*\.cpp$$' \
	  >$(TIDY_BUILD)/tidy.log 2>&1 || rc=$$?; \
	  grep -A3 -E '(warning|error):' $(TIDY_BUILD)/tidy.log; \
	  if [ $$rc -ne 0 ] || grep -qE '(warning|error):' $(TIDY_BUILD)/tidy.log; then \
	    echo "make tidy: findings or a failure, see $(TIDY_BUILD)/tidy.log"; exit 1; fi

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh')

clean:
	rm -rf $(BUILD)
