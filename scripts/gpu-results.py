#!/usr/bin/env python3
"""Markdown for docs/gpu-results.md from one benchmarks/gpu_check.sh log folder, or from the archive of it
that the check leaves in $OUT (gpu-check.tar.gz).

    python3 scripts/gpu-results.py LOGDIR|gpu-check.tar.gz [--command "benchmarks/gpu_check.sh"]
                                   [--previous EARLIER-gpu-results.md] > docs/gpu-results.md

Every figure comes from the folder: the environment (date, commit, GPU, CUDA and cuDNN versions), each
step's outcome (summary.log), the GPU tests (test_*.xml), the sanitizers (memcheck_* and racecheck_*
logs), the ptxas spill report, the warnings the steps logged (the engines' fallbacks) and the multi-model
batches' autotuning, the benchmark CSVs (gpu_bench_cudnn, gpu_bench_fused, gpu_bench_multi,
gpu_bench_forecast, gpu_bench_phases, compare_torch_gpu, compare_torch_multi) and the end-to-end run folder
(nab_grid_fused/summary.json). The issues' targets are checked against the measured numbers:
  fused vs cuDNN     at least 2x faster than cuDNN's best per training step for H <= 128, not slower at
                     H = 256, within 3x of the latency floor;
  many models        at least 50x faster than the cuDNN loop at N = 1024, within 3x of the compute floor
                     (fp32; and the tf32 path within 3x of the TF32 floor).
A part whose files are missing says so; nothing is filled in by hand.
"""
import argparse
import csv
import glob
import json
import math
import os
import re
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x if x > 0 else float("nan")  # the benchmarks write -1 for "did not run"


def fmt(x, digits=3):
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def ratio(a, b):
    return a / b if not (math.isnan(a) or math.isnan(b)) and b > 0 else float("nan")


def yes_no(ok):
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def environment(log):
    env = {"date": "?", "commit": "?", "gpu": "?", "cuda": "?", "cudnn": "?", "driver": "?", "kernel": "?"}
    path = os.path.join(log, "environment.log")
    if not os.path.exists(path):
        return env
    text = open(path, errors="replace").read()
    m = re.search(r"^date: (.+)$", text, re.M)
    env["date"] = m.group(1).strip() if m else "?"
    m = re.search(r"^commit: (.+)$", text, re.M)
    env["commit"] = m.group(1).strip() if m else "?"
    m = re.search(r"\|\s+\d+\s+(NVIDIA [^|]*?)\s{2,}", text)
    env["gpu"] = m.group(1).strip() if m else "?"
    m = re.search(r"^host: .*, kernel (\S+)", text, re.M)
    env["kernel"] = m.group(1) if m else "?"
    m = re.search(r"Driver Version:\s*([\d.]+)", text)
    env["driver"] = m.group(1) if m else "?"
    m = re.search(r"release ([\d.]+), (V[\d.]+)", text)
    env["cuda"] = f"{m.group(1)} ({m.group(2)})" if m else "?"
    parts = [re.search(rf"#define CUDNN_{k}\s+(\d+)", text) for k in ("MAJOR", "MINOR", "PATCHLEVEL")]
    if all(parts):
        env["cudnn"] = ".".join(p.group(1) for p in parts)
    return env


def steps(log):
    path = os.path.join(log, "summary.log")
    if not os.path.exists(path):
        return None, None
    rows, total = [], None
    for line in open(path):
        p = line.split()
        if not p:
            continue
        if p[0] == "total":
            total = p[1]
            continue
        # "name status time": the status may hold spaces ("SKIPPED(the tree has changes)"), the time is
        # the last field when it reads "<n>s".
        time = p[-1] if len(p) > 2 and re.fullmatch(r"\d+s", p[-1]) else ""
        status = " ".join(p[1:-1] if time else p[1:]) or "?"
        rows.append((p[0], status, time))
    return rows, total


def gtest_results(log):
    rows = []
    for path in sorted(glob.glob(os.path.join(log, "test_*.xml"))):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            rows.append((os.path.basename(path)[:-4], "unreadable XML: " + str(e), "", "", "", ""))
            continue
        cases = root.iter("testcase")
        ran = failed = skipped = 0
        names = []
        for c in cases:
            ran += 1
            if c.find("failure") is not None:
                failed += 1
                names.append(c.get("classname", "") + "." + c.get("name", ""))
            elif c.find("skipped") is not None or c.get("result") == "skipped":
                skipped += 1
        rows.append((os.path.basename(path)[:-4], ran, ran - failed - skipped, failed, skipped, ", ".join(names)))
    # GoogleTest writes its XML when the executable ends: one cut short (a timeout) left only its log, whose
    # result lines are counted instead.
    for path in sorted(glob.glob(os.path.join(log, "test_*.log"))):
        name = os.path.basename(path)[:-4]
        if os.path.exists(os.path.join(log, name + ".xml")):
            continue
        text = open(path, errors="replace").read()
        ok = re.findall(r"^\[       OK \] (\S+)", text, re.M)
        bad = re.findall(r"^\[  FAILED  \] (\S+) \(", text, re.M)
        skipped = re.findall(r"^\[  SKIPPED \] (\S+) \(", text, re.M)
        started = re.findall(r"^\[ RUN      \] (\S+)", text, re.M)
        if not started:  # not built, or skipped before it ran: the steps table says which
            continue
        unfinished = [t for t in started if t not in ok and t not in bad and t not in skipped]
        note = ", ".join(bad + [t + " (cut short)" for t in unfinished])
        rows.append((name + " (no XML: log)", len(started), len(ok), len(bad) + len(unfinished), len(skipped), note))
    return rows


