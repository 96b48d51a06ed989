// The multi-model GEMM (lstm_multi.hpp): C_m = A_m B_m for every model m, fp32 FMA, one launch for all
// models (blockIdx.z = m).
//
// Tiles of 64 x 64 outputs per block of 16 x 8 threads, 8 x 4 outputs per thread, K in steps of 16
// through shared memory. Each output is one fmaf chain over k = 0..K-1 in order, started at 0: the result
// depends on M, N, K and the operands only, never on the number of models or on which models are skipped.
// Operands are read through (row, column) strides, so the transposes of the LSTM's gradient GEMMs need no
// copies; a tile is loaded along whichever index is contiguous in memory. Outputs with at most 4 columns (dW
// of layer 0 for a few inputs) take another kernel, whose chains run over kChainParts fixed ranges of k
// added in order (lstm_multi.hpp), and which can also sum A's rows (the bias gradients) in the same pass;
// the column sums of launch_multi_colsum are that kernel's row sums. The long weight-gradient GEMMs
// (launch_multi_gemm_split) run the same tiles over the same kChainParts ranges of k, each into a workspace,
// and a second kernel adds the parts in order: a few models then fill the GPU with kChainParts times the
// blocks, each with a sixteenth of the chain.
//
// At precision tf32 / bf16 (multi_gemm_mma_kernel) the same 64 x 64 tiles feed the tensor cores: each warp
// computes 16 x 32 outputs as 4 mma tiles (lstm_mma_layout.hpp, gemm_*), the operands rounded to the format
// once, as they are stored to shared memory (BF16 two to a word), fp32 accumulation over the K-steps in
// order. Still one fixed chain per output that depends on M, N, K and the operands only.
#include <stdexcept>
#include <string>

#include "kernels/launch.cuh"
#include "kernels/lstm_multi.hpp"
#include "kernels/mma_ops.cuh"

