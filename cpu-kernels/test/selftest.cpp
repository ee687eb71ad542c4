// Self test of the Itera-Lite CPU kernels (C++ only, no Java).
//
// For every ISA level this CPU supports, every fast kernel `itera_X` is run on random inputs of
// awkward sizes (1, 7, 33, ..., large enough to be threaded) and compared with its reference
// `itera_X_ref` by normalised error  sum((fast - ref)^2) / sum(ref^2). Written outputs are
// poisoned with NaN before each call (a kernel that skips an element fails); accumulate-into
// buffers start from the same finite random values. Then a timing table: GEMV 1x1024x1024 in both
// layouts (median of 200 runs) and large add / axpy (memory bandwidth).
//
// Build and run (outside the repo):
//   cmake -S cpu-kernels -B /tmp/itera-kbuild -DITERA_BUILD_SELFTEST=ON -DITERA_OPENBLAS_LIB=openblas
//   cmake --build /tmp/itera-kbuild -j2 && /tmp/itera-kbuild/itera_selftest [--quick]
// Exit status 0 when every check passes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "itera_kernels.h"

namespace {

using Vec = std::vector<float>;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::mt19937_64 g_rng(12345);

Vec random_vec(int64_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Vec v(size_t(std::max<int64_t>(n, 0)));
  for (auto& x : v) x = d(g_rng);
  return v;
}
Vec nan_vec(int64_t n) { return Vec(size_t(std::max<int64_t>(n, 0)), kNaN); }

// Normalised squared error of `a` against the reference `b`; NaN anywhere in a fails (NaN).
double nerr(const float* a, const float* b, int64_t n) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return std::numeric_limits<double>::quiet_NaN();
    if (std::isnan(b[i])) continue;
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  if (num == 0.0) return 0.0;
  return num / std::max(den, 1e-300);
}
double nerr(const Vec& a, const Vec& b) { return nerr(a.data(), b.data(), int64_t(a.size())); }

// ------------------------------------------------------------------ result bookkeeping

struct Stat {
  double worst = 0.0;
  int checks = 0;
  int failures = 0;
};
std::map<std::string, Stat> g_stats;  // key: "kernel@isa"
int g_isa = 0;
std::string g_label;  // ISA name, plus the thread count when not the default
int g_failures = 0;
const char* isa_name(int isa) {
  return isa == ITERA_ISA_AVX512 ? "avx512" : isa == ITERA_ISA_AVX2 ? "avx2" : "scalar";
}

void check(const std::string& kernel, const std::string& what, double err, double tol) {
  Stat& s = g_stats[kernel + "@" + g_label];
  ++s.checks;
  const bool ok = err <= tol;  // false for NaN
  if (!(err <= s.worst)) s.worst = err;
  if (!ok) {
    ++s.failures;
    ++g_failures;
    std::printf("FAIL %-28s %-10s %-40s err=%.3e tol=%.1e\n", kernel.c_str(), g_label.c_str(),
                what.c_str(), err, tol);
  }
}
void check_true(const std::string& kernel, const std::string& what, bool ok) {
  check(kernel, what, ok ? 0.0 : 1.0, 0.0);
}

std::string sz(int64_t a) { return std::to_string(a); }
std::string sz(int64_t a, int64_t b) { return sz(a) + "x" + sz(b); }
std::string sz(int64_t a, int64_t b, int64_t c) { return sz(a, b) + "x" + sz(c); }

constexpr double kTolExact = 1e-13;  // pure arithmetic, differs at most by FMA rounding
constexpr double kTolMath = 1e-10;   // exp/log/sqrt approximations and float accumulation
constexpr double kTolDot = 1e-9;     // long float dot products vs double reference

const std::vector<int64_t> kSizes = {1, 7, 16, 33, 1000, 4099, 100003, (1 << 20) + 5};
const int64_t kBigSize = (int64_t(1) << 22) + 17;  // 16 MB: beyond L2, split over threads

// ------------------------------------------------------------------ elementwise