def sanitizer_results(log):
    rows = []
    for path in sorted(glob.glob(os.path.join(log, "memcheck_*.log")) + glob.glob(os.path.join(log, "racecheck_*.log"))):
        text = open(path, errors="replace").read()
        m = re.search(r"ERROR SUMMARY: (\d+) error", text)
        r = re.search(r"RACECHECK SUMMARY: (\d+) hazards? displayed \((\d+) errors?, (\d+) warnings?\)", text)
        if r:
            verdict = f"{r.group(2)} errors, {r.group(3)} warnings ({r.group(1)} hazards shown)"
        elif m:
            verdict = f"{m.group(1)} errors"
        elif "Device not supported" in text:
            verdict = "not run: compute-sanitizer does not support this machine's runtime (owed)"
        else:
            verdict = "no sanitizer summary in the log"
        rows.append((os.path.basename(path)[:-4], verdict))
    return rows


def cudnn_section(log):
    cu = read_csv(os.path.join(log, "gpu_bench_cudnn.csv"))
    if cu is None:
        return "Not in this run (gpu_bench_cudnn.csv is missing)."
    torch = {}
    for r in read_csv(os.path.join(log, "compare_torch_gpu.csv")) or []:
        torch[(r["H"], r["L"], r["T"], r["B"], r["tf32"] == "1")] = num(r["step_ms"])
    best = {}
    for r in cu:
        key = (r["H"], r["L"], r["T"], r["B"], r["math"])
        cands = [(num(r["eager_ms"]), r["algo_used"]), (num(r["graph_ms"]), r["algo_used"] + "+graph")]
        for t, how in cands:
            if not math.isnan(t) and (key not in best or t < best[key][0]):
                best[key] = (t, how)
    rows = []
    for (H, L, T, B, m), (t, how) in sorted(best.items(), key=lambda kv: tuple(int(x) for x in kv[0][:4]) + (kv[0][4],)):
        tt = torch.get((H, L, T, B, m == "tf32"), float("nan"))
        rows.append((H, L, T, B, m, fmt(t, 4), how, fmt(tt, 4), fmt(ratio(tt, t), 2)))
    return table(["H", "L", "T", "B", "math", "cuDNN best ms", "as", "PyTorch ms", "PyTorch / cuDNN"], rows)


def fused_section(log):
    rows_in = read_csv(os.path.join(log, "gpu_bench_fused.csv"))
    if rows_in is None:
        return "Not in this run (gpu_bench_fused.csv is missing).", []
    torch = {}
    for r in read_csv(os.path.join(log, "compare_torch_gpu.csv")) or []:
        torch[(r["H"], r["L"], r["T"], r["B"], r["tf32"] == "1")] = num(r["step_ms"])
    rows, misses = [], []
    for r in rows_in:
        H = int(r["H"])
        f, a, b = num(r["fused_ms"]), num(r["cudnn_fma_ms"]), num(r["cudnn_tf32_ms"])
        t32, b16 = num(r["fused_tf32_ms"]), num(r["fused_bf16_ms"])
        best_cudnn = min([x for x in (a, b) if not math.isnan(x)], default=float("nan"))
        best_fused = min([x for x in (f, t32, b16) if not math.isnan(x)], default=float("nan"))
        lat = num(r["latency_floor_ms"])
        speedup = ratio(best_cudnn, best_fused)
        target = None if math.isnan(speedup) else (speedup >= 2.0 if H <= 128 else speedup >= 1.0)
        floor_ok = None if math.isnan(ratio(f, lat)) else ratio(f, lat) <= 3.0
        p32 = torch.get((r["H"], r["L"], r["T"], r["B"], False), float("nan"))
        shape = f"H={r['H']} L={r['L']} T={r['T']} B={r['B']}"
        if target is False:
            misses.append(f"{shape}: fused best {fmt(best_fused, 4)} ms vs cuDNN best {fmt(best_cudnn, 4)} ms ({fmt(speedup, 2)}x)")
        if floor_ok is False:
            misses.append(f"{shape}: fused fp32 {fmt(ratio(f, lat), 2)}x the latency floor")
        # The fp32 path the engine took (CSVs before it was recorded: "-") and the one-block kernels beside it.
        path, one, split = r.get("fused_path") or "-", num(r.get("one_block_ms", "-1")), num(r.get("split_ms", "-1"))
        # The bf16 step with one warp per backward tile where the engine splits them (version 3.4; older CSVs
        # lack the column).
        unsplit = num(r.get("fused_bf16_unsplit_ms", "-1"))
        rows.append((r["H"], r["L"], r["T"], r["B"], fmt(f, 4), path, fmt(one, 4), fmt(split, 4), fmt(t32, 4), fmt(b16, 4),
                     fmt(unsplit, 4), fmt(ratio(unsplit, b16), 2), fmt(a, 4),
                     fmt(b, 4), fmt(p32, 4), fmt(ratio(a, f), 2), fmt(speedup, 2), yes_no(target), fmt(lat, 4),
                     fmt(ratio(f, lat), 2), yes_no(floor_ok)))
    return table(["H", "L", "T", "B", "fused fp32 ms", "fp32 path", "one-block ms", "split ms", "fused tf32", "fused bf16",
                  "bf16 unsplit", "unsplit / split", "cuDNN FMA",
                  "cuDNN TF32", "PyTorch", "cuDNN FMA / fused fp32", "cuDNN best / fused best", "target",
                  "latency floor ms", "fused / floor", "within 3x"], rows), misses


