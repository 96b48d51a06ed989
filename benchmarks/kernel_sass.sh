#!/usr/bin/env bash
# The SASS of the time-loop kernels in EXE (the one-block, split, cluster, wavefront and tensor-core
# forward and backward kernels), for counting what one step issues: the GPU machine has cuobjdump, the
# development machines need not. Used by benchmarks/gpu_check.sh (section 6b).
#   benchmarks/kernel_sass.sh build-gpu/benchmarks/gpu_bench_fused > sass.log
set -euo pipefail
exe=${1:?usage: kernel_sass.sh EXECUTABLE}
CUOBJDUMP=$(command -v cuobjdump 2>/dev/null || true)
if [ -z "$CUOBJDUMP" ] && [ -x /usr/local/cuda/bin/cuobjdump ]; then CUOBJDUMP=/usr/local/cuda/bin/cuobjdump; fi
if [ -z "$CUOBJDUMP" ]; then
  echo "kernel_sass: no cuobjdump on this machine" >&2
  exit 3
fi
# cuobjdump prints each function after a "Function : <mangled name>" line; keep the time loops' blocks.
"$CUOBJDUMP" -sass "$exe" | awk '
  /Function : / { keep = ($0 ~ /lstm_(fused|split|mma)_[a-z_]*kernel|wavefront_(fwd|bwd)_kernel/); if (keep) n++ }
  keep { print }
  END { if (n == 0) { print "kernel_sass: no time-loop kernel in the SASS" > "/dev/stderr"; exit 4 } }'
