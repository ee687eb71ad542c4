package dev.iteralite.backend;

import dev.iteralite.tensor.Tensor;
import java.util.Objects;

/**
 * Per-operation argument validation and small helpers shared by {@link CpuBackend} and {@link
 * ReferenceBackend}: each operation's checks live here once and both backends call them with their
 * own {@link Checks} instance (strict for the CPU backend, lenient layout for the reference
 * backend), so the only differences between the backends are the ones {@link Checks} expresses.
 * Methods return the derived sizes and row strides the kernels need.
 */
final class Ops {
  private Ops() {}

  /** Embedding operands: the table (or its gradient) and the per-token rows (out or dout). */
  record Embedding(Checks.Rows table, Checks.Rows rows) {}

  /** A row-wise forward operation: input x and output y. */
  record RowsForward(Checks.Rows x, Checks.Rows y) {}

  /** A row-wise backward operation: incoming gradient, the saved input (x or y) and dx. */
  record RowsBackward(Checks.Rows dy, Checks.Rows saved, Checks.Rows dx) {}

  /** A loss: the scores (logits or h), the weights (null without one) and their gradients (null when absent). */
  record Loss(Checks.Rows scores, Checks.Rows w, Checks.Rows dscores, Checks.Rows dw) {}

  static void checkEps(Checks k, float eps) {
    if (!(eps >= 0) || !Float.isFinite(eps)) {
      throw k.fail("eps must be finite and >= 0, got " + eps);
    }
  }

  static void checkScale(Checks k, float scale) {
    if (!Float.isFinite(scale)) {
      throw k.fail("scale must be finite, got " + scale);
    }
  }

  /** Sum of a losses vector, in double. */
  static double sum(Tensor losses) {
    double s = 0;
    for (double x : losses.toDoubleArray()) {
      s += x;
    }
    return s;
  }

  // ------------------------------------------------------------------ embedding

  static Embedding checkEmbeddingForward(Checks k, Tensor ids, Tensor table, Tensor out) {
    k.ints("ids", ids);
    Checks.Rows tr = k.rows("table", k.real("table", table));
    Checks.Rows or = k.rows("out", k.real("out", out));
    k.count("ids", ids, or.r(), "T (rows of out)");
    k.dimension("out", out, "C", or.c(), tr.c(), "table " + table.describe());
    k.disjoint("out", out, "table", table);
    k.disjoint("out", out, "ids", ids);
    k.indices("ids", ids, tr.r(), "V, rows of table", false, 0);
    return new Embedding(tr, or);
  }

  static Embedding checkEmbeddingBackward(Checks k, Tensor ids, Tensor dout, Tensor dtable) {
    k.ints("ids", ids);
    Checks.Rows or = k.rows("dout", k.real("dout", dout));
    Checks.Rows tr = k.rows("dtable", k.real("dtable", dtable));
    k.count("ids", ids, or.r(), "T (rows of dout)");
    k.dimension("dout", dout, "C", or.c(), tr.c(), "dtable " + dtable.describe());
    k.disjoint("dtable", dtable, "dout", dout);
    k.disjoint("dtable", dtable, "ids", ids);
    k.indices("ids", ids, tr.r(), "V, rows of dtable", false, 0);
    return new Embedding(tr, or);
  }

  // ------------------------------------------------------------------ normalisation

  static RowsForward checkRmsNormForward(Checks k, Tensor x, Tensor w, float eps, Tensor y, Tensor rstd) {
    Checks.Rows xr = k.rows("x", k.real("x", x));
    k.count("w", k.real("w", w), xr.c(), "C");
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.count("rstd", k.real("rstd", rstd), xr.r(), "R");
    checkEps(k, eps);
    k.positive("C", xr.c(), "a row needs at least one element");
    k.outputsDisjoint(new String[] {"y", "rstd"}, new Tensor[] {y, rstd}, new String[] {"x", "w"}, new Tensor[] {x, w});
    return new RowsForward(xr, yr);
  }

