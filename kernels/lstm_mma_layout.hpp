// Index maps of the tensor-core time loops (lstm_fused_mma.hpp), host and device, so that a CPU test can
// check them against the warp-level mma's fragment layout without a GPU (tests/test_mma_layout.cpp).
//
// The recurrent product of a step is a small matrix product on the tensor cores, batch rows as the N
// dimension (8 per mma) and the 4H gate rows (forward) or the H hidden units (backward) as M:
//   forward   G (4H x 8)  += R (4H x H)   . h_{t-1}^T (H x 8)      A = R, row-major as stored
//   backward  dh (H x 8)   = R^T (H x 4H) . dgates^T (4H x 8)      A = R^T, read from R column by column
// A is the same for all T steps, so it is staged once per launch into "fragment order": the 16-byte
// words a lane loads for one (tile, k-step) lie next to those of its neighbours (one conflict-free 128-bit
// load per lane). B (h, or the gate gradients) is written to shared memory every step, one row per batch
// row, padded by 4 words so that the lanes of a fragment load hit 32 different banks.
//
// Formats: TF32 runs mma.m16n8k8 (one tf32 per 32-bit register, K = 8 per mma), BF16 runs mma.m16n8k16
// (two bf16 per register, K = 16). Both accumulate in fp32.
//
// Tiles. Forward: the 4H gate rows are cut into tiles of 16 rows that hold the i and f gates (tile kind
// 0) or the g and o gates (kind 1) of 8 consecutive hidden units, so that the accumulator registers of
// one lane hold all four gates of the same (unit, batch row): the cell update needs no exchange between
// lanes. Tile (u8, kind) covers units 8 u8 .. 8 u8 + 7. Backward: tile u16 covers units 16 u16 .. +15.
#pragma once

#if defined(__CUDACC__)
#define LSTMAD_HD __host__ __device__ __forceinline__
#else
#define LSTMAD_HD inline
#endif

