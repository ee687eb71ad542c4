package dev.iteralite.maven;

import dev.iteralite.train.TrainingListener;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Turns the trainer's events into short log lines (one every {@code every} steps, plus the first and
 * the last step and every evaluation), which read the same in a terminal and in a CI log: no
 * carriage returns, no progress bar redrawing.
 */
final class TrainProgress implements TrainingListener {
  private final Consumer<String> log;
  private final long every;

  TrainProgress(Consumer<String> log, long every) {
    this.log = log;
    this.every = every;
  }

  @Override
  public void onStep(StepReport r) {
    if (r.step() == 1 || r.step() % every == 0 || r.step() == r.totalSteps()) {
      log.accept(line(r));
    }
  }

  @Override
  public void onEvaluation(long step, double valLoss, boolean improved) {
    log.accept(String.format(Locale.ROOT, "  eval @ step %d: val loss %.4f (ppl %.2f)%s", step, valLoss,
        Math.exp(valLoss), improved ? ", new best" : ""));
  }

  @Override
  public void onCheckpoint(long step, Path directory, boolean best) {
    log.accept("  checkpoint @ step " + step + (best ? " (best)" : "") + ": " + directory.getFileName());
  }

  static String line(StepReport r) {
    int width = Long.toString(r.totalSteps()).length();
    return String.format(Locale.ROOT, "step %" + width + "d/%d (%3d%%) loss %.4f lr %.2e %,.0f tok/s ETA %s",
        r.step(), r.totalSteps(), r.totalSteps() == 0 ? 100 : 100 * r.step() / r.totalSteps(), r.trainLoss(),
        r.learningRate(), r.tokensPerSecond(), duration(r.etaSeconds()));
  }

  static String duration(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "?";
    }
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
        : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
  }
}