def candidates_section(log):
    """The fused table's alternatives against what the engine runs, by H: the version 4 split kernels
    (fp32) against the engine's fp32 path, and the bf16 step with the tensor-core backward unsplit against
    the engine's bf16 step. Since version 1.6 the engine's steps are autotuned (they run an alternative of the
    same bits where it timed faster, the table under "The time loops each batch picked"), so a ratio near 1
    can mean the engine took the alternative. A time ratio below 1 means the alternative was faster than
    what the engine ran."""
    rows_in = read_csv(os.path.join(log, "gpu_bench_fused.csv"))
    if not rows_in:
        return ""
    pairs = (("version 4 split kernels (fp32) / the engine's fp32 path", "split_ms", "fused_ms"),
             ("bf16, backward unsplit / the engine's bf16 step", "fused_bf16_unsplit_ms", "fused_bf16_ms"))
    rows = []
    for name, alt_col, def_col in pairs:
        by_h = {}
        for r in rows_in:
            q = ratio(num(r.get(alt_col)), num(r.get(def_col)))
            if not math.isnan(q):
                by_h.setdefault(int(r["H"]), []).append(q)
        for H in sorted(by_h):
            qs = by_h[H]
            rows.append((name, H, len(qs), sum(1 for q in qs if q < 1), fmt(median(qs), 2), fmt(min(qs), 2),
                         fmt(max(qs), 2)))
    if not rows:
        return ""
    return table(["alternative / default", "H", "shapes", "alternative faster at", "median time ratio", "min",
                  "max"], rows)


def optin_section(log):
    """Checks made before the cluster kernels and the wavefront were the engine's default: fused_ms is the
    one-block step there, and cluster_ms / wavefront_ms the opt-in paths beside it. Empty for later CSVs,
    whose fused_path column names the path fused_ms took."""
    rows_in = read_csv(os.path.join(log, "gpu_bench_fused.csv"))
    if not rows_in or "fused_path" in rows_in[0]:
        return ""
    rows = []
    for r in rows_in:
        one = num(r["fused_ms"])
        for name, col in (("cluster", "cluster_ms"), ("wavefront", "wavefront_ms")):
            t = num(r.get(col, "-1"))
            if not math.isnan(t):
                rows.append((r["H"], r["L"], r["T"], r["B"], name, fmt(t, 4), fmt(one, 4), fmt(ratio(one, t), 2),
                             fmt(ratio(t, num(r["cudnn_fma_ms"])), 2), fmt(ratio(t, num(r["latency_floor_ms"])), 2)))
    if not rows:
        return ""
    return table(["H", "L", "T", "B", "path", "ms", "one-block ms", "one-block / path", "path / cuDNN FMA",
                  "path / latency floor"], rows)


def multi_section(log):
    rows_in = read_csv(os.path.join(log, "gpu_bench_multi.csv"))
    if rows_in is None:
        return "Not in this run (gpu_bench_multi.csv is missing).", []
    torch = {(r["N"], r["L"]): (num(r["torch_loop_ms"]), num(r["torch_stacked_ms"]))
             for r in read_csv(os.path.join(log, "compare_torch_multi.csv")) or []}
    rows, misses = [], []
    for r in rows_in:
        N = int(r["N"])
        f, c, fl = num(r["fused_ms"]), num(r["cudnn_loop_ms"]), num(r["floor_ms"])
        t32, b16 = num(r["fused_tf32_ms"]), num(r["fused_bf16_ms"])
        tl, ts = torch.get((r["N"], r["L"]), (float("nan"), float("nan")))
        speedup = ratio(c, f)
        target = None if N != 1024 or math.isnan(speedup) else speedup >= 50.0
        floor_ok = None if N != 1024 or math.isnan(ratio(f, fl)) else ratio(f, fl) <= 3.0
        if target is False:
            misses.append(f"N=1024 L={r['L']}: {fmt(speedup, 1)}x the cuDNN loop (target 50x)")
        if floor_ok is False:
            misses.append(f"N=1024 L={r['L']}: {fmt(ratio(f, fl), 2)}x the fp32 compute floor (target 3x)")
        # The tensor-core path against its own floor (the same flops at the dense TF32 / BF16 rates); older
        # CSVs lack the columns.
        fl32, fl16 = num(r.get("tf32_floor_ms", "-1")), num(r.get("bf16_floor_ms", "-1"))
        tc_ok = None if N != 1024 or math.isnan(ratio(t32, fl32)) else ratio(t32, fl32) <= 3.0
        if tc_ok is False:
            misses.append(f"N=1024 L={r['L']}: tf32 {fmt(ratio(t32, fl32), 2)}x the TF32 compute floor (target 3x)")
        split = num(r.get("split_ms", "-1"))  # the split time loops (candidate); older CSVs lack the column
        rows.append((r["N"], r["L"], fmt(f), fmt(split), fmt(t32), fmt(b16), fmt(c), r.get("cudnn_ran_as", ""), fmt(tl),
                     fmt(ts), fmt(speedup, 1), yes_no(target), fmt(fl, 4), fmt(ratio(f, fl), 2), yes_no(floor_ok),
                     fmt(fl32, 4), fmt(ratio(t32, fl32), 2), yes_no(tc_ok), fmt(ratio(b16, fl16), 2)))
    return table(["N", "L", "fused ms", "split ms", "tf32 ms", "bf16 ms", "cuDNN loop ms", "cuDNN as", "PyTorch loop ms",
                  "PyTorch stacked ms", "cuDNN loop / fused", "50x at 1024", "floor ms", "fused / floor",
                  "within 3x", "TF32 floor ms", "tf32 / TF32 floor", "within 3x (TF32)", "bf16 / BF16 floor"],
                 rows), misses


def phase_columns(rows_in, key_of, order, digits=3):
    """A table of phases from a phases CSV (path, phase, ms, share, phases_ms, step_ms and the key columns):
    one column per key_of(row), whose last element is the path (sorted by the other elements, then by
    `order` of the path), a row per phase in first-seen order, then the phases' sum and the replayed step.
    Returns (header without the phase column, rows, totals by key)."""
    cols, phases, cell, totals = [], [], {}, {}
    for r in rows_in:
        key = key_of(r)
        if key not in cols:
            cols.append(key)
            totals[key] = (num(r["phases_ms"]), num(r["step_ms"]))
        if r["phase"] not in phases:
            phases.append(r["phase"])
        cell[(key, r["phase"])] = (num(r["ms"]), float(r["share"]))
    cols.sort(key=lambda k: k[:-1] + (order.get(k[-1], len(order)), k[-1]))
    rows = []
    for ph in phases:
        row = [ph]
        for k in cols:
            v = cell.get((k, ph))
            row.append("" if v is None else f"{fmt(v[0], digits)} ({100 * v[1]:.0f}%)")
        rows.append(row)
    rows.append(["sum of the phases (eager)"] + [fmt(totals[k][0], digits) for k in cols])
    rows.append(["step (graph replay)"] + [fmt(totals[k][1], digits) for k in cols])
    return cols, rows, totals


