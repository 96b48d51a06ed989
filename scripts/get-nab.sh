#!/usr/bin/env bash
# Fetches the Numenta Anomaly Benchmark (data, labels, profiles, official results) for users with network
# access, into ./nab (or the folder given). Then: make run CONFIG=configs/nab.json ARGS="--set data.root=nab"
set -euo pipefail
dest=${1:-nab}
if [ -d "$dest/data" ] && [ -d "$dest/labels" ]; then
  echo "NAB already present in $dest"
  exit 0
fi
command -v git >/dev/null || { echo "git is needed: apt-get install -y git" >&2; exit 1; }
git clone --depth 1 https://github.com/numenta/NAB.git "$dest"
echo "NAB is in $dest; run: make run CONFIG=configs/nab.json ARGS=\"--set data.root=$dest\""
