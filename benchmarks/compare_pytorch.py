#!/usr/bin/env python3
"""lstmad's CPU engine beside PyTorch's nn.LSTM on the CPU, on the same shapes, in one process tree.

The PyTorch model is the classic prediction-error detector's: nn.LSTM(D, H, L, batch_first=True), an
nn.Linear(H, 1) head on the last step, MSE, torch.nn.utils.clip_grad_norm_(1.0), torch.optim.Adam. One
training step = zero_grad, forward, loss, backward, clip, Adam. lstmad's step is the same (its trainer's
minibatch step, timed by the cpu_step_timer executable, which this script runs).

Each cell alternates rounds of lstmad and PyTorch, so that on a shared machine both see the same load,
and reports the median over every timed repetition (after warm-up). Wall clock, plus columns in the
calling thread's CPU time, which leave out the waits for a core that other programs cause.

Tables (markdown):
  1. one thread each: L in {1, 2}, H in {32, 64, 128}, T in {50, 100}, B in {32, 64}, D = 1: ms per step,
     the ratio, lstmad's GFLOP/s (GEMM flops only) and its share of the core's measured fp32 peak;
  2. two threads: lstmad training 2 models at once (steps/s over both) against PyTorch's best of 1 or 2
     threads on one model, and lstmad's scaling from 1 to 2 threads: measured (steps/s of wall time),
     and in CPU time (2 x one model's CPU ms per step alone / beside the other), what 2 free cores give;
  3. inference: scoring a whole series of --rows rows (every window) with a trained model, one thread each
     (PyTorch: eval mode, no_grad, best of 64 and 512 windows per batch), and lstmad's 2-series rate.

The build is found through LSTMAD_BUILD (a build folder), else ./build of this checkout. torch comes from
Debian: `apt-get install -y python3-torch libopenblas0`; without it the script says so and exits 0. The
last line is `reference L=2 H=64 T=50 B=64: lstmad <ms> ms, pytorch <ms> ms, speedup <x>x`.

Usage: compare_pytorch.py [--quick] [--no-threads] [--no-infer] [--rows N] [--json FILE]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch_bench

APT_LINE = "apt-get install -y python3-torch libopenblas0"
REFERENCE = (2, 64, 50, 64)  # L, H, T, B


def find_timer() -> Path:
    build = os.environ.get("LSTMAD_BUILD")
    root = Path(build) if build else Path(__file__).resolve().parent.parent / "build"
    exe = root / "benchmarks" / "cpu_step_timer"
    if not exe.is_file():
        sys.exit(f"compare_pytorch: {exe} not found; build it with "
                 f"`cmake --build {root} --target cpu_step_timer` or point LSTMAD_BUILD at a build folder")
    return exe


def timer(exe: Path, **kw) -> dict:
    cmd = [str(exe)]
    for k, v in kw.items():
        cmd += ["--" + k, str(v)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def flops_train(L, H, T, B, D=1):
    """GEMM flops of one training step, as benchmarks/cpu_work.hpp counts them."""
    G = 4.0 * H
    f = 2.0 * B * H + 4.0 * B * H
    for layer in range(L):
        Din = D if layer == 0 else H
        f += 2.0 * T * B * Din * G + 2.0 * (T - 1) * B * H * G
        f += 4.0 * (T - 1) * B * G * H + 2.0 * T * B * G * Din
        if layer > 0:
            f += 2.0 * T * B * G * Din
    return f


def forward_flops(L, H, T, windows, D=1):
    """GEMM flops of the forward passes over `windows` windows (cpu_work.hpp's count, batch 1 each)."""
    G = 4.0 * H
    f = 2.0 * H
    for layer in range(L):
        Din = D if layer == 0 else H
        f += 2.0 * T * Din * G + 2.0 * (T - 1) * H * G
    return f * windows


class Torch:
    def __init__(self, torch):
        self.torch = torch

    def model(self, L, H, D=1, seed=0):
        torch = self.torch
        torch.manual_seed(seed)
        lstm = torch.nn.LSTM(D, H, num_layers=L, batch_first=True)
        head = torch.nn.Linear(H, 1)
        return lstm, head

    def train_ms(self, L, H, T, B, threads, warmup, reps):
        torch = self.torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        step = torch_bench.detector_trainer(torch, 1, H, L, torch.device("cpu"), 1e-3, B, T)
        return timed(step, warmup, reps)

    def infer_ms(self, L, H, T, rows, batch, warmup, reps):
        """Predicts the value after every window of a `rows`-row series (rows - T windows)."""
        torch = self.torch
        torch.set_num_threads(1)
        lstm, head = self.model(L, H)
        lstm.eval()
        head.eval()
        series = torch.sin(torch.arange(rows, dtype=torch.float32) * 0.07)

        def score():
            with torch.no_grad():
                windows = series[: rows - 1].unfold(0, T, 1)  # (rows - T) x T
                outs = []
                for k in range(0, windows.shape[0], batch):
                    xb = windows[k:k + batch].unsqueeze(-1).contiguous()
                    out, _ = lstm(xb)
                    outs.append(head(out[:, -1, :]))
                return torch.cat(outs)

        return timed(score, warmup, reps)


def timed(fn, warmup, reps):
    """Wall and calling-thread CPU ms of each of `reps` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
    return wall, cpu


class Samples:
    """Pooled repetitions of several rounds: wall and CPU ms per repetition, and (lstmad) the rate."""

    def __init__(self):
        self.wall, self.cpu, self.units, self.wall_total = [], [], 0, 0.0

    def add_torch(self, wc):
        self.wall += wc[0]
        self.cpu += wc[1]

    def add_timer(self, r):
        self.wall += r["samples_ms"]
        self.cpu += r["samples_cpu_ms"]
        self.units += r["reps"] * r["threads"]
        self.wall_total += r["wall_ms"]

    def ms(self):
        return statistics.median(self.wall)

    def cpu_ms(self):
        return statistics.median(self.cpu)

    def per_s(self):
        return 1000.0 * self.units / self.wall_total


def loadavg():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the reference shape and one small one, few steps")
    ap.add_argument("--no-threads", action="store_true", help="skip the 2-thread table")
    ap.add_argument("--no-infer", action="store_true", help="skip the inference table")
    ap.add_argument("--rows", type=int, default=4000, help="series length for inference (default 4000)")
    ap.add_argument("--json", default="", help="write every measurement to this file")
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        # Debian's torch belongs to the system interpreter; another python3 first on PATH lacks it.
        system = "/usr/bin/python3"
        if (os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system)
                and not os.environ.get("LSTMAD_COMPARE_REEXEC")):
            os.environ["LSTMAD_COMPARE_REEXEC"] = "1"
            sys.stdout.flush()
            os.execv(system, [system, os.path.abspath(__file__)] + sys.argv[1:])
        print(f"compare_pytorch: torch is not installed for {sys.executable}, so there is nothing to compare "
              f"against; install Debian's build with `{APT_LINE}` (as root) and run this again")
        return 0
    exe = find_timer()
    tp = Torch(torch)

    shapes = [(L, H, T, B) for L in (1, 2) for H in (32, 64, 128) for T in (50, 100) for B in (32, 64)]
    infer_shapes = [(L, H, 50) for L in (1, 2) for H in (32, 64, 128)]
    budget, rounds = 1.0, 3  # seconds of timed steps per engine, shape and round
    if args.quick:
        shapes = [(1, 32, 50, 32), REFERENCE]
        infer_shapes = [(1, 32, 50)]
        budget, rounds = 0.1, 2
        args.rows = min(args.rows, 600)

    peak = timer(exe, mode="peak", reps=3 if args.quick else 8)["peak_gflops"]
    print(f"compare_pytorch: lstmad {exe} against torch {torch.__version__} on the CPU")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"lstmad fp32 peak of one core (measured): {peak:.0f} GFLOP/s; load average {loadavg()}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print(f"each cell: {rounds} alternating rounds of lstmad and PyTorch (so both see the same load), the "
          f"median over every timed repetition; 'CPU' columns use the calling thread's CPU time, which "
          f"leaves out waits for a core on a shared machine")
    record = {"peak_gflops": peak, "torch": torch.__version__, "load_start": loadavg(),
              "train1": [], "train2": [], "infer": []}

    def lstmad_train(L, H, T, B, threads, est_ms):
        reps = int(max(5, min(400, budget * 1000 / max(est_ms, 1e-3))))
        return timer(exe, mode="train", layers=L, hidden=H, window=T, batch=B, threads=threads,
                     warmup=int(max(3, min(30, reps // 5))), reps=reps, samples=1)

    def torch_reps(est_ms):
        return int(max(3, min(100, budget * 1000 / max(est_ms, 1e-3))))

    # 1. One thread.
    print("\n### Training step, one thread (median ms per step)\n")
    print("| L | H | T | B | lstmad ms | pytorch ms | speedup | lstmad GFLOP/s | % of peak | speedup, CPU time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    one = {}
    for (L, H, T, B) in shapes:
        est = flops_train(L, H, T, B) / 150e9 * 1e3
        ls, ts = Samples(), Samples()
        for _ in range(rounds):
            ls.add_timer(lstmad_train(L, H, T, B, 1, est))
            ts.add_torch(tp.train_ms(L, H, T, B, 1, warmup=2, reps=torch_reps(est * 5)))
            est = ls.ms()
        one[(L, H, T, B)] = (ls, ts)
        g = flops_train(L, H, T, B) / (ls.ms() * 1e6)
        print(f"| {L} | {H} | {T} | {B} | {ls.ms():.2f} | {ts.ms():.2f} | {ts.ms() / ls.ms():.1f}x | "
              f"{g:.0f} | {100 * g / peak:.0f} | {ts.cpu_ms() / ls.cpu_ms():.1f}x |", flush=True)
        record["train1"].append({"L": L, "H": H, "T": T, "B": B, "lstmad_ms": ls.ms(), "lstmad_cpu_ms": ls.cpu_ms(),
                                 "lstmad_per_s": ls.per_s(), "pytorch_ms": ts.ms(), "pytorch_cpu_ms": ts.cpu_ms(),
                                 "gflops": g})
    worst = min(ts.ms() / ls.ms() for ls, ts in one.values())
    print(f"\nslowest speedup over the table: {worst:.1f}x; load average {loadavg()}")

    # 2. Two threads.
    if not args.no_threads:
        print("\n### Training, two threads (steps per second, all models together)\n")
        print("| L | H | T | B | lstmad 1 model/s | lstmad 2 models/s | scaling | scaling, CPU time "
              "| pytorch best of 1, 2 threads | speedup |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        worst2, worst_scaling, worst_cpu_scaling = float("inf"), float("inf"), float("inf")
        for (L, H, T, B) in shapes:
            ls1, ts1 = one[(L, H, T, B)]
            ls2, ts2 = Samples(), Samples()
            for _ in range(rounds):
                ls2.add_timer(lstmad_train(L, H, T, B, 2, ls1.ms()))
                ts2.add_torch(tp.train_ms(L, H, T, B, 2, warmup=2, reps=torch_reps(ts1.ms())))
            torch_rate = 1000.0 / min(ts1.ms(), ts2.ms())
            scaling = ls2.per_s() / ls1.per_s()
            # Each model's CPU time per step alone and beside the other: what 2 free cores would give.
            cpu_scaling = 2.0 * ls1.cpu_ms() / ls2.cpu_ms()
            speed = ls2.per_s() / torch_rate
            worst2, worst_scaling = min(worst2, speed), min(worst_scaling, scaling)
            worst_cpu_scaling = min(worst_cpu_scaling, cpu_scaling)
            print(f"| {L} | {H} | {T} | {B} | {ls1.per_s():.0f} | {ls2.per_s():.0f} | {scaling:.2f}x | "
                  f"{cpu_scaling:.2f}x | {torch_rate:.1f} ({'2' if ts2.ms() < ts1.ms() else '1'} thr) | "
                  f"{speed:.1f}x |", flush=True)
            record["train2"].append({"L": L, "H": H, "T": T, "B": B, "lstmad_per_s_1": ls1.per_s(),
                                     "lstmad_per_s_2": ls2.per_s(), "lstmad_cpu_ms_2": ls2.cpu_ms(),
                                     "pytorch_ms_1": ts1.ms(), "pytorch_ms_2": ts2.ms()})
        print(f"\nslowest 2-thread speedup: {worst2:.1f}x; lowest scaling: {worst_scaling:.2f}x (wall), "
              f"{worst_cpu_scaling:.2f}x (CPU time); load average {loadavg()}")

    # 3. Inference.
    if not args.no_infer:
        windows = args.rows - 50
        print(f"\n### Inference: scoring a series of {args.rows} rows ({windows} windows), ms per series\n")
        print("| L | H | T | lstmad ms | pytorch ms | speedup | lstmad GFLOP/s | speedup, CPU time "
              "| lstmad 2 series/s | scaling, CPU time |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        reps = 2 if args.quick else 4
        for (L, H, T) in infer_shapes:
            ls, ls2, ts = Samples(), Samples(), {64: Samples(), 512: Samples()}
            for _ in range(rounds):
                for threads, acc in ((1, ls), (2, ls2)):
                    acc.add_timer(timer(exe, mode="infer", layers=L, hidden=H, window=T, rows=args.rows,
                                        threads=threads, reps=reps, samples=1))
                for b, acc in ts.items():
                    acc.add_torch(tp.infer_ms(L, H, T, args.rows, b, warmup=1, reps=reps))
            best = min(ts.values(), key=lambda a: a.ms())
            flop = forward_flops(L, H, T, windows)
            print(f"| {L} | {H} | {T} | {ls.ms():.1f} | {best.ms():.1f} | {best.ms() / ls.ms():.1f}x | "
                  f"{flop / (ls.ms() * 1e6):.0f} | {best.cpu_ms() / ls.cpu_ms():.1f}x | {ls2.per_s():.1f} | "
                  f"{2.0 * ls.cpu_ms() / ls2.cpu_ms():.2f}x |", flush=True)
            record["infer"].append({"L": L, "H": H, "T": T, "rows": args.rows, "windows": windows,
                                    "lstmad_ms": ls.ms(), "lstmad_cpu_ms": ls.cpu_ms(), "pytorch_ms": best.ms(),
                                    "pytorch_cpu_ms": best.cpu_ms(), "lstmad_per_s_1": ls.per_s(),
                                    "lstmad_per_s_2": ls2.per_s(), "lstmad_cpu_ms_2": ls2.cpu_ms()})

    record["load_end"] = loadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
        print(f"\nwrote {args.json}")
    ls, ts = one[REFERENCE]
    print(f"\nload average at the end {loadavg()}")
    print(f"reference L=2 H=64 T=50 B=64: lstmad {ls.ms():.2f} ms, pytorch {ts.ms():.2f} ms, "
          f"speedup {ts.ms() / ls.ms():.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
