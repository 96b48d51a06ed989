#!/usr/bin/env bash
# Starts a single-node Slurm cluster (munge, slurmctld, slurmd; proctrack/linuxproc, task/none) in a
# temporary folder, submits a 4-task lstmad array and its dependent merge job through
# scripts/slurm/submit.sh, and checks that the merged run equals the unsharded run (every results.csv
# column but timings, and the NAB scores). Exit 77 (skip) with the reason when the daemons cannot start.
#   slurm_cluster_test.sh LSTMAD_BINARY SOURCE_DIR
set -uo pipefail
lstmad=$1
src=$2
skip() { echo "SKIP: $*"; exit 77; }
for cmd in slurmctld slurmd sbatch squeue munged; do
  command -v "$cmd" >/dev/null || skip "$cmd not installed (Debian packages slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root to run the Slurm daemons"

tmp=$(mktemp -d /tmp/lstmad-slurm.XXXXXX)
host=$(hostname -s)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# munge: a private key and socket, so a system munged (if any) is left alone.
mkdir -p "$tmp/munge/etc" "$tmp/munge/run" "$tmp/munge/log" "$tmp/munge/lib"
dd if=/dev/urandom of="$tmp/munge/etc/munge.key" bs=1024 count=1 2>/dev/null
chmod 700 "$tmp/munge"/*; chmod 400 "$tmp/munge/etc/munge.key"
sock="$tmp/munge/run/munge.socket"
munged --force --key-file="$tmp/munge/etc/munge.key" --socket="$sock" --pid-file="$tmp/munge/run/munged.pid" \
  --log-file="$tmp/munge/log/munged.log" --seed-file="$tmp/munge/lib/munged.seed" \
  || skip "munged does not start: $(tail -2 "$tmp/munge/log/munged.log" 2>/dev/null)"
pids+=("$(cat "$tmp/munge/run/munged.pid")")

mkdir -p "$tmp/state" "$tmp/spool" "$tmp/log"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=lstmadtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF" -i || skip "slurmctld does not start: $(tail -3 "$tmp/log/slurmctld.log" 2>/dev/null)"
sleep 1
pids+=("$(cat "$tmp/slurmctld.pid" 2>/dev/null)")
slurmd -f "$SLURM_CONF" || skip "slurmd does not start: $(tail -3 "$tmp/log/slurmd.log" 2>/dev/null)"
sleep 1
pids+=("$(cat "$tmp/slurmd.pid" 2>/dev/null)")
ready=0
for _ in $(seq 1 30); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed'; then ready=1; break; fi
  sleep 1
done
[ "$ready" -eq 1 ] || skip "the Slurm node never became idle: $(sinfo 2>&1 | tail -2); $(tail -3 "$tmp/log/slurmd.log")"

cat > "$tmp/cfg.json" <<'JSON'
{"run": {"name": "slurm", "seed": 3},
 "data": {"format": "synthetic", "synthetic": {"seed": 2, "series_per_kind": 1, "length": 600}},
 "model": {"layers": 1, "hidden": [4, 8], "window": 10},
 "train": {"epochs": 2, "batch": 16},
 "detector": {"likelihood": {"long_window": 200, "short_window": 4}}}
JSON
"$lstmad" -q run "$tmp/cfg.json" --out "$tmp/unsharded" --no-progress >/dev/null || { echo "FAIL: unsharded run"; exit 1; }
cd "$tmp"
out=$(LSTMAD="$lstmad" SHARDS=4 "$src/scripts/slurm/submit.sh" "$tmp/cfg.json" "$tmp/runs" 2>&1) \
  || { echo "FAIL: submit: $out"; exit 1; }
echo "$out"
for _ in $(seq 1 300); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 1
done
[ -f "$tmp/runs/merged/results.csv" ] || { echo "FAIL: no merged run"; cat "$tmp"/lstmad-*.out 2>/dev/null | tail -20; exit 1; }
strip() { python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
keep = [i for i, h in enumerate(rows[0]) if not h.startswith("seconds_")]
for r in rows: print(",".join(r[i] for i in keep))
PY
}
if [ "$(strip "$tmp/runs/merged/results.csv")" != "$(strip "$tmp/unsharded/results.csv")" ]; then
  echo "FAIL: merged results differ from the unsharded run"; diff <(strip "$tmp/runs/merged/results.csv") <(strip "$tmp/unsharded/results.csv") | head; exit 1
fi
cmp -s "$tmp/runs/merged/nab_scores.json" "$tmp/unsharded/nab_scores.json" || { echo "FAIL: NAB scores differ"; exit 1; }
n=$(ls -d "$tmp"/runs/shard-* | wc -l)
[ "$n" -eq 4 ] || { echo "FAIL: expected 4 shard folders, found $n"; exit 1; }
echo "PASS: 4-task Slurm array + merge equals the unsharded run"
