#!/usr/bin/env bash
# The one-call GPU check (docs/gpu.md): on the GPU machine, from the repository root,
#   benchmarks/gpu_check.sh            # everything (261 s on the H200 from prebuilt executables, 2026-12-04)
#   GPU_CHECK_QUICK=1 benchmarks/gpu_check.sh   # a few benchmark shapes only
#   (GPU_CHECK_BUILD_DIR=dir GPU_CHECK_CONFIGURE=0: reuse an already configured build folder;
#    GPU_CHECK_PREBUILT=none: build here even when .deps/gpu-prebuilt.tar.xz would do)
#   GPU_CHECK_DEADLINE=S (default 540): no stage runs past S seconds from the start; a stage that would is
#   cut short at the deadline, later ones are skipped, and the tables and the summary still print, inside
#   a 10-minute call. After the build, the tests, the benchmarks, the sanitizers and the end-to-end run
#   each get a share of the time left (section, below) split among their stages (the benchmarks by weight).
#   GPU_CHECK_SKIP="tests sanitizers benchmarks end_to_end profile" (any of them): leave those parts out, e.g. for a second
#   call that only finishes what a deadline cut (the build is redone unless the machine is still warm).
# 1. prints the environment (nvidia-smi, nvcc, cuDNN header and library, cmake);
# 2. uses the executables of .deps/gpu-prebuilt.tar.xz (scripts/prebuild-gpu.sh) when they were built
#    from this commit and load here; otherwise configures (cmake --preset gpu: vendored dependencies from
#    .deps, CUDNN_ROOT from the toolkit or from the nvidia-cudnn pip package) and builds the CUDA targets;
# 3. runs every gpu-labelled test executable with LSTMAD_STRICT_GPU=1 (a missing device fails);
# 4. runs compute-sanitizer memcheck and racecheck on small cases (the kernels, cuDNN, the fused kernels,
#    the multi-model kernels);
# 5. runs the GPU benchmarks and the PyTorch comparisons on the same shapes (nn.LSTM per shape; a loop
#    of nn.LSTM models and a stacked batched-matmul LSTM beside gpu_bench_multi), with where one step's
#    time goes, phase by phase (gpu_bench_fused_phases.csv: one model at the small shapes;
#    gpu_bench_phases.csv: many models), and one time-loop step taken apart (gpu_bench_anatomy.csv: the
#    primitive latencies and the step ladders, no profiler needed);
# 6. runs configs/nab_grid.json end to end on the fused engine (when .deps/nab holds the NAB corpus), with
#    its models saved, and checks that `lstmad detect` reproduces three cells' scores from them; then
#    profiles one single-model step's time loops with ncu (information, not a check);
# 7. writes full logs to build-gpu/gpu-check (emptied first) and prints a short table last.
# Where $OUT is set (the device tool brings back at most 8 files from it), $OUT gets summary.log,
# environment.log and gpu-check.tar.gz (the whole log folder), refreshed after every stage, so that a
# call cut short still returns what it did; `scripts/gpu-results.py gpu-check.tar.gz` reads the archive.
# No git is needed there: GPU_CHECK_COMMIT names the commit (git's HEAD when git works), and prebuilt
# executables are matched to the tree by the SHA-256 of every tracked file (scripts/prebuild-gpu.sh).
# Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
LOG=${GPU_CHECK_LOG:-$ROOT/build-gpu/gpu-check}
rm -rf "$LOG" && mkdir -p "$LOG"
COMMIT=${GPU_CHECK_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}  # PyTorch's stages keep it: torch brings its own CUDA and cuDNN
BUILD=${GPU_CHECK_BUILD_DIR:-$ROOT/build-gpu}   # the gpu preset's binaryDir
JOBS=$(nproc 2>/dev/null || echo 4)
START=$(date +%s)
DEADLINE=${GPU_CHECK_DEADLINE:-540}
PROFILE_S=100  # kept from the end-to-end run's share for the profile (section 6b)
SKIP=" ${GPU_CHECK_SKIP:-} "
wanted() {  # wanted PART: not listed in GPU_CHECK_SKIP
  case "$SKIP" in *" $1 "*) record "$1" "SKIPPED(asked)"; return 1 ;; esac
  return 0
}
FAILED=0

