#!/usr/bin/env python3
"""benchmarks/compare_torch_gpu.py and compare_torch_multi.py, run on the CPU (--device cpu) where a
Python with torch is found: the tables the GPU check builds from them run their code here first.

Usage: test_torch_compare.py SOURCE_DIR OUT_DIR

Checks: each script exits 0 and writes a CSV whose header is the one scripts/gpu-results.py reads, one
row per shape with a positive time; and compare_torch_gpu.py killed after its first shape keeps that row
(gpu_check.sh cuts a stage at its deadline). Nothing about speed is asserted. Exit 77 (skipped, with the
reason) when no interpreter here can import torch: `apt-get install python3-torch` gives /usr/bin/python3
one.
"""
import csv
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from killed_run import rows_kept_after_kill  # noqa: E402


def python_with_torch():
    for exe in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(exe) and subprocess.run([exe, "-c", "import torch"], capture_output=True).returncode == 0:
            return exe
    return None


def main():
    src, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    py = python_with_torch()
    if py is None:
        print("SKIP: no Python here imports torch (apt-get install python3-torch)")
        return 77
    failures = []
    bench = os.path.join(src, "benchmarks")

    def run(script, args, path, header, expect_rows, time_columns):
        if os.path.exists(path):
            os.remove(path)
        done = subprocess.run([py, os.path.join(bench, script), "--device", "cpu", "--reps", "1", "--warmup", "0",
                               "--csv", path] + args, capture_output=True, text=True)
        print(done.stdout + done.stderr)
        if done.returncode != 0:
            failures.append(f"{script} exited {done.returncode}")
            return
        with open(path) as f:
            rows = list(csv.reader(f))
        if not rows or rows[0] != header:
            failures.append(f"{script}: header {rows[:1]}, expected {header}")
            return
        body = [dict(zip(header, r)) for r in rows[1:]]
        if len(body) != expect_rows:
            failures.append(f"{script}: {len(body)} rows, expected {expect_rows}")
        for r in body:
            for c in time_columns:
                if not float(r[c]) > 0:
                    failures.append(f"{script}: {c} = {r[c]} in {r}")

    gpu_header = ["H", "L", "T", "B", "D", "tf32", "step_ms", "gflops"]
    run("compare_torch_gpu.py", ["--quick"], os.path.join(out, "torch_gpu.csv"), gpu_header, 2, ["step_ms"])
    run("compare_torch_multi.py", ["--models", "1,2"], os.path.join(out, "torch_multi.csv"),
        ["N", "L", "H", "T", "B", "D", "torch_loop_ms", "torch_stacked_ms"], 4, ["torch_loop_ms", "torch_stacked_ms"])

    # Killed after its first shape (of two), the CSV keeps that shape's whole row.
    path = os.path.join(out, "torch_killed.csv")
    why = rows_kept_after_kill("compare_torch_gpu.py", [py, os.path.join(bench, "compare_torch_gpu.py"), "--device", "cpu", "--quick",
                                "--reps", "1", "--warmup", "0", "--csv", path], path, "step_ms", 2)
    if why:
        failures.append(why)

    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
