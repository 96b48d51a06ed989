#!/usr/bin/env python3
"""Checks benchmarks/gpu_check.sh without a GPU, so that the one device run it exists for is not lost to
a slip in the script itself:

1. `bash -n` accepts it and the scripts of benchmarks/ it runs, which are executable.
2. Every column its closing tables, and scripts/gpu-results.py (the markdown for docs/gpu-results.md),
   read from a benchmark CSV (r["name"]) is a column some benchmark writes (the CSV header strings in
   benchmarks/).
3. Every kernel its ncu profile names (-k regex:lstm_${k}_(fwd|bwd)_kernel for each k of its loop) is a
   __global__ function in kernels/: a misspelt name would profile nothing.
4. Every test name in its --gtest_filter arguments exists in that test executable (--gtest_list_tests):
   a misspelt name would make compute-sanitizer run nothing and pass.

Usage: test_gpu_check_script.py SOURCE_DIR BUILD_DIR. Exit 0: all checked; 1: a check failed; 77: parts 1-3
passed but the GPU test executables are not built here (a CPU-only build), so part 4 could not run.
"""
import os
import pathlib
import re
import subprocess
import sys

src, build = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
script = src / "benchmarks" / "gpu_check.sh"
text = script.read_text()
failed = []

# 1. syntax, of the check and of the scripts it runs from benchmarks/ (they must be executable)
for f in [script] + [src / m for m in re.findall(r"\b(benchmarks/[\w.-]+\.sh)\b", text) if m != "benchmarks/gpu_check.sh"]:
    r = subprocess.run(["bash", "-n", str(f)], capture_output=True, text=True)
    if r.returncode != 0:
        failed.append(f"bash -n {f.name}: {r.stderr.strip()}")
    elif f != script and not os.access(f, os.X_OK):
        failed.append(f"{f.name} is not executable")

# 2. CSV columns read by the tables against the columns the benchmarks write
headers = set()
for f in list((src / "benchmarks").glob("*.cpp")) + list((src / "benchmarks").glob("*.py")):
    joined = re.sub(r'"\s*\n\s*"', "", f.read_text())  # adjacent C++ string literals are one string
    for lit in re.findall(r'"((?:[A-Za-z_0-9]+,){3,}[A-Za-z_0-9]+)(?:\\n)?"', joined):
        headers.update(lit.split(","))
results_script = (src / "scripts" / "gpu-results.py").read_text()
read = set(re.findall(r'r\[["\']([A-Za-z_0-9]+)["\']\]', text + results_script))
read |= set(re.findall(r'r\.get\(["\']([A-Za-z_0-9]+)["\']', text + results_script))  # optional columns
missing = sorted(read - headers)
if not read:
    failed.append("found no CSV columns read by the tables (the check itself is broken)")
if missing:
    failed.append(f"the tables read columns no benchmark writes: {missing}")
if not missing:
    print(f"{len(read)} CSV columns read by the tables and gpu-results.py, all written by a benchmark")

# 3. the kernels the ncu profile names
kernel_src = "".join(f.read_text() for f in (src / "kernels").glob("*.cu"))
defined = set(re.findall(r"\b(lstm_\w+_kernel)\s*\(", kernel_src))
profiled = []
for kinds, dirs in re.findall(r"for k in ([\w ]+); do\s*\n[^\n]*-k \"regex:lstm_\$\{k\}_(\(fwd\|bwd\)|fwd|bwd)_kernel\"", text):
    for k in kinds.split():
        profiled += [f"lstm_{k}_{d}_kernel" for d in dirs.strip("()").split("|")]
if not profiled:
    failed.append("found no ncu kernel regex in the script (the check itself is broken)")
for name in profiled:
    if name not in defined:
        failed.append(f"the ncu profile names {name}, which no kernel in kernels/ defines")
if profiled and all(n in defined for n in profiled):
    print(f"ncu profiles {', '.join(profiled)}: all defined in kernels/")

# 4. test names in the sanitizer filters
variables = dict(re.findall(r"^\s*(\w+)='([^']*)'", text, re.M))
exe_of = {}
for var, name in re.findall(r'^\s*(\w)=\$\(find "\$BUILD" -name (\w+)', text, re.M):
    exe_of[var] = name
checks = []  # (executable name, test name)
for var, flt in re.findall(r'"\$(\w)" --gtest_filter=["\']?([^"\'\n]+)["\']?', text):
    for part in flt.split(":"):
        part = re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), part)
        for name in part.split(":"):
            if name:
                checks.append((exe_of.get(var, "?" + var), name))
if not checks:
    failed.append("found no --gtest_filter in the script (the check itself is broken)")
if failed:
    print("\n".join("FAILED: " + f for f in failed))
    sys.exit(1)
def find_built(name):
    """The files called `name` under the build folder. Not Path.rglob: the suites running beside this one
    create and remove their folders under build/test-tmp, and a folder gone mid-walk made rglob raise."""
    out = []
    for root, dirs, files in os.walk(build, onerror=lambda e: None):
        dirs[:] = [d for d in dirs if d not in ("test-tmp", "Testing")]
        if name in files:
            out.append(pathlib.Path(root) / name)
    return out


listed = {}
for exe_name in sorted({e for e, _ in checks}):
    found = find_built(exe_name)
    exe = next((p for p in found if p.is_file() and p.stat().st_mode & 0o111), None)
    if exe is None:
        print(f"skipped: {exe_name} is not built under {build} (a CPU-only build); the filter names were not checked")
        sys.exit(77)
    out = subprocess.run([str(exe), "--gtest_list_tests"], capture_output=True, text=True).stdout
    names, suite = set(), ""
    for line in out.splitlines():
        if not line.startswith(" "):
            suite = line.split("#")[0].strip()
        else:
            names.add(suite + line.split("#")[0].strip())
    listed[exe_name] = names
bad = [f"{e}: {n}" for e, n in checks if n not in listed[e]]
for e, n in checks:
    print(f"{e}: {n} {'ok' if n in listed[e] else 'MISSING'}")
if bad:
    print("FAILED: filter names that match no test: " + ", ".join(bad))
    sys.exit(1)
print(f"{len(checks)} filter names, all found")
