package dev.iteralite.backend;

import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;

/**
 * The reference backend: plain Java, every operation computed in double precision, on F32 or F64
 * tensors with any strides.
 *
 * <p>It is the oracle the native kernels are tested against and the backend of float64
 * finite-difference gradient checks, so it implements the exact mathematics of {@code
 * itera_kernels.h} (GELU tanh approximation, softplus equal to x above 20, AdamW as specified)
 * with no shortcuts. Validation is the CPU backend's (nulls, closed tensors, dtypes, ranks,
 * shapes, index ranges, aliasing) except that layout is free: F64 is accepted and operands need
 * not be contiguous. Each call reads its inputs completely before writing, so it is slow and
 * meant for tests and small models.
 */
public final class ReferenceBackend implements Backend {
  private static final double GELU_K = Math.sqrt(2.0 / Math.PI);
  private static final double GELU_C = 0.044715;

  /** A new reference backend (stateless; {@link Backends#reference()} shares one). */
  public ReferenceBackend() {}

  @Override
  public String name() {
    return "reference";
  }

  @Override
  public String describe() {
    return "reference backend: pure Java, double precision, F32/F64, any strides";
  }

  // ------------------------------------------------------------------ GEMM

  @Override
  public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
    Checks k = Checks.reference("gemm");
    Checks.GemmShape s = k.gemm(transA, transB, a, b, c);
    long total = Math.multiplyExact(s.batch(), Math.multiplyExact(s.m(), s.n()));
    if (total == 0) {
      return;
    }
    double[] av = a.toDoubleArray();
    double[] bv = b.toDoubleArray();
    double[] cv = c.toDoubleArray();
    int m = (int) s.m();
    int n = (int) s.n();
    int kk = (int) s.k();
    int aRows = (int) s.a().rows();
    int aCols = (int) s.a().cols();
    int bCols = (int) s.b().cols();
    for (int bi = 0; bi < s.batch(); bi++) {
      int ao = bi * aRows * aCols;
      int bo = bi * (int) (s.b().rows() * s.b().cols());
      int co = bi * m * n;
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double acc = 0;
          for (int p = 0; p < kk; p++) {
            double x = transA ? av[ao + p * aCols + i] : av[ao + i * aCols + p];
            double y = transB ? bv[bo + j * bCols + p] : bv[bo + p * bCols + j];
            acc += x * y;
          }
          double old = beta == 0f ? 0.0 : (double) beta * cv[co + i * n + j];
          cv[co + i * n + j] = (double) alpha * acc + old;
        }
      }
    }
    c.copyFrom(cv);
  }

  // ------------------------------------------------------------------ embedding

  @Override
  public void embeddingForward(Tensor ids, Tensor table, Tensor out) {
    Ops.Embedding s = Ops.checkEmbeddingForward(Checks.reference("embeddingForward"), ids, table, out);
    Checks.Rows or = s.rows();
    int[] id = ids.toIntArray();
    double[] tv = table.toDoubleArray();
    int c = (int) or.c();
    double[] ov = new double[id.length * c];
    for (int t = 0; t < id.length; t++) {
      System.arraycopy(tv, id[t] * c, ov, t * c, c);
    }
    out.copyFrom(ov);
  }

  @Override
  public void embeddingBackward(Tensor ids, Tensor dout, Tensor dtable) {
    Ops.Embedding s = Ops.checkEmbeddingBackward(Checks.reference("embeddingBackward"), ids, dout, dtable);
    Checks.Rows or = s.rows();
    int[] id = ids.toIntArray();
    double[] dv = dout.toDoubleArray();
    double[] tv = dtable.toDoubleArray();
    int c = (int) or.c();
    for (int t = 0; t < id.length; t++) {
      for (int j = 0; j < c; j++) {
        tv[id[t] * c + j] += dv[t * c + j];
      }
    }
    dtable.copyFrom(tv);
  }

  // ------------------------------------------------------------------ normalisation

  @Override
  public void rmsNormForward(Tensor x, Tensor w, float eps, Tensor y, Tensor rstd) {
    Checks.Rows xr = Ops.checkRmsNormForward(Checks.reference("rmsNormForward"), x, w, eps, y, rstd).x();
    int r = (int) xr.r();
    int c = (int) xr.c();
    double[] xv = x.toDoubleArray();
    double[] wv = w.toDoubleArray();
    double[] yv = new double[r * c];
    double[] rs = new double[r];
    for (int i = 0; i < r; i++) {
      double ss = 0;
      for (int j = 0; j < c; j++) {
        ss += xv[i * c + j] * xv[i * c + j];
      }
      double inv = 1.0 / Math.sqrt(ss / c + (double) eps);
      rs[i] = inv;
      for (int j = 0; j < c; j++) {
        yv[i * c + j] = xv[i * c + j] * inv * wv[j];
      }
    }
    y.copyFrom(yv);
    rstd.copyFrom(rs);
  }

  @Override
  public void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw) {
    Checks.Rows dyr =
        Ops.checkRmsNormBackward(Checks.reference("rmsNormBackward"), dy, x, w, rstd, dx, dw).dy();
    int r = (int) dyr.r();
    int c = (int) dyr.c();
    double[] dyv = dy.toDoubleArray();
    double[] xv = x.toDoubleArray();
    double[] wv = w.toDoubleArray();
    double[] rs = rstd.toDoubleArray();
    double[] dxv = dx.toDoubleArray();
    double[] dwv = dw.toDoubleArray();
    for (int i = 0; i < r; i++) {
      double s = rs[i];
      double dot = 0;
      for (int j = 0; j < c; j++) {
        dot += dyv[i * c + j] * wv[j] * xv[i * c + j];
      }
      double coef = s * s * s * dot / c;
      for (int j = 0; j < c; j++) {
        int e = i * c + j;
        dxv[e] += s * wv[j] * dyv[e] - coef * xv[e];
        dwv[j] += dyv[e] * xv[e] * s;
      }
    }
    dx.copyFrom(dxv);
    dw.copyFrom(dwv);
  }

  @Override
  public void layerNormForward(Tensor x, Tensor w, Tensor b, float eps, Tensor y, Tensor mean, Tensor rstd) {
    Checks.Rows xr =
        Ops.checkLayerNormForward(Checks.reference("layerNormForward"), x, w, b, eps, y, mean, rstd).x();
    int r = (int) xr.r();
    int c = (int) xr.c();
    double[] xv = x.toDoubleArray();
    double[] wv = w.toDoubleArray();
    double[] bv = b.toDoubleArray();
    double[] yv = new double[r * c];
    double[] mv = new double[r];
    double[] rs = new double[r];
    for (int i = 0; i < r; i++) {
      double mu = 0;
      for (int j = 0; j < c; j++) {
        mu += xv[i * c + j];
      }
      mu /= c;
      double var = 0;
      for (int j = 0; j < c; j++) {
        double d = xv[i * c + j] - mu;
        var += d * d;
      }
      var /= c;
      double inv = 1.0 / Math.sqrt(var + (double) eps);
      mv[i] = mu;
      rs[i] = inv;
      for (int j = 0; j < c; j++) {
        yv[i * c + j] = (xv[i * c + j] - mu) * inv * wv[j] + bv[j];
      }
    }
    y.copyFrom(yv);
    mean.copyFrom(mv);
    rstd.copyFrom(rs);
  }

  @Override
  public void layerNormBackward(
      Tensor dy, Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor dx, Tensor dw, Tensor db) {
    Checks.Rows dyr =
        Ops.checkLayerNormBackward(Checks.reference("layerNormBackward"), dy, x, w, mean, rstd, dx, dw, db)
            .dy();
    int r = (int) dyr.r();
    int c = (int) dyr.c();
    double[] dyv = dy.toDoubleArray();
    double[] xv = x.toDoubleArray();
    double[] wv = w.toDoubleArray();
    double[] mv = mean.toDoubleArray();
    double[] rs = rstd.toDoubleArray();
    double[] dxv = dx.toDoubleArray();
    double[] dwv = dw.toDoubleArray();
    double[] dbv = db.toDoubleArray();
    double[] xhat = new double[c];
    double[] g = new double[c];
    for (int i = 0; i < r; i++) {
      double meanG = 0;
      double meanGx = 0;
      for (int j = 0; j < c; j++) {
        int e = i * c + j;
        xhat[j] = (xv[e] - mv[i]) * rs[i];
        g[j] = dyv[e] * wv[j];
        meanG += g[j];
        meanGx += g[j] * xhat[j];
        dwv[j] += dyv[e] * xhat[j];
        dbv[j] += dyv[e];
      }
      meanG /= c;
      meanGx /= c;
      for (int j = 0; j < c; j++) {
        dxv[i * c + j] += rs[i] * (g[j] - meanG - xhat[j] * meanGx);
      }
    }
    dx.copyFrom(dxv);
    dw.copyFrom(dwv);
    db.copyFrom(dbv);
  }

  // ------------------------------------------------------------------ softmax and losses

  @Override
  public void softmaxForward(Tensor x, Tensor y) {
    Checks.Rows xr = Ops.checkSoftmaxForward(Checks.reference("softmaxForward"), x, y).x();
    int r = (int) xr.r();
    int c = (int) xr.c();
    double[] v = x.toDoubleArray();
    for (int i = 0; i < r; i++) {
      softmaxRow(v, i * c, c);
    }
    y.copyFrom(v);
  }

  /** In place: v[o, o + c) becomes its softmax; returns the row's logsumexp. */
  private static double softmaxRow(double[] v, int o, int c) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < c; j++) {
      max = Math.max(max, v[o + j]);
    }
    double sum = 0;
    for (int j = 0; j < c; j++) {
      double e = Math.exp(v[o + j] - max);
      v[o + j] = e;
      sum += e;
    }
    for (int j = 0; j < c; j++) {
      v[o + j] /= sum;
    }
    return max + Math.log(sum);
  }

  @Override
  public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
    Checks.Rows yr = Ops.checkSoftmaxBackward(Checks.reference("softmaxBackward"), y, dy, dx).saved();
    int r = (int) yr.r();
    int c = (int) yr.c();
    double[] yv = y.toDoubleArray();
    double[] dyv = dy.toDoubleArray();
    double[] dxv = dx.toDoubleArray();
    for (int i = 0; i < r; i++) {
      double dot = 0;
      for (int j = 0; j < c; j++) {
        dot += dyv[i * c + j] * yv[i * c + j];
      }
      for (int j = 0; j < c; j++) {
        dxv[i * c + j] += yv[i * c + j] * (dyv[i * c + j] - dot);
      }
    }
    dx.copyFrom(dxv);
  }

  @Override
  public double crossEntropy(
      Tensor logits, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dlogits) {
    Checks.Rows lr =
        Ops.checkCrossEntropy(Checks.reference("crossEntropy"), logits, targets, ignoreIndex, scale, losses, dlogits)
            .scores();
    int r = (int) lr.r();
    int v = (int) lr.c();
    double[] lv = logits.toDoubleArray();
    int[] tg = targets.toIntArray();
    double[] loss = new double[r];
    double total = 0;
    for (int i = 0; i < r; i++) {
      int o = i * v;
      if (tg[i] == ignoreIndex) {
        java.util.Arrays.fill(lv, o, o + v, 0.0);
        continue;
      }
      double picked = lv[o + tg[i]];
      double lse = softmaxRow(lv, o, v);
      loss[i] = lse - picked;
      total += loss[i];
      lv[o + tg[i]] -= 1.0;
      for (int j = 0; j < v; j++) {
        lv[o + j] *= scale;
      }
    }
    losses.copyFrom(loss);
    if (dlogits != null) {
      dlogits.copyFrom(lv);
    }
    return total;
  }

  @Override
  public double fusedLinearCrossEntropy(
      Tensor h, Tensor w, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dh, Tensor dw) {
    Ops.Loss s =
        Ops.checkFusedLinearCrossEntropy(
            Checks.reference("fusedLinearCrossEntropy"), h, w, targets, ignoreIndex, scale, losses, dh, dw);
    int t = (int) s.scores().r();
    int c = (int) s.scores().c();
    int v = (int) s.w().r();
    double[] hv = h.toDoubleArray();
    double[] wv = w.toDoubleArray();
    int[] tg = targets.toIntArray();
    double[] loss = new double[t];
    double[] dhv = dh == null ? null : dh.toDoubleArray();
    double[] dwv = dw == null ? null : dw.toDoubleArray();
    double[] row = new double[v];
    double total = 0;
    for (int i = 0; i < t; i++) {
      if (tg[i] == ignoreIndex) {
        continue;
      }
      for (int j = 0; j < v; j++) {
        double acc = 0;
        for (int p = 0; p < c; p++) {
          acc += hv[i * c + p] * wv[j * c + p];
        }
        row[j] = acc;
      }
      double picked = row[tg[i]];
      double lse = softmaxRow(row, 0, v);
      loss[i] = lse - picked;
      total += loss[i];
      row[tg[i]] -= 1.0;
      for (int j = 0; j < v; j++) {
        double g = scale * row[j];
        if (g == 0) {
          continue;
        }
        for (int p = 0; p < c; p++) {
          if (dhv != null) {
            dhv[i * c + p] += g * wv[j * c + p];
          }
          if (dwv != null) {
            dwv[j * c + p] += g * hv[i * c + p];
          }
        }
      }
    }
    losses.copyFrom(loss);
    if (dh != null) {
      dh.copyFrom(dhv);
    }
    if (dw != null) {
      dw.copyFrom(dwv);
    }
    return total;
  }

  // ------------------------------------------------------------------ pointwise

  /** f(x) in double, as the kernels define it. */
  static double activate(Activation f, double x) {
    switch (f) {
      case SILU:
        return x / (1.0 + Math.exp(-x));
      case GELU:
        return 0.5 * x * (1.0 + Math.tanh(GELU_K * (x + GELU_C * x * x * x)));
      case SOFTPLUS:
        return x > 20.0 ? x : Math.log1p(Math.exp(x));
      default:
        throw new AssertionError(f);
    }
  }

  /** f'(x) in double, as the kernels define it. */
  static double derivative(Activation f, double x) {
    switch (f) {
      case SILU: {
        double s = 1.0 / (1.0 + Math.exp(-x));
        return s * (1.0 + x * (1.0 - s));
      }
      case GELU: {
        double u = GELU_K * (x + GELU_C * x * x * x);
        double th = Math.tanh(u);
        return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * GELU_K * (1.0 + 3.0 * GELU_C * x * x);
      }
      case SOFTPLUS:
        return x > 20.0 ? 1.0 : 1.0 / (1.0 + Math.exp(-x));
      default:
        throw new AssertionError(f);
    }
  }

  @Override
  public void activationForward(Activation f, Tensor x, Tensor y) {
    Ops.checkActivationForward(Checks.reference("activationForward"), f, x, y);
    double[] v = x.toDoubleArray();
    for (int i = 0; i < v.length; i++) {
      v[i] = activate(f, v[i]);
    }
    y.copyFrom(v);
  }

  @Override
  public void activationBackward(Activation f, Tensor x, Tensor dy, Tensor dx) {
    Ops.checkActivationBackward(Checks.reference("activationBackward"), f, x, dy, dx);
    double[] xv = x.toDoubleArray();
    double[] dyv = dy.toDoubleArray();
    double[] dxv = dx.toDoubleArray();
    for (int i = 0; i < xv.length; i++) {
      dxv[i] += derivative(f, xv[i]) * dyv[i];
    }
    dx.copyFrom(dxv);
  }

  @Override
  public void add(Tensor a, Tensor b, Tensor out) {
    Ops.checkAdd(Checks.reference("add"), a, b, out);
    double[] av = a.toDoubleArray();
    double[] bv = b.toDoubleArray();
    for (int i = 0; i < av.length; i++) {
      av[i] += bv[i];
    }
    out.copyFrom(av);
  }

  @Override
  public void axpy(float alpha, Tensor x, Tensor y) {
    Ops.checkAxpy(Checks.reference("axpy"), x, y);
    double[] xv = x.toDoubleArray();
    double[] yv = y.toDoubleArray();
    for (int i = 0; i < xv.length; i++) {
      yv[i] += (double) alpha * xv[i];
    }
    y.copyFrom(yv);
  }

  @Override
  public void scale(float alpha, Tensor x) {
    Ops.checkElements(Checks.reference("scale"), x);
    double[] v = x.toDoubleArray();
    for (int i = 0; i < v.length; i++) {
      v[i] *= alpha;
    }
    x.copyFrom(v);
  }

  @Override
  public double sumSquares(Tensor x) {
    Ops.checkElements(Checks.reference("sumSquares"), x);
    double s = 0;
    for (double e : x.toDoubleArray()) {
      s += e * e;
    }
    return s;
  }

  @Override
  public void fill(Tensor x, float value) {
    Ops.checkElements(Checks.reference("fill"), x);
    x.fill(value);
  }

  /** {@inheritDoc} F32, F64 and I32 tensors, any strides. */
  @Override
  public void copy(Tensor src, Tensor dst) {
    Checks k = Checks.reference("copy");
    Ops.checkCopy(k, src, dst);
    DType d = src.dtype();
    if (d != DType.F32 && d != DType.F64 && d != DType.I32) {
      throw k.fail(
          "argument 'src' (" + src + ") has dtype " + d + ": the reference backend copies F32, F64 and I32"
              + " tensors; use the cpu backend for " + d);
    }
    k.disjointOrSame("dst", dst, "src", src);
    if (d == DType.I32) {
      dst.copyFrom(src.toIntArray());
    } else {
      dst.copyFrom(src.toDoubleArray());
    }
  }

  // ------------------------------------------------------------------ optimiser

  @Override
  public void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) {
    Ops.checkAdamW(Checks.reference("adamW"), param, grad, m, v, step);
    double[] p = param.toDoubleArray();
    double[] g = grad.toDoubleArray();
    double[] mv = m.toDoubleArray();
    double[] vv = v.toDoubleArray();
    double b1 = step.beta1();
    double b2 = step.beta2();
    double bc1 = 1.0 - Math.pow(b1, step.step());
    double bc2 = 1.0 - Math.pow(b2, step.step());
    for (int i = 0; i < p.length; i++) {
      double gi = g[i] * step.gradScale();
      mv[i] = b1 * mv[i] + (1.0 - b1) * gi;
      vv[i] = b2 * vv[i] + (1.0 - b2) * gi * gi;
      double mhat = mv[i] / bc1;
      double vhat = vv[i] / bc2;
      p[i] -= step.learningRate() * (mhat / (Math.sqrt(vhat) + step.eps()) + step.weightDecay() * p[i]);
    }
    param.copyFrom(p);
    m.copyFrom(mv);
    v.copyFrom(vv);
  }
  // ------------------------------------------------------------------ mixture of experts

  @Override
  public void moeTopK(Tensor probs, Tensor ids, Tensor weights) {
    Ops.Moe s = Ops.checkMoeTopK(Checks.reference("moeTopK"), probs, ids, weights);
    int t = (int) s.t();
    int e = (int) s.d();
    int k = (int) s.k();
    double[] p = probs.toDoubleArray();
    int[] id = new int[t * k];
    double[] w = new double[t * k];
    for (int row = 0; row < t; row++) {
      boolean[] taken = new boolean[e];
      double sum = 0;
      for (int j = 0; j < k; j++) {
        // Largest untaken probability; strict '>' keeps the lower index on ties.
        int best = -1;
        for (int x = 0; x < e; x++) {
          if (!taken[x] && (best < 0 || p[row * e + x] > p[row * e + best])) {
            best = x;
          }
        }
        taken[best] = true;
        id[row * k + j] = best;
        sum += p[row * e + best];
      }
      for (int j = 0; j < k; j++) {
        w[row * k + j] = p[row * e + id[row * k + j]] / sum;
      }
    }
    ids.copyFrom(id);
    weights.copyFrom(w);
  }

  @Override
  public int moeDispatch(
      Tensor ids, int experts, long capacity, Tensor routed, Tensor offsets, Tensor slots, Tensor perm) {
    Ops.Moe s =
        Ops.checkMoeDispatch(Checks.reference("moeDispatch"), ids, experts, capacity, routed, offsets, slots, perm);
    int a = (int) s.n();
    int[] id = ids.toIntArray();
    int[] rt = new int[experts];
    int[] off = new int[experts + 1];
    int[] sl = new int[a];
    int[] pm = new int[a];
    java.util.Arrays.fill(sl, -1);
    java.util.Arrays.fill(pm, -1);
    int row = 0;
    for (int e = 0; e < experts; e++) {
      off[e] = row;
      for (int i = 0; i < a; i++) {
        if (id[i] != e) {
          continue;
        }
        if (capacity <= 0 || rt[e] < capacity) {
          sl[i] = row;
          pm[row++] = i;
        }
        rt[e]++;
      }
    }
    off[experts] = row;
    routed.copyFrom(rt);
    offsets.copyFrom(off);
    slots.copyFrom(sl);
    perm.copyFrom(pm);
    return row;
  }

  @Override
  public void moeGather(Tensor x, Tensor perm, int kPerToken, Tensor xp) {
    Ops.Moe s = Ops.checkMoeGather(Checks.reference("moeGather"), x, perm, kPerToken, xp);
    int d = (int) s.d();
    int[] pm = perm.toIntArray();
    double[] xv = x.toDoubleArray();
    double[] out = new double[pm.length * d];
    for (int r = 0; r < pm.length; r++) {
      System.arraycopy(xv, (pm[r] / kPerToken) * d, out, r * d, d);
    }
    xp.copyFrom(out);
  }

  @Override
  public void moeGatherBackward(Tensor dxp, Tensor slots, Tensor dx) {
    Ops.Moe s = Ops.checkMoeGatherBackward(Checks.reference("moeGatherBackward"), dxp, slots, dx);
    int t = (int) s.t();
    int k = (int) s.k();
    int d = (int) s.d();
    int[] sl = slots.toIntArray();
    double[] g = dxp.toDoubleArray();
    double[] out = dx.toDoubleArray();
    for (int i = 0; i < t * k; i++) {
      if (sl[i] >= 0) {
        for (int c = 0; c < d; c++) {
          out[(i / k) * d + c] += g[sl[i] * d + c];
        }
      }
    }
    dx.copyFrom(out);
  }

  @Override
  public void moeCombine(Tensor yp, Tensor slots, Tensor weights, Tensor out) {
    Ops.Moe s = Ops.checkMoeCombine(Checks.reference("moeCombine"), yp, slots, weights, out);
    int t = (int) s.t();
    int k = (int) s.k();
    int d = (int) s.d();
    int[] sl = slots.toIntArray();
    double[] w = weights.toDoubleArray();
    double[] y = yp.toDoubleArray();
    double[] o = new double[t * d];
    for (int i = 0; i < t * k; i++) {
      if (sl[i] >= 0) {
        for (int c = 0; c < d; c++) {
          o[(i / k) * d + c] += w[i] * y[sl[i] * d + c];
        }
      }
    }
    out.copyFrom(o);
  }

  @Override
  public void moeCombineBackward(
      Tensor dout, Tensor yp, Tensor perm, Tensor slots, Tensor weights, Tensor dyp, Tensor dweights) {
    Ops.Moe s = Ops.checkMoeCombineBackward(
        Checks.reference("moeCombineBackward"), dout, yp, perm, slots, weights, dyp, dweights);
    int t = (int) s.t();
    int k = (int) s.k();
    int d = (int) s.d();
    int[] pm = perm.toIntArray();
    int[] sl = slots.toIntArray();
    double[] w = weights.toDoubleArray();
    double[] g = dout.toDoubleArray();
    double[] y = yp.toDoubleArray();
    double[] dy = dyp.toDoubleArray();
    double[] dw = dweights.toDoubleArray();
    for (int r = 0; r < pm.length; r++) {
      int a = pm[r];
      for (int c = 0; c < d; c++) {
        dy[r * d + c] += w[a] * g[(a / k) * d + c];
      }
    }
    for (int a = 0; a < t * k; a++) {
      if (sl[a] >= 0) {
        double dot = 0;
        for (int c = 0; c < d; c++) {
          dot += g[(a / k) * d + c] * y[sl[a] * d + c];
        }
        dw[a] += dot;
      }
    }
    dyp.copyFrom(dy);
    dweights.copyFrom(dw);
  }

  @Override
  public void swigluForward(Tensor h1, Tensor h3, Tensor out) {
    Ops.checkSwigluForward(Checks.reference("swigluForward"), h1, h3, out);
    double[] a = h1.toDoubleArray();
    double[] b = h3.toDoubleArray();
    double[] o = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      o[i] = a[i] / (1 + Math.exp(-a[i])) * b[i];
    }
    out.copyFrom(o);
  }

  @Override
  public void swigluBackward(Tensor h1, Tensor h3, Tensor dout, Tensor dh1, Tensor dh3) {
    Ops.checkSwigluBackward(Checks.reference("swigluBackward"), h1, h3, dout, dh1, dh3);
    double[] a = h1.toDoubleArray();
    double[] b = h3.toDoubleArray();
    double[] g = dout.toDoubleArray();
    double[] d1 = dh1.toDoubleArray();
    double[] d3 = dh3.toDoubleArray();
    for (int i = 0; i < a.length; i++) {
      double sg = 1 / (1 + Math.exp(-a[i]));
      d1[i] += g[i] * b[i] * sg * (1 + a[i] * (1 - sg));
      d3[i] += g[i] * a[i] * sg;
    }
    dh1.copyFrom(d1);
    dh3.copyFrom(d3);
  }

  // ------------------------------------------------------------------ selective SSM (Mamba-1)
  // Straight transcriptions of kernel-facts §1.2-1.5 in double, one channel at a time; the oracle
  // of the CPU kernels. Arrays are in logical (row-major) order, whatever the tensors' strides.

  private static double[] orNull(Tensor t) {
    return t == null ? null : t.toDoubleArray();
  }

  private static double sigmoid(double x) {
    return 1.0 / (1.0 + Math.exp(-x));
  }

  /** softplus with the kernels' identity above 20. */
  private static double softplus(double x) {
    return x > 20.0 ? x : Math.log1p(Math.exp(x));
  }

  @Override
  public void causalConv1dForward(int batch, Tensor x, Tensor w, Tensor bias, Tensor y) {
    Ops.Conv s = Ops.checkConvForward(Checks.reference("causalConv1dForward"), batch, x, w, bias, y);
    int len = (int) s.len(), e = (int) s.e(), kk = (int) s.k();
    double[] xv = x.toDoubleArray(), wv = w.toDoubleArray(), bv = orNull(bias);
    double[] yv = new double[xv.length];
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < len; t++) {
        for (int c = 0; c < e; c++) {
          double acc = bv == null ? 0 : bv[c];
          for (int k = 0; k < kk; k++) {
            int src = t - (kk - 1) + k;
            if (src >= 0) {
              acc += wv[c * kk + k] * xv[(b * len + src) * e + c];
            }
          }
          yv[(b * len + t) * e + c] = acc;
        }
      }
    }
    y.copyFrom(yv);
  }

  @Override
  public void causalConv1dBackward(int batch, Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor dbias) {
    Ops.Conv s = Ops.checkConvBackward(Checks.reference("causalConv1dBackward"), batch, x, w, dy, dx, dw, dbias)[0];
    int len = (int) s.len(), e = (int) s.e(), kk = (int) s.k();
    double[] xv = x.toDoubleArray(), wv = w.toDoubleArray(), gv = dy.toDoubleArray();
    double[] dxv = dx.toDoubleArray(), dwv = dw.toDoubleArray(), dbv = orNull(dbias);
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < len; t++) {
        for (int c = 0; c < e; c++) {
          double g = gv[(b * len + t) * e + c];
          if (dbv != null) {
            dbv[c] += g;
          }
          for (int k = 0; k < kk; k++) {
            int src = t - (kk - 1) + k;
            if (src >= 0) {
              dwv[c * kk + k] += g * xv[(b * len + src) * e + c];
              dxv[(b * len + src) * e + c] += g * wv[c * kk + k];
            }
          }
        }
      }
    }
    dx.copyFrom(dxv);
    dw.copyFrom(dwv);
    if (dbias != null) {
      dbias.copyFrom(dbv);
    }
  }

  @Override
  public void causalConv1dStep(Tensor x, Tensor state, Tensor w, Tensor bias, Tensor y) {
    Ops.Conv s = Ops.checkConvStep(Checks.reference("causalConv1dStep"), x, state, w, bias, y);
    int rows = (int) s.batch(), e = (int) s.e(), kk = (int) s.k();
    double[] xv = x.toDoubleArray(), sv = state.toDoubleArray(), wv = w.toDoubleArray(), bv = orNull(bias);
    double[] yv = new double[rows * e];
    for (int b = 0; b < rows; b++) {
      int base = b * kk * e;  // state [K, E] of this row, oldest first
      System.arraycopy(sv, base + e, sv, base, (kk - 1) * e);
      System.arraycopy(xv, b * e, sv, base + (kk - 1) * e, e);
      for (int c = 0; c < e; c++) {
        double acc = bv == null ? 0 : bv[c];
        for (int k = 0; k < kk; k++) {
          acc += wv[c * kk + k] * sv[base + k * e + c];
        }
        yv[b * e + c] = acc;
      }
    }
    state.copyFrom(sv);
    y.copyFrom(yv);
  }

  /** The scan's inputs as logical arrays. */
  private record ScanData(double[] u, double[] delta, double[] a, double[] b, double[] c, double[] d, double[] z,
      double[] bias, boolean useSoftplus) {
    static ScanData of(SelectiveScan s) {
      return new ScanData(s.u().toDoubleArray(), s.delta().toDoubleArray(), s.a().toDoubleArray(),
          s.b().toDoubleArray(), s.c().toDoubleArray(), orNull(s.d()), orNull(s.z()), orNull(s.deltaBias()),
          s.deltaSoftplus());
    }

    double rawDelta(int row, int e, int ch) {
      return delta[row * e + ch] + (bias == null ? 0 : bias[ch]);
    }

    double delta(int row, int e, int ch) {
      double raw = rawDelta(row, e, ch);
      return useSoftplus ? softplus(raw) : raw;
    }
  }

  @Override
  public void selectiveScanForward(SelectiveScan scan, Tensor y, Tensor lastState, Tensor chunkStates) {
    Ops.Ssm m = Ops.checkScanForward(Checks.reference("selectiveScanForward"), scan, y, lastState, chunkStates);
    int len = (int) m.len(), e = (int) m.e(), n = (int) m.n(), nc = (int) m.chunks(), chunk = scan.chunk();
    ScanData s = ScanData.of(scan);
    double[] yv = new double[m.batch() == 0 ? 0 : (int) (m.batch() * len * e)];
    double[] last = new double[(int) (m.batch() * e * n)];
    double[] chunks = new double[(int) (m.batch() * nc * e * n)];
    double[] h = new double[n];
    for (int b = 0; b < scan.batch(); b++) {
      for (int ch = 0; ch < e; ch++) {
        java.util.Arrays.fill(h, 0);
        for (int t = 0; t < len; t++) {
          int row = b * len + t;
          double d = s.delta(row, e, ch);
          double u = s.u[row * e + ch];
          double acc = s.d == null ? 0 : s.d[ch] * u;
          for (int i = 0; i < n; i++) {
            h[i] = Math.exp(d * s.a[ch * n + i]) * h[i] + d * s.b[row * n + i] * u;
            acc += s.c[row * n + i] * h[i];
          }
          if (s.z != null) {
            double z = s.z[row * e + ch];
            acc *= z * sigmoid(z);
          }
          yv[row * e + ch] = acc;
          if ((t + 1) % chunk == 0 || t == len - 1) {
            System.arraycopy(h, 0, chunks, ((b * nc + t / chunk) * e + ch) * n, n);
          }
        }
        System.arraycopy(h, 0, last, (b * e + ch) * n, n);
      }
    }
    y.copyFrom(yv);
    if (lastState != null) {
      lastState.copyFrom(last);
    }
    if (chunkStates != null) {
      chunkStates.copyFrom(chunks);
    }
  }

  @Override
  public void selectiveScanBackward(SelectiveScan scan, Tensor chunkStates, Tensor dy, SelectiveScanGrads g) {
    Ops.Ssm m = Ops.checkScanBackward(Checks.reference("selectiveScanBackward"), scan, chunkStates, dy, g);
    int len = (int) m.len(), e = (int) m.e(), n = (int) m.n();
    ScanData s = ScanData.of(scan);
    double[] gy = dy.toDoubleArray();
    double[] du = g.du().toDoubleArray(), dDelta = g.dDelta().toDoubleArray(), dA = g.dA().toDoubleArray();
    double[] dB = g.dB().toDoubleArray(), dC = g.dC().toDoubleArray();
    double[] dD = orNull(g.dD()), dz = orNull(g.dz()), dBias = orNull(g.dDeltaBias());
    // All states of one channel of one sequence, row 0 = h_{-1} = 0 (the oracle favours clarity;
    // the kernels recompute per chunk instead).
    double[] hs = new double[(len + 1) * n];
    double[] lam = new double[n];
    for (int b = 0; b < scan.batch(); b++) {
      for (int ch = 0; ch < e; ch++) {
        java.util.Arrays.fill(hs, 0, n, 0);
        for (int t = 0; t < len; t++) {
          int row = b * len + t;
          double d = s.delta(row, e, ch);
          double u = s.u[row * e + ch];
          for (int i = 0; i < n; i++) {
            hs[(t + 1) * n + i] = Math.exp(d * s.a[ch * n + i]) * hs[t * n + i] + d * s.b[row * n + i] * u;
          }
        }
        java.util.Arrays.fill(lam, 0);
        for (int t = len - 1; t >= 0; t--) {
          int row = b * len + t;
          double raw = s.rawDelta(row, e, ch);
          double d = s.useSoftplus ? softplus(raw) : raw;
          double slope = s.useSoftplus && raw <= 20.0 ? sigmoid(raw) : 1.0;
          double u = s.u[row * e + ch];
          double g0 = gy[row * e + ch];
          double gPre = g0;  // gradient w.r.t. y before the gate
          if (s.z != null) {
            double y = s.d == null ? 0 : s.d[ch] * u;
            for (int i = 0; i < n; i++) {
              y += s.c[row * n + i] * hs[(t + 1) * n + i];
            }
            double z = s.z[row * e + ch];
            double sg = sigmoid(z);
            dz[row * e + ch] += g0 * y * sg * (1 + z * (1 - sg));
            gPre = g0 * z * sg;
          }
          double gu = 0, gd = 0;
          if (s.d != null) {
            dD[ch] += gPre * u;
            gu += s.d[ch] * gPre;
          }
          for (int i = 0; i < n; i++) {
            double a = s.a[ch * n + i];
            double bn = s.b[row * n + i];
            double da = Math.exp(d * a);
            double hPrev = hs[t * n + i];
            lam[i] += s.c[row * n + i] * gPre;
            dC[row * n + i] += gPre * hs[(t + 1) * n + i];
            dB[row * n + i] += lam[i] * d * u;
            gu += lam[i] * d * bn;
            gd += lam[i] * (bn * u + a * da * hPrev);
            dA[ch * n + i] += lam[i] * d * da * hPrev;
            lam[i] *= da;
          }
          du[row * e + ch] += gu;
          dDelta[row * e + ch] += gd * slope;
          if (dBias != null) {
            dBias[ch] += gd * slope;
          }
        }
      }
    }
    g.du().copyFrom(du);
    g.dDelta().copyFrom(dDelta);
    g.dA().copyFrom(dA);
    g.dB().copyFrom(dB);
    g.dC().copyFrom(dC);
    if (dD != null) {
      g.dD().copyFrom(dD);
    }
    if (dz != null) {
      g.dz().copyFrom(dz);
    }
    if (dBias != null) {
      g.dDeltaBias().copyFrom(dBias);
    }
  }

  @Override
  public void selectiveScanStep(SelectiveScan scan, Tensor state, Tensor y) {
    Ops.Ssm m = Ops.checkScanStep(Checks.reference("selectiveScanStep"), scan, state, y);
    int rows = (int) m.batch(), e = (int) m.e(), n = (int) m.n();
    ScanData s = ScanData.of(scan);
    double[] h = state.toDoubleArray();
    double[] yv = new double[rows * e];
    for (int b = 0; b < rows; b++) {
      for (int ch = 0; ch < e; ch++) {
        double d = s.delta(b, e, ch);
        double u = s.u[b * e + ch];
        double acc = s.d == null ? 0 : s.d[ch] * u;
        int base = (b * e + ch) * n;
        for (int i = 0; i < n; i++) {
          h[base + i] = Math.exp(d * s.a[ch * n + i]) * h[base + i] + d * s.b[b * n + i] * u;
          acc += s.c[b * n + i] * h[base + i];
        }
        if (s.z != null) {
          double z = s.z[b * e + ch];
          acc *= z * sigmoid(z);
        }
        yv[b * e + ch] = acc;
      }
    }
    state.copyFrom(h);
    y.copyFrom(yv);
  }

  // ------------------------------------------------------------------ causal attention (training)

  /**
   * cos and sin of position t, pair j of a head of hs elements: the frequency and the angle are
   * floats as in llama2.c (and the native kernels and {@code model.Transformer}), cos / sin in double.
   */
  static double[] ropeAngle(long t, long j, long hs) {
    float freq = (float) (1.0 / Math.pow(10000.0, (float) (2 * j) / (float) hs));
    float angle = (float) t * freq;
    return new double[] {Math.cos(angle), Math.sin(angle)};
  }

  @Override
  public void ropeForward(int batch, int headSize, Tensor x, Tensor y) {
    Ops.Rope r = Ops.checkRope(Checks.reference("ropeForward"), batch, headSize, x, "x", y, "y", false);
    y.copyFrom(rope(r, x.toDoubleArray(), null, false));
  }

  @Override
  public void ropeBackward(int batch, int headSize, Tensor dy, Tensor dx) {
    Ops.Rope r = Ops.checkRope(Checks.reference("ropeBackward"), batch, headSize, dy, "dy", dx, "dx", true);
    dx.copyFrom(rope(r, dy.toDoubleArray(), dx.toDoubleArray(), true));
  }

  /** Rotates (inverse: by minus the angle) every pair of {@code in}; adds onto {@code acc} when given. */
  private static double[] rope(Ops.Rope r, double[] in, double[] acc, boolean inverse) {
    int cols = (int) (r.heads() * r.hs());
    double[] out = acc != null ? acc : new double[in.length];
    for (long row = 0; row < r.rows(); row++) {
      long t = row % r.len();
      for (int h = 0; h < r.heads(); h++) {
        for (int j = 0; j < r.hs() / 2; j++) {
          double[] cs = ropeAngle(t, j, r.hs());
          double s = inverse ? -cs[1] : cs[1];
          int o = (int) (row * cols + h * r.hs() + 2 * j);
          double x0 = in[o];
          double x1 = in[o + 1];
          out[o] += x0 * cs[0] - x1 * s;
          out[o + 1] += x0 * s + x1 * cs[0];
        }
      }
    }
    return out;
  }

  @Override
  public void causalAttentionForward(int batch, int heads, int kvHeads, float scale, Tensor q, Tensor k, Tensor v,
      Tensor out, Tensor lse) {
    Ops.Attn a = Ops.checkAttentionForward(
        Checks.reference("causalAttentionForward"), batch, heads, kvHeads, scale, q, k, v, out, lse);
    double[] qv = q.toDoubleArray();
    double[] kv = k.toDoubleArray();
    double[] vv = v.toDoubleArray();
    int len = (int) a.len();
    int hs = (int) a.hs();
    int qc = heads * hs;
    int kc = kvHeads * hs;
    int mul = heads / kvHeads;
    double[] o = new double[qv.length];
    double[] l = new double[(int) (a.batch() * heads * len)];
    double[] s = new double[len];
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < heads; h++) {
        int qo = h * hs;
        int ko = (h / mul) * hs;
        for (int i = 0; i < len; i++) {
          int qi = (b * len + i) * qc + qo;
          double mx = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            int kj = (b * len + j) * kc + ko;
            double d = 0;
            for (int c = 0; c < hs; c++) {
              d += qv[qi + c] * kv[kj + c];
            }
            s[j] = d * scale;
            mx = Math.max(mx, s[j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            sum += Math.exp(s[j] - mx);
          }
          double lse1 = mx + Math.log(sum);
          l[(b * heads + h) * len + i] = lse1;
          for (int j = 0; j <= i; j++) {
            double p = Math.exp(s[j] - lse1);
            int vj = (b * len + j) * kc + ko;
            for (int c = 0; c < hs; c++) {
              o[qi + c] += p * vv[vj + c];
            }
          }
        }
      }
    }
    out.copyFrom(o);
    lse.copyFrom(l);
  }

  @Override
  public void causalAttentionBackward(int batch, int heads, int kvHeads, float scale, Tensor q, Tensor k, Tensor v,
      Tensor lse, Tensor dout, Tensor dq, Tensor dk, Tensor dv) {
    Ops.Attn a = Ops.checkAttentionBackward(
        Checks.reference("causalAttentionBackward"), batch, heads, kvHeads, scale, q, k, v, lse, dout, dq, dk, dv);
    double[] qv = q.toDoubleArray();
    double[] kv = k.toDoubleArray();
    double[] vv = v.toDoubleArray();
    double[] lv = lse.toDoubleArray();
    double[] gv = dout.toDoubleArray();
    double[] dqv = dq.toDoubleArray();
    double[] dkv = dk.toDoubleArray();
    double[] dvv = dv.toDoubleArray();
    int len = (int) a.len();
    int hs = (int) a.hs();
    int qc = heads * hs;
    int kc = kvHeads * hs;
    int mul = heads / kvHeads;
    double[] p = new double[len];
    double[] dp = new double[len];
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < heads; h++) {
        int qo = h * hs;
        int ko = (h / mul) * hs;
        for (int i = 0; i < len; i++) {
          int qi = (b * len + i) * qc + qo;
          double l = lv[(b * heads + h) * len + i];
          double dsum = 0;
          for (int j = 0; j <= i; j++) {
            int kj = (b * len + j) * kc + ko;
            double d = 0;
            double e = 0;
            for (int c = 0; c < hs; c++) {
              d += qv[qi + c] * kv[kj + c];
              e += gv[qi + c] * vv[kj + c];
            }
            p[j] = Math.exp(d * scale - l);
            dp[j] = e;
            dsum += p[j] * e;
          }
          for (int j = 0; j <= i; j++) {
            int kj = (b * len + j) * kc + ko;
            double ds = p[j] * (dp[j] - dsum) * scale;
            for (int c = 0; c < hs; c++) {
              dqv[qi + c] += ds * kv[kj + c];
              dkv[kj + c] += ds * qv[qi + c];
              dvv[kj + c] += p[j] * gv[qi + c];
            }
          }
        }
      }
    }
    dq.copyFrom(dqv);
    dk.copyFrom(dkv);
    dv.copyFrom(dvv);
  }
}
