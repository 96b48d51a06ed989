#!/usr/bin/env python3
"""The whole detector pipeline on a GPU engine (host emulation of CUDA) against the CPU engine.

Usage: test_gpu_end_to_end.py LSTMAD_BINARY SOURCE_DIR WORK_DIR ENGINE [DEVICES]

Runs configs/quickstart.json, shortened, twice with the same binary: engine cpu (fp32) and ENGINE (fp32):
"fused" (the multi-model path: every ModelBatch trained in one set of launches on the emulated device) or
"cudnn" (the cuDNN RNN calls, one model per stream, CUDA graphs). Both train the same models on the same
windows in the same order in fp32, so they may differ only by rounding: per cell the final train and
validation losses within 1e-4 relative and the same best epoch; every anomaly score in the NAB-format
result files within 1e-3; the NAB scores within 0.05.

With DEVICES > 1 the emulation shows that many devices (LSTMAD_EMU_DEVICES), and the GPU run takes at most
3 models per ModelBatch, so that its batches spread over one scheduler queue per device; the log must show
every queue with work, and the results must not change. The emulator fails any launch, cuBLAS or cuDNN
call that mixes one device's streams or memory with another's. A short run that asks for one device more
than there are must go ahead on those there are and warn.

ENGINE "cpu" makes only the CPU run, in WORK_DIR/e2e-cpu: ctest runs it once, as the fixture of the GPU
engines' runs, and names it to them in LSTMAD_E2E_CPU_REFERENCE. Without that variable (by hand) a GPU
engine's run makes its own CPU run first, so that it never compares with one left by an older build.
"""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

# Seven series of 2500 rows, three epochs: every kind of the synthetic corpus, trained and scored end to
# end, in under a minute per engine under the emulation's sanitizers. At 2000 rows the detector raised no
# alarm in the scored part (every NAB score 0), which would leave the scores' comparison empty; main()
# refuses such a reference.
SETTINGS = ["data.synthetic.length=2500", "data.synthetic.series_per_kind=1", "train.epochs=3",
            "train.retrain_every=0"]


