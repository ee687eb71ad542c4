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
  // ------------------------------------------------------------------ mixture of experts

  /**
   * Sizes of one MoE routing / dispatch / combine call: T tokens, k experts per token, D width, N
   * permuted rows, and the row layouts of the token-side ({@code tokens}, [T, D]) and
   * permuted-side ({@code permuted}, [N, D]) data operands (null where the op has none). For
   * top-k, {@code d} is E (the row length of probs) and {@code tokens} the layout of probs.
   */
  record Moe(long t, long k, long d, long n, Checks.Rows tokens, Checks.Rows permuted, Checks.Rows extra) {}

  /** An I32 index matrix [rows, cols], contiguous (the kernels index it as a flat array). */
  private static void intMatrix(Checks k, String name, Tensor t, long rows, long cols, String form) {
    k.ints(name, t);
    if (t.rank() != 2 || t.dim(0) != rows || t.dim(1) != cols) {
      throw k.fail(
          "argument '" + name + "' (" + t + ") must have shape [" + rows + ", " + cols + "] (" + form
              + "); pass the tensor the routing step produced for these tokens");
    }
    if (!t.isContiguous()) {
      throw k.fail("argument '" + name + "' (" + t + ") must be contiguous: index tensors are read as flat arrays");
    }
  }

  /** An I32 vector of exactly n contiguous elements. */
  private static void intVector(Checks k, String name, Tensor t, long n, String label) {
    k.ints(name, t);
    if (t.size() != n || !t.isContiguous()) {
      throw k.fail(
          "argument '" + name + "' (" + t + ") must be a contiguous I32 vector of " + label + "=" + n + " elements");
    }
  }

  /** ids [T, k] I32 out, weights [T, k] out, from probs [T, E] with 1 <= k <= E. */
  static Moe checkMoeTopK(Checks k, Tensor probs, Tensor ids, Tensor weights) {
    Checks.Rows pr = k.rows("probs", k.real("probs", probs));
    k.present("ids", ids);
    if (ids.rank() != 2) {
      throw k.fail("argument 'ids' (" + ids + ") must be rank 2 [T, k]; its second dimension is the number of experts per token");
    }
    long kk = ids.dim(1);
    if (kk < 1 || kk > pr.c()) {
      throw k.fail(
          "top-k needs 1 <= k <= E: ids " + ids.describe() + " asks for k=" + kk + " of E=" + pr.c()
              + " experts (columns of probs " + probs.describe() + "); lower k or add experts");
    }
    intMatrix(k, "ids", ids, pr.r(), kk, "T tokens x k experts per token");
    k.contiguous("weights", k.real("weights", weights));
    if (weights.rank() != 2 || weights.dim(0) != pr.r() || weights.dim(1) != kk) {
      throw k.fail("argument 'weights' (" + weights + ") must have shape [" + pr.r() + ", " + kk + "], the shape of ids");
    }
    k.outputsDisjoint(new String[] {"ids", "weights"}, new Tensor[] {ids, weights}, new String[] {"probs"}, new Tensor[] {probs});
    return new Moe(pr.r(), kk, pr.c(), 0, pr, null, null);
  }

  /** ids [T, k] in [0, E) in; routed [E], offsets [E + 1], slots [T, k], perm [T * k] out. */
  static Moe checkMoeDispatch(
      Checks k, Tensor ids, int experts, long capacity, Tensor routed, Tensor offsets, Tensor slots, Tensor perm) {
    k.present("ids", ids);
    if (ids.rank() != 2) {
      throw k.fail("argument 'ids' (" + ids + ") must be rank 2 [T, k] (tokens x experts per token)");
    }
    long t = ids.dim(0);
    long kk = ids.dim(1);
    k.positive("experts", experts, "a dispatch needs at least one expert");
    k.positive("k", kk, "each token is routed to at least one expert");
    long a = Math.multiplyExact(t, kk);
    if (a > Integer.MAX_VALUE) {
      throw k.fail("T*k = " + a + " assignments exceed the int32 row indices of the dispatch; route fewer tokens per call");
    }
    intMatrix(k, "ids", ids, t, kk, "T tokens x k experts per token");
    intVector(k, "routed", routed, experts, "E");
    intVector(k, "offsets", offsets, experts + 1L, "E+1");
    intMatrix(k, "slots", slots, t, kk, "the shape of ids");
    intVector(k, "perm", perm, a, "T*k");
    k.outputsDisjoint(
        new String[] {"routed", "offsets", "slots", "perm"}, new Tensor[] {routed, offsets, slots, perm},
        new String[] {"ids"}, new Tensor[] {ids});
    k.indices("ids", ids, experts, "E, the number of experts", false, 0);
    return new Moe(t, kk, 0, a, null, null, null);
  }

  /** x [T, D], perm I32 [N] in [0, T*k), xp [N, D]. */
  static Moe checkMoeGather(Checks k, Tensor x, Tensor perm, int kk, Tensor xp) {
    Checks.Rows xr = k.rows("x", k.real("x", x));
    Checks.Rows pr = k.rows("xp", k.real("xp", xp));
    k.positive("k", kk, "each token is routed to at least one expert");
    k.dimension("xp", xp, "D", pr.c(), xr.c(), "x " + x.describe());
    intVector(k, "perm", perm, pr.r(), "N (rows of xp)");
    k.disjoint("xp", xp, "x", x);
    k.disjoint("xp", xp, "perm", perm);
    k.indices("perm", perm, Math.multiplyExact(xr.r(), (long) kk), "T*k assignments", false, 0);
    return new Moe(xr.r(), kk, xr.c(), pr.r(), xr, pr, null);
  }

  /** dxp [N, D], slots I32 [T, k] in [-1, N), dx [T, D] (accumulated). */
  static Moe checkMoeGatherBackward(Checks k, Tensor dxp, Tensor slots, Tensor dx) {
    Checks.Rows pr = k.rows("dxp", k.real("dxp", dxp));
    Checks.Rows xr = k.rows("dx", k.real("dx", dx));
    k.dimension("dx", dx, "D", xr.c(), pr.c(), "dxp " + dxp.describe());
    k.present("slots", slots);
    if (slots.rank() != 2) {
      throw k.fail("argument 'slots' (" + slots + ") must be rank 2 [T, k] (from the dispatch)");
    }
    intMatrix(k, "slots", slots, xr.r(), slots.dim(1), "T tokens (rows of dx) x k");
    k.disjoint("dx", dx, "dxp", dxp);
    k.disjoint("dx", dx, "slots", slots);
    k.indices("slots", slots, pr.r(), "N, rows of dxp", true, -1);
    return new Moe(xr.r(), slots.dim(1), xr.c(), pr.r(), xr, pr, null);
  }

  /** yp [N, D], slots I32 [T, k] in [-1, N), weights [T, k], out [T, D] (written). */
  static Moe checkMoeCombine(Checks k, Tensor yp, Tensor slots, Tensor weights, Tensor out) {
    Checks.Rows pr = k.rows("yp", k.real("yp", yp));
    Checks.Rows or = k.rows("out", k.real("out", out));
    k.dimension("out", out, "D", or.c(), pr.c(), "yp " + yp.describe());
    k.present("slots", slots);
    if (slots.rank() != 2) {
      throw k.fail("argument 'slots' (" + slots + ") must be rank 2 [T, k] (from the dispatch)");
    }
    long kk = slots.dim(1);
    intMatrix(k, "slots", slots, or.r(), kk, "T tokens (rows of out) x k");
    k.contiguous("weights", k.real("weights", weights));
    if (weights.rank() != 2 || weights.dim(0) != or.r() || weights.dim(1) != kk) {
      throw k.fail("argument 'weights' (" + weights + ") must have shape [" + or.r() + ", " + kk + "], the shape of slots");
    }
    k.outputsDisjoint(
        new String[] {"out"}, new Tensor[] {out}, new String[] {"yp", "slots", "weights"}, new Tensor[] {yp, slots, weights});
    k.indices("slots", slots, pr.r(), "N, rows of yp", true, -1);
    return new Moe(or.r(), kk, or.c(), pr.r(), or, pr, null);
  }

  /**
   * dout [T, D], yp [N, D], perm I32 [N] in [0, T*k), slots I32 [T, k] in [-1, N), weights [T, k];
   * dyp [N, D] and dweights [T, k] accumulated. Returns tokens = dout, permuted = yp, extra = dyp.
   */
  static Moe checkMoeCombineBackward(
      Checks k, Tensor dout, Tensor yp, Tensor perm, Tensor slots, Tensor weights, Tensor dyp, Tensor dweights) {
    Checks.Rows gr = k.rows("dout", k.real("dout", dout));
    Checks.Rows pr = k.rows("yp", k.real("yp", yp));
    k.dimension("yp", yp, "D", pr.c(), gr.c(), "dout " + dout.describe());
    k.sameShape("dyp", k.real("dyp", dyp), "yp", yp);
    Checks.Rows dr = k.rows("dyp", dyp);
    k.present("slots", slots);
    if (slots.rank() != 2) {
      throw k.fail("argument 'slots' (" + slots + ") must be rank 2 [T, k] (from the dispatch)");
    }
    long kk = slots.dim(1);
    intMatrix(k, "slots", slots, gr.r(), kk, "T tokens (rows of dout) x k");
    intVector(k, "perm", perm, pr.r(), "N (rows of yp)");
    k.contiguous("weights", k.real("weights", weights));
    k.contiguous("dweights", k.real("dweights", dweights));
    for (Tensor w : new Tensor[] {weights, dweights}) {
      if (w.rank() != 2 || w.dim(0) != gr.r() || w.dim(1) != kk) {
        throw k.fail("argument " + (w == weights ? "'weights'" : "'dweights'") + " (" + w + ") must have shape ["
            + gr.r() + ", " + kk + "], the shape of slots");
      }
    }
    k.outputsDisjoint(
        new String[] {"dyp", "dweights"}, new Tensor[] {dyp, dweights},
        new String[] {"dout", "yp", "perm", "slots", "weights"}, new Tensor[] {dout, yp, perm, slots, weights});
    k.indices("perm", perm, Math.multiplyExact(gr.r(), kk), "T*k assignments", false, 0);
    k.indices("slots", slots, pr.r(), "N, rows of yp", true, -1);
    return new Moe(gr.r(), kk, gr.c(), pr.r(), gr, pr, dr);
  }

  static void checkSwigluForward(Checks k, Tensor h1, Tensor h3, Tensor out) {
    k.contiguous("h1", k.real("h1", h1));
    k.contiguous("h3", k.sameShape("h3", k.real("h3", h3), "h1", h1));
    k.contiguous("out", k.sameShape("out", k.real("out", out), "h1", h1));
    k.disjoint("out", out, "h1", h1);
    k.disjoint("out", out, "h3", h3);
  }

  static void checkSwigluBackward(Checks k, Tensor h1, Tensor h3, Tensor dout, Tensor dh1, Tensor dh3) {
    k.contiguous("h1", k.real("h1", h1));
    k.contiguous("h3", k.sameShape("h3", k.real("h3", h3), "h1", h1));
    k.contiguous("dout", k.sameShape("dout", k.real("dout", dout), "h1", h1));
    k.contiguous("dh1", k.sameShape("dh1", k.real("dh1", dh1), "h1", h1));
    k.contiguous("dh3", k.sameShape("dh3", k.real("dh3", dh3), "h1", h1));
    k.outputsDisjoint(
        new String[] {"dh1", "dh3"}, new Tensor[] {dh1, dh3},
        new String[] {"h1", "h3", "dout"}, new Tensor[] {h1, h3, dout});
  }

  // ------------------------------------------------------------------ selective SSM (Mamba-1)

  /** Derived sizes and row strides of a conv1d or selective-scan call. */
  record Ssm(long batch, long len, long e, long n, Checks.Rows u, Checks.Rows delta, Checks.Rows b,
      Checks.Rows c, Checks.Rows z, long chunks) {}

  /** Sizes of a causal conv1d call: x / y rows, channels E, taps K. */
  record Conv(long batch, long len, long e, long k, Checks.Rows x, Checks.Rows y) {}

  private static long sequenceLength(Checks k, int batch, long rows, String name) {
    k.positive("batch", batch, "the number of sequences");
    if (rows % batch != 0) {
      throw k.fail(
          "argument '" + name + "' has " + rows + " rows, not a multiple of batch=" + batch
              + ": rows must be batch * L (token-major, row b * L + t)");
    }
    long len = rows / batch;
    k.positive("L (rows / batch)", len, "a sequence needs at least one token");
    return len;
  }

  private static void optionalVector(Checks k, String name, Tensor t, long n, String label) {
    if (t != null) {
      k.count(name, k.real(name, t), n, label);
    }
  }

  private static Conv checkConv(Checks k, int batch, Tensor x, Tensor w, Tensor bias, Tensor y) {
    Checks.Rows xr = k.rows("x", k.real("x", x));
    Checks.Rows wr = k.rows("w", k.contiguous("w", k.real("w", w)));
    k.dimension("w", w, "E", wr.r(), xr.c(), "columns of x");
    k.positive("K (taps of w)", wr.c(), "the convolution needs at least one tap");
    optionalVector(k, "bias", bias, xr.c(), "E");
    Checks.Rows yr = null;
    if (y != null) {
      k.sameShape("y", k.real("y", y), "x", x);
      yr = k.rows("y", y);
    }
    long len = sequenceLength(k, batch, xr.r(), "x");
    return new Conv(batch, len, xr.c(), wr.c(), xr, yr);
  }

  static Conv checkConvForward(Checks k, int batch, Tensor x, Tensor w, Tensor bias, Tensor y) {
    k.present("y", y);
    Conv s = checkConv(k, batch, x, w, bias, y);
    k.outputsDisjoint(new String[] {"y"}, new Tensor[] {y}, new String[] {"x", "w", "bias"},
        new Tensor[] {x, w, bias == null ? x : bias});
    return s;
  }

  /** Returns the sizes with {@code y} = dy's rows and dx's rows in {@code x}'s slot of a second record. */
  static Conv[] checkConvBackward(
      Checks k, int batch, Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor dbias) {
    k.present("dy", dy);
    Conv s = checkConv(k, batch, x, w, null, dy);
    k.sameShape("dx", k.real("dx", dx), "x", x);
    Checks.Rows dxr = k.rows("dx", dx);
    k.sameShape("dw", k.contiguous("dw", k.real("dw", dw)), "w", w);
    optionalVector(k, "dbias", dbias, s.e(), "E");
    k.outputsDisjoint(
        new String[] {"dx", "dw", "dbias"}, new Tensor[] {dx, dw, dbias},
        new String[] {"x", "w", "dy"}, new Tensor[] {x, w, dy});
    return new Conv[] {s, new Conv(batch, s.len(), s.e(), s.k(), dxr, s.y())};
  }

  static Conv checkConvStep(Checks k, Tensor x, Tensor state, Tensor w, Tensor bias, Tensor y) {
    Checks.Rows xr = k.rows("x", k.real("x", x));
    Checks.Rows wr = k.rows("w", k.contiguous("w", k.real("w", w)));
    k.dimension("w", w, "E", wr.r(), xr.c(), "columns of x");
    k.positive("K (taps of w)", wr.c(), "the convolution needs at least one tap");
    optionalVector(k, "bias", bias, xr.c(), "E");
    k.count("state", k.real("state", state), Math.multiplyExact(xr.r(), Math.multiplyExact(wr.c(), xr.c())),
        "batch*K*E (state [batch, K, E])");
    k.sameShape("y", k.real("y", y), "x", x);
    Checks.Rows yr = k.rows("y", y);
    k.outputsDisjoint(new String[] {"state", "y"}, new Tensor[] {state, y}, new String[] {"x", "w", "bias"},
        new Tensor[] {x, w, bias == null ? x : bias});
    return new Conv(xr.r(), 1, xr.c(), wr.c(), xr, yr);
  }

  /** The scan operands; {@code step}: rows are the batch (L = 1). */
  static Ssm checkScan(Checks k, SelectiveScan s, boolean step) {
    if (s == null) {
      throw k.fail("argument 'scan' is null; pass a SelectiveScan");
    }
    Checks.Rows ur = k.rows("u", k.real("u", s.u()));
    long e = ur.c();
    k.positive("E (columns of u)", e, "the scan needs at least one channel");
    k.sameShape("delta", k.real("delta", s.delta()), "u", s.u());
    Checks.Rows dr = k.rows("delta", s.delta());
    Checks.Rows ar = k.rows("A", k.contiguous("A", k.real("A", s.a())));
    k.dimension("A", s.a(), "E", ar.r(), e, "columns of u");
    long n = ar.c();
    k.positive("N (columns of A)", n, "the state needs at least one dimension");
    if (n > SelectiveScan.MAX_STATE) {
      throw k.fail("d_state N=" + n + " exceeds the kernels' limit " + SelectiveScan.MAX_STATE);
    }
    Checks.Rows br = k.rows("B", k.real("B", s.b()));
    k.dimension("B", s.b(), "rows", br.r(), ur.r(), "rows of u");
    k.dimension("B", s.b(), "N", br.c(), n, "columns of A");
    Checks.Rows cr = k.rows("C", k.real("C", s.c()));
    k.dimension("C", s.c(), "rows", cr.r(), ur.r(), "rows of u");
    k.dimension("C", s.c(), "N", cr.c(), n, "columns of A");
    optionalVector(k, "D", s.d(), e, "E");
    optionalVector(k, "deltaBias", s.deltaBias(), e, "E");
    Checks.Rows zr = null;
    if (s.z() != null) {
      k.sameShape("z", k.real("z", s.z()), "u", s.u());
      zr = k.rows("z", s.z());
    }
    long len;
    if (step) {
      k.dimension("u", s.u(), "rows", ur.r(), s.batch(), "batch (a step has one token per sequence)");
      len = 1;
    } else {
      len = sequenceLength(k, s.batch(), ur.r(), "u");
    }
    k.positive("chunk", s.chunk(), "tokens between saved states");
    return new Ssm(s.batch(), len, e, n, ur, dr, br, cr, zr, SelectiveScan.numChunks(len, s.chunk()));
  }

  private static Tensor[] scanInputs(SelectiveScan s) {
    return new Tensor[] {s.u(), s.delta(), s.a(), s.b(), s.c(), s.d() == null ? s.u() : s.d(),
        s.z() == null ? s.u() : s.z(), s.deltaBias() == null ? s.u() : s.deltaBias()};
  }

  private static final String[] SCAN_INPUT_NAMES = {"u", "delta", "A", "B", "C", "D", "z", "deltaBias"};

  static Ssm checkScanForward(Checks k, SelectiveScan s, Tensor y, Tensor lastState, Tensor chunkStates) {
    Ssm m = checkScan(k, s, false);
    k.sameShape("y", k.real("y", y), "u", s.u());
    long state = Math.multiplyExact(m.batch(), Math.multiplyExact(m.e(), m.n()));
    if (lastState != null) {
      k.count("lastState", k.real("lastState", lastState), state, "batch*E*N");
    }
    if (chunkStates != null) {
      k.count("chunkStates", k.real("chunkStates", chunkStates), Math.multiplyExact(state, m.chunks()),
          "batch*ceil(L/chunk)*E*N");
    }
    k.outputsDisjoint(new String[] {"y", "lastState", "chunkStates"}, new Tensor[] {y, lastState, chunkStates},
        SCAN_INPUT_NAMES, scanInputs(s));
    return m;
  }

  static Ssm checkScanBackward(Checks k, SelectiveScan s, Tensor chunkStates, Tensor dy, SelectiveScanGrads g) {
    Ssm m = checkScan(k, s, false);
    long state = Math.multiplyExact(m.batch(), Math.multiplyExact(m.e(), m.n()));
    k.count("chunkStates", k.real("chunkStates", chunkStates), Math.multiplyExact(state, m.chunks()),
        "batch*ceil(L/chunk)*E*N, the forward's saved states");
    k.sameShape("dy", k.real("dy", dy), "u", s.u());
    if (g == null) {
      throw k.fail("argument 'grads' is null; pass a SelectiveScanGrads");
    }
    k.sameShape("du", k.real("du", g.du()), "u", s.u());
    k.sameShape("dDelta", k.real("dDelta", g.dDelta()), "u", s.u());
    k.sameShape("dA", k.contiguous("dA", k.real("dA", g.dA())), "A", s.a());
    k.sameShape("dB", k.real("dB", g.dB()), "B", s.b());
    k.sameShape("dC", k.real("dC", g.dC()), "C", s.c());
    pairedGradient(k, "D", s.d(), "dD", g.dD());
    pairedGradient(k, "z", s.z(), "dz", g.dz());
    pairedGradient(k, "deltaBias", s.deltaBias(), "dDeltaBias", g.dDeltaBias());
    if (g.dD() != null) {
      k.count("dD", g.dD(), m.e(), "E");
    }
    if (g.dz() != null) {
      k.sameShape("dz", g.dz(), "z", s.z());
    }
    if (g.dDeltaBias() != null) {
      k.count("dDeltaBias", g.dDeltaBias(), m.e(), "E");
    }
    Tensor[] ins = scanInputs(s);
    Tensor[] allIns = java.util.Arrays.copyOf(ins, ins.length + 2);
    allIns[ins.length] = chunkStates;
    allIns[ins.length + 1] = dy;
    String[] allNames = java.util.Arrays.copyOf(SCAN_INPUT_NAMES, SCAN_INPUT_NAMES.length + 2);
    allNames[SCAN_INPUT_NAMES.length] = "chunkStates";
    allNames[SCAN_INPUT_NAMES.length + 1] = "dy";
    k.outputsDisjoint(
        new String[] {"du", "dDelta", "dA", "dB", "dC", "dD", "dz", "dDeltaBias"},
        new Tensor[] {g.du(), g.dDelta(), g.dA(), g.dB(), g.dC(), g.dD(), g.dz(), g.dDeltaBias()},
        allNames, allIns);
    return m;
  }

  private static void pairedGradient(Checks k, String input, Tensor in, String grad, Tensor g) {
    if ((in == null) != (g == null)) {
      throw k.fail(
          "argument '" + grad + "' must be " + (in == null ? "null because '" + input + "' is null"
              : "non-null because '" + input + "' is given") + " (a gradient exists exactly for a present input)");
    }
    if (g != null) {
      k.real(grad, g);
    }
  }

  static Ssm checkScanStep(Checks k, SelectiveScan s, Tensor state, Tensor y) {
    Ssm m = checkScan(k, s, true);
    k.count("state", k.real("state", state), Math.multiplyExact(m.batch(), Math.multiplyExact(m.e(), m.n())),
        "batch*E*N (state [batch, E, N])");
    k.sameShape("y", k.real("y", y), "u", s.u());
    k.outputsDisjoint(new String[] {"state", "y"}, new Tensor[] {state, y}, SCAN_INPUT_NAMES, scanInputs(s));
    return m;
  }

  // ------------------------------------------------------------------ causal attention (training)

  /** Largest head size the attention kernels take (ITERA_ATTENTION_MAX_HEAD_SIZE: their stack buffers). */
  static final int MAX_HEAD_SIZE = 256;

  /** Sizes of a training attention call and the row strides of q, k, v (and of out / dq, dk, dv). */
  record Attn(long batch, long len, long heads, long kvHeads, long hs, Checks.Rows q, Checks.Rows k, Checks.Rows v) {}

  /** Sizes of a RoPE call: rows, sequence length, heads, head size, and the two operands' rows. */
  record Rope(long rows, long len, long heads, long hs, Checks.Rows in, Checks.Rows out) {}

  private static Attn checkAttention(
      Checks k, int batch, int heads, int kvHeads, float scale, Tensor q, Tensor key, Tensor v, Tensor lse) {
    k.positive("heads", heads, "the number of query heads");
    k.positive("kvHeads", kvHeads, "the number of key/value heads");
    if (heads % kvHeads != 0) {
      throw k.fail("heads=" + heads + " is not a multiple of kvHeads=" + kvHeads
          + " (grouped-query attention shares each key/value head among heads / kvHeads query heads)");
    }
    if (!Float.isFinite(scale)) {
      throw k.fail("scale must be finite, got " + scale + " (usually 1 / sqrt(headSize))");
    }
    Checks.Rows qr = k.rows("q", k.real("q", q));
    if (qr.c() % heads != 0) {
      throw k.fail("argument 'q' has " + qr.c() + " columns, not a multiple of heads=" + heads
          + ": q must be [batch * L, heads * headSize]");
    }
    long hs = qr.c() / heads;
    k.positive("headSize (columns of q / heads)", hs, "a head needs at least one element");
    if (hs > MAX_HEAD_SIZE) {
      throw k.fail("head size " + hs + " exceeds the attention kernels' limit " + MAX_HEAD_SIZE
          + "; use more heads");
    }
    long len = sequenceLength(k, batch, qr.r(), "q");
    Checks.Rows kr = k.rows("k", k.real("k", key));
    k.dimension("k", key, "rows", kr.r(), qr.r(), "rows of q");
    k.dimension("k", key, "columns", kr.c(), kvHeads * hs, "kvHeads * headSize");
    k.sameShape("v", k.real("v", v), "k", key);
    Checks.Rows vr = k.rows("v", v);
    k.count("lse", k.real("lse", lse), Math.multiplyExact(qr.r(), (long) heads), "batch*heads*L (lse [batch, heads, L])");
    return new Attn(batch, len, heads, kvHeads, hs, qr, kr, vr);
  }

  /** Forward: returns the sizes; out's rows are {@link Checks#rows} of out (same shape as q). */
  static Attn checkAttentionForward(
      Checks k, int batch, int heads, int kvHeads, float scale, Tensor q, Tensor key, Tensor v, Tensor out, Tensor lse) {
    Attn a = checkAttention(k, batch, heads, kvHeads, scale, q, key, v, lse);
    k.sameShape("out", k.real("out", out), "q", q);
    k.outputsDisjoint(new String[] {"out", "lse"}, new Tensor[] {out, lse}, new String[] {"q", "k", "v"},
        new Tensor[] {q, key, v});
    return a;
  }

  /** Backward: dout and dq have q's shape, dk and dv k's; the gradients are accumulated. */
  static Attn checkAttentionBackward(
      Checks k, int batch, int heads, int kvHeads, float scale, Tensor q, Tensor key, Tensor v, Tensor lse,
      Tensor dout, Tensor dq, Tensor dk, Tensor dv) {
    Attn a = checkAttention(k, batch, heads, kvHeads, scale, q, key, v, lse);
    k.sameShape("dout", k.real("dout", dout), "q", q);
    k.sameShape("dq", k.real("dq", dq), "q", q);
    k.sameShape("dk", k.real("dk", dk), "k", key);
    k.sameShape("dv", k.real("dv", dv), "v", v);
    k.rows("dout", dout);
    k.rows("dq", dq);
    k.rows("dk", dk);
    k.rows("dv", dv);
    k.outputsDisjoint(new String[] {"dq", "dk", "dv"}, new Tensor[] {dq, dk, dv},
        new String[] {"q", "k", "v", "lse", "dout"}, new Tensor[] {q, key, v, lse, dout});
    return a;
  }

  /**
   * RoPE over {@code in} [batch * L, heads * headSize] into {@code out} (same shape). Forward:
   * out may be in itself (in place); backward ({@code accumulate}): out must not overlap in.
   */
  static Rope checkRope(Checks k, int batch, int headSize, Tensor in, String inName, Tensor out, String outName,
      boolean accumulate) {
    k.positive("headSize", headSize, "elements per head");
    if (headSize % 2 != 0) {
      throw k.fail("headSize=" + headSize + " must be even: RoPE rotates pairs (2j, 2j+1)");
    }
    Checks.Rows ir = k.rows(inName, k.real(inName, in));
    if (ir.c() % headSize != 0) {
      throw k.fail("argument '" + inName + "' has " + ir.c() + " columns, not a multiple of headSize=" + headSize
          + ": rows must be [heads * headSize]");
    }
    long len = sequenceLength(k, batch, ir.r(), inName);
    k.sameShape(outName, k.real(outName, out), inName, in);
    Checks.Rows or = k.rows(outName, out);
    if (accumulate) {
      k.disjoint(outName, out, inName, in);
    } else {
      k.disjointOrSame(outName, out, inName, in);
    }
    return new Rope(ir.r(), len, ir.c() / headSize, headSize, ir, or);
  }
}
