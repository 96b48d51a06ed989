#!/usr/bin/env bash
# The CUDA compiler launcher of lstmad_kernels (kernels/CMakeLists.txt):
#   ptxas-report.sh VERBOSE NVCC ARGS... -o OBJECT ...
# Runs the compile as given (it carries -Xptxas=-v) and keeps ptxas' resource report of every kernel
# (registers, stack frame, spills, shared memory) in OBJECT.ptxas, written with the object, so the report
# always describes the object that was linked. tests/bench/test_kernel_resources.py reads these files.
# The report reaches the build's output only when VERBOSE is ON (LSTMAD_PTXAS_VERBOSE); every other line
# the compiler prints (warnings, errors) always does.
verbose=$1
shift
object=
prev=
for arg in "$@"; do
  [ "$prev" = "-o" ] && object=$arg
  prev=$arg
done
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$@" 2>"$err"
rc=$?
report='^ptxas info|^ +[0-9]+ bytes stack frame'
case "$verbose" in
  ON | on | 1 | TRUE | true | YES | yes) cat "$err" >&2 ;;
  *) grep -Ev "$report" "$err" >&2 ;;
esac
if [ $rc -eq 0 ] && [ -n "$object" ]; then
  # Empty for a file without device code; the test checks that every kernel's entry is there.
  grep -E "$report" "$err" >"$object.ptxas.tmp"
  mv "$object.ptxas.tmp" "$object.ptxas"
fi
exit $rc