void test_elementwise() {
  std::vector<int64_t> sizes = kSizes;
  sizes.push_back(kBigSize);
  for (int64_t n : sizes) {
    const std::string w = "n=" + sz(n);
    {  // fill
      Vec a = nan_vec(n);
      itera_fill_f32(n, 3.25f, a.data());
      Vec b(size_t(n), 3.25f);
      check("fill_f32", w, nerr(a, b), 0.0);
    }
    Vec x = random_vec(n, -4, 4), y = random_vec(n, -4, 4);
    {  // add, separate output and aliased output
      Vec o1 = nan_vec(n), o2 = nan_vec(n);
      itera_add(n, x.data(), y.data(), o1.data());
      itera_add_ref(n, x.data(), y.data(), o2.data());
      check("add", w, nerr(o1, o2), 0.0);
      Vec a1 = x;
      itera_add(n, a1.data(), y.data(), a1.data());
      check("add", w + " out=a", nerr(a1, o2), 0.0);
    }
    {
      Vec y1 = y, y2 = y;
      itera_axpy(n, -0.75f, x.data(), y1.data());
      itera_axpy_ref(n, -0.75f, x.data(), y2.data());
      check("axpy", w, nerr(y1, y2), kTolExact);
    }
    {
      Vec y1 = y, y2 = y;
      itera_scale(n, 1.7f, y1.data());
      itera_scale_ref(n, 1.7f, y2.data());
      check("scale", w, nerr(y1, y2), 0.0);
    }
    {
      const double a = itera_sum_squares(n, x.data()), b = itera_sum_squares_ref(n, x.data());
      check("sum_squares", w, std::fabs(a - b) / b, 1e-10);
    }
    // Activations on a wide input range (saturation and the softplus threshold included).
    Vec xa = random_vec(n, -30, 30);
    if (n > 8) {
      xa[0] = 0.0f, xa[1] = 20.0f, xa[2] = 20.5f, xa[3] = -100.0f, xa[4] = 100.0f, xa[5] = 1e-6f;
      xa[6] = -1e-6f;
    }
    Vec dy = random_vec(n);
    using Fwd = void (*)(int64_t, const float*, float*);
    using Bwd = void (*)(int64_t, const float*, const float*, float*);
    struct Act {
      const char* name;
      Fwd f, fref;
      Bwd b, bref;
    };
    const Act acts[] = {
        {"silu", itera_silu_forward, itera_silu_forward_ref, itera_silu_backward, itera_silu_backward_ref},
        {"gelu", itera_gelu_forward, itera_gelu_forward_ref, itera_gelu_backward, itera_gelu_backward_ref},
        {"softplus", itera_softplus_forward, itera_softplus_forward_ref, itera_softplus_backward,
         itera_softplus_backward_ref},
    };
    for (const Act& act : acts) {
      // Two input ranges: the wide one above and a narrow one (near 0, where relative accuracy
      // of small outputs matters).
      for (int range = 0; range < 2; ++range) {
        const Vec xin = range == 0 ? xa : random_vec(n, -3, 3);
        const std::string wr = w + (range == 0 ? " wide" : " narrow");
        Vec o1 = nan_vec(n), o2 = nan_vec(n);
        act.f(n, xin.data(), o1.data());
        act.fref(n, xin.data(), o2.data());
        check(std::string(act.name) + "_forward", wr, nerr(o1, o2), kTolMath);
        Vec d1 = y, d2 = y;
        act.b(n, xin.data(), dy.data(), d1.data());
        act.bref(n, xin.data(), dy.data(), d2.data());
        check(std::string(act.name) + "_backward", wr, nerr(d1, d2), kTolMath);
      }
    }
    {  // adamw, twice (step 1 and a later step)
      Vec p1 = random_vec(n), g = random_vec(n, -2, 2), m1 = random_vec(n, -0.1f, 0.1f),
          v1 = random_vec(n, 0, 0.01f);
      Vec p2 = p1, m2 = m1, v2 = v1;
      for (int64_t step : {int64_t(1), int64_t(1000)}) {
        itera_adamw(n, p1.data(), g.data(), m1.data(), v1.data(), 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
        itera_adamw_ref(n, p2.data(), g.data(), m2.data(), v2.data(), 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
        const std::string ws = w + " step=" + sz(step);
        check("adamw", ws + " param", nerr(p1, p2), kTolExact);
        check("adamw", ws + " m", nerr(m1, m2), kTolExact);
        check("adamw", ws + " v", nerr(v1, v2), kTolExact);
      }
    }
  }
}

// ------------------------------------------------------------------ row kernels

struct Shape {
  int64_t R, C, pad;  // pad: extra elements per row (row stride = C + pad)
};
const std::vector<Shape> kRowShapes = {{1, 1, 0},   {1, 7, 3},     {7, 33, 0},  {3, 1000, 5},
                                       {33, 64, 0}, {257, 257, 1}, {64, 4096, 0}, {1500, 96, 2},
                                       {4, 50257, 0}};

void test_norms() {
  for (const Shape& s : kRowShapes) {
    const int64_t R = s.R, C = s.C, ld = C + s.pad;
    const std::string w = sz(R, C) + " ld=" + sz(ld);
    Vec x = random_vec(R * ld, -2, 2), wt = random_vec(C, 0.5f, 1.5f), b = random_vec(C);
    for (int64_t i = 0; i < C && R > 1; ++i) x[size_t(ld + i)] += 100.0f;  // row 1: big mean
    Vec dy = random_vec(R * ld);
    {  // rmsnorm
      Vec y1 = nan_vec(R * ld), y2 = nan_vec(R * ld), r1 = nan_vec(R), r2 = nan_vec(R);
      itera_rmsnorm_forward(R, C, x.data(), ld, wt.data(), 1e-5f, y1.data(), ld, r1.data());
      itera_rmsnorm_forward_ref(R, C, x.data(), ld, wt.data(), 1e-5f, y2.data(), ld, r2.data());
      check("rmsnorm_forward", w + " y", nerr(y1, y2), kTolMath);
      check("rmsnorm_forward", w + " rstd", nerr(r1, r2), kTolMath);
      Vec dx1 = random_vec(R * ld), dx2 = dx1, dw1 = random_vec(C), dw2 = dw1;
      itera_rmsnorm_backward(R, C, dy.data(), ld, x.data(), ld, wt.data(), r2.data(), dx1.data(), ld, dw1.data());
      itera_rmsnorm_backward_ref(R, C, dy.data(), ld, x.data(), ld, wt.data(), r2.data(), dx2.data(), ld, dw2.data());
      check("rmsnorm_backward", w + " dx", nerr(dx1, dx2), kTolMath);
      check("rmsnorm_backward", w + " dw", nerr(dw1, dw2), kTolMath);
    }
    {  // layernorm
      Vec y1 = nan_vec(R * ld), y2 = nan_vec(R * ld), m1 = nan_vec(R), m2 = nan_vec(R),
          r1 = nan_vec(R), r2 = nan_vec(R);
      itera_layernorm_forward(R, C, x.data(), ld, wt.data(), b.data(), 1e-5f, y1.data(), ld, m1.data(), r1.data());
      itera_layernorm_forward_ref(R, C, x.data(), ld, wt.data(), b.data(), 1e-5f, y2.data(), ld, m2.data(), r2.data());
      check("layernorm_forward", w + " y", nerr(y1, y2), kTolMath);
      check("layernorm_forward", w + " mean", nerr(m1, m2), kTolMath);
      check("layernorm_forward", w + " rstd", nerr(r1, r2), kTolMath);
      Vec dx1 = random_vec(R * ld), dx2 = dx1, dw1 = random_vec(C), dw2 = dw1, db1 = random_vec(C), db2 = db1;
      itera_layernorm_backward(R, C, dy.data(), ld, x.data(), ld, wt.data(), m2.data(), r2.data(), dx1.data(), ld, dw1.data(), db1.data());
      itera_layernorm_backward_ref(R, C, dy.data(), ld, x.data(), ld, wt.data(), m2.data(), r2.data(), dx2.data(), ld, dw2.data(), db2.data());
      check("layernorm_backward", w + " dx", nerr(dx1, dx2), kTolMath);
      check("layernorm_backward", w + " dw", nerr(dw1, dw2), kTolMath);
      check("layernorm_backward", w + " db", nerr(db1, db2), kTolMath);
    }
  }
}

void test_softmax_xent() {
  for (const Shape& s : kRowShapes) {
    const int64_t R = s.R, C = s.C, ld = C + s.pad;
    const std::string w = sz(R, C) + " ld=" + sz(ld);
    Vec x = random_vec(R * ld, -8, 8);
    {
      Vec y1 = nan_vec(R * ld), y2 = nan_vec(R * ld);
      itera_softmax_forward(R, C, x.data(), ld, y1.data(), ld);
      itera_softmax_forward_ref(R, C, x.data(), ld, y2.data(), ld);
      check("softmax_forward", w, nerr(y1, y2), kTolMath);
      Vec dy = random_vec(R * ld), dx1 = random_vec(R * ld), dx2 = dx1;
      itera_softmax_backward(R, C, y2.data(), ld, dy.data(), ld, dx1.data(), ld);
      itera_softmax_backward_ref(R, C, y2.data(), ld, dy.data(), ld, dx2.data(), ld);
      check("softmax_backward", w, nerr(dx1, dx2), kTolMath);
    }
    {  // cross-entropy: every 5th target ignored, dlogits written / NULL / in place
      std::vector<int32_t> tg(static_cast<size_t>(R));
      std::uniform_int_distribution<int32_t> d(0, int32_t(C - 1));
      for (int64_t r = 0; r < R; ++r) tg[size_t(r)] = r % 5 == 3 ? -100 : d(g_rng);
      const float scale = 1.0f / float(R);
      Vec l1 = nan_vec(R), l2 = nan_vec(R), d1 = nan_vec(R * ld), d2 = nan_vec(R * ld);
      int rc1 = itera_cross_entropy(R, C, x.data(), ld, tg.data(), -100, scale, l1.data(), d1.data(), ld);
      int rc2 = itera_cross_entropy_ref(R, C, x.data(), ld, tg.data(), -100, scale, l2.data(), d2.data(), ld);
      check_true("cross_entropy", w + " rc", rc1 == 0 && rc2 == 0);
      check("cross_entropy", w + " loss", nerr(l1, l2), kTolMath);
      // Only the C columns of each row are written; compare those.
      double e = 0;
      for (int64_t r = 0; r < R; ++r) e = std::max(e, nerr(d1.data() + r * ld, d2.data() + r * ld, C));
      check("cross_entropy", w + " dlogits", e, kTolMath);
      Vec l3 = nan_vec(R);
      itera_cross_entropy(R, C, x.data(), ld, tg.data(), -100, scale, l3.data(), nullptr, ld);
      check("cross_entropy", w + " loss (no dlogits)", nerr(l3, l2), kTolMath);
      Vec inplace = x, l4 = nan_vec(R);
      itera_cross_entropy(R, C, inplace.data(), ld, tg.data(), -100, scale, l4.data(), inplace.data(), ld);
      e = 0;
      for (int64_t r = 0; r < R; ++r) e = std::max(e, nerr(inplace.data() + r * ld, d2.data() + r * ld, C));
      check("cross_entropy", w + " in place", std::max(e, nerr(l4, l2)), kTolMath);
      // A bad target anywhere: error code and nothing written.
      std::vector<int32_t> bad = tg;
      bad[size_t(R - 1)] = int32_t(C);
      Vec l5 = nan_vec(R), d5 = nan_vec(R * ld);
      const int rc5 = itera_cross_entropy(R, C, x.data(), ld, bad.data(), -100, scale, l5.data(), d5.data(), ld);
      bool untouched = true;
      for (float v : l5) untouched &= std::isnan(v);
      for (float v : d5) untouched &= std::isnan(v);
      check_true("cross_entropy", w + " bad target", rc5 == ITERA_ERR_INDEX_OUT_OF_RANGE && untouched);
    }
  }
}

void test_embedding() {
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 33, 5}, {100, 64, 10}, {1000, 257, 50}, {4096, 768, 300}};
  for (const auto& s : shapes) {
    const int64_t T = s[0], C = s[1], V = s[2], ldt = C + 3, ldo = C + 1;
    const std::string w = "T=" + sz(T) + " C=" + sz(C) + " V=" + sz(V);
    std::vector<int32_t> ids(static_cast<size_t>(T));
    std::uniform_int_distribution<int32_t> d(0, int32_t(V - 1));
    for (auto& id : ids) id = d(g_rng);  // V << T: plenty of repeats
    Vec table = random_vec(V * ldt);
    Vec o1 = nan_vec(T * ldo), o2 = nan_vec(T * ldo);
    int rc1 = itera_embedding_forward(T, C, V, ids.data(), table.data(), ldt, o1.data(), ldo);
    int rc2 = itera_embedding_forward_ref(T, C, V, ids.data(), table.data(), ldt, o2.data(), ldo);
    check_true("embedding_forward", w + " rc", rc1 == 0 && rc2 == 0);
    check("embedding_forward", w, nerr(o1, o2), 0.0);
    Vec dout = random_vec(T * ldo), dt1 = random_vec(V * ldt), dt2 = dt1;
    rc1 = itera_embedding_backward(T, C, V, ids.data(), dout.data(), ldo, dt1.data(), ldt);
    rc2 = itera_embedding_backward_ref(T, C, V, ids.data(), dout.data(), ldo, dt2.data(), ldt);
    check_true("embedding_backward", w + " rc", rc1 == 0 && rc2 == 0);
    check("embedding_backward", w, nerr(dt1, dt2), kTolExact);
    // Out-of-range id (negative, and == V): error, nothing written.
    for (int32_t badid : {int32_t(-1), int32_t(V)}) {
      std::vector<int32_t> bad = ids;
      bad[size_t(T - 1)] = badid;
      Vec o3 = nan_vec(T * ldo), dt3 = dt1;
      const int a = itera_embedding_forward(T, C, V, bad.data(), table.data(), ldt, o3.data(), ldo);
      const int b = itera_embedding_backward(T, C, V, bad.data(), dout.data(), ldo, dt3.data(), ldt);
      bool untouched = nerr(dt3, dt1) == 0.0;
      for (float v : o3) untouched &= std::isnan(v);
      check_true("embedding", w + " bad id " + sz(badid),
                 a == ITERA_ERR_INDEX_OUT_OF_RANGE && b == ITERA_ERR_INDEX_OUT_OF_RANGE && untouched);
    }
  }
}

