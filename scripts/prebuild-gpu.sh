#!/usr/bin/env bash
# Builds, on this machine, the executables benchmarks/gpu_check.sh runs on the GPU machine (every
# tests/gpu/test_*, every benchmarks/gpu_bench_*, lstmad) and packs them with the build log (the ptxas
# report), the commit and the SHA-256 of every tracked file into .deps/gpu-prebuilt.tar.xz (2.8 MB at its
# first build; .deps travels with `carry`). gpu_check.sh uses them when the tree there is this one
# (tree.sha256: the GPU machine's copy of the working tree need not hold git), the commit named there is
# theirs, and they load there (`lstmad info` and every test's --gtest_list_tests run); otherwise it
# builds as before. The
# device time this saves is the build's: minutes of a 15-minute lease.
#   scripts/vendor-deps.sh && scripts/prebuild-gpu.sh      (on a clean tree: commit first)
# The host code is built for x86-64-v3 (AVX2 and FMA) instead of -march=native, since the GPU machine's
# CPU is not this one; the device code for sm_90 as always.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "$(git status --porcelain --untracked-files=normal)" ]; then
  echo "prebuild-gpu: the tree has changes; commit them first, so the binaries match a commit" >&2
  git status --short >&2
  exit 1
fi
[ -d .deps/include ] || scripts/vendor-deps.sh
export PATH=/usr/local/cuda/bin:$PATH
commit=$(git rev-parse HEAD)
build=build-gpu-prebuilt
cmake --preset gpu -B "$build" -DLSTMAD_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DLSTMAD_PTXAS_VERBOSE=ON
tests=$(find tests/gpu -maxdepth 1 -name 'test_*.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
benches=$(find benchmarks -maxdepth 1 -name 'gpu_bench_*.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
# shellcheck disable=SC2086  # the target lists split on purpose
cmake --build "$build" -j"$(nproc)" --target $tests $benches lstmad 2>&1 | tee "$build/build.log"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for t in $tests $benches lstmad; do
  exe=$(find "$build" -name "$t" -type f -perm -u+x | head -1)
  [ -n "$exe" ] || { echo "prebuild-gpu: $t was not built" >&2; exit 1; }
  rel=${exe#"$build"/}
  mkdir -p "$stage/$(dirname "$rel")"
  cp "$exe" "$stage/$rel"
done
cp "$build/build.log" "$stage/build.log"
echo "$commit" >"$stage/commit"
git ls-files -z | xargs -0 sha256sum >"$stage/tree.sha256"
tar -C "$stage" -cJf .deps/gpu-prebuilt.tar.xz .
echo "prebuild-gpu: .deps/gpu-prebuilt.tar.xz ($(du -h .deps/gpu-prebuilt.tar.xz | cut -f1)) for commit $commit"
