package dev.iteralite.optim;

import dev.iteralite.backend.AdamWStep;
import dev.iteralite.backend.Backend;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Tensor;

/**
 * AdamW (decoupled weight decay) over a {@link ParameterSet}: moments live in two flat arenas with
 * the parameters' layout, and each step is one fused kernel call per parameter (weight decay only
 * where {@link Parameter#weightDecay()} says so), with optional global-norm gradient clipping.
 */
public final class AdamW implements AutoCloseable {
  /**
   * Optimiser settings.
   *
   * @param beta1 first-moment decay
   * @param beta2 second-moment decay
   * @param eps denominator guard
   * @param weightDecay decoupled decay for parameters that take it
   * @param maxGradNorm clip the global gradient norm to this (<= 0: no clipping)
   */
  public record Config(double beta1, double beta2, double eps, double weightDecay, double maxGradNorm) {
    public Config {
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
      }
      if (!(eps > 0)) {
        throw new IllegalArgumentException("eps must be > 0, got " + eps);
      }
      if (!(weightDecay >= 0)) {
        throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
      }
    }

    /** The usual language-model settings: betas (0.9, 0.95), eps 1e-8, decay 0.1, clip at 1.0. */
    public static Config defaults() {
      return new Config(0.9, 0.95, 1e-8, 0.1, 1.0);
    }
  }

  private final Backend backend;
  private final ParameterSet params;
  private final Config config;
  private final Tensor m;
  private final Tensor v;
  private long step;

  public AdamW(Backend backend, ParameterSet params, Config config) {
    this.backend = backend;
    this.params = params;
    this.config = config;
    this.m = params.allocateLike();
    Tensor second = null;
    try {
      second = params.allocateLike();
    } catch (RuntimeException | Error e) {
      m.close();
      throw e;
    }
    this.v = second;
  }

  /** Steps taken so far. */
  public long stepCount() {
    return step;
  }

  /**
   * Sets the number of steps already taken, so that bias correction continues where a checkpoint
   * left off (restore the moments into {@link #firstMoments()} and {@link #secondMoments()} too).
   */
  public void restoreStepCount(long steps) {
    if (steps < 0) {
      throw new IllegalArgumentException("AdamW: a step count must be >= 0, got " + steps);
    }
    step = steps;
  }

  /** First moments (flat, parameter layout). */
  public Tensor firstMoments() {
    return m;
  }

  /** Second moments (flat, parameter layout). */
  public Tensor secondMoments() {
    return v;
  }

  /**
   * Applies one update with the current gradients.
   *
   * @param learningRate the learning rate for this step (from a schedule)
   * @param gradScale multiplies gradients before clipping (e.g. 1/accumulation steps)
   * @return the global gradient norm before clipping (after gradScale)
   * @throws ArithmeticException if the gradient norm is NaN or infinite (nothing is updated)
   */
  public double step(double learningRate, double gradScale) {
    double norm = params.gradNorm(backend) * Math.abs(gradScale);
    if (!Double.isFinite(norm)) {
      throw new ArithmeticException(
          "gradient norm is " + norm + " at step " + (step + 1) + "; parameters left unchanged (lower the learning rate or check the data)");
    }
    double scale = gradScale;
    if (config.maxGradNorm() > 0 && norm > config.maxGradNorm()) {
      scale *= config.maxGradNorm() / norm;
    }
    step++;
    AdamWStep base = new AdamWStep(learningRate, config.beta1(), config.beta2(), config.eps(), config.weightDecay(), scale, step);
    AdamWStep noDecay = base.withWeightDecay(0);
    for (Parameter p : params.parameters()) {
      backend.adamW(p.value(), p.grad(), params.viewOf(m, p), params.viewOf(v, p), p.weightDecay() ? base : noDecay);
    }
    return norm;
  }

  @Override
  public void close() {
    m.close();
    v.close();
  }
}
