// Fast entry points of the "quantised weights" section of itera_kernels.h: validate, quantise the
// activations once per call, split the rows of W across the worker pool and run the building
// blocks of the ISA level selected at this call (quant_internal.h, simd_quant.inc).
//
// Level choice: the AVX-512 table needs AVX512-VNNI on top of ITERA_ISA_AVX512 (its integer dots
// are vpdpbusd); a CPU with AVX-512 but without VNNI runs the AVX2 table (maddubs/madd), which
// is still far faster than the portable one.
#include <algorithm>
#include <atomic>
#include <vector>

#include "itera_kernels.h"
#include "parallel.h"
#include "quant_internal.h"

namespace {

using itera::quant::QAct;
using itera::quant::QuantKernels;

constexpr int64_t kRowUnit = 16;           // rows per scheduling unit (one cache line of y)
constexpr int64_t kMinBytesPerPart = 1 << 15;  // weight bytes per thread, at least
constexpr int64_t kGemmPanelBytes = 1 << 15;   // weight bytes of one GEMM row panel (in L1/L2)
constexpr int64_t kF16SgemmRows = 48;          // F16/BF16 GEMMs from here on use sgemm (fewer rows: row dots)
constexpr int64_t kBf16DotRows = 8;            // BF16 GEMMs with this many rows use vdpbf16ps
constexpr int64_t kBf16Rows = 24;              // weight rows per scheduling unit (2 register tiles)

const QuantKernels& qkernels() {
  const int isa = itera_get_isa();
  if (isa >= ITERA_ISA_AVX512 && (itera_cpu_features() & ITERA_CPU_AVX512VNNI))
    return itera::quant::kAvx512Quant;
  if (isa >= ITERA_ISA_AVX2) return itera::quant::kAvx2Quant;
  return itera::quant::kScalarQuant;
}

bool is_float16(int fmt) { return fmt == ITERA_QFMT_F16 || fmt == ITERA_QFMT_BF16; }
bool nf4_order(int fmt) {
  fmt = itera::quant::base_format(fmt);
  return fmt == ITERA_QFMT_NF4 || fmt == ITERA_QFMT_NF4_DQ;
}

// X [M, K] (row stride ldx) with every value rounded to bf16, as fp32 [M, K] in a buffer of the
// calling thread: BF16 products multiply bf16 activations by the bf16 weights on every path.
const float* bf16_rounded(int64_t M, int64_t K, const float* X, int64_t ldx) {
  thread_local std::vector<float> rounded;
  if (rounded.size() < size_t(M * K)) rounded.resize(size_t(M * K));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < K; ++i) rounded[size_t(m * K + i)] = itera::quant::round_to_bf16(X[m * ldx + i]);
  return rounded.data();
}

// Quantised activation rows, reused across calls of one thread (decode must not allocate).
struct ActBuffer {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> aux;
  void reserve(int64_t M, int64_t K) {
    if (q.size() < size_t(M * K)) q.resize(size_t(M * K));
    if (d.size() < size_t(M * K / 32)) {
      d.resize(size_t(M * K / 32));
      aux.resize(size_t(M * K / 32 * 8));
    }
  }
  QAct row(int64_t m, int64_t K) const {
    return QAct{q.data() + m * K, d.data() + m * (K / 32), aux.data() + m * (K / 32) * 8};
  }
};

ActBuffer& act_buffer() {
  thread_local ActBuffer buf;
  return buf;
}

void quantize_activations(const QuantKernels& k, int fmt, int64_t M, int64_t K, const float* X,
                          int64_t ldx, ActBuffer& buf) {
  buf.reserve(M, K);
  const bool order = nf4_order(fmt);
  itera::parallel_for(M, std::max<int64_t>(1, (1 << 14) / K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      k.quantize_act(K, X + m * ldx, order, buf.q.data() + m * K, buf.d.data() + m * (K / 32),
                     buf.aux.data() + m * (K / 32) * 8);
  });
}

// Rows [n0, n1) of W against activation row m, written to y (y[n] for row n).
void rows_dot(const QuantKernels& k, int fmt, int64_t n0, int64_t n1, int64_t K,
              const uint8_t* W, int64_t rb, const ActBuffer& act, const float* x, float* y) {
  if (is_float16(fmt)) k.fdot_rows(fmt, n0, n1, K, W, rb, x, y);
  else if (k.q4_0_gemv_rows && fmt == ITERA_QFMT_Q4_0) k.q4_0_gemv_rows(n0, n1, K, W, rb, act.row(0, K), y);
  else {
    const QAct a = act.row(0, K);
    k.qgemm_rows(fmt, n0, n1, K, W, rb, 1, &a, y, 0);
  }
}

