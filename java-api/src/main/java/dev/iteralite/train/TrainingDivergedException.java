package dev.iteralite.train;

/**
 * Thrown when a training loss or gradient norm becomes NaN or infinite. The optimiser step of that
 * step was not applied and no checkpoint was written for it, so the last checkpoint on disk is
 * intact; resume from it with a lower learning rate or after checking the data.
 */
public final class TrainingDivergedException extends ArithmeticException {
  private static final long serialVersionUID = 1L;

  private final long step;

  public TrainingDivergedException(long step, String message) {
    super(message);
    this.step = step;
  }

  /** The (1-based) step that diverged. */
  public long step() {
    return step;
  }
}