  static RowsBackward checkRmsNormBackward(
      Checks k, Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw) {
    Checks.Rows dyr = k.rows("dy", k.real("dy", dy));
    k.sameShape("x", k.real("x", x), "dy", dy);
    Checks.Rows xr = k.rows("x", x);
    k.count("w", k.real("w", w), dyr.c(), "C");
    k.count("rstd", k.real("rstd", rstd), dyr.r(), "R");
    k.sameShape("dx", k.real("dx", dx), "dy", dy);
    Checks.Rows dxr = k.rows("dx", dx);
    k.count("dw", k.real("dw", dw), dyr.c(), "C");
    k.positive("C", dyr.c(), "a row needs at least one element");
    String[] inNames = {"dy", "x", "w", "rstd"};
    Tensor[] ins = {dy, x, w, rstd};
    for (int i = 0; i < ins.length; i++) {
      k.disjoint("dx", dx, inNames[i], ins[i]);
      k.disjoint("dw", dw, inNames[i], ins[i]);
    }
    k.disjoint("dw", dw, "dx", dx);
    return new RowsBackward(dyr, xr, dxr);
  }

  static RowsForward checkLayerNormForward(
      Checks k, Tensor x, Tensor w, Tensor b, float eps, Tensor y, Tensor mean, Tensor rstd) {
    Checks.Rows xr = k.rows("x", k.real("x", x));
    k.count("w", k.real("w", w), xr.c(), "C");
    k.count("b", k.real("b", b), xr.c(), "C");
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.count("mean", k.real("mean", mean), xr.r(), "R");
    k.count("rstd", k.real("rstd", rstd), xr.r(), "R");
    checkEps(k, eps);
    k.positive("C", xr.c(), "a row needs at least one element");
    k.outputsDisjoint(
        new String[] {"y", "mean", "rstd"}, new Tensor[] {y, mean, rstd},
        new String[] {"x", "w", "b"}, new Tensor[] {x, w, b});
    return new RowsForward(xr, yr);
  }

  static RowsBackward checkLayerNormBackward(
      Checks k, Tensor dy, Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor dx, Tensor dw, Tensor db) {
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
    k.outputsDisjoint(
        new String[] {"dx", "dw", "db"}, new Tensor[] {dx, dw, db},
        new String[] {"dy", "x", "w", "mean", "rstd"}, new Tensor[] {dy, x, w, mean, rstd});
    return new RowsBackward(dyr, xr, dxr);
  }

  // ------------------------------------------------------------------ softmax and losses

  static RowsForward checkSoftmaxForward(Checks k, Tensor x, Tensor y) {
    Checks.Rows xr = k.rows("x", k.real("x", x));
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.positive("C", xr.c(), "softmax of an empty row is undefined");
    k.disjoint("y", y, "x", x);
    return new RowsForward(xr, yr);
  }

  /** Returns (dy, saved = y, dx). */
  static RowsBackward checkSoftmaxBackward(Checks k, Tensor y, Tensor dy, Tensor dx) {
    Checks.Rows yr = k.rows("y", k.real("y", y));
    k.sameShape("dy", k.real("dy", dy), "y", y);
    Checks.Rows dyr = k.rows("dy", dy);
    k.sameShape("dx", k.real("dx", dx), "y", y);
    Checks.Rows dxr = k.rows("dx", dx);
    k.disjoint("dx", dx, "y", y);
    k.disjoint("dx", dx, "dy", dy);
    return new RowsBackward(dyr, yr, dxr);
  }

  /** Returns (logits, no weights, dlogits or null, null). */
  static Loss checkCrossEntropy(
      Checks k, Tensor logits, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dlogits) {
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
    checkScale(k, scale);
    k.positive("V", lr.c(), "the vocabulary needs at least one entry");
    k.disjoint("losses", losses, "logits", logits);
    k.indices("targets", targets, lr.c(), "V, columns of logits", true, ignoreIndex);
    return new Loss(lr, null, dr, null);
  }

