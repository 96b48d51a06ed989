#!/usr/bin/env python3
"""Host emulation of the multi-model training step's index arithmetic, in float64, without a GPU or numpy.

python3 tests/gpu/test_multi_emulation.py; exit status 0 when every check passes.

It runs the multi-model step sequence (framework/lstm/fused/multi_model_block.cpp: enqueue, forward, backward)
over flat buffers holding N = 3 models side by side, with the kernels' index formulas and per-model
strides (kernels/lstm_multi.cu, lstm_multi_gemm.cu, and the time loops of lstm_fused_fwd.cu and
lstm_fused_bwd.cu with ModelStrides), for L=2, D=2, H=3, T=4, B=3, horizon 2:
- model 0 has a full minibatch, model 1 a short one (2 of 3 rows), model 2 is skipped (active = 0);
- every buffer starts filled with finite garbage, so rows a short minibatch leaves alone must not matter;
- each active model's parameter gradient is checked against central finite differences of its own loss
  (the mean MSE over its real rows, computed by a plain per-sample LSTM), and its loss against the
  emulated head's sum of squares;
- the skipped model's gradient and outputs keep their garbage (nothing was written).
It checks the algebra and the layouts, not the CUDA execution (barriers, races): the GPU tests do that.
"""
import math
import random
import sys

FAILED = []


def check(name, value, tol):
    ok = value <= tol
    print(f"{name}: {value:.3e} (tolerance {tol:.0e}) {'ok' if ok else 'FAILED'}")
    if not ok:
        FAILED.append(name)


def sig(x):
    return 1 / (1 + math.exp(-x))


random.seed(3)
L, D, H, hz, T, B, N = 2, 2, 3, 2, 4, 3, 3
H4 = 4 * H
TB = T * B


def layout():
    off = 0
    lay = []
    for l in range(L):
        Din = D if l == 0 else H
        W = off; off += H4 * Din
        R = off; off += H4 * H
        bW = off; off += H4
        bR = off; off += H4
        lay.append((W, R, bW, bR, Din))
    hW = off; off += hz * H
    hb = off; off += hz
    return lay, hW, hb, off


lay, head_W, head_b, P = layout()
GARBAGE = 7.25  # finite, and far from anything the step computes


def buf(n):
    return [GARBAGE + 0.001 * (i % 17) for i in range(n)]


# Per-model series, windows and parameters.
rows_of = [3, 2, 3]
active = [1, 1, 0]
series_n = [9, 8, 10]
xs, ys, offs = [], [], []
for m in range(N):
    offs.append(len(ys))
    for i in range(series_n[m]):
        v = math.sin(0.7 * i + m) + 0.1 * random.uniform(-1, 1)
        xs += [v, 0.5 * v * (m + 1)]
        ys.append(v)
max_train = 4
order = [[2, 0, 1, 3], [1, 3, 0, 2], [0, 1, 2, 3]]
order_flat = [s for o in order for s in o]
start = [0, 0, 0]
theta = [random.uniform(-0.5, 0.5) for _ in range(N * P)]


# ---- the kernels, as written ----
def gather(xt, yb):  # gather_kernel, time-major
    nx, ny = B * T * D, B * hz
    for m in range(N):
        if not active[m]:
            continue
        nr = rows_of[m]
        off = offs[m]
        lm = m * max_train + start[m]
        for i in range(nx + ny):
            if i < nx:
                d = i % D; tk = i // D; k = tk % B; t = tk // B
                if k >= nr:
                    continue
                xt[m * nx + i] = xs[(off + order_flat[lm + k] + t) * D + d]
            else:
                r = i - nx; k = r // hz; j = r % hz
                if k >= nr:
                    continue
                yb[m * ny + r] = ys[off + order_flat[lm + k] + T + j]


def multi_gemm(M, Nn, K, A, B_, C, cbase, ldc, cbatch):  # operands: (buffer, base, rs, cs, batch)
    a, ab, ars, acs, abatch = A
    b, bb, brs, bcs, bbatch = B_
    for m in range(N):
        if not active[m]:
            continue
        for i in range(M):
            for j in range(Nn):
                s = 0.0
                for k in range(K):
                    s += a[ab + m * abatch + i * ars + k * acs] * b[bb + m * bbatch + k * brs + j * bcs]
                C[cbase + m * cbatch + i * ldc + j] = s


def zero_rows(buf_, width):
    for m in range(N):
        if not active[m] or rows_of[m] >= B:
            continue
        for i in range(T * B):
            if i % B < rows_of[m]:
                continue
            for w in range(width):
                buf_[m * TB * width + i * width + w] = 0.0


def transpose_r(R_off, rt):  # transpose_r_kernel with ms.param = P, ms.rt = 4H*H
    for m in range(N):
        if not active[m]:
            continue
        for i in range(H4 * H):
            mm, k = i // H, i % H
            rt[m * H4 * H + k * H4 + mm] = theta[m * P + R_off + i]


# strides (fwd_strides in multi_model_block.cpp)
s_gx = s_gates = TB * H4
s_seq = TB * H
s_y = (T + 1) * B * H
s_state = L * B * H


