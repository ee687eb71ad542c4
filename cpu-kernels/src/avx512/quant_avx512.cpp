// AVX-512 instantiation of the quantised-GEMV building blocks (simd_quant.inc): integer block dots
// with AVX512-VNNI's vpdpbusd (u8 x s8, four products summed into int32 without the int16
// saturation of vpmaddubsw; signed weights through the sign trick |w| . sign(x, w)), F16 through
// 512-bit vcvtph2ps and BF16 by a 16-bit shift into fp32 (the GEMV is memory-bound: vdpbf16ps
// would gain nothing there); BF16 GEMMs of several rows use vdpbf16ps (bf16dot below).
// Compiled with the AVX-512 flags; quant.cpp only selects it when VNNI is present.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
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

// ---------------------------------------------------------------- _R16 layouts
// Q8_0_R16 / Q4_0_R16 (itera_kernels.h) hold the weights the way vpdpbusd wants them: one 64-byte
// line is the same 4 weights of 16 rows (Q8_0 stored +128 as the unsigned operand; Q4_0 as raw
// nibbles, whose offset 8 goes into each block's starting value like Q8_0's 128), so per block
// and group 8 vpdpbusd against 4 broadcast activations advance 16 outputs and one convert +
// multiply + FMA scales them. Against the row tiles (per row and block: a dot, a convert, a
// scalar scale conversion and broadcast, a multiply and an FMA) the decode GEMV does about a
// fifth of the instructions and becomes bound by L2 bandwidth (Zen 4, 1 x 1024 x 1024 on one
// thread: Q8_0 25.6 -> 13.6 us, Q4_0 27.8 -> 10.4 us).
namespace r16 {

constexpr int64_t kRows = quant::kR16Rows;
constexpr int kGemvGroups = 2;  // groups per GEMV tile (independent dot chains)
// From this many activation rows NF4/INT4 groups are converted to the Q8_0 form once per call
// (to_q8_group); below, their own tiles decode the nibbles for every 4-row tile, which is cheaper.
constexpr int64_t kDecodeOnceRows = 32;

template <int RM, int NG>
inline void zero_tile(__m512 (&acc)[RM][NG]) {
  for (int m = 0; m < RM; ++m)
    for (int g = 0; g < NG; ++g) acc[m][g] = _mm512_setzero_ps();
}

// y[m * ldy + 16 g + c] = acc[m][g][c], the last group writing only its first last_cols columns.
template <int RM, int NG>
inline void store_tile(const __m512 (&acc)[RM][NG], float* y, int64_t ldy, int last_cols) {
  const __mmask16 last = __mmask16((1u << last_cols) - 1);
  for (int m = 0; m < RM; ++m)
    for (int g = 0; g < NG; ++g) {
      if (g < NG - 1 || last_cols == 16) _mm512_storeu_ps(y + m * ldy + 16 * g, acc[m][g]);
      else _mm512_mask_storeu_ps(y + m * ldy + 16 * g, last, acc[m][g]);
    }
}

// NF4's int8 code book + 128 (the unsigned vpdpbusd operand) in every 128-bit lane, for vpshufb.
inline __m512i nf4_lut() {
  alignas(16) uint8_t biased[16];
  for (int i = 0; i < 16; ++i) biased[i] = uint8_t(quant::kNf4CodeI8[i] + 128);
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(biased)));
}

// Y[m][16 g + c] for m < RM, g < NG, c < 16 (c < last_cols in the last group): NG consecutive
// groups against activation rows x.
// kF32Scale: the group's scale table holds fp32 instead of fp16 (the panels packed::gemm builds
// from the other integer formats, whose scales fp16 cannot always hold exactly).
template <bool kQ4, int RM, int NG, bool kF32Scale = false>
inline void tile(int64_t nb, const uint8_t* grp, int64_t gstride, const quant::QAct* x,
                 const int32_t* init, int64_t init_ld, float* y, int64_t ldy, int last_cols) {
  constexpr int kSteps = kQ4 ? 4 : 8;
  constexpr int64_t kScaleBytes = kRows * (kF32Scale ? 4 : 2);  // per block
  __m512 acc[RM][NG];
  zero_tile<RM, NG>(acc);
  const uint8_t* sc[NG];
  const __m512i* qs[NG];
  for (int g = 0; g < NG; ++g) {
    sc[g] = grp + g * gstride;
    qs[g] = reinterpret_cast<const __m512i*>(sc[g] + nb * kScaleBytes);
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
      sw[g] = kF32Scale ? _mm512_loadu_ps(reinterpret_cast<const float*>(sc[g] + b * kScaleBytes))
                        : _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc[g] + b * kScaleBytes)));
    for (int m = 0; m < RM; ++m) {
      const __m512 d = _mm512_set1_ps(x[m].d[b]);
      for (int g = 0; g < NG; ++g)
        acc[m][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[m][g]), _mm512_mul_ps(sw[g], d), acc[m][g]);
    }
  }
  store_tile<RM, NG>(acc, y, ldy, last_cols);
}