  /** Returns (h, w, dh or null, dw or null). */
  static Loss checkFusedLinearCrossEntropy(
      Checks k, Tensor h, Tensor w, Tensor targets, int ignoreIndex, float scale, Tensor losses, Tensor dh,
      Tensor dw) {
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
    checkScale(k, scale);
    k.positive("V", wr.r(), "the vocabulary needs at least one entry");
    k.positive("C", hr.c(), "hidden states need at least one channel");
    // Absent (null) gradients are skipped.
    k.outputsDisjoint(
        new String[] {"losses", "dh", "dw"}, new Tensor[] {losses, dh, dw},
        new String[] {"h", "w"}, new Tensor[] {h, w});
    k.indices("targets", targets, wr.r(), "V, rows of w", true, ignoreIndex);
    return new Loss(hr, wr, dhr, dwr);
  }

  // ------------------------------------------------------------------ pointwise

  /** A data tensor the operation reads or writes as a flat run of elements. */
  static void checkElements(Checks k, Tensor x) {
    k.contiguous("x", k.real("x", x));
  }

  static void checkActivationForward(Checks k, Activation f, Tensor x, Tensor y) {
    Objects.requireNonNull(f, "activation");
    k.contiguous("x", k.real("x", x));
    k.contiguous("y", k.sameShape("y", k.real("y", y), "x", x));
    k.disjointOrSame("y", y, "x", x);
  }

  static void checkActivationBackward(Checks k, Activation f, Tensor x, Tensor dy, Tensor dx) {
    Objects.requireNonNull(f, "activation");
    k.contiguous("x", k.real("x", x));
    k.contiguous("dy", k.sameShape("dy", k.real("dy", dy), "x", x));
    k.contiguous("dx", k.sameShape("dx", k.real("dx", dx), "x", x));
    k.disjointOrSame("dx", dx, "x", x);
    k.disjointOrSame("dx", dx, "dy", dy);
  }

  static void checkAdd(Checks k, Tensor a, Tensor b, Tensor out) {
    k.contiguous("a", k.real("a", a));
    k.contiguous("b", k.sameShape("b", k.real("b", b), "a", a));
    k.contiguous("out", k.sameShape("out", k.real("out", out), "a", a));
    k.disjointOrSame("out", out, "a", a);
    k.disjointOrSame("out", out, "b", b);
  }

  static void checkAxpy(Checks k, Tensor x, Tensor y) {
    k.contiguous("x", k.real("x", x));
    k.contiguous("y", k.sameShape("y", k.real("y", y), "x", x));
    k.disjointOrSame("y", y, "x", x);
  }

  /**
   * Both present, one dtype, one shape, contiguous when strict. Aliasing is left to the backend:
   * the CPU backend skips an exact self-copy, the reference backend allows one.
   */
  static void checkCopy(Checks k, Tensor src, Tensor dst) {
    k.present("src", src);
    k.present("dst", dst);
    if (src.dtype() != dst.dtype()) {
      throw k.fail(
          "argument 'dst' (" + dst + ") has dtype " + dst.dtype() + " but 'src' (" + src + ") is " + src.dtype()
              + ": mismatched dtypes; copy needs one dtype (convert explicitly)");
    }
    k.sameShape("dst", dst, "src", src);
    k.contiguous("src", src);
    k.contiguous("dst", dst);
  }

  // ------------------------------------------------------------------ optimiser

  static void checkAdamW(Checks k, Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) {
    k.contiguous("param", k.real("param", param));
    k.contiguous("grad", k.sameShape("grad", k.real("grad", grad), "param", param));
    k.contiguous("m", k.sameShape("m", k.real("m", m), "param", param));
    k.contiguous("v", k.sameShape("v", k.real("v", v), "param", param));
    if (step == null) {
      throw k.fail("argument 'step' is null; pass the AdamW hyper-parameters");
    }
    k.disjoint("param", param, "grad", grad);
    k.disjoint("param", param, "m", m);
    k.disjoint("param", param, "v", v);
    k.disjoint("m", m, "grad", grad);
    k.disjoint("v", v, "grad", grad);
    k.disjoint("m", m, "v", v);
  }
}
