"""What the PyTorch comparisons (compare_pytorch.py, compare_torch_gpu.py, compare_torch_multi.py) share:
the detector's model and its training step, timing a step on the device they run on, and a CSV written
row by row.

A CSV row is on disk as soon as it is measured (flushed), so that when gpu_check.sh cuts a stage at its
deadline, the rows measured so far still reach scripts/gpu-results.py.
"""
import statistics
import time


def detector_trainer(torch, D, H, L, device, lr, B, T):
    """The classic prediction-error detector's model, as lstmad trains it: nn.LSTM(D, H, L,
    batch_first=True), an nn.Linear(H, 1) head on the last step, MSE, clip_grad_norm_(1.0), Adam(lr), on a
    random B x T x D minibatch. Returns its training step (zero_grad, forward, loss, backward, clip, Adam)."""
    lstm = torch.nn.LSTM(D, H, num_layers=L, batch_first=True).to(device)
    head = torch.nn.Linear(H, 1).to(device)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    x = torch.randn(B, T, D, device=device)
    y = torch.randn(B, 1, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1, :]), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return step


def median_ms(torch, device, step, warmup, reps):
    """Median milliseconds of `step` after `warmup` untimed calls: CUDA events on a GPU, the wall clock
    (after the step's work is done) on the CPU."""
    for _ in range(warmup):
        step()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


class CsvRows:
    """A CSV file written row by row; an empty path writes nothing. `header`: the column names, comma-joined
    as the file's first line (tests/bench/test_gpu_check_script.py reads them from the source)."""

    def __init__(self, path, header):
        self.path = path
        self.rows = 0
        self.f = open(path, "w") if path else None
        if self.f:
            self.f.write(header + "\n")
            self.f.flush()

    def row(self, *values):
        if self.f:
            self.f.write(",".join(str(v) for v in values) + "\n")
            self.f.flush()
            self.rows += 1

    def done(self):
        if self.f:
            self.f.close()
            print(f"wrote {self.path} ({self.rows} rows)")


def device_or_reason(torch, name):
    """The torch device to time on, or None and why it cannot be used."""
    if name == "cuda" and not torch.cuda.is_available():
        return None, "torch sees no CUDA device"
    return torch.device(name), ""