record() {  # record NAME STATUS [SECONDS]: a row of $LOG/summary.log; then $OUT is brought up to date
  local row
  row=$(printf '%-28s %-16s' "$1" "${2:0:44}")
  if [ $# -ge 3 ]; then row+=$(printf ' %5ss' "$3"); fi
  printf '%s\n' "$row" >>"$LOG/summary.log"
  publish
}

publish() {  # the summary so far, the environment and an archive of $LOG into $OUT (when set)
  [ -n "${OUT:-}" ] || return 0
  mkdir -p "$OUT"
  cp "$LOG/summary.log" "$OUT/summary.log" 2>/dev/null
  cp "$LOG/environment.log" "$OUT/environment.log" 2>/dev/null
  tar -C "$LOG" -czf "$OUT/gpu-check.tar.gz.part" . 2>/dev/null
  # A file over 16 MiB does not come back: then the archive leaves out the largest logs (build, run log).
  if [ "$(stat -c %s "$OUT/gpu-check.tar.gz.part" 2>/dev/null || echo 0)" -gt 15000000 ]; then
    tar -C "$LOG" -czf "$OUT/gpu-check.tar.gz.part" --exclude=./build.log --exclude=./nab_grid_fused/log.txt \
      --exclude=./nab_grid_fused.log . 2>/dev/null
  fi
  mv -f "$OUT/gpu-check.tar.gz.part" "$OUT/gpu-check.tar.gz" 2>/dev/null
  return 0
}

# Sections: after the build, the tests, the benchmarks, the sanitizers and the end-to-end run each get a
# share of the time then left before the deadline (section SHARE, below), so that one slow part cannot
# leave the later ones nothing; time a section does not use passes on to the next. Its stages stop at the
# section's end (SKIPPED(budget) or TIMEOUT), the benchmarks keeping the CSV rows they wrote.
SECTION_END=0  # seconds from START; 0: no section yet (the build)
section() {  # section SHARE: the stages from here may run until SHARE of the time left has passed
  local now=$(( $(date +%s) - START ))
  SECTION_END=$(awk -v n="$now" -v l="$(( DEADLINE - now ))" -v s="$1" 'BEGIN { printf "%d", n + l * s }')
  echo "-- from ${now}s: a section until ${SECTION_END}s of ${DEADLINE}s" | tee -a "$LOG/sections.log"
}
share() {  # share N: seconds for the next of N stages still to run in this section, an even split
  weighted 1 "$1"
}
weighted() {  # weighted W TOTAL: W parts of the section's time left, TOTAL the parts still to run
  local left=$(( SECTION_END - ($(date +%s) - START) ))
  echo $(( left > 0 ? left * $1 / $2 : 0 ))
}

run_stage() {  # run_stage NAME TIMEOUT_S COMMAND...: runs it, logging to $LOG/NAME.log; sets STATUS and
  local name=$1 limit=$2  # TOOK (seconds) for the caller to record, and returns the command's status
  shift 2
  local t0
  t0=$(date +%s)
  TOOK=0
  local left=$(( DEADLINE - (t0 - START) ))
  local in_section=$left
  if [ "$SECTION_END" -gt 0 ]; then in_section=$(( SECTION_END - (t0 - START) )); fi
  if [ "$left" -lt "$limit" ]; then limit=$left; fi
  if [ "$in_section" -lt "$limit" ]; then limit=$in_section; fi
  if [ "$limit" -le 5 ]; then  # no time left for it: recorded, and the check goes on to its summary
    local why=deadline
    if [ "$left" -gt 5 ]; then why=budget; fi
    echo "== $name: skipped, past the $why" | tee "$LOG/$name.log"
    STATUS="SKIPPED($why)"
    FAILED=1
    return 1
  fi
  echo "== $name: $*" | tee "$LOG/$name.log"
  timeout --kill-after=10 "$limit" "$@" >>"$LOG/$name.log" 2>&1
  local rc=$?
  TOOK=$(( $(date +%s) - t0 ))
  STATUS=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then STATUS="TIMEOUT(${limit}s)"; FAILED=1
  elif [ $rc -ne 0 ]; then STATUS="FAILED(rc=$rc)"; FAILED=1; fi
  tail -n 5 "$LOG/$name.log" | grep -v "^== $name: "
  return $rc
}

stage() {  # stage NAME TIMEOUT_S COMMAND...: run_stage, and its row in the summary
  local rc=0
  run_stage "$@" || rc=$?
  record "$1" "$STATUS" "$TOOK"
  return $rc
}

missing() {  # missing NAME: the row of a stage whose executable was not built
  echo "== $1: its executable was not built" | tee "$LOG/$1.log"
  record "$1" "MISSING(build)" 0
  FAILED=1
  return 1
}

run_exe() {  # run_exe STAGE LIMIT TARGET ARGS...: the stage, or a MISSING row when TARGET was not built
  local name=$1 limit=$2 target=$3 exe
  shift 3
  exe=$(find "$BUILD" -name "$target" -type f -perm -u+x 2>/dev/null | head -1)
  [ -n "$exe" ] || { missing "$name"; return 1; }
  stage "$name" "$limit" "$exe" "$@"
}

has_rows() {  # has_rows NAME CSV: a benchmark that exits 0 without a measured row fails its check
  local n=0
  if [ -f "$2" ]; then n=$(wc -l <"$2"); fi
  if [ "$n" -lt 2 ]; then
    record "$1.csv" EMPTY
    FAILED=1
  fi
}

sanitized() {  # sanitized NAME LIMIT ARGS...: a compute-sanitizer stage; a runtime it cannot run on says so
  local name=$1 a rc=0
  for a in "$@"; do  # an empty argument: the test executable it names was not built
    [ -n "$a" ] || { missing "$name"; return 1; }
  done
  run_stage "$@" || rc=$?
  if grep -q "Device not supported" "$LOG/$name.log" 2>/dev/null; then
    STATUS=NOT-ON-THIS-VM
    echo "compute-sanitizer does not run on this machine's runtime (gVisor): the sanitizer runs are owed"
  fi
  record "$name" "$STATUS" "$TOOK"
  return $rc
}

# ---- 1. environment ----
{
  echo "date: $(date -u +%FT%TZ)"
  if git rev-parse HEAD >/dev/null 2>&1; then
    echo "commit: ${COMMIT:0:12}$(git diff --quiet 2>/dev/null || echo " (dirty: $(git diff --name-only 2>/dev/null | head -5 | tr '\n' ' '))")"
  else
    echo "commit: ${COMMIT:0:12} (no git here: GPU_CHECK_COMMIT)"
  fi
  if [ "$(uname -r)" = 4.4.0 ]; then  # gVisor reports this kernel; compute-sanitizer may not run there
    echo "host: $(hostname), kernel 4.4.0 (gVisor)"
  else
    echo "host: $(hostname), kernel $(uname -r)"
  fi
  timeout 30 nvidia-smi || echo "nvidia-smi: not available"
  (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 || echo "nvcc: not found"
  cmake --version | head -1
  python3 --version 2>&1
} 2>&1 | tee "$LOG/environment.log"
publish
export PATH=/usr/local/cuda/bin:$PATH

CUDNN_ROOT=${CUDNN_ROOT:-}
if [ -z "$CUDNN_ROOT" ]; then
  if [ -f /usr/local/cuda/include/cudnn.h ]; then
    CUDNN_ROOT=/usr/local/cuda
  else
    CUDNN_ROOT=$(python3 -c "import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])" 2>/dev/null || true)
  fi
fi
{
  echo "CUDNN_ROOT: ${CUDNN_ROOT:-none found}"
  echo "cudnn.h: $(ls "$CUDNN_ROOT"/include/cudnn.h 2>/dev/null || echo missing)"
  echo "libcudnn.so.9: $(ls "$CUDNN_ROOT"/lib*/libcudnn.so.9 2>/dev/null | head -1 || echo missing)"
  grep -E "#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) " "$CUDNN_ROOT"/include/cudnn_version.h 2>/dev/null
} 2>&1 | tee -a "$LOG/environment.log"
# cuDNN 9 opens its sub-libraries (libcudnn_adv.so.9, ...) by name at run time.
export LD_LIBRARY_PATH="${CUDNN_ROOT:+$CUDNN_ROOT/lib:$CUDNN_ROOT/lib64:}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"

# ---- 2. configure and build ----
if [ ! -d .deps ]; then
  if [ -d /usr/include/nlohmann ] && [ -d /usr/src/googletest ]; then
    bash scripts/vendor-deps.sh
  else
    echo "error: .deps is missing and this machine has no packages to fill it: run scripts/vendor-deps.sh" \
         "where they are installed and bring .deps along with the working tree" | tee "$LOG/configure.log"
    record configure "FAILED(no .deps)"
    exit 2
  fi
fi
TESTS=$(find tests/gpu -maxdepth 1 -name 'test_*.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
BENCHES=$(find benchmarks -maxdepth 1 -name 'gpu_bench_*.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
# Executables built elsewhere from this very tree (scripts/prebuild-gpu.sh) save the build's minutes;
# they are used only when every tracked file is as it was when they were built (tree.sha256: no git
# needed), their commit is the one named (GPU_CHECK_COMMIT or HEAD, when known), and every one of them
# loads here (`lstmad info`, each test's --gtest_list_tests). Otherwise, or with GPU_CHECK_PREBUILT=none,
# build.
PREBUILT=${GPU_CHECK_PREBUILT:-.deps/gpu-prebuilt.tar.xz}
prebuilt_usable() {  # prebuilt_usable DIR: 0 when DIR's executables may stand for this tree's build
  local dir=$1 built exe
  built=$(cat "$dir/commit" 2>/dev/null || echo '?')
  [ -f "$dir/tree.sha256" ] || { echo "no tree.sha256 in it"; return 1; }
  sha256sum --quiet --strict -c "$dir/tree.sha256" >"$LOG/prebuilt-tree.log" 2>&1 \
    || { echo "the tree differs from the one it was built from ($(grep -c FAILED "$LOG/prebuilt-tree.log") file(s))"; return 1; }
  [ "$COMMIT" = unknown ] || [ "$COMMIT" = "$built" ] || { echo "built from $built, this is $COMMIT"; return 1; }
  for t in $TESTS $BENCHES lstmad; do
    exe=$(find "$dir" -name "$t" -type f -perm -u+x | head -1)
    [ -n "$exe" ] || { echo "$t is missing"; return 1; }
  done
  timeout 60 "$dir/lstmad" info >"$LOG/prebuilt-info.log" 2>&1 || { echo "lstmad info failed: $(tail -n 2 "$LOG/prebuilt-info.log")"; return 1; }
  # cuBLAS is opened on first use, not at load: info opens it and says whether it could.
  if grep -q "cuBLAS not found" "$LOG/prebuilt-info.log"; then
    echo "$(grep -o "cuBLAS not found.*" "$LOG/prebuilt-info.log")"; return 1
  fi
  for t in $TESTS; do
    exe=$(find "$dir" -name "$t" -type f -perm -u+x | head -1)
    timeout 60 "$exe" --gtest_list_tests >/dev/null 2>>"$LOG/prebuilt-info.log" || { echo "$t does not load: $(tail -n 2 "$LOG/prebuilt-info.log")"; return 1; }
  done
  return 0
}
USE_PREBUILT=0
if [ "$PREBUILT" != none ] && [ -f "$PREBUILT" ]; then
  PRE=$ROOT/build-gpu-prebuilt
  rm -rf "$PRE" && mkdir -p "$PRE"
  if tar -C "$PRE" -xJf "$PREBUILT" && why=$(prebuilt_usable "$PRE"); then
    USE_PREBUILT=1
    BUILD=$PRE
    cp "$PRE/build.log" "$LOG/build.log"
    echo "using the executables of $PREBUILT (commit $(cat "$PRE/commit"))" | tee -a "$LOG/environment.log"
    record build prebuilt 0
  else
    echo "not using $PREBUILT: ${why:-it does not unpack}; building here" | tee -a "$LOG/environment.log"
    record prebuilt "SKIPPED(${why:-unpack})"
  fi
fi
if [ "$USE_PREBUILT" = 0 ]; then
  if [ "${GPU_CHECK_CONFIGURE:-1}" = 1 ]; then
    stage configure 180 cmake --preset gpu ${CUDNN_ROOT:+-DCUDNN_ROOT=$CUDNN_ROOT} -DLSTMAD_PTXAS_VERBOSE=ON \
      || { cat "$LOG/summary.log"; exit 1; }
  fi
  grep -E "^LSTMAD_WITH_(CUDA|CUDNN)" "$BUILD/CMakeCache.txt" 2>/dev/null | tee -a "$LOG/environment.log"
  # Only the targets this configuration defines (without cuDNN there is no test_cudnn_lstm and no GPU
  # benchmark): a missing one is a MISSING row below, not the end of the check.
  timeout 60 cmake --build "$BUILD" --target help >"$LOG/targets.log" 2>&1
  defined() { for t in "$@"; do grep -q "^$t:" "$LOG/targets.log" && printf '%s ' "$t"; done; }
  # The GPU tests and benchmarks first (nothing below runs without them), then the CLI on its own so that
  # a problem elsewhere in the tree does not hide the GPU results; ninja keeps going past a failed file.
  GPU_TARGETS=$(defined $TESTS $BENCHES)
  if [ -n "$GPU_TARGETS" ]; then
    # shellcheck disable=SC2086  # the target list splits on purpose
    stage build 420 cmake --build "$BUILD" -j"$JOBS" --target $GPU_TARGETS -- -k 0
  else
    record build "FAILED(no GPU targets: see targets.log)"
    FAILED=1
  fi
  stage build_lstmad 240 cmake --build "$BUILD" -j"$JOBS" --target lstmad
fi
grep -E "spill|Used [0-9]+ registers" "$LOG/build.log" | sort | uniq -c | sort -rn | head -20 >"$LOG/ptxas-summary.log"
grep -E "[1-9][0-9]* bytes spill" "$LOG/build.log" >"$LOG/ptxas-spills.log" && echo "ptxas reports spills: see $LOG/ptxas-spills.log"
if [ -x "$BUILD/lstmad" ]; then stage lstmad_info 30 "$BUILD/lstmad" info; fi
publish

# ---- 3. GPU tests, strict ----
export LSTMAD_STRICT_GPU=1
export LSTMAD_TEST_TMP="$BUILD/test-tmp"  # prebuilt tests would otherwise use the build machine's path
section 0.35
if wanted tests; then
  # The quick executables first (core, kernels), so that the time they leave passes on to the heavy ones.
  ORDERED=$(for t in $TESTS; do case $t in test_gpu_*) echo "0 $t" ;; *) echo "1 $t" ;; esac; done | sort | cut -d' ' -f2)
  n=$(echo $ORDERED | wc -w)
  for t in $ORDERED; do
    run_exe "$t" "$(share "$n")" "$t" --gtest_output=xml:"$LOG/$t.xml"
    n=$(( n - 1 ))
  done
fi

# ---- 4. benchmarks (before the sanitizers: a deadline cuts what comes last) ----
# The section's time is split by weight, not evenly: on the H200 (2026-12-04) an even split of 232 s gave
# gpu_bench_cudnn 46 s and gpu_bench_multi 52 s, and both were cut, while gpu_bench_fused needed 29 s.
# Weights: cudnn 5 (about 250 configurations, each with its own setup), fused 3, multi 6 (its CPU engine
# rows, and the split column), any other benchmark 1 (gpu_bench_anatomy: a few seconds by count), torch 2 + 1.
section 0.65
QUICK=${GPU_CHECK_QUICK:+--quick}
bench_weight() {
  case $1 in gpu_bench_cudnn) echo 5 ;; gpu_bench_fused) echo 3 ;; gpu_bench_multi) echo 6 ;; *) echo 1 ;; esac
}
if wanted benchmarks; then
  parts=3  # the two PyTorch comparisons
  for b in $BENCHES; do parts=$(( parts + $(bench_weight "$b") )); done
  for b in $BENCHES; do
    rc=0
    w=$(bench_weight "$b")
    lim=$(weighted "$w" "$parts")
    if [ "$b" = gpu_bench_anatomy ]; then  # by count a few seconds: the probes and the step ladders (docs/kernels.md)
      run_exe "$b" "$lim" "$b" $QUICK --csv "$LOG/$b.csv" || rc=$?
    elif [ "$b" = gpu_bench_cudnn ]; then
      run_exe "$b" "$lim" "$b" $QUICK --reps 25 --csv "$LOG/$b.csv" || rc=$?
    elif [ "$b" = gpu_bench_fused ]; then
      run_exe "$b" "$lim" "$b" $QUICK --reps 15 --warmup 3 --csv "$LOG/$b.csv" \
        --phases-csv "$LOG/gpu_bench_fused_phases.csv" || rc=$?
    elif [ "$b" = gpu_bench_multi ]; then
      run_exe "$b" "$lim" "$b" $QUICK --reps 5 --warmup 2 --csv "$LOG/$b.csv" \
        --forecast-csv "$LOG/gpu_bench_forecast.csv" --phases-csv "$LOG/gpu_bench_phases.csv" --cpu-threads "$JOBS" --cpu-models 1,16,58,256,1024 || rc=$?
    else
      run_exe "$b" "$lim" "$b" || rc=$?
    fi
    # A benchmark that ran to its end without a measured row (no device: "nothing to time") fails here.
    if [ "$rc" = 0 ]; then
      case "$b" in gpu_bench_anatomy | gpu_bench_cudnn | gpu_bench_fused | gpu_bench_multi) has_rows "$b" "$LOG/$b.csv" ;; esac
    fi
    parts=$(( parts - w ))
  done
  # PyTorch with its own CUDA and cuDNN libraries (the LD_LIBRARY_PATH this script was started with).
  stage compare_torch_gpu "$(weighted 2 3)" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" \
    python3 benchmarks/compare_torch_gpu.py $QUICK --reps 25 --csv "$LOG/compare_torch_gpu.csv" \
    && has_rows compare_torch_gpu "$LOG/compare_torch_gpu.csv"
  # PyTorch beside gpu_bench_multi: N = 1, 58, 256 here (GPU_CHECK_TORCH_MULTI_FULL=1: up to 1024, slower).
  TMULTI=--quick
  if [ "${GPU_CHECK_TORCH_MULTI_FULL:-0}" = 1 ]; then TMULTI=""; fi
  stage compare_torch_multi "$(share 1)" env LD_LIBRARY_PATH="$ORIG_LD_LIBRARY_PATH" \
    python3 benchmarks/compare_torch_multi.py $TMULTI --reps 3 --warmup 1 --csv "$LOG/compare_torch_multi.csv" \
    && has_rows compare_torch_multi "$LOG/compare_torch_multi.csv"