// NF4_R16: per 64-weight block an fp32 absmax per row and 8 lines; a line's high nibbles are even
// elements (activation sub-block 2b, NF4's evens-then-odds order), its low nibbles odd ones
// (sub-block 2b + 1), each mapped through the code book (+128, the unsigned vpdpbusd operand) by
// one vpshufb; the two sub-blocks keep their own int32 sums, as their activation scales differ.
// The 16 rows' absmaxes of NF4 block b (NF4_DQ: qc c2 + offset), divided by 127 for the int8
// code book.
template <bool kDq>
inline __m512 nf4_scales(const uint8_t* grp, int64_t nb, int64_t b) {
  const __m512 inv = _mm512_set1_ps(1.0f / 127.0f);
  if constexpr (kDq) {
    const __m512 c2 = _mm512_loadu_ps(reinterpret_cast<const float*>(grp));
    const __m512 offset = _mm512_loadu_ps(reinterpret_cast<const float*>(grp + 4 * kRows));
    const __m512 qc = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(grp + 8 * kRows + b * kRows))));
    return _mm512_mul_ps(_mm512_fmadd_ps(qc, c2, offset), inv);
  } else {
    (void)nb;
    return _mm512_mul_ps(_mm512_loadu_ps(reinterpret_cast<const float*>(grp) + b * kRows), inv);
  }
}
// Where the code bytes of an NF4_R16 / NF4_DQ_R16 group start.
template <bool kDq>
inline int64_t nf4_codes(int64_t nb) { return kDq ? 8 * kRows + nb * kRows : nb * kRows * 4; }

template <bool kDq, int RM, int NG>
inline void tile_nf4(int64_t nb, const uint8_t* grp, int64_t gstride, const quant::QAct* x,
                     const int32_t* init, int64_t init_ld, float* y, int64_t ldy, int last_cols) {
  constexpr int kSteps = 8;
  __m512 acc[RM][NG];
  zero_tile<RM, NG>(acc);
  const __m512i* qs[NG];
  for (int g = 0; g < NG; ++g) qs[g] = reinterpret_cast<const __m512i*>(grp + g * gstride + nf4_codes<kDq>(nb));
  const __m512i lut = nf4_lut();
  const __m512i nib = _mm512_set1_epi8(15);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i even[RM][NG], odd[RM][NG];
    for (int m = 0; m < RM; ++m) {
      const __m512i e0 = _mm512_set1_epi32(init[m * init_ld + 2 * b]);
      const __m512i o0 = _mm512_set1_epi32(init[m * init_ld + 2 * b + 1]);
      for (int g = 0; g < NG; ++g) {
        even[m][g] = e0;
        odd[m][g] = o0;
      }
    }
    for (int st = 0; st < kSteps; ++st) {
      __m512i hi[NG], lo[NG];
      for (int g = 0; g < NG; ++g) {
        const __m512i raw = _mm512_loadu_si512(qs[g] + b * kSteps + st);
        hi[g] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(raw, 4), nib));
        lo[g] = _mm512_shuffle_epi8(lut, _mm512_and_si512(raw, nib));
      }
      for (int m = 0; m < RM; ++m) {
        int32_t xe, xo;
        std::memcpy(&xe, x[m].q + b * 64 + st * 4, 4);
        std::memcpy(&xo, x[m].q + b * 64 + 32 + st * 4, 4);
        const __m512i be = _mm512_set1_epi32(xe), bo = _mm512_set1_epi32(xo);
        for (int g = 0; g < NG; ++g) {
          even[m][g] = _mm512_dpbusd_epi32(even[m][g], hi[g], be);
          odd[m][g] = _mm512_dpbusd_epi32(odd[m][g], lo[g], bo);
        }
      }
    }
    __m512 sw[NG];
    for (int g = 0; g < NG; ++g) sw[g] = nf4_scales<kDq>(grp + g * gstride, nb, b);
    for (int m = 0; m < RM; ++m) {
      const __m512 de = _mm512_set1_ps(x[m].d[2 * b]), dd = _mm512_set1_ps(x[m].d[2 * b + 1]);
      for (int g = 0; g < NG; ++g) {
        acc[m][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(even[m][g]), _mm512_mul_ps(sw[g], de), acc[m][g]);
        acc[m][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(odd[m][g]), _mm512_mul_ps(sw[g], dd), acc[m][g]);
      }
    }
  }
  store_tile<RM, NG>(acc, y, ldy, last_cols);
}

