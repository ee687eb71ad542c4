package dev.iteralite.checkpoint;

/**
 * Where a training run stands, beyond the model's weights: what a checkpoint's {@code
 * trainer-state.json} holds so that a resumed run continues exactly as if uninterrupted. The
 * optimiser's moment tensors travel next to it in {@code optimizer.safetensors}.
 *
 * @param step optimiser steps completed
 * @param tokensSeen training tokens consumed
 * @param samplerPosition index of the next training batch of the (deterministic) batch sampler
 * @param optimizerStep the optimiser's own step count (bias correction)
 * @param bestValLoss lowest validation loss so far ({@code +Infinity} before the first evaluation)
 * @param bestStep step of {@code bestValLoss} (-1 before the first evaluation)
 * @param evalsWithoutImprovement evaluations since the last improvement (early-stopping counter)
 * @param lastValLoss the latest validation loss (NaN before the first evaluation)
 * @param elapsedSeconds wall-clock training seconds so far (for the time budget only)
 * @param trainingConfigJson the run's training configuration as a JSON object
 */
public record TrainingState(
    long step,
    long tokensSeen,
    long samplerPosition,
    long optimizerStep,
    double bestValLoss,
    long bestStep,
    int evalsWithoutImprovement,
    double lastValLoss,
    double elapsedSeconds,
    String trainingConfigJson) {

  /** Checks the counters. */
  public TrainingState {
    if (step < 0 || tokensSeen < 0 || samplerPosition < 0 || optimizerStep < 0 || evalsWithoutImprovement < 0) {
      throw new IllegalArgumentException("TrainingState: counters must be >= 0, got step=" + step + " tokensSeen="
          + tokensSeen + " samplerPosition=" + samplerPosition + " optimizerStep=" + optimizerStep
          + " evalsWithoutImprovement=" + evalsWithoutImprovement);
    }
    if (bestStep < -1) {
      throw new IllegalArgumentException("TrainingState: bestStep must be >= -1, got " + bestStep);
    }
    if (trainingConfigJson == null || trainingConfigJson.isBlank()) {
      throw new IllegalArgumentException("TrainingState: trainingConfigJson must be a JSON object");
    }
  }
}