def single_phases_section(log):
    """Where one model's training step goes (gpu_bench_fused --phases): a column per (H, L, B, path), a row
    per phase: the engine's fp32, tf32 and bf16 steps, the one-block or split kernels forced where the engine
    ran the other, and cuDNN at fp32 (its forward and backward as one phase each)."""
    rows_in = read_csv(os.path.join(log, "gpu_bench_fused_phases.csv"))
    if not rows_in:
        return "Not in this run (gpu_bench_fused_phases.csv is missing or empty)."
    order = {"fused fp32": 0, "one-block": 1, "split": 2, "fused tf32": 3, "fused bf16": 4, "cuDNN fp32": 5}
    cols, rows, _ = phase_columns(rows_in, lambda r: (int(r["H"]), int(r["L"]), int(r["B"]), r["path"]), order, 4)
    Ts = sorted({r["T"] for r in rows_in})
    return ("Milliseconds per phase of one model's training step (T = " + ", ".join(Ts) + "), the step run "
            "eagerly with an event after each phase; the share of the phases' sum in brackets. The fused steps' "
            "GEMMs are cuBLAS's; cuDNN's forward and backward are one phase each.\n\n" +
            table(["phase"] + [f"H={h} L={l} B={b} {p}" for h, l, b, p in cols], rows))


def phases_section(log):
    """Where a multi-model step's time goes: one column per (N, L, time loops), a row per phase."""
    rows_in = read_csv(os.path.join(log, "gpu_bench_phases.csv"))
    if not rows_in:
        return "Not in this run (gpu_bench_phases.csv is missing or empty)."
    order = {"default": 0, "split": 1, "wavefront": 2, "untiled": 3, "whole-K": 4, "bf16": 5, "bf16 split": 6,
             "bf16 unsplit": 7}  # the benchmark's order
    cols, rows, totals = phase_columns(rows_in, lambda r: (int(r["N"]), int(r["L"]), r["path"]), order)
    header = ["phase"] + [f"N={n} L={l} {p}" for n, l, p in cols]
    # Each other path's graph-replayed step against the default time loops' at the same N and L (the
    # untiled time loops: is the tiling worth it; the split ones and at L = 2 the wavefront: should they
    # become the default).
    # The bf16 step with the other choice of backward split than the default's against the bf16 step.
    versus = []
    for n, l, p in cols:
        base = "bf16" if p.startswith("bf16 ") else "default"
        d = totals.get((n, l, base))
        if p == base or p == "default" or d is None:
            continue
        step = totals[(n, l, p)][1]
        if p == "bf16":
            what = "the bf16 step (tensor cores)"
        elif base == "bf16":
            what = f"the bf16 step with the backward {p[5:]}"
        else:
            what = f"{p} time loops"
        other = "bf16 step" if base == "bf16" else "default"
        versus.append(f"- N={n} L={l}: {what} {fmt(step)} ms a step, the {other} {fmt(d[1])} ms "
                      f"({fmt(ratio(step, d[1]), 2)}x the {other}'s time)")
    return ("Milliseconds per phase of one fp32 training step (H = 64, T = 100, B = 64; the `bf16` columns: "
            "the same step at bf16 on the tensor cores, `bf16 split` / `bf16 unsplit` with the other choice of "
            "backward split than the default's at that N), the step run eagerly with an event after each phase; "
            "the share of the phases' sum in brackets.\n\n" + table(header, rows) +
            ("\n\n" + "\n".join(versus) if versus else ""))


def forecast_section(log):
    rows_in = read_csv(os.path.join(log, "gpu_bench_forecast.csv"))
    if rows_in is None:
        return "Not in this run (gpu_bench_forecast.csv is missing)."
    rows = []
    for r in rows_in:
        f, fm, c = num(r["fused_ms"]), num(r["fused_per_model_ms"]), num(r["cudnn_ms"])
        windows = int(r["N"]) * int(r["windows"])
        rows.append((r["N"], r["L"], r["windows"], fmt(f, 2), fmt(fm, 2), fmt(c, 2), fmt(ratio(fm, f), 1), fmt(ratio(c, f), 1),
                     fmt(windows / (f * 1e3), 2) if not math.isnan(f) else "n/a", fmt(num(r["floor_ms"]), 3)))
    return table(["N", "L", "windows per model", "fused ms", "fused per model ms", "cuDNN ms", "per model / fused",
                  "cuDNN / fused", "Mwindows/s", "floor ms"], rows)


NCU_METRICS = ("SM Frequency", "Duration", "Elapsed Cycles", "Compute (SM) Throughput", "Memory Throughput",
               "Registers Per Thread", "Threads", "Achieved Occupancy", "Active Warps Per Scheduler",
               "Eligible Warps Per Scheduler", "Issued Warp Per Scheduler", "No Eligible",
               "Warp Cycles Per Issued Instruction", "Warp Cycles Per Executed Instruction",
               "Avg. Active Threads Per Warp")