// INT4_Gg_R16: per group of g weights the 16 rows' fp16 scales and zero points, then g/8 lines of
// nibbles, each 32-element run packed like Q4_0 (low nibbles its first 16 elements). The raw
// nibbles (0..15) go to vpdpbusd as they are; each activation block's dot starts from
// -z * (its activation sum), per row since the zero points are, so the sum is s (q - z) . x.
template <int G, int RM, int NG>
inline void tile_int4(int64_t nb, const uint8_t* grp, int64_t gstride, const quant::QAct* x,
                      const int32_t* init, int64_t init_ld, float* y, int64_t ldy, int last_cols) {
  constexpr int kSub = G / 32, kSteps = G / 8;
  constexpr int64_t kHead = kRows * 3;
  __m512 acc[RM][NG];
  zero_tile<RM, NG>(acc);
  const uint8_t* head[NG];
  const __m512i* qs[NG];
  for (int g = 0; g < NG; ++g) {
    head[g] = grp + g * gstride;
    qs[g] = reinterpret_cast<const __m512i*>(head[g] + nb * kHead);
  }
  const __m512i nib = _mm512_set1_epi8(15);
  for (int64_t b = 0; b < nb; ++b) {
    __m512 sw[NG];
    __m512i zero[NG];
    for (int g = 0; g < NG; ++g) {
      const uint8_t* h = head[g] + b * kHead;
      sw[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
      zero[g] = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 2 * kRows)));
    }
    for (int j = 0; j < kSub; ++j) {
      const int64_t ab = b * kSub + j;  // activation block
      __m512i ia[RM][NG];
      for (int m = 0; m < RM; ++m) {
        const __m512i neg_sum = _mm512_set1_epi32(init[m * init_ld + ab] / 128);  // init = -128 sum
        for (int g = 0; g < NG; ++g) ia[m][g] = _mm512_mullo_epi32(zero[g], neg_sum);
      }
      for (int st = 0; st < 4; ++st) {
        __m512i lo[NG], hi[NG];
        for (int g = 0; g < NG; ++g) {
          const __m512i raw = _mm512_loadu_si512(qs[g] + b * kSteps + j * 4 + st);
          lo[g] = _mm512_and_si512(raw, nib);
          hi[g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nib);
        }
        for (int m = 0; m < RM; ++m) {
          int32_t xl, xh;
          std::memcpy(&xl, x[m].q + ab * 32 + st * 4, 4);
          std::memcpy(&xh, x[m].q + ab * 32 + 16 + st * 4, 4);
          const __m512i bl = _mm512_set1_epi32(xl), bh = _mm512_set1_epi32(xh);
          for (int g = 0; g < NG; ++g) {
            ia[m][g] = _mm512_dpbusd_epi32(ia[m][g], lo[g], bl);
            ia[m][g] = _mm512_dpbusd_epi32(ia[m][g], hi[g], bh);
          }
        }
      }
      for (int m = 0; m < RM; ++m) {
        const __m512 d = _mm512_set1_ps(x[m].d[ab]);
        for (int g = 0; g < NG; ++g)
          acc[m][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[m][g]), _mm512_mul_ps(sw[g], d), acc[m][g]);
      }
    }
  }
  store_tile<RM, NG>(acc, y, ldy, last_cols);
}

