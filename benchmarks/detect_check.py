#!/usr/bin/env python3
"""Checks that `lstmad detect` reproduces a finished run's scores from its saved models.

    benchmarks/detect_check.py LSTMAD RUN_DIR [--cells N]

For the first N OK cells of RUN_DIR/results.csv (a run made with run.save_models true), runs
`LSTMAD detect RUN_DIR --detector D --series S` and compares its timestamp, value, anomaly_score and
raw_score columns with the run's NAB-format file, as text (the shortest round-trip form of each double,
so equal text is equal bits). On the fused engine the run forecast each model inside a ModelBatch of
hundreds and detect forecasts it alone: equality is the engine's "batching never changes a result" on
the device. Prints one line per cell; exits 1 on any difference or failure, 2 on bad usage.
"""
import csv
import os
import subprocess
import sys
import tempfile


def nab_file(run, detector, series):
    category, name = series.split("/", 1)
    return os.path.join(run, "nab", detector, category, f"{detector}_{name}")


def columns(path, n=4):
    with open(path, newline="") as f:
        return [row[:n] for row in csv.reader(f)]


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    lstmad, run = argv[1], argv[2]
    cells = int(argv[argv.index("--cells") + 1]) if "--cells" in argv else 1
    with open(os.path.join(run, "results.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "OK"][:cells]
    if not rows:
        print(f"{run}: no OK cell to check", file=sys.stderr)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in rows:
            det, series = r["detector"], r["series"]
            out = os.path.join(tmp, "detect.csv")
            p = subprocess.run([lstmad, "detect", run, "--detector", det, "--series", series, "--out", out],
                               capture_output=True, text=True)
            if p.returncode != 0:
                print(f"FAILED {det} {series}: detect exited {p.returncode}: {p.stderr.strip()}")
                failed += 1
                continue
            got, want = columns(out), columns(nab_file(run, det, series))
            diff = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
            if len(got) != len(want) or diff:
                where = f"first at line {diff[0] + 1}: {got[diff[0]]} vs {want[diff[0]]}" if diff else "row counts differ"
                print(f"DIFFERS {det} {series}: {len(diff)} of {len(want)} lines, {where}")
                failed += 1
            else:
                print(f"detect reproduces {det} {series}: {len(want) - 1} rows bit-identical ({p.stderr.strip()})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