namespace lstmad::kernels {

namespace {

constexpr int kTile = 64, kK = 16, kSide = 16;
static_assert(kK == kMultiGemmKStep, "multi_gemm_parts counts K-steps of this kernel");

// How a launch of the tiled kernels splits K (launch_multi_gemm_split): `parts` parts of part_len k each,
// part p's outputs at C + p x part_stride; with `sums`, the blocks of the first column tile also sum each
// row of A over their part (one chain from 0 in k order, as multi_thin_kernel's row sums), part p's sum of
// row i at sums + m x c_batch + p x M + i. One part: all of K into C, no sums.
struct GemmParts {
  int parts = 1, part_len = 0;
  long long part_stride = 0;
  float* sums = nullptr;
};

// Where a block's chains run: the tile's first output column and its part (blockIdx.x = tile column x
// parts + part, so the parts of a tile are consecutive blocks), k in [kb, ke), the part's offset in C.
struct BlockRange {
  int col0, part, kb, ke;
  long long c_offset;
};

__device__ __forceinline__ BlockRange block_range(int K, const GemmParts& gp) {
  BlockRange r;
  r.part = static_cast<int>(blockIdx.x) % gp.parts;
  r.col0 = static_cast<int>(blockIdx.x) / gp.parts * kTile;
  r.kb = r.part * gp.part_len < K ? r.part * gp.part_len : K;
  r.ke = r.kb + gp.part_len < K ? r.kb + gp.part_len : K;
  r.c_offset = r.part * gp.part_stride;
  return r;
}

// The row sums of a block's A tile, As[k][row] in shared memory: the first kTile threads (two warps, so the
// branch is warp-uniform) each add their row's kn real k in order.
template <int PITCH>
__device__ __forceinline__ void add_row_sums(const float (*As)[PITCH], int kn, int tid, float& sum) {
  if (tid >= kTile) return;
  for (int kk = 0; kk < kn; ++kk) sum += As[kk][tid];
}

__device__ __forceinline__ void store_row_sum(const GemmParts& gp, const BlockRange& br, int M, int row0,
                                              long long c_batch, int tid, float sum) {
  const int m = blockIdx.z;
  if (tid < kTile && row0 + tid < M)
    gp.sums[m * c_batch + br.part * static_cast<long long>(M) + row0 + tid] = sum;
}

// One K-step's tiles, A 64 rows x 16 k and B 16 k x 64 columns, in groups of PW consecutive k of one row of
// A or one column of B (PW = 1 for the fp32 kernel, which stores values; the tensor-core kernel stores a
// group as one operand word: PW = 2 in BF16). Thread tid of NT takes the groups tid + g NT, dealt along
// whichever index is contiguous in memory so that the lanes of a warp read consecutive addresses; they are
// fetched into registers, zeros outside the matrices, and later stored to shared memory.
template <int NT, int PW>
struct TileRegs {
  static constexpr int KG = kK / PW, kGroups = kTile * KG / NT;  // groups per row / column, per thread
  float a[kGroups][PW], b[kGroups][PW];
};

// Where group idx lies: A's row and group of k, B's column and group of k.
struct TilePlace {
  int ar, akg, bc, bkg;
};
template <int KG>
__device__ __forceinline__ TilePlace tile_place(const StridedOperand& A, const StridedOperand& B, int idx) {
  const bool a_rows_contiguous = A.rs == 1, b_cols_contiguous = B.cs == 1;
  return {a_rows_contiguous ? idx % kTile : idx / KG, a_rows_contiguous ? idx / kTile : idx % KG,
          b_cols_contiguous ? idx % kTile : idx / KG, b_cols_contiguous ? idx / kTile : idx % KG};
}

template <int NT, int PW>
__device__ __forceinline__ void fetch_tiles(int M, int N, int K, int k0, int row0, int col0, const float* a,
                                            const StridedOperand& A, const float* b, const StridedOperand& B,
                                            int tid, TileRegs<NT, PW>& r) {
  using R = TileRegs<NT, PW>;
  // One model's operand is far below 2^31 elements (its (row, column) offsets fit an int; the model's own
  // offset, m * batch, was applied to a and b in 64 bits), and 32-bit index arithmetic saves registers.
  const int ars = static_cast<int>(A.rs), acs = static_cast<int>(A.cs);
  const int brs = static_cast<int>(B.rs), bcs = static_cast<int>(B.cs);
#pragma unroll
  for (int g = 0; g < R::kGroups; ++g) {
    const TilePlace t = tile_place<R::KG>(A, B, tid + g * NT);
#pragma unroll
    for (int h = 0; h < PW; ++h) {
      const int gi = row0 + t.ar, gk = k0 + t.akg * PW + h;
      r.a[g][h] = gi < M && gk < K ? a[gi * ars + gk * acs] : 0.f;
      const int gj = col0 + t.bc, gk2 = k0 + t.bkg * PW + h;
      r.b[g][h] = gj < N && gk2 < K ? b[gk2 * brs + gj * bcs] : 0.f;
    }
  }
}

// The fp32 kernel's store: As[k][row] and Bs[k][column]; PITCH, the tiles' row pitch in floats.
template <int NT, int PITCH>
__device__ __forceinline__ void store_tiles(const StridedOperand& A, const StridedOperand& B, int tid,
                                            const TileRegs<NT, 1>& r, float (*As)[PITCH], float (*Bs)[PITCH]) {
#pragma unroll
  for (int g = 0; g < TileRegs<NT, 1>::kGroups; ++g) {
    const TilePlace t = tile_place<kK>(A, B, tid + g * NT);
    As[t.akg][t.ar] = r.a[g][0];
    Bs[t.bkg][t.bc] = r.b[g][0];
  }
}

// The fp32 kernel: 128 threads (kSide x kRowGroups), each with 8 x 4 outputs, rows 8 ty + i and columns
// 4 tx + j, so each k reads its eight A values as two 16-byte shared loads that the warp's lanes share
// (two addresses each) and its four B values as one of 256 bytes: by the count in docs/kernels.md, 8
// shared-load cycles per warp and k against 8 of FMA issue (32 FMAs), where 4 x 4 outputs per thread took
// 6 load cycles per 4 of FMA. The next K-step's tiles are fetched from global memory into registers while
// the current one is summed, and stored to the other of two shared buffers, one barrier per K-step. The
// chains are the same as ever (k = kb..ke-1 in order, started at 0), so are the bits.
constexpr int kPitch = kTile + 4;  // rows of 16-byte words; a transposed tile stores with some conflicts
constexpr int kRowGroups = kTile / 8, kFp32Threads = kSide * kRowGroups;

// Four blocks per SM at most 128 registers each. K: the chains run over the block's part of it
// (block_range); the tiles' zeros start at its end.
__global__ void __launch_bounds__(kFp32Threads, 4)
    multi_gemm_kernel(int M, int N, int K, StridedOperand A, StridedOperand B, float* __restrict__ C,
                      long long ldc, long long c_batch, GemmParts gp,
                      const unsigned char* __restrict__ active) {
  const int m = blockIdx.z;
  if (active != nullptr && active[m] == 0) return;
  __shared__ __align__(16) float As[2][kK][kPitch];
  __shared__ __align__(16) float Bs[2][kK][kPitch];
  const float* __restrict__ a = A.p + m * A.batch;
  const float* __restrict__ b = B.p + m * B.batch;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kSide + tx;
  const BlockRange br = block_range(K, gp);
  const int row0 = blockIdx.y * kTile, col0 = br.col0, ke = br.ke;
  const bool sums = gp.sums != nullptr && col0 == 0;
  float row_sum = 0.f;
  float acc[8][4];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

  TileRegs<kFp32Threads, 1> next;
  fetch_tiles<kFp32Threads, 1>(M, N, ke, br.kb, row0, col0, a, A, b, B, tid, next);
  store_tiles<kFp32Threads, kPitch>(A, B, tid, next, As[0], Bs[0]);
  __syncthreads();
  int buf = 0;
  for (int k0 = br.kb; k0 < ke; k0 += kK) {
    const bool more = k0 + kK < ke;
    if (more) fetch_tiles<kFp32Threads, 1>(M, N, ke, k0 + kK, row0, col0, a, A, b, B, tid, next);
    const int kn = ke - k0 < kK ? ke - k0 : kK;  // only real k: padding never enters a chain
#pragma unroll 2
    for (int kk = 0; kk < kn; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][8 * ty]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][8 * ty + 4]);
      const float4 bv = *reinterpret_cast<const float4*>(&Bs[buf][kk][4 * tx]);
      const float ai[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w}, bj[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(ai[i], bj[j], acc[i][j]);
    }
    if (sums) add_row_sums<kPitch>(As[buf], kn, tid, row_sum);
    if (more) {
      // The other buffer was last read before the previous barrier, so it can be overwritten now.
      store_tiles<kFp32Threads, kPitch>(A, B, tid, next, As[buf ^ 1], Bs[buf ^ 1]);
      buf ^= 1;
    }
    __syncthreads();
  }
  if (sums) store_row_sum(gp, br, M, row0, c_batch, tid, row_sum);
  float* c = C + m * c_batch + br.c_offset;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int gi = row0 + 8 * ty + i;
    if (gi >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int gj = col0 + 4 * tx + j;
      if (gj < N) c[gi * ldc + gj] = acc[i][j];
    }
  }
}