// The layouts' tiles (nb counts the layout's blocks; init has one value per activation block).
enum Kind { kQ8 = 0, kQ4 = 1, kNf4 = 2, kNf4Dq = 3, kInt4G32 = 32, kInt4G64 = 64, kInt4G128 = 128 };
template <int kKind, int RM, int NG, bool kF32Scale>
inline void tile_of(int64_t nb, const uint8_t* grp, int64_t gstride, const quant::QAct* x,
                    const int32_t* init, int64_t init_ld, float* y, int64_t ldy, int last_cols) {
  if constexpr (kKind == kNf4 || kKind == kNf4Dq)
    tile_nf4<kKind == kNf4Dq, RM, NG>(nb, grp, gstride, x, init, init_ld, y, ldy, last_cols);
  else if constexpr (kKind >= kInt4G32) tile_int4<kKind, RM, NG>(nb, grp, gstride, x, init, init_ld, y, ldy, last_cols);
  else tile<kKind == kQ4, RM, NG, kF32Scale>(nb, grp, gstride, x, init, init_ld, y, ldy, last_cols);
}

// Groups [g0, g0 + NG) against every activation row: tiles of 4 rows, then the 1-3 left over.
// init holds init_ld starting values per activation row (one per 32-element activation block).
template <int kKind, int NG, bool kF32Scale>
inline void groups(int64_t nb, const uint8_t* grp, int64_t gstride, int64_t M, const quant::QAct* x,
                   const int32_t* init, int64_t init_ld, float* y, int64_t ldy, int last_cols) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4)
    tile_of<kKind, 4, NG, kF32Scale>(nb, grp, gstride, x + m, init + m * init_ld, init_ld, y + m * ldy, ldy,
                                     last_cols);
  const int64_t mi = m;
  const auto rest = [&](auto rm) {
    tile_of<kKind, decltype(rm)::value, NG, kF32Scale>(nb, grp, gstride, x + mi, init + mi * init_ld, init_ld,
                                                       y + mi * ldy, ldy, last_cols);
  };
  switch (M - m) {
    case 3: rest(std::integral_constant<int, 3>{}); break;
    case 2: rest(std::integral_constant<int, 2>{}); break;
    case 1: rest(std::integral_constant<int, 1>{}); break;
    default: break;
  }
}

// Groups [g0, g1) of W (group g at W + g * 16 rb, its outputs at Y + 16 g), the last one writing
// only its first last_cols columns.
template <int kKind, bool kF32Scale = false>
void run(int64_t g0, int64_t g1, int64_t K, const uint8_t* W, int64_t gstride, int64_t M,
         const quant::QAct* x, const int32_t* init, float* Y, int64_t ldy, int last_cols = 16) {
  const int64_t ld = K / 32, nb = kKind == kNf4 || kKind == kNf4Dq ? K / 64 : kKind >= kInt4G32 ? K / kKind : ld;
  int64_t g = g0;
  auto cols = [&](int64_t next) { return next == g1 ? last_cols : 16; };
  if (M == 1) {
    for (; g + kGemvGroups <= g1; g += kGemvGroups)
      tile_of<kKind, 1, kGemvGroups, kF32Scale>(nb, W + g * gstride, gstride, x, init, ld, Y + g * kRows, ldy,
                                                cols(g + kGemvGroups));
    for (; g < g1; ++g)
      tile_of<kKind, 1, 1, kF32Scale>(nb, W + g * gstride, gstride, x, init, ld, Y + g * kRows, ldy, cols(g + 1));
    return;
  }
  for (; g + 2 <= g1; g += 2)
    groups<kKind, 2, kF32Scale>(nb, W + g * gstride, gstride, M, x, init, ld, Y + g * kRows, ldy, cols(g + 2));
  if (g < g1)
    groups<kKind, 1, kF32Scale>(nb, W + g * gstride, gstride, M, x, init, ld, Y + g * kRows, ldy, cols(g + 1));
}