fi

# ---- 5. compute-sanitizer on small cases ----
# API errors are not reported: the engines check every CUDA call themselves (a failed one fails its
# test), and cuDNN's own probing of an algorithm it then refuses would count as one.
SAN="compute-sanitizer --report-api-errors no --error-exitcode 99"
section 0.6
if ! wanted sanitizers; then
  :
elif command -v compute-sanitizer >/dev/null; then
  K=$(find "$BUILD" -name test_gpu_kernels -type f | head -1)
  C=$(find "$BUILD" -name test_cudnn_lstm -type f | head -1)
  SMALL='CudnnFixture.MatchesFp64CpuOnEveryOutputAndGradient:CudnnFixture.EngineLossAndGradMatchesCpu'
  sanitized memcheck_kernels "$(share 8)" $SAN --tool memcheck "$K"
  sanitized racecheck_kernels "$(share 7)" $SAN --tool racecheck "$K"
  sanitized memcheck_cudnn "$(share 6)" env LSTMAD_GPU_QUICK=1 $SAN --tool memcheck "$C" --gtest_filter="$SMALL"
  sanitized racecheck_cudnn "$(share 5)" env LSTMAD_GPU_QUICK=1 $SAN --tool racecheck "$C" --gtest_filter='CudnnFixture.EngineLossAndGradMatchesCpu'
  # The fused kernels on three small shapes (both time loops, the GEMMs, the head) and the engine's step;
  # the cluster kernels (the default for H >= ~120; racecheck took 16 s without them on the H200); the
  # tensor-core time loops (tf32, bf16) on the one of them whose H is a multiple of 16; the two-layer
  # wavefront on its own quick shape (two blocks of three rows, one padded) and in inference; the split
  # kernels (candidate) on their three quick shapes.
  F=$(find "$BUILD" -name test_fused_lstm -type f | head -1)
  FSMALL='FusedFixture.MatchesFp64CpuOnEveryOutputAndGradient:FusedFixture.EngineLossAndGradMatchesCpu'
  sanitized memcheck_fused "$(share 4)" env LSTMAD_GPU_QUICK=1 $SAN --tool memcheck "$F" --gtest_filter="$FSMALL:FusedFixture.ClusterKernelsMatchFp64Cpu:FusedFixture.TensorCorePathsMatchFp64Cpu:FusedFixture.WavefrontMatchesFp64Cpu:FusedFixture.WavefrontInferenceMatchesFp64Cpu:FusedFixture.SplitKernelsMatchFp64Cpu:FusedFixture.WavefrontSplitGivesTheWavefrontsBits"
  sanitized racecheck_fused "$(share 3)" env LSTMAD_GPU_QUICK=1 $SAN --tool racecheck "$F" --gtest_filter="$FSMALL:FusedFixture.ClusterKernelsMatchFp64Cpu:FusedFixture.TensorCorePathsMatchFp64Cpu:FusedFixture.WavefrontMatchesFp64Cpu:FusedFixture.SplitKernelsMatchFp64Cpu:FusedFixture.WavefrontSplitGivesTheWavefrontsBits"
  # The multi-model kernels (time loops with model strides, the batched GEMM, head, sums, Adam, masks;
  # the tiled time loops on blocks of 42 rows; the clusters per model at H = 128).
  M=$(find "$BUILD" -name test_fused_multi -type f | head -1)
  sanitized memcheck_multi "$(share 2)" $SAN --tool memcheck "$M" --gtest_filter='FusedMulti.SmallBatchForTheSanitizers:FusedMulti.WavefrontSmallBatchForTheSanitizers:FusedMulti.TensorCoreSmallBatchForTheSanitizers:FusedMulti.TiledTimeLoopsGiveTheUntiledBits:FusedMulti.ClusterModelsEqualAloneAndFollowTheFp64CpuEngine'
  sanitized racecheck_multi "$(share 1)" $SAN --tool racecheck "$M" --gtest_filter='FusedMulti.SmallBatchForTheSanitizers:FusedMulti.WavefrontSmallBatchForTheSanitizers:FusedMulti.TensorCoreSmallBatchForTheSanitizers:FusedMulti.TiledTimeLoopsGiveTheUntiledBits:FusedMulti.ClusterModelsEqualAloneAndFollowTheFp64CpuEngine'