template <mma::Format F>
__device__ __forceinline__ uint32_t operand_word(float lo, float hi) {
  if constexpr (F == mma::Format::TF32) {
    (void)hi;
    return mma::tf32_bits(lo);
  } else {
    return mma::bf16_bits(lo) | (mma::bf16_bits(hi) << 16);
  }
}

// The tensor-core kernel's store: each fetched group of PW k (1 in TF32, 2 in BF16) as one operand word of
// lstm_mma_layout.hpp (gemm_word), Aw[kw][row] and Bw[kw][col], and with `sums` A's fp32 values to Af[k][row]
// for the row sums (add_row_sums). Rounding a value once when it is stored gives the word that rounding it at
// every fragment read gave.
template <mma::Format F, int NT, int PITCH, int FPITCH>
__device__ __forceinline__ void store_words(const StridedOperand& A, const StridedOperand& B, int tid,
                                            const TileRegs<NT, mma::per_word(F)>& r, uint32_t (*Aw)[PITCH],
                                            uint32_t (*Bw)[PITCH], bool sums, float (*Af)[FPITCH]) {
  constexpr int PW = mma::per_word(F);
  using R = TileRegs<NT, PW>;
#pragma unroll
  for (int g = 0; g < R::kGroups; ++g) {
    const TilePlace t = tile_place<R::KG>(A, B, tid + g * NT);
    Aw[t.akg][t.ar] = operand_word<F>(r.a[g][0], r.a[g][PW - 1]);
    Bw[t.bkg][t.bc] = operand_word<F>(r.b[g][0], r.b[g][PW - 1]);
    if (sums) {
#pragma unroll
      for (int h = 0; h < PW; ++h) Af[t.akg * PW + h][t.ar] = r.a[g][h];
    }
  }
}