// One NF4_R16 / INT4_Gg_R16 group as a Q8_0_R16 group with fp32 scales (the form packed::gemm_as
// builds: [K/32][16] fp32 scales, then [K/32][8 steps][16][4] weight bytes stored +128), for GEMMs
// of many activation rows: the nibbles are decoded once instead of once per 4-row tile. INT4's
// weights become q - z (each row's zero point replicated over its dword), NF4's its code book
// entries; NF4's evens (high nibbles) form activation block 2b, its odds block 2b + 1.
void to_q8_group(int fmt, int64_t K, const uint8_t* grp, uint8_t* dst) {
  const int64_t nb32 = K / 32;
  float* scales = reinterpret_cast<float*>(dst);
  __m512i* out = reinterpret_cast<__m512i*>(dst + nb32 * kRows * 4);
  const __m512i nib = _mm512_set1_epi8(15);
  if (fmt == ITERA_QFMT_NF4_R16 || fmt == ITERA_QFMT_NF4_DQ_R16) {
    const bool dq = fmt == ITERA_QFMT_NF4_DQ_R16;
    const __m512i lut = nf4_lut();
    const int64_t nb = K / 64;
    const __m512i* in = reinterpret_cast<const __m512i*>(grp + (dq ? nf4_codes<true>(nb) : nf4_codes<false>(nb)));
    for (int64_t b = 0; b < nb; ++b) {
      const __m512 sc = dq ? nf4_scales<true>(grp, nb, b) : nf4_scales<false>(grp, nb, b);
      _mm512_storeu_ps(scales + (2 * b) * kRows, sc);
      _mm512_storeu_ps(scales + (2 * b + 1) * kRows, sc);
      for (int st = 0; st < 8; ++st) {
        const __m512i raw = _mm512_loadu_si512(in + b * 8 + st);
        _mm512_storeu_si512(out + (2 * b) * 8 + st,
                            _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(raw, 4), nib)));
        _mm512_storeu_si512(out + (2 * b + 1) * 8 + st, _mm512_shuffle_epi8(lut, _mm512_and_si512(raw, nib)));
      }
    }
    return;
  }
  const int64_t g = quant::int4_group(quant::base_format(fmt)), sub = g / 32, nb = K / g;
  const int64_t head = kRows * 3;
  const __m512i* in = reinterpret_cast<const __m512i*>(grp + nb * head);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* h = grp + b * head;
    const __m512 sc = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
    const __m512i z = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 2 * kRows)));
    const __m512i bias = _mm512_sub_epi8(_mm512_set1_epi8(char(0x80)), _mm512_mullo_epi32(z, _mm512_set1_epi32(0x01010101)));
    for (int64_t j = 0; j < sub; ++j) {
      const int64_t ab = b * sub + j;
      _mm512_storeu_ps(scales + ab * kRows, sc);
      for (int st = 0; st < 4; ++st) {  // low nibbles: elements 4 st.., high: 16 + 4 st..
        const __m512i raw = _mm512_loadu_si512(in + b * (g / 8) + j * 4 + st);
        _mm512_storeu_si512(out + ab * 8 + st, _mm512_add_epi8(_mm512_and_si512(raw, nib), bias));
        _mm512_storeu_si512(out + ab * 8 + 4 + st,
                            _mm512_add_epi8(_mm512_and_si512(_mm512_srli_epi16(raw, 4), nib), bias));
      }
    }
  }
}