else
  record compute-sanitizer MISSING
  FAILED=1
fi

# ---- 6. end to end: configs/nab_grid.json (58 NAB series x 16 settings) on the fused engine ----
# Needs the NAB corpus in .deps/nab (scripts/vendor-deps.sh copies it from ../shared/nab). The CPU engine's
# wall time for the same run is in docs/performance.md.
section 1
if wanted end_to_end; then
  if [ -d .deps/nab/data ] && [ -x "$BUILD/lstmad" ]; then
    # The run folder stays in the build folder (its 928 NAB score files are hundreds of MB); its summary,
    # results, table and log come back in $LOG.
    rm -rf "$BUILD/nab_grid_fused"
    # The saved models of three cells scored again one model at a time by `lstmad detect`: bit-identical
    # to the run, where each model was forecast inside a ModelBatch of hundreds.
    stage nab_grid_fused "$(( $(share 1) - 40 - PROFILE_S ))" "$BUILD/lstmad" run --no-progress configs/nab_grid.json \
      --set data.root="$ROOT/.deps/nab" --set run.save_models=true --out "$BUILD/nab_grid_fused" \
      && stage detect_fused 40 python3 benchmarks/detect_check.py "$BUILD/lstmad" "$BUILD/nab_grid_fused" --cells 3
    mkdir -p "$LOG/nab_grid_fused"
    for f in summary.json results.csv table.md manifest.json log.txt nab_scores.json; do
      [ -f "$BUILD/nab_grid_fused/$f" ] && cp "$BUILD/nab_grid_fused/$f" "$LOG/nab_grid_fused/"
    done
    { grep -E "^\[info\] finished" "$LOG/nab_grid_fused.log"; tail -n 8 "$LOG/nab_grid_fused.log"; } >"$LOG/nab_grid_summary.log"
  else
    echo "== nab_grid_fused: skipped, no .deps/nab (run scripts/vendor-deps.sh beside ../shared/nab)" \
      | tee "$LOG/nab_grid_fused.log"
    record nab_grid_fused "SKIPPED(no NAB)" 0
  fi
