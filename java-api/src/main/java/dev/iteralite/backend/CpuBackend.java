package dev.iteralite.backend;

import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Objects;

/**
 * The native CPU backend: F32 tensors, C++ kernels (SIMD picked at run time, multi-threaded) and
 * OpenBLAS for GEMM, reached through {@link IteraNative}.
 *
 * <p>Every call is validated in Java first (see {@link Backend}); only then are raw addresses,
 * sizes and row strides handed to the kernel, so no argument can crash the JVM. Operands may be
 * row-strided views (last dimension contiguous, row stride &gt;= row length); pointwise,
 * optimiser and per-row vector arguments (weights, saved statistics, losses, ids) must be
 * contiguous. Get the instance from {@link Backends#cpu()}.
 *
 * <p>{@link #setThreads(int)} and {@link #setIsa(Isa)} change process-wide native settings.
 */
public final class CpuBackend implements Backend {
  private final CpuFeatures features;

  /** Loads the native library; throws {@link LinkageError} if it cannot. */
  CpuBackend() {
    IteraNative.load();
    this.features =
        new CpuFeatures(
            IteraNative.itera_cpu_features(),
            Isa.fromLevel(IteraNative.itera_max_isa()),
            Objects.requireNonNullElse(IteraNative.itera_blas_config(), "unknown"));
  }

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public String describe() {
    return "cpu backend: ISA "
        + isa()
        + " (max "
        + features.maxIsa()
        + "), "
        + threads()
        + " threads, CPU flags "
        + features.flags()
        + ", OpenBLAS config ["
        + features.blasConfig().trim()
        + "]";
  }

  // ------------------------------------------------------------------ runtime settings

  /**
   * Sets the worker threads used by the kernels and OpenBLAS; {@code n <= 0} means all available
   * cores.
   *
   * @return the thread count now in use
   */
  public int setThreads(int n) {
    IteraNative.itera_set_num_threads(n);
    return threads();
  }

  /** Worker threads the kernels currently use. */
  public int threads() {
    return IteraNative.itera_get_num_threads();
  }

  /**
   * Selects the instruction-set level of the fast kernels, clamped to {@link CpuFeatures#maxIsa()}.
   *
   * @return the level actually set
   */
  public Isa setIsa(Isa isa) {
    Objects.requireNonNull(isa, "isa");
    return Isa.fromLevel(IteraNative.itera_set_isa(isa.level()));
  }

  /** The instruction-set level the fast kernels currently use. */
  public Isa isa() {
    return Isa.fromLevel(IteraNative.itera_get_isa());
  }

  /** CPU feature flags, highest ISA level and OpenBLAS configuration. */
  public CpuFeatures features() {
    return features;
  }

  // ------------------------------------------------------------------ GEMM

