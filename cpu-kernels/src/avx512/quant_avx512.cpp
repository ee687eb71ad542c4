// AVX-512 instantiation of the quantised-GEMV building blocks (simd_quant.inc): integer block dots
// with AVX512-VNNI's vpdpbusd (u8 x s8, four products summed into int32 without the int16
// saturation of vpmaddubsw; signed weights through the sign trick |w| . sign(x, w)), F16 through
// 512-bit vcvtph2ps and BF16 by a 16-bit shift into fp32 (vdpbf16ps would round the activations
// to bf16 as well; the shift keeps them fp32 and costs the same on a memory-bound GEMV).
// Compiled with the AVX-512 flags; quant.cpp only selects it when VNNI is present.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "quant_internal.h"

namespace itera {
namespace {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// init[m * nb + b] = the starting value of activation row m's block b in a vpdpbusd dot with
// unsigned weights: aux holds -128 * each 4-byte sum (Q8_0 stored +128); Q4_0's offset is 8, so
// a sixteenth.
void block_offsets(bool q4, int64_t M, int64_t nb, const quant::QAct* x, int32_t* init) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[m].aux + b * 8));
      __m128i h = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
      h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
      h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
      const int32_t sum = _mm_cvtsi128_si32(h);
      init[m * nb + b] = q4 ? sum / 16 : sum;
    }
}

// ---------------------------------------------------------------- packed Q8_0 / Q4_0 GEMM
// The row-by-row tiles of simd_quant.inc spend four instructions per (weight row, activation
// row, block) - dot, convert, scale product, FMA - and the last three dominate a GEMM. Here a
// panel of kPackedRows weight rows is first repacked (per thread, into reused scratch) so that
// each 64-byte vector holds 4 consecutive bytes of 16 rows: vpdpbusd against the 4 activation
// bytes broadcast then advances 16 output columns at once, a block takes 8 such dots into an
// int32 accumulator, and its scaling is one convert + one multiply + one FMA per 16 outputs.
// Weights are the unsigned operand: Q8_0 stores q + 128, Q4_0 the nibble q (0..15) itself; the
// offsets (128 resp. 8 times the block's activation sum) start each block's accumulator (the
// activation sums come from QAct::aux, which already holds -128 * the 4-byte sums).
namespace packed {

constexpr int kNV = 2;                            // vectors of 16 rows per panel
constexpr int kNR = 16 * kNV;                     // rows per panel
static_assert(kNR == quant::kPackedRows, "panel height is part of quant.cpp's split");
constexpr int kRM = 4;                            // activation rows per register tile

struct alignas(64) Line {
  uint8_t bytes[64];
};

struct Scratch {
  std::vector<Line> w;        // [block][step 0..7][kNV]: 4 bytes of each of 16 rows
  std::vector<Line> s;        // [block][kNV]: 16 fp32 row scales (0 for rows past the panel)
  std::vector<int32_t> init;  // [m][block]: -(offset) * activation block sum
  __m512i* wp() { return reinterpret_cast<__m512i*>(w.data()); }
  __m512* sp() { return reinterpret_cast<__m512*>(s.data()); }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The 32 weight bytes of one block of one row, as the unsigned vpdpbusd operand.
template <bool kQ4>
inline __m256i block_u8(const uint8_t* blk) {
  if (kQ4) {
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
    return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
  }
  return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)),
                          _mm256_set1_epi8(char(0x80)));
}

