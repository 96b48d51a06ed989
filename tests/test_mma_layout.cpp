// The tensor-core time loops' index maps (kernels/lstm_mma_layout.hpp) and launch plan
// (kernels/lstm_mma_plan.hpp), checked on the host. A warp's mma.sync is emulated from the fragment layout
// as the PTX ISA states it (written out below independently of the header), fed with the words that the
// kernels' own index functions stage and load, and its result, read back through the kernels' epilogue
// maps, must equal the plain products R h^T (forward) and R^T dgates^T (backward) exactly. The values are
// multiples of 1/8 of at most 5 bits, exact in TF32 and BF16, so any layout slip shows as a wrong number.
// What this cannot check (barriers, races, the hardware itself) is left to tests/gpu/test_fused_lstm.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/lstm_mma_layout.hpp"
#include "kernels/lstm_mma_plan.hpp"

namespace lstmad {
namespace {

using kernels::mma::Format;
namespace mma = kernels::mma;

// ---- the PTX ISA's fragment layouts, element by element ----
// A (16 x K) element i of a lane (TF32: i = register; BF16: i = 2 register + half).
std::pair<int, int> spec_a(Format f, int lane, int i) {
  const int gid = lane / 4, tig = lane % 4;
  if (f == Format::TF32) {
    const int row = (i == 0 || i == 2) ? gid : gid + 8;
    const int col = (i == 0 || i == 1) ? tig : tig + 4;
    return {row, col};
  }
  const int row = (i < 2 || (i >= 4 && i < 6)) ? gid : gid + 8;
  const int col = i < 4 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
  return {row, col};
}
// B (K x 8) element i.
std::pair<int, int> spec_b(Format f, int lane, int i) {
  const int gid = lane / 4, tig = lane % 4;
  if (f == Format::TF32) return {i == 0 ? tig : tig + 4, gid};
  return {i < 2 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8, gid};
}
// C/D (16 x 8, fp32) element i.
std::pair<int, int> spec_c(int lane, int i) {
  const int gid = lane / 4, tig = lane % 4;
  return {i < 2 ? gid : gid + 8, tig * 2 + (i & 1)};
}

// The value an operand word element holds: TF32 words are fp32 bits, BF16 halves the top 16 bits of one.
double decode(Format f, uint32_t word, int half) {
  uint32_t bits = word;
  if (f == Format::BF16) bits = (half == 0 ? (word & 0xFFFFu) : (word >> 16)) << 16;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}
uint32_t encode_tf32(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}
uint16_t encode_bf16(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  EXPECT_EQ(b & 0xFFFFu, 0u) << v << " is not exact in bf16";
  return static_cast<uint16_t>(b >> 16);
}

// One warp-wide mma: d[lane][0..3] += A . B, A and B given as each lane's registers.
void emulate_mma(Format f, const uint32_t (&a)[32][4], const uint32_t (&b)[32][2], double (&d)[32][4]) {
  const int K = mma::k_per_mma(f), pw = mma::per_word(f);
  std::vector<double> A(16 * K, std::numeric_limits<double>::quiet_NaN()), Bm(K * 8, A[0]);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4 * pw; ++i) {
      const auto [r, c] = spec_a(f, lane, i);
      A[r * K + c] = decode(f, a[lane][i / pw], i % pw);
    }
    for (int i = 0; i < 2 * pw; ++i) {
      const auto [r, c] = spec_b(f, lane, i);
      Bm[r * 8 + c] = decode(f, b[lane][i / pw], i % pw);
    }
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const auto [r, c] = spec_c(lane, i);
      double s = 0;
      for (int k = 0; k < K; ++k) s += A[r * K + k] * Bm[k * 8 + c];
      d[lane][i] += s;  // a NaN here means a fragment element the layout never filled
    }
}

std::vector<float> exact_values(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> u(-16, 16);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(u(rng)) / 8.f;
  return v;
}

