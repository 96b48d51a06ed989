#!/usr/bin/env bash
# The GPU machine's configuration path, on this machine: the dependencies vendored as
# scripts/vendor-deps.sh does, `cmake --preset gpu` (in a scratch build folder, with those vendored
# dependencies), and a test built against the vendored GoogleTest and run. benchmarks/gpu_check.sh starts
# with exactly this, on a machine with one short device lease. Usage: test_gpu_preset.sh SOURCE_DIR WORK_DIR.
# Skips (77), saying why, without the Debian packages to vendor or without the CUDA toolkit.
set -euo pipefail
src=$1
work=$2
if [ ! -d /usr/include/nlohmann ] || [ ! -d /usr/src/googletest ]; then
  echo "skipped: the Debian packages to vendor are not installed"
  exit 77
fi
if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "skipped: no CUDA toolkit, so no gpu preset to configure"
  exit 77
fi
export PATH=/usr/local/cuda/bin:$PATH
rm -rf "$work"
mkdir -p "$work"
"$src/scripts/vendor-deps.sh" "$work/deps"
cmake --preset gpu -S "$src" -B "$work/build" -DLSTMAD_DEPS_DIR="$work/deps"
grep -q "LSTMAD_DEPS_DIR:.*=$work/deps" "$work/build/CMakeCache.txt"
cmake --build "$work/build" --target test_mma_layout -j 2
"$work/build/tests/test_mma_layout" --gtest_brief=1