// 256 threads in 8 warps, four blocks per SM (launch bounds: 64 registers, no spill; with three, 79 in TF32
// and 68 in BF16), so 32 warps to hide the global loads' latency where 24 were. The tiles sit in shared
// memory as operand words (mma::gemm_word), rounded once as they are stored, so a fragment register is one
// 32-bit load: in BF16 half the shared-memory reads of rounding two fp32 values at every fragment read, and
// no conversions in the mma loop. As in the fp32 kernel, the next K-step's words are fetched from global
// memory into registers while the current ones feed the tensor cores, then stored to the other of two
// buffers: one barrier per K-step. K-padding enters as exact zeros (0 x 0 adds nothing to a chain). The
// tiles' pitch is mma::kGemmPitch (72 words), with which a fragment read hits 32 banks; loads along k (a
// transposed operand) then store with conflicts, once per K-step against 24 fragment reads (TF32; 12 in
// BF16). The fp32 values of A (Af) are kept only by the blocks that also sum its rows. Still one fixed chain
// per output that depends on M, N, K and the operands only, and the words and their order are those of
// rounding at the fragment read: the same bits.
template <mma::Format F>
__global__ void __launch_bounds__(kSide* kSide, 4)
    multi_gemm_mma_kernel(int M, int N, int K, StridedOperand A, StridedOperand B, float* __restrict__ C,
                          long long ldc, long long c_batch, GemmParts gp,
                          const unsigned char* __restrict__ active) {
  static_assert(mma::kGemmTile == kTile && mma::kGemmK == kK, "the layout header's GEMM tile");
  constexpr int NT = kSide * kSide;
  constexpr int PW = mma::per_word(F), KM = mma::k_per_mma(F);
  using W = TileRegs<NT, PW>;
  const int m = blockIdx.z;
  if (active != nullptr && active[m] == 0) return;
  constexpr int PITCH = mma::kGemmPitch, FPITCH = kTile + 4;
  __shared__ __align__(16) uint32_t Aw[2][W::KG][PITCH];
  __shared__ __align__(16) uint32_t Bw[2][W::KG][PITCH];
  __shared__ float Af[2][kK][FPITCH];
  const float* __restrict__ a = A.p + m * A.batch;
  const float* __restrict__ b = B.p + m * B.batch;
  const int tid = threadIdx.y * kSide + threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const BlockRange br = block_range(K, gp);
  const int row0 = blockIdx.y * kTile, col0 = br.col0, ke = br.ke;
  const bool sums = gp.sums != nullptr && col0 == 0;
  float row_sum = 0.f;
  float acc[4][4];
#pragma unroll
  for (int nt = 0; nt < 4; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[nt][e] = 0.f;

  W next;
  fetch_tiles<NT, PW>(M, N, ke, br.kb, row0, col0, a, A, b, B, tid, next);
  store_words<F, NT, PITCH, FPITCH>(A, B, tid, next, Aw[0], Bw[0], sums, Af[0]);
  __syncthreads();
  int buf = 0;
  for (int k0 = br.kb; k0 < ke; k0 += kK) {
    const bool more = k0 + kK < ke;
    if (more) fetch_tiles<NT, PW>(M, N, ke, k0 + kK, row0, col0, a, A, b, B, tid, next);
#pragma unroll
    for (int sub = 0; sub < kK / KM; ++sub) {
      uint32_t af[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const mma::Pos w = mma::gemm_word(F, mma::gemm_a_src(F, warp, sub, lane, r, 0));
        af[r] = Aw[buf][w.row][w.col];
      }
      const uint4 av = make_uint4(af[0], af[1], af[2], af[3]);
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        uint32_t bf[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const mma::Pos w = mma::gemm_word(F, mma::gemm_b_src(F, warp, sub, nt, lane, r, 0));
          bf[r] = Bw[buf][w.row][w.col];
        }
        mma::mma_acc<F>(acc[nt], av, bf[0], bf[1]);
      }
    }
    if (sums) add_row_sums<FPITCH>(Af[buf], ke - k0 < kK ? ke - k0 : kK, tid, row_sum);
    if (more) {
      // The other buffers were last read before the previous barrier, so they can be overwritten now.
      store_words<F, NT, PITCH, FPITCH>(A, B, tid, next, Aw[buf ^ 1], Bw[buf ^ 1], sums, Af[buf ^ 1]);
      buf ^= 1;
    }
    __syncthreads();
  }
  if (sums) store_row_sum(gp, br, M, row0, c_batch, tid, row_sum);
  float* c = C + m * c_batch + br.c_offset;
#pragma unroll
  for (int nt = 0; nt < 4; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const mma::Pos p = mma::gemm_c_dst(warp, nt, lane, e);
      const int gi = row0 + p.row, gj = col0 + p.col;
      if (gi < M && gj < N) c[gi * ldc + gj] = acc[nt][e];
    }
}