def anatomy_section(log):
    """One step taken apart (gpu_bench_anatomy): the primitive latencies in cycles, then for each direction a
    table of the ladder's rungs and the engine's kernels per (H, B), in microseconds and cycles per step."""
    rows_in = read_csv(os.path.join(log, "gpu_bench_anatomy.csv"))
    if not rows_in:
        return "Not in this run (gpu_bench_anatomy.csv is missing or empty)."
    probes = [r for r in rows_in if r["kind"] == "probe"]
    mhz = [num(r["mhz"]) for r in probes if not math.isnan(num(r["mhz"]))]
    out = []
    if probes:
        clock = f"{median(mhz):.0f} MHz" if mhz else "n/a"
        out += [f"Primitive latencies, cycles per dependent operation (thread 0 of one block, clock64); the SM "
                f"clock over the probes {clock} (clock64 against %globaltimer).", "",
                table(["operation", "threads", "cycles", "ns"],
                      [[r["name"], r["threads"], fmt(num(r["cycles"]), 1), fmt(num(r["us"]) * 1e3, 1)]
                       for r in probes]), ""]
    ladder = [r for r in rows_in if r["kind"] != "probe"]
    steps_ = sorted({r["steps"] for r in ladder})
    if ladder:
        out += ["Microseconds per step (the slope between " + ", ".join(steps_) + " steps and a quarter of them), "
                "the kernel's own cycles per step in brackets: the ladder's rungs, each adding one part to the one "
                "above up to the whole step, then the whole step without one part; and the engine's kernels on "
                "the same inputs (one row per block)."]
    for direction in ("forward", "backward"):
        rows_d = [r for r in ladder if r["direction"] == direction]
        if not rows_d:
            continue
        shapes, names = [], []
        for r in rows_d:
            if (int(r["H"]), int(r["B"])) not in shapes:
                shapes.append((int(r["H"]), int(r["B"])))
            if r["name"] not in names:
                names.append(r["name"])
        cells = {(int(r["H"]), int(r["B"]), r["name"]): r for r in rows_d}
        rows = []
        for n in names:
            row = [n]
            for h, b in shapes:
                r = cells.get((h, b, n))
                if r is None:
                    row.append("-")
                    continue
                cyc = num(r["cycles"])
                row.append(fmt(num(r["us"])) + ("" if math.isnan(cyc) else f" ({cyc:.0f})"))
            rows.append(row)
        out += ["", table([direction] + [f"H={h} B={b}" for h, b in shapes], rows)]
        readings = ladder_readings(direction, shapes, cells)
        if readings:
            out += [""] + [f"- {line}" for line in readings]
    return "\n".join(out)


def ladder_readings(direction, shapes, cells):
    """Per shape, the whole step as the sum of what each rung added, and the engine's kernels against it."""
    steps = ["barrier + exchange", "+ product", "+ cell", "+ input", "+ stores (whole step)"]
    lines = []
    for h, b in shapes:
        us = [num(cells[(h, b, n)]["us"]) if (h, b, n) in cells else float("nan") for n in steps]
        if any(math.isnan(u) for u in us):
            continue
        parts = [f"{steps[0]} {us[0]:.3f}"] + [f"{steps[i].split(' (')[0][2:]} {us[i] - us[i - 1]:+.3f}"
                                               for i in range(1, len(steps))]
        line = f"{direction} H={h} B={b}: the whole step {us[-1]:.3f} us = " + ", ".join(parts)
        for n in (f"engine: one-block {direction}", f"engine: split {direction}"):
            e = num(cells[(h, b, n)]["us"]) if (h, b, n) in cells else float("nan")
            if not math.isnan(e):
                line += f"; {n[len('engine: '):]} {e:.3f} us ({e / us[-1]:.2f}x the whole-step rung)"
        lines.append(line)
    return lines


def ncu_kernels(text):
    """The kernels of an ncu text report: [(name and launch, [(metric, unit, value)], [notes])]."""
    kernels, cur, note = [], None, None
    for line in text.splitlines():
        head = re.search(r"(lstm_\w+_kernel(?:<[^>]*>)?).*?(\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)), Context", line)
        if head:
            cur = (f"{head.group(1)} {head.group(2)}", [], [])
            kernels.append(cur)
            note = None
            continue
        if cur is None:
            continue
        m = re.match(r"^\s+(OPT|WRN|INF)\s+(.*)$", line)
        if m:
            note = [m.group(1) + ": " + m.group(2).strip()]
            cur[2].append(note)
            continue
        if note is not None:
            if line.strip() and not line.strip().startswith(("Section:", "---")) and line.startswith("          "):
                note.append(line.strip())
                continue
            note = None
        cols = re.split(r"\s{2,}", line.strip())
        if len(cols) >= 3 and cols[0] in NCU_METRICS and not any(cols[0] == r[0] for r in cur[1]):
            cur[1].append((cols[0], cols[1], cols[-1]))
    return [(name, rows, [" ".join(n) for n in notes]) for name, rows, notes in kernels]


def ncu_logs(log, logs, out):
    """The check's ncu logs that exist, as (name, what, text) for each (name, what) of `logs`; one whose run
    could not read the performance counters adds that to `out` instead."""
    for name, what in logs:
        path = os.path.join(log, name + ".log")
        if not os.path.exists(path):
            continue
        text = open(path, errors="replace").read()
        if "ERR_NVGPUCTRPERM" in text:
            out.append(f"{what}: ncu could not read the performance counters on this machine (ERR_NVGPUCTRPERM); owed.")
            continue
        yield name, what, text


def first_said(text):
    """What a log says first, beside ncu's own ==PROF== lines, for a log that lacks what was looked for."""
    lines = [l.strip().lstrip("= ") for l in text.splitlines() if l.strip() and not l.startswith("==PROF==")]
    return f" ({lines[0][:200]})" if lines else ""


