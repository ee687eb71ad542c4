package dev.iteralite.data;

import java.util.Objects;

/**
 * A training and a validation {@link TokenSequence}: from separate files ({@code new TrainValSplit(trainFile,
 * valFile)}) or, deterministically, by fraction of one sequence ({@link #byFraction}).
 *
 * @param train the training tokens
 * @param validation the validation tokens
 */
public record TrainValSplit(TokenSequence train, TokenSequence validation) {
  /** Checks that both parts exist and share a vocabulary. */
  public TrainValSplit {
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(validation, "validation");
    if (train.vocabSize() != validation.vocabSize()) {
      throw new IllegalArgumentException("train and validation have different vocabulary sizes ("
          + train.vocabSize() + " vs " + validation.vocabSize() + "); tokenize both with the same tokenizer");
    }
  }

  /**
   * The first tokens for training and the last {@code floor(size * validationFraction)} for validation (a contiguous
   * tail, so no window of one part overlaps the other).
   *
   * @throws IllegalArgumentException if the fraction is not in {@code (0, 1)} or either part would be empty
   */
  public static TrainValSplit byFraction(TokenSequence all, double validationFraction) {
    Objects.requireNonNull(all, "all");
    if (!(validationFraction > 0 && validationFraction < 1)) {
      throw new IllegalArgumentException("validationFraction must be in (0, 1), got " + validationFraction);
    }
    long val = (long) Math.floor(all.size() * validationFraction);
    long train = all.size() - val;
    if (val < 1 || train < 1) {
      throw new IllegalArgumentException("splitting " + all.size() + " tokens at fraction " + validationFraction
          + " leaves an empty part (" + train + " train, " + val + " validation); use more data or another fraction");
    }
    return new TrainValSplit(all.slice(0, train), all.slice(train, all.size()));
  }
}
