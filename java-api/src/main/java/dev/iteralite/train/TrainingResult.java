package dev.iteralite.train;

import java.nio.file.Path;

/**
 * How a {@link Trainer#run()} ended.
 *
 * @param stepsCompleted optimiser steps completed in total (earlier segments of a resumed run included)
 * @param tokensSeen training tokens consumed in total
 * @param finalTrainLoss mean cross-entropy of the last step (nats/token)
 * @param lastValLoss the latest validation loss (NaN if never evaluated)
 * @param bestValLoss the lowest validation loss ({@code +Infinity} if never evaluated)
 * @param bestStep the step of {@code bestValLoss} (-1 if never evaluated)
 * @param stopReason why the run ended
 * @param elapsedSeconds wall-clock training seconds in total
 * @param lastCheckpoint the newest checkpoint folder, or null without checkpoints
 * @param bestCheckpoint the best checkpoint folder, or null
 */
public record TrainingResult(long stepsCompleted, long tokensSeen, double finalTrainLoss, double lastValLoss,
    double bestValLoss, long bestStep, StopReason stopReason, double elapsedSeconds, Path lastCheckpoint,
    Path bestCheckpoint) {

  /** Why a run ended. */
  public enum StopReason {
    /** All configured steps were taken. */
    COMPLETED,
    /** The validation loss stopped improving for {@code patience} evaluations; the model holds the best weights. */
    EARLY_STOPPED,
    /** The wall-clock budget ran out. */
    TIME_BUDGET
  }
}