def fwd_kernel(l, gx, rt, y, gates, c, hy, cy):
    W, R, bW, bR, Din = lay[l]
    for m in range(N):
        if not active[m]:
            continue
        nr = rows_of[m]
        # step by step over every (row, unit) of the model's real rows, as the blocks do between barriers
        hprev = [[0.0] * H for _ in range(nr)]
        cst = [[0.0] * H for _ in range(nr)]
        for row in range(nr):
            for j in range(H):
                y[m * s_y + row * H + j] = 0.0
        for t in range(T):
            hnew = [[0.0] * H for _ in range(nr)]
            for row in range(nr):
                for j in range(H):
                    acc = [gx[m * s_gx + (t * B + row) * H4 + q * H + j] + theta[m * P + bW + q * H + j] +
                           theta[m * P + bR + q * H + j] for q in range(4)]
                    for k in range(H):
                        for q in range(4):
                            acc[q] += rt[m * H4 * H + k * H4 + q * H + j] * hprev[row][k]
                    ig, fg, gg, og = sig(acc[0]), sig(acc[1]), math.tanh(acc[2]), sig(acc[3])
                    cst[row][j] = fg * cst[row][j] + ig * gg
                    h = og * math.tanh(cst[row][j])
                    hnew[row][j] = h
                    tb = t * B + row
                    y[m * s_y + (tb + B) * H + j] = h
                    if gates is not None:
                        for q, g in enumerate((ig, fg, gg, og)):
                            gates[m * s_gates + tb * H4 + q * H + j] = g
                        c[m * s_seq + tb * H + j] = cst[row][j]
            hprev = hnew
        for row in range(nr):
            for j in range(H):
                hy[m * s_state + l * B * H + row * H + j] = hprev[row][j]
                cy[m * s_state + l * B * H + row * H + j] = cst[row][j]


def bwd_kernel(l, gates, c, dy, dhy, dgates):
    W, R, bW, bR, Din = lay[l]
    for m in range(N):
        if not active[m]:
            continue
        nr = rows_of[m]
        dh_rec = [[0.0] * H for _ in range(nr)]
        dc = [[0.0] * H for _ in range(nr)]
        for t in range(T - 1, -1, -1):
            cur = [[0.0] * H4 for _ in range(nr)]
            for row in range(nr):
                for j in range(H):
                    tb = t * B + row
                    dh = dh_rec[row][j] + (dy[m * s_seq + tb * H + j] if dy is not None else 0.0)
                    if t == T - 1 and dhy is not None:
                        dh += dhy[m * (B * H) + row * H + j]
                    ig, fg, gg, og = (gates[m * s_gates + tb * H4 + q * H + j] for q in range(4))
                    cp = c[m * s_seq + (tb - B) * H + j] if t > 0 else 0.0
                    ct = c[m * s_seq + tb * H + j]
                    tc = math.tanh(ct)
                    dcv = dh * og * (1 - tc * tc) + dc[row][j]
                    da = (dcv * gg * ig * (1 - ig), dcv * cp * fg * (1 - fg), dcv * ig * (1 - gg * gg),
                          dh * tc * og * (1 - og))
                    dc[row][j] = dcv * fg
                    for q in range(4):
                        dgates[m * s_gates + tb * H4 + q * H + j] = da[q]
                        cur[row][q * H + j] = da[q]
            if t == 0:
                break
            for row in range(nr):
                for j in range(H):
                    dh_rec[row][j] = sum(theta[m * P + R + mm * H + j] * cur[row][mm] for mm in range(H4))


def head_forward(hy, yb, yhat, dyhat, sq):
    for m in range(N):
        if not active[m]:
            continue
        nr = rows_of[m]
        for w in range(nr * hz):
            b, j = w // hz, w % hz
            acc = sum(theta[m * P + head_W + j * H + k] * hy[m * s_state + (L - 1) * B * H + b * H + k]
                      for k in range(H))
            o = m * B * hz + w
            out = acc + theta[m * P + head_b + j]
            yhat[o] = out
            diff = out - yb[o]
            sq[o] = diff * diff
            dyhat[o] = 2.0 / (nr * hz) * diff


def head_backward(hy, dyhat, dtheta, dhy):
    for m in range(N):
        if not active[m]:
            continue
        nr = rows_of[m]
        hm = m * s_state + (L - 1) * B * H
        dym = m * B * hz
        for t in range(hz * H):
            j, k = t // H, t % H
            dtheta[m * P + head_W + t] = sum(dyhat[dym + b * hz + j] * hy[hm + b * H + k] for b in range(nr))
        for t in range(hz):
            dtheta[m * P + head_b + t] = sum(dyhat[dym + b * hz + t] for b in range(nr))
        for t in range(nr * H):
            b, k = t // H, t % H
            dhy[m * B * H + t] = sum(dyhat[dym + b * hz + j] * theta[m * P + head_W + j * H + k] for j in range(hz))


def colsum(dgates, dtheta, out, out2):
    for m in range(N):
        if not active[m]:
            continue
        for n in range(H4):
            s = sum(dgates[m * s_gates + i * H4 + n] for i in range(TB))
            dtheta[m * P + out + n] = s
            dtheta[m * P + out2 + n] = s