// Weight rows [n0, n0 + rows) of W as one panel (rows <= kNR; missing rows are zero with scale 0).
// Per block and 16 rows this is a 16 x 8 transpose of dwords: rows r and r + 8 share a vector,
// and an 8 x 8 transpose inside both 256-bit halves at once leaves step s of all 16 rows in one.
template <bool kQ4>
void repack(const uint8_t* W, int64_t rb, int64_t n0, int rows, int64_t nb, __m512i* pw, __m512* ps) {
  constexpr int64_t bytes = kQ4 ? quant::kQ4BlockBytes : quant::kQ8BlockBytes;
  float* sc = reinterpret_cast<float*>(ps);
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int v = 0; v < kNV; ++v) {
    const uint8_t* row[16];
    for (int r = 0; r < 16; ++r) {
      // Missing rows read row 0 again; their scale is 0, which zeroes their outputs.
      const int g = 16 * v + r;
      row[r] = W + (n0 + (g < rows ? g : 0)) * rb;
    }
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < 16; ++r) {
        const int g = 16 * v + r;
        sc[b * kNR + g] = g < rows ? _cvtsh_ss(quant::load_u16(row[r] + b * bytes)) : 0.0f;
      }
      __m512i z[8], t[8], u[8];
      for (int r = 0; r < 8; ++r)
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(block_u8<kQ4>(row[r] + b * bytes)),
                                  block_u8<kQ4>(row[r + 8] + b * bytes), 1);
      for (int r = 0; r < 8; r += 2) {
        t[r] = _mm512_unpacklo_epi32(z[r], z[r + 1]);
        t[r + 1] = _mm512_unpackhi_epi32(z[r], z[r + 1]);
      }
      for (int h = 0; h < 8; h += 4) {
        u[h] = _mm512_unpacklo_epi64(t[h], t[h + 2]);
        u[h + 1] = _mm512_unpackhi_epi64(t[h], t[h + 2]);
        u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
        u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
      }
      // u[j] (j < 4) holds step j (low 128 bits of each half) and j + 4 of rows 0-3 / 8-11,
      // u[j + 4] the same of rows 4-7 / 12-15.
      __m512i* out = pw + b * 8 * kNV + v;
      for (int j = 0; j < 4; ++j) {
        _mm512_store_si512(out + j * kNV, _mm512_permutex2var_epi64(u[j], lo, u[j + 4]));
        _mm512_store_si512(out + (j + 4) * kNV, _mm512_permutex2var_epi64(u[j], hi, u[j + 4]));
      }
    }
  }
}

// Y[m][c] for m < RM, c < cols (<= kNR) of one panel against activation rows x[0..RM).
template <int RM>
inline void tile(int64_t nb, const __m512i* pw, const __m512* ps, const quant::QAct* x,
                 const int32_t* init, int64_t init_ld, float* y, int64_t ldy, int cols) {
  __m512 acc[RM][kNV];
  for (int m = 0; m < RM; ++m)
    for (int v = 0; v < kNV; ++v) acc[m][v] = _mm512_setzero_ps();
  const int8_t* xq[RM];
  const float* xd[RM];
  for (int m = 0; m < RM; ++m) {
    xq[m] = x[m].q;
    xd[m] = x[m].d;
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m512i ia[RM][kNV];
    for (int m = 0; m < RM; ++m) {
      const __m512i i0 = _mm512_set1_epi32(init[m * init_ld + b]);
      for (int v = 0; v < kNV; ++v) ia[m][v] = i0;
    }
    const __m512i* wb = pw + b * 8 * kNV;
    for (int st = 0; st < 8; ++st) {
      __m512i w[kNV];
      for (int v = 0; v < kNV; ++v) w[v] = _mm512_load_si512(wb + st * kNV + v);
      for (int m = 0; m < RM; ++m) {
        int32_t xv;
        std::memcpy(&xv, xq[m] + b * 32 + st * 4, 4);
        const __m512i xb = _mm512_set1_epi32(xv);
        for (int v = 0; v < kNV; ++v) ia[m][v] = _mm512_dpbusd_epi32(ia[m][v], w[v], xb);
      }
    }
    for (int m = 0; m < RM; ++m) {
      const __m512 d = _mm512_set1_ps(xd[m][b]);
      for (int v = 0; v < kNV; ++v)
        acc[m][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[m][v]), _mm512_mul_ps(ps[b * kNV + v], d), acc[m][v]);
    }
  }
  for (int m = 0; m < RM; ++m)
    for (int v = 0; v < kNV; ++v) {
      const int c = cols - 16 * v;
      if (c >= 16) _mm512_storeu_ps(y + m * ldy + 16 * v, acc[m][v]);
      else if (c > 0) _mm512_mask_storeu_ps(y + m * ldy + 16 * v, __mmask16((1u << c) - 1), acc[m][v]);
    }
}

