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
   * Choose it before making compressed matrices: a Q8_0 / Q4_0 / NF4 / INT4 {@code QuantizedMatrix} (all but F32/F16/BF16/INT8) made at the
   * AVX-512 level keeps the row-interleaved layout that level reads, and at a lower level its
   * products regroup the rows on every call (correct, but about 4 times slower than a matrix made
   * at that level).
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
  // ------------------------------------------------------------------ mixture of experts

  @Override
  public void moeTopK(Tensor probs, Tensor ids, Tensor weights) {
    Checks k = Checks.cpu("moeTopK");
    Ops.Moe s = Ops.checkMoeTopK(k, probs, ids, weights);
    if (s.t() == 0) {
      return;
    }
    k.status(
        IteraNative.itera_moe_topk(
            s.t(), s.d(), s.k(), probs.address(), s.tokens().ld(), ids.address(), weights.address()));
  }

  @Override
  public int moeDispatch(
      Tensor ids, int experts, long capacity, Tensor routed, Tensor offsets, Tensor slots, Tensor perm) {
    Checks k = Checks.cpu("moeDispatch");
    Ops.Moe s = Ops.checkMoeDispatch(k, ids, experts, capacity, routed, offsets, slots, perm);
    if (s.n() == 0) {
      // No assignments: empty histogram and segments.
      routed.fill(0);
      offsets.fill(0);
      return 0;
    }
    k.status(
        IteraNative.itera_moe_dispatch(
            s.t(), s.k(), experts, capacity, ids.address(), routed.address(), offsets.address(), slots.address(),
            perm.address()));
    return offsets.getInt(experts);
  }

  @Override
  public void moeGather(Tensor x, Tensor perm, int kPerToken, Tensor xp) {
    Ops.Moe s = Ops.checkMoeGather(Checks.cpu("moeGather"), x, perm, kPerToken, xp);
    if (s.n() == 0 || s.d() == 0) {
      return;
    }
    IteraNative.itera_moe_gather(
        s.n(), s.d(), s.k(), perm.address(), x.address(), s.tokens().ld(), xp.address(), s.permuted().ld());
  }

  @Override
  public void moeGatherBackward(Tensor dxp, Tensor slots, Tensor dx) {
    Ops.Moe s = Ops.checkMoeGatherBackward(Checks.cpu("moeGatherBackward"), dxp, slots, dx);
    if (s.t() == 0 || s.d() == 0) {
      return;
    }
    IteraNative.itera_moe_gather_backward(
        s.t(), s.d(), s.k(), slots.address(), dxp.address(), s.permuted().ld(), dx.address(), s.tokens().ld());
  }

  @Override
  public void moeCombine(Tensor yp, Tensor slots, Tensor weights, Tensor out) {
    Ops.Moe s = Ops.checkMoeCombine(Checks.cpu("moeCombine"), yp, slots, weights, out);
    if (s.t() == 0 || s.d() == 0) {
      return;
    }
    IteraNative.itera_moe_combine(
        s.t(), s.d(), s.k(), slots.address(), weights.address(), s.n() == 0 ? 0L : yp.address(),
        s.permuted().ld(), out.address(), s.tokens().ld());
  }

  @Override
  public void moeCombineBackward(
      Tensor dout, Tensor yp, Tensor perm, Tensor slots, Tensor weights, Tensor dyp, Tensor dweights) {
    Ops.Moe s =
        Ops.checkMoeCombineBackward(Checks.cpu("moeCombineBackward"), dout, yp, perm, slots, weights, dyp, dweights);
    if (s.t() == 0 || s.n() == 0) {
      return;
    }
    IteraNative.itera_moe_combine_backward(
        s.t(), s.n(), s.d(), s.k(), perm.address(), slots.address(), weights.address(), dout.address(),
        s.tokens().ld(), yp.address(), s.permuted().ld(), dyp.address(), s.extra().ld(), dweights.address());
  }

  @Override
  public void swigluForward(Tensor h1, Tensor h3, Tensor out) {
    Ops.checkSwigluForward(Checks.cpu("swigluForward"), h1, h3, out);
    if (h1.size() > 0) {
      IteraNative.itera_swiglu_forward(h1.size(), h1.address(), h3.address(), out.address());
    }
  }

  @Override
  public void swigluBackward(Tensor h1, Tensor h3, Tensor dout, Tensor dh1, Tensor dh3) {
    Ops.checkSwigluBackward(Checks.cpu("swigluBackward"), h1, h3, dout, dh1, dh3);
    if (h1.size() > 0) {
      IteraNative.itera_swiglu_backward(
          h1.size(), h1.address(), h3.address(), dout.address(), dh1.address(), dh3.address());
    }
  }

  // ------------------------------------------------------------------ selective SSM (Mamba-1)

  private static long addr(Tensor t) {
    return t == null ? 0L : t.address();
  }

  private static long ld(Checks.Rows r) {
    return r == null ? 0L : r.ld();
  }

  @Override
  public void causalConv1dForward(int batch, Tensor x, Tensor w, Tensor bias, Tensor y) {
    Ops.Conv s = Ops.checkConvForward(Checks.cpu("causalConv1dForward"), batch, x, w, bias, y);
    IteraNative.itera_causal_conv1d_forward(
        s.batch(), s.len(), s.e(), s.k(), x.address(), s.x().ld(), w.address(), addr(bias), y.address(), s.y().ld());
  }

  @Override
  public void causalConv1dBackward(int batch, Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor dbias) {
    Ops.Conv[] s = Ops.checkConvBackward(Checks.cpu("causalConv1dBackward"), batch, x, w, dy, dx, dw, dbias);
    IteraNative.itera_causal_conv1d_backward(
        s[0].batch(), s[0].len(), s[0].e(), s[0].k(), x.address(), s[0].x().ld(), w.address(), dy.address(),
        s[0].y().ld(), dx.address(), s[1].x().ld(), dw.address(), addr(dbias));
  }

  @Override
  public void causalConv1dStep(Tensor x, Tensor state, Tensor w, Tensor bias, Tensor y) {
    Ops.Conv s = Ops.checkConvStep(Checks.cpu("causalConv1dStep"), x, state, w, bias, y);
    IteraNative.itera_causal_conv1d_step(
        s.batch(), s.e(), s.k(), x.address(), s.x().ld(), state.address(), w.address(), addr(bias), y.address(),
        s.y().ld());
  }

  @Override
  public void selectiveScanForward(SelectiveScan scan, Tensor y, Tensor lastState, Tensor chunkStates) {
    Checks k = Checks.cpu("selectiveScanForward");
    Ops.Ssm m = Ops.checkScanForward(k, scan, y, lastState, chunkStates);
    IteraNative.itera_selective_scan_forward(
        m.batch(), m.len(), m.e(), m.n(), scan.u().address(), m.u().ld(), scan.delta().address(), m.delta().ld(),
        scan.a().address(), scan.b().address(), m.b().ld(), scan.c().address(), m.c().ld(), addr(scan.d()),
        addr(scan.z()), ld(m.z()), addr(scan.deltaBias()), scan.deltaSoftplus() ? 1 : 0, scan.chunk(),
        y.address(), k.rows("y", y).ld(), addr(lastState), addr(chunkStates));
  }

  @Override
  public void selectiveScanBackward(SelectiveScan scan, Tensor chunkStates, Tensor dy, SelectiveScanGrads g) {
    Checks k = Checks.cpu("selectiveScanBackward");
    Ops.Ssm m = Ops.checkScanBackward(k, scan, chunkStates, dy, g);
    IteraNative.itera_selective_scan_backward(
        m.batch(), m.len(), m.e(), m.n(), scan.u().address(), m.u().ld(), scan.delta().address(), m.delta().ld(),
        scan.a().address(), scan.b().address(), m.b().ld(), scan.c().address(), m.c().ld(), addr(scan.d()),
        addr(scan.z()), ld(m.z()), addr(scan.deltaBias()), scan.deltaSoftplus() ? 1 : 0, scan.chunk(),
        chunkStates.address(), dy.address(), k.rows("dy", dy).ld(), g.du().address(), k.rows("du", g.du()).ld(),
        g.dDelta().address(), k.rows("dDelta", g.dDelta()).ld(), g.dA().address(), g.dB().address(),
        k.rows("dB", g.dB()).ld(), g.dC().address(), k.rows("dC", g.dC()).ld(), addr(g.dD()), addr(g.dz()),
        g.dz() == null ? 0L : k.rows("dz", g.dz()).ld(), addr(g.dDeltaBias()));
  }

  @Override
  public void selectiveScanStep(SelectiveScan scan, Tensor state, Tensor y) {
    Checks k = Checks.cpu("selectiveScanStep");
    Ops.Ssm m = Ops.checkScanStep(k, scan, state, y);
    IteraNative.itera_selective_scan_step(
        m.batch(), m.e(), m.n(), scan.u().address(), m.u().ld(), scan.delta().address(), m.delta().ld(),
        scan.a().address(), scan.b().address(), m.b().ld(), scan.c().address(), m.c().ld(), addr(scan.d()),
        addr(scan.z()), ld(m.z()), addr(scan.deltaBias()), scan.deltaSoftplus() ? 1 : 0, state.address(),
        y.address(), k.rows("y", y).ld());
  }

  // ------------------------------------------------------------------ causal attention (training)

  @Override
  public void ropeForward(int batch, int headSize, Tensor x, Tensor y) {
    Ops.Rope r = Ops.checkRope(Checks.cpu("ropeForward"), batch, headSize, x, "x", y, "y", false);
    IteraNative.itera_rope_forward(r.rows(), r.len(), r.heads(), r.hs(), x.address(), r.in().ld(), y.address(),
        r.out().ld());
  }

  @Override
  public void ropeBackward(int batch, int headSize, Tensor dy, Tensor dx) {
    Ops.Rope r = Ops.checkRope(Checks.cpu("ropeBackward"), batch, headSize, dy, "dy", dx, "dx", true);
    IteraNative.itera_rope_backward(r.rows(), r.len(), r.heads(), r.hs(), dy.address(), r.in().ld(), dx.address(),
        r.out().ld());
  }

  @Override
  public void causalAttentionForward(int batch, int heads, int kvHeads, float scale, Tensor q, Tensor k, Tensor v,
      Tensor out, Tensor lse) {
    Checks c = Checks.cpu("causalAttentionForward");
    Ops.Attn a = Ops.checkAttentionForward(c, batch, heads, kvHeads, scale, q, k, v, out, lse);
    IteraNative.itera_causal_attention_forward(a.batch(), a.len(), a.heads(), a.kvHeads(), a.hs(), scale,
        q.address(), a.q().ld(), k.address(), a.k().ld(), v.address(), a.v().ld(), out.address(),
        c.rows("out", out).ld(), lse.address());
  }

  @Override
  public void causalAttentionBackward(int batch, int heads, int kvHeads, float scale, Tensor q, Tensor k, Tensor v,
      Tensor lse, Tensor dout, Tensor dq, Tensor dk, Tensor dv) {
    Checks c = Checks.cpu("causalAttentionBackward");
    Ops.Attn a = Ops.checkAttentionBackward(c, batch, heads, kvHeads, scale, q, k, v, lse, dout, dq, dk, dv);
    IteraNative.itera_causal_attention_backward(a.batch(), a.len(), a.heads(), a.kvHeads(), a.hs(), scale,
        q.address(), a.q().ld(), k.address(), a.k().ld(), v.address(), a.v().ld(), lse.address(), dout.address(),
        c.rows("dout", dout).ld(), dq.address(), c.rows("dq", dq).ld(), dk.address(), c.rows("dk", dk).ld(),
        dv.address(), c.rows("dv", dv).ld());
  }
}
