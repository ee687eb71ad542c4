package dev.iteralite.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.model.IteraLiteModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real crash: a child JVM trains with periodic checkpoints and is killed (SIGKILL) while it
 * trains; the run is then resumed in this JVM from whatever the kill left on disk and must end
 * with parameters bit-identical to an uninterrupted run.
 */
class KillAndResumeTest {
  static final long STEPS = 100;

  @TempDir Path dir;

  @Test
  void aKilledRunResumesToTheUninterruptedResult() throws Exception {
    Path ck = dir.resolve("run");
    Files.createDirectories(ck);
    long t0 = System.nanoTime();
    Process child = startChild(ck);
    long killedAfter;
    try {
      killedAfter = waitForCheckpoint(ck, child, 15);
      assertTrue(child.isAlive(), "the child must still be training when it is killed");
      child.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the killed child did not exit");
    } finally {
      child.destroyForcibly();
    }
    System.out.printf("kill after %.2f s%n", (System.nanoTime() - t0) / 1e9);
    String log = Files.readString(ck.resolve("child.log"));
    assertTrue(!log.contains("child finished"), "the child ran to the end before the kill:\n" + log);

    // What the kill left on disk loads, and is a checkpoint from the middle of the run.
    long resumedFrom;
    try (Checkpoint.Loaded l = Checkpoint.load(ck, Backends.select())) {
      resumedFrom = l.step();
      assertTrue(resumedFrom >= killedAfter && resumedFrom < STEPS, "checkpoint step " + resumedFrom);
    }

    int[] resumed;
    TrainingResult r;
    try (IteraLiteModel m = TinyRun.model(77);
        // Checkpoint frequency does not change the numbers: fewer fsyncs from here on.
        Trainer t = new Trainer(m, KillResumeChild.config(ck).toBuilder().checkpointEvery(0).build(), TrainerTest.TRAIN,
            TrainerTest.VAL)) {
      t.tokenizer(TinyRun.tokenizer()).resumeFrom(ck);
      r = t.run();
      resumed = TrainerTest.bits(m);
    }
    assertEquals(STEPS, r.stepsCompleted());

    System.out.printf("resumed at %.2f s%n", (System.nanoTime() - t0) / 1e9);
    Path clean = dir.resolve("clean");
    int[] uninterrupted;
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, KillResumeChild.config(clean).toBuilder().checkpointEvery(0).checkpointDir(null).build(),
            TrainerTest.TRAIN, TrainerTest.VAL)) {
      t.run();
      uninterrupted = TrainerTest.bits(m);
    }
    System.out.printf("clean at %.2f s%n", (System.nanoTime() - t0) / 1e9);
    assertArrayEquals(uninterrupted, resumed, "resumed from step " + resumedFrom + " after a kill");
    // The metrics log was cut back to the checkpoint and continued: one row per step, as uninterrupted.
    assertEquals(TrainerTest.rowsWithoutThroughput(clean.resolve("metrics.csv")),
        TrainerTest.rowsWithoutThroughput(ck.resolve("metrics.csv")));
  }

  private static Process startChild(Path ck) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-Xss4m");
    for (String p : List.of("itera.backend")) {
      String v = System.getProperty(p);
      if (v != null) {
        cmd.add("-D" + p + "=" + v);
      }
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(KillResumeChild.class.getName());
    cmd.add(ck.toString());
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ck.resolve("child.log").toFile()).start();
  }

  /** Waits until the child has published a checkpoint at step >= minStep; returns that step. */
  private static long waitForCheckpoint(Path ck, Process child, long minStep) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      if (!child.isAlive()) {
        fail("the child exited (" + child.exitValue() + ") before a checkpoint at step " + minStep + ":\n"
            + Files.readString(ck.resolve("child.log")));
      }
      try {
        Optional<Path> last = Checkpoint.find(ck, Checkpoint.Which.LAST);
        if (last.isPresent()) {
          long step = Checkpoint.readTrainingState(last.get()).orElseThrow().step();
          if (step >= minStep) {
            return step;
          }
        }
      } catch (IOException e) {
        // caught between the child's rename and our read of a folder it just superseded: look again
      }
      Thread.sleep(10);
    }
    fail("no checkpoint at step >= " + minStep + " within 120 s:\n" + Files.readString(ck.resolve("child.log")));
    return -1;
  }
}
