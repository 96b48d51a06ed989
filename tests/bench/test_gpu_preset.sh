#!/usr/bin/env bash
# The GPU machine's configuration path, on this machine: the dependencies vendored as
# scripts/vendor-deps.sh does, `cmake --preset gpu` (in a scratch build folder, with those vendored
# dependencies), a test built against the vendored GoogleTest and run, and every C++ file of that build
# preprocessed with its own command: each must preprocess, and each third-party header it includes
# (nlohmann/json, CLI11, Eigen, GoogleTest) must come from the vendored copy, not from the Debian packages
# that this machine has and the GPU machine lacks. benchmarks/gpu_check.sh starts with exactly this
# configuration, on a machine with one short device lease. Compiling the whole tree again is left to the
# release build beside this test and to scripts/prebuild-gpu.sh, which builds the gpu preset in full
# before a lease. Usage: test_gpu_preset.sh SOURCE_DIR WORK_DIR.
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
python3 - "$work/build/compile_commands.json" <<'PY'
import json, shlex, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

PACKAGED = ("/usr/include/nlohmann/", "/usr/include/CLI/", "/usr/include/eigen3/", "/usr/include/gtest/",
            "/usr/src/googletest/")

def headers(entry):
    """The headers one file includes, from the preprocessor (-M) run with the file's own command."""
    args = shlex.split(entry["command"])
    if "-o" in args:  # the object file: -M writes the header list to stdout instead
        i = args.index("-o")
        del args[i:i + 2]
    args = [a for a in args if a != "-c"] + ["-M"]
    run = subprocess.run(args, cwd=entry["directory"], capture_output=True, text=True)
    if run.returncode != 0:
        return entry["file"], run.stderr.strip()
    packaged = sorted({h for h in run.stdout.replace("\\\n", " ").split() if h.startswith(PACKAGED)})
    more = f" and {len(packaged) - 3} more" if len(packaged) > 3 else ""
    return entry["file"], ("includes packaged headers, not the vendored ones: " + " ".join(packaged[:3]) + more
                           if packaged else "")

# .cxx: the unity sources (cmake/LstmadUnity.cmake), each including eight of framework/ or experiments/.
entries = [e for e in json.load(open(sys.argv[1])) if e["file"].endswith((".cpp", ".cc", ".cxx"))]
with ThreadPoolExecutor(2) as pool:
    failed = [(f, why) for f, why in pool.map(headers, entries) if why]
for f, why in failed:
    print(f"{f}: {why}")
print(f"{len(entries) - len(failed)} of {len(entries)} C++ files preprocess with the vendored dependencies only")
sys.exit(1 if failed or not entries else 0)
PY