fi

# ---- 6b. where a single-model step's time goes: the time loops under Nsight Compute ----
# One step of H = 32, L = 1, T = 100, B = 32 (gpu_bench_fused --shape), where the run of 2026-12-04 measured
# 0.94 us per forward step against a count of about 0.3 (docs/kernels.md, "Measured on the H200"): the first
# forward and backward launch of the one-block kernels and of the split ones (version 4), and of the
# tensor-core ones at TF32 then BF16 (the bench times them in that order), with ncu's speed of light, warp
# states (what the warps stall on), scheduler, occupancy and launch sections; then ncu's per-instruction
# stall samples of one fp32 and one tensor-core forward launch (ncu_source_*.log), and the time loops'
# SASS (sass.log, benchmarks/kernel_sass.sh). Information,
# not a check: a machine whose counters ncu may not read, or a deadline, leaves the check's verdict alone.
section 1
if wanted profile; then
  NCU=$(command -v ncu 2>/dev/null || true)
  if [ -z "$NCU" ] && [ -x /usr/local/cuda/bin/ncu ]; then NCU=/usr/local/cuda/bin/ncu; fi
  FB=$(find "$BUILD" -name gpu_bench_fused -type f -perm -u+x 2>/dev/null | head -1)
  if [ -z "$NCU" ]; then
    echo "== ncu: not on this machine" | tee "$LOG/ncu_fused.log"
    record ncu_fused "SKIPPED(no ncu)" 0
  elif [ -z "$FB" ]; then
    echo "== ncu: gpu_bench_fused was not built" | tee "$LOG/ncu_fused.log"
    record ncu_fused "MISSING(build)" 0
  else
    KEEP_FAILED=$FAILED
    PROFILES_LEFT=6  # these three, the two source pages and the SASS below
    for k in fused split mma; do
      run_stage "ncu_$k" "$(share $PROFILES_LEFT)" "$NCU" --target-processes all -k "regex:lstm_${k}_(fwd|bwd)_kernel" -c "$([ $k = mma ] && echo 4 || echo 2)" \
        --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
        --section LaunchStats "$FB" --shape 32,1,100,32 --reps 1 --warmup 0
      if grep -q "ERR_NVGPUCTRPERM" "$LOG/ncu_$k.log" 2>/dev/null; then STATUS="NO-COUNTERS"; fi
      record "ncu_$k" "$STATUS" "$TOOK"
      PROFILES_LEFT=$(( PROFILES_LEFT - 1 ))
    done
    # Where the warps of one forward launch stall, instruction by instruction (ncu's source page with the
    # SASS, PC sampling): the one-block fp32 kernel and the tensor-core one (TF32, launched first).
    for k in fused mma; do
      run_stage "ncu_source_$k" "$(share $PROFILES_LEFT)" "$NCU" --target-processes all -k "regex:lstm_${k}_fwd_kernel" -c 1 \
        --section SourceCounters --page source --print-source sass --csv \
        "$FB" --shape 32,1,100,32 --reps 1 --warmup 0
      if grep -q "ERR_NVGPUCTRPERM" "$LOG/ncu_source_$k.log" 2>/dev/null; then STATUS="NO-COUNTERS"; fi
      record "ncu_source_$k" "$STATUS" "$TOOK"
      PROFILES_LEFT=$(( PROFILES_LEFT - 1 ))
    done
    FAILED=$KEEP_FAILED
  fi
  # The time loops' SASS (no GPU needed, but cuobjdump is on this machine and not on the development ones).
  if [ -n "$FB" ]; then
    KEEP_FAILED=$FAILED
    stage sass "$(share 1)" benchmarks/kernel_sass.sh "$FB"
    FAILED=$KEEP_FAILED
  fi