namespace lstmad::kernels::mma {

enum class Format { TF32 = 0, BF16 = 1 };

// Elements of K per mma, and per 32-bit register.
LSTMAD_HD constexpr int k_per_mma(Format f) {
  return f == Format::TF32 ? 8 : 16;
}
LSTMAD_HD constexpr int per_word(Format f) {
  return f == Format::TF32 ? 1 : 2;
}

struct Pos {
  int row, col;
};

// The mma.sync fragment layouts ("row.col", PTX ISA, warp-level matrix fragments), groupID g = lane / 4,
// threadID_in_group t = lane % 4. Element `half` (0 = low 16 bits) of register `reg`:
//   A 16 x K: TF32 a0..a3 at (g, t) (g+8, t) (g, t+4) (g+8, t+4);
//             BF16 register r holds (g + 8 (r & 1), 2t + half + 8 (r >> 1)).
//   C 16 x 8 (fp32): c0..c3 at (g, 2t) (g, 2t+1) (g+8, 2t) (g+8, 2t+1).
LSTMAD_HD Pos a_pos(Format f, int lane, int reg, int half) {
  const int g = lane >> 2, t = lane & 3;
  if (f == Format::TF32) return {g + 8 * (reg & 1), t + 4 * (reg >> 1)};
  return {g + 8 * (reg & 1), 2 * t + half + 8 * (reg >> 1)};
}
LSTMAD_HD Pos b_pos(Format f, int lane, int reg, int half) {  // B K x 8: (k, n)
  const int g = lane >> 2, t = lane & 3;
  if (f == Format::TF32) return {t + 4 * reg, g};
  return {2 * t + half + 8 * reg, g};
}
LSTMAD_HD Pos c_pos(int lane, int reg) {
  return {(lane >> 2) + 8 * (reg >> 1), 2 * (lane & 3) + (reg & 1)};
}

// B fragment words from shared memory. The B operand is stored as one row per batch row n (its K values
// consecutive; in BF16 two per word, the lower K in the low half), `stride` words apart. Register `reg` of
// `lane` for k-step `ks` is this word: B's column n = g, and K = ks*K + t + 4 reg (TF32) or the pair
// ks*K + 2t + 8 reg, +1 (BF16) - in words the same formula.
LSTMAD_HD int b_word(int lane, int ks, int reg, int stride) {
  return (lane >> 2) * stride + ks * 8 + (lane & 3) + 4 * reg;
}
// Where element (n, k) of the B operand is stored, in elements of the format (floats for TF32, bf16
// halves for BF16) from the start of the buffer.
LSTMAD_HD int b_element(Format f, int n, int k, int stride) {
  return n * stride * per_word(f) + k;
}
// Row stride of a B buffer holding K values per batch row, in words: 4 words of padding put the 8 rows a
// fragment load touches in 8 different groups of 4 banks.
LSTMAD_HD int b_stride(Format f, int K) {
  return K / per_word(f) + 4;
}

// ---- A: fragment order ----
// Fragment-ordered A is a sequence of 16-byte words, one per (tile, k-step, lane): index
// (tile * ksteps + ks) * 32 + lane; its register `reg` is 32-bit word 4 * index + reg.
// Forward tiles: tile = 2 u8 + kind (H / 8 pairs), ksteps = H / K. Backward: tile = u16, ksteps = 4H / K.
LSTMAD_HD int fwd_tiles(int H) {
  return H / 4;
}
LSTMAD_HD int bwd_tiles(int H) {
  return H / 16;
}
LSTMAD_HD int fwd_ksteps(Format f, int H) {
  return H / k_per_mma(f);
}
LSTMAD_HD int bwd_ksteps(Format f, int H) {
  return 4 * H / k_per_mma(f);
}
// 32-bit words of fragment-ordered A (the same for forward and backward: 4H x H elements).
LSTMAD_HD long long a_words(Format f, int H) {
  return 4LL * H * H / per_word(f);
}

// The 16-byte word of fragment-ordered A that `lane` loads for (tile, k-step ks).
LSTMAD_HD long long a_index(int tile, int ks, int lane, int ksteps) {
  return (static_cast<long long>(tile) * ksteps + ks) * 32 + lane;
}
// The forward tile of kind `kind` (0: gates i, f; 1: g, o) for tile pair `ug` of warp `warp`, with UG tile
// pairs per warp: tile pair (group of 8 units) warp UG + ug.
LSTMAD_HD int fwd_tile(int warp, int UG, int ug, int kind) {
  return 2 * (warp * UG + ug) + kind;
}

// The gate row of R (row-major 4H x H) that row `row` of forward tile (u8, kind) is: gates q = 2 kind
// (rows 0-7) and q = 2 kind + 1 (rows 8-15) of units 8 u8 + row % 8.
LSTMAD_HD int fwd_gate_row(int H, int u8, int kind, int row) {
  return (2 * kind + (row >> 3)) * H + 8 * u8 + (row & 7);
}

// The element of R (flat index into the row-major 4H x H matrix) that half `half` of 32-bit word `w` of
// fragment-ordered A holds; `backward` selects the backward (R^T) staging.
LSTMAD_HD long long a_source(Format f, bool backward, int H, long long w, int half) {
  const int reg = static_cast<int>(w & 3);
  const long long idx = w >> 2;
  const int lane = static_cast<int>(idx & 31);
  const long long tk = idx >> 5;
  const int ksteps = backward ? bwd_ksteps(f, H) : fwd_ksteps(f, H);
  const int tile = static_cast<int>(tk / ksteps), ks = static_cast<int>(tk % ksteps);
  const Pos p = a_pos(f, lane, reg, half);
  const int kcol = ks * k_per_mma(f) + p.col;  // the K index
  if (!backward) return static_cast<long long>(fwd_gate_row(H, tile >> 1, tile & 1, p.row)) * H + kcol;
  // Backward: A = R^T, row = unit 16 tile + p.row, column = gate row m of R.
  return static_cast<long long>(kcol) * H + 16 * tile + p.row;
}

// Forward epilogue: the gate q, unit j and local batch row n of accumulator register `reg` of tile
// (u8, kind) in `lane`. Registers 0, 1 hold gate 2 kind, registers 2, 3 gate 2 kind + 1, of unit
// 8 u8 + lane / 4 and batch rows 2 (lane % 4) and 2 (lane % 4) + 1.
struct GateCell {
  int q, j, n;
};
LSTMAD_HD GateCell fwd_c_owner(int u8, int kind, int lane, int reg) {
  const Pos p = c_pos(lane, reg);
  return {2 * kind + (p.row >> 3), 8 * u8 + (p.row & 7), p.col};
}
// Backward epilogue: unit j and local batch row n of accumulator register `reg` of tile u16.
struct UnitCell {
  int j, n;
};
LSTMAD_HD UnitCell bwd_c_owner(int u16, int lane, int reg) {
  const Pos p = c_pos(lane, reg);
  return {16 * u16 + p.row, p.col};
}
// Register `reg`'s cell from register 0's (the backward kernel keeps only that one): 8 units further for
// registers 2 and 3, one row further for registers 1 and 3.
LSTMAD_HD UnitCell bwd_cell(UnitCell c0, int reg) {
  return {c0.j + 8 * (reg >> 1), c0.n + (reg & 1)};
}

// ---- the multi-model GEMM on the tensor cores (lstm_multi_gemm.cu) ----
// A block computes a 64 x 64 tile of C over K in steps of 16. Its 8 warps take 16 rows x 32 columns each
// (warp / 2 picks the rows, warp % 2 the columns), as 4 mma tiles of 16 x 8. For the K-step's sub-step
// `sub` (2 in TF32, 1 in BF16), element `half` of register `reg` of `lane`'s A fragment is the tile's A
// element {k, row}, of its B fragment for n-tile nt B's {k, col}; accumulator register e of n-tile nt is
// C's (row, col) of the block tile.
// The tiles sit in shared memory as operand words, rounded once when they are stored: word {k / per_word,
// row} of A holds its elements k of that row (TF32: one; BF16: the pair 2 kw, 2 kw + 1, low half first),
// and so does B's for a column. A fragment register is then one word: its two BF16 halves are the pair
// of one word (gemm_word; tests/test_mma_layout.cpp checks both).
constexpr int kGemmTile = 64, kGemmK = 16;
// Row pitch (32-bit words) of the shared tiles, kGemmK / per_word rows of words: with 72 (8 mod 32) the lanes
// of a fragment read, 8 rows or columns g by 4 word rows t, touch 32 different banks in both formats
// (tests/test_mma_layout.cpp checks this); the fp32 kernel's 68 gives 2-way conflicts.
constexpr int kGemmPitch = kGemmTile + 8;
// The word of a tile element {k, row or column}.
LSTMAD_HD Pos gemm_word(Format f, Pos element) {
  return {element.row / per_word(f), element.col};
}
LSTMAD_HD Pos gemm_a_src(Format f, int warp, int sub, int lane, int reg, int half) {  // {k, row}
  const Pos p = a_pos(f, lane, reg, half);
  return {sub * k_per_mma(f) + p.col, (warp >> 1) * 16 + p.row};
}
LSTMAD_HD Pos gemm_b_src(Format f, int warp, int sub, int nt, int lane, int reg, int half) {  // {k, col}
  const Pos p = b_pos(f, lane, reg, half);
  return {sub * k_per_mma(f) + p.row, (warp & 1) * 32 + nt * 8 + p.col};
}
LSTMAD_HD Pos gemm_c_dst(int warp, int nt, int lane, int reg) {  // {row, col}
  const Pos p = c_pos(lane, reg);
  return {(warp >> 1) * 16 + p.row, (warp & 1) * 32 + nt * 8 + p.col};
}

}  // namespace lstmad::kernels::mma
