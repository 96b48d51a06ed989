#!/usr/bin/env bash
# Copies the header-only dependencies and the GoogleTest sources from the Debian packages into .deps/
# (git-ignored), for building on a machine that cannot install packages (the GPU machine):
#   cmake -DLSTMAD_DEPS_DIR=$PWD/.deps ...
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .deps && mkdir -p .deps/include
cp -r /usr/include/nlohmann .deps/include/
cp -r /usr/include/CLI .deps/include/
mkdir -p .deps/include/eigen3 && cp -r /usr/include/eigen3/Eigen .deps/include/eigen3/
cp -r /usr/src/googletest .deps/googletest
du -sh .deps