void gemm(int fmt, int64_t g0, int64_t g1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
          const quant::QAct* x, float* Y, int64_t ldy) {
  const bool q4 = fmt == ITERA_QFMT_Q4_0_R16;
  const int64_t nb = K / 32;
  thread_local std::vector<int32_t> init;
  if (init.size() < size_t(M * nb)) init.resize(size_t(M * nb));
  // -128 x each activation block's sum (NF4's code book is stored +128 like Q8_0; INT4 divides it
  // back out), or -8 x it for Q4_0
  block_offsets(q4, M, nb, x, init.data());
  if (M >= kDecodeOnceRows && fmt != ITERA_QFMT_Q8_0_R16 && !q4) {
    constexpr int64_t kPair = 2;  // groups per converted panel: the 2-group register tiles
    const int64_t gstride = nb * kRows * (4 + 32);
    thread_local std::vector<uint8_t> panel;
    if (panel.size() < size_t(kPair * gstride)) panel.resize(size_t(kPair * gstride));
    for (int64_t g = g0; g < g1; g += kPair) {
      const int64_t groups = std::min(kPair, g1 - g);
      for (int64_t i = 0; i < groups; ++i) to_q8_group(fmt, K, W + (g + i) * kRows * rb, panel.data() + i * gstride);
      run<kQ8, true>(0, groups, K, panel.data(), gstride, M, x, init.data(), Y + g * kRows, ldy);
    }
    return;
  }
  if (fmt == ITERA_QFMT_NF4_R16) run<kNf4>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
  else if (fmt == ITERA_QFMT_NF4_DQ_R16) run<kNf4Dq>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
  else if (fmt == ITERA_QFMT_INT4_G32_R16) run<kInt4G32>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
  else if (fmt == ITERA_QFMT_INT4_G64_R16) run<kInt4G64>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
  else if (fmt == ITERA_QFMT_INT4_G128_R16) run<kInt4G128>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
  else if (q4) run<kQ4>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
  else run<kQ8>(g0, g1, K, W, kRows * rb, M, x, init.data(), Y, ldy);
}

}  // namespace r16

// BF16 GEMM with vdpbf16ps (AVX512-BF16): the activations are rounded to bf16 (nearest even) and
// packed once per call as lines of 16 rows x one k pair ([M/16][K/2][16] dwords, rows and K
// zero-padded), so that one vdpbf16ps multiplies a line by one broadcast (w[n,2p], w[n,2p+1]) pair
// of a weight row read in place: 16 rows x 2 products per instruction, twice the MACs of an fp32
// FMA, and no horizontal sums. A tile is 2 lines (32 activation rows) x kNr weight rows.
namespace bf16dot {
constexpr int kNr = 12;

int64_t pairs(int64_t K) { return (K + 1) / 2; }

void pack(int64_t M, int64_t K, const float* X, int64_t ldx, uint32_t* xp) {
  const int64_t kp = pairs(K);
  std::vector<uint16_t> row(size_t(2 * kp + 32));
  for (int64_t m = 0; m < (M + 15) / 16 * 16; ++m) {
    uint32_t* line = xp + (m / 16) * kp * 16 + (m % 16);
    if (m >= M) {
      for (int64_t p = 0; p < kp; ++p) line[p * 16] = 0;
      continue;
    }
    const float* x = X + m * ldx;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row.data() + k),
                          (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + k)));
    }
    if (k < K) {
      const __mmask16 tail = __mmask16((1u << (K - k)) - 1);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row.data() + k),
                          (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(tail, x + k)));
    }
    row[size_t(K)] = 0;  // the pad of an odd K
    for (int64_t p = 0; p < kp; ++p) {
      uint32_t v;
      std::memcpy(&v, row.data() + 2 * p, 4);
      line[p * 16] = v;
    }
  }
}

// Y[m, n0 + j] for m in [m0, m0 + 16 L) (only m < M written), j < NR.
template <int L, int NR>
void tile(int64_t K, const uint8_t* W, int64_t rb, const uint32_t* xp, int64_t m0, int64_t M,
          float* Y, int64_t ldy) {
  const int64_t kp = pairs(K), full = K / 2;
  const uint32_t* x0 = xp + (m0 / 16) * kp * 16;
  __m512 acc[L][NR];
  for (int l = 0; l < L; ++l)
    for (int j = 0; j < NR; ++j) acc[l][j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < full; ++p) {
    __m512bh a[L];
    for (int l = 0; l < L; ++l) a[l] = (__m512bh)_mm512_loadu_si512(x0 + (l * kp + p) * 16);
    for (int j = 0; j < NR; ++j) {
      uint32_t pair;
      std::memcpy(&pair, W + j * rb + 4 * p, 4);
      const __m512bh w = (__m512bh)_mm512_set1_epi32(int(pair));
      for (int l = 0; l < L; ++l) acc[l][j] = _mm512_dpbf16_ps(acc[l][j], a[l], w);
    }
  }
  if (full < kp) {  // odd K: the last weight alone (its partner would lie past the row)
    __m512bh a[L];
    for (int l = 0; l < L; ++l) a[l] = (__m512bh)_mm512_loadu_si512(x0 + (l * kp + full) * 16);
    for (int j = 0; j < NR; ++j) {
      const __m512bh w = (__m512bh)_mm512_set1_epi32(int(quant::load_u16(W + j * rb + 4 * full)));
      for (int l = 0; l < L; ++l) acc[l][j] = _mm512_dpbf16_ps(acc[l][j], a[l], w);
    }
  }
  alignas(64) float out[NR][16];
  for (int l = 0; l < L; ++l) {
    for (int j = 0; j < NR; ++j) _mm512_store_ps(out[j], acc[l][j]);
    const int64_t rows = std::min<int64_t>(16, M - m0 - 16 * l);
    for (int64_t i = 0; i < rows; ++i) {
      float* y = Y + (m0 + 16 * l + i) * ldy;
      for (int j = 0; j < NR; ++j) y[j] = out[j][i];
    }
  }
}