// A staged as the kernels' stage_a_kernel does, through mma::a_source.
std::vector<uint32_t> stage(Format f, bool backward, int H, const std::vector<float>& R) {
  std::vector<uint32_t> out(static_cast<std::size_t>(mma::a_words(f, H)));
  for (long long w = 0; w < mma::a_words(f, H); ++w) {
    if (f == Format::TF32) {
      out[w] = encode_tf32(R[mma::a_source(f, backward, H, w, 0)]);
    } else {
      out[w] = encode_bf16(R[mma::a_source(f, backward, H, w, 0)]) |
               (static_cast<uint32_t>(encode_bf16(R[mma::a_source(f, backward, H, w, 1)])) << 16);
    }
  }
  return out;
}

// A B buffer (8 rows of K values) written element by element through mma::b_element, as the kernels do.
std::vector<uint32_t> b_buffer(Format f, const std::vector<float>& v, int K) {
  const int stride = mma::b_stride(f, K);
  std::vector<uint32_t> buf(static_cast<std::size_t>(8) * stride, 0xFFFFFFFFu);  // NaN where never written
  for (int n = 0; n < 8; ++n)
    for (int k = 0; k < K; ++k) {
      const int e = mma::b_element(f, n, k, stride);
      if (f == Format::TF32) {
        buf[e] = encode_tf32(v[n * K + k]);
      } else {
        uint32_t& w = buf[e / 2];
        const uint32_t h = encode_bf16(v[n * K + k]);
        w = (e % 2 == 0) ? ((w & 0xFFFF0000u) | h) : ((w & 0xFFFFu) | (h << 16));
      }
    }
  return buf;
}

// One tile's products over all k-steps, as the kernels' loops run them.
void run_tile(Format f, const std::vector<uint32_t>& a_frag, int tile, int ksteps,
              const std::vector<uint32_t>& bbuf, int stride, double (&d)[32][4]) {
  for (auto& l : d)
    for (double& x : l) x = 0;
  for (int ks = 0; ks < ksteps; ++ks) {
    uint32_t a[32][4], b[32][2];
    for (int lane = 0; lane < 32; ++lane) {
      const std::size_t base = static_cast<std::size_t>(mma::a_index(tile, ks, lane, ksteps));
      for (int r = 0; r < 4; ++r) a[lane][r] = a_frag[4 * base + r];
      for (int r = 0; r < 2; ++r) b[lane][r] = bbuf[mma::b_word(lane, ks, r, stride)];
    }
    emulate_mma(f, a, b, d);
  }
}

class MmaLayout : public ::testing::TestWithParam<std::tuple<Format, int>> {};

TEST_P(MmaLayout, ForwardTilesComputeEveryGateOfEveryCellOnce) {
  const auto [f, H] = GetParam();
  std::mt19937 rng(H * 7 + static_cast<int>(f));
  const std::vector<float> R = exact_values(4ull * H * H, rng), h = exact_values(8ull * H, rng);
  const std::vector<uint32_t> A = stage(f, false, H, R), Bb = b_buffer(f, h, H);
  std::set<std::tuple<int, int, int>> seen;
  for (int tile = 0; tile < mma::fwd_tiles(H); ++tile) {
    double d[32][4];
    run_tile(f, A, tile, mma::fwd_ksteps(f, H), Bb, mma::b_stride(f, H), d);
    for (int lane = 0; lane < 32; ++lane)
      for (int r = 0; r < 4; ++r) {
        const mma::GateCell c = mma::fwd_c_owner(tile / 2, tile % 2, lane, r);
        double want = 0;
        for (int k = 0; k < H; ++k) want += double(R[(c.q * H + c.j) * H + k]) * h[c.n * H + k];
        ASSERT_EQ(d[lane][r], want) << "tile " << tile << " lane " << lane << " reg " << r;
        EXPECT_TRUE(seen.insert({c.q, c.j, c.n}).second)
            << "gate " << c.q << " unit " << c.j << " row " << c.n;
      }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(4 * H * 8));
  // The kernel's epilogue reads registers e = 2 (q % 2) + row of kind q / 2 as gate q of one cell.
  for (int lane = 0; lane < 32; ++lane)
    for (int e2 = 0; e2 < 2; ++e2)
      for (int q = 0; q < 4; ++q) {
        const mma::GateCell c = mma::fwd_c_owner(3, q >> 1, lane, ((q & 1) << 1) | e2);
        EXPECT_EQ(c.q, q);
        EXPECT_EQ(c.j, mma::fwd_c_owner(3, 0, lane, 0).j);
        EXPECT_EQ(c.n, mma::c_pos(lane, e2).col);
      }
}

