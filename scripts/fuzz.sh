#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each for a bounded time.
#   scripts/fuzz.sh [seconds per target, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
out=build-fuzz
mkdir -p "$out"
cxx=${CXX_FUZZ:-clang++}
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iframework -I. -isystem /usr/include/eigen3)
core=(framework/core/log.cpp framework/core/files.cpp framework/core/json_file.cpp framework/data/timestamp.cpp
      framework/data/series.cpp framework/data/csv_fields.cpp)
"$cxx" "${flags[@]}" tests/fuzz/fuzz_csv_reader.cpp framework/data/csv_reader.cpp framework/data/labels.cpp framework/data/ucr.cpp \
  "${core[@]}" -o "$out/fuzz_csv_reader"
"$cxx" "${flags[@]}" tests/fuzz/fuzz_config.cpp experiments/config.cpp framework/data/csv_reader.cpp "${core[@]}" -o "$out/fuzz_config"
for t in csv_reader:corpus_csv config:corpus_config; do
  name=${t%%:*}
  seeds=tests/fuzz/${t##*:}
  work="$out/corpus_$name"
  mkdir -p "$work"
  echo "fuzzing $name for ${secs}s"
  "$out/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$name-" "$work" "$seeds" \
    2>&1 | tail -n 12
done
echo "fuzzing: no crash in ${secs}s per target"
