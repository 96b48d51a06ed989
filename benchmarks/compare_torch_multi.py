#!/usr/bin/env python3
"""PyTorch reference timings for gpu_bench_multi: one training step of N independent models.

Shapes as gpu_bench_multi: N in {1, 16, 58, 256, 1024}, L in {1, 2}, H = 64, T = 100, B = 64, D = 1,
horizon 1. Each model has its own weights, data and Adam state. One step of one model = LSTM on a
B x T x 1 minibatch -> Linear head on the last hidden state -> MSE -> backward -> clip_grad_norm_(1.0) ->
Adam. Two ways to run N models:
  loop     N separate nn.LSTM + nn.Linear modules, each with its own torch.optim.Adam, stepped one after
           the other (cuDNN inside each call; the way a PyTorch user trains a grid model by model);
  stacked  the N models' weights stacked along a leading model dimension and the LSTM written with
           batched matmuls (torch.baddbmm per time step, autograd for backward, one Adam over the stacked
           tensors; clipping per model). This is what torch.func.stack_module_state + vmap gives for a
           hand-written LSTM; vmap over nn.LSTM itself has no batching rule and falls back to a loop.
Timed with torch.cuda.Event after warm-up, medians of --reps steps of all N models, cuDNN/matmul TF32 off
(strict fp32, like the fused engine). Exits 0 with a message when torch or a CUDA device is missing.

Usage: compare_torch_multi.py [--quick] [--reps N] [--warmup N] [--models a,b,c] [--csv FILE] [--device cuda|cpu]
Each CSV row is written as it is measured.
"""
import argparse

import torch_bench


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N in {1, 58, 256} only")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--models", default="1,16,58,256,1024")
    ap.add_argument("--csv", default="")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="where to time")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("compare_torch_multi: torch is not installed; nothing to compare")
        return 0
    dev, why = torch_bench.device_or_reason(torch, args.device)
    if dev is None:
        print(f"compare_torch_multi: {why}; nothing to compare")
        return 0
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    H, T, B, D = 64, 100, 64, 1
    Ns = [1, 58, 256] if args.quick else [int(x) for x in args.models.split(",") if x]
    where = torch.cuda.get_device_name(0) if dev.type == "cuda" else "the CPU"
    print(f"compare_torch_multi on {where}, torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}, TF32 off, medians of {args.reps} after {args.warmup}")

    def timed(step):
        return torch_bench.median_ms(torch, dev, step, args.warmup, args.reps)

    def loop_ms(N, L):
        torch.manual_seed(0)
        steps = [torch_bench.detector_trainer(torch, D, H, L, dev, 1e-4 * (1 + m % 7), B, T) for m in range(N)]

        def step():
            for s in steps:
                s()

        return timed(step)

    def stacked_ms(N, L):
        torch.manual_seed(0)
        s = 1.0 / H ** 0.5
        Ws, Rs, bs = [], [], []
        for l in range(L):
            din = D if l == 0 else H
            Ws.append(((torch.rand(N, din, 4 * H, device=dev) * 2 - 1) * s).requires_grad_())
            Rs.append(((torch.rand(N, H, 4 * H, device=dev) * 2 - 1) * s).requires_grad_())
            bs.append(((torch.rand(N, 1, 4 * H, device=dev) * 2 - 1) * s).requires_grad_())
        Wh = ((torch.rand(N, H, 1, device=dev) * 2 - 1) * s).requires_grad_()
        bh = ((torch.rand(N, 1, 1, device=dev) * 2 - 1) * s).requires_grad_()
        params = Ws + Rs + bs + [Wh, bh]
        lr = torch.tensor([1e-4 * (1 + m % 7) for m in range(N)], device=dev)
        moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
        b1, b2, eps = 0.9, 0.999, 1e-8
        count = [0]
        x = torch.randn(N, T, B, D, device=dev)
        y = torch.randn(N, B, 1, device=dev)

        def per_model(v, p):
            return v.view(N, *([1] * (p.dim() - 1)))

        def step():
            for p in params:
                p.grad = None
            inp = [x[:, t] for t in range(T)]
            for l in range(L):
                h = torch.zeros(N, B, H, device=dev)
                c = torch.zeros(N, B, H, device=dev)
                outs = []
                for t in range(T):
                    g = torch.baddbmm(bs[l], inp[t], Ws[l]) + torch.bmm(h, Rs[l])
                    i, f, gg, o = g.chunk(4, dim=2)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    outs.append(h)
                inp = outs
            pred = torch.baddbmm(bh, inp[-1], Wh)
            loss = ((pred - y) ** 2).mean(dim=(1, 2)).sum()  # the sum of each model's own mean MSE
            loss.backward()
            with torch.no_grad():
                # per-model clipping to norm 1, then Adam with each model's learning rate
                sq = sum((p.grad.reshape(N, -1) ** 2).sum(dim=1) for p in params)
                scale = torch.clamp(1.0 / (sq.sqrt() + 1e-6), max=1.0)
                count[0] += 1
                k = count[0]
                for p, (m1, m2) in zip(params, moments):
                    g = p.grad * per_model(scale, p)
                    m1.mul_(b1).add_(g, alpha=1 - b1)
                    m2.mul_(b2).addcmul_(g, g, value=1 - b2)
                    denom = (m2 / (1 - b2 ** k)).sqrt_().add_(eps)
                    p.addcdiv_(m1 * per_model(lr / (1 - b1 ** k), p), denom, value=-1.0)

        return timed(step)

    out = torch_bench.CsvRows(args.csv, "N,L,H,T,B,D,torch_loop_ms,torch_stacked_ms")
    print(f"{'N':>6} {'L':>2} {'loop ms':>10} {'stacked ms':>11}")
    for L in (1, 2):
        for N in Ns:
            lm = sm = float("nan")
            try:
                lm = loop_ms(N, L)
            except Exception as e:  # noqa: BLE001 (report and go on)
                print(f"{N:>6} {L:>2} loop failed: {e}")
            try:
                sm = stacked_ms(N, L)
            except Exception as e:  # noqa: BLE001
                print(f"{N:>6} {L:>2} stacked failed: {e}")
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            out.row(N, L, H, T, B, D, lm, sm)
            print(f"{N:>6} {L:>2} {lm:>10.3f} {sm:>11.3f}", flush=True)
    out.done()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