def ncu_section(log):
    """One single-model step's time loops under Nsight Compute (the check's ncu_fused.log, ncu_split.log and
    ncu_mma.log): per kernel the metrics that say what bounds it, and ncu's own notes (stalls, occupancy)."""
    out = []
    logs = (("ncu_fused", "the one-block kernels"), ("ncu_split", "the split kernels (version 4)"),
            ("ncu_mma", "the tensor-core kernels (Format 0 is TF32, 1 BF16)"))
    for name, what, text in ncu_logs(log, logs, out):
        kernels = ncu_kernels(text)
        if not kernels:
            out.append(f"{what}: no kernel in {name}.log{first_said(text)}.")
            continue
        for kname, rows, notes in kernels:
            out += [f"{what}: `{kname}`", "", table(["metric", "unit", "value"], rows) if rows else "No metric rows.", ""]
            out += [f"- {n[:600]}" for n in notes]
            out.append("")
    if not out:
        return "Not in this run (no ncu_fused.log, ncu_split.log or ncu_mma.log)."
    return ("One training step of H = 32, L = 1, T = 100, B = 32 (`gpu_bench_fused --shape 32,1,100,32`), its first "
            "forward and backward time-loop launch under `ncu` (the tensor-core ones at TF32 and at BF16; speed of "
            "light, warp states, scheduler, occupancy, launch).\n\n" + "\n".join(out).rstrip())


def source_stalls(text, top=12):
    """The instructions with the most stall samples on ncu's source page (--page source --print-source sass
    --csv): [(address, sass, samples, share)] and the total, or None where no such table is in the text."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith('"') or "Source" not in line or "Stall Sampling" not in line:
            continue
        header = next(csv.reader([line]))
        col = next((c for c in header if "Stall Sampling (All" in c), None) or next(c for c in header if "Stall Sampling" in c)
        rows = []
        for row in csv.reader(lines[i + 1:]):
            if len(row) != len(header):
                break
            rows.append(dict(zip(header, row)))
        # ins: one instruction's row of ncu's table (not a benchmark CSV's row, which the tables call r)
        def samples(ins):
            try:
                return float(ins[col].replace(",", ""))
            except ValueError:
                return 0.0
        total = sum(samples(ins) for ins in rows)
        ranked = sorted(rows, key=samples, reverse=True)[:top]
        # The address and source columns by what their names hold ("Address" or "# Address", "Source").
        addr = next((c for c in header if "Address" in c), None)
        src = next((c for c in header if c.strip("# ") == "Source"), None) or next(c for c in header if "Source" in c)
        return [(ins.get(addr, "?") if addr else "?", ins.get(src, "?"), samples(ins),
                 samples(ins) / total if total else 0.0) for ins in ranked], total
    return None


def source_section(log):
    """ncu's per-instruction stall samples of one forward launch (ncu_source_fused.log, ncu_source_mma.log)."""
    out = []
    logs = (("ncu_source_fused", "the one-block fp32 forward"), ("ncu_source_mma", "the tensor-core forward (TF32)"))
    for name, what, text in ncu_logs(log, logs, out):
        found = source_stalls(text)
        if found is None:
            out.append(f"{what}: no per-instruction table in {name}.log{first_said(text)}.")
            continue
        rows, total = found
        out += [f"{what}: the {len(rows)} instructions with the most stall samples, of {total:.0f}", "",
                table(["address", "SASS", "samples", "share"],
                      [(a, "`" + src.replace("|", "\\|") + "`", f"{n:.0f}", f"{100 * sh:.1f}%") for a, src, n, sh in rows]), ""]
    sass = os.path.join(log, "sass.log")
    if os.path.exists(sass):
        n = sum(1 for line in open(sass, errors="replace") if "Function : " in line)
        out.append(f"The time loops' SASS: {n} functions in sass.log (in the archive).")
    return "\n".join(out).rstrip() if out else "Not in this run (no ncu_source_*.log or sass.log)."


def end_to_end_section(log, cpu_seconds):
    path = os.path.join(log, "nab_grid_fused", "summary.json")
    if not os.path.exists(path):
        return "Not in this run (nab_grid_fused/summary.json is missing)."
    s = json.load(open(path))
    wall = float(s.get("wall_seconds", float("nan")))
    lines = [f"`lstmad run configs/nab_grid.json` on the fused engine: {s.get('ok', '?')} of {s.get('cells', '?')} "
             f"cells OK ({s.get('failed', '?')} failed), **{wall:.1f} s wall**; the CPU engine's run of the same config "
             f"took {cpu_seconds:.0f} s on the 2-core development machine (docs/performance.md), "
             f"{cpu_seconds / wall:.1f}x the fused engine's time."]
    for det, sc in sorted(s.get("nab_scores", {}).items()):
        lines.append(f"- {det}: NAB standard {sc.get('standard', float('nan')):.2f}, low FP "
                     f"{sc.get('reward_low_FP_rate', float('nan')):.2f}, low FN {sc.get('reward_low_FN_rate', float('nan')):.2f}")
    # benchmarks/detect_check.py: the saved models of a few cells scored again, one model at a time.
    detect = os.path.join(log, "detect_fused.log")
    if os.path.exists(detect):
        found = [l.strip() for l in open(detect) if l.startswith(("detect reproduces", "DIFFERS", "FAILED"))]
        lines += ["", "`lstmad detect` from the saved models (benchmarks/detect_check.py):"]
        lines += [f"- {l}" for l in found] or ["- no result line in detect_fused.log"]
    return "\n".join(lines)


def warnings_section(log, limit=30):
    """Every distinct "[warn]" line of the step logs, with how often and where: the fallbacks (a cuDNN
    algorithm refused, a CUDA graph capture that failed, a cluster the device cannot place) show here."""
    seen = {}
    for path in sorted(glob.glob(os.path.join(log, "*.log"))):
        with open(path, errors="replace") as f:
            for line in f:
                i = line.find("[warn] ")
                if i < 0:
                    continue
                msg = line[i + 7:].strip()
                key = (os.path.basename(path), msg)
                seen[key] = seen.get(key, 0) + 1
    if not seen:
        return "No warning in the step logs."
    rows = [(name, count, (msg[:200] + " ...") if len(msg) > 200 else msg)
            for (name, msg), count in sorted(seen.items(), key=lambda kv: (kv[0][0], -kv[1]))]
    text = table(["log", "times", "warning"], [(n, c, m.replace("|", "\\|")) for n, c, m in rows[:limit]])
    if len(rows) > limit:
        text += f"\n\n{len(rows) - limit} more distinct warnings in the logs."
    return text