fi

# ---- 7. the short table ----
python3 - "$LOG/gpu_bench_cudnn.csv" "$LOG/compare_torch_gpu.csv" >"$LOG/ratios.log" 2>&1 <<'PY'
import csv, sys
try:
    cu = list(csv.DictReader(open(sys.argv[1])))
    th = list(csv.DictReader(open(sys.argv[2])))
except OSError as e:
    print(f"no ratio table: {e}")
    sys.exit(0)
torch = {(r["H"], r["L"], r["T"], r["B"], r["tf32"] == "1"): float(r["step_ms"]) for r in th}
print(f"{'H':>4} {'L':>2} {'T':>4} {'B':>4} {'math':>5} {'cudnn std ms':>13} {'best cudnn ms':>14} {'torch ms':>9} {'torch/best':>10}")
best = {}
for r in cu:
    key = (r["H"], r["L"], r["T"], r["B"], r["math"])
    t = [float(r["eager_ms"])] + ([float(r["graph_ms"])] if float(r["graph_ms"]) > 0 else [])
    std = float(r["eager_ms"]) if r["algo"] == "standard" else None
    b, s = best.get(key, (1e30, None))
    best[key] = (min(b, min(t)), std if std is not None else s)
for (H, L, T, B, math), (b, s) in best.items():
    tt = torch.get((H, L, T, B, math == "tf32"))
    print(f"{H:>4} {L:>2} {T:>4} {B:>4} {math:>5} {s if s else float('nan'):>13.4f} {b:>14.4f} "
          f"{tt if tt else float('nan'):>9.4f} {(tt / b) if tt else float('nan'):>10.2f}")
