// Scalar specification of the quantised weight formats (the "quantised weights" section of
// itera_kernels.h; kernel-facts section 4): one quantiser and one dequantiser per format, row by
// row, and the reference GEMV / GEMM = dequantise, then a double-precision dot product.
//
// Q8_0 and Q4_0 follow ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref step for step
// (including their use of the unrounded fp32 d for the inverse), so our blocks are bit-identical
// to ggml's. The fast entry points (quant.cpp) reuse the row functions defined here for
// quantising and dequantising, which are not hot paths.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "itera_kernels.h"
#include "quant_internal.h"

namespace itera {
namespace quant {

const float kNf4Code[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f};

const int8_t kNf4CodeI8[16] = {-127, -88, -67, -50, -36, -23, -12, 0,
                               10,   20,  31,  43,  56,  71,  92,  127};

namespace {

bool all_finite(int64_t n, const float* x) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

bool fp16_finite(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

// Index of the nearest NF4 level to v (v in [-1, 1] up to rounding): the number of midpoints
// between consecutive levels that v exceeds (bitsandbytes' decision tree, written as a count).
int nf4_index(float v) {
  int idx = 0;
  for (int i = 0; i < 15; ++i)
    if (v > 0.5f * (kNf4Code[i] + kNf4Code[i + 1])) idx = i + 1;
  return idx;
}

// One NF4 block of 64 against absmax c (c <= 0 or 0: every weight to level 7, which is 0).
void nf4_pack(const float* x, float c, uint8_t* qs) {
  const float inv = c > 0.0f ? 1.0f / c : 0.0f;
  for (int j = 0; j < 32; ++j) {
    const int hi = nf4_index(x[2 * j] * inv);
    const int lo = nf4_index(x[2 * j + 1] * inv);
    qs[j] = uint8_t((hi << 4) | lo);
  }
}

void nf4_unpack(const uint8_t* qs, float c, float* x) {
  for (int j = 0; j < 32; ++j) {
    x[2 * j] = kNf4Code[qs[j] >> 4] * c;
    x[2 * j + 1] = kNf4Code[qs[j] & 15] * c;
  }
}

float block_absmax(int64_t n, const float* x) {
  float a = 0.0f;
  for (int64_t i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

}  // namespace

// Quantises one row of K weights into `dst`; false on a non-finite input or an fp16 overflow.
bool quantize_row(int fmt, int64_t K, const float* x, uint8_t* dst) {
  if (!all_finite(K, x)) return false;
  switch (fmt) {
    case ITERA_QFMT_F32:
      std::memcpy(dst, x, size_t(4 * K));
      return true;
    case ITERA_QFMT_F16:
      for (int64_t i = 0; i < K; ++i) {
        const uint16_t h = f32_to_fp16(x[i]);
        if (!fp16_finite(h)) return false;
        store_u16(dst + 2 * i, h);
      }
      return true;
    case ITERA_QFMT_BF16:
      for (int64_t i = 0; i < K; ++i) {
        const uint16_t b = f32_to_bf16(x[i]);
        if ((b & 0x7f80u) == 0x7f80u) return false;  // rounded up to inf
        store_u16(dst + 2 * i, b);
      }
      return true;
    case ITERA_QFMT_Q8_0:
      for (int64_t b = 0; b < K / 32; ++b) {
        const float* xb = x + b * 32;
        uint8_t* blk = dst + b * kQ8BlockBytes;
        const float amax = block_absmax(32, xb);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t dh = f32_to_fp16(d);
        if (!fp16_finite(dh)) return false;
        store_u16(blk, dh);
        for (int j = 0; j < 32; ++j) blk[2 + j] = uint8_t(int8_t(std::roundf(xb[j] * id)));
      }
      return true;
    case ITERA_QFMT_Q4_0:
      for (int64_t b = 0; b < K / 32; ++b) {
        const float* xb = x + b * 32;
        uint8_t* blk = dst + b * kQ4BlockBytes;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; ++j) {
          if (amax < std::fabs(xb[j])) {
            amax = std::fabs(xb[j]);
            max = xb[j];
          }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t dh = f32_to_fp16(d);
        if (!fp16_finite(dh)) return false;
        store_u16(blk, dh);
        for (int j = 0; j < 16; ++j) {
          const float x0 = xb[j] * id;
          const float x1 = xb[16 + j] * id;
          const int q0 = std::min(15, int(int8_t(x0 + 8.5f)));
          const int q1 = std::min(15, int(int8_t(x1 + 8.5f)));
          blk[2 + j] = uint8_t(q0 | (q1 << 4));
        }
      }
      return true;
    case ITERA_QFMT_INT8: {
      const float s = block_absmax(K, x) / 127.0f;
      const float id = s != 0.0f ? 1.0f / s : 0.0f;
      store_f32(dst, s);
      for (int64_t i = 0; i < K; ++i) {
        const float q = std::min(127.0f, std::max(-127.0f, std::roundf(x[i] * id)));
        dst[4 + i] = uint8_t(int8_t(q));
      }
      return true;
    }
    case ITERA_QFMT_INT4_G32:
    case ITERA_QFMT_INT4_G64:
    case ITERA_QFMT_INT4_G128: {
      const int64_t g = int4_group(fmt), gb = int4_group_bytes(g);
      for (int64_t b = 0; b < K / g; ++b) {
        const float* xg = x + b * g;
        uint8_t* blk = dst + b * gb;
        // The range is widened to include 0 so the zero point always fits [0, 15] and a real 0
        // stays exact.
        float mn = 0.0f, mx = 0.0f;
        for (int64_t j = 0; j < g; ++j) {
          mn = std::min(mn, xg[j]);
          mx = std::max(mx, xg[j]);
        }
        const uint16_t sh = f32_to_fp16((mx - mn) / 15.0f);
        if (!fp16_finite(sh)) return false;
        const float s = fp16_to_f32(sh);  // quantise against the scale actually stored
        const float is = s != 0.0f ? 1.0f / s : 0.0f;
        const int z = int(std::min(15.0f, std::max(0.0f, std::roundf(-mn * is))));
        store_u16(blk, sh);
        blk[2] = uint8_t(z);
        for (int64_t sb = 0; sb < g / 32; ++sb) {
          const float* xs = xg + sb * 32;
          uint8_t* qs = blk + 3 + sb * 16;
          for (int j = 0; j < 16; ++j) {
            const int q0 = int(std::min(15.0f, std::max(0.0f, std::roundf(xs[j] * is) + float(z))));
            const int q1 =
                int(std::min(15.0f, std::max(0.0f, std::roundf(xs[16 + j] * is) + float(z))));
            qs[j] = uint8_t(q0 | (q1 << 4));
          }
        }
      }
      return true;
    }
    case ITERA_QFMT_NF4:
      for (int64_t b = 0; b < K / kNf4Block; ++b) {
        const float* xb = x + b * kNf4Block;
        uint8_t* blk = dst + b * kNf4BlockBytes;
        const float c = block_absmax(kNf4Block, xb);
        store_f32(blk, c);
        nf4_pack(xb, c, blk + 4);
      }
      return true;
    case ITERA_QFMT_NF4_DQ: {
      const int64_t nb = K / kNf4Block;
      std::vector<float> c(static_cast<size_t>(nb));
      double mean = 0.0;
      for (int64_t b = 0; b < nb; ++b) {
        c[size_t(b)] = block_absmax(kNf4Block, x + b * kNf4Block);
        mean += c[size_t(b)];
      }
      const float offset = float(mean / double(nb));
      float rmax = 0.0f;
      for (int64_t b = 0; b < nb; ++b) rmax = std::max(rmax, std::fabs(c[size_t(b)] - offset));
      const float c2 = rmax / 127.0f;
      const float ic2 = c2 != 0.0f ? 1.0f / c2 : 0.0f;
      store_f32(dst, c2);
      store_f32(dst + 4, offset);
      int8_t* qc = reinterpret_cast<int8_t*>(dst + kNf4DqHeader);
      uint8_t* qs = dst + kNf4DqHeader + nb;
      for (int64_t b = 0; b < nb; ++b) {
        const float q = std::min(127.0f, std::max(-127.0f, std::roundf((c[size_t(b)] - offset) * ic2)));
        qc[b] = int8_t(q);
        const float crec = float(qc[b]) * c2 + offset;
        nf4_pack(x + b * kNf4Block, crec, qs + b * 32);
      }
      return true;
    }
    default:
      return false;
  }
}

// Dequantises one stored row into K floats.
void dequantize_row(int fmt, int64_t K, const uint8_t* src, float* x) {
  switch (fmt) {
    case ITERA_QFMT_F32:
      std::memcpy(x, src, size_t(4 * K));
      return;
    case ITERA_QFMT_F16:
      for (int64_t i = 0; i < K; ++i) x[i] = fp16_to_f32(load_u16(src + 2 * i));
      return;
    case ITERA_QFMT_BF16:
      for (int64_t i = 0; i < K; ++i) x[i] = bf16_to_f32(load_u16(src + 2 * i));
      return;
    case ITERA_QFMT_Q8_0:
      for (int64_t b = 0; b < K / 32; ++b) {
        const uint8_t* blk = src + b * kQ8BlockBytes;
        const float d = fp16_to_f32(load_u16(blk));
        for (int j = 0; j < 32; ++j) x[b * 32 + j] = d * float(int8_t(blk[2 + j]));
      }
      return;
    case ITERA_QFMT_Q4_0:
      for (int64_t b = 0; b < K / 32; ++b) {
        const uint8_t* blk = src + b * kQ4BlockBytes;
        const float d = fp16_to_f32(load_u16(blk));
        for (int j = 0; j < 16; ++j) {
          x[b * 32 + j] = d * float(int(blk[2 + j] & 15) - 8);
          x[b * 32 + 16 + j] = d * float(int(blk[2 + j] >> 4) - 8);
        }
      }
      return;
    case ITERA_QFMT_INT8: {
      const float s = load_f32(src);
      for (int64_t i = 0; i < K; ++i) x[i] = s * float(int8_t(src[4 + i]));
      return;
    }
    case ITERA_QFMT_INT4_G32:
    case ITERA_QFMT_INT4_G64:
    case ITERA_QFMT_INT4_G128: {
      const int64_t g = int4_group(fmt), gb = int4_group_bytes(g);
      for (int64_t b = 0; b < K / g; ++b) {
        const uint8_t* blk = src + b * gb;
        const float s = fp16_to_f32(load_u16(blk));
        const int z = blk[2];
        for (int64_t sb = 0; sb < g / 32; ++sb) {
          const uint8_t* qs = blk + 3 + sb * 16;
          float* xs = x + b * g + sb * 32;
          for (int j = 0; j < 16; ++j) {
            xs[j] = s * float(int(qs[j] & 15) - z);
            xs[16 + j] = s * float(int(qs[j] >> 4) - z);
          }
        }
      }
      return;
    }
    case ITERA_QFMT_NF4:
      for (int64_t b = 0; b < K / kNf4Block; ++b) {
        const uint8_t* blk = src + b * kNf4BlockBytes;
        nf4_unpack(blk + 4, load_f32(blk), x + b * kNf4Block);
      }
      return;
    case ITERA_QFMT_NF4_DQ: {
      const int64_t nb = K / kNf4Block;
      const float c2 = load_f32(src);
      const float offset = load_f32(src + 4);
      const int8_t* qc = reinterpret_cast<const int8_t*>(src + kNf4DqHeader);
      const uint8_t* qs = src + kNf4DqHeader + nb;
      for (int64_t b = 0; b < nb; ++b) {
        const float crec = float(qc[b]) * c2 + offset;
        nf4_unpack(qs + b * 32, crec, x + b * kNf4Block);
      }
      return;
    }
    default:
      return;
  }
}

// Whether one stored row is well formed (finite scales and weights, INT4 zero points <= 15).
bool check_row(int fmt, int64_t K, const uint8_t* src) {
  switch (fmt) {
    case ITERA_QFMT_F32:
      for (int64_t i = 0; i < K; ++i)
        if (!std::isfinite(load_f32(src + 4 * i))) return false;
      return true;
    case ITERA_QFMT_F16:
      for (int64_t i = 0; i < K; ++i)
        if (!fp16_finite(load_u16(src + 2 * i))) return false;
      return true;
    case ITERA_QFMT_BF16:
      for (int64_t i = 0; i < K; ++i)
        if ((load_u16(src + 2 * i) & 0x7f80u) == 0x7f80u) return false;
      return true;
    case ITERA_QFMT_Q8_0:
      for (int64_t b = 0; b < K / 32; ++b)
        if (!fp16_finite(load_u16(src + b * kQ8BlockBytes))) return false;
      return true;
    case ITERA_QFMT_Q4_0:
      for (int64_t b = 0; b < K / 32; ++b)
        if (!fp16_finite(load_u16(src + b * kQ4BlockBytes))) return false;
      return true;
    case ITERA_QFMT_INT8:
      return std::isfinite(load_f32(src));
    case ITERA_QFMT_INT4_G32:
    case ITERA_QFMT_INT4_G64:
    case ITERA_QFMT_INT4_G128: {
      const int64_t g = int4_group(fmt), gb = int4_group_bytes(g);
      for (int64_t b = 0; b < K / g; ++b)
        if (!fp16_finite(load_u16(src + b * gb)) || src[b * gb + 2] > 15) return false;
      return true;
    }
    case ITERA_QFMT_NF4:
      for (int64_t b = 0; b < K / kNf4Block; ++b)
        if (!std::isfinite(load_f32(src + b * kNf4BlockBytes))) return false;
      return true;
    case ITERA_QFMT_NF4_DQ:
      return std::isfinite(load_f32(src)) && std::isfinite(load_f32(src + 4));
    default:
      return false;
  }
}

// The _R16 layouts (itera_kernels.h): row n = 16 g + r of a full group g sits in the group's
// scale table at [block][r] and in its weight lines at [block][step][r][4 bytes].
namespace {

// A block as stored is its head (scale_bytes: the scale, for INT4 also the zero point) followed by
// 4 * steps weight bytes; INT4 keeps the 16 rows' fp16 scales and then their zero points.
// NF4_DQ_R16 uses only rb, full_rows and group_offset: its heads are per row, not per block
// (nf4_dq_r16_offset).
struct R16Geometry {
  int64_t block, nb, rb, steps, scale_bytes, full_rows;  // weights and count of blocks per row,
  bool q8, int4;  // row bytes, steps per block, head bytes, rows in groups; Q8_0's +128; INT4
  R16Geometry(int fmt, int64_t N, int64_t K)
      : block(block_size(fmt)), nb(K / block), rb(row_bytes(fmt, K)),
        steps(fmt == ITERA_QFMT_Q4_0_R16 ? 4 : fmt == ITERA_QFMT_Q8_0_R16 ? 8 : block / 8),
        scale_bytes(fmt == ITERA_QFMT_NF4_R16 ? 4 : fmt == ITERA_QFMT_Q8_0_R16 || fmt == ITERA_QFMT_Q4_0_R16 ? 2 : 3),
        full_rows(N / kR16Rows * kR16Rows), q8(fmt == ITERA_QFMT_Q8_0_R16), int4(scale_bytes == 3) {}
  int64_t block_bytes() const { return scale_bytes + 4 * steps; }
  int64_t group_offset(int64_t n) const { return n / kR16Rows * kR16Rows * rb; }
  // head byte i of row r's block b
  int64_t head_offset(int64_t b, int64_t r, int64_t i) const {
    const int64_t table = b * kR16Rows * scale_bytes;
    if (int4) return table + (i < 2 ? r * 2 + i : 2 * kR16Rows + r);
    return table + r * scale_bytes + i;
  }
  int64_t step_offset(int64_t b, int64_t s, int64_t r) const {
    return nb * kR16Rows * scale_bytes + ((b * steps + s) * kR16Rows + r) * 4;
  }
};

}  // namespace

namespace {
// NF4_DQ_R16: where byte i of base row r (of a full group) sits in its group; the inverse of
// the layout in itera_kernels.h.
int64_t nf4_dq_r16_offset(int64_t K, int64_t r, int64_t i) {
  const int64_t nb = K / kNf4Block, codes = 2 * 4 * kR16Rows + nb * kR16Rows;
  if (i < 4) return r * 4 + i;                                   // c2
  if (i < kNf4DqHeader) return 4 * kR16Rows + r * 4 + (i - 4);   // offset
  if (i < kNf4DqHeader + nb) return 8 * kR16Rows + (i - kNf4DqHeader) * kR16Rows + r;  // qc[b]
  const int64_t q = i - kNf4DqHeader - nb, b = q / 32, s = (q % 32) / 4;
  return codes + ((b * 8 + s) * kR16Rows + r) * 4 + q % 4;
}
}  // namespace

const uint8_t* get_row(int fmt, int64_t N, int64_t K, const uint8_t* W, int64_t n, uint8_t* scratch) {
  const int64_t rb = row_bytes(fmt, K);
  if (!is_r16(fmt)) return W + n * rb;
  const R16Geometry g(fmt, N, K);
  if (n >= g.full_rows) return W + n * rb;  // the tail keeps the base layout
  const uint8_t* grp = W + g.group_offset(n);
  const int64_t r = n % kR16Rows;
  if (fmt == ITERA_QFMT_NF4_DQ_R16) {
    for (int64_t i = 0; i < rb; ++i) scratch[i] = grp[nf4_dq_r16_offset(K, r, i)];
    return scratch;
  }
  for (int64_t b = 0; b < g.nb; ++b) {
    uint8_t* blk = scratch + b * g.block_bytes();
    for (int64_t i = 0; i < g.scale_bytes; ++i) blk[i] = grp[g.head_offset(b, r, i)];
    for (int64_t s = 0; s < g.steps; ++s)
      for (int j = 0; j < 4; ++j) {
        const uint8_t v = grp[g.step_offset(b, s, r) + j];
        blk[g.scale_bytes + 4 * s + j] = g.q8 ? uint8_t(v ^ 0x80u) : v;
      }
  }
  return scratch;
}

void put_row(int fmt, int64_t N, int64_t K, uint8_t* W, int64_t n, const uint8_t* src) {
  const int64_t rb = row_bytes(fmt, K);
  const R16Geometry g(fmt, N, K);
  if (!is_r16(fmt) || n >= g.full_rows) {
    std::memcpy(W + n * rb, src, size_t(rb));
    return;
  }
  uint8_t* grp = W + g.group_offset(n);
  const int64_t r = n % kR16Rows;
  if (fmt == ITERA_QFMT_NF4_DQ_R16) {
    for (int64_t i = 0; i < rb; ++i) grp[nf4_dq_r16_offset(K, r, i)] = src[i];
    return;
  }
  for (int64_t b = 0; b < g.nb; ++b) {
    const uint8_t* blk = src + b * g.block_bytes();
    for (int64_t i = 0; i < g.scale_bytes; ++i) grp[g.head_offset(b, r, i)] = blk[i];
    for (int64_t s = 0; s < g.steps; ++s)
      for (int j = 0; j < 4; ++j) {
        const uint8_t v = blk[g.scale_bytes + 4 * s + j];
        grp[g.step_offset(b, s, r) + j] = g.q8 ? uint8_t(v ^ 0x80u) : v;
      }
  }
}

}  // namespace quant
}  // namespace itera

using itera::quant::base_format;
using itera::quant::dequantize_row;
using itera::quant::get_row;
using itera::quant::put_row;
using itera::quant::quantize_row;
using itera::quant::row_bytes;

extern "C" {

int64_t itera_quant_block_size(int fmt) { return itera::quant::block_size(fmt); }

int64_t itera_quant_row_bytes(int fmt, int64_t K) { return row_bytes(fmt, K); }

int itera_quantize_ref(int fmt, int64_t N, int64_t K, const float* src, int64_t lds, void* dst) {
  const int64_t rb = row_bytes(fmt, K);
  if (rb < 0 || N <= 0 || lds < K) return ITERA_ERR_BAD_ARGUMENT;
  uint8_t* out = static_cast<uint8_t*>(dst);
  std::vector<uint8_t> row(static_cast<size_t>(rb));
  for (int64_t n = 0; n < N; ++n) {
    if (!quantize_row(base_format(fmt), K, src + n * lds, row.data())) return ITERA_ERR_BAD_ARGUMENT;
    put_row(fmt, N, K, out, n, row.data());
  }
  return ITERA_OK;
}

int itera_dequantize_ref(int fmt, int64_t N, int64_t K, const void* src, float* dst,
                         int64_t ldd) {
  const int64_t rb = row_bytes(fmt, K);
  if (rb < 0 || N <= 0 || ldd < K) return ITERA_ERR_BAD_ARGUMENT;
  const uint8_t* in = static_cast<const uint8_t*>(src);
  std::vector<uint8_t> row(static_cast<size_t>(rb));
  for (int64_t n = 0; n < N; ++n)
    dequantize_row(base_format(fmt), K, get_row(fmt, N, K, in, n, row.data()), dst + n * ldd);
  return ITERA_OK;
}

int itera_quant_check(int fmt, int64_t N, int64_t K, const void* W) {
  const int64_t rb = row_bytes(fmt, K);
  if (rb < 0 || N <= 0) return ITERA_ERR_BAD_ARGUMENT;
  const uint8_t* in = static_cast<const uint8_t*>(W);
  std::vector<uint8_t> row(static_cast<size_t>(rb));
  for (int64_t n = 0; n < N; ++n)
    if (!itera::quant::check_row(base_format(fmt), K, get_row(fmt, N, K, in, n, row.data())))
      return ITERA_ERR_BAD_ARGUMENT;
  return ITERA_OK;
}

int itera_quant_relayout(int src_fmt, int dst_fmt, int64_t N, int64_t K, const void* src,
                         void* dst) {
  const int64_t rb = row_bytes(src_fmt, K);
  if (rb < 0 || N <= 0 || row_bytes(dst_fmt, K) < 0 || base_format(src_fmt) != base_format(dst_fmt))
    return ITERA_ERR_BAD_ARGUMENT;
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* out = static_cast<uint8_t*>(dst);
  std::vector<uint8_t> row(static_cast<size_t>(rb));
  for (int64_t n = 0; n < N; ++n) put_row(dst_fmt, N, K, out, n, get_row(src_fmt, N, K, in, n, row.data()));
  return ITERA_OK;
}

int itera_dequantize_row(int fmt, int64_t N, int64_t K, const void* W, int64_t row, float* dst) {
  const int64_t rb = row_bytes(fmt, K);
  if (rb < 0 || N <= 0 || row < 0 || row >= N) return ITERA_ERR_BAD_ARGUMENT;
  // An embedding row: at most a few KiB, on the stack for the common sizes.
  uint8_t local[4096];
  std::vector<uint8_t> heap(rb > int64_t(sizeof local) ? size_t(rb) : 0);
  uint8_t* scratch = heap.empty() ? local : heap.data();
  dequantize_row(base_format(fmt), K, get_row(fmt, N, K, static_cast<const uint8_t*>(W), row, scratch), dst);
  return ITERA_OK;
}

int itera_qgemm_ref(int fmt, int64_t M, int64_t N, int64_t K, const float* X, int64_t ldx,
                    const void* W, float* Y, int64_t ldy) {
  const int64_t rb = row_bytes(fmt, K);
  if (rb < 0 || M <= 0 || N <= 0 || ldx < K || ldy < N) return ITERA_ERR_BAD_ARGUMENT;
  const uint8_t* in = static_cast<const uint8_t*>(W);
  std::vector<float> w(static_cast<size_t>(K));
  std::vector<uint8_t> row(static_cast<size_t>(rb));
  for (int64_t n = 0; n < N; ++n) {
    dequantize_row(base_format(fmt), K, get_row(fmt, N, K, in, n, row.data()), w.data());
    for (int64_t m = 0; m < M; ++m) {
      const float* x = X + m * ldx;
      double acc = 0.0;
      if (base_format(fmt) == ITERA_QFMT_BF16) {  // bf16 weights times bf16 activations
        for (int64_t k = 0; k < K; ++k) acc += double(w[size_t(k)]) * double(itera::quant::round_to_bf16(x[k]));
      } else {
        for (int64_t k = 0; k < K; ++k) acc += double(w[size_t(k)]) * double(x[k]);
      }
      Y[m * ldy + n] = float(acc);
    }
  }
  return ITERA_OK;
}

int itera_qgemv_ref(int fmt, int64_t N, int64_t K, const void* W, const float* x, float* y) {
  return itera_qgemm_ref(fmt, 1, N, K, x, K, W, y, N);
}

}  // extern "C"
