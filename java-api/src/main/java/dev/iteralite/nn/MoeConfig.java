package dev.iteralite.nn;

/**
 * Hyper-parameters of a {@link MixtureOfExperts} layer.
 *
 * @param dModel model width D (input and output features)
 * @param hidden hidden width H of each expert's feed-forward network
 * @param experts number of experts E
 * @param topK experts per token k, {@code 1 <= k <= E} (default 2)
 * @param capacityFactor {@code <= 0}: dropless dispatch (the default); otherwise each expert keeps
 *     at most C = ceil(capacityFactor * k * T / E) of a batch's T*k assignments, in token order
 * @param expertKind the experts' feed-forward form (default {@link ExpertKind#SWIGLU})
 * @param balanceWeight alpha of the Switch load-balancing loss alpha * E * sum_i f_i * P_i
 *     (default 1e-2; 0 disables it)
 * @param zLossWeight c_z of the router z-loss c_z * mean_t logsumexp(logits_t)^2 (default 1e-3;
 *     0 disables it)
 */
public record MoeConfig(
    long dModel,
    long hidden,
    int experts,
    int topK,
    double capacityFactor,
    ExpertKind expertKind,
    double balanceWeight,
    double zLossWeight) {

  /** The feed-forward network inside each expert. */
  public enum ExpertKind {
    /** W2 (silu(W1 x) * W3 x): three matrices per expert. */
    SWIGLU,
    /** W2 gelu(W1 x) (tanh approximation): two matrices per expert. */
    GELU
  }

  /** Validates every field; messages name the field and the allowed range. */
  public MoeConfig {
    if (dModel < 1) {
      throw new IllegalArgumentException("MoeConfig: dModel must be >= 1, got " + dModel);
    }
    if (hidden < 1) {
      throw new IllegalArgumentException("MoeConfig: hidden must be >= 1, got " + hidden);
    }
    if (experts < 1) {
      throw new IllegalArgumentException("MoeConfig: experts must be >= 1, got " + experts);
    }
    if (topK < 1 || topK > experts) {
      throw new IllegalArgumentException(
          "MoeConfig: topK must be in [1, experts=" + experts + "], got " + topK + "; lower topK or add experts");
    }
    if (Double.isNaN(capacityFactor) || Double.isInfinite(capacityFactor)) {
      throw new IllegalArgumentException(
          "MoeConfig: capacityFactor must be finite (<= 0 for dropless), got " + capacityFactor);
    }
    if (expertKind == null) {
      throw new IllegalArgumentException("MoeConfig: expertKind is null; pick SWIGLU or GELU");
    }
    if (!(balanceWeight >= 0) || Double.isInfinite(balanceWeight)) {
      throw new IllegalArgumentException("MoeConfig: balanceWeight must be finite and >= 0, got " + balanceWeight);
    }
    if (!(zLossWeight >= 0) || Double.isInfinite(zLossWeight)) {
      throw new IllegalArgumentException("MoeConfig: zLossWeight must be finite and >= 0, got " + zLossWeight);
    }
  }

  /** A builder with the defaults (k = 2, dropless, SwiGLU, alpha = 1e-2, c_z = 1e-3). */
  public static Builder builder(long dModel, long hidden, int experts) {
    return new Builder(dModel, hidden, experts);
  }

  /** Whether overflow assignments are dropped (a positive capacity factor). */
  public boolean dropsTokens() {
    return capacityFactor > 0;
  }

  /**
   * Per-expert capacity for a batch of {@code tokens}: ceil(capacityFactor * k * T / E) but at
   * least 1 (0 would mean "unlimited" to the dispatch), or 0 (unlimited) when dropless.
   */
  public long capacity(long tokens) {
    if (!dropsTokens()) {
      return 0;
    }
    return Math.max(1, (long) Math.ceil(capacityFactor * topK * (double) tokens / experts));
  }

  /** Mutable builder for {@link MoeConfig}. */
  public static final class Builder {
    private final long dModel;
    private final long hidden;
    private final int experts;
    private int topK = 2;
    private double capacityFactor = 0;
    private ExpertKind expertKind = ExpertKind.SWIGLU;
    private double balanceWeight = 1e-2;
    private double zLossWeight = 1e-3;

    private Builder(long dModel, long hidden, int experts) {
      this.dModel = dModel;
      this.hidden = hidden;
      this.experts = experts;
    }

    public Builder topK(int k) {
      this.topK = k;
      return this;
    }

    /** {@code <= 0}: dropless; otherwise the capacity factor (typically 1.0-1.25 training, 2.0 eval). */
    public Builder capacityFactor(double cf) {
      this.capacityFactor = cf;
      return this;
    }

    public Builder expertKind(ExpertKind kind) {
      this.expertKind = kind;
      return this;
    }

    public Builder balanceWeight(double alpha) {
      this.balanceWeight = alpha;
      return this;
    }

    public Builder zLossWeight(double cz) {
      this.zLossWeight = cz;
      return this;
    }

    public MoeConfig build() {
      return new MoeConfig(dModel, hidden, experts, topK, capacityFactor, expertKind, balanceWeight, zLossWeight);
    }
  }
}
