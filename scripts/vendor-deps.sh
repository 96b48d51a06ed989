#!/usr/bin/env bash
# Copies the header-only dependencies and the GoogleTest sources from the Debian packages into .deps/
# (git-ignored), or into the folder given, for building on a machine that cannot install packages (the GPU
# machine), and the NAB corpus when present (NAB_ROOT, else ../shared/nab):
#   scripts/vendor-deps.sh [DEST]     then   cmake -DLSTMAD_DEPS_DIR=$PWD/.deps ...   (cmake --preset gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.deps}
rm -rf "$dest" && mkdir -p "$dest/include"
cp -r /usr/include/nlohmann "$dest/include/"
cp -r /usr/include/CLI "$dest/include/"
mkdir -p "$dest/include/eigen3" && cp -r /usr/include/eigen3/Eigen "$dest/include/eigen3/"
cp -r /usr/src/googletest "$dest/googletest"
# The NAB corpus (data and labels, about 10 MB) when it is beside the checkout, for gpu_check.sh's
# end-to-end run of configs/nab_grid.json; it stays git-ignored, inside .deps.
nab=${NAB_ROOT:-../shared/nab}
if [ -d "$nab/data" ] && [ -d "$nab/labels" ]; then
  mkdir -p "$dest/nab" && cp -r "$nab/data" "$nab/labels" "$dest/nab/"
fi
du -sh "$dest"