void gemm(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
          const quant::QAct* x, float* Y, int64_t ldy) {
  const bool q4 = fmt == ITERA_QFMT_Q4_0;
  const int64_t nb = K / 32;
  Scratch& s = scratch();
  if (s.w.size() < size_t(nb * 8 * kNV)) s.w.resize(size_t(nb * 8 * kNV));
  if (s.s.size() < size_t(nb * kNV)) s.s.resize(size_t(nb * kNV));
  if (s.init.size() < size_t(M * nb)) s.init.resize(size_t(M * nb));
  block_offsets(q4, M, nb, x, s.init.data());
  for (int64_t p = n0; p < n1; p += kNR) {
    const int rows = int(std::min<int64_t>(kNR, n1 - p));
    if (q4) repack<true>(W, rb, p, rows, nb, s.wp(), s.sp());
    else repack<false>(W, rb, p, rows, nb, s.wp(), s.sp());
    int64_t m = 0;
    static_assert(kRM <= 4, "the switch below handles up to 3 leftover rows");
    for (; m + kRM <= M; m += kRM)
      tile<kRM>(nb, s.wp(), s.sp(), x + m, s.init.data() + m * nb, nb, Y + m * ldy + p, ldy, rows);
    const __m512i* pw = s.wp();
    const __m512* ps = s.sp();
    const int32_t* in = s.init.data() + m * nb;
    float* y = Y + m * ldy + p;
    switch (M - m) {  // the rows left over, fewer than kRM
      case 3: tile<3>(nb, pw, ps, x + m, in, nb, y, ldy, rows); break;
      case 2: tile<2>(nb, pw, ps, x + m, in, nb, y, ldy, rows); break;
      case 1: tile<1>(nb, pw, ps, x + m, in, nb, y, ldy, rows); break;
      default: break;
    }
  }
}

}  // namespace packed

// ---------------------------------------------------------------- _R16 layouts
// Q8_0_R16 / Q4_0_R16 (itera_kernels.h) are stored the way packed::repack lays a panel out, so
// the products read them as they are: per block and group of 16 rows, 8 vpdpbusd (Q8_0: one
// 64-byte line per step; Q4_0: each line's low and high nibbles) advance 16 outputs, and one
// convert + multiply + FMA scales them. Against the row tiles (per row and block: a dot, a
// convert, a scalar scale conversion and broadcast, a multiply and an FMA) the decode GEMV does
// about a fifth of the instructions and becomes bound by L2 bandwidth.
namespace r16 {

constexpr int64_t kRows = quant::kR16Rows;
constexpr int kGemvGroups = 2;  // groups per GEMV tile (independent dot chains)

// Y[m][16 g + c] for m < RM, g < NG, c < 16: NG consecutive groups against activation rows x.
template <bool kQ4, int RM, int NG>
inline void tile(int64_t nb, const uint8_t* grp, int64_t gstride, const quant::QAct* x,
                 const int32_t* init, int64_t init_ld, float* y, int64_t ldy) {
  constexpr int kSteps = kQ4 ? 4 : 8;
  __m512 acc[RM][NG];
  for (int m = 0; m < RM; ++m)
    for (int g = 0; g < NG; ++g) acc[m][g] = _mm512_setzero_ps();
  const uint8_t* sc[NG];
  const __m512i* qs[NG];
  for (int g = 0; g < NG; ++g) {
    sc[g] = grp + g * gstride;
    qs[g] = reinterpret_cast<const __m512i*>(sc[g] + nb * kRows * 2);
  }
  const __m512i nib = _mm512_set1_epi8(15);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i ia[RM][NG];
    for (int m = 0; m < RM; ++m) {
      const __m512i i0 = _mm512_set1_epi32(init[m * init_ld + b]);
      for (int g = 0; g < NG; ++g) ia[m][g] = i0;
    }
    for (int st = 0; st < kSteps; ++st) {
      if (kQ4) {
        __m512i lo[NG], hi[NG];
        for (int g = 0; g < NG; ++g) {
          const __m512i raw = _mm512_loadu_si512(qs[g] + b * kSteps + st);
          lo[g] = _mm512_and_si512(raw, nib);
          hi[g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nib);
        }
        for (int m = 0; m < RM; ++m) {
          int32_t xl, xh;  // elements 4 st.. (low nibbles) and 16 + 4 st.. (high nibbles)
          std::memcpy(&xl, x[m].q + b * 32 + st * 4, 4);
          std::memcpy(&xh, x[m].q + b * 32 + 16 + st * 4, 4);
          const __m512i bl = _mm512_set1_epi32(xl), bh = _mm512_set1_epi32(xh);
          for (int g = 0; g < NG; ++g) {
            ia[m][g] = _mm512_dpbusd_epi32(ia[m][g], lo[g], bl);
            ia[m][g] = _mm512_dpbusd_epi32(ia[m][g], hi[g], bh);
          }
        }
      } else {
        __m512i w[NG];
        for (int g = 0; g < NG; ++g) w[g] = _mm512_loadu_si512(qs[g] + b * kSteps + st);
        for (int m = 0; m < RM; ++m) {
          int32_t xv;
          std::memcpy(&xv, x[m].q + b * 32 + st * 4, 4);
          const __m512i xb = _mm512_set1_epi32(xv);
          for (int g = 0; g < NG; ++g) ia[m][g] = _mm512_dpbusd_epi32(ia[m][g], w[g], xb);
        }
      }
    }
    __m512 sw[NG];
    for (int g = 0; g < NG; ++g)
      sw[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc[g] + b * kRows * 2)));
    for (int m = 0; m < RM; ++m) {
      const __m512 d = _mm512_set1_ps(x[m].d[b]);
      for (int g = 0; g < NG; ++g)
        acc[m][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[m][g]), _mm512_mul_ps(sw[g], d), acc[m][g]);
    }
  }
  for (int m = 0; m < RM; ++m)
    for (int g = 0; g < NG; ++g) _mm512_storeu_ps(y + m * ldy + 16 * g, acc[m][g]);
}