PY
python3 - "$LOG/gpu_bench_fused.csv" "$LOG/compare_torch_gpu.csv" >"$LOG/fused-ratios.log" 2>&1 <<'PY'
import csv, sys
try:
    rows = list(csv.DictReader(open(sys.argv[1])))
except OSError as e:
    print(f"no fused table: {e}")
    sys.exit(0)
try:  # PyTorch nn.LSTM on the same shapes (compare_torch_gpu.py), TF32 off and on
    torch = {(r["H"], r["L"], r["T"], r["B"], r["tf32"] == "1"): float(r["step_ms"]) for r in csv.DictReader(open(sys.argv[2]))}
except OSError:
    torch = {}
print(f"{'H':>4} {'L':>2} {'T':>4} {'B':>4} {'fused ms':>9} {'path':>12} {'1-block':>8} {'f tf32':>8} {'f bf16':>8} {'cudnn fma':>10} {'cudnn tf32':>11} {'torch':>8} {'torch tf32':>10} {'f/fma':>6} {'f/tf32':>7} {'tc/tf32':>8} {'f/torch':>8} {'lat.floor':>10} {'comp.floor':>10}")
def ratio(x, y):
    return x / y if x > 0 and y > 0 else float("nan")
for r in rows:
    f, a, b = float(r["fused_ms"]), float(r["cudnn_fma_ms"]), float(r["cudnn_tf32_ms"])
    t32, b16 = float(r["fused_tf32_ms"]), float(r["fused_bf16_ms"])
    tc = min([v for v in (t32, b16) if v > 0], default=-1.0)
    key = (r["H"], r["L"], r["T"], r["B"])
    p32, ptf = torch.get(key + (False,), -1.0), torch.get(key + (True,), -1.0)
    print(f"{r['H']:>4} {r['L']:>2} {r['T']:>4} {r['B']:>4} {f:>9.4f} {r.get('fused_path') or '-':>12} {float(r.get('one_block_ms') or -1):>8.4f} {t32:>8.4f} {b16:>8.4f} {a:>10.4f} {b:>11.4f} {p32:>8.4f} {ptf:>10.4f} {ratio(f, a):>6.2f} {ratio(f, b):>7.2f} {ratio(tc, b):>8.2f} {ratio(f, p32):>8.2f} {float(r['latency_floor_ms']):>10.4f} {float(r['compute_floor_ms']):>10.5f}")