// ------------------------------------------------------------------ GEMM / GEMV

void test_gemv() {
  const int64_t shapes[][2] = {{1, 1}, {7, 33}, {33, 7}, {16, 16}, {1000, 1000}, {1024, 1024},
                               {1031, 517}, {129, 4099}, {4099, 129}, {50, 0}};
  for (const auto& s : shapes) {
    const int64_t N = s[0], K = s[1];
    for (int transW : {0, 1}) {
      const int64_t ldw = (transW ? K : N) + 5;
      const int64_t rows = transW ? N : K;
      Vec Wm = random_vec(std::max<int64_t>(rows, 1) * ldw), x = random_vec(K);
      for (float beta : {0.0f, 0.6f}) {
        const std::string w = "N=" + sz(N) + " K=" + sz(K) + " transW=" + sz(transW) + " beta=" + (beta == 0 ? "0" : "0.6");
        Vec y1 = beta == 0 ? nan_vec(N) : random_vec(N), y2 = y1;
        itera_sgemv(transW, N, K, 1.3f, Wm.data(), ldw, x.data(), beta, y1.data());
        itera_sgemv_ref(transW, N, K, 1.3f, Wm.data(), ldw, x.data(), beta, y2.data());
        check("sgemv", w, nerr(y1, y2), kTolDot);
      }
    }
  }
}