// Groups [g0, g0 + NG) against every activation row: tiles of 4 rows, then the 1-3 left over.
template <bool kQ4, int NG>
inline void groups(int64_t nb, const uint8_t* grp, int64_t gstride, int64_t M, const quant::QAct* x,
                   const int32_t* init, float* y, int64_t ldy) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) tile<kQ4, 4, NG>(nb, grp, gstride, x + m, init + m * nb, nb, y + m * ldy, ldy);
  switch (M - m) {
    case 3: tile<kQ4, 3, NG>(nb, grp, gstride, x + m, init + m * nb, nb, y + m * ldy, ldy); break;
    case 2: tile<kQ4, 2, NG>(nb, grp, gstride, x + m, init + m * nb, nb, y + m * ldy, ldy); break;
    case 1: tile<kQ4, 1, NG>(nb, grp, gstride, x + m, init + m * nb, nb, y + m * ldy, ldy); break;
    default: break;
  }
}

template <bool kQ4>
void run(int64_t g0, int64_t g1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
         const quant::QAct* x, const int32_t* init, float* Y, int64_t ldy) {
  const int64_t nb = K / 32, gstride = kRows * rb;
  int64_t g = g0;
  if (M == 1) {
    for (; g + kGemvGroups <= g1; g += kGemvGroups)
      tile<kQ4, 1, kGemvGroups>(nb, W + g * gstride, gstride, x, init, nb, Y + g * kRows, ldy);
    for (; g < g1; ++g) tile<kQ4, 1, 1>(nb, W + g * gstride, gstride, x, init, nb, Y + g * kRows, ldy);
    return;
  }
  for (; g + 2 <= g1; g += 2) groups<kQ4, 2>(nb, W + g * gstride, gstride, M, x, init, Y + g * kRows, ldy);
  if (g < g1) groups<kQ4, 1>(nb, W + g * gstride, gstride, M, x, init, Y + g * kRows, ldy);
}

