// Quantised weight formats: the byte layouts, the scalar conversions and the dispatch table of the
// fast quantised GEMV / GEMM building blocks (not part of the ABI; see the "quantised weights"
// section of itera_kernels.h for the formats themselves).
//
// Every format stores a matrix W [N, K] as N independent rows of itera_quant_row_bytes(fmt, K)
// bytes, row after row; a row is a sequence of blocks along K. Multi-byte fields are
// little-endian and may be unaligned (blocks of 34 or 18 bytes), so they are read with memcpy.
#ifndef ITERA_QUANT_INTERNAL_H
#define ITERA_QUANT_INTERNAL_H

#include <cmath>
#include <cstdint>
#include <cstring>

#include "itera_kernels.h"

namespace itera {
namespace quant {

// ---------------------------------------------------------------- block geometry
constexpr int64_t kQ8Block = 32;                // Q8_0, Q4_0 (ggml QK8_0 = QK4_0 = 32)
constexpr int64_t kQ8BlockBytes = 2 + 32;       // {fp16 d; int8 qs[32]}
constexpr int64_t kQ4BlockBytes = 2 + 16;       // {fp16 d; uint8 qs[16]}
constexpr int64_t kNf4Block = 64;               // bitsandbytes blocksize 64
constexpr int64_t kNf4BlockBytes = 4 + 32;      // {fp32 absmax; uint8 qs[32]}
constexpr int64_t kNf4DqHeader = 8;             // {fp32 c2; fp32 offset} then int8 qc[K/64]
constexpr int64_t kActBlock = 32;               // activation blocks (the Q8_0 block)

// Group size of an INT4 format (0 if fmt is not INT4).
inline int64_t int4_group(int fmt) {
  switch (fmt) {
    case ITERA_QFMT_INT4_G32: return 32;
    case ITERA_QFMT_INT4_G64: return 64;
    case ITERA_QFMT_INT4_G128: return 128;
    default: return 0;
  }
}
// INT4 group: {fp16 s; uint8 z; uint8 qs[g/2]}, qs in 32-element sub-blocks packed like Q4_0.
inline int64_t int4_group_bytes(int64_t g) { return 3 + g / 2; }

// ---------------------------------------------------------------- row-interleaved layouts
// ITERA_QFMT_Q8_0_R16 / Q4_0_R16 / NF4_R16 / INT4_G*_R16 (itera_kernels.h): groups of kR16Rows
// rows, block heads (scales, INT4 zero points) first, then the weights in 4-byte steps of all the
// group's rows; the N mod 16 last rows in the base layout.
constexpr int64_t kR16Rows = 16;

inline bool is_r16(int fmt) { return fmt >= ITERA_QFMT_Q8_0_R16 && fmt <= ITERA_QFMT_NF4_DQ_R16; }

// Each base format with an interleaved layout, and that layout.
constexpr int kR16Layouts[][2] = {{ITERA_QFMT_Q8_0, ITERA_QFMT_Q8_0_R16},         {ITERA_QFMT_Q4_0, ITERA_QFMT_Q4_0_R16},
                                  {ITERA_QFMT_NF4, ITERA_QFMT_NF4_R16},           {ITERA_QFMT_INT4_G32, ITERA_QFMT_INT4_G32_R16},
                                  {ITERA_QFMT_INT4_G64, ITERA_QFMT_INT4_G64_R16}, {ITERA_QFMT_INT4_G128, ITERA_QFMT_INT4_G128_R16},
                                  {ITERA_QFMT_NF4_DQ, ITERA_QFMT_NF4_DQ_R16}};

// The format whose blocks a layout holds (the format itself for the base formats).
inline int base_format(int fmt) {
  for (const auto& pair : kR16Layouts)
    if (pair[1] == fmt) return pair[0];
  return fmt;
}

// The interleaved layout of a base format (the format itself where it has none).
inline int r16_layout(int fmt) {
  for (const auto& pair : kR16Layouts)
    if (pair[0] == fmt) return pair[1];
  return fmt;
}

// K must be a multiple of this (0: unknown format).
inline int64_t block_size(int fmt) {
  fmt = base_format(fmt);
  switch (fmt) {
    case ITERA_QFMT_F32:
    case ITERA_QFMT_F16:
    case ITERA_QFMT_BF16: return 1;
    case ITERA_QFMT_Q8_0:
    case ITERA_QFMT_Q4_0:
    case ITERA_QFMT_INT8: return 32;
    case ITERA_QFMT_INT4_G32: return 32;
    case ITERA_QFMT_INT4_G64: return 64;
    case ITERA_QFMT_INT4_G128: return 128;
    case ITERA_QFMT_NF4:
    case ITERA_QFMT_NF4_DQ: return kNf4Block;
    default: return 0;
  }
}

// Bytes of one row of K weights; -1 if fmt is unknown or K is not a positive multiple of its block.
inline int64_t row_bytes(int fmt, int64_t K) {
  fmt = base_format(fmt);
  const int64_t b = block_size(fmt);
  if (b == 0 || K <= 0 || K % b != 0) return -1;
  switch (fmt) {
    case ITERA_QFMT_F32: return 4 * K;
    case ITERA_QFMT_F16:
    case ITERA_QFMT_BF16: return 2 * K;
    case ITERA_QFMT_Q8_0: return K / 32 * kQ8BlockBytes;
    case ITERA_QFMT_Q4_0: return K / 32 * kQ4BlockBytes;
    case ITERA_QFMT_INT8: return 4 + K;
    case ITERA_QFMT_INT4_G32:
    case ITERA_QFMT_INT4_G64:
    case ITERA_QFMT_INT4_G128: return K / b * int4_group_bytes(b);
    case ITERA_QFMT_NF4: return K / kNf4Block * kNf4BlockBytes;
    case ITERA_QFMT_NF4_DQ: return kNf4DqHeader + K / kNf4Block + K / 2;
    default: return -1;
  }
}

// ---------------------------------------------------------------- scalar conversions
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE binary16 -> binary32 (exact, subnormals included).
inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));  // inf / nan
  if (exp == 0) {
    if (man == 0) return bits_f32(sign);
    // subnormal: man * 2^-24
    const float v = float(man) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

// binary32 -> binary16, round to nearest even (what F16C's vcvtps2ph with imm 0 does), overflow to
// inf, NaN kept NaN.
inline uint16_t f32_to_fp16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // nan
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520: rounds to inf
  if (ax < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    // value = ax as float; half subnormal units are 2^-24.
    const float v = bits_f32(ax) * 16777216.0f;  // exact (power of two scaling)
    // round half to even via nearbyint in the default rounding mode
    const float r = std::nearbyint(v);
    return uint16_t(sign | uint32_t(r));
  }
  // normal: rebias exponent, round mantissa 23 -> 10 bits to nearest even
  uint32_t h = ((ax >> 13) - (112u << 10));
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: fine
  return uint16_t(sign | h);
}