void test_gemm() {
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 33, 7},   {1, 1000, 257}, {2, 5, 3},
                               {7, 33, 65}, {64, 100, 50}, {130, 70, 300}, {33, 1, 17}, {5, 9, 0}};
  for (const auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    for (int ta : {0, 1})
      for (int tb : {0, 1})
        for (float beta : {0.0f, 0.7f}) {
          const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
          const int64_t arows = ta ? K : M, brows = tb ? N : K;
          const int64_t batch = 3;
          const int64_t sA = arows * lda + 11, sB = brows * ldb + 5, sC = M * ldc + 7;
          Vec A = random_vec(batch * sA), B = random_vec(batch * sB);
          Vec C1 = beta == 0 ? nan_vec(batch * sC) : random_vec(batch * sC), C2 = C1, C3 = C1;
          const std::string w = sz(M, N, K) + " tA=" + sz(ta) + " tB=" + sz(tb) + " beta=" + (beta == 0 ? "0" : "0.7");
          itera_sgemm(ta, tb, M, N, K, 1.25f, A.data(), lda, B.data(), ldb, beta, C1.data(), ldc);
          itera_sgemm_strided_batched_ref(ta, tb, M, N, K, 1.25f, A.data(), lda, sA, B.data(), ldb, sB, beta, C2.data(), ldc, sC, 1);
          // Compare only the M x N entries (the padding stays as poisoned).
          // Whole-matrix normalised error over the M x N entries (padding stays poisoned).
          auto cmp = [&](const Vec& a, const Vec& b, int64_t nb) {
            Vec pa, pb;
            for (int64_t bi = 0; bi < nb; ++bi)
              for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j) {
                  pa.push_back(a[size_t(bi * sC + i * ldc + j)]);
                  pb.push_back(b[size_t(bi * sC + i * ldc + j)]);
                }
            return nerr(pa, pb);
          };
          check("sgemm", w, cmp(C1, C2, 1), kTolDot);
          Vec C4 = C3;
          itera_sgemm_strided_batched(ta, tb, M, N, K, 1.25f, A.data(), lda, sA, B.data(), ldb, sB, beta, C3.data(), ldc, sC, batch);
          itera_sgemm_strided_batched_ref(ta, tb, M, N, K, 1.25f, A.data(), lda, sA, B.data(), ldb, sB, beta, C4.data(), ldc, sC, batch);
          check("sgemm_strided_batched", w, cmp(C3, C4, batch), kTolDot);
          Vec C5 = beta == 0 ? nan_vec(batch * sC) : C2;
          Vec C6 = C5;
          itera_blas_sgemm(ta, tb, M, N, K, 1.25f, A.data(), lda, B.data(), ldb, beta, C5.data(), ldc);
          itera_sgemm_strided_batched_ref(ta, tb, M, N, K, 1.25f, A.data(), lda, sA, B.data(), ldb, sB, beta, C6.data(), ldc, sC, 1);
          check("blas_sgemm", w, cmp(C5, C6, 1), kTolDot);
        }
  }
}

