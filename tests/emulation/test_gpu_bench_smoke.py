#!/usr/bin/env python3
"""The GPU benchmarks with --smoke on the host emulation of CUDA: every path runs, before an H200 does.

Usage: test_gpu_bench_smoke.py BENCH_DIR OUT_DIR SOURCE_DIR

gpu_check.sh runs gpu_bench_anatomy, gpu_bench_cudnn, gpu_bench_fused and gpu_bench_multi on the GPU
machine, where device time is scarce; a benchmark that fails there costs a run. With --smoke each one takes
tiny sizes chosen so that every path applies (cuDNN FMA and TF32 with both algorithms, eager and graph; the
fused kernels at fp32, TF32 and BF16, the wavefront at H=16 and the cluster kernels at H=128; the
multi-model batch at each precision beside the cuDNN loop; forecasting; the CPU row; the primitive probes
and the step ladder). Passes when each exits 0, prints no "failed", and its CSV has every row with a
positive time in every column that applies. The times themselves mean nothing here. Then
scripts/gpu-results.py reads the CSVs as gpu_check.sh names them, so the parser of docs/gpu-results.md is shown on the benchmarks' own output, not only on made-up files.
Last, a run killed after its first shape keeps that row in its CSV, and each one's command line: bad
values and unknown flags are usage errors naming the flag.
"""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from killed_run import rows_kept_after_kill  # noqa: E402


def run(cmd, failures):
    done = subprocess.run(cmd, capture_output=True, text=True)
    out = done.stdout + done.stderr
    print(out)
    name = os.path.basename(cmd[0])
    if done.returncode != 0:
        failures.append(f"{name} exited {done.returncode}")
    bad = [line for line in out.splitlines() if "failed" in line]
    if bad:
        failures.append(f"{name} printed failures:\n" + "\n".join(bad))
    return out


def rows(path, failures, expect):
    if not os.path.exists(path):
        failures.append(f"{path} was not written")
        return []
    r = list(csv.DictReader(open(path)))
    if len(r) != expect:
        failures.append(f"{path}: {len(r)} rows, expected {expect}")
    return r


def positive(path, rows_, columns, failures, when=lambda r: True):
    for r in rows_:
        if not when(r):
            continue
        for c in columns:
            if float(r[c]) <= 0:
                failures.append(f"{path}: {c} = {r[c]} in row {r}")