// C with at most kMultiThinCols columns (dW of a layer with a few inputs: 4H x D, K = T B), and the row
// sums of A (the bias gradients, and launch_multi_colsum): a 64-wide tile would waste most of its work, and
// one thread per row would run a chain of K = 6400 dependent steps (T = 100, B = 64), each waiting on a
// load, with a few hundred threads per model. So a block takes kThinRows rows of C (one per lane) and
// kChainParts warps, warp s running the rows' chains over the s-th of the fixed ranges of k
// (multi_chain_part_len, lstm_multi.hpp): the NC fmaf chains and, with SUM, the row's chain of adds, each
// from 0; the parts then meet in shared memory and are added in order, part 0 first. The order depends on
// K alone, not on the models or the launch.
constexpr int kThinRows = 32, kThinBatch = 16;

template <int NC, bool SUM>
__global__ void __launch_bounds__(kThinRows* kChainParts)
    multi_thin_kernel(int M, int K, StridedOperand A, StridedOperand B, float* __restrict__ C, long long ldc,
                      long long c_batch, float* __restrict__ rowsum, float* __restrict__ rowsum2,
                      long long sum_batch, const unsigned char* __restrict__ active) {
  constexpr int NO = NC + (SUM ? 1 : 0);  // the outputs of a row: its NC columns, then its sum
  static_assert(NO >= 1 && NO <= kChainParts, "one warp combines each output");
  __shared__ float part[kChainParts][NO][kThinRows];
  const int m = blockIdx.y;
  if (active != nullptr && active[m] == 0) return;
  const int lane = threadIdx.x, s = threadIdx.y;
  const int i = static_cast<int>(blockIdx.x) * kThinRows + lane;
  const int len = multi_chain_part_len(K);
  const int k0 = s * len < K ? s * len : K, k1 = k0 + len < K ? k0 + len : K;
  float acc[NO];
#pragma unroll
  for (int o = 0; o < NO; ++o) acc[o] = 0.f;
  if (i < M) {
    const float* __restrict__ a = A.p + m * A.batch + i * A.rs;
    const float* __restrict__ b = B.p + m * B.batch;
    // The part's operands loaded kThinBatch steps at a time, so that several loads can be in flight per
    // thread. B's row k is the same for every lane (a broadcast).
    int k = k0;
    for (; k + kThinBatch <= k1; k += kThinBatch) {
      float av[kThinBatch], bv[kThinBatch][NC > 0 ? NC : 1];
#pragma unroll
      for (int u = 0; u < kThinBatch; ++u) {
        av[u] = a[(k + u) * A.cs];
#pragma unroll
        for (int j = 0; j < NC; ++j) bv[u][j] = b[(k + u) * B.rs + j * B.cs];
      }
#pragma unroll
      for (int u = 0; u < kThinBatch; ++u) {
#pragma unroll
        for (int j = 0; j < NC; ++j) acc[j] = fmaf(av[u], bv[u][j], acc[j]);
        if (SUM) acc[NO - 1] += av[u];
      }
    }
    for (; k < k1; ++k) {
      const float av = a[k * A.cs];
#pragma unroll
      for (int j = 0; j < NC; ++j) acc[j] = fmaf(av, b[k * B.rs + j * B.cs], acc[j]);
      if (SUM) acc[NO - 1] += av;
    }
  }
#pragma unroll
  for (int o = 0; o < NO; ++o) part[s][o][lane] = acc[o];
  __syncthreads();
  if (s >= NO || i >= M) return;
  float out = part[0][s][lane];
#pragma unroll
  for (int p = 1; p < kChainParts; ++p) out += part[p][s][lane];
  if (s < NC) {
    C[m * c_batch + i * ldc + s] = out;
  } else {
    rowsum[m * sum_batch + i] = out;
    if (rowsum2 != nullptr) rowsum2[m * sum_batch + i] = out;
  }
}

