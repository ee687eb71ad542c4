package dev.iteralite.train;

import java.nio.file.Path;

/**
 * Receives progress events from a {@link Trainer} (on the training thread), e.g. to print progress
 * through a build tool's logger. Every method has an empty default; listeners must not change the
 * model.
 */
public interface TrainingListener {
  /** After every optimiser step. */
  default void onStep(StepReport report) {}

  /** After every evaluation; {@code improved} when it set a new best validation loss. */
  default void onEvaluation(long step, double valLoss, boolean improved) {}

  /** After a checkpoint was published. */
  default void onCheckpoint(long step, Path directory, boolean best) {}

  /**
   * One optimiser step's figures.
   *
   * @param step steps completed (1-based: the step just taken)
   * @param totalSteps steps of the whole run
   * @param tokensSeen training tokens consumed so far
   * @param learningRate the rate this step used
   * @param trainLoss mean next-token cross-entropy of the step's micro-batches (nats/token)
   * @param auxLoss mean weighted MoE auxiliary loss of the step (0 without experts)
   * @param gradNorm global gradient norm before clipping
   * @param tokensPerSecond training throughput of this step (wall clock)
   * @param etaSeconds estimated wall-clock seconds to the end of the run
   * @param valLoss validation loss if this step evaluated, else NaN
   */
  record StepReport(long step, long totalSteps, long tokensSeen, double learningRate, double trainLoss, double auxLoss,
      double gradNorm, double tokensPerSecond, double etaSeconds, double valLoss) {}
}
