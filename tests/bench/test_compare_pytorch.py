#!/usr/bin/env python3
"""The CPU timing executable and benchmarks/compare_pytorch.py, run on tiny work. No timing is asserted.

- cpu_step_timer prints one well-formed JSON object per run, echoes the shape, counts the work as
  benchmarks/cpu_work.hpp defines it (recomputed here), and reports positive times and rates, for a
  training step on 1 and 2 threads, series scoring and the peak measurement; a bad option fails.
- compare_pytorch.py --quick with torch hidden (a torch module that fails to import, first on PYTHONPATH):
  it must exit 0 and say that torch is missing and how to install it.
- With --torch, only the comparison itself: compare_pytorch.py --quick, run by /usr/bin/python3 (the
  interpreter Debian's python3-torch belongs to), must succeed, print its tables and end with the
  required reference line. Exit 77 (skipped, with the reason) where that interpreter cannot import torch.

Usage: test_compare_pytorch.py CPU_STEP_TIMER COMPARE_PYTORCH_PY BUILD_DIR [--torch]
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

FAILURES = []
REFERENCE_LINE = re.compile(
    r"^reference L=2 H=64 T=50 B=64: lstmad \d+(\.\d+)? ms, pytorch \d+(\.\d+)? ms, speedup \d+(\.\d+)?x$")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def train_flops(L, H, T, B, D):
    G = 4.0 * H
    f = 6.0 * B * H  # head: 2 B H forward, 4 B H backward (horizon 1)
    for layer in range(L):
        Din = D if layer == 0 else H
        f += 2 * T * B * Din * G + 2 * (T - 1) * B * H * G  # forward
        f += 4 * (T - 1) * B * G * H + 2 * T * B * G * Din  # backward: dh, dR, dW
        if layer > 0:
            f += 2 * T * B * G * Din  # dx
    return f


def forward_flops(L, H, T, B, D):
    G = 4.0 * H
    f = 2.0 * B * H
    for layer in range(L):
        Din = D if layer == 0 else H
        f += 2 * T * B * Din * G + 2 * (T - 1) * B * H * G
    return f


def run_timer(exe, *args):
    p = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    check(p.returncode == 0, f"cpu_step_timer {' '.join(map(str, args))} exits 0 (stderr: {p.stderr.strip()})")
    check(len(lines) == 1, "cpu_step_timer prints exactly one line")
    try:
        return json.loads(lines[-1])
    except (ValueError, IndexError) as e:
        check(False, f"cpu_step_timer output is JSON ({e}): {p.stdout!r}")
        return {}


def positive(d, *keys):
    for k in keys:
        v = d.get(k)
        check(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, f"{d.get('mode')} {k} = {v} is positive")


def check_timer(exe):
    L, H, T, B, D = 2, 32, 6, 4, 2
    for threads in (1, 2):
        d = run_timer(exe, "--mode", "train", "--layers", L, "--hidden", H, "--window", T, "--batch", B,
                      "--input", D, "--threads", threads, "--warmup", 1, "--reps", 3, "--rows", 40)
        check(d.get("mode") == "train" and d.get("precision") == "fp32", "train: mode and precision echoed")
        check((d.get("layers"), d.get("hidden"), d.get("window"), d.get("batch"), d.get("input"),
               d.get("threads"), d.get("reps")) == (L, H, T, B, D, threads, 3), "train: shape echoed")
        positive(d, "median_ms", "min_ms", "mean_ms", "wall_ms", "per_s", "gflops_median", "gflops_best",
                 "cpu_median_ms")
        check(d.get("min_ms", 0) <= d.get("median_ms", -1), "train: min <= median")
        want = train_flops(L, H, T, B, D) / 1e6
        check(abs(d.get("mflop", 0) - want) <= 1e-4 * want, f"train: mflop {d.get('mflop')} == {want}")
        check(math.isfinite(d.get("last_loss", float("nan"))) and d.get("last_loss", -1) >= 0,
              "train: the loss is finite and non-negative")

    d = run_timer(exe, "--mode", "train", "--precision", "fp64", "--layers", 1, "--hidden", 5, "--window", 4,
                  "--batch", 3, "--reps", 2, "--warmup", 0, "--rows", 20)
    check(d.get("precision") == "fp64", "train fp64: precision echoed")
    positive(d, "median_ms", "per_s")

    rows = 64
    d = run_timer(exe, "--mode", "infer", "--layers", 1, "--hidden", 16, "--window", T, "--rows", rows,
                  "--threads", 2, "--warmup", 1, "--reps", 2)
    check(d.get("mode") == "infer" and d.get("rows") == rows, "infer: mode and rows echoed")
    check(d.get("windows") == rows - T, f"infer: every window of the series scored ({d.get('windows')})")
    want = forward_flops(1, 16, T, 1, 1) * (rows - T) / 1e6
    check(abs(d.get("mflop", 0) - want) <= 1e-4 * want, f"infer: mflop {d.get('mflop')} == {want}")
    positive(d, "median_ms", "min_ms", "per_s", "gflops_median")

    d = run_timer(exe, "--mode", "peak", "--reps", 1)
    positive(d, "peak_gflops", "median_gflops")

    p = subprocess.run([exe, "--mode", "train", "--hidden", "0"], capture_output=True, text=True)
    check(p.returncode == 2 and "at least 1" in p.stderr, "cpu_step_timer rejects --hidden 0 with exit code 2")
    p = subprocess.run([exe, "--bogus", "1"], capture_output=True, text=True)
    check(p.returncode == 2 and "unknown option" in p.stderr, "cpu_step_timer rejects an unknown option")


def torch_importable(python):
    try:
        return subprocess.run([python, "-c", "import torch"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compare_env(build):
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    env = dict(os.environ, LSTMAD_BUILD=build)
    env.pop("LSTMAD_COMPARE_REEXEC", None)
    return python, env


def check_without_torch(script, build):
    python, env = compare_env(build)
    # torch hidden: a module named torch that fails to import comes first on the path.
    with tempfile.TemporaryDirectory() as fake:
        with open(os.path.join(fake, "torch.py"), "w") as f:
            f.write("raise ImportError('hidden by test_compare_pytorch')\n")
        hidden = dict(env, PYTHONPATH=fake)
        p = subprocess.run([python, script, "--quick"], capture_output=True, text=True, env=hidden, timeout=300)
        check(p.returncode == 0, f"without torch compare_pytorch exits 0 (got {p.returncode}; {p.stderr[-500:]})")
        check("torch is not installed" in p.stdout and "apt-get install -y python3-torch libopenblas0" in p.stdout,
              "without torch compare_pytorch says so and gives the apt-get line")
        check("reference L=2" not in p.stdout, "without torch no comparison is printed")


def check_compare(script, build):
    """The comparison itself; False when it cannot run here (no torch)."""
    python, env = compare_env(build)
    if not torch_importable(python):
        return False
    p = subprocess.run([python, script, "--quick"], capture_output=True, text=True, env=env, timeout=900)
    print(p.stdout)
    check(p.returncode == 0, f"compare_pytorch --quick exits 0 (stderr: {p.stderr[-800:]})")
    lines = p.stdout.strip().splitlines()
    check(bool(lines) and REFERENCE_LINE.match(lines[-1]) is not None,
          f"the last line matches the required form: {lines[-1] if lines else ''!r}")
    for title in ("Training step, one thread", "Training, two threads", "Inference"):
        check(any(title in l for l in lines), f"compare_pytorch prints the table '{title}'")
    rows = [l for l in lines if re.match(r"^\| [12] \| \d+ \| \d+ \| \d+ \| ", l)]
    check(len(rows) >= 4, f"compare_pytorch prints a row per shape in each training table ({len(rows)})")
    return True


def main():
    args = sys.argv[1:]
    with_torch = args[3:] == ["--torch"]
    if len(args) != 3 and not with_torch:
        print(__doc__)
        return 2
    exe, script, build = args[:3]
    if with_torch:
        if not check_compare(script, build):
            python, _ = compare_env(build)
            print(f"SKIP: torch is not importable by {python} (apt-get install -y python3-torch libopenblas0)")
            return 77
    else:
        check_timer(exe)
        check_without_torch(script, build)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