template <int L, int NR>
void tile_nr(int nr, int64_t K, const uint8_t* W, int64_t rb, const uint32_t* xp, int64_t m0,
             int64_t M, float* Y, int64_t ldy) {
  if constexpr (NR > 1) {
    if (nr < NR) return tile_nr<L, NR - 1>(nr, K, W, rb, xp, m0, M, Y, ldy);
  }
  tile<L, NR>(K, W, rb, xp, m0, M, Y, ldy);
}

// Y[m, n] for n in [n0, n1), m < M, from the packed activations xp.
void gemm(int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
          const uint32_t* xp, float* Y, int64_t ldy) {
  for (int64_t n = n0; n < n1; n += kNr) {
    const int nr = int(std::min<int64_t>(kNr, n1 - n));
    const uint8_t* w = W + n * rb;
    int64_t m = 0;
    for (; m + 16 < M; m += 32) tile_nr<2, kNr>(nr, K, w, rb, xp, m, M, Y + n, ldy);
    if (m < M) tile_nr<1, kNr>(nr, K, w, rb, xp, m, M, Y + n, ldy);
  }
}
}  // namespace bf16dot

namespace packed {
void gemm(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
          const quant::QAct* x, float* Y, int64_t ldy);
}  // namespace packed

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
  static constexpr decltype(quant::QuantKernels::bf16_pack) bf16_pack = bf16dot::pack;
  static constexpr decltype(quant::QuantKernels::bf16_gemm) bf16_gemm = bf16dot::gemm;

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

// ---------------------------------------------------------------- integer GEMM on stored rows
// A product with at least 2 activation rows over rows of an integer format as stored (ggml
// Q8_0 / Q4_0, INT8, INT4, NF4) converts each panel of 32 rows, per thread into reused scratch,
// to the Q8_0_R16 form with fp32 scales and runs the r16 tiles on it: every 32-weight sub-block
// becomes the format's own biased bytes (Q::W, as the row tiles read them; NF4 sub-blocks hold
// evens then odds, like its activations) and its float scale (the row scale for INT8). Converting
// costs about as much as running a few activation rows over the panel, so quant.cpp takes this
// path from packed_min_rows(fmt) rows on (Zen 4, one thread, 1024 x 1024, against the row tiles:
// at 8 rows 1.2x (INT8) to 1.7x (INT4, NF4), at 128 rows 1.8x (INT8) to 3.1x (INT4_G32); a
// quarter slower at 2 rows). Rows missing from the last panel are zero with scale 0, not stored.
namespace packed {

constexpr int64_t kPanelGroups = quant::kPackedRows / r16::kRows;

// Rows [n, n + rows) (rows <= 16) of W as one group at dst: [K/32][16] fp32 scales, then
// [K/32][8 steps][16 rows][4 bytes]. The rows go through tmp (16 x K bytes, row-major biased
// bytes); per block and 16-byte half, rows i, i + 4, i + 8, i + 12 fill the 128-bit lanes of z[i]
// and a 4 x 4 dword transpose inside every lane leaves step j of the 16 rows, in row order, in
// one vector.
template <typename Fmt>
void to_group(const Fmt& f, const uint8_t* W, int64_t rb, int64_t n, int rows, int64_t K, uint8_t* dst,
              uint8_t* tmp) {
  const int64_t nb = K / 32;
  float* scales = reinterpret_cast<float*>(dst);
  __m512i* lines = reinterpret_cast<__m512i*>(dst + nb * r16::kRows * 4);
  for (int r = 0; r < 16; ++r) {
    uint8_t* t = tmp + r * K;
    if (r >= rows) {
      std::memset(t, 0x80, size_t(K));  // weight 0
      for (int64_t b = 0; b < nb; ++b) scales[b * 16 + r] = 0.0f;
      continue;
    }
    const uint8_t* row = W + (n + r) * rb;
    const float post = f.post(row, 1.0f);
    for (int64_t u = 0; u < f.units(K); ++u) {
      const float sc = f.scale(row, u) * post;
      for (int64_t j = 0; j < Fmt::kSub; ++j) {
        const int64_t b = u * Fmt::kSub + j;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(t + b * 32), f.sub(row, u, j));
        scales[b * 16 + r] = sc;
      }
    }
  }
  for (int64_t b = 0; b < nb; ++b)
    for (int h = 0; h < 2; ++h) {
      __m512i z[4];
      for (int i = 0; i < 4; ++i) {
        const uint8_t* p = tmp + b * 32 + 16 * h;
        const auto lane = [&](int k) {
          return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + (i + 4 * k) * K));
        };
        z[i] = _mm512_inserti32x4(
            _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(lane(0)), lane(1), 1), lane(2), 2), lane(3), 3);
      }
      const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
      const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
      __m512i* out = lines + b * 8 + 4 * h;
      _mm512_storeu_si512(out + 0, _mm512_unpacklo_epi64(t0, t2));
      _mm512_storeu_si512(out + 1, _mm512_unpackhi_epi64(t0, t2));
      _mm512_storeu_si512(out + 2, _mm512_unpacklo_epi64(t1, t3));
      _mm512_storeu_si512(out + 3, _mm512_unpackhi_epi64(t1, t3));
    }
}