  @Override
  public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
    Checks k = Checks.cpu("gemm");
    Checks.GemmShape s = k.gemm(transA, transB, a, b, c);
    if (s.batch() == 0 || s.m() == 0 || s.n() == 0) {
      return;
    }
    if (s.k() == 0) {
      // op(a) op(b) is all zeros: c = beta * c (and beta == 0 ignores NaN in c).
      scaleMatrices(c, s, beta);
      return;
    }
    int ta = transA ? 1 : 0;
    int tb = transB ? 1 : 0;
    if (c.rank() == 2) {
      IteraNative.itera_sgemm(
          ta, tb, s.m(), s.n(), s.k(), alpha, a.address(), s.a().ld(), b.address(), s.b().ld(), beta,
          c.address(), s.c().ld());
    } else {
      IteraNative.itera_sgemm_strided_batched(
          ta, tb, s.m(), s.n(), s.k(), alpha, a.address(), s.a().ld(), s.a().batchStride(), b.address(),
          s.b().ld(), s.b().batchStride(), beta, c.address(), s.c().ld(), s.c().batchStride(), s.batch());
    }
  }

  private static void scaleMatrices(Tensor c, Checks.GemmShape s, float beta) {
    long base = c.address();
    for (long bi = 0; bi < s.batch(); bi++) {
      for (long r = 0; r < s.m(); r++) {
        long row = base + 4L * (bi * s.c().batchStride() + r * s.c().ld());
        if (beta == 0f) {
          IteraNative.itera_fill_f32(s.n(), 0f, row);
        } else {
          IteraNative.itera_scale(s.n(), beta, row);
        }
      }
    }
  }

  // ------------------------------------------------------------------ embedding

  @Override
  public void embeddingForward(Tensor ids, Tensor table, Tensor out) {
    Checks k = Checks.cpu("embeddingForward");
    Ops.Embedding s = Ops.checkEmbeddingForward(k, ids, table, out);
    Checks.Rows tr = s.table();
    Checks.Rows or = s.rows();
    if (or.r() == 0 || or.c() == 0) {
      return;
    }
    k.status(
        IteraNative.itera_embedding_forward(
            or.r(), or.c(), tr.r(), ids.address(), table.address(), tr.ld(), out.address(), or.ld()));
  }

  @Override
  public void embeddingBackward(Tensor ids, Tensor dout, Tensor dtable) {
    Checks k = Checks.cpu("embeddingBackward");
    Ops.Embedding s = Ops.checkEmbeddingBackward(k, ids, dout, dtable);
    Checks.Rows or = s.rows();
    Checks.Rows tr = s.table();
    if (or.r() == 0 || or.c() == 0) {
      return;
    }
    k.status(
        IteraNative.itera_embedding_backward(
            or.r(), or.c(), tr.r(), ids.address(), dout.address(), or.ld(), dtable.address(), tr.ld()));
  }

  // ------------------------------------------------------------------ normalisation

  @Override
  public void rmsNormForward(Tensor x, Tensor w, float eps, Tensor y, Tensor rstd) {
    Ops.RowsForward s = Ops.checkRmsNormForward(Checks.cpu("rmsNormForward"), x, w, eps, y, rstd);
    Checks.Rows xr = s.x();
    Checks.Rows yr = s.y();
    if (xr.r() == 0) {
      return;
    }
    IteraNative.itera_rmsnorm_forward(
        xr.r(), xr.c(), x.address(), xr.ld(), w.address(), eps, y.address(), yr.ld(), rstd.address());
  }

  @Override
  public void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw) {
    Ops.RowsBackward s = Ops.checkRmsNormBackward(Checks.cpu("rmsNormBackward"), dy, x, w, rstd, dx, dw);
    Checks.Rows dyr = s.dy();
    Checks.Rows xr = s.saved();
    Checks.Rows dxr = s.dx();
    if (dyr.r() == 0) {
      return;
    }
    IteraNative.itera_rmsnorm_backward(
        dyr.r(), dyr.c(), dy.address(), dyr.ld(), x.address(), xr.ld(), w.address(), rstd.address(),
        dx.address(), dxr.ld(), dw.address());
  }

  @Override
  public void layerNormForward(Tensor x, Tensor w, Tensor b, float eps, Tensor y, Tensor mean, Tensor rstd) {
    Ops.RowsForward s =
        Ops.checkLayerNormForward(Checks.cpu("layerNormForward"), x, w, b, eps, y, mean, rstd);
    Checks.Rows xr = s.x();
    Checks.Rows yr = s.y();
    if (xr.r() == 0) {
      return;
    }
    IteraNative.itera_layernorm_forward(
        xr.r(), xr.c(), x.address(), xr.ld(), w.address(), b.address(), eps, y.address(), yr.ld(),
        mean.address(), rstd.address());
  }

  @Override
  public void layerNormBackward(
      Tensor dy, Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor dx, Tensor dw, Tensor db) {
    Ops.RowsBackward s =
        Ops.checkLayerNormBackward(Checks.cpu("layerNormBackward"), dy, x, w, mean, rstd, dx, dw, db);
    Checks.Rows dyr = s.dy();
    Checks.Rows xr = s.saved();
    Checks.Rows dxr = s.dx();
    if (dyr.r() == 0) {
      return;
    }
    IteraNative.itera_layernorm_backward(
        dyr.r(), dyr.c(), dy.address(), dyr.ld(), x.address(), xr.ld(), w.address(), mean.address(),
        rstd.address(), dx.address(), dxr.ld(), dw.address(), db.address());
  }

  // ------------------------------------------------------------------ softmax and losses

  @Override
  public void softmaxForward(Tensor x, Tensor y) {
    Ops.RowsForward s = Ops.checkSoftmaxForward(Checks.cpu("softmaxForward"), x, y);
    Checks.Rows xr = s.x();
    Checks.Rows yr = s.y();
    if (xr.r() == 0) {
      return;
    }
    IteraNative.itera_softmax_forward(xr.r(), xr.c(), x.address(), xr.ld(), y.address(), yr.ld());
  }

  @Override
  public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
    Ops.RowsBackward s = Ops.checkSoftmaxBackward(Checks.cpu("softmaxBackward"), y, dy, dx);
    Checks.Rows yr = s.saved();
    Checks.Rows dyr = s.dy();
    Checks.Rows dxr = s.dx();
    if (yr.r() == 0 || yr.c() == 0) {
      return;
    }
    IteraNative.itera_softmax_backward(
        yr.r(), yr.c(), y.address(), yr.ld(), dy.address(), dyr.ld(), dx.address(), dxr.ld());
  }

  @Override
  public double crossEntropy(
      Tensor logits, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dlogits) {
    Checks k = Checks.cpu("crossEntropy");
    Ops.Loss s = Ops.checkCrossEntropy(k, logits, targets, ignoreIndex, scale, losses, dlogits);
    Checks.Rows lr = s.scores();
    Checks.Rows dr = s.dscores();
    if (lr.r() == 0) {
      return 0;
    }
    k.status(
        IteraNative.itera_cross_entropy(
            lr.r(), lr.c(), logits.address(), lr.ld(), targets.address(), ignoreIndex, scale, losses.address(),
            dlogits == null ? 0L : dlogits.address(), dr == null ? lr.c() : dr.ld()));
    return Ops.sum(losses);
  }

  @Override
  public double fusedLinearCrossEntropy(
      Tensor h, Tensor w, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dh, Tensor dw) {
    Checks k = Checks.cpu("fusedLinearCrossEntropy");
    Ops.Loss s = Ops.checkFusedLinearCrossEntropy(k, h, w, targets, ignoreIndex, scale, losses, dh, dw);
    Checks.Rows hr = s.scores();
    Checks.Rows wr = s.w();
    Checks.Rows dhr = s.dscores();
    Checks.Rows dwr = s.dw();
    long t = hr.r();
    if (t == 0) {
      return 0;
    }
    long v = wr.r();
    long wsFloats = IteraNative.itera_fused_xent_workspace(t, v, 0);
    if (wsFloats < 0) {
      throw k.fail("the kernel reported an invalid workspace size " + wsFloats + " for T=" + t + ", V=" + v);
    }
    try (Tensor workspace = Tensor.allocate(DType.F32, Math.max(1, wsFloats))) {
      k.status(
          IteraNative.itera_fused_linear_cross_entropy(
              t, hr.c(), v, h.address(), hr.ld(), w.address(), wr.ld(), targets.address(), ignoreIndex, scale,
              losses.address(), dh == null ? 0L : dh.address(), dhr == null ? hr.c() : dhr.ld(),
              dw == null ? 0L : dw.address(), dwr == null ? wr.c() : dwr.ld(), 0, workspace.address()));
    }
    return Ops.sum(losses);
  }

  // ------------------------------------------------------------------ pointwise

  @Override
  public void activationForward(Activation f, Tensor x, Tensor y) {
    Ops.checkActivationForward(Checks.cpu("activationForward"), f, x, y);
    long n = x.size();
    if (n == 0) {
      return;
    }
    switch (f) {
      case SILU -> IteraNative.itera_silu_forward(n, x.address(), y.address());
      case GELU -> IteraNative.itera_gelu_forward(n, x.address(), y.address());
      case SOFTPLUS -> IteraNative.itera_softplus_forward(n, x.address(), y.address());
    }
  }

  @Override
  public void activationBackward(Activation f, Tensor x, Tensor dy, Tensor dx) {
    Ops.checkActivationBackward(Checks.cpu("activationBackward"), f, x, dy, dx);
    long n = x.size();
    if (n == 0) {
      return;
    }
    switch (f) {
      case SILU -> IteraNative.itera_silu_backward(n, x.address(), dy.address(), dx.address());
      case GELU -> IteraNative.itera_gelu_backward(n, x.address(), dy.address(), dx.address());
      case SOFTPLUS -> IteraNative.itera_softplus_backward(n, x.address(), dy.address(), dx.address());
    }
  }

  @Override
  public void add(Tensor a, Tensor b, Tensor out) {
    Ops.checkAdd(Checks.cpu("add"), a, b, out);
    if (a.size() > 0) {
      IteraNative.itera_add(a.size(), a.address(), b.address(), out.address());
    }
  }

  @Override
  public void axpy(float alpha, Tensor x, Tensor y) {
    Ops.checkAxpy(Checks.cpu("axpy"), x, y);
    if (x.size() > 0) {
      IteraNative.itera_axpy(x.size(), alpha, x.address(), y.address());
    }
  }

  @Override
  public void scale(float alpha, Tensor x) {
    Ops.checkElements(Checks.cpu("scale"), x);
    if (x.size() > 0) {
      IteraNative.itera_scale(x.size(), alpha, x.address());
    }
  }

  @Override
  public double sumSquares(Tensor x) {
    Ops.checkElements(Checks.cpu("sumSquares"), x);
    return x.size() == 0 ? 0.0 : IteraNative.itera_sum_squares(x.size(), x.address());
  }

  @Override
  public void fill(Tensor x, float value) {
    Ops.checkElements(Checks.cpu("fill"), x);
    if (x.size() > 0) {
      IteraNative.itera_fill_f32(x.size(), value, x.address());
    }
  }

  /** {@inheritDoc} Any dtype: the CPU backend copies bytes. */
  @Override
  public void copy(Tensor src, Tensor dst) {
    Checks k = Checks.cpu("copy");
    Ops.checkCopy(k, src, dst);
    if (src.size() == 0 || src.address() == dst.address()) {
      return;
    }
    k.disjoint("dst", dst, "src", src);
    IteraNative.itera_copy_bytes(src.dtype().bytesFor(src.size()), src.address(), dst.address());
  }

  // ------------------------------------------------------------------ optimiser

  @Override
  public void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) {
    Ops.checkAdamW(Checks.cpu("adamW"), param, grad, m, v, step);
    if (param.size() == 0) {
      return;
    }
    IteraNative.itera_adamw(
        param.size(), param.address(), grad.address(), m.address(), v.address(), (float) step.learningRate(),
        (float) step.beta1(), (float) step.beta2(), (float) step.eps(), (float) step.weightDecay(),
        (float) step.gradScale(), step.step());
  }
}