template <bool SUM>
void launch_thin(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                 long long ldc, long long c_batch, float* rowsum, float* rowsum2, long long sum_batch,
                 int models, const unsigned char* active, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((M + kThinRows - 1) / kThinRows), models);
  const dim3 block(kThinRows, kChainParts);
  const auto go = [&](auto kernel) {
    launch_kernel(kernel, grid, block, 0, stream, M, K, A, B, C, ldc, c_batch, rowsum, rowsum2, sum_batch,
                  active);
  };
  switch (N) {
    case 0:
      if constexpr (SUM) go(multi_thin_kernel<0, SUM>);
      break;
    case 1:
      go(multi_thin_kernel<1, SUM>);
      break;
    case 2:
      go(multi_thin_kernel<2, SUM>);
      break;
    case 3:
      go(multi_thin_kernel<3, SUM>);
      break;
    default:
      go(multi_thin_kernel<kMultiThinCols, SUM>);
      break;
  }
}

// The tiled GEMM (N > kMultiThinCols) at `math`, each tile's chains in gp.parts parts of K (block_range).
void launch_tiles(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                  long long ldc, long long c_batch, const GemmParts& gp, int models,
                  const unsigned char* active, cudaStream_t stream, GemmMath math) {
  const dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile * gp.parts), (M + kTile - 1) / kTile, models);
  const auto go = [&](auto kernel, dim3 block) {
    launch_kernel(kernel, grid, block, 0, stream, M, N, K, A, B, C, ldc, c_batch, gp, active);
  };
  if (math == GemmMath::TF32)
    go(multi_gemm_mma_kernel<mma::Format::TF32>, dim3(kSide, kSide));
  else if (math == GemmMath::BF16)
    go(multi_gemm_mma_kernel<mma::Format::BF16>, dim3(kSide, kSide));
  else
    go(multi_gemm_kernel, dim3(kSide, kRowGroups));
}

// The parts added in order, part 0 first, one thread per output (the parts' loads independent, the adds
// one chain): threads idx < M N take output (idx / N, idx % N) of C, and with rowsum the next M threads
// the row sums, parts at M N kChainParts floats into the workspace (GemmParts::sums), written to rowsum
// (and rowsum2 unless null) at m x sum_batch + i.
constexpr int kPartsSumThreads = 256;

__global__ void __launch_bounds__(kPartsSumThreads)
    multi_parts_sum_kernel(int M, int N, const float* __restrict__ work, long long work_batch,
                           float* __restrict__ C, long long ldc, long long c_batch,
                           float* __restrict__ rowsum, float* __restrict__ rowsum2, long long sum_batch,
                           const unsigned char* __restrict__ active) {
  const int m = blockIdx.y;
  if (active != nullptr && active[m] == 0) return;
  const int idx = static_cast<int>(blockIdx.x) * kPartsSumThreads + static_cast<int>(threadIdx.x);
  const int outputs = M * N;
  const bool is_sum = idx >= outputs;
  if (is_sum && (rowsum == nullptr || idx >= outputs + M)) return;
  // C's parts are M N apart; the row sums' parts, after all of those, M apart.
  const long long stride = is_sum ? M : outputs;
  const float* __restrict__ w =
      work + m * work_batch +
      (is_sum ? static_cast<long long>(kChainParts) * outputs + (idx - outputs) : idx);
  float p[kChainParts];
#pragma unroll
  for (int s = 0; s < kChainParts; ++s) p[s] = w[s * stride];
  float out = p[0];
#pragma unroll
  for (int s = 1; s < kChainParts; ++s) out += p[s];
  if (!is_sum) {
    C[m * c_batch + static_cast<long long>(idx / N) * ldc + idx % N] = out;
  } else {
    rowsum[m * sum_batch + (idx - outputs)] = out;
    if (rowsum2 != nullptr) rowsum2[m * sum_batch + (idx - outputs)] = out;
  }
}

}  // namespace