AUTOTUNE = re.compile(r"fused engine: time loops for (\d+ model\(s\)|one model) of (.*?), T=(\d+), B=(\d+) \(([\w, ]+)\), "
                      r"per step: (.*): (.*?) \(the same bits either way\)")


def autotune_section(log):
    """The autotuning of the multi-model batches (MultiModelBlock::begin_autotune) and of one model's step
    (FusedLstm::begin_autotune, gpu_bench_fused's engine columns), from the lines they log: for each batch (or
    forecasting pass) timed, its choices of time loops (the default first) with their median step, which it
    ran, and that one's time over the default's. N reads "one model" for the single-model path."""
    rows = []
    for path in sorted(glob.glob(os.path.join(log, "*.log"))):
        with open(path, errors="replace") as f:
            for line in f:
                m = AUTOTUNE.search(line)
                if not m:
                    continue
                timed = {}
                for part in m.group(6).split(", "):
                    name, ms, _unit = part.rsplit(" ", 2)
                    timed[name] = float(ms)
                default = next(iter(timed))
                ran = m.group(7)
                n = m.group(1).split(" ")[0]
                rows.append((os.path.basename(path), n, m.group(2), m.group(3), m.group(4), m.group(5),
                             ", ".join(f"{n} {fmt(v)}" for n, v in timed.items()), ran,
                             fmt(ratio(timed.get(ran, float("nan")), timed[default]), 2)))
    if not rows:
        return "No batch timed its time loops in these logs."
    return table(["log", "N", "shape", "T", "B", "precision", "ms per step (the default first)", "ran",
                  "ran / default"], rows)


