package dev.iteralite.nn;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * A top-k mixture-of-experts feed-forward layer (megablocks dMoE, kernel-facts section 3): router
 * linear (no bias) -> softmax -> top-k with renormalised weights -> dispatch into contiguous
 * per-expert segments (dropless by default, optional capacity factor) -> one GEMM per expert and
 * matrix over its segment -> weighted combine.
 *
 * <p>Parameters (leading expert dimension): {@code name.router.weight} [E, D], {@code name.w1}
 * [E, H, D], {@code name.w3} [E, H, D] (SwiGLU only) and {@code name.w2} [E, D, H]; expert e
 * computes {@code W2[e] (silu(W1[e] x) * W3[e] x)} (or {@code W2[e] gelu(W1[e] x)}).
 *
 * <p>Auxiliary losses: each forward computes the Switch load-balancing loss alpha * E * sum_i
 * f_i * P_i (f_i = share of the T*k assignments routed to expert i, a constant; P_i = mean router
 * probability of expert i) and the router z-loss c_z * mean_t logsumexp(logits_t)^2, exposed by
 * {@link #auxLoss()}. They are part of the training loss: {@link #backward} adds their gradient
 * (with weight 1) to the one coming from {@code gradOutput}, so a trainer adds {@link #auxLoss()}
 * to its reported loss and does nothing else. Per-expert assignment counts of the latest forward
 * and cumulative ones are exposed for monitoring and pruning.
 */
public final class MixtureOfExperts implements Layer {
  private final Backend backend;
  private final MoeConfig config;
  private final Linear router;
  private final Parameter w1;
  private final Parameter w3;
  private final Parameter w2;
  private final long[] cumulativeRouted;
  private final ExpertProjection f32W1 = (ex, x, y) -> gemmF32(x, w1().value().select(0, ex), y);
  private final ExpertProjection f32W3 = (ex, x, y) -> gemmF32(x, w3().value().select(0, ex), y);
  private final ExpertProjection f32W2 = (ex, x, y) -> gemmF32(x, w2().value().select(0, ex), y);

  // Saved by the latest forward for backward (arena tensors; shapes in the comments).
  private Tensor savedInput; // [T, D]
  private Tensor probs; // [T, E] router probabilities
  private Tensor ids; // I32 [T, k] selected experts, descending probability
  private Tensor weights; // [T, k] renormalised combine weights
  private Tensor slots; // I32 [T, k] permuted row of each assignment, -1 if dropped
  private Tensor perm; // I32 [N] assignment held by each permuted row
  private Tensor xp; // [N, D] tokens gathered in expert order
  private Tensor h1; // [N, H] W1 x per permuted row (pre-activation)
  private Tensor h3; // [N, H] W3 x (SwiGLU only)
  private Tensor act; // [N, H] silu(h1) * h3 or gelu(h1): the W2 input
  private Tensor yp; // [N, D] expert outputs, permuted order
  private int[] offsets; // [E + 1] segment starts of the kept rows
  private int[] lastRouted; // [E] assignments routed per expert (before drops)
  private double[] lse; // [T] logsumexp of each token's router logits
  private double auxLoss;
  private double balanceLoss;
  private double zLoss;

  /** Declares the router and expert parameters under {@code name} on {@code params}. */
  public MixtureOfExperts(Backend backend, ParameterSet.Builder params, String name, MoeConfig config) {
    if (backend == null || params == null || config == null) {
      throw new IllegalArgumentException("MixtureOfExperts: backend, params and config must be non-null");
    }
    this.backend = backend;
    this.config = config;
    long d = config.dModel();
    long h = config.hidden();
    int e = config.experts();
    this.router = new Linear(backend, params, name + ".router", d, e, false);
    this.w1 = params.add(name + ".w1", Init.fanIn(), true, e, h, d);
    this.w3 = config.expertKind() == MoeConfig.ExpertKind.SWIGLU ? params.add(name + ".w3", Init.fanIn(), true, e, h, d) : null;
    this.w2 = params.add(name + ".w2", Init.fanIn(), true, e, d, h);
    this.cumulativeRouted = new long[e];
  }

  public MoeConfig config() {
    return config;
  }

  /** The router weight [E, D]. */
  public Parameter routerWeight() {
    return router.weight();
  }

  /** W1 [E, H, D]. */
  public Parameter w1() {
    return w1;
  }

  /** W3 [E, H, D], or null for GELU experts. */
  public Parameter w3() {
    return w3;
  }

  /** W2 [E, D, H]. */
  public Parameter w2() {
    return w2;
  }

  /** Load-balancing plus z-loss of the latest forward (already weighted by alpha and c_z). */
  public double auxLoss() {
    return auxLoss;
  }

  /** The load-balancing part of {@link #auxLoss()}. */
  public double balanceLoss() {
    return balanceLoss;
  }

  /** The z-loss part of {@link #auxLoss()}. */
  public double zLoss() {
    return zLoss;
  }

  /** Assignments routed to each expert by the latest forward, before capacity drops ([E]). */
  public int[] lastRoutedCounts() {
    requireForward();
    return lastRouted.clone();
  }

  /** Assignments each expert actually processed in the latest forward ([E]; = routed when dropless). */
  public int[] lastKeptCounts() {
    requireForward();
    int[] kept = new int[config.experts()];
    for (int e = 0; e < kept.length; e++) {
      kept[e] = offsets[e + 1] - offsets[e];
    }
    return kept;
  }

  /** Assignments dropped by the capacity limit in the latest forward. */
  public int lastDroppedCount() {
    requireForward();
    return Arrays.stream(lastRouted).sum() - offsets[config.experts()];
  }

  private void requireForward() {
    if (offsets == null) {
      throw new IllegalStateException("MixtureOfExperts: no forward has run yet; the per-forward counts exist after the first forward");
    }
  }

  /** Assignments routed to each expert summed over every forward since construction or {@link #resetCounts()}. */
  public long[] cumulativeRoutedCounts() {
    return cumulativeRouted.clone();
  }

  /** Zeroes the cumulative counts. */
  public void resetCounts() {
    Arrays.fill(cumulativeRouted, 0);
  }

  @Override
  public List<Parameter> parameters() {
    return w3 == null ? List.of(router.weight(), w1, w2) : List.of(router.weight(), w1, w3, w2);
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Shapes.requireRank2("MixtureOfExperts", "input", x, config.dModel());
    long t = x.dim(0);
    if (t < 1) {
      throw new IllegalArgumentException("MixtureOfExperts: input " + x.describe() + " has no rows; pass at least one token");
    }
    DType dt = x.dtype();
    int e = config.experts();
    int k = config.topK();
    long d = config.dModel();
    long h = config.hidden();

    // 1. Routing: logits [T, E] -> probs [T, E] -> top-k ids / renormalised weights [T, k].
    Tensor logits = router.forward(x, arena);
    Tensor p = arena.allocate(dt, t, e);
    backend.softmaxForward(logits, p);
    Tensor id = arena.allocate(DType.I32, t, k);
    Tensor w = arena.allocate(dt, t, k);
    backend.moeTopK(p, id, w);

    // 2. Dispatch: histogram -> prefix sum -> stable permutation (capacity drops overflow).
    Tensor routed = arena.allocate(DType.I32, e); // [E]
    Tensor off = arena.allocate(DType.I32, e + 1L); // [E + 1]
    Tensor sl = arena.allocate(DType.I32, t, k); // [T, k]
    Tensor pm = arena.allocate(DType.I32, t * k); // [T * k]
    int n = backend.moeDispatch(id, e, config.capacity(t), routed, off, sl, pm);
    int[] segments = off.toIntArray();
    int[] counts = routed.toIntArray();

    // 3. Experts: gather, then per expert one GEMM per matrix over its contiguous segment.
    Tensor pmN = pm.slice(0, 0, n); // [N]
    Tensor xpb = arena.allocate(dt, Math.max(1, n), d).slice(0, 0, n); // [N, D]
    Tensor h1b = arena.allocate(dt, Math.max(1, n), h).slice(0, 0, n); // [N, H]
    Tensor h3b = w3 == null ? null : arena.allocate(dt, Math.max(1, n), h).slice(0, 0, n); // [N, H]
    Tensor actb = arena.allocate(dt, Math.max(1, n), h).slice(0, 0, n); // [N, H]
    Tensor ypb = arena.allocate(dt, Math.max(1, n), d).slice(0, 0, n); // [N, D]
    if (n > 0) {
      backend.moeGather(x, pmN, k, xpb);
      runExperts(segments, xpb, h1b, h3b, actb, ypb, f32W1, f32W3, f32W2);
    }

    // 4. Weighted combine back to token order.
    Tensor out = arena.allocate(dt, t, d);
    backend.moeCombine(ypb, sl, w, out);

    // 5. Auxiliary losses and monitoring counts.
    computeAuxLosses(logits, p, counts, t);
    for (int ex = 0; ex < e; ex++) {
      cumulativeRouted[ex] += counts[ex];
    }
    savedInput = x;
    probs = p;
    ids = id;
    weights = w;
    slots = sl;
    perm = pmN;
    xp = xpb;
    h1 = h1b;
    h3 = h3b;
    act = actb;
    yp = ypb;
    offsets = segments;
    lastRouted = counts;
    return out;
  }

  /** Per expert with rows, one product per matrix over its contiguous segment, then the gate. */
  private void runExperts(int[] segments, Tensor xpb, Tensor h1b, Tensor h3b, Tensor actb, Tensor ypb,
      ExpertProjection p1, ExpertProjection p3, ExpertProjection p2) {
    int e = config.experts();
    for (int ex = 0; ex < e; ex++) {
      if (segments[ex + 1] > segments[ex]) {
        Tensor xs = xpb.slice(0, segments[ex], segments[ex + 1]); // [n_e, D]
        p1.apply(ex, xs, h1b.slice(0, segments[ex], segments[ex + 1]));
        if (w3 != null) {
          p3.apply(ex, xs, h3b.slice(0, segments[ex], segments[ex + 1]));
        }
      }
    }
    // The gate is pointwise, so one call covers every expert's segment.
    if (w3 != null) {
      backend.swigluForward(h1b, h3b, actb);
    } else {
      backend.activationForward(Activation.GELU, h1b, actb);
    }
    for (int ex = 0; ex < e; ex++) {
      if (segments[ex + 1] > segments[ex]) {
        p2.apply(ex, actb.slice(0, segments[ex], segments[ex + 1]), ypb.slice(0, segments[ex], segments[ex + 1]));
      }
    }
  }

  /**
   * One expert's matrix product over the rows routed to it: {@code y [n, out] = x [n, in] ·
   * W[expert]^T} ({@code y} written), e.g. through a quantised copy of that expert's matrix.
   */
  @FunctionalInterface
  public interface ExpertProjection {
    void apply(int expert, Tensor x, Tensor y);
  }

  /**
   * An inference forward over x [T, D] whose expert products the caller supplies (e.g. compressed
   * copies of w1, w3 and w2; {@code p3} is ignored for GELU experts): the same router, softmax,
   * top-k with renormalised weights, dispatch, gather and weighted combine as {@link #forward},
   * always dropless (like decoding one token at a time, whatever the capacity factor), one call
   * of each product per expert that received rows. Saves nothing for backward, computes no
   * auxiliary loss and leaves the routing counts alone: decoding is not training.
   */
  public Tensor infer(Tensor x, Arena arena, ExpertProjection p1, ExpertProjection p3, ExpertProjection p2) {
    Shapes.requireRank2("MixtureOfExperts", "input", x, config.dModel());
    if (p1 == null || p2 == null || (w3 != null && p3 == null)) {
      throw new IllegalArgumentException("MixtureOfExperts: infer needs the expert products w1, w2"
          + (w3 != null ? " and w3 (SwiGLU experts)" : "") + "; pass non-null projections");
    }
    long t = x.dim(0);
    if (t < 1) {
      throw new IllegalArgumentException("MixtureOfExperts: input " + x.describe() + " has no rows; pass at least one token");
    }
    DType dt = x.dtype();
    int e = config.experts();
    int k = config.topK();
    long d = config.dModel();
    long h = config.hidden();
    Tensor logits = arena.allocate(dt, t, e); // [T, E]
    backend.gemm(false, true, 1f, x, router.weight().value(), 0f, logits);
    Tensor p = arena.allocate(dt, t, e);
    backend.softmaxForward(logits, p);
    Tensor id = arena.allocate(DType.I32, t, k);
    Tensor w = arena.allocate(dt, t, k);
    backend.moeTopK(p, id, w);
    Tensor routed = arena.allocate(DType.I32, e);
    Tensor off = arena.allocate(DType.I32, e + 1L);
    Tensor sl = arena.allocate(DType.I32, t, k);
    Tensor pm = arena.allocate(DType.I32, t * k);
    int n = backend.moeDispatch(id, e, 0, routed, off, sl, pm); // n = T * k: nothing dropped
    Tensor xpb = arena.allocate(dt, n, d);
    Tensor h1b = arena.allocate(dt, n, h);
    Tensor h3b = w3 == null ? null : arena.allocate(dt, n, h);
    Tensor actb = arena.allocate(dt, n, h);
    Tensor ypb = arena.allocate(dt, n, d);
    backend.moeGather(x, pm.slice(0, 0, n), k, xpb);
    runExperts(off.toIntArray(), xpb, h1b, h3b, actb, ypb, p1, p3, p2);
    Tensor out = arena.allocate(dt, t, d);
    backend.moeCombine(ypb, sl, w, out);
    return out;
  }

  private void gemmF32(Tensor x, Tensor w, Tensor y) {
    backend.gemm(false, true, 1f, x, w, 0f, y);
  }

  /** Switch balance loss (f constant) and z-loss; keeps lse [T] for the z-loss gradient. */
  private void computeAuxLosses(Tensor logits, Tensor p, int[] counts, long t) {
    int e = config.experts();
    int tt = (int) t;
    double[] pv = p.toDoubleArray();
    double[] lv = logits.toDoubleArray();
    double[] meanP = new double[e];
    lse = new double[tt];
    double zSum = 0;
    for (int r = 0; r < tt; r++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < e; i++) {
        meanP[i] += pv[r * e + i];
        max = Math.max(max, lv[r * e + i]);
      }
      double s = 0;
      for (int i = 0; i < e; i++) {
        s += Math.exp(lv[r * e + i] - max);
      }
      lse[r] = max + Math.log(s);
      zSum += lse[r] * lse[r];
    }
    double bal = 0;
    double assignments = (double) t * config.topK();
    for (int i = 0; i < e; i++) {
      bal += (counts[i] / assignments) * (meanP[i] / t);
    }
    balanceLoss = config.balanceWeight() * e * bal;
    zLoss = config.zLossWeight() * zSum / t;
    auxLoss = balanceLoss + zLoss;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("MixtureOfExperts", savedInput);
    long t = savedInput.dim(0);
    Shapes.requireRank2("MixtureOfExperts", "gradOutput", dy, config.dModel());
    if (dy.dim(0) != t) {
      throw new IllegalArgumentException(
          "MixtureOfExperts: gradOutput " + dy.describe() + " has " + dy.dim(0) + " rows but the latest forward had "
              + t + " tokens; pass the gradient of that forward's output");
    }
    DType dt = savedInput.dtype();
    int e = config.experts();
    int k = config.topK();
    long d = config.dModel();
    long h = config.hidden();
    int n = offsets[e];

    // 1. Combine backward: data gradient to the permuted expert outputs, weight gradient [T, k].
    Tensor dw = arena.allocate(dt, t, k);
    Tensor dyp = arena.allocate(dt, Math.max(1, n), d).slice(0, 0, n); // [N, D]
    backend.moeCombineBackward(dy, yp, perm, slots, weights, dyp, dw);

    // 2. Experts, segment by segment: W2, then the gate, then W1 (and W3).
    Tensor dx = arena.allocate(dt, t, d);
    if (n > 0) {
      Tensor dact = arena.allocate(dt, n, h); // [N, H]
      for (int ex = 0; ex < e; ex++) {
        int r0 = offsets[ex];
        int r1 = offsets[ex + 1];
        if (r1 > r0) {
          Tensor dys = dyp.slice(0, r0, r1); // [n_e, D]
          backend.gemm(false, false, 1f, dys, w2.value().select(0, ex), 0f, dact.slice(0, r0, r1));
          backend.gemm(true, false, 1f, dys, act.slice(0, r0, r1), 1f, w2.grad().select(0, ex));
        }
      }
      Tensor dh1 = arena.allocate(dt, n, h); // [N, H]
      Tensor dh3 = w3 == null ? null : arena.allocate(dt, n, h); // [N, H]
      if (w3 != null) {
        backend.swigluBackward(h1, h3, dact, dh1, dh3);
      } else {
        backend.activationBackward(Activation.GELU, h1, dact, dh1);
      }
      Tensor dxp = arena.allocate(dt, n, d); // [N, D]
      for (int ex = 0; ex < e; ex++) {
        int r0 = offsets[ex];
        int r1 = offsets[ex + 1];
        if (r1 > r0) {
          Tensor xs = xp.slice(0, r0, r1); // [n_e, D]
          Tensor dxs = dxp.slice(0, r0, r1); // [n_e, D]
          backend.gemm(false, false, 1f, dh1.slice(0, r0, r1), w1.value().select(0, ex), 0f, dxs);
          backend.gemm(true, false, 1f, dh1.slice(0, r0, r1), xs, 1f, w1.grad().select(0, ex));
          if (w3 != null) {
            backend.gemm(false, false, 1f, dh3.slice(0, r0, r1), w3.value().select(0, ex), 1f, dxs);
            backend.gemm(true, false, 1f, dh3.slice(0, r0, r1), xs, 1f, w3.grad().select(0, ex));
          }
        }
      }
      backend.moeGatherBackward(dxp, slots, dx);
    }

    // 3. Router: combine weights, load-balancing and z-loss gradients to the logits, then the
    //    router linear's own backward adds its input gradient to dx.
    Tensor dlogits = arena.allocate(dt, t, e);
    dlogits.copyFrom(routerLogitGradient(dw, t));
    Tensor dxRouter = router.backward(dlogits, arena);
    backend.add(dx, dxRouter, dx);
    return dx;
  }

  /**
   * dLoss/dlogits [T, E] (row-major) from the three router signals of kernel-facts section 3:
   * (a) renormalised combine weights: dl_j = w_j (dw_j - sum_S w_i dw_i) for selected j (the
   * weights are a softmax over the selected logits, so no other logit moves them); (b) the balance
   * loss through P_i: dp_{t,i} = alpha E f_i / T, then through the softmax; (c) the z-loss:
   * dl_{t,i} = (2 c_z / T) lse_t p_{t,i}.
   */
  private double[] routerLogitGradient(Tensor dw, long t) {
    int e = config.experts();
    int k = config.topK();
    int tt = (int) t;
    double[] pv = probs.toDoubleArray();
    double[] wv = weights.toDoubleArray();
    double[] dwv = dw.toDoubleArray();
    int[] idv = ids.toIntArray();
    double[] dl = new double[tt * e];
    double alpha = config.balanceWeight();
    double cz = config.zLossWeight();
    double[] dp = new double[e]; // balance-loss gradient w.r.t. p_{t,i}: the same for every token
    double assignments = (double) t * k;
    for (int i = 0; i < e; i++) {
      dp[i] = alpha * e * (lastRouted[i] / assignments) / t;
    }
    for (int r = 0; r < tt; r++) {
      double s = 0;
      for (int j = 0; j < k; j++) {
        s += wv[r * k + j] * dwv[r * k + j];
      }
      for (int j = 0; j < k; j++) {
        dl[r * e + idv[r * k + j]] += wv[r * k + j] * (dwv[r * k + j] - s);
      }
      if (alpha > 0) {
        double dot = 0;
        for (int i = 0; i < e; i++) {
          dot += pv[r * e + i] * dp[i];
        }
        for (int i = 0; i < e; i++) {
          dl[r * e + i] += pv[r * e + i] * (dp[i] - dot);
        }
      }
      if (cz > 0) {
        double c = 2 * cz / t * lse[r];
        for (int i = 0; i < e; i++) {
          dl[r * e + i] += c * pv[r * e + i];
        }
      }
    }
    return dl;
  }
}
