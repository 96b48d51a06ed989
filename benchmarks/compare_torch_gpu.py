#!/usr/bin/env python3
"""PyTorch reference timings for the cuDNN engine's training step, on the same shapes as gpu_bench_cudnn.

One step = nn.LSTM (batch_first) on a B x T x 1 minibatch -> nn.Linear head on the last hidden state ->
MSE -> backward -> clip_grad_norm_(1.0) -> Adam. Timed with torch.cuda.Event after warm-up, median of
--reps steps, with cuDNN TF32 off (strict fp32, like CUDNN_FMA_MATH) and on (PyTorch's default for
cuDNN RNNs). Exits 0 with a message when torch or a CUDA device is missing.

Usage: compare_torch_gpu.py [--quick] [--reps N] [--warmup N] [--csv FILE] [--device cuda|cpu]
Each CSV row is written as it is measured; a shape that fails is reported and skipped.
"""
import argparse
import sys

import torch_bench


def step_ms(torch, dev, H, L, T, B, tf32, warmup, reps):
    """Median ms of one training step of the detector's model at this shape."""
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.manual_seed(0)
    step = torch_bench.detector_trainer(torch, 1, H, L, dev, 1e-4, B, T)
    return torch_bench.median_ms(torch, dev, step, warmup, reps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few shapes only")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--csv", default="")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                    help="where to time (cpu: the same steps on the host, TF32 off only)")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("compare_torch_gpu: torch is not installed; nothing to compare")
        return 0
    dev, why = torch_bench.device_or_reason(torch, args.device)
    if dev is None:
        print(f"compare_torch_gpu: {why}; nothing to compare")
        return 0

    where = torch.cuda.get_device_name(0) if dev.type == "cuda" else "the CPU"
    print(f"compare_torch_gpu on {where}, torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}, {args.reps} reps after {args.warmup} warm-up steps, medians")
    Hs, Ls, Ts, Bs = [32, 64, 128, 256], [1, 2], [50, 100, 250], [32, 64, 256]
    if args.quick:
        Hs, Ls, Ts, Bs = [64, 256], [1], [100], [64]
    tf32s = (False, True) if dev.type == "cuda" else (False,)
    out = torch_bench.CsvRows(args.csv, "H,L,T,B,D,tf32,step_ms,gflops")
    print(f"{'H':>5} {'L':>2} {'T':>4} {'B':>4} {'tf32':>5} {'step ms':>10} {'GFLOP/s':>9}")
    for H in Hs:
        for L in Ls:
            for T in Ts:
                for B in Bs:
                    for tf32 in tf32s:
                        try:
                            ms = step_ms(torch, dev, H, L, T, B, tf32, args.warmup, args.reps)
                        except Exception as e:  # noqa: BLE001 (one shape's failure does not end the table)
                            print(f"{H:>5} {L:>2} {T:>4} {B:>4} {str(tf32):>5} failed: {e}", flush=True)
                            if dev.type == "cuda":
                                torch.cuda.empty_cache()
                            continue
                        flops = sum(24.0 * H * ((1 if l == 0 else H) + H) * B * T for l in range(L))
                        gflops = flops / (ms * 1e-3) / 1e9
                        out.row(H, L, T, B, 1, int(tf32), ms, gflops)
                        print(f"{H:>5} {L:>2} {T:>4} {B:>4} {str(tf32):>5} {ms:>10.4f} {gflops:>9.1f}", flush=True)
    out.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
