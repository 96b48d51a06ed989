#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each for a bounded time:
# the readers of every input file (csv_reader, config, run_inputs), and the stages from prediction errors
# to scores (detect) and from scores to metrics (metrics, nab_scorer), whose properties those targets
# check on arbitrary inputs.
#   scripts/fuzz.sh [seconds per target, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
out=build-fuzz
mkdir -p "$out"
cxx=${CXX_FUZZ:-clang++}
# -gline-tables-only: a crash's stack keeps its file:line, at a fraction of full debug information's
# build time.
flags=(-std=c++17 -O1 -gline-tables-only -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iframework -I. -isystem /usr/include/eigen3)
core=(framework/core/log.cpp framework/core/files.cpp framework/core/json_file.cpp framework/data/timestamp.cpp
      framework/data/series.cpp framework/data/csv_fields.cpp framework/data/nab_windows.cpp
      framework/data/csv_reader.cpp framework/data/labels.cpp)
csv_reader=(tests/fuzz/fuzz_csv_reader.cpp framework/data/ucr.cpp)
config=(tests/fuzz/fuzz_config.cpp experiments/config.cpp experiments/config_schema.cpp)
run_inputs=(tests/fuzz/fuzz_run_inputs.cpp framework/data/npy.cpp framework/data/nasa.cpp framework/eval/nab_corpus.cpp
            framework/eval/nab_scorer.cpp framework/train/checkpoint.cpp framework/lstm/shape.cpp)
metrics=(tests/fuzz/fuzz_metrics.cpp framework/eval/metrics.cpp framework/eval/metrics_affiliation.cpp
         framework/eval/metrics_binary.cpp framework/eval/metrics_curve.cpp)
nab_scorer=(tests/fuzz/fuzz_nab_scorer.cpp framework/eval/nab_scorer.cpp)
detect=(tests/fuzz/fuzz_detect.cpp framework/detect/scoring.cpp framework/detect/dynamic_threshold.cpp
        framework/detect/telemanom_threshold.cpp)
# Each source compiles once, to an object, as many at a time as there are cores; the targets link
# from those objects (the shared ones compiled once, not once per target).
objects() {  # objects FILE...: the object path of each source
  local f
  for f in "$@"; do echo "$out/obj/${f//\//_}.o"; done
}
mkdir -p "$out/obj"
compile_log="$out/compile.log"
# Source and object by pairs, each source once (two targets may share one); the flags hold no spaces, so
# they pass as one word-split string.
printf '%s\n' "${core[@]}" "${csv_reader[@]}" "${config[@]}" "${run_inputs[@]}" "${metrics[@]}" "${nab_scorer[@]}" \
  "${detect[@]}" |
  sort -u | while read -r f; do printf '%s\n%s\n' "$f" "$(objects "$f")"; done |
  FUZZ_CXX="$cxx" FUZZ_FLAGS="${flags[*]}" xargs -d '\n' -n 2 -P "$(nproc)" bash -c \
    '$FUZZ_CXX $FUZZ_FLAGS -c "$1" -o "$2"' _ >"$compile_log" 2>&1 || {
  cat "$compile_log"
  echo "fuzzing: a fuzz target's source did not compile (above)"
  exit 1
}
link() {  # link NAME SOURCES...: the fuzz target from the core's objects and its own
  local name=$1
  shift
  "$cxx" "${flags[@]}" $(objects "${core[@]}" "$@") -o "$out/fuzz_$name"
}
link csv_reader "${csv_reader[@]}"
link config "${config[@]}"
link run_inputs "${run_inputs[@]}"
link metrics "${metrics[@]}"
link nab_scorer "${nab_scorer[@]}"
link detect "${detect[@]}"
fuzz() {  # fuzz NAME SEEDS: runs one target for $secs seconds, its output in $out/NAME.log
  local name=$1 seeds=$2 work="$out/corpus_$1"
  mkdir -p "$work"
  "$out/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$work" "$seeds" >"$out/$name.log" 2>&1
}
# Binary seeds are written here rather than kept in the tree: a 2 x 2 float64 .npy (format 1.0, a header
# padded to 64 bytes) beside the text seeds; the harness itself puts a checkpoint's magic before its input.
seeds="$out/seeds_run_inputs"
mkdir -p "$seeds"
cp tests/fuzz/corpus_run_inputs/* "$seeds"/
header="{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"
header=$(printf '%-117s' "$header")
{ printf '\x93NUMPY\x01\x00\x76\x00%s\n' "$header"; head -c 32 /dev/zero; } >"$seeds/a.npy"
# NAME:SEEDS. The NAB scorer's and the detector stages' inputs are bytes read as sizes, options and values:
# the metrics' seeds do for them.
runs=(csv_reader:tests/fuzz/corpus_csv config:tests/fuzz/corpus_config "run_inputs:$seeds"
      metrics:tests/fuzz/corpus_metrics nab_scorer:tests/fuzz/corpus_metrics detect:tests/fuzz/corpus_metrics)
targets=("${runs[@]%%:*}")
echo "fuzzing ${targets[*]} for ${secs}s each"
pids=()
for run in "${runs[@]}"; do
  fuzz "${run%%:*}" "${run#*:}" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for name in "${targets[@]}"; do
  echo "== $name"
  tail -n 12 "$out/$name.log"
done
if [ "$status" -ne 0 ]; then
  echo "fuzzing: a target failed; the input that did it is saved as $out/<target>-crash-*" \
       "(or -leak-, -timeout-, -oom-; see its log above)"
  exit 1
fi
echo "fuzzing: no crash in ${secs}s per target"