void launch_multi_gemm(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                       long long ldc, long long c_batch, int models, const unsigned char* active,
                       cudaStream_t stream, GemmMath math) {
  if (M <= 0 || N <= 0 || models <= 0) return;
  if (N <= kMultiThinCols) {
    launch_thin<false>(M, N, K, A, B, C, ldc, c_batch, nullptr, nullptr, 0, models, active, stream);
    return;
  }
  GemmParts whole;
  whole.part_len = K;
  launch_tiles(M, N, K, A, B, C, ldc, c_batch, whole, models, active, stream, math);
}

bool launch_multi_gemm_split(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                             long long ldc, long long c_batch, float* work, long long work_batch, int models,
                             const unsigned char* active, cudaStream_t stream, GemmMath math, float* rowsum,
                             float* rowsum2, long long sum_batch) {
  if (N <= kMultiThinCols || multi_gemm_parts(N, K) == 1) {
    launch_multi_gemm(M, N, K, A, B, C, ldc, c_batch, models, active, stream, math);
    return false;
  }
  static_assert(multi_gemm_parts(kMultiThinCols + 1, 1 << 20) == kChainParts,
                "the split runs in the thin sums' parts");
  const long long outputs = static_cast<long long>(M) * N;
  if (work == nullptr || work_batch < kChainParts * outputs)
    throw std::invalid_argument("launch_multi_gemm_split: a workspace of " + std::to_string(work_batch) +
                                " floats per model, the " + std::to_string(kChainParts) + " parts of " +
                                std::to_string(M) + " x " + std::to_string(N) + " outputs need " +
                                std::to_string(kChainParts * outputs));
  if (M <= 0 || models <= 0) return false;
  const bool sums = rowsum != nullptr && work_batch >= kChainParts * (outputs + M);
  GemmParts gp;
  gp.parts = kChainParts;
  gp.part_len = multi_chain_part_len(K);
  gp.part_stride = outputs;
  gp.sums = sums ? work + kChainParts * outputs : nullptr;
  launch_tiles(M, N, K, A, B, work, N, work_batch, gp, models, active, stream, math);
  const long long threads = outputs + (sums ? M : 0);
  const dim3 grid(static_cast<unsigned>((threads + kPartsSumThreads - 1) / kPartsSumThreads), models);
  launch_kernel(multi_parts_sum_kernel, grid, dim3(kPartsSumThreads), 0, stream, M, N, work, work_batch, C,
                ldc, c_batch, sums ? rowsum : nullptr, rowsum2, sum_batch, active);
  return sums;
}

void launch_multi_gemm_rowsum(int M, int N, int K, const StridedOperand& A, const StridedOperand& B, float* C,
                              long long ldc, long long c_batch, float* rowsum, float* rowsum2,
                              long long sum_batch, int models, const unsigned char* active,
                              cudaStream_t stream) {
  if (N > kMultiThinCols)
    throw std::invalid_argument("launch_multi_gemm_rowsum: " + std::to_string(N) + " columns, at most " +
                                std::to_string(kMultiThinCols));
  if (M <= 0 || N <= 0 || models <= 0) return;
  launch_thin<true>(M, N, K, A, B, C, ldc, c_batch, rowsum, rowsum2, sum_batch, models, active, stream);
}

void launch_multi_colsum(const float* in, int rows, int width, long long in_batch, float* out, float* out2,
                         long long out_batch, int models, const unsigned char* active, cudaStream_t stream) {
  if (models <= 0 || width <= 0) return;
  // The column sums of `in` are the row sums of A = in^T: (i, k) = in[k][i].
  StridedOperand A;
  A.p = in;
  A.rs = 1;
  A.cs = width;
  A.batch = in_batch;
  launch_thin<true>(width, 0, rows, A, StridedOperand{}, nullptr, 0, 0, out, out2, out_batch, models, active,
                    stream);
}

}  // namespace lstmad::kernels
