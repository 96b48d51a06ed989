#!/usr/bin/env bash
# Installs the Debian 12 packages lstmad needs to build and test. As root it runs apt-get itself;
# otherwise it prints the exact command and fails. Extra package names can be passed as arguments.
set -euo pipefail
# Build and unit tests; then what the end-to-end tests drive: Chromium renders the HTML report, and a
# single-node Slurm cluster (munge, slurmctld, slurmd) runs a sharded experiment.
packages=(cmake ninja-build g++ make git python3 xz-utils ccache
          nlohmann-json3-dev libcli11-dev libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev
          clang libclang-rt-14-dev chromium munge slurmctld slurmd slurm-client "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "lstmad needs these Debian packages; run as root:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$line