TEST_P(MmaLayout, BackwardTilesComputeEveryUnitsRecurrentGradientOnce) {
  const auto [f, H] = GetParam();
  std::mt19937 rng(H * 11 + static_cast<int>(f));
  const std::vector<float> R = exact_values(4ull * H * H, rng), dg = exact_values(8ull * 4 * H, rng);
  const std::vector<uint32_t> A = stage(f, true, H, R), Bb = b_buffer(f, dg, 4 * H);
  std::set<std::pair<int, int>> seen;
  for (int tile = 0; tile < mma::bwd_tiles(H); ++tile) {
    double d[32][4];
    run_tile(f, A, tile, mma::bwd_ksteps(f, H), Bb, mma::b_stride(f, 4 * H), d);
    for (int lane = 0; lane < 32; ++lane)
      for (int r = 0; r < 4; ++r) {
        const mma::UnitCell c = mma::bwd_c_owner(tile, lane, r);
        double want = 0;
        for (int m = 0; m < 4 * H; ++m) want += double(R[m * H + c.j]) * dg[c.n * 4 * H + m];
        ASSERT_EQ(d[lane][r], want) << "tile " << tile << " lane " << lane << " reg " << r;
        EXPECT_TRUE(seen.insert({c.j, c.n}).second) << "unit " << c.j << " row " << c.n;
      }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(H * 8));
  EXPECT_EQ(mma::bwd_ksteps(f, H) % 4, 0) << "the backward loop runs k-steps in fours";
}

// The kernels' tile numbering (one or two tile pairs per warp) visits every forward tile once, and the
// backward kernel's cells rebuilt from register 0 are bwd_c_owner's.
TEST_P(MmaLayout, KernelsNumberTilesAndCellsAsTheMapsDo) {
  const int H = std::get<1>(GetParam());
  for (int UG : {1, 2}) {
    if ((H / 8) % UG != 0) continue;
    std::set<int> tiles;
    for (int warp = 0; warp < H / (8 * UG); ++warp)
      for (int ug = 0; ug < UG; ++ug)
        for (int kind = 0; kind < 2; ++kind) {
          const int t = mma::fwd_tile(warp, UG, ug, kind);
          EXPECT_TRUE(tiles.insert(t).second) << "UG " << UG << " tile " << t;
          EXPECT_EQ(mma::fwd_c_owner(t / 2, t % 2, 0, 0).j, 8 * (warp * UG + ug)) << "UG " << UG;
        }
    EXPECT_EQ(tiles.size(), static_cast<std::size_t>(mma::fwd_tiles(H))) << "UG " << UG;
    EXPECT_EQ(*tiles.rbegin(), mma::fwd_tiles(H) - 1) << "UG " << UG;
  }
  for (int w = 0; w < mma::bwd_tiles(H); ++w)
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        const mma::UnitCell c = mma::bwd_c_owner(w, lane, e), r = mma::bwd_cell(mma::bwd_c_owner(w, lane, 0), e);
        EXPECT_EQ(r.j, c.j);
        EXPECT_EQ(r.n, c.n);
      }
}

TEST_P(MmaLayout, FragmentLoadsOfALaneGroupHitThirtyTwoBanks) {
  const auto [f, H] = GetParam();
  for (int K : {H, 4 * H}) {
    const int stride = mma::b_stride(f, K);
    for (int ks = 0; ks < K / mma::k_per_mma(f); ++ks)
      for (int r = 0; r < 2; ++r) {
        std::set<int> banks;
        for (int lane = 0; lane < 32; ++lane) banks.insert(mma::b_word(lane, ks, r, stride) % 32);
        EXPECT_EQ(banks.size(), 32u) << "K " << K << " k-step " << ks << " register " << r;
      }
  }
}