def main():
    bench, out, source = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    failures = []

    path = os.path.join(out, "cudnn.csv")
    log = run([os.path.join(bench, "gpu_bench_cudnn"), "--smoke", "--csv", path], failures)
    r = rows(path, failures, 8)  # L 1, 2 x fma, tf32 x two algorithms
    positive(path, r, ["eager_ms", "graph_ms", "gflops"], failures)
    for x in r:
        if x["algo_used"] != x["algo"]:
            failures.append(f"{path}: asked {x['algo']}, ran {x['algo_used']}")
    engine_rows = [line for line in log.splitlines() if line.strip().startswith("2 ")]
    if len(engine_rows) != 12:  # fma, tf32 x 1, 4, 8 streams x graphs off, on
        failures.append(f"gpu_bench_cudnn: {len(engine_rows)} engine throughput rows, expected 12")

    path, ppath = os.path.join(out, "fused.csv"), os.path.join(out, "fused-phases.csv")
    run([os.path.join(bench, "gpu_bench_fused"), "--smoke", "--csv", path, "--phases-csv", ppath], failures)
    r = rows(path, failures, 4)  # H 16, 128 x L 1, 2
    # step_us is a difference of two timings (T steps and 1), which a loaded host can make negative: that it
    # ran is shown by the absence of "step timing failed" above, not by its sign.
    positive(path, r, ["fused_ms", "fused_tf32_ms", "fused_bf16_ms", "cudnn_fma_ms", "cudnn_tf32_ms"], failures)
    # The engine's fp32 path by default: the wavefront at L = 2 where it fits, the cluster where R does
    # not fit one block; the one-block kernels timed beside them.
    positive(path, r, ["wavefront_ms", "one_block_ms"], failures, lambda x: x["H"] == "16" and x["L"] == "2")
    positive(path, r, ["cluster_ms", "one_block_ms"], failures, lambda x: x["H"] == "128")
    positive(path, r, ["split_ms"], failures, lambda x: x["H"] == "16")  # the split kernels (opt-in)
    for x in r:
        # At H = 16 the engine's step timed the one-block against the split kernels (L = 1) or the wavefront
        # against its split (L = 2), the same bits either way, and ran the faster; at H = 128 it had one
        # choice.
        timed = x["H"] == "16"
        want = ("wavefront" if x["L"] == "2" else "one-block") if x["H"] == "16" else "cluster"
        if timed:
            t, other = x["fused_tuning"], "wavefront-split" if x["L"] == "2" else "split"
            if not (t.startswith(want + " ") and f", {other} " in t and t.endswith(": " + x["fused_path"])):
                failures.append(f"{path}: H=16 L={x['L']}: tuning {t!r} with path {x['fused_path']}")
        elif not x["fused_path"].startswith(want) or not x["fused_tuning"].endswith("(not timed: one choice)"):
            failures.append(f"{path}: H={x['H']} L={x['L']} ran {x['fused_path']} ({x['fused_tuning']}), "
                            f"expected {want}, untimed")
        for col in ("fused_tf32_tuning", "fused_bf16_tuning"):  # the backward in parts of K or not, timed
            if not (x[col].startswith("backward in ") and ", backward unsplit " in x[col]):
                failures.append(f"{path}: H={x['H']} L={x['L']}: {col} {x[col]!r}")

    # Where one step goes (--phases-csv): at H = 16, L = 1, T = 4, B = 3 the engine's fp32 step, the other
    # of one-block and split forced, the tf32 and bf16 steps and cuDNN, each phase once in step order.
    r = rows(ppath, failures, 4 * 12 + 7)
    runs = {}
    for x in r:
        runs.setdefault(x["path"], []).append(x)
    fused_phases = ["gather windows", "x to time-major", "forward time loop (layer 1)", "head and MSE", "loss sum",
                    "head backward", "backward time loop (layer 1)", "dW GEMM (layer 1)", "dR GEMM (layer 1)",
                    "bias sums (layer 1)", "gradient norm", "Adam"]
    cudnn_phases = ["gather windows", "LSTM forward", "head and MSE", "loss sum", "LSTM backward", "gradient norm",
                    "Adam"]
    others = {"one-block", "split"} & set(runs)
    if len(others) != 1 or not {"fused fp32", "fused tf32", "fused bf16", "cuDNN fp32"} <= set(runs):
        failures.append(f"{ppath}: runs {sorted(runs)}")
    for p, xs in runs.items():
        want = cudnn_phases if p == "cuDNN fp32" else fused_phases
        if [x["phase"] for x in xs] != want:
            failures.append(f"{ppath}: {p}: phases {[x['phase'] for x in xs]}, expected {want}")
        if any(float(x["ms"]) < 0 for x in xs) or any(float(x["step_ms"]) <= 0 for x in xs):
            failures.append(f"{ppath}: {p}: a negative phase or no step time")

    # One shape only (the GPU check profiles a step of one): its row and no other.
    path = os.path.join(out, "fused-shape.csv")
    run([os.path.join(bench, "gpu_bench_fused"), "--shape", "16,2,4,3", "--reps", "1", "--warmup", "0", "--csv",
         path], failures)
    r = rows(path, failures, 1)
    if r and (r[0]["H"], r[0]["L"], r[0]["T"], r[0]["B"]) != ("16", "2", "4", "3"):
        failures.append(f"{path}: --shape 16,2,4,3 ran {r[0]}")

    path, fpath = os.path.join(out, "multi.csv"), os.path.join(out, "forecast.csv")
    ppath = os.path.join(out, "phases.csv")
    log = run([os.path.join(bench, "gpu_bench_multi"), "--smoke", "--csv", path, "--forecast-csv", fpath,
               "--phases-csv", ppath], failures)
    r = rows(path, failures, 4)  # N 1, 3 x L 1, 2
    positive(path, r, ["fused_ms", "fused_tf32_ms", "fused_bf16_ms", "cudnn_loop_ms", "split_ms"], failures)
    r = rows(fpath, failures, 4)
    positive(fpath, r, ["fused_ms", "fused_per_model_ms", "cudnn_ms"], failures)
    if "CPU engine, fp32" not in log:
        failures.append("gpu_bench_multi printed no CPU engine row")
    # Where the step goes: N = 3 at L = 1 and 2, default and split time loops at fp32 (at L = 2 also the
    # wavefront), the bf16 step and the bf16 step with its backward unsplit (the default splits it at 3
    # models of 3 rows);
    # every phase of the step is there once per run, in step order (layer 0's input projection is in the
    # time loop at every precision, so no input GEMM at layer 1, and its bias sums come with its dW), and
    # each run's graph-replayed step was timed.
    r = rows(ppath, failures, 103)  # L = 1: 8 phases, L = 2: 15; four runs each, and the wavefront's 11
    runs = {}
    for x in r:
        runs.setdefault((x["L"], x["path"]), []).append(x)
    if sorted(runs) != [("1", "bf16"), ("1", "bf16 unsplit"), ("1", "default"), ("1", "split"), ("2", "bf16"),
                        ("2", "bf16 unsplit"), ("2", "default"), ("2", "split"), ("2", "wavefront")]:
        failures.append(f"{ppath}: runs {sorted(runs)}")
    for (L, p), xs in runs.items():
        names = [x["phase"] for x in xs]
        want = ["prepare and gather", "forward time loop (layer 1)", "head and loss", "head backward",
                "backward time loop (layer 1)", "dW GEMM and bias sums (layer 1)", "dR GEMM (layer 1)",
                "norm and Adam"]
        if L == "2" and p == "wavefront":  # both layers in one loop per direction, layer 2's dX in it
            want = ["prepare and gather", "forward wavefront", "head and loss", "head backward",
                    "backward wavefront", "dW GEMM (layer 2)", "dR GEMM (layer 2)", "bias sums (layer 2)"] + want[5:]
        elif L == "2":
            want = (want[:2] + ["input GEMM (layer 2)", "forward time loop (layer 2)"] + want[2:4] +
                    ["backward time loop (layer 2)", "dW GEMM (layer 2)", "dR GEMM (layer 2)",
                     "bias sums (layer 2)", "dX GEMM (layer 2)"] + want[4:])
        if names != want:
            failures.append(f"{ppath}: L={L} {p}: phases {names}, expected {want}")
        if any(float(x["ms"]) < 0 for x in xs) or any(float(x["step_ms"]) <= 0 for x in xs):
            failures.append(f"{ppath}: L={L} {p}: a negative phase or no step time")

    # One step taken apart: the probes (8 primitives, the exchange at 4 block sizes and within a warp), and
    # per direction the ladder's 8 rungs and the engine's one-block and split kernels at H = 16, B = 3. Each whole-step rung
    # gives its one-block kernel's bits, and the split forward the same (the benchmark prints "failed"
    # otherwise).
    path = os.path.join(out, "anatomy.csv")
    log = run([os.path.join(bench, "gpu_bench_anatomy"), "--smoke", "--csv", path], failures)
    r = rows(path, failures, 13 + 2 * (8 + 2))
    positive(path, r, ["cycles", "mhz"], failures, lambda x: x["kind"] != "engine")
    for d in ("forward", "backward"):
        rungs = [x["name"] for x in r if x["kind"] == "rung" and x["direction"] == d]
        if len(set(rungs)) != 8 or rungs[0] != "barrier + exchange" or rungs[4] != "+ stores (whole step)":
            failures.append(f"{path}: {d} rungs {rungs}")
        engines = [x["name"] for x in r if x["kind"] == "engine" and x["direction"] == d]
        if engines != [f"engine: one-block {d}", f"engine: split {d}"]:
            failures.append(f"{path}: {d} engine rows {engines}")
    for what in ("forward's y, gates and c", "backward's gate gradients"):
        if f"the whole-step rung gives the one-block {what} bit for bit" not in log:
            failures.append(f"gpu_bench_anatomy did not show the one-block {what} from the whole-step rung")

    log_dir = os.path.join(out, "check")
    os.makedirs(log_dir, exist_ok=True)
    for mine, theirs in (("cudnn", "gpu_bench_cudnn"), ("fused", "gpu_bench_fused"), ("multi", "gpu_bench_multi"),
                         ("forecast", "gpu_bench_forecast"), ("phases", "gpu_bench_phases"),
                         ("anatomy", "gpu_bench_anatomy")):
        if os.path.exists(os.path.join(out, mine + ".csv")):
            shutil.copy(os.path.join(out, mine + ".csv"), os.path.join(log_dir, theirs + ".csv"))
    done = subprocess.run([sys.executable, os.path.join(source, "scripts", "gpu-results.py"), log_dir],
                          capture_output=True, text=True)
    md = done.stdout
    print(md)
    if done.returncode != 0:
        failures.append(f"gpu-results.py exited {done.returncode}: {done.stderr}")
    for part in ("gpu_bench_cudnn.csv", "gpu_bench_fused.csv", "gpu_bench_multi.csv", "gpu_bench_forecast.csv"):
        if f"({part} is missing)" in md:
            failures.append(f"gpu-results.py did not read {part}")
    for row in ("| 16 | 2 | 4 | 3 | tf32 |", "| 128 | 2 | 4 | 3 |", "| 3 | 2 |", "| dR GEMM (layer 2) | ",
                "| + stores (whole step) | ", "| write, barrier, read | 256 | "):
        if row not in md:
            failures.append(f"gpu-results.py wrote no row starting {row}")

    # A stage cut at its deadline keeps what it measured: each CSV row is on disk as soon as it is printed,
    # so a run killed after its first shape (of four) still leaves a readable CSV with that row.
    path = os.path.join(out, "killed.csv")
    why = rows_kept_after_kill("gpu_bench_fused", [os.path.join(bench, "gpu_bench_fused"), "--smoke", "--csv", path], path, "fused_ms", 4)
    if why:
        failures.append(why)

    # The command line: a bad value, two excluding flags or an unknown flag is a usage error (exit 2) that
    # names the flag, before any device work; --help exits 0.
    for exe, args, flag in (("gpu_bench_cudnn", ["--reps", "x"], "--reps"),
                            ("gpu_bench_fused", ["--quick", "--smoke"], "--smoke"),
                            ("gpu_bench_fused", ["--peak-tflops", "0"], "--peak-tflops"),
                            ("gpu_bench_multi", ["--models", "1,0"], "--models"),
                            ("gpu_bench_multi", ["--no-such-flag"], "--no-such-flag"),
                            ("gpu_bench_anatomy", ["--steps", "0"], "--steps")):
        done = subprocess.run([os.path.join(bench, exe)] + args, capture_output=True, text=True)
        if done.returncode != 2 or flag not in done.stderr:
            failures.append(f"{exe} {' '.join(args)}: exit {done.returncode} (expected 2), stderr {done.stderr!r} "
                            f"(expected to name {flag})")
    for exe in ("gpu_bench_cudnn", "gpu_bench_fused", "gpu_bench_multi", "gpu_bench_anatomy"):
        done = subprocess.run([os.path.join(bench, exe), "--help"], capture_output=True, text=True)
        if done.returncode != 0 or "--reps" not in done.stdout:
            failures.append(f"{exe} --help: exit {done.returncode}, no --reps in {done.stdout!r}")

    for f in failures:
        print("FAILED:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