void test_fused_xent() {
  const int64_t shapes[][3] = {{1, 1, 1}, {37, 24, 101}, {130, 64, 1000}, {3, 7, 33}};
  for (const auto& s : shapes) {
    const int64_t T = s[0], C = s[1], V = s[2];
    const int64_t ldh = C + 2, ldw = C + 1, lddh = C + 3, lddw = C;
    Vec h = random_vec(T * ldh, -1, 1), Wm = random_vec(V * ldw, -0.5f, 0.5f);
    std::vector<int32_t> tg(static_cast<size_t>(T));
    std::uniform_int_distribution<int32_t> d(0, int32_t(V - 1));
    for (int64_t t = 0; t < T; ++t) tg[size_t(t)] = t % 7 == 5 ? -1 : d(g_rng);
    for (int64_t br : {int64_t(0), int64_t(5), int64_t(64), int64_t(1000)}) {
      for (int mode = 0; mode < 3; ++mode) {  // 0: dh+dW, 1: dh only, 2: forward only
        const std::string w = "T=" + sz(T) + " C=" + sz(C) + " V=" + sz(V) + " block=" + sz(br) + " mode=" + sz(mode);
        const int64_t ws = itera_fused_xent_workspace(T, V, br);
        Vec w1 = nan_vec(ws), w2 = nan_vec(ws);
        Vec l1 = nan_vec(T), l2 = nan_vec(T);
        Vec dh1 = random_vec(T * lddh), dh2 = dh1, dW1 = random_vec(V * lddw), dW2 = dW1;
        float* pdh1 = mode <= 1 ? dh1.data() : nullptr;
        float* pdh2 = mode <= 1 ? dh2.data() : nullptr;
        float* pdW1 = mode == 0 ? dW1.data() : nullptr;
        float* pdW2 = mode == 0 ? dW2.data() : nullptr;
        const float scale = 1.0f / float(T);
        int rc1 = itera_fused_linear_cross_entropy(T, C, V, h.data(), ldh, Wm.data(), ldw, tg.data(), -1, scale, l1.data(), pdh1, lddh, pdW1, lddw, br, w1.data());
        int rc2 = itera_fused_linear_cross_entropy_ref(T, C, V, h.data(), ldh, Wm.data(), ldw, tg.data(), -1, scale, l2.data(), pdh2, lddh, pdW2, lddw, br, w2.data());
        check_true("fused_linear_xent", w + " rc", rc1 == 0 && rc2 == 0);
        check("fused_linear_xent", w + " loss", nerr(l1, l2), kTolMath);
        check("fused_linear_xent", w + " dh", nerr(dh1, dh2), kTolDot);
        check("fused_linear_xent", w + " dW", nerr(dW1, dW2), kTolDot);
      }
    }
    // Bad target: error, nothing written.
    std::vector<int32_t> bad = tg;
    bad[0] = int32_t(V);
    Vec ws = nan_vec(itera_fused_xent_workspace(T, V, 0)), l = nan_vec(T), dh = random_vec(T * lddh), dh0 = dh;
    const int rc = itera_fused_linear_cross_entropy(T, C, V, h.data(), ldh, Wm.data(), ldw, bad.data(), -1, 1.0f, l.data(), dh.data(), lddh, nullptr, lddw, 0, ws.data());
    bool untouched = nerr(dh, dh0) == 0.0;
    for (float v : l) untouched &= std::isnan(v);
    check_true("fused_linear_xent", "bad target", rc == ITERA_ERR_INDEX_OUT_OF_RANGE && untouched);
  }
}