// Y [M, N] = X . W^T for an _R16 layout, the activations already quantised into `x`: the full
// groups through the table's interleaved kernel (or, where the ISA has none, each group gathered
// back into base rows for qgemm_rows), split across the pool; the tail rows as base rows.
void r16_product(const QuantKernels& k, int fmt, int64_t M, int64_t N, int64_t K, const uint8_t* W,
                 const QAct* x, float* Y, int64_t ldy) {
  using itera::quant::kR16Rows;
  const int base = itera::quant::base_format(fmt);
  const int64_t rb = itera::quant::row_bytes(fmt, K);
  const int64_t groups = N / kR16Rows;
  const int64_t grain = M == 1 ? std::max<int64_t>(1, kMinBytesPerPart / (kR16Rows * rb)) : 1;
  itera::parallel_for(groups, grain, [&](int64_t g0, int64_t g1) {
    if (k.qgemm_r16) {
      k.qgemm_r16(fmt, g0, g1, K, W, rb, M, x, Y, ldy);
      return;
    }
    thread_local std::vector<uint8_t> rows;
    if (rows.size() < size_t(kR16Rows * rb)) rows.resize(size_t(kR16Rows * rb));
    for (int64_t g = g0; g < g1; ++g) {
      for (int64_t r = 0; r < kR16Rows; ++r)  // rows of full groups are always gathered
        itera::quant::get_row(fmt, N, K, W, g * kR16Rows + r, rows.data() + r * rb);
      k.qgemm_rows(base, 0, kR16Rows, K, rows.data(), rb, M, x, Y + g * kR16Rows, ldy);
    }
  });
  if (groups * kR16Rows < N) k.qgemm_rows(base, groups * kR16Rows, N, K, W, rb, M, x, Y, ldy);
}

}  // namespace

extern "C" {

int itera_quantize(int fmt, int64_t N, int64_t K, const float* src, int64_t lds, void* dst) {
  const int64_t rb = itera::quant::row_bytes(fmt, K);
  if (rb < 0 || N <= 0 || lds < K) return ITERA_ERR_BAD_ARGUMENT;
  uint8_t* out = static_cast<uint8_t*>(dst);
  std::atomic<bool> ok{true};
  const int base = itera::quant::base_format(fmt);
  itera::parallel_for(N, std::max<int64_t>(1, (1 << 14) / K), [&](int64_t n0, int64_t n1) {
    std::vector<uint8_t> row(size_t(base == fmt ? 0 : rb));
    for (int64_t n = n0; n < n1; ++n) {
      if (base == fmt) {
        if (!itera::quant::quantize_row(fmt, K, src + n * lds, out + n * rb)) ok.store(false);
      } else if (itera::quant::quantize_row(base, K, src + n * lds, row.data())) {
        itera::quant::put_row(fmt, N, K, out, n, row.data());
      } else {
        ok.store(false);
      }
    }
  });
  return ok.load() ? ITERA_OK : ITERA_ERR_BAD_ARGUMENT;
}

int itera_dequantize(int fmt, int64_t N, int64_t K, const void* src, float* dst, int64_t ldd) {
  const int64_t rb = itera::quant::row_bytes(fmt, K);
  if (rb < 0 || N <= 0 || ldd < K) return ITERA_ERR_BAD_ARGUMENT;
  const uint8_t* in = static_cast<const uint8_t*>(src);
  const QuantKernels& k = qkernels();
  const bool f16 = is_float16(fmt);
  const int base = itera::quant::base_format(fmt);
  itera::parallel_for(N, std::max<int64_t>(1, (1 << 14) / K), [&](int64_t n0, int64_t n1) {
    std::vector<uint8_t> row(size_t(base == fmt ? 0 : rb));
    for (int64_t n = n0; n < n1; ++n) {
      if (f16) k.half_to_f32(K, in + n * rb, fmt == ITERA_QFMT_BF16, dst + n * ldd);
      else itera::quant::dequantize_row(base, K, itera::quant::get_row(fmt, N, K, in, n, row.data()), dst + n * ldd);
    }
  });
  return ITERA_OK;
}

int itera_quant_layout(int fmt) {
  if (itera::quant::block_size(fmt) == 0) return -1;
  if (!qkernels().qgemm_r16) return fmt;
  return itera::quant::r16_layout(fmt);
}

int itera_qgemv(int fmt, int64_t N, int64_t K, const void* W, const float* x, float* y) {
  const int64_t rb = itera::quant::row_bytes(fmt, K);
  if (rb < 0 || N <= 0) return ITERA_ERR_BAD_ARGUMENT;
  if (fmt == ITERA_QFMT_F32) {
    itera_sgemv(1, N, K, 1.0f, static_cast<const float*>(W), K, x, 0.0f, y);
    return ITERA_OK;
  }
  if (fmt == ITERA_QFMT_BF16) x = bf16_rounded(1, K, x, K);
  const QuantKernels& k = qkernels();
  ActBuffer& act = act_buffer();
  if (!is_float16(fmt)) quantize_activations(k, fmt, 1, K, x, K, act);
  const uint8_t* w = static_cast<const uint8_t*>(W);
  if (itera::quant::is_r16(fmt)) {
    const QAct a = act.row(0, K);
    r16_product(k, fmt, 1, N, K, w, &a, y, N);
    return ITERA_OK;
  }
  const int64_t units = (N + kRowUnit - 1) / kRowUnit;
  const int64_t grain = std::max<int64_t>(1, kMinBytesPerPart / (kRowUnit * rb));
  itera::parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
    rows_dot(k, fmt, u0 * kRowUnit, std::min(N, u1 * kRowUnit), K, w, rb, act, x, y);
  });
  return ITERA_OK;
}