def run(binary, source, out, engine, devices=1):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [binary, "run", os.path.join(source, "configs", "quickstart.json"), "--out", out, "-j", "2",
           "--set", f"engine.name={engine}"]
    for s in SETTINGS + (["run.batch_models=3"] if devices > 1 else []):
        cmd += ["--set", s]
    env = dict(os.environ, LSTMAD_EMU_DEVICES=str(devices))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def main():
    binary, source, work, engine = sys.argv[1:5]
    devices = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    tag = engine if devices == 1 else f"{engine}-{devices}-devices"
    gpu = os.path.join(work, "e2e-" + tag)
    if engine == "cpu":
        run(binary, source, gpu, "cpu")
        print(f"CPU reference run in {gpu}")
        return
    cpu = os.environ.get("LSTMAD_E2E_CPU_REFERENCE", "")
    if not cpu:
        cpu = os.path.join(work, "e2e-cpu-for-" + tag)
        run(binary, source, cpu, "cpu")
    elif not os.path.exists(os.path.join(cpu, "nab_scores.json")):
        sys.exit(f"LSTMAD_E2E_CPU_REFERENCE={cpu} holds no finished run (no nab_scores.json)")
    log = run(binary, source, gpu, engine, devices)
    failures = []
    if devices > 1:
        # More devices asked for than are visible: the run goes ahead on those there are and says so.
        short = os.path.join(work, "e2e-" + tag + "-too-many")
        shutil.rmtree(short, ignore_errors=True)
        cmd = [binary, "run", os.path.join(source, "configs", "quickstart.json"), "--out", short, "--set",
               f"engine.name={engine}", "--set", f"engine.devices={devices + 1}", "--set",
               "data.synthetic.length=500", "--set", "data.synthetic.series_per_kind=1", "--set", "train.epochs=1",
               "--set", "train.retrain_every=0", "--set", "model.hidden=4", "--set", "model.window=8"]
        done = subprocess.run(cmd, capture_output=True, text=True,
                              env=dict(os.environ, LSTMAD_EMU_DEVICES=str(devices)))
        want = f"engine.devices {devices + 1}: {devices} device(s) visible from engine.device 0 on"
        if done.returncode != 0 or want not in done.stdout + done.stderr:
            failures.append(f"{' '.join(cmd)}: exit {done.returncode}, expected the warning '{want}':\n"
                            f"{done.stdout}\n{done.stderr}")
        shutil.rmtree(short, ignore_errors=True)
        queues = re.findall(r"queue (\d+) on device (\d+): (\d+) ModelBatch", log)
        print("queues (queue, device, batches):", queues)
        used = {int(d) for _, d, n in queues if int(n) > 0}
        if used != set(range(devices)):
            failures.append(f"batches went to devices {sorted(used)}, not to each of {devices}:\n{log}")
        # The emulator's count of what each device's streams ran: every device must have run work.
        counts = re.search(r"work per device:((?: \d+=\d+)+)", log)
        print("emulator:", counts.group(0) if counts else "no work counts")
        ran = {int(d) for d, n in re.findall(r"(\d+)=(\d+)", counts.group(1)) if int(n) > 0} if counts else set()
        if ran != set(range(devices)):
            failures.append(f"the emulated devices that ran work are {sorted(ran)}, not each of {devices}")

    cells = sorted(os.listdir(os.path.join(cpu, "cells")))
    if not cells:
        failures.append("the CPU run wrote no cells")
    worst_loss = 0.0
    for name in cells:
        a = json.load(open(os.path.join(cpu, "cells", name)))
        b = json.load(open(os.path.join(gpu, "cells", name)))
        if a["status"].lower() != "ok" or b["status"].lower() != "ok":
            failures.append(f"cell {name}: status cpu {a['status']}, {engine} {b['status']} ({b.get('error')})")
            continue
        for key in ("train_loss", "val_loss"):
            rel = abs(a[key] - b[key]) / abs(a[key])
            worst_loss = max(worst_loss, rel)
            if rel > 1e-4:
                failures.append(f"cell {name}: {key} cpu {a[key]} {engine} {b[key]} (relative {rel:.2e})")
        if a["best_epoch"] != b["best_epoch"]:
            failures.append(f"cell {name}: best epoch cpu {a['best_epoch']} {engine} {b['best_epoch']}")

    worst_score, rows = 0.0, 0
    files = sorted(glob.glob(os.path.join(cpu, "nab", "*", "*", "*.csv")))
    if not files:
        failures.append("the CPU run wrote no NAB result files")
    for f in files:
        g = os.path.join(gpu, os.path.relpath(f, cpu))
        ra, rb = list(csv.DictReader(open(f))), list(csv.DictReader(open(g)))
        if len(ra) != len(rb):
            failures.append(f"{g}: {len(rb)} rows, the CPU run's file has {len(ra)}")
            continue
        for x, y in zip(ra, rb):
            worst_score = max(worst_score, abs(float(x["anomaly_score"]) - float(y["anomaly_score"])))
            rows += 1
    if worst_score > 1e-3:
        failures.append(f"anomaly scores differ by up to {worst_score:.3e}")

    sa = json.load(open(os.path.join(cpu, "nab_scores.json")))
    sb = json.load(open(os.path.join(gpu, "nab_scores.json")))
    print(f"{len(cells)} cells, {rows} scored rows: worst relative loss difference {worst_loss:.2e}, "
          f"worst anomaly score difference {worst_score:.2e}")
    print(f"NAB scores cpu {json.dumps(sa)}")
    print(f"NAB scores {engine} {json.dumps(sb)}")

    def numbers(x, path=""):
        if isinstance(x, dict):
            for k, v in x.items():
                yield from numbers(v, f"{path}.{k}")
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            yield path, float(x)

    na, nb = dict(numbers(sa)), dict(numbers(sb))
    if set(na) != set(nb) or not na:
        failures.append("the two runs' nab_scores.json differ in their fields")
    if not any(v != 0 for v in na.values()):
        failures.append("every NAB score of the CPU run is 0 (no alarm in the scored rows): the runs' scores "
                        "cannot be compared; lengthen the series")
    for k, v in na.items():
        if k in nb and abs(v - nb[k]) > 0.05:
            failures.append(f"NAB {k}: cpu {v} {engine} {nb[k]}")

    for f in failures:
        print("FAILED:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
