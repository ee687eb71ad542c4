package dev.iteralite.bench;

import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.nn.MambaConfig;
import dev.iteralite.nn.MoeConfig;
import java.util.OptionalLong;

/**
 * Analytic floating-point operations per generated token (one forward step, batch 1), counted
 * layer by layer from the configuration, so models of different architectures and sizes can be
 * compared by work done rather than by wall time alone.
 *
 * <p>Conventions: a multiply-add is 2 FLOPs; the embedding lookup is free; elementwise work that
 * is O(width) per token — norms, activations, gates, biases, residual adds, softplus, the D skip —
 * is not counted (it is well under 1% for every preset). The formulas, with D = model width, V =
 * vocabulary:
 *
 * <ul>
 *   <li><b>Linear</b> {@code in -> out}: {@code 2·in·out}.
 *   <li><b>Mamba mixer</b> (E = d_inner, N = d_state, K = d_conv, R = dt_rank): in_proj {@code
 *       2·D·2E} + causal depthwise conv {@code 2·K·E} + x_proj {@code 2·E·(R + 2N)} + dt_proj {@code
 *       2·R·E} + selective scan {@code 7·E·N} (per state element: Δ·A, exp, ·h, (Δu)·B, +, C·h, +)
 *       + out_proj {@code 2·E·D}.
 *   <li><b>SwiGLU feed-forward</b> (hidden H): three linears, {@code 6·D·H}; a GELU expert has two,
 *       {@code 4·D·H}.
 *   <li><b>Mixture of experts</b> (X experts, top-k): router {@code 2·D·X} + k experts' feed-forward
 *       FLOPs (only the experts a token is routed to do work).
 *   <li><b>Attention</b> at context c (positions attended, the current one included; kv = key/value
 *       width): Q and O projections {@code 2·2·D·D}, K and V projections {@code 2·2·D·kv}, scores
 *       and weighted values {@code 2·2·c·D} (q·k over the head size for every head and position,
 *       then the same for the values).
 *   <li><b>LM head</b>: {@code 2·D·V} (tied or not: the work is the same).
 * </ul>
 *
 * <p>Itera-Lite: {@code Σ_blocks (mixer + feed-forward) + head}, independent of the context.
 * Transformer: {@code n_layers · (attention(c) + SwiGLU) + head}, growing with c.
 */
public final class FlopCounter {
  private FlopCounter() {}

  /** {@code 2·in·out}. */
  public static long linear(long in, long out) {
    positive("in", in);
    positive("out", out);
    return 2 * in * out;
  }

  /** The selective-scan recurrence for one token: {@code 7·E·N}. */
  public static long selectiveScan(long dInner, long dState) {
    positive("dInner", dInner);
    positive("dState", dState);
    return 7 * dInner * dState;
  }

  /** One Mamba mixer, one token (see the class comment). */
  public static long mambaMixer(MambaConfig m) {
    long d = m.dModel();
    long e = m.dInner();
    long n = m.dState();
    long r = m.dtRank();
    return linear(d, 2 * e) + 2L * m.dConv() * e + linear(e, r + 2 * n) + linear(r, e) + selectiveScan(e, n)
        + linear(e, d);
  }

  /** A SwiGLU feed-forward network D -> H -> D: {@code 6·D·H}. */
  public static long swiglu(long dModel, long hidden) {
    return 3 * linear(dModel, hidden);
  }

  /** One MoE layer, one token: router plus the top-k experts. */
  public static long mixtureOfExperts(MoeConfig c) {
    long expert = c.expertKind() == MoeConfig.ExpertKind.SWIGLU ? swiglu(c.dModel(), c.hidden())
        : 2 * linear(c.dModel(), c.hidden());
    return linear(c.dModel(), c.experts()) + (long) c.topK() * expert;
  }

  /** Self-attention of one token at {@code context} positions (projections included). */
  public static long attention(TransformerConfig c, long context) {
    checkContext(context);
    long d = c.dim();
    return 2 * linear(d, d) + 2 * linear(d, c.kvDim()) + 2 * 2 * context * d;
  }

  /** The LM head: {@code 2·D·V}. */
  public static long head(long dModel, long vocab) {
    return linear(dModel, vocab);
  }

  /** A whole Itera-Lite model, one token (context-independent). */
  public static long iteraLite(IteraLiteConfig c) {
    long mixer = mambaMixer(c.mambaConfig());
    long total = head(c.dModel(), c.vocabSize());
    for (int i = 0; i < c.nLayers(); i++) {
      total += mixer + (c.isMoeLayer(i) ? mixtureOfExperts(c.moeConfig()) : swiglu(c.dModel(), c.ffnHidden()));
    }
    return total;
  }

  /** A whole Transformer, one token at {@code context} positions. */
  public static long transformer(TransformerConfig c, long context) {
    checkContext(context);
    long perLayer = attention(c, context) + swiglu(c.dim(), c.hiddenDim());
    return c.nLayers() * perLayer + head(c.dim(), c.vocabSize());
  }

  /**
   * FLOPs per token for a model configuration record ({@link IteraLiteConfig} or {@link
   * TransformerConfig}) at {@code context}; empty for any other configuration type.
   */
  public static OptionalLong perToken(Record config, long context) {
    if (config instanceof IteraLiteConfig c) {
      checkContext(context);
      return OptionalLong.of(iteraLite(c));
    }
    if (config instanceof TransformerConfig c) {
      return OptionalLong.of(transformer(c, context));
    }
    return OptionalLong.empty();
  }

  private static void checkContext(long context) {
    if (context < 1) {
      throw new IllegalArgumentException("FlopCounter: context must be >= 1 position, got " + context);
    }
  }

  private static void positive(String name, long v) {
    if (v < 1) {
      throw new IllegalArgumentException("FlopCounter: " + name + " must be >= 1, got " + v);
    }
  }
}
