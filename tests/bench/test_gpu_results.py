#!/usr/bin/env python3
"""scripts/gpu-results.py on a made-up gpu_check.sh log folder (no GPU needed): the environment and every
table come from the files, the ratios and the issues' targets are computed from the figures (a shape
that misses a target is listed), and a folder without the files says so part by part.

Usage: test_gpu_results.py SOURCE_DIR. Exit 0 when every check holds.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

src = pathlib.Path(sys.argv[1])
script = src / "scripts" / "gpu-results.py"
failed = []


def check(cond, what):
    if not cond:
        failed.append(what)


def run(folder, *extra):
    r = subprocess.run([sys.executable, str(script), str(folder), *extra], capture_output=True, text=True)
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    return r.stdout


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


with tempfile.TemporaryDirectory() as tmp:
    log = pathlib.Path(tmp) / "check"
    write(log, "environment.log",
          "date: 2026-12-01T10:00:00Z\ncommit: 0123456789ab\nhost: h200, kernel 6.18.44-fc-v236-gpu (4.4.0: gVisor)\n"
          "| NVIDIA-SMI 580.65.06    Driver Version: 580.65.06      CUDA Version: 13.0     |\n"
          "|   0  NVIDIA H200                    On  |   00000000:19:00.0 Off |                    0 |\n"
          "Cuda compilation tools, release 13.0, V13.0.88\n"
          "#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 19\n#define CUDNN_PATCHLEVEL 0\n")
    write(log, "summary.log", "prebuilt                     SKIPPED(the tree has changes)\n"
                              "build                        ok                 201s\n"
                              "test_fused_multi             FAILED(rc=1)        40s\ntotal 533s\n")
    write(log, "test_fused_multi.xml",
          '<?xml version="1.0"?><testsuites tests="3"><testsuite name="FusedMulti">'
          '<testcase name="A" classname="FusedMulti"/>'
          '<testcase name="B" classname="FusedMulti"><failure message="x"/></testcase>'
          '<testcase name="C" classname="FusedMulti"><skipped/></testcase></testsuite></testsuites>')
    write(log, "test_fused_lstm.log",  # killed at its time limit: no XML, the log's lines count
          "== test_fused_lstm: ...\n[ RUN      ] FusedFixture.A\n[       OK ] FusedFixture.A (10 ms)\n"
          "[ RUN      ] FusedFixture.B\n[  FAILED  ] FusedFixture.B (5 ms)\n[ RUN      ] FusedFixture.C\n")
    write(log, "test_gpu_core.log", "== test_gpu_core: its executable was not built\n")  # a MISSING row only
    write(log, "memcheck_multi.log", "========= ERROR SUMMARY: 0 errors\n")
    write(log, "racecheck_multi.log", "========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)\n")
    write(log, "memcheck_fused.log", "========= Error: Device not supported\n")
    write(log, "build.log", "ptxas info    : Used 40 registers\n")
    write(log, "gpu_bench_cudnn.csv",
          "H,L,T,B,D,math,algo,algo_used,eager_ms,graph_ms,gflops\n"
          "64,1,100,64,1,fma,standard,standard,1.5,1.2,10\n64,1,100,64,1,fma,persist_static_small_h,standard,1.6,-1,9\n")
    write(log, "compare_torch_gpu.csv", "H,L,T,B,D,tf32,step_ms,gflops\n64,1,100,64,1,0,3.6,5\n")
    write(log, "gpu_bench_fused.csv",
          "H,L,T,B,D,fused_ms,cluster_ms,wavefront_ms,fused_tf32_ms,fused_bf16_ms,cudnn_fma_ms,cudnn_fma_algo,"
          "cudnn_tf32_ms,cudnn_tf32_algo,step_us,latency_floor_ms,compute_floor_ms\n"
          "64,1,100,64,1,0.5,-1,-1,-1,-1,1.5,standard,1.8,standard,1,0.2,0.01\n"
          "128,1,100,64,1,1.0,0.5,-1,0.9,-1,1.5,standard,1.6,standard,1,0.2,0.04\n")
    write(log, "gpu_bench_multi.csv",
          "N,L,H,T,B,D,fused_ms,fused_tf32_ms,fused_bf16_ms,cudnn_loop_ms,cudnn_ran_as,floor_ms\n"
          "1024,1,64,100,64,1,10,-1,-1,600,standard+graph,9.78\n"
          "1024,2,64,100,64,1,100,-1,-1,3000,standard+graph,29.04\n")
    write(log, "compare_torch_multi.csv", "N,L,H,T,B,D,torch_loop_ms,torch_stacked_ms\n1024,1,64,100,64,1,900,50\n")
    write(log, "gpu_bench_forecast.csv",
          "N,L,H,T,D,windows,fused_ms,fused_per_model_ms,cudnn_ms,floor_ms\n58,1,64,100,1,2048,20,400,500,1.5\n")
    write(log, "nab_grid_fused/summary.json",
          json.dumps({"cells": 928, "ok": 928, "failed": 0, "wall_seconds": 113.0,
                      "nab_scores": {"lstmad": {"standard": 61.5, "reward_low_FP_rate": 54.25, "reward_low_FN_rate": 66.0}}}))
    write(log, "detect_fused.log", "== detect_fused: python3 benchmarks/detect_check.py\n"
                                   "detect reproduces lstmad-1a2b3c4d artificialWithAnomaly/art_daily_flatmiddle.csv: "
                                   "4031 rows bit-identical (...)\n")
    write(log, "test_cudnn_lstm.log",
          "[ RUN      ] CudnnEngine.X\n[warn] cuDNN algorithm persist_static_small_h at fp32 for L=1 H=256 T=50 B=64 "
          "on device 0 rejected (CUDNN_STATUS_NOT_SUPPORTED); falling back to standard\n"
          "[warn] CUDA graph capture failed | eager\n"
          "[warn] CUDA graph capture failed | eager\n")
    write(log, "nab_grid_fused.log", "2026-12-01T10:05:00Z [warn] CUDA graph capture failed | eager\n"
          "2026-12-01T10:05:01Z [info] fused engine: time loops for 58 model(s) of L=1 D=1 H=64 horizon=1, T=100, "
          "B=64 (bf16), per step: backward unsplit 2.000 ms, backward in 4 parts of K 1.500 ms: backward in 4 parts "
          "of K (the same bits either way)\n"
          "2026-12-01T10:05:02Z [info] fused engine: time loops for 58 model(s) of L=1 D=1 H=64 horizon=1, T=100, "
          "B=128 (fp32, forecasting), per step: tiled 1.000 ms, untiled 1.010 ms, split 0.500 ms: split (the same "
          "bits either way)\n")
    write(log, "gpu_bench_fused.log", "[info] fused engine: time loops for one model of L=1 D=1 H=32 horizon=1, "
          "T=100, B=64 (fp32), per step: one-block 0.200 ms, split 0.150 ms: split (the same bits either way)\n")
    # ncu's text report: a kernel's header line, a section's metric rows (one not among those kept), a note
    # running over two lines; the split kernels' run without access to the counters.
    write(log, "ncu_fused.log",
          "== ncu_fused: ncu ...\n==PROF== Profiling \"lstm_fused_fwd_kernel\" - 0: 0%....50%....100% - 9 passes\n"
          "  void (anonymous namespace)::lstm_fused_fwd_kernel<1, true, false>(const float *, int) (32, 1, 1)x(32, 1, 1), "
          "Context 1, Stream 13, Device 0, CC 9.0\n"
          "    Section: GPU Speed Of Light Throughput\n"
          "    ----------------------- ------------- ------------\n"
          "    Metric Name               Metric Unit Metric Value\n"
          "    DRAM Frequency          cycle/nsecond         3.19\n"
          "    Duration                      usecond       106.30\n"
          "    Elapsed Cycles                  cycle      186,234\n"
          "\n"
          "    Section: Warp State Statistics\n"
          "    Warp Cycles Per Issued Instruction             cycle        12.34\n"
          "    ----------------------- ------------- ------------\n\n"
          "    WRN   On average, each warp of this kernel spends 5.6 cycles being stalled waiting for a scoreboard\n"
          "          dependency on a L1TEX (local, global, surface, texture) operation.\n\n")
    write(log, "ncu_mma.log",
          "== ncu_mma: ncu ...\n"
          "  void lstmad::kernels::(anonymous namespace)::lstm_mma_fwd_kernel<(lstmad::kernels::mma::Format)1, false, 1, 32>"
          "(const uint4 *, int) (4, 1, 1)x(128, 1, 1), Context 1, Stream 13, Device 0, CC 9.0\n"
          "    Section: GPU Speed Of Light Throughput\n"
          "    Duration                      usecond        61.20\n")
    # ncu's source page: a CSV of instructions with their stall samples (the largest first in the report),
    # and a log without one; the SASS dump's functions counted.
    write(log, "ncu_source_mma.log",
          "==PROF== Connected to process 1\n"
          '"# Address","Source","Warp Stall Sampling (All Samples)","Warp Stall Sampling (Not-issued Samples)"\n'
          '"0x00000010","LDG.E R2, desc[UR4][R4.64]","150","140"\n'
          '"0x00000020","BAR.SYNC.DEFER_BLOCKING 0x0","1,050","1,000"\n'
          '"0x00000030","MUFU.EX2 R7, R6","300","20"\n'
          "==PROF== Disconnected\n")
    write(log, "ncu_source_fused.log", "==PROF== Connected\nthe option --print-source is not known\n")
    write(log, "sass.log", "Function : _ZN6lstmad7kernels21lstm_fused_fwd_kernelEv\n  /*0000*/ MOV ;\n"
                           "Function : _ZN6lstmad7kernels19lstm_mma_bwd_kernelEv\n  /*0000*/ EXIT ;\n")
    write(log, "ncu_split.log", "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU "
                                "Performance Counters on the target device 0.\n")
    md = run(log, "--command", "benchmarks/gpu_check.sh (GPU_CHECK_QUICK=1)")
    print(md)
    first_md = pathlib.Path(tmp) / "first-gpu-results.md"
    first_md.write_text(md)
    check("the one-block kernels: `lstm_fused_fwd_kernel<1, true, false> (32, 1, 1)x(32, 1, 1)`" in md,
          "the profiled kernel and its launch")
    check("| Duration | usecond | 106.30 |" in md and "| Elapsed Cycles | cycle | 186,234 |" in md
          and "| Warp Cycles Per Issued Instruction | cycle | 12.34 |" in md and "DRAM Frequency" not in md,
          "the kept ncu metrics, and only those")
    check("- WRN: On average, each warp of this kernel spends 5.6 cycles being stalled waiting for a scoreboard "
          "dependency on a L1TEX (local, global, surface, texture) operation." in md, "ncu's note, both lines")
    check("the tensor-core kernels (Format 0 is TF32, 1 BF16): `lstm_mma_fwd_kernel<(lstmad::kernels::mma::Format)1, "
          "false, 1, 32> (4, 1, 1)x(128, 1, 1)`" in md and "| Duration | usecond | 61.20 |" in md,
          "the tensor-core kernels' profile, its template arguments kept")
    check("the tensor-core forward (TF32): the 3 instructions with the most stall samples, of 1500" in md
          and "| 0x00000020 | `BAR.SYNC.DEFER_BLOCKING 0x0` | 1050 | 70.0% |" in md
          and md.index("BAR.SYNC.DEFER_BLOCKING") < md.index("MUFU.EX2 R7"), "the stall samples, largest first")
    check("the one-block fp32 forward: no per-instruction table in ncu_source_fused.log (the option --print-source "
          "is not known)." in md, "a source page without its table")
    check("The time loops' SASS: 2 functions in sass.log" in md, "the SASS dump")
    check("| nab_grid_fused.log | 58 | L=1 D=1 H=64 horizon=1 | 100 | 64 | bf16 | backward unsplit 2.000, "
          "backward in 4 parts of K 1.500 | backward in 4 parts of K | 0.75 |" in md, "an autotuned batch's line")
    check("| nab_grid_fused.log | 58 | L=1 D=1 H=64 horizon=1 | 100 | 128 | fp32, forecasting | tiled 1.000, "
          "untiled 1.010, split 0.500 | split | 0.50 |" in md, "an autotuned forecasting pass with three choices")
    check("| gpu_bench_fused.log | one | L=1 D=1 H=32 horizon=1 | 100 | 64 | fp32 | one-block 0.200, split 0.150 | "
          "split | 0.75 |" in md, "one model's autotuned step")
    check("the split kernels (version 4): ncu could not read the performance counters on this machine "
          "(ERR_NVGPUCTRPERM); owed." in md, "a profile without access to the counters")
    check("NVIDIA H200 (driver 580.65.06, CUDA 13.0 (V13.0.88), cuDNN 9.19.0, Linux kernel 6.18.44-fc-v236-gpu)" in md,
          "the environment line")
    check("2026-12-01T10:00:00Z, commit 0123456789ab" in md and "GPU_CHECK_QUICK=1" in md, "date, commit, command")
    check("| test_fused_multi | FAILED(rc=1) | 40s |" in md and "Total: 533s." in md, "the steps")
    check("- detect reproduces lstmad-1a2b3c4d artificialWithAnomaly/art_daily_flatmiddle.csv: 4031 rows" in md,
          "the detect check's line")
    check("| prebuilt | SKIPPED(the tree has changes) |  |" in md, "a status with spaces and no time")
    check("| test_fused_multi | 3 | 1 | 1 | 1 | FusedMulti.B |" in md, "the test counts and the failing name")
    check("| test_fused_lstm (no XML: log) | 3 | 1 | 2 | 0 | FusedFixture.B, FusedFixture.C (cut short) |" in md,
          "a test executable cut short, counted from its log")
    check("test_gpu_core" not in md.split("## GPU tests")[1].split("## compute-sanitizer")[0],
          "a test that never ran has no row among the test counts")
    check("| memcheck_multi | 0 errors |" in md and "1 errors, 1 warnings (2 hazards shown)" in md, "the sanitizers")
    check("| memcheck_fused | not run: compute-sanitizer does not support this machine's runtime (owed) |" in md,
          "a sanitizer the machine's runtime refuses")
    check("No kernel reports a spill" in md, "ptxas")
    # cuDNN: the best of the eager and graph times (1.2 with a graph), PyTorch 3.6 beside it: 3.00.
    check("| 64 | 1 | 100 | 64 | fma | 1.2000 | standard+graph | 3.6000 | 3.00 |" in md, "the cuDNN row")
    # Fused H=64: cuDNN best 1.5 / fused 0.5 = 3x (target 2x met), 0.5 / 0.2 = 2.5x the latency floor.
    check("| 3.00 | yes | 0.2000 | 2.50 | yes |" in md, "the fused H=64 row")
    # H=128: the best fused is the tf32 0.9 ms, cuDNN's best 1.5: 1.67x, under the 2x target; 5x the floor.
    check("| 1.67 | **no** | 0.2000 | 5.00 | **no** |" in md, "the fused H=128 row")
    check("H=128 L=1 T=100 B=64: fused best 0.9000 ms vs cuDNN best 1.5000 ms (1.67x)" in md, "the missed speed target")
    check("H=128 L=1 T=100 B=64: fused fp32 5.00x the latency floor" in md, "the missed floor target")
    # A CSV from before the cluster kernels were the default: fused_ms is the one-block step, the cluster's
    # 0.5 ms beside it (2x faster, 0.33 of cuDNN FMA's 1.5, 2.5x the floor); "-" for the path it does not name.
    check("(opt-in in this run)" in md and "| 128 | 1 | 100 | 64 | cluster | 0.5000 | 1.0000 | 2.00 | 0.33 | 2.50 |" in md,
          "the opt-in paths of an older CSV")
    check("| 64 | 1 | 100 | 64 | 0.5000 | - | n/a | n/a |" in md, "an older CSV's fused row without a path")
    # Many models: 600 / 10 = 60x (met), 10 / 9.78 within 3x; L=2: 30x, missed; PyTorch beside L=1.
    check("| 1024 | 1 | 10.000 | n/a | n/a | n/a | 600.000 | standard+graph | 900.000 | 50.000 | 60.0 | yes | 9.7800 | 1.02 | yes |" in md,
          "the N=1024 L=1 row")
    check("N=1024 L=2: 30.0x the cuDNN loop (target 50x)" in md, "the missed 50x target")
    check("N=1024 L=2: 3.44x the fp32 compute floor (target 3x)" in md, "the missed compute floor target")
    # Forecasting: 58 x 2048 windows in 20 ms = 5.94 Mwindows/s; 20x the per-model path, 25x cuDNN.
    check("| 58 | 1 | 2048 | 20.00 | 400.00 | 500.00 | 20.0 | 25.0 | 5.94 | 1.500 |" in md, "the forecasting row")
    check("928 of 928 cells OK (0 failed), **113.0 s wall**" in md and "took 565 s" in md and "5.0x" in md,
          "the end-to-end run beside the CPU's")
    check("NAB standard 61.50, low FP 54.25, low FN 66.00" in md, "the end-to-end NAB scores")
    # Each distinct warning once per log, with its count; a | in the text does not break the table.
    check("| test_cudnn_lstm.log | 2 | CUDA graph capture failed \\| eager |" in md, "a repeated warning, counted")
    check("| nab_grid_fused.log | 1 | CUDA graph capture failed \\| eager |" in md, "the same warning in another log")
    check("on device 0 rejected (CUDNN_STATUS_NOT_SUPPORTED); falling back to standard |" in md,
          "the cuDNN fallback")
    check(md.count("[warn]") == 0, "the warnings without their tag")

    # The archive the check leaves in $OUT (gpu-check.tar.gz) reads as the folder does.
    archive = pathlib.Path(tmp) / "gpu-check.tar.gz"
    subprocess.run(["tar", "-C", str(log), "-czf", str(archive), "."], check=True)
    check(run(archive, "--command", "benchmarks/gpu_check.sh (GPU_CHECK_QUICK=1)") == md, "the archive reads as the folder")

    # A CSV that names the engine's fp32 path: the path and the one-block time in the fused table, and no
    # opt-in table.
    newer = pathlib.Path(tmp) / "newer"
    write(newer, "gpu_bench_fused.csv",
          "H,L,T,B,D,fused_ms,cluster_ms,wavefront_ms,fused_tf32_ms,fused_bf16_ms,cudnn_fma_ms,cudnn_fma_algo,"
          "cudnn_tf32_ms,cudnn_tf32_algo,step_us,latency_floor_ms,compute_floor_ms,fused_path,one_block_ms,split_ms,"
          "fused_bf16_unsplit_ms\n"
          "128,1,100,64,1,0.75,0.75,-1,-1,-1,1.5,standard,1.6,standard,1,0.2,0.04,cluster2,3,-1,-1\n"
          "32,1,100,64,1,0.5,-1,-1,-1,0.2,1.5,standard,1.6,standard,1,0.2,0.04,one-block,-1,0.25,0.3\n")
    md = run(newer)
    check("| 128 | 1 | 100 | 64 | 0.7500 | cluster2 | 3.0000 | n/a | n/a | n/a | n/a | n/a | 1.5000 | 1.6000 | n/a | 2.00 | 2.00 | yes |"
          in md, "the fused row with its path and the one-block time")
    check("| 32 | 1 | 100 | 64 | 0.5000 | one-block | n/a | 0.2500 | n/a | 0.2000 | 0.3000 | 1.50 |" in md,
          "the split kernels' time, and the bf16 step unsplit beside the split one")
    check("| version 4 split kernels (fp32) / the engine's fp32 path | 32 | 1 | 1 | 0.50 | 0.50 | 0.50 |" in md,
          "the split kernels against the engine's path, by H")
    check("| bf16, backward unsplit / the engine's bf16 step | 32 | 1 | 0 | 1.50 | 1.50 | 1.50 |" in md,
          "the unsplit backward against the split one, by H")
    check("| version 4 split kernels (fp32) / the engine's fp32 path | 128 |" not in md,
          "no summary row where the alternative did not run")
    check("opt-in in this run" not in md, "no opt-in table where the CSV names the path")
    write(newer, "gpu_bench_multi.csv",
          "N,L,H,T,B,D,fused_ms,fused_tf32_ms,fused_bf16_ms,cudnn_loop_ms,cudnn_ran_as,floor_ms,split_ms\n"
          "1024,1,64,100,64,1,40,-1,-1,80,standard+graph,9.78,20\n")
    md = run(newer)
    check("| 1024 | 1 | 40.000 | 20.000 | n/a | n/a | 80.000 |" in md, "the split kernels' multi-model time")
    # Against the first run's markdown: each fp32 path by name (the first run's cluster from its opt-in
    # table, its one-block step from fused fp32), the shapes both runs have, the multi-model step.
    md = run(newer, "--previous", str(first_md))
    check("Against `first-gpu-results.md` (commit 0123456789ab)" in md, "the earlier file and its commit")
    check("| 128 | 1 | 100 | 64 | 3.00 | 1.50 | n/a | n/a | n/a | 1.00 | 1.00 |" in md,
          "a shape's paths now / then, matched by name")
    check("| 32 | 1 | 100 | 64 | " not in md.split("## Against the previous run")[1].split("## ")[0],
          "no row for a shape the earlier run lacks")
    check("- one-block fp32: median 3.00 (range 3.00-3.00, 1 shapes)" in md, "a column's summary")
    check("| 1024 | 1 | 4.00 | n/a | n/a | 0.13 |" in md, "the multi-model step now / then")
    check("## Against the previous run" not in run(newer), "no comparison without --previous")
    check("(gpu_bench_phases.csv is missing or empty)" in md, "no phase table without its CSV")
    # Where the step goes: a column per (N, L, time loops) in N order, a row per phase in step order, the
    # phases' sum and the graph-replayed step below.
    write(newer, "gpu_bench_phases.csv",
          "N,L,H,T,B,path,phase,ms,share,phases_ms,step_ms\n"
          "1024,1,64,100,64,default,forward time loop (layer 1),30,0.75,40,38\n"
          "1024,1,64,100,64,default,dR GEMM (layer 1),10,0.25,40,38\n"
          "58,1,64,100,64,split,forward time loop (layer 1),2,0.5,4,3.5\n"
          "58,1,64,100,64,split,dR GEMM (layer 1),2,0.5,4,3.5\n"
          "1024,1,64,100,64,untiled,forward time loop (layer 1),45,0.9,50,47.5\n"
          "1024,1,64,100,64,untiled,dR GEMM (layer 1),5,0.1,50,47.5\n"
          "1024,1,64,100,64,bf16,forward time loop (layer 1),20,0.8,25,19\n"
          "1024,1,64,100,64,bf16,dR GEMM (layer 1),5,0.2,25,19\n"
          "1024,1,64,100,64,bf16 split,forward time loop (layer 1),18,0.8,22.5,15.2\n"
          "1024,1,64,100,64,bf16 split,dR GEMM (layer 1),4.5,0.2,22.5,15.2\n")
    md = run(newer)
    check("| phase | N=58 L=1 split | N=1024 L=1 default | N=1024 L=1 untiled | N=1024 L=1 bf16 | N=1024 L=1 bf16 split |"
          in md, "the phase table's columns")
    check("- N=1024 L=1: the bf16 step with the backward split 15.200 ms a step, the bf16 step 19.000 ms (0.80x the "
          "bf16 step's time)" in md, "the other backward split against the bf16 step")
    check("- N=1024 L=1: the bf16 step (tensor cores) 19.000 ms a step, the default 38.000 ms (0.50x the default's "
          "time)" in md, "the tensor-core step against the default")
    check("- N=1024 L=1: untiled time loops 47.500 ms a step, the default 38.000 ms (1.25x the default's time)" in md,
          "a path against the default")
    check("- N=58 L=1: split" not in md, "no comparison without the default's run")
    check("| forward time loop (layer 1) | 2.000 (50%) | 30.000 (75%) |" in md, "a phase's row")
    check("| sum of the phases (eager) | 4.000 | 40.000 |" in md and "| step (graph replay) | 3.500 | 38.000 |" in md,
          "the phases' sums beside the steps")

    # One model's step, phase by phase: a column per (H, L, B, path), H then B order, the engine's fp32 step
    # before the forced split kernels and cuDNN, four decimals.
    check("(gpu_bench_fused_phases.csv is missing or empty)" in md, "no single-model phase table without its CSV")
    write(newer, "gpu_bench_fused_phases.csv",
          "H,L,T,B,path,phase,ms,share,phases_ms,step_ms\n"
          "64,1,100,32,fused fp32,forward time loop (layer 1),0.1,0.5,0.2,0.18\n"
          "64,1,100,32,fused fp32,dR GEMM (layer 1),0.1,0.5,0.2,0.18\n"
          "32,1,100,32,cuDNN fp32,LSTM forward,0.06,0.6,0.1,0.09\n"
          "32,1,100,32,cuDNN fp32,LSTM backward,0.04,0.4,0.1,0.09\n"
          "32,1,100,32,split,forward time loop (layer 1),0.05,0.5,0.1,0.08\n"
          "32,1,100,32,split,dR GEMM (layer 1),0.05,0.5,0.1,0.08\n"
          "32,1,100,32,fused fp32,forward time loop (layer 1),0.08,0.8,0.1,0.095\n"
          "32,1,100,32,fused fp32,dR GEMM (layer 1),0.02,0.2,0.1,0.095\n")
    md = run(newer)
    check("| phase | H=32 L=1 B=32 fused fp32 | H=32 L=1 B=32 split | H=32 L=1 B=32 cuDNN fp32 | H=64 L=1 B=32 fused fp32 |"
          in md, "the single-model phase table's columns")
    check("| forward time loop (layer 1) | 0.0800 (80%) | 0.0500 (50%) |  | 0.1000 (50%) |" in md,
          "a single-model phase's row, blank where the path has no such phase")
    check("| LSTM forward |  |  | 0.0600 (60%) |  |" in md, "cuDNN's forward as one phase")
    check("| step (graph replay) | 0.0950 | 0.0800 | 0.0900 | 0.1800 |" in md, "the replayed steps")

    # The tensor-core path against the TF32 floor (within 3x at N = 1024 or a miss), BF16 against its own.
    write(newer, "gpu_bench_multi.csv",
          "N,L,H,T,B,D,fused_ms,fused_tf32_ms,fused_bf16_ms,cudnn_loop_ms,cudnn_ran_as,floor_ms,split_ms,"
          "tf32_floor_ms,bf16_floor_ms\n"
          "1024,1,64,100,64,1,40,2.6,2,80,standard+graph,9.78,-1,1.3,0.65\n"
          "1024,2,64,100,64,1,120,4,3,160,standard+graph,29.04,-1,1.3,0.65\n")
    md = run(newer)
    check("| 9.7800 | 4.09 | **no** | 1.3000 | 2.00 | yes | 3.08 |" in md, "the tf32 path within 3x of its floor")
    check("N=1024 L=2: tf32 3.08x the TF32 compute floor (target 3x)" in md, "the missed TF32 floor target")
    check("N=1024 L=1: tf32" not in md, "no miss where the tf32 path is within 3x")

    # One step taken apart: the probes with the clock (the median of their clocks), then per direction a
    # column per (H, B) in the order first met, a row per rung or engine kernel, microseconds with the cycles
    # beside them (none for the engine's kernels, which have no clock of their own), "-" where a shape lacks
    # the row.
    check("(gpu_bench_anatomy.csv is missing or empty)" in md, "no anatomy without its CSV")
    write(newer, "gpu_bench_anatomy.csv",
          "kind,direction,name,H,B,threads,steps,us,cycles,mhz\n"
          "probe,-,fmaf,0,0,32,16384,0.00204,4.04,1980\n"
          "probe,-,\"write, barrier, read\",0,0,64,16384,0.0303,60,1975\n"
          "probe,-,expf,0,0,32,16384,0.0101,20,1700\n"
          "rung,forward,barrier + exchange,32,32,32,2000,0.05,99,1980\n"
          "rung,forward,+ product,32,32,32,2000,0.2,396,1980\n"
          "engine,forward,one-block forward,32,32,32,2000,0.94,-1,1980\n"
          "rung,forward,barrier + exchange,64,32,64,2000,0.06,118.8,1980\n"
          "rung,backward,barrier + exchange,32,32,32,2000,0.07,139,1980\n"
          "rung,backward,+ product,32,32,32,2000,0.2,396,1980\n"
          "rung,backward,+ cell,32,32,32,2000,0.3,594,1980\n"
          "rung,backward,+ input,32,32,32,2000,0.31,614,1980\n"
          "rung,backward,+ stores (whole step),32,32,32,2000,0.32,634,1980\n"
          "engine,backward,engine: one-block backward,32,32,32,2000,0.64,-1,1980\n")
    md = run(newer)
    check("the SM clock over the probes 1975 MHz" in md, "the probes' median clock")
    check("| write, barrier, read | 64 | 60.0 | 30.3 |" in md, "a probe's cycles and nanoseconds")
    check("| forward | H=32 B=32 | H=64 B=32 |" in md, "the forward ladder's columns")
    check("| barrier + exchange | 0.050 (99) | 0.060 (119) |" in md, "a rung's microseconds and cycles")
    check("| + product | 0.200 (396) | - |" in md, "a rung one shape lacks")
    check("| one-block forward | 0.940 | - |" in md, "the engine's kernel without cycles")
    check("| backward | H=32 B=32 |" in md and "| barrier + exchange | 0.070 (139) |" in md,
          "the backward ladder in its own table")
    check("- backward H=32 B=32: the whole step 0.320 us = barrier + exchange 0.070, product +0.130, cell +0.100, "
          "input +0.010, stores +0.010; one-block backward 0.640 us (2.00x the whole-step rung)" in md,
          "what each rung added, and the engine's kernel against the whole step")
    check("- forward H=32" not in md, "no reading of a ladder with rungs missing")

    empty = pathlib.Path(tmp) / "empty"
    empty.mkdir()
    md = run(empty)
    for part in ("gpu_bench_cudnn.csv", "gpu_bench_fused.csv", "gpu_bench_multi.csv", "gpu_bench_forecast.csv",
                 "nab_grid_fused/summary.json"):
        check(f"Not in this run ({part} is missing)" in md, f"an empty folder names the missing {part}")
    check("No summary.log" in md and "No test XML" in md, "an empty folder says what it lacks")
    check("No warning in the step logs." in md, "an empty folder has no warnings")
    check("No batch timed its time loops in these logs." in md, "an empty folder has no autotuning")
    r = subprocess.run([sys.executable, str(script), str(pathlib.Path(tmp) / "nowhere")], capture_output=True, text=True)
    check(r.returncode == 2 and "is neither a folder nor a gpu_check archive" in r.stderr, "a missing folder is an error")

if failed:
    print("\n".join("FAILED: " + f for f in failed))
    sys.exit(1)
print("gpu-results.py: every check holds")
