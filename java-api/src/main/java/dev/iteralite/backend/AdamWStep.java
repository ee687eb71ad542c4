package dev.iteralite.backend;

/**
 * Hyper-parameters of one fused AdamW update (decoupled weight decay, bias correction).
 *
 * @param learningRate step size for this step (after any schedule)
 * @param beta1 first-moment decay, in [0, 1)
 * @param beta2 second-moment decay, in [0, 1)
 * @param eps denominator guard, > 0
 * @param weightDecay decoupled weight decay (0 for norms, biases and SSM parameters)
 * @param gradScale multiplies the gradient first (clipping factor, 1/accumulation steps)
 * @param step 1-based step number used for bias correction
 */
public record AdamWStep(
    double learningRate, double beta1, double beta2, double eps, double weightDecay, double gradScale, long step) {
  /** Checks every field's range. */
  public AdamWStep {
    if (!(learningRate >= 0) || !Double.isFinite(learningRate)) {
      throw new IllegalArgumentException("learningRate must be finite and >= 0, got " + learningRate);
    }
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
    }
    if (!(eps > 0)) {
      throw new IllegalArgumentException("eps must be > 0, got " + eps);
    }
    if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
      throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
    }
    if (!Double.isFinite(gradScale)) {
      throw new IllegalArgumentException("gradScale must be finite, got " + gradScale);
    }
    if (step < 1) {
      throw new IllegalArgumentException("step is 1-based, got " + step);
    }
  }

  /** The same hyper-parameters with a different weight decay (for no-decay parameter groups). */
  public AdamWStep withWeightDecay(double wd) {
    return new AdamWStep(learningRate, beta1, beta2, eps, wd, gradScale, step);
  }
}