inline float bf16_to_f32(uint16_t b) { return bits_f32(uint32_t(b) << 16); }

// binary32 -> bfloat16, round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// f rounded to the nearest bfloat16 (ties to even), as fp32: what BF16 products multiply.
inline float round_to_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, 4); }

// ---------------------------------------------------------------- NF4 code book
// bitsandbytes' NF4 levels (create_normal_map(offset=0.9677083), hard-coded in csrc/kernels.cu).
extern const float kNf4Code[16];
// The same levels scaled by 127 and rounded: the int8 weights the integer-dot kernels use (their
// rounding, at most 0.5/127 of the block's absmax, is below the activation quantisation error).
extern const int8_t kNf4CodeI8[16];

// ---------------------------------------------------------------- row functions (quant_reference.cpp)
// Quantises one row of K weights into dst; false on a non-finite input or an fp16 overflow.
bool quantize_row(int fmt, int64_t K, const float* x, uint8_t* dst);
// Dequantises one stored row into K floats.
void dequantize_row(int fmt, int64_t K, const uint8_t* src, float* x);
// Whether one stored row is well formed (finite scales and weights, INT4 zero points <= 15).
bool check_row(int fmt, int64_t K, const uint8_t* src);

// ---------------------------------------------------------------- quantised activations
// An activation row quantised on the fly in blocks of 32 (the Q8_0 block; for the NF4 formats the
// elements of each 64-block are stored evens first, then odds, to meet bitsandbytes' packing).
//   q[K]          int8 values in [-127, 127]
//   d[K/32]       block scale (fp32): x ~ d * q
//   aux[K/32 * 8] per-ISA precomputed data of each block (AVX-512 VNNI: -128 * the sums of
//                 each 4 consecutive q, the starting value of its biased vpdpbusd dots)
struct QAct {
  const int8_t* q;
  const float* d;
  const int32_t* aux;
};