void gemm(int fmt, int64_t g0, int64_t g1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
          const quant::QAct* x, float* Y, int64_t ldy) {
  const bool q4 = fmt == ITERA_QFMT_Q4_0_R16;
  const int64_t nb = K / 32;
  thread_local std::vector<int32_t> init;
  if (init.size() < size_t(M * nb)) init.resize(size_t(M * nb));
  block_offsets(q4, M, nb, x, init.data());
  if (q4) run<true>(g0, g1, K, W, rb, M, x, init.data(), Y, ldy);
  else run<false>(g0, g1, K, W, rb, M, x, init.data(), Y, ldy);
}

}  // namespace r16

// ---------------------------------------------------------------- Q4_0 GEMV
// The generic M = 1 tile with two things less per (row, block): Q4_0's raw nibbles (0..15) go
// to vpdpbusd as they are, each block starting from -8 * its activation sums (QAct::aux / 16)
// instead of biasing every weight byte, and the fp16 scale is broadcast as a half and converted
// as a vector (no scalar convert + broadcast): 5-7% faster on Zen 4. The same for Q8_0 was 2%
// slower than the generic tile, so Q8_0 stays there. Also tried and slower on Zen 4: gathering
// the 8 rows' scales with vpgatherdd (2x slower), and summing the 8 rows' block dots across
// lanes (vphaddd) to scale them with one FMA (25% slower).
namespace gemv {

void q4_0_rows(int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, const quant::QAct& x,
               float* y) {
  constexpr int64_t bytes = quant::kQ4BlockBytes;
  const int64_t nb = K / 32;
  for (int64_t n = n0; n < n1; n += 8) {
    const int rows = int(std::min<int64_t>(8, n1 - n));
    const uint8_t* r[8];
    for (int i = 0; i < 8; ++i) r[i] = W + (n + (i < rows ? i : rows - 1)) * rb;  // repeats: not stored
    __m256 acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + b * 32));
      const __m256i aux = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.aux + b * 8));
      const __m256i init = _mm256_srai_epi32(aux, 4);
      const __m256 xd = _mm256_set1_ps(x.d[b]);
      for (int i = 0; i < 8; ++i) {
        const uint8_t* blk = r[i] + b * bytes;
        const __m256i raw =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
        const __m256i w =
            _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
        const __m256 d = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(init, w, xa));
        const __m256 sw = _mm256_cvtph_ps(_mm_set1_epi16(short(quant::load_u16(blk))));
        acc[i] = _mm256_fmadd_ps(d, _mm256_mul_ps(sw, xd), acc[i]);
      }
    }
    for (int i = 0; i < rows; ++i) y[n + i] = hsum8(acc[i]);
  }
}

}  // namespace gemv

// kNf4CodeI8 + 128: the code book already biased for vpdpbusd.
alignas(16) const uint8_t kNf4CodeU8[16] = {1, 40, 61, 78, 92, 105, 116, 128, 138, 148, 159, 171, 184, 199, 220, 255};

struct Q {
  using I = __m256i;
  using F = __m256;

