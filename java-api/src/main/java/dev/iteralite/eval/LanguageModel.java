package dev.iteralite.eval;

import dev.iteralite.model.CausalLm;
import java.util.Objects;

/**
 * What the {@link Evaluator} needs from a model: the summed next-token negative log-likelihood of a
 * batch of independent windows.
 */
public interface LanguageModel {
  /** Exclusive upper bound of the token ids the model accepts. */
  int vocabSize();

  /**
   * The SUM over every position of {@code -ln p(targets[i] | inputs of the same window up to i)} in
   * nats, for {@code batch} windows of {@code inputs.length / batch} tokens laid out token-major
   * ({@code inputs[b * L + t]}). Each window starts from an empty context.
   *
   * @param inputs input ids, {@code batch * L} of them
   * @param targets next-token ids, same layout and length as {@code inputs}
   * @param batch number of windows
   */
  double sumNll(int[] inputs, int[] targets, int batch);

  /** Adapts any {@link CausalLm} (its mean {@code loss} times the number of targets). */
  static LanguageModel of(CausalLm model) {
    Objects.requireNonNull(model, "model");
    return new LanguageModel() {
      @Override
      public int vocabSize() {
        return model.vocabSize();
      }

      @Override
      public double sumNll(int[] inputs, int[] targets, int batch) {
        return model.loss(inputs, targets, batch) * targets.length;
      }

      @Override
      public String toString() {
        return model.architecture() + "(" + model.config() + ")";
      }
    };
  }
}