// Row n of W [N, K] in layout fmt, in the base layout: a pointer into W for the base formats and
// the tail rows of an _R16 layout, else gathered into `scratch` (row_bytes) and `scratch` returned.
const uint8_t* get_row(int fmt, int64_t N, int64_t K, const uint8_t* W, int64_t n, uint8_t* scratch);
// Stores `src` (row n in the base layout) as row n of W in layout fmt.
void put_row(int fmt, int64_t N, int64_t K, uint8_t* W, int64_t n, const uint8_t* src);

// ---------------------------------------------------------------- fast building blocks
// One table per ISA level, like dispatch.h's Kernels. All functions are single-threaded over
// the given range; quant.cpp splits the work.
struct QuantKernels {
  // Quantise one activation row (K a multiple of 64 when nf4_order, else of 32).
  void (*quantize_act)(int64_t K, const float* x, bool nf4_order, int8_t* q, float* d,
                       int32_t* aux);
  // Y[m, n] = row n of W (an integer format, rb bytes per row) . x[m], for n in [n0, n1),
  // m < M; Y has row stride ldy.
  void (*qgemm_rows)(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb,
                     int64_t M, const QAct* x, float* Y, int64_t ldy);
  // dst[i] = the i-th F16 (bf16 = false) or BF16 value at src, i < n (exact conversions).
  void (*half_to_f32)(int64_t n, const uint8_t* src, bool bf16, float* dst);
  // y[n] = row n of W (F16 or BF16) . x (fp32), for n in [n0, n1).
  void (*fdot_rows)(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb,
                    const float* x, float* y);
  // Optional (null where the ISA has none): qgemm_rows for any integer format as stored, each
  // panel of kPackedRows rows converted on the fly to the Q8_0_R16 form (fp32 scales) and run
  // through the qgemm_r16 tiles; quant.cpp takes this path from packed_min_rows(fmt) rows on, with
  // n0 (and n1 unless it is N) on multiples of kPackedRows.
  void (*qgemm_packed)(int fmt, int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb,
                       int64_t M, const QAct* x, float* Y, int64_t ldy);
  // Optional (null where the ISA has none): qgemm_rows with M = 1 for Q4_0 (y[n] for n in
  // [n0, n1)), a few percent faster than the generic tile.
  void (*q4_0_gemv_rows)(int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb,
                         const QAct& x, float* y);
  // Optional (null where the ISA has none): Y[m, n] for the rows n of the full groups [g0, g1)
  // of a Q8_0_R16 / Q4_0_R16 matrix W (fmt is the _R16 code, rb the base row bytes), m < M.
  // Without it quant.cpp gathers each group back into base rows for qgemm_rows.
  void (*qgemm_r16)(int fmt, int64_t g0, int64_t g1, int64_t K, const uint8_t* W, int64_t rb,
                    int64_t M, const QAct* x, float* Y, int64_t ldy);
  // Optional (null where the table has none; usable only where the CPU has AVX512-BF16): the BF16
  // GEMM on bf16 dot products. bf16_pack rounds X [M, K] to bf16 (nearest even) into xp, which
  // holds bf16_packed_words(M, K) dwords; bf16_gemm then writes Y[m, n], n in [n0, n1), m < M.
  void (*bf16_pack)(int64_t M, int64_t K, const float* X, int64_t ldx, uint32_t* xp);
  void (*bf16_gemm)(int64_t n0, int64_t n1, int64_t K, const uint8_t* W, int64_t rb, int64_t M,
                    const uint32_t* xp, float* Y, int64_t ldy);
};
// Activation rows in 16-row lines of (K + 1) / 2 bf16 pairs.
inline int64_t bf16_packed_words(int64_t M, int64_t K) { return (M + 15) / 16 * 16 * ((K + 1) / 2); }
constexpr int64_t kPackedRows = 32;
// Activation rows from which qgemm_packed beats the row tiles: INT8's row tiles apply one scale per
// row instead of one per block, so its conversion pays off later.
inline int64_t packed_min_rows(int fmt) { return fmt == ITERA_QFMT_INT8 ? 8 : 4; }

extern const QuantKernels kScalarQuant;
extern const QuantKernels kAvx2Quant;
extern const QuantKernels kAvx512Quant;

}  // namespace quant
}  // namespace itera

#endif