template <typename Fmt>
void gemm_as(const Fmt& f, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
             const quant::QAct* x, float* Y, int64_t ldy) {
  const int64_t nb = K / 32;
  const int64_t gstride = nb * r16::kRows * (4 + 32);
  thread_local std::vector<uint8_t> panel, tmp;
  thread_local std::vector<int32_t> init;
  if (panel.size() < size_t(kPanelGroups * gstride)) panel.resize(size_t(kPanelGroups * gstride));
  if (tmp.size() < size_t(r16::kRows * K)) tmp.resize(size_t(r16::kRows * K));
  if (init.size() < size_t(M * nb)) init.resize(size_t(M * nb));
  block_offsets(false, M, nb, x, init.data());  // every sub-block is biased by 128, like Q8_0
  for (int64_t p = n0; p < n1; p += quant::kPackedRows) {
    const int64_t rows = std::min<int64_t>(quant::kPackedRows, n1 - p);
    const int64_t groups = (rows + r16::kRows - 1) / r16::kRows;
    for (int64_t g = 0; g < groups; ++g)
      to_group(f, W, rb, p + g * r16::kRows, int(std::min<int64_t>(r16::kRows, rows - g * r16::kRows)), K,
               panel.data() + g * gstride, tmp.data());
    r16::run<r16::kQ8, true>(0, groups, K, panel.data(), gstride, M, x, init.data(), Y + p, ldy,
                          int(rows - (groups - 1) * r16::kRows));
  }
}

void gemm(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
          const quant::QAct* x, float* Y, int64_t ldy) {
  switch (fmt) {
    case ITERA_QFMT_Q8_0: gemm_as(FmtQ8_0{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_Q4_0: gemm_as(FmtQ4_0{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_INT8: gemm_as(FmtInt8{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_INT4_G32: gemm_as(FmtInt4<32>{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_INT4_G64: gemm_as(FmtInt4<64>{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_INT4_G128: gemm_as(FmtInt4<128>{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_NF4: gemm_as(FmtNf4{}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    case ITERA_QFMT_NF4_DQ: gemm_as(FmtNf4Dq{K / 64}, n0, n1, K, W, rb, M, x, Y, ldy); return;
    default: return;
  }
}

}  // namespace packed

}  // namespace

namespace quant {
ITERA_MAKE_QUANT_TABLE(kAvx512Quant);
}  // namespace quant

}  // namespace itera