def md_tables(text):
    """The first table under each "## " heading of a markdown file this script wrote: {title: [row dicts]}."""
    out, title, state, header = {}, None, None, None  # state: None before the section's table, "in", "done"
    for line in text.splitlines():
        if line.startswith("## "):
            title, state, header = line[3:].strip(), None, None
            continue
        if title is None or state == "done":
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if state is None:
                header, state = cells, "in"
                out[title] = []
            elif not all(set(c) <= set("-:") for c in cells):
                out[title].append(dict(zip(header, cells)))
        elif state == "in":
            state = "done"
    return out


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return float("nan") if n == 0 else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def previous_section(log, previous_md):
    """This run against an earlier docs/gpu-results.md: per shape, each path's time now / then (below 1:
    faster now). The fp32 paths are matched by name (one-block, cluster, wavefront), whatever the engine's
    default was in either run; the cuDNN columns, whose code did not change, show how far the two machines
    and runs differ by themselves."""
    text = open(previous_md, errors="replace").read()
    m = re.search(r"at commit (\w+)|commit (\w+)", text)
    then = md_tables(text)
    out = [f"Against `{os.path.basename(previous_md)}` (commit {(m.group(1) or m.group(2)) if m else '?'}): "
           "time now / time then, per shape; below 1 is faster now. The cuDNN columns measure the difference "
           "between the two runs themselves (the same library calls)."]
    rows_now = read_csv(os.path.join(log, "gpu_bench_fused.csv"))
    fused_then = then.get("Fused kernels per training step", [])
    if rows_now and fused_then:
        prev = {}
        for r in fused_then:
            key = (r.get("H"), r.get("L"), r.get("T"), r.get("B"))
            path = r.get("fp32 path", "-")
            d = prev.setdefault(key, {})
            f = num(r.get("fused fp32 ms"))
            if path == "-" or path.startswith("one-block"):
                d["one-block"] = f
            else:
                d[path.split()[0]] = f
                d["one-block"] = num(r.get("one-block ms"))
            for col, name in (("fused tf32", "tf32"), ("fused bf16", "bf16"), ("cuDNN FMA", "cudnn fma"),
                              ("cuDNN TF32", "cudnn tf32")):
                d[name] = num(r.get(col))
        for r in then.get("The fp32 cluster and wavefront paths (opt-in in this run)", []):
            prev.setdefault((r.get("H"), r.get("L"), r.get("T"), r.get("B")), {})[r.get("path")] = num(r.get("ms"))
        cols = ("one-block", "cluster", "wavefront", "tf32", "bf16", "cudnn fma", "cudnn tf32")
        rows, ratios = [], {c: [] for c in cols}
        for r in rows_now:
            key = (r["H"], r["L"], r["T"], r["B"])
            if key not in prev:
                continue
            path = r.get("fused_path") or "-"
            now = {"one-block": num(r["fused_ms"]) if path.startswith("one-block") else num(r.get("one_block_ms")),
                   "cluster": num(r.get("cluster_ms")), "wavefront": num(r.get("wavefront_ms")),
                   "tf32": num(r["fused_tf32_ms"]), "bf16": num(r["fused_bf16_ms"]),
                   "cudnn fma": num(r["cudnn_fma_ms"]), "cudnn tf32": num(r["cudnn_tf32_ms"])}
            cells = []
            for c in cols:
                q = ratio(now[c], prev[key].get(c, float("nan")))
                if not math.isnan(q):
                    ratios[c].append(q)
                cells.append(fmt(q, 2))
            rows.append(key + tuple(cells))
        names = ["one-block fp32", "cluster fp32", "wavefront fp32", "fused tf32", "fused bf16", "cuDNN FMA", "cuDNN TF32"]
        summary = [f"{n}: median {fmt(median(ratios[c]), 2)} (range {fmt(min(ratios[c]), 2)}-{fmt(max(ratios[c]), 2)}, "
                   f"{len(ratios[c])} shapes)" for n, c in zip(names, cols) if ratios[c]]
        out += ["", "One training step per shape (gpu_bench_fused):", "", table(["H", "L", "T", "B"] + names, rows)]
        out += [""] + [f"- {x}" for x in summary]
    rows_now = read_csv(os.path.join(log, "gpu_bench_multi.csv"))
    multi_then = {(r.get("N"), r.get("L")): r for r in then.get("Many models per launch: one training step of all N models", [])}
    if rows_now and multi_then:
        rows = []
        for r in rows_now:
            p = multi_then.get((r["N"], r["L"]))
            if p is None:
                continue
            rows.append((r["N"], r["L"], fmt(ratio(num(r["fused_ms"]), num(p.get("fused ms"))), 2),
                         fmt(ratio(num(r["fused_tf32_ms"]), num(p.get("tf32 ms"))), 2),
                         fmt(ratio(num(r["fused_bf16_ms"]), num(p.get("bf16 ms"))), 2),
                         fmt(ratio(num(r["cudnn_loop_ms"]), num(p.get("cuDNN loop ms"))), 2)))
        out += ["", "One training step of N models (gpu_bench_multi):", "",
                table(["N", "L", "fused fp32", "fused tf32", "fused bf16", "cuDNN loop"], rows)]
    if len(out) == 1:
        out.append("No table of this run matches one of the earlier file's.")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="the gpu_check.sh log folder ($OUT, or build-gpu/gpu-check)")
    ap.add_argument("--command", default="benchmarks/gpu_check.sh", help="the command that made the folder")
    ap.add_argument("--cpu-seconds", type=float, default=565.0,
                    help="the CPU engine's wall time for configs/nab_grid.json (docs/performance.md)")
    ap.add_argument("--previous", help="an earlier docs/gpu-results.md (git show HEAD:docs/gpu-results.md > FILE): "
                    "adds each path's time now against then")
    a = ap.parse_args()
    if os.path.isfile(a.log) and tarfile.is_tarfile(a.log):
        unpacked = tempfile.mkdtemp(prefix="gpu-check-")
        with tarfile.open(a.log) as t:
            for member in t.getmembers():  # the check's own archive: plain files and folders only
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name:
                    print(f"gpu-results: {a.log}: unexpected member {member.name}", file=sys.stderr)
                    return 2
            try:
                t.extractall(unpacked, filter="data")
            except TypeError:  # a Python without extraction filters; the members were checked above
                t.extractall(unpacked)
        a.log = unpacked
    if not os.path.isdir(a.log):
        print(f"gpu-results: {a.log} is neither a folder nor a gpu_check archive", file=sys.stderr)
        return 2
    env = environment(a.log)
    out = ["# GPU results", "",
           f"From `{a.command}` on {env['gpu']} (driver {env['driver']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, "
           f"Linux kernel {env['kernel']}), "
           f"{env['date']}, commit {env['commit']}. Written by `scripts/gpu-results.py` from the check's log folder; "
           "times are medians (docs/gpu.md).", ""]
    st, total = steps(a.log)
    out += ["## Steps", ""]
    if st is None:
        out.append("No summary.log in the folder.")
    else:
        out.append(table(["step", "status", "time"], st))
        if total:
            out += ["", f"Total: {total}."]
    out += ["", "## GPU tests (LSTMAD_STRICT_GPU=1)", ""]
    tests = gtest_results(a.log)
    out.append(table(["executable", "tests", "passed", "failed", "skipped", "failures"], tests) if tests else "No test XML in the folder.")
    out += ["", "## compute-sanitizer", ""]
    san = sanitizer_results(a.log)
    out.append(table(["run", "result"], san) if san else "No sanitizer logs in the folder.")
    spills = os.path.join(a.log, "ptxas-spills.log")
    out += ["", "## ptxas", ""]
    if os.path.exists(spills) and os.path.getsize(spills) > 0:
        out.append(f"Spills reported: {sum(1 for _ in open(spills))} line(s) in ptxas-spills.log.")
    elif os.path.exists(os.path.join(a.log, "build.log")):
        out.append("No kernel reports a spill (ptxas -v in build.log).")
    else:
        out.append("No build log in the folder.")
    out += ["", "## cuDNN per training step, and PyTorch on the same shapes", "", cudnn_section(a.log)]
    fused, fused_miss = fused_section(a.log)
    out += ["", "## Fused kernels per training step", "", fused]
    candidates = candidates_section(a.log)
    if candidates:
        out += ["", "### The alternatives beside the defaults", "",
                "Time of each alternative over the default's, shape by shape, summarised by H (below 1: the "
                "alternative was faster).", "", candidates]
    optin = optin_section(a.log)
    if optin:
        out += ["", "## The fp32 cluster and wavefront paths (opt-in in this run)", "",
                "fused fp32 above is the one-block step; these are the same shapes on the other paths.", "", optin]
    multi, multi_miss = multi_section(a.log)
    out += ["", "## Many models per launch: one training step of all N models", "", multi]
    out += ["", "### The time loops each batch picked (autotuning)", "",
            "Three eager steps of each choice that gives the same bits, medians; the fastest runs unless within "
            "2% of the default (docs/kernels.md, training v2.9; for one model, N \"one\", version 1.6: "
            "gpu_bench_fused's engine columns).", "", autotune_section(a.log)]
    out += ["", "## Where a multi-model step's time goes", "", phases_section(a.log)]
    out += ["", "## Forecasting (the scoring pass) of N models", "", forecast_section(a.log)]
    out += ["", "## End to end: configs/nab_grid.json", "", end_to_end_section(a.log, a.cpu_seconds)]
    if a.previous:
        out += ["", "## Against the previous run", "", previous_section(a.log, a.previous)]
    out += ["", "## Where a single-model step's time goes", "", single_phases_section(a.log)]
    out += ["", "## One step taken apart", "", anatomy_section(a.log)]
    out += ["", "## A single-model step's time loops under Nsight Compute", "", ncu_section(a.log)]
    out += ["", "### Where one forward launch stalls, instruction by instruction", "", source_section(a.log)]
    out += ["", "## Warnings in the logs", "", warnings_section(a.log)]
    misses = fused_miss + multi_miss
    out += ["", "## Targets missed", ""]
    out += [f"- {m}" for m in misses] if misses else ["None among the rows measured."]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
