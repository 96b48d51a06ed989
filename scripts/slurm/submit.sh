#!/usr/bin/env bash
# Submits an experiment as a Slurm job array of SHARDS tasks and a merge job that runs after all of them
# succeed. Prints the two job ids.
#   SHARDS=8 scripts/slurm/submit.sh configs/nab_grid.json runs/nab-grid
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
config=$1
runs=$2
shift 2
shards=${SHARDS:-4}
mkdir -p "$runs"
array=$(sbatch --parsable --array=0-$((shards - 1)) --chdir="$PWD" "$here/lstmad-array.sbatch" "$config" "$runs" "$@")
merge=$(sbatch --parsable --dependency=afterok:"${array%%;*}" --chdir="$PWD" "$here/merge.sbatch" "$runs")
echo "array job $array, merge job $merge; merged run: $runs/merged"