PY
echo
echo "==== lstmad GPU check: $(date -u +%FT%TZ), ${COMMIT:0:12}, $(timeout 20 nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), $(( $(date +%s) - START ))s, logs in $LOG"
head -n 40 "$LOG/ratios.log"
echo
head -n 80 "$LOG/fused-ratios.log"
echo
grep -v "\[info\]" "$LOG/gpu_bench_multi.log" 2>/dev/null | grep -A12 "^ *N  L" | head -n 28
grep -h "fused engine: time loops for" "$LOG"/*.log 2>/dev/null | sed 's/.*fused engine: //' | head -n 24
grep -A12 "^ *N  L" "$LOG/compare_torch_multi.log" 2>/dev/null | head -n 13
grep -A8 "^forecasting" "$LOG/gpu_bench_multi.log" 2>/dev/null | head -n 9
grep -E "^N=[0-9]+ L=[0-9] .* time loops: phases" "$LOG/gpu_bench_multi.log" 2>/dev/null | head -n 8
cat "$LOG/nab_grid_summary.log" 2>/dev/null
echo
printf '%-28s %-16s %6s\n' step status time
cat "$LOG/summary.log"
echo "total $(( $(date +%s) - START ))s" >>"$LOG/summary.log"
publish
echo "the markdown for docs/gpu-results.md: python3 scripts/gpu-results.py $LOG${OUT:+ (or \$OUT/gpu-check.tar.gz)}"
exit $FAILED