// The multi-model GEMM's warp tiles (lstm_multi_gemm.cu): 8 warps over a 64 x 64 block tile from shared
// tiles As[k][row], Bs[k][col] for one K-step of 16; every output once, equal to the plain sum.
TEST(MmaLayoutGemm, EightWarpsCoverTheBlockTileWithTheRightSums) {
  for (Format f : {Format::TF32, Format::BF16}) {
    std::mt19937 rng(5 + static_cast<int>(f));
    const int T = mma::kGemmTile, KK = mma::kGemmK, pw = mma::per_word(f);
    const std::vector<float> As = exact_values(static_cast<std::size_t>(KK) * T, rng),
                             Bs = exact_values(static_cast<std::size_t>(KK) * T, rng);
    auto word = [&](const std::vector<float>& m, mma::Pos lo, mma::Pos hi) -> uint32_t {
      const float a = m[lo.row * T + lo.col], b = m[hi.row * T + hi.col];
      if (f == Format::TF32) return encode_tf32(a);
      return encode_bf16(a) | (static_cast<uint32_t>(encode_bf16(b)) << 16);
    };
    std::set<std::pair<int, int>> seen;
    for (int warp = 0; warp < 8; ++warp)
      for (int nt = 0; nt < 4; ++nt) {
        double d[32][4] = {};
        for (int sub = 0; sub < KK / mma::k_per_mma(f); ++sub) {
          uint32_t a[32][4], b[32][2];
          for (int lane = 0; lane < 32; ++lane) {
            for (int r = 0; r < 4; ++r)
              a[lane][r] = word(As, mma::gemm_a_src(f, warp, sub, lane, r, 0), mma::gemm_a_src(f, warp, sub, lane, r, pw - 1));
            for (int r = 0; r < 2; ++r)
              b[lane][r] = word(Bs, mma::gemm_b_src(f, warp, sub, nt, lane, r, 0),
                                mma::gemm_b_src(f, warp, sub, nt, lane, r, pw - 1));
          }
          emulate_mma(f, a, b, d);
        }
        for (int lane = 0; lane < 32; ++lane)
          for (int e = 0; e < 4; ++e) {
            const mma::Pos c = mma::gemm_c_dst(warp, nt, lane, e);
            double want = 0;
            for (int k = 0; k < KK; ++k) want += double(As[k * T + c.row]) * Bs[k * T + c.col];
            ASSERT_EQ(d[lane][e], want) << "warp " << warp << " n-tile " << nt << " lane " << lane << " reg " << e;
            EXPECT_TRUE(seen.insert({c.row, c.col}).second) << c.row << "," << c.col;
          }
      }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(T * T));
  }
}

// The tiles are stored as operand words (mma::gemm_word): each fragment register must be one word, its
// BF16 halves the pair 2 kw, 2 kw + 1 of one row (A) or column (B), low half first, so that rounding at the
// store gives the register that rounding at the read gave.
TEST(MmaLayoutGemm, EveryFragmentRegisterIsOneStoredWord) {
  for (Format f : {Format::TF32, Format::BF16}) {
    const int pw = mma::per_word(f);
    const auto check = [&](mma::Pos lo, mma::Pos hi, const std::string& what) {
      const mma::Pos w = mma::gemm_word(f, lo);
      EXPECT_EQ(lo.row % pw, 0) << what;
      EXPECT_LT(w.row, mma::kGemmK / pw) << what;
      EXPECT_EQ(hi.row, lo.row + pw - 1) << what;
      EXPECT_EQ(hi.col, lo.col) << what;
      EXPECT_EQ(mma::gemm_word(f, hi).row, w.row) << what;
    };
    for (int warp = 0; warp < 8; ++warp)
      for (int sub = 0; sub < mma::kGemmK / mma::k_per_mma(f); ++sub)
        for (int lane = 0; lane < 32; ++lane) {
          for (int r = 0; r < 4; ++r)
            check(mma::gemm_a_src(f, warp, sub, lane, r, 0), mma::gemm_a_src(f, warp, sub, lane, r, pw - 1),
                  "A warp " + std::to_string(warp) + " lane " + std::to_string(lane) + " reg " +
                      std::to_string(r));
          for (int nt = 0; nt < 4; ++nt)
            for (int r = 0; r < 2; ++r)
              check(mma::gemm_b_src(f, warp, sub, nt, lane, r, 0),
                    mma::gemm_b_src(f, warp, sub, nt, lane, r, pw - 1),
                    "B warp " + std::to_string(warp) + " n-tile " + std::to_string(nt) + " lane " +
                        std::to_string(lane) + " reg " + std::to_string(r));
        }
  }
}