// ------------------------------------------------------------------ runtime services

void test_runtime() {
  g_label = "runtime";
  // ISA selection clamps and sticks.
  const int max_isa = itera_max_isa();
  check_true("set_isa", "clamp high", itera_set_isa(99) == max_isa && itera_get_isa() == max_isa);
  check_true("set_isa", "clamp low", itera_set_isa(-5) == ITERA_ISA_SCALAR && itera_get_isa() == ITERA_ISA_SCALAR);
  itera_set_isa(max_isa);
  // Counted aligned allocation.
  const int64_t live0 = itera_live_allocations(), bytes0 = itera_live_bytes();
  void* p = itera_alloc(1000);
  check_true("alloc", "aligned", p != nullptr && (reinterpret_cast<uintptr_t>(p) & 63) == 0);
  check_true("alloc", "counted", itera_live_allocations() == live0 + 1 && itera_live_bytes() == bytes0 + 1000);
  Vec src = random_vec(250), dst = nan_vec(250);
  itera_copy_bytes(1000, src.data(), p);
  itera_copy_bytes(1000, p, dst.data());
  check("copy_bytes", "1000 bytes", nerr(dst, src), 0.0);
  itera_free(p, 1000);
  check_true("alloc", "freed", itera_live_allocations() == live0 && itera_live_bytes() == bytes0);
  check_true("alloc", "zero bytes", itera_alloc(0) == nullptr);
  // Pool restarts immediately followed by parallel kernels: a worker created by
  // set_num_threads must not miss the first job (this used to hang the caller).
  const int threads0 = itera_get_num_threads();
  const int64_t n = 1 << 18;
  Vec a = random_vec(n), b = random_vec(n), o1 = nan_vec(n), o2 = nan_vec(n);
  itera_add_ref(n, a.data(), b.data(), o2.data());
  double worst = 0.0;
  for (int i = 0; i < 300; ++i) {
    itera_set_num_threads(1 + i % 3);
    itera_add(n, a.data(), b.data(), o1.data());
    worst = std::max(worst, nerr(o1, o2));
  }
  check("pool", "300 restarts + add", worst, 0.0);
  itera_set_num_threads(threads0);
}

