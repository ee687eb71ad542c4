package dev.iteralite.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import dev.iteralite.nn.MambaConfig;
import dev.iteralite.nn.MoeConfig;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hyper-parameters of the {@link IteraLiteModel}: a token embedding, {@code nLayers} blocks of
 * [RMSNorm, Mamba mixer, residual, RMSNorm, feed-forward, residual], a final RMSNorm and an LM
 * head tied to the embedding.
 *
 * <p>The feed-forward network of block {@code i} (0-based) is a top-{@code topK} mixture of {@code
 * experts} SwiGLU experts when {@code moeEvery > 0 && (i + 1) % moeEvery == 0}, and a dense SwiGLU
 * network otherwise; both have hidden width {@code ffnHidden}.
 *
 * <p>The JSON form (checkpoints' {@code config.json}) has one member per field; {@code dInner} may be
 * absent (files written before channel pruning existed) and then means {@code expand * dModel}.
 *
 * @param vocabSize vocabulary size V (>= 2)
 * @param dModel model width D
 * @param nLayers number of blocks
 * @param dState Mamba state size N (default 16)
 * @param dConv Mamba convolution taps K (default 4)
 * @param expand Mamba expansion (d_inner = expand * dModel, default 2)
 * @param dtRank Mamba dt rank (default ceil(dModel / 16))
 * @param moeEvery k: every k-th block has the MoE feed-forward network (0 = never)
 * @param experts experts per MoE layer
 * @param topK experts per token, in [1, experts]
 * @param ffnHidden hidden width of every feed-forward network (dense and each expert)
 * @param balanceWeight weight of the MoE load-balancing loss (>= 0)
 * @param zLossWeight weight of the MoE router z-loss (>= 0)
 * @param dInner Mamba inner width E (default expand * dModel; smaller after channel pruning). Absent
 *     from configurations written before it existed: they load with the default.
 */
public record IteraLiteConfig(
    int vocabSize,
    int dModel,
    int nLayers,
    int dState,
    int dConv,
    int expand,
    int dtRank,
    int moeEvery,
    int experts,
    int topK,
    int ffnHidden,
    double balanceWeight,
    double zLossWeight,
    int dInner) {

  /** RMSNorm epsilon used by every norm of the model. */
  public static final float NORM_EPS = 1e-5f;

  /** Validates every field; messages name the field and the allowed range. */
  public IteraLiteConfig {
    if (vocabSize < 2) {
      throw new IllegalArgumentException("IteraLiteConfig: vocabSize must be >= 2, got " + vocabSize);
    }
    positive("dModel", dModel);
    positive("nLayers", nLayers);
    positive("ffnHidden", ffnHidden);
    positive("experts", experts);
    if (moeEvery < 0) {
      throw new IllegalArgumentException("IteraLiteConfig: moeEvery must be >= 0 (0 = no MoE), got " + moeEvery);
    }
    if (topK < 1 || topK > experts) {
      throw new IllegalArgumentException("IteraLiteConfig: topK must be in [1, experts=" + experts + "], got " + topK);
    }
    if (!(balanceWeight >= 0) || Double.isInfinite(balanceWeight)) {
      throw new IllegalArgumentException("IteraLiteConfig: balanceWeight must be finite and >= 0, got " + balanceWeight);
    }
    if (!(zLossWeight >= 0) || Double.isInfinite(zLossWeight)) {
      throw new IllegalArgumentException("IteraLiteConfig: zLossWeight must be finite and >= 0, got " + zLossWeight);
    }
    positive("expand", expand);
    positive("dInner", dInner);
    // The mixer's own checks (dState limit, dtRank, sizes).
    mambaConfig(dModel, dState, dConv, expand, dtRank, dInner);
  }

  private static void positive(String name, int v) {
    if (v < 1) {
      throw new IllegalArgumentException("IteraLiteConfig: " + name + " must be >= 1, got " + v);
    }
  }

  /** A builder with the defaults N 16, K 4, expand 2, dtRank ceil(D/16), no MoE, ffnHidden 4D, topK 2 of 4 experts. */
  public static Builder builder(int vocabSize, int dModel, int nLayers) {
    return new Builder(vocabSize, dModel, nLayers);
  }

  /** About 1.5 M parameters at vocabulary 512 (D 128, 4 layers, MoE with 4 experts in every second block). */
  public static IteraLiteConfig tiny(int vocabSize) {
    return builder(vocabSize, 128, 4).moeEvery(2).experts(4).topK(2).ffnHidden(256).build();
  }

  /** About 10 M parameters at vocabulary 8192 (D 256, 6 layers, MoE with 4 experts in every second block). */
  public static IteraLiteConfig small(int vocabSize) {
    return builder(vocabSize, 256, 6).moeEvery(2).experts(4).topK(2).ffnHidden(384).build();
  }

  /** Whether block {@code layer} (0-based) has the MoE feed-forward network. */
  public boolean isMoeLayer(int layer) {
    return moeEvery > 0 && (layer + 1) % moeEvery == 0;
  }

  /** The mixer configuration of every block. */
  public MambaConfig mambaConfig() {
    return mambaConfig(dModel, dState, dConv, expand, dtRank, dInner);
  }

  private static MambaConfig mambaConfig(int dModel, int dState, int dConv, int expand, int dtRank, int dInner) {
    return MambaConfig.builder(dModel).dState(dState).dConv(dConv).expand(expand).dtRank(dtRank).dInner(dInner).build();
  }

  private static final List<String> JSON_FIELDS = List.of("vocabSize", "dModel", "nLayers", "dState", "dConv", "expand",
      "dtRank", "moeEvery", "experts", "topK", "ffnHidden", "balanceWeight", "zLossWeight", "dInner");

  /**
   * Reads the JSON object form (as checkpoints write it: one member per field). Every field is
   * required except {@code dInner}, which configurations from before channel pruning lack (it
   * defaults to expand * dModel); unknown members are rejected.
   */
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  static IteraLiteConfig fromJson(Map<String, Object> json) {
    if (json == null) {
      throw new IllegalArgumentException("IteraLiteConfig: expected a JSON object");
    }
    Set<String> unknown = new LinkedHashSet<>(json.keySet());
    unknown.removeAll(JSON_FIELDS);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("IteraLiteConfig: unknown fields " + unknown + "; known: " + JSON_FIELDS);
    }
    int dModel = intField(json, "dModel");
    int expand = intField(json, "expand");
    int dInner = json.containsKey("dInner") ? intField(json, "dInner") : (int) Math.min(Integer.MAX_VALUE, (long) expand * dModel);
    return new IteraLiteConfig(intField(json, "vocabSize"), dModel, intField(json, "nLayers"), intField(json, "dState"),
        intField(json, "dConv"), expand, intField(json, "dtRank"), intField(json, "moeEvery"), intField(json, "experts"),
        intField(json, "topK"), intField(json, "ffnHidden"), doubleField(json, "balanceWeight"),
        doubleField(json, "zLossWeight"), dInner);
  }

  private static int intField(Map<String, Object> json, String name) {
    Object v = json.get(name);
    if (!(v instanceof Integer i)) {
      throw new IllegalArgumentException("IteraLiteConfig: field '" + name + "' must be an integer, got "
          + (json.containsKey(name) ? v : "nothing (missing)"));
    }
    return i;
  }

  private static double doubleField(Map<String, Object> json, String name) {
    Object v = json.get(name);
    if (!(v instanceof Number n) || v instanceof java.math.BigInteger) {
      throw new IllegalArgumentException("IteraLiteConfig: field '" + name + "' must be a number, got "
          + (json.containsKey(name) ? v : "nothing (missing)"));
    }
    return n.doubleValue();
  }

  /** The MoE configuration of the MoE blocks (dropless SwiGLU experts). */
  public MoeConfig moeConfig() {
    return MoeConfig.builder(dModel, ffnHidden, experts).topK(topK).balanceWeight(balanceWeight)
        .zLossWeight(zLossWeight).build();
  }

  /** Number of trainable elements, computed from the hyper-parameters (the tied head adds none). */
  public long parameterCount() {
    long d = dModel;
    long e = dInner;
    long n = dState;
    long r = dtRank;
    long mixer = 2 * e * d + e * dConv + e + (r + 2 * n) * e + e * r + e + e * n + e + d * e;
    long dense = 3L * ffnHidden * d;
    long moe = (long) experts * d + (long) experts * dense;
    long total = (long) vocabSize * d + d; // embedding + final norm
    for (int i = 0; i < nLayers; i++) {
      total += 2 * d + mixer + (isMoeLayer(i) ? moe : dense);
    }
    return total;
  }

  /** Mutable builder for {@link IteraLiteConfig}. */
  public static final class Builder {
    private final int vocabSize;
    private final int dModel;
    private final int nLayers;
    private int dState = 16;
    private int dConv = 4;
    private int expand = 2;
    private int dtRank = -1;
    private int moeEvery = 0;
    private int experts = 4;
    private int topK = 2;
    private int ffnHidden = -1;
    private double balanceWeight = 1e-2;
    private double zLossWeight = 1e-3;
    private int dInner = -1;

    private Builder(int vocabSize, int dModel, int nLayers) {
      this.vocabSize = vocabSize;
      this.dModel = dModel;
      this.nLayers = nLayers;
    }

    public Builder dState(int v) {
      dState = v;
      return this;
    }

    public Builder dConv(int v) {
      dConv = v;
      return this;
    }

    public Builder expand(int v) {
      expand = v;
      return this;
    }

    /** dt rank; default ceil(dModel / 16). */
    public Builder dtRank(int v) {
      dtRank = v;
      return this;
    }

    /** k: the FFN of every k-th block is the MoE layer (0 = never). */
    public Builder moeEvery(int v) {
      moeEvery = v;
      return this;
    }

    public Builder experts(int v) {
      experts = v;
      return this;
    }

    public Builder topK(int v) {
      topK = v;
      return this;
    }

    /** Hidden width of the feed-forward networks; default 4 * dModel. */
    public Builder ffnHidden(int v) {
      ffnHidden = v;
      return this;
    }

    /** MoE load-balancing and z-loss weights (defaults 1e-2 and 1e-3). */
    public Builder auxWeights(double balance, double zLoss) {
      balanceWeight = balance;
      zLossWeight = zLoss;
      return this;
    }

    /** Mamba inner width; default expand * dModel (set by channel pruning). */
    public Builder dInner(int v) {
      if (v < 1) {
        throw new IllegalArgumentException("IteraLiteConfig: dInner must be >= 1, got " + v);
      }
      dInner = v;
      return this;
    }

    public IteraLiteConfig build() {
      if (dtRank == 0 || dtRank < -1) {
        throw new IllegalArgumentException("IteraLiteConfig: dtRank must be >= 1, got " + dtRank);
      }
      if (ffnHidden == 0 || ffnHidden < -1) {
        throw new IllegalArgumentException("IteraLiteConfig: ffnHidden must be >= 1, got " + ffnHidden);
      }
      int r = dtRank > 0 ? dtRank : (dModel + 15) / 16;
      int h = ffnHidden > 0 ? ffnHidden : (int) Math.min(Integer.MAX_VALUE, 4L * dModel);
      int e = dInner > 0 ? dInner : (int) Math.min(Integer.MAX_VALUE, (long) expand * dModel);
      return new IteraLiteConfig(vocabSize, dModel, nLayers, dState, dConv, expand, r, moeEvery, experts, topK, h,
          balanceWeight, zLossWeight, e);
    }
  }
}
