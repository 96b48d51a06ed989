#!/usr/bin/env python3
"""The compiler's resource report of every lstmad kernel, from the real sm_90 compile (no GPU needed).

    test_kernel_resources.py OBJECT_DIR SOURCE_DIR

OBJECT_DIR holds lstmad_kernels' objects, each with OBJECT.ptxas beside it (ptxas -v of that very compile,
kept by cmake/ptxas-report.sh). For every kernel the report names, and for each architecture it was built
for, this checks:
  - no spill stores or loads and a 0-byte stack frame: the kernels keep their working set in registers and
    shared memory (docs/kernels.md), and local memory in a time loop would cost a round trip per step;
  - a kernel without __launch_bounds__ uses at most 64 registers, so any block of up to 1024 threads
    launches (65536 registers per SM); a bounded one is held by ptxas to what its bound allows, so its
    launches are checked against the bound instead, by the kernels' plans;
  - every __global__ function defined in kernels/*.cu appears in its object's report, so a missing or
    stale report cannot pass by naming nothing.
It prints the table (registers, barriers, static shared memory) that docs/kernels.md quotes.
"""
import glob
import os
import re
import subprocess
import sys

MAX_UNBOUNDED_REGISTERS = 65536 // 1024

ENTRY = re.compile(r"^ptxas info\s*: Compiling entry function '([^']+)' for '(sm_\w+)'")
PROPS = re.compile(r"^ptxas info\s*: Function properties for (\S+)")
FRAME = re.compile(r"^\s*(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"^ptxas info\s*: Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?")
KERNEL_DEF = re.compile(r"__global__\s+void\s+(__launch_bounds__\s*\((?:[^()]|\([^()]*\))*\)\s*)?(\w+)\s*\(")


def source_of(report):
    """kernels/x.cu for its report OBJECT_DIR/x.cu.o.ptxas."""
    return os.path.basename(report)[: -len(".o.ptxas")]


def parse_report(path):
    """Entries of one report, in order: dicts with mangled, arch, stack, spill_st, spill_ld, regs, ..."""
    entries, props, current = [], {}, None
    pending = None  # the function whose "Function properties" line came last
    with open(path) as f:
        for line in f:
            m = ENTRY.match(line)
            if m:
                current = {"mangled": m.group(1), "arch": m.group(2), "source": source_of(path)}
                entries.append(current)
                continue
            m = PROPS.match(line)
            if m:
                pending = m.group(1)
                continue
            m = FRAME.match(line)
            if m and pending is not None:
                props[pending] = tuple(int(v) for v in m.groups())
                pending = None
                continue
            m = USED.match(line)
            if m and current is not None:
                current["regs"] = int(m.group(1))
                current["barriers"] = int(m.group(2) or 0)
                current["smem"] = int(m.group(3) or 0)
    for e in entries:
        e["stack"], e["spill_st"], e["spill_ld"] = props.get(e["mangled"], (None, None, None))
    return entries


def demangle(names):
    if not names:
        return []
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def strip_templates(s):
    """Drops every <...> (balanced: template arguments may hold casts and nested templates)."""
    out, depth = [], 0
    for ch in s:
        if ch == "<":
            depth += 1
        elif ch == ">" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def base_name(demangled):
    """'void lstmad::kernels::(anonymous namespace)::foo<(mma::Format)0, 16>(int, ...)' -> 'foo'."""
    s = strip_templates(demangled.replace("(anonymous namespace)", "anon"))
    return s.split("(", 1)[0].split("::")[-1].split()[-1]


def short_name(demangled):
    """The kernel with its template arguments, without namespaces, return type and parameters."""
    s = demangled.replace("(anonymous namespace)::", "").replace("lstmad::kernels::", "")
    s = re.sub(r"^void ", "", s)
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "(" and depth == 0:
            return s[:i]
    return s


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    obj_dir, src_dir = sys.argv[1], sys.argv[2]
    failures = []
    reports = sorted(glob.glob(os.path.join(obj_dir, "*.cu.o.ptxas")))
    sources = sorted(glob.glob(os.path.join(src_dir, "kernels", "*.cu")))
    if not sources:
        print(f"no kernels/*.cu under {src_dir}")
        return 1
    by_file = {}
    for r in reports:
        by_file[source_of(r)] = parse_report(r)
    entries = [e for es in by_file.values() for e in es]
    for e, d in zip(entries, demangle([e["mangled"] for e in entries])):
        e["demangled"] = d
        e["base"] = base_name(d)

    # Every kernel of the sources, with whether it declares __launch_bounds__.
    bounded = {}
    for src in sources:
        name = os.path.basename(src)
        text = open(src).read()
        defined = [(m.group(2), m.group(1) is not None) for m in KERNEL_DEF.finditer(text)]
        if name not in by_file:
            failures.append(f"{name}: no resource report ({name}.o.ptxas) in {obj_dir}")
            continue
        compiled = {e["base"] for e in by_file[name]}
        for kernel, has_bounds in defined:
            bounded[(name, kernel)] = has_bounds
            if kernel not in compiled:
                failures.append(f"{name}: kernel {kernel} is not in the resource report")

    print(f"{'file':<22} {'kernel':<58} {'arch':<6} {'regs':>4} {'bar':>3} {'smem':>6} {'stack':>5} "
          f"{'spill':>9} bounds")
    ours = 0
    for e in entries:
        if "lstmad::" not in e["demangled"]:
            continue  # a library's kernel (CUB): not ours to hold to these rules
        ours += 1
        source = e["source"]
        has_bounds = bounded.get((source, e["base"]), False)
        print(f"{source:<22} {short_name(e['demangled'])[:58]:<58} {e['arch']:<6} "
              f"{e.get('regs', -1):>4} {e.get('barriers', 0):>3} {e.get('smem', 0):>6} "
              f"{e['stack'] if e['stack'] is not None else '?':>5} "
              f"{e['spill_st'] if e['spill_st'] is not None else '?':>4}/{e['spill_ld'] if e['spill_ld'] is not None else '?':<4} "
              f"{'yes' if has_bounds else 'no'}")
        where = f"{source}: {short_name(e['demangled'])} ({e['arch']})"
        if e["stack"] is None or "regs" not in e:
            failures.append(f"{where}: incomplete report entry")
            continue
        if e["spill_st"] or e["spill_ld"]:
            failures.append(f"{where}: spills {e['spill_st']} bytes stored, {e['spill_ld']} loaded")
        if e["stack"]:
            failures.append(f"{where}: {e['stack']}-byte stack frame (local memory)")
        if not has_bounds and e["regs"] > MAX_UNBOUNDED_REGISTERS:
            failures.append(f"{where}: {e['regs']} registers without __launch_bounds__: a block of 1024 threads "
                            f"would not launch; declare the block size it is launched with")
    print(f"{ours} lstmad kernel entries in {len(reports)} reports")
    if ours == 0:
        failures.append("no lstmad kernel in any report")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