// ------------------------------------------------------------------ timing

template <typename F>
double median_seconds(int runs, const F& f) {
  std::vector<double> t(static_cast<size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    const auto b = std::chrono::steady_clock::now();
    t[size_t(i)] = std::chrono::duration<double>(b - a).count();
  }
  std::nth_element(t.begin(), t.begin() + runs / 2, t.end());
  return t[size_t(runs / 2)];
}

void timing() {
  // OpenBLAS's idle threads keep spinning for a while after its last GEMM (the tests above);
  // on a 2-core machine they would steal the core our second thread needs. Let them sleep.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::printf("\n== timing (isa %s, %d threads; medians) ==\n", isa_name(itera_get_isa()), itera_get_num_threads());
  if (!std::getenv("OPENBLAS_THREAD_TIMEOUT"))
    std::printf("(OPENBLAS_THREAD_TIMEOUT unset: OpenBLAS's idle threads spin long after each GEMM and slow\n"
                " the threaded kernels on few cores; OPENBLAS_THREAD_TIMEOUT=4 shows the kernels alone)\n");
  const int64_t N = 1024, K = 1024;
  Vec Wm = random_vec(N * K), x = random_vec(K), y = nan_vec(N);
  for (int transW : {1, 0}) {
    for (int i = 0; i < 50; ++i) itera_sgemv(transW, N, K, 1.0f, Wm.data(), K, x.data(), 0.0f, y.data());
    const double t = median_seconds(200, [&] { itera_sgemv(transW, N, K, 1.0f, Wm.data(), K, x.data(), 0.0f, y.data()); });
    std::printf("sgemv 1x%ldx%ld transW=%d          %8.2f us  %7.1f GFLOP/s\n", long(N), long(K), transW, t * 1e6, 2.0 * N * K / t * 1e-9);
  }
  for (int transB : {1, 0}) {
    Vec c = nan_vec(N);
    for (int i = 0; i < 20; ++i) itera_blas_sgemm(0, transB, 1, N, K, 1.0f, x.data(), K, Wm.data(), K, 0.0f, c.data(), N);
    const double t = median_seconds(200, [&] { itera_blas_sgemm(0, transB, 1, N, K, 1.0f, x.data(), K, Wm.data(), K, 0.0f, c.data(), N); });
    std::printf("openblas sgemm M=1 N=K=1024 transB=%d %8.2f us  %7.1f GFLOP/s  (comparison)\n", transB, t * 1e6, 2.0 * N * K / t * 1e-9);
  }
  const int64_t n = int64_t(64) << 20;  // 64M floats = 256 MB per buffer
  Vec a = random_vec(n), b = random_vec(n), o(size_t(n), 0.0f);
  const double bytes3 = 3.0 * 4.0 * double(n);
  itera_add(n, a.data(), b.data(), o.data());
  double t = median_seconds(11, [&] { itera_add(n, a.data(), b.data(), o.data()); });
  std::printf("add  n=64M (out separate)          %8.2f ms  %7.1f GB/s\n", t * 1e3, bytes3 / t * 1e-9);
  t = median_seconds(11, [&] { itera_add(n, o.data(), b.data(), o.data()); });
  std::printf("add  n=64M (out = a, residual)     %8.2f ms  %7.1f GB/s\n", t * 1e3, bytes3 / t * 1e-9);
  t = median_seconds(11, [&] { itera_axpy(n, 1e-3f, a.data(), o.data()); });
  std::printf("axpy n=64M                         %8.2f ms  %7.1f GB/s\n", t * 1e3, bytes3 / t * 1e-9);
  t = median_seconds(11, [&] { itera_scale(n, 1.0f, o.data()); });
  std::printf("scale n=64M                        %8.2f ms  %7.1f GB/s\n", t * 1e3, 2.0 * 4.0 * n / t * 1e-9);
  t = median_seconds(11, [&] { itera_fill_f32(n, 0.5f, o.data()); });
  std::printf("fill n=64M                         %8.2f ms  %7.1f GB/s\n", t * 1e3, 4.0 * n / t * 1e-9);
  volatile double sink = 0;
  t = median_seconds(11, [&] { sink = sink + itera_sum_squares(n, a.data()); });
  std::printf("sum_squares n=64M                  %8.2f ms  %7.1f GB/s\n", t * 1e3, 4.0 * n / t * 1e-9);
  t = median_seconds(5, [&] { itera_silu_forward(n, a.data(), o.data()); });
  std::printf("silu_forward n=64M                 %8.2f ms  %7.1f GB/s\n", t * 1e3, 8.0 * n / t * 1e-9);
  t = median_seconds(5, [&] { itera_gelu_forward(n, a.data(), o.data()); });
  std::printf("gelu_forward n=64M                 %8.2f ms  %7.1f GB/s\n", t * 1e3, 8.0 * n / t * 1e-9);
  Vec g = random_vec(n), m(size_t(n), 0.0f);
  t = median_seconds(5, [&] { itera_adamw(n, o.data(), g.data(), m.data(), b.data(), 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 10); });
  std::printf("adamw n=64M                        %8.2f ms  %7.1f GB/s\n", t * 1e3, 28.0 * n / t * 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
  bool timing_only = argc > 1 && !std::strcmp(argv[1], "--timing");
  std::printf("itera selftest: cpu features 0x%x, max isa %s, %d threads\nBLAS: %s\n",
              itera_cpu_features(), isa_name(itera_max_isa()), itera_get_num_threads(), itera_blas_config());
  if (!timing_only) {
    test_runtime();
    const int default_threads = itera_get_num_threads();
    // Every ISA level with the default pool, then the best level again with 1 thread (serial
    // paths) and 3 threads (more parts than this 2-core machine has cores).
    struct Config {
      int isa, threads;
    };
    std::vector<Config> configs;
    for (int isa = ITERA_ISA_SCALAR; isa <= itera_max_isa(); ++isa) configs.push_back({isa, default_threads});
    configs.push_back({itera_max_isa(), 1});
    configs.push_back({itera_max_isa(), 3});
    for (const Config& c : configs) {
      g_isa = itera_set_isa(c.isa);
      itera_set_num_threads(c.threads);
      g_label = std::string(isa_name(g_isa)) + (c.threads == default_threads ? "" : "/t" + std::to_string(c.threads));
      test_elementwise();
      test_norms();
      test_softmax_xent();
      test_embedding();
      test_gemv();
      test_gemm();
      test_fused_xent();
    }
    itera_set_isa(itera_max_isa());
    itera_set_num_threads(default_threads);
    std::printf("\n== correctness: worst normalised error per kernel and ISA ==\n");
    for (const auto& kv : g_stats)
      std::printf("%-36s checks %4d  worst %.2e  %s\n", kv.first.c_str(), kv.second.checks, kv.second.worst,
                  kv.second.failures ? "FAIL" : "ok");
    std::printf("\n%s: %d failure(s)\n", g_failures ? "FAILED" : "PASSED", g_failures);
  }
  if (!quick) timing();
  const int64_t live = itera_live_allocations();
  if (live != 0) std::printf("leak: %ld live itera_alloc blocks\n", long(live));
  return g_failures ? 1 : 0;
}