int itera_qgemm(int fmt, int64_t M, int64_t N, int64_t K, const float* X, int64_t ldx,
                const void* W, float* Y, int64_t ldy) {
  const int64_t rb = itera::quant::row_bytes(fmt, K);
  if (rb < 0 || M <= 0 || N <= 0 || ldx < K || ldy < N) return ITERA_ERR_BAD_ARGUMENT;
  if (M == 1) return itera_qgemv(fmt, N, K, W, X, Y);
  if (fmt == ITERA_QFMT_F32) {
    itera_sgemm(0, 1, M, N, K, 1.0f, X, ldx, static_cast<const float*>(W), K, 0.0f, Y, ldy);
    return ITERA_OK;
  }
  const QuantKernels& k = qkernels();
  const bool f16 = is_float16(fmt);
  if (fmt == ITERA_QFMT_BF16 && M >= kBf16DotRows && k.bf16_gemm &&
      (itera_cpu_features() & ITERA_CPU_AVX512BF16)) {
    // bf16 x bf16 products (vdpbf16ps) at twice the fp32 FMA rate, the activations rounded to
    // bf16 as llama.cpp's and oneDNN's BF16 matmuls do; packed once, shared by every thread.
    thread_local std::vector<uint32_t> packed_x;
    const size_t words = size_t(itera::quant::bf16_packed_words(M, K));
    if (packed_x.size() < words) packed_x.resize(words);
    k.bf16_pack(M, K, X, ldx, packed_x.data());
    const uint32_t* xp = packed_x.data();
    const uint8_t* w = static_cast<const uint8_t*>(W);
    itera::parallel_for((N + kBf16Rows - 1) / kBf16Rows, 1, [&](int64_t u0, int64_t u1) {
      k.bf16_gemm(u0 * kBf16Rows, std::min(N, u1 * kBf16Rows), K, w, rb, M, xp, Y, ldy);
    });
    return ITERA_OK;
  }
  if (fmt == ITERA_QFMT_BF16) {  // the other paths take fp32 activations: give them bf16 values
    X = bf16_rounded(M, K, X, ldx);
    ldx = K;
  }
  if (f16 && M >= kF16SgemmRows) {
    // Many rows: converting a panel of W to fp32 once and running OpenBLAS's sgemm on it beats
    // converting every weight M times inside row dots (the conversion is 1/M of the work).
    thread_local std::vector<float> panel_buf;
    const int64_t panel = std::min<int64_t>(N, std::max<int64_t>(64, (1 << 20) / K));
    if (panel_buf.size() < size_t(panel * K)) panel_buf.resize(size_t(panel * K));
    const uint8_t* w = static_cast<const uint8_t*>(W);
    for (int64_t n0 = 0; n0 < N; n0 += panel) {
      const int64_t rows = std::min(panel, N - n0);
      itera_dequantize(fmt, rows, K, w + n0 * rb, panel_buf.data(), K);
      itera_sgemm(0, 1, M, rows, K, 1.0f, X, ldx, panel_buf.data(), K, 0.0f, Y + n0, ldy);
    }
    return ITERA_OK;
  }
  ActBuffer& act = act_buffer();
  if (!f16) quantize_activations(k, fmt, M, K, X, ldx, act);
  const uint8_t* w = static_cast<const uint8_t*>(W);
  std::vector<QAct> rows(static_cast<size_t>(f16 ? 0 : M));
  for (int64_t m = 0; m < int64_t(rows.size()); ++m) rows[size_t(m)] = act.row(m, K);
  if (itera::quant::is_r16(fmt)) {
    r16_product(k, fmt, M, N, K, w, rows.data(), Y, ldy);
    return ITERA_OK;
  }
  if (k.qgemm_packed && !f16 && M >= itera::quant::packed_min_rows(fmt)) {
    // Each thread converts its panels into its own scratch once and runs every activation row
    // over them; one panel is the unit of the split (an equal share of converting each).
    constexpr int64_t P = itera::quant::kPackedRows;
    itera::parallel_for((N + P - 1) / P, 1, [&](int64_t p0, int64_t p1) {
      k.qgemm_packed(fmt, p0 * P, std::min(N, p1 * P), K, w, rb, M, rows.data(), Y, ldy);
    });
    return ITERA_OK;
  }
  // Row panels small enough to stay in cache while every activation row passes over them.
  const int64_t panel = std::max<int64_t>(4, std::min<int64_t>(64, kGemmPanelBytes / rb)) & ~int64_t(3);
  const int64_t panels = (N + panel - 1) / panel;
  itera::parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * panel, n1 = std::min(N, n0 + panel);
      if (f16) {
        for (int64_t m = 0; m < M; ++m) k.fdot_rows(fmt, n0, n1, K, w, rb, X + m * ldx, Y + m * ldy);
      } else {
        k.qgemm_rows(fmt, n0, n1, K, w, rb, M, rows.data(), Y, ldy);
      }
    }
  });
  return ITERA_OK;
}

}  // extern "C"