# ---- the step (enqueue, forward, backward of multi_model_block.cpp) ----
xt = buf(N * TB * D)
yb = buf(N * B * hz)
gx = buf(N * TB * H4)
dgates = buf(N * TB * H4)
dy = buf(N * TB * H)
rt = buf(N * H4 * H)
hy = buf(N * L * B * H)
cy = buf(N * L * B * H)
dhy = buf(N * B * H)
ys_ = [buf(N * (T + 1) * B * H) for _ in range(L)]
gates_ = [buf(N * TB * H4) for _ in range(L)]
c_ = [buf(N * TB * H) for _ in range(L)]
yhat, dyhat, sq = buf(N * B * hz), buf(N * B * hz), buf(N * B * hz)
dtheta = buf(N * P)

gather(xt, yb)
zero_rows(dgates, H4)


def layer_input(l):
    if l == 0:
        return (xt, 0, D, 1, TB * D)
    return (ys_[l - 1], B * H, H, 1, (TB + B) * H)


for l in range(L):
    W, R, bW, bR, Din = lay[l]
    multi_gemm(TB, H4, Din, layer_input(l), (theta, W, 1, Din, P), gx, 0, H4, s_gx)
    transpose_r(R, rt)
    fwd_kernel(l, gx, rt, ys_[l], gates_[l], c_[l], hy, cy)
head_forward(hy, yb, yhat, dyhat, sq)
head_backward(hy, dyhat, dtheta, dhy)
for l in range(L - 1, -1, -1):
    W, R, bW, bR, Din = lay[l]
    bwd_kernel(l, gates_[l], c_[l], dy if l < L - 1 else None, dhy if l == L - 1 else None, dgates)
    dgt = (dgates, 0, 1, H4, s_gates)
    multi_gemm(H4, Din, TB, dgt, layer_input(l), dtheta, W, Din, P)
    multi_gemm(H4, H, TB, dgt, (ys_[l], 0, H, 1, s_y), dtheta, R, H, P)
    colsum(dgates, dtheta, bW, bR)
    if l > 0:
        multi_gemm(TB, Din, H4, (dgates, 0, H4, 1, s_gates), (theta, W, Din, 1, P), dy, 0, Din, s_seq)


# ---- an independent reference: a plain LSTM per sample, the mean MSE over the model's real rows ----
def model_loss(p, m):
    total = 0.0
    nr = rows_of[m]
    for k in range(nr):
        s = offs[m] + order_flat[m * max_train + start[m] + k]
        inp = [[xs[(s + t) * D + d] for d in range(D)] for t in range(T)]
        for l in range(L):
            W, R, bW, bR, Din = lay[l]
            h = [0.0] * H
            cc = [0.0] * H
            out = []
            for t in range(T):
                pre = [p[bW + g] + p[bR + g] + sum(p[W + g * Din + d] * inp[t][d] for d in range(Din)) +
                       sum(p[R + g * H + kk] * h[kk] for kk in range(H)) for g in range(H4)]
                hn = []
                for j in range(H):
                    ig, fg, gg, og = sig(pre[j]), sig(pre[H + j]), math.tanh(pre[2 * H + j]), sig(pre[3 * H + j])
                    cc[j] = fg * cc[j] + ig * gg
                    hn.append(og * math.tanh(cc[j]))
                h = hn
                out.append(h)
            inp = out
        for j in range(hz):
            pred = p[head_b + j] + sum(p[head_W + j * H + kk] * h[kk] for kk in range(H))
            total += (pred - ys[s + T + j]) ** 2
    return total / (nr * hz)


for m in range(N):
    p = theta[m * P:(m + 1) * P]
    if not active[m]:
        untouched = all(dtheta[m * P + i] == GARBAGE + 0.001 * ((m * P + i) % 17) for i in range(P))
        check(f"model {m} (skipped): gradient slots written", 0.0 if untouched else 1.0, 0.0)
        untouched = all(yhat[m * B * hz + i] == GARBAGE + 0.001 * ((m * B * hz + i) % 17) for i in range(B * hz))
        check(f"model {m} (skipped): outputs written", 0.0 if untouched else 1.0, 0.0)
        continue
    loss = sum(sq[m * B * hz + i] for i in range(rows_of[m] * hz)) / (rows_of[m] * hz)
    check(f"model {m} ({rows_of[m]} of {B} rows): loss vs plain LSTM", abs(loss - model_loss(p, m)), 1e-12)
    worst = 0.0
    eps = 1e-6
    for i in range(P):
        q = list(p)
        q[i] += eps
        lp = model_loss(q, m)
        q[i] -= 2 * eps
        lm = model_loss(q, m)
        fd = (lp - lm) / (2 * eps)
        worst = max(worst, abs(fd - dtheta[m * P + i]) / max(1.0, abs(fd)))
    check(f"model {m} ({rows_of[m]} of {B} rows): gradient vs finite differences", worst, 1e-7)

if FAILED:
    print("FAILED:", ", ".join(FAILED))
    sys.exit(1)
print("all checks passed")
