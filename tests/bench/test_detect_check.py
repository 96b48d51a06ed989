#!/usr/bin/env python3
"""benchmarks/detect_check.py (the H200 check's detect stage) on a small CPU run with saved models: it
passes on the run as made, and fails, naming the line, once a score in the run's NAB-format file is
changed."""
import os
import subprocess
import sys
import tempfile

src, lstmad = sys.argv[1], sys.argv[2]
script = os.path.join(src, "benchmarks", "detect_check.py")
with tempfile.TemporaryDirectory() as tmp:
    run = os.path.join(tmp, "run")
    subprocess.run([lstmad, "-q", "run", os.path.join(src, "configs", "quickstart.json"), "--no-progress",
                    "--set", "data.synthetic.length=1000", "--set", "data.max_files=2", "--set", "model.hidden=4",
                    "--set", "train.epochs=1", "--set", "run.save_models=true", "--out", run], check=True)
    ok = subprocess.run([sys.executable, script, lstmad, run, "--cells", "2"], capture_output=True, text=True)
    print(ok.stdout, ok.stderr)
    assert ok.returncode == 0, "detect_check.py failed on an untouched run"
    assert ok.stdout.count("rows bit-identical") == 2, ok.stdout

    # Change one score of the first OK cell's file: the check must fail and say where.
    first = subprocess.run([sys.executable, script, lstmad, run], capture_output=True, text=True).stdout
    detector, series = first.split()[2], first.split()[3].rstrip(":")
    category, name = series.split("/", 1)
    path = os.path.join(run, "nab", detector, category, f"{detector}_{name}")
    lines = open(path).read().splitlines()
    fields = lines[500].split(",")
    fields[2] = "0.123456"
    lines[500] = ",".join(fields)
    open(path, "w").write("\n".join(lines) + "\n")
    bad = subprocess.run([sys.executable, script, lstmad, run], capture_output=True, text=True)
    print(bad.stdout, bad.stderr)
    assert bad.returncode == 1, "a changed score went unnoticed"
    assert "DIFFERS" in bad.stdout and "first at line 501" in bad.stdout, bad.stdout
print("detect_check.py: passes on the run, fails on a changed score")