  static __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static I dot_us(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
  using W = __m256i;
  static constexpr int kTileM = 4;
  static constexpr int kGemvRows = 8;  // 6-8% faster GEMV than 4 rows here (32 registers)
  static void qgemm_packed(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb,
                           int64_t M, const quant::QAct* x, float* Y, int64_t ldy) {
    packed::gemm(fmt, n0, n1, K, W, rb, M, x, Y, ldy);
  }
  static void q4_0_gemv_rows(int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb,
                             const quant::QAct& x, float* y) {
    gemv::q4_0_rows(n0, n1, K, W, rb, x, y);
  }
  static constexpr decltype(quant::QuantKernels::qgemm_r16) qgemm_r16 = r16::gemm;

  static W w_s8(const uint8_t* p) { return _mm256_xor_si256(load32(p), _mm256_set1_epi8(char(0x80))); }
  // 32 nibbles of 16 bytes in element order (low nibbles, then high): the 16 bytes go to both
  // 128-bit lanes and the upper lane is shifted right by 4 before masking.
  static __m256i nibbles(const uint8_t* qs) {
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
  }
  // Weights come out biased by +128 (unsigned) for vpdpbusd: see A.
  static W w_u4(const uint8_t* qs, int bias) {
    return _mm256_add_epi8(nibbles(qs), _mm256_set1_epi8(char(128 - bias)));
  }
  static W w_nf4(const uint8_t* qs, bool high) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(kNf4CodeU8)));
    const __m256i raw = load32(qs);
    const __m256i idx = high ? _mm256_srli_epi16(raw, 4) : raw;
    return _mm256_shuffle_epi8(table, _mm256_and_si256(idx, _mm256_set1_epi8(15)));
  }
  // vpdpbusd multiplies unsigned by signed bytes: the weights are biased to u = w + 128 (folded
  // into each w_* loader) and the bias is removed by starting each dot at -128 * (x summed per
  // 4-byte lane), computed once per activation block: every (weight, activation) pair then
  // costs a single vpdpbusd, with an exact int32 result.
  struct A {
    __m256i x;
    __m256i init;  // -128 * sum of each 4 consecutive x (QAct::aux, made by quantize_block)
  };
  using S = __m256;
  static A act(const quant::QAct& x, int64_t b) {
    return A{load32(x.q + b * 32), load32(x.aux + b * 8)};
  }
  static S splat(float v) { return _mm256_set1_ps(v); }
  static S mul(S a, S b) { return _mm256_mul_ps(a, b); }
  static I dot(W u, const A& a) { return _mm256_dpbusd_epi32(a.init, u, a.x); }
  static float h2f(const uint8_t* p) { return _cvtsh_ss(quant::load_u16(p)); }
  static F fzero() { return _mm256_setzero_ps(); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F fma(F a, S s, F acc) { return _mm256_fmadd_ps(a, s, acc); }
  static float hsum(F a) { return hsum8(a); }

  template <typename Conv>
  static float fdot(int64_t K, const uint8_t* w, const float* x, Conv conv) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= K; i += 64) {
      a0 = _mm512_fmadd_ps(conv(w + 2 * i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(conv(w + 2 * i + 32), _mm512_loadu_ps(x + i + 16), a1);
      a2 = _mm512_fmadd_ps(conv(w + 2 * i + 64), _mm512_loadu_ps(x + i + 32), a2);
      a3 = _mm512_fmadd_ps(conv(w + 2 * i + 96), _mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i + 16 <= K; i += 16) a0 = _mm512_fmadd_ps(conv(w + 2 * i), _mm512_loadu_ps(x + i), a0);
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  }
  static __m256i load16h(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static float fdot_f16(int64_t K, const uint8_t* w, const float* x) {
    float s = fdot(K, w, x, [](const uint8_t* p) { return _mm512_cvtph_ps(load16h(p)); });
    for (int64_t i = K & ~int64_t(15); i < K; ++i) s += quant::fp16_to_f32(quant::load_u16(w + 2 * i)) * x[i];
    return s;
  }
  static float fdot_bf16(int64_t K, const uint8_t* w, const float* x) {
    float s = fdot(K, w, x, [](const uint8_t* p) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load16h(p)), 16));
    });
    for (int64_t i = K & ~int64_t(15); i < K; ++i) s += quant::bf16_to_f32(quant::load_u16(w + 2 * i)) * x[i];
    return s;
  }

  static void half_to_f32(int64_t n, const uint8_t* src, bool bf16, float* dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256i h = load16h(src + 2 * i);
      _mm512_storeu_ps(dst + i, bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                                     : _mm512_cvtph_ps(h));
    }
    for (; i < n; ++i) {
      const uint16_t h = quant::load_u16(src + 2 * i);
      dst[i] = bf16 ? quant::bf16_to_f32(h) : quant::fp16_to_f32(h);
    }
  }
  static void quantize_block(const float* x, int8_t* q, float* d, int32_t* aux) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float dd = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(dd != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(i1));
    *d = dd;
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), load32(q));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(aux),
                        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
  }
};

#include "simd_quant.inc"

}  // namespace

namespace quant {
ITERA_MAKE_QUANT_TABLE(kAvx512Quant);
}  // namespace quant

}  // namespace itera
