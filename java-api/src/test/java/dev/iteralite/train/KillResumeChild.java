package dev.iteralite.train;

import dev.iteralite.model.IteraLiteModel;
import java.nio.file.Path;

/**
 * The child JVM of {@link KillAndResumeTest}: trains the tiny run with a checkpoint every 5 steps,
 * slowed by a sleep per step (which changes no number) so the parent can kill it mid-run.
 */
public final class KillResumeChild {
  private KillResumeChild() {}

  static TrainingConfig config(Path dir) {
    return TinyRun.config(dir).totalSteps(KillAndResumeTest.STEPS).checkpointEvery(5).metricsCsv(dir.resolve("metrics.csv"))
        .build();
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    try (IteraLiteModel m = TinyRun.model(3); Trainer t = new Trainer(m, config(dir), TrainerTest.TRAIN, TrainerTest.VAL)) {
      t.tokenizer(TinyRun.tokenizer()).listener(new TrainingListener() {
        @Override
        public void onStep(StepReport report) {
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }).run();
    }
    System.out.println("child finished");
  }
}
