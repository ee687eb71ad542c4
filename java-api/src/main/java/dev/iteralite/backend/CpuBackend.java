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
    k.ints("ids", ids);
    Checks.Rows tr = k.rows("table", k.real("table", table));
    Checks.Rows or = k.rows("out", k.real("out", out));
    k.count("ids", ids, or.r(), "T (rows of out)");
    k.dimension("out", out, "C", or.c(), tr.c(), "table " + table.describe());
    k.disjoint("out", out, "table", table);
    k.disjoint("out", out, "ids", ids);
    k.indices("ids", ids, tr.r(), "V, rows of table", false, 0);
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
    k.ints("ids", ids);
    Checks.Rows or = k.rows("dout", k.real("dout", dout));
    Checks.Rows tr = k.rows("dtable", k.real("dtable", dtable));
    k.count("ids", ids, or.r(), "T (rows of dout)");
    k.dimension("dout", dout, "C", or.c(), tr.c(), "dtable " + dtable.describe());
    k.disjoint("dtable", dtable, "dout", dout);
    k.disjoint("dtable", dtable, "ids", ids);
    k.indices("ids", ids, tr.r(), "V, rows of dtable", false, 0);
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
    Checks k = Checks.cpu("rmsNormForward");
    Checks.Rows xr = k.rows("x", k.real("x", x));
    k.count("w", k.real("w", w), xr.c(), "C");
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.count("rstd", k.real("rstd", rstd), xr.r(), "R");
    Ops.checkEps(k, eps);
    k.positive("C", xr.c(), "a row needs at least one element");
    k.disjoint("y", y, "x", x);
    k.disjoint("y", y, "w", w);
    k.disjoint("rstd", rstd, "x", x);
    k.disjoint("rstd", rstd, "w", w);
    k.disjoint("rstd", rstd, "y", y);
    if (xr.r() == 0) {
      return;
    }
    IteraNative.itera_rmsnorm_forward(
        xr.r(), xr.c(), x.address(), xr.ld(), w.address(), eps, y.address(), yr.ld(), rstd.address());
  }

  @Override
  public void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw) {
    Checks k = Checks.cpu("rmsNormBackward");
    Checks.Rows dyr = k.rows("dy", k.real("dy", dy));
    k.sameShape("x", k.real("x", x), "dy", dy);
    Checks.Rows xr = k.rows("x", x);
    k.count("w", k.real("w", w), dyr.c(), "C");
    k.count("rstd", k.real("rstd", rstd), dyr.r(), "R");
    k.sameShape("dx", k.real("dx", dx), "dy", dy);
    Checks.Rows dxr = k.rows("dx", dx);
    k.count("dw", k.real("dw", dw), dyr.c(), "C");
    k.positive("C", dyr.c(), "a row needs at least one element");
    for (Tensor in : new Tensor[] {dy, x, w, rstd}) {
      k.disjoint("dx", dx, nameOf(in, dy, x, w, rstd), in);
      k.disjoint("dw", dw, nameOf(in, dy, x, w, rstd), in);
    }
    k.disjoint("dw", dw, "dx", dx);
    if (dyr.r() == 0) {
      return;
    }
    IteraNative.itera_rmsnorm_backward(
        dyr.r(), dyr.c(), dy.address(), dyr.ld(), x.address(), xr.ld(), w.address(), rstd.address(),
        dx.address(), dxr.ld(), dw.address());
  }

  @Override
  public void layerNormForward(Tensor x, Tensor w, Tensor b, float eps, Tensor y, Tensor mean, Tensor rstd) {
    Checks k = Checks.cpu("layerNormForward");
    Checks.Rows xr = k.rows("x", k.real("x", x));
    k.count("w", k.real("w", w), xr.c(), "C");
    k.count("b", k.real("b", b), xr.c(), "C");
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.count("mean", k.real("mean", mean), xr.r(), "R");
    k.count("rstd", k.real("rstd", rstd), xr.r(), "R");
    Ops.checkEps(k, eps);
    k.positive("C", xr.c(), "a row needs at least one element");
    Tensor[] ins = {x, w, b};
    String[] inNames = {"x", "w", "b"};
    Tensor[] outs = {y, mean, rstd};
    String[] outNames = {"y", "mean", "rstd"};
    for (int o = 0; o < outs.length; o++) {
      for (int i = 0; i < ins.length; i++) {
        k.disjoint(outNames[o], outs[o], inNames[i], ins[i]);
      }
      for (int p = 0; p < o; p++) {
        k.disjoint(outNames[o], outs[o], outNames[p], outs[p]);
      }
    }
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
    Checks k = Checks.cpu("layerNormBackward");
    Checks.Rows dyr = k.rows("dy", k.real("dy", dy));
    k.sameShape("x", k.real("x", x), "dy", dy);
    Checks.Rows xr = k.rows("x", x);
    k.count("w", k.real("w", w), dyr.c(), "C");
    k.count("mean", k.real("mean", mean), dyr.r(), "R");
    k.count("rstd", k.real("rstd", rstd), dyr.r(), "R");
    k.sameShape("dx", k.real("dx", dx), "dy", dy);
    Checks.Rows dxr = k.rows("dx", dx);
    k.count("dw", k.real("dw", dw), dyr.c(), "C");
    k.count("db", k.real("db", db), dyr.c(), "C");
    k.positive("C", dyr.c(), "a row needs at least one element");
    Tensor[] ins = {dy, x, w, mean, rstd};
    String[] inNames = {"dy", "x", "w", "mean", "rstd"};
    Tensor[] outs = {dx, dw, db};
    String[] outNames = {"dx", "dw", "db"};
    for (int o = 0; o < outs.length; o++) {
      for (int i = 0; i < ins.length; i++) {
        k.disjoint(outNames[o], outs[o], inNames[i], ins[i]);
      }
      for (int p = 0; p < o; p++) {
        k.disjoint(outNames[o], outs[o], outNames[p], outs[p]);
      }
    }
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
    Checks k = Checks.cpu("softmaxForward");
    Checks.Rows xr = k.rows("x", k.real("x", x));
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.positive("C", xr.c(), "softmax of an empty row is undefined");
    k.disjoint("y", y, "x", x);
    if (xr.r() == 0) {
      return;
    }
    IteraNative.itera_softmax_forward(xr.r(), xr.c(), x.address(), xr.ld(), y.address(), yr.ld());
  }

  @Override
  public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
    Checks k = Checks.cpu("softmaxBackward");
    Checks.Rows yr = k.rows("y", k.real("y", y));
    k.sameShape("dy", k.real("dy", dy), "y", y);
    Checks.Rows dyr = k.rows("dy", dy);
    k.sameShape("dx", k.real("dx", dx), "y", y);
    Checks.Rows dxr = k.rows("dx", dx);
    k.disjoint("dx", dx, "y", y);
    k.disjoint("dx", dx, "dy", dy);
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
    Checks.Rows lr = k.rows("logits", k.real("logits", logits));
    k.ints("targets", targets);
    k.count("targets", targets, lr.r(), "R (rows of logits)");
    k.count("losses", k.real("losses", losses), lr.r(), "R (rows of logits)");
    Checks.Rows dr = null;
    if (dlogits != null) {
      k.sameShape("dlogits", k.real("dlogits", dlogits), "logits", logits);
      dr = k.rows("dlogits", dlogits);
      k.disjointOrSame("dlogits", dlogits, "logits", logits);
      k.disjoint("losses", losses, "dlogits", dlogits);
    }
    Ops.checkScale(k, scale);
    k.positive("V", lr.c(), "the vocabulary needs at least one entry");
    k.disjoint("losses", losses, "logits", logits);
    k.indices("targets", targets, lr.c(), "V, columns of logits", true, ignoreIndex);
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
    Checks.Rows hr = k.rows("h", k.real("h", h));
    Checks.Rows wr = k.rows("w", k.real("w", w));
    k.dimension("w", w, "C", wr.c(), hr.c(), "h " + h.describe() + "; w is [V, C], the tied-embedding layout");
    k.ints("targets", targets);
    k.count("targets", targets, hr.r(), "T (rows of h)");
    k.count("losses", k.real("losses", losses), hr.r(), "T (rows of h)");
    Checks.Rows dhr = null;
    Checks.Rows dwr = null;
    if (dh != null) {
      k.sameShape("dh", k.real("dh", dh), "h", h);
      dhr = k.rows("dh", dh);
    }
    if (dw != null) {
      k.sameShape("dw", k.real("dw", dw), "w", w);
      dwr = k.rows("dw", dw);
    }
    Ops.checkScale(k, scale);
    k.positive("V", wr.r(), "the vocabulary needs at least one entry");
    k.positive("C", hr.c(), "hidden states need at least one channel");
    Ops.fusedXentDisjoint(k, h, w, losses, dh, dw);
    k.indices("targets", targets, wr.r(), "V, rows of w", true, ignoreIndex);
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
    Checks k = Checks.cpu("activationForward");
    Objects.requireNonNull(f, "activation");
    k.contiguous("x", k.real("x", x));
    k.contiguous("y", k.sameShape("y", k.real("y", y), "x", x));
    k.disjointOrSame("y", y, "x", x);
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
    Checks k = Checks.cpu("activationBackward");
    Objects.requireNonNull(f, "activation");
    k.contiguous("x", k.real("x", x));
    k.contiguous("dy", k.sameShape("dy", k.real("dy", dy), "x", x));
    k.contiguous("dx", k.sameShape("dx", k.real("dx", dx), "x", x));
    k.disjointOrSame("dx", dx, "x", x);
    k.disjointOrSame("dx", dx, "dy", dy);
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
    Checks k = Checks.cpu("add");
    k.contiguous("a", k.real("a", a));
    k.contiguous("b", k.sameShape("b", k.real("b", b), "a", a));
    k.contiguous("out", k.sameShape("out", k.real("out", out), "a", a));
    k.disjointOrSame("out", out, "a", a);
    k.disjointOrSame("out", out, "b", b);
    if (a.size() > 0) {
      IteraNative.itera_add(a.size(), a.address(), b.address(), out.address());
    }
  }

  @Override
  public void axpy(float alpha, Tensor x, Tensor y) {
    Checks k = Checks.cpu("axpy");
    k.contiguous("x", k.real("x", x));
    k.contiguous("y", k.sameShape("y", k.real("y", y), "x", x));
    k.disjointOrSame("y", y, "x", x);
    if (x.size() > 0) {
      IteraNative.itera_axpy(x.size(), alpha, x.address(), y.address());
    }
  }

  @Override
  public void scale(float alpha, Tensor x) {
    Checks k = Checks.cpu("scale");
    k.contiguous("x", k.real("x", x));
    if (x.size() > 0) {
      IteraNative.itera_scale(x.size(), alpha, x.address());
    }
  }

  @Override
  public double sumSquares(Tensor x) {
    Checks k = Checks.cpu("sumSquares");
    k.contiguous("x", k.real("x", x));
    return x.size() == 0 ? 0.0 : IteraNative.itera_sum_squares(x.size(), x.address());
  }

  @Override
  public void fill(Tensor x, float value) {
    Checks k = Checks.cpu("fill");
    k.contiguous("x", k.real("x", x));
    if (x.size() > 0) {
      IteraNative.itera_fill_f32(x.size(), value, x.address());
    }
  }

  /** {@inheritDoc} Any dtype: the CPU backend copies bytes. */
  @Override
  public void copy(Tensor src, Tensor dst) {
    Checks k = Checks.cpu("copy");
    k.present("src", src);
    k.present("dst", dst);
    Ops.checkCopy(k, src, dst);
    k.contiguous("src", src);
    k.contiguous("dst", dst);
    if (src.size() == 0 || src.address() == dst.address()) {
      return;
    }
    k.disjoint("dst", dst, "src", src);
    IteraNative.itera_copy_bytes(src.dtype().bytesFor(src.size()), src.address(), dst.address());
  }

  // ------------------------------------------------------------------ optimiser

  @Override
  public void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) {
    Checks k = Checks.cpu("adamW");
    Ops.checkAdamW(k, param, grad, m, v, step);
    if (param.size() == 0) {
      return;
    }
    IteraNative.itera_adamw(
        param.size(), param.address(), grad.address(), m.address(), v.address(), (float) step.learningRate(),
        (float) step.beta1(), (float) step.beta2(), (float) step.eps(), (float) step.weightDecay(),
        (float) step.gradScale(), step.step());
  }

  private static String nameOf(Tensor t, Tensor dy, Tensor x, Tensor w, Tensor rstd) {
    if (t == dy) {
      return "dy";
    }
    if (t == x) {
      return "x";
    }
    if (t == w) {
      return "w";
    }
    return "rstd";
  }
}
