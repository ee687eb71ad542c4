package dev.iteralite.optim;

/** Learning rate as a function of the (0-based) step. */
@FunctionalInterface
public interface LearningRateSchedule {
  double at(long step);

  /** A constant rate. */
  static LearningRateSchedule constant(double lr) {
    return s -> lr;
  }

  /**
   * Linear warm-up from 0 to {@code peak} over {@code warmupSteps}, then cosine decay to {@code
   * peak * floorFraction} at {@code totalSteps}, constant after that (as llm.c's scheduler).
   */
  static LearningRateSchedule warmupCosine(double peak, long warmupSteps, long totalSteps, double floorFraction) {
    if (!(peak > 0) || warmupSteps < 0 || totalSteps <= warmupSteps || floorFraction < 0 || floorFraction > 1) {
      throw new IllegalArgumentException(
          "warmupCosine needs peak > 0, 0 <= warmup < total, floor in [0, 1]; got peak=" + peak + " warmup=" + warmupSteps
              + " total=" + totalSteps + " floor=" + floorFraction);
    }
    double floor = peak * floorFraction;
    return s -> {
      if (s < warmupSteps) {
        return peak * (s + 1) / warmupSteps;
      }
      if (s >= totalSteps) {
        return floor;
      }
      double progress = (double) (s - warmupSteps) / (totalSteps - warmupSteps);
      return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  }
}