// The banks of one fragment read: the words of its 32 lanes at `pitch` words a row.
template <typename Src>
std::set<int> gemm_banks(Format f, int pitch, Src src) {
  std::set<int> banks;
  for (int lane = 0; lane < 32; ++lane) {
    const mma::Pos w = mma::gemm_word(f, src(lane));
    banks.insert((w.row * pitch + w.col) % 32);
  }
  return banks;
}

// Every fragment read of the word tiles at the kernel's pitch hits 32 banks; at the fp32 kernel's pitch
// of 68 they would not (2-way conflicts), which is why the pitch differs.
TEST(MmaLayoutGemm, FragmentReadsAtTheKernelsPitchHitThirtyTwoBanks) {
  for (Format f : {Format::TF32, Format::BF16}) {
    bool conflicts_at_68 = false;
    for (int warp = 0; warp < 8; ++warp)
      for (int sub = 0; sub < mma::kGemmK / mma::k_per_mma(f); ++sub) {
        for (int r = 0; r < 4; ++r) {
          const auto a = [&](int lane) { return mma::gemm_a_src(f, warp, sub, lane, r, 0); };
          EXPECT_EQ(gemm_banks(f, mma::kGemmPitch, a).size(), 32u) << "A register " << r;
          conflicts_at_68 |= gemm_banks(f, 68, a).size() < 32u;
        }
        for (int nt = 0; nt < 4; ++nt)
          for (int r = 0; r < 2; ++r) {
            const auto b = [&](int lane) { return mma::gemm_b_src(f, warp, sub, nt, lane, r, 0); };
            EXPECT_EQ(gemm_banks(f, mma::kGemmPitch, b).size(), 32u)
                << "B n-tile " << nt << " register " << r;
            conflicts_at_68 |= gemm_banks(f, 68, b).size() < 32u;
          }
      }
    EXPECT_TRUE(conflicts_at_68) << "a pitch of 68 words would do as well";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MmaLayout,
                         ::testing::Combine(::testing::Values(Format::TF32, Format::BF16),
                                            ::testing::Values(16, 32, 48, 64, 128, 256)),
                         [](const auto& param_info) {
                           return std::string(std::get<0>(param_info.param) == Format::TF32 ? "tf32"
                                                                                            : "bf16") +
                                  "_H" + std::to_string(std::get<1>(param_info.param));
                         });

kernels::FusedLimits h200() {
  kernels::FusedLimits lim;
  lim.sm_count = 132;
  lim.smem_optin = 232448;
  lim.max_threads = 1024;
  lim.cluster_launch = 1;
  return lim;
}

TEST(MmaPlan, RowsBlocksThreadsAndWhereRSits) {
  const kernels::FusedLimits lim = h200();
  for (Format f : {Format::TF32, Format::BF16})
    for (int H = 16; H <= 256; H += 16) {
      const kernels::MmaLaunch p = kernels::plan_fused_mma(f, H, 100, lim);
      ASSERT_GT(p.grid, 0) << H;
      EXPECT_EQ(p.grid, 13);  // ceil(100 / 8)
      EXPECT_EQ(p.fwd_threads, H / p.fwd_units_per_warp * 32);
      EXPECT_LE(p.fwd_threads, 512);
      // The backward in 4 parts of K up to H = 64, 2 up to 128, whole above: 512 threads at most; not where
      // the split's exchange would push R^T out of shared memory (TF32 H = 112).
      const int parts = H <= 64 ? 4 : H <= 128 && !(f == Format::TF32 && H == 112) ? 2 : 1;
      EXPECT_EQ(p.bwd_parts, parts) << H;
      EXPECT_EQ(p.bwd_threads, H / 16 * 32 * parts);
      EXPECT_LE(p.bwd_threads, 512);
      // R sits in registers where a lane's fragments take at most 64 registers forward (8 H / K) or
      // backward split (16 H / K / parts; 32 unsplit), else in shared memory exactly when fragment-ordered R
      // and the step buffers fit the opt-in limit, else in L2.
      const int K = f == Format::TF32 ? 8 : 16;
      EXPECT_EQ(p.r_reg_fwd, 8 * H / K <= 64) << H;
      EXPECT_EQ(p.r_reg_bwd, 16 * H / K / parts <= (parts > 1 ? 64 : 32)) << H;
      EXPECT_EQ(p.r_reg_bwd, H <= 64 || (f == Format::BF16 && H <= 128)) << H;
      const int limit_h = f == Format::TF32 ? 112 : 160;
      EXPECT_EQ(p.r_smem_fwd, !p.r_reg_fwd && H <= limit_h) << H;
      EXPECT_EQ(p.r_smem_bwd, !p.r_reg_bwd && H <= limit_h) << H;
      EXPECT_LE(p.smem_fwd, static_cast<std::size_t>(lim.smem_optin));
      EXPECT_LE(p.smem_bwd, static_cast<std::size_t>(lim.smem_optin));
      // R's share in shared memory: all of its k-steps where R fits, else the most that fit in a multiple of
      // 4, at least one 4 on the H200 (none where R is in registers); the step buffers and (split) the
      // exchange, 4 chains x 4 cells x 32 lanes of floats per tile, beside it.
      const int fks = H / K, bks = 4 * H / K;
      const std::size_t fbuf = 2u * 8 * static_cast<std::size_t>(mma::b_stride(f, H)) * 4,
                        bbuf = 2u * 8 * static_cast<std::size_t>(mma::b_stride(f, 4 * H)) * 4 +
                               (parts > 1 ? static_cast<std::size_t>(H / 16) * 2048 : 0);
      for (const auto& [ks, all, reg, in_smem, tiles, buf, smem] :
           {std::tuple{p.r_ksteps_fwd, fks, p.r_reg_fwd, p.r_smem_fwd, H / 4, fbuf, p.smem_fwd},
            std::tuple{p.r_ksteps_bwd, bks, p.r_reg_bwd, p.r_smem_bwd, H / 16, bbuf, p.smem_bwd}}) {
        const std::size_t per = static_cast<std::size_t>(tiles) * 512;
        EXPECT_EQ(smem, static_cast<std::size_t>(ks) * per + buf) << H;
        if (reg) {
          EXPECT_EQ(ks, 0) << H;
        }
        // All of R in shared memory exactly where all of it fits beside the buffers.
        EXPECT_EQ(in_smem, !reg && static_cast<std::size_t>(all) * per + buf <=
                                       static_cast<std::size_t>(lim.smem_optin))
            << H;
        EXPECT_EQ(in_smem, !reg && ks == all) << H;
        if (!reg && ks < all) {
          EXPECT_EQ(ks % 4, 0) << H;
          EXPECT_GE(ks, 4) << H;
          EXPECT_GT(static_cast<std::size_t>(ks + 4) * per + buf, static_cast<std::size_t>(lim.smem_optin))
              << H;
        }
      }
      if (p.r_smem_fwd) {
        EXPECT_EQ(static_cast<std::size_t>(fks) * (H / 4) * 512, kernels::mma_r_bytes(f, H));
      }
    }
}

// Where all of R does not fit shared memory, as much of it as does: TF32 H = 128 (256 KB of R, both ways)
// keeps about 3/4 of R there and reads only the rest from L2; H = 256 (512 KB in BF16, 1 MB in TF32) a
// quarter to a third.
TEST(MmaPlan, RThatDoesNotFitSharedMemoryKeepsMostOfItThere) {
  const kernels::FusedLimits lim = h200();
  const kernels::MmaLaunch t128 = kernels::plan_fused_mma(Format::TF32, 128, 32, lim),
                           b256 = kernels::plan_fused_mma(Format::BF16, 256, 32, lim),
                           t256 = kernels::plan_fused_mma(Format::TF32, 256, 32, lim);
  EXPECT_FALSE(t128.r_reg_fwd || t128.r_smem_fwd || t128.r_reg_bwd || t128.r_smem_bwd);
  EXPECT_EQ(t128.r_ksteps_fwd, 12);  // of 16: (232448 - 8448) / (32 tiles x 512 B) = 13.7
  EXPECT_EQ(t128.bwd_parts, 2);
  EXPECT_EQ(t128.r_ksteps_bwd, 44);  // of 64: (232448 - 33024 - 16384) / (8 x 512) = 44.7
  EXPECT_EQ(b256.r_ksteps_fwd, 4);   // of 16: (232448 - 8448) / (64 x 512) = 6.8
  EXPECT_EQ(b256.r_ksteps_bwd, 24);  // of 64: (232448 - 33024) / (16 x 512) = 24.3
  EXPECT_EQ(t256.r_ksteps_fwd, 4);   // of 32
  // A limit below four k-steps of every tile beside the step buffers: R from L2 as before.
  kernels::FusedLimits small = lim;
  small.smem_optin = 40 * 1024;
  const kernels::MmaLaunch s = kernels::plan_fused_mma(Format::TF32, 128, 32, small);
  ASSERT_GT(s.grid, 0);
  EXPECT_EQ(s.bwd_parts, 1);  // the exchange does not fit either
  EXPECT_EQ(s.r_ksteps_fwd, 0);
  EXPECT_EQ(s.r_ksteps_bwd, 0);
  EXPECT_EQ(s.smem_fwd, 2u * 8 * static_cast<std::size_t>(mma::b_stride(Format::TF32, 128)) * 4);
}

// The split backward is for launches whose blocks all run at once: a model alone, or a few; with more blocks
// than SMs (many models, or many rows) each block keeps one warp per tile, as does the switch that turns
// the split off. The forward does not change.
TEST(MmaPlan, TheBackwardSplitsKWhereItsBlocksFitTheSms) {
  const kernels::FusedLimits lim = h200();
  for (Format f : {Format::TF32, Format::BF16}) {
    const kernels::MmaLaunch alone = kernels::plan_fused_mma(f, 64, 64, lim),
                             few = kernels::plan_fused_mma(f, 64, 64, lim, 16),
                             many = kernels::plan_fused_mma(f, 64, 64, lim, 17),
                             wide = kernels::plan_fused_mma(f, 64, 8 * 132 + 1, lim),
                             off = kernels::plan_fused_mma(f, 64, 64, lim, 1, kernels::BwdSplit::Off),
                             forced =
                                 kernels::plan_fused_mma(f, 64, 64, lim, 1024, kernels::BwdSplit::Always);
    EXPECT_EQ(alone.bwd_parts, 4);
    EXPECT_EQ(few.bwd_parts, 4);  // 16 x 8 blocks <= 132
    EXPECT_EQ(many.bwd_parts, 1);
    EXPECT_EQ(wide.bwd_parts, 1);
    EXPECT_EQ(off.bwd_parts, 1);
    EXPECT_EQ(forced.bwd_parts, 4);  // to compare at many models
    EXPECT_TRUE(forced.r_reg_bwd);
    EXPECT_EQ(many.bwd_threads, 128);
    EXPECT_TRUE(alone.r_reg_bwd);
    EXPECT_FALSE(many.r_reg_bwd);  // unsplit, R^T takes the smem path at H = 64 as before
    EXPECT_EQ(many.fwd_threads, alone.fwd_threads);
    EXPECT_EQ(many.r_reg_fwd, alone.r_reg_fwd);
  }
  // A device with fewer threads per block or too little shared memory for the exchange keeps one warp.
  kernels::FusedLimits narrow = lim;
  narrow.max_threads = 256;
  EXPECT_EQ(kernels::plan_fused_mma(Format::TF32, 64, 64, narrow).bwd_parts, 1);
  EXPECT_EQ(kernels::plan_fused_mma(Format::TF32, 32, 64, narrow).bwd_parts, 4);  // 2 tiles x 4 warps
  kernels::FusedLimits tight = lim;
  tight.smem_optin = static_cast<int>(2 * 8 * mma::b_stride(Format::TF32, 4 * 64) * 4 + 1024);
  const kernels::MmaLaunch t = kernels::plan_fused_mma(Format::TF32, 64, 64, tight);
  EXPECT_EQ(t.bwd_parts, 1);
  EXPECT_LE(t.smem_bwd, static_cast<std::size_t>(tight.smem_optin));
}

TEST(MmaPlan, ShapesTheKernelsCannotTakeNameAnEngineThatCan) {
  const kernels::FusedLimits lim = h200();
  for (int H : {8, 100, 272}) {
    const std::string why = kernels::mma_unsupported_reason(Format::TF32, H, 64, lim);
    EXPECT_NE(why.find("multiples of 16"), std::string::npos) << why;
    EXPECT_NE(why.find("engine \"cudnn\""), std::string::npos) << why;
    EXPECT_EQ(kernels::plan_fused_mma(Format::TF32, H, 64, lim).grid, 0);
    // fp32 on the fused engine is named only where its kernels take H.
    EXPECT_EQ(why.find("precision fp32 on engine \"fused\"") != std::string::npos,
              H <= kernels::kFusedMaxHidden)
        << why;
  }
  const std::string beyond =
      kernels::mma_unsupported_reason(Format::BF16, kernels::kFusedMaxHidden + 1, 64, lim);
  EXPECT_EQ(beyond.find("precision fp32 on engine \"fused\""), std::string::npos) << beyond;
  EXPECT_NE(beyond.find("engine \"cudnn\" takes this shape"), std::string::npos) << beyond;
  kernels::FusedLimits small = lim;
  small.max_threads = 256;
  EXPECT_NE(kernels::mma_unsupported_reason(Format::BF16, 128, 64, small).find("threads per block"),
            std::string::npos);
  EXPECT_EQ(kernels::mma_unsupported_reason(Format::BF16, 64, 64, lim), "");
  // The shapes anomaly detection uses most: H = 64 keeps R in registers forward in both formats, and
  // backward split into 4 parts of K; unsplit (many models) in shared memory backward, but for BF16 at
  // H = 32.
  const kernels::MmaLaunch t = kernels::plan_fused_mma(Format::TF32, 64, 64, lim),
                           b = kernels::plan_fused_mma(Format::BF16, 64, 64, lim),
                           b32 = kernels::plan_fused_mma(Format::BF16, 32, 64, lim),
                           tn = kernels::plan_fused_mma(Format::TF32, 64, 64, lim, 1024),
                           bn = kernels::plan_fused_mma(Format::BF16, 64, 64, lim, 1024),
                           b32n = kernels::plan_fused_mma(Format::BF16, 32, 64, lim, 1024);
  EXPECT_TRUE(t.r_reg_fwd && t.r_reg_bwd && t.bwd_parts == 4);
  EXPECT_TRUE(b.r_reg_fwd && b.r_reg_bwd && b.bwd_parts == 4);
  EXPECT_TRUE(b32.r_reg_fwd && b32.r_reg_bwd);
  EXPECT_TRUE(tn.r_reg_fwd && !tn.r_reg_bwd && tn.r_smem_bwd);
  EXPECT_TRUE(bn.r_reg_fwd && !bn.r_reg_bwd && bn.r_smem_bwd);
  EXPECT_TRUE(b32n.r_reg_fwd && b32n.r_reg_bwd);
}

}  // namespace
}  // namespace lstmad
