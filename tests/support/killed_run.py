"""A benchmark killed in the middle, as gpu_check.sh cuts a stage at its deadline: what its CSV keeps.

Shared by tests/emulation/test_gpu_bench_smoke.py and tests/bench/test_torch_compare.py.
"""
import csv
import os
import subprocess
import time


def rows_kept_after_kill(name, cmd, path, time_column, total_rows):
    """Runs `cmd`, which writes `total_rows` rows to the CSV `path`, and kills it once the CSV holds a whole
    data row. Returns None when it kept fewer rows than the whole run writes, each whole (a positive
    `time_column`), else a failure message that names `name`. A run whose rows all appear at once (or
    none before it ends) writes them only at the end: a stage cut at its deadline would lose them all."""
    if os.path.exists(path):
        os.remove(path)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = 0
    while proc.poll() is None and seen < 1:
        time.sleep(0.005)
        if os.path.exists(path):
            with open(path) as fh:
                seen = sum(1 for line in fh if line.endswith("\n")) - 1
    proc.kill()
    proc.wait()
    if seen < 1:
        return f"{name} wrote no CSV row before it finished: a stage cut at its deadline would lose every row"
    with open(path) as fh:
        kept = list(csv.DictReader(fh))
    if len(kept) >= total_rows:
        return f"all {len(kept)} rows of {name} appeared at once: it writes its CSV only at the end"
    if not kept or any(float(r[time_column]) <= 0 for r in kept):
        return f"the CSV of the killed {name} is not whole rows: {kept}"
    return None
