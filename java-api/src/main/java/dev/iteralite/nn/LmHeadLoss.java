package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;

/**
 * The language-model head and its loss in one fused step: logits = h W^T with W [V, C] (usually
 * the tied embedding table), softmax cross-entropy against targets, and, when training, the
 * gradients for h and W, without ever holding the full [T, V] logits.
 *
 * <p>The loss is the mean negative log-likelihood in nats over targets that are not {@link
 * #IGNORE_INDEX} (kernel-facts §6).
 */
public final class LmHeadLoss {
  /** Target value marking positions without a prediction target. */
  public static final int IGNORE_INDEX = -1;

  private final Backend backend;
  private final Parameter weight;

  /** Uses {@code weight} [V, C] as the output projection (pass the embedding table to tie them). */
  public LmHeadLoss(Backend backend, Parameter weight) {
    this.backend = backend;
    this.weight = weight;
  }

  public Parameter weight() {
    return weight;
  }

  /**
   * Mean loss of {@code h} [T, C] against {@code targets} I32 [T]; if {@code dh} is non-null,
   * accumulates dLoss/dh into it and dLoss/dW into the weight's gradient.
   *
   * @return mean loss in nats per counted target (NaN if every target is ignored)
   */
  public double forwardBackward(Tensor h, Tensor targets, Tensor dh, Arena arena) {
    Shapes.requireRank2("LmHeadLoss", "hidden", h, weight.shape()[1]);
    if (targets == null || targets.dtype() != DType.I32 || targets.rank() != 1 || targets.dim(0) != h.dim(0)) {
      throw new IllegalArgumentException(
          "LmHeadLoss: targets must be I32 [" + h.dim(0) + "], got " + (targets == null ? "null" : targets.describe()));
    }
    long counted = 0;
    for (int t : targets.toIntArray()) {
      if (t != IGNORE_INDEX) {
        counted++;
      }
    }
    if (counted == 0) {
      return Double.NaN;
    }
    Tensor losses = arena.allocate(h.dtype(), h.dim(0));
    float scale = (float) (1.0 / counted);
    double sum =
        backend.fusedLinearCrossEntropy(
            h, weight.value(), targets, IGNORE_INDEX, scale, losses, dh, dh == null ? null : weight.grad());
    return sum / counted;
  }

  /** Mean loss only (evaluation): no gradients are touched. */
  public double loss(Tensor h, Tensor targets, Arena arena) {
    return forwardBackward(h, targets, null, arena);
  }
}
