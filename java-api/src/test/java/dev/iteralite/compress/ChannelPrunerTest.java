package dev.iteralite.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.nn.Parameter;
import dev.iteralite.tensor.DType;
import dev.iteralite.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChannelPrunerTest {
  private static final IteraLiteConfig SMALL =
      IteraLiteConfig.builder(40, 16, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(24).build();
  private static final int[] DEAD = {3, 7, 20, 31};

  @TempDir Path dir;

  /** Zeroes the out_proj and x_proj columns of the DEAD channels in every mixer. */
  private static void killChannels(IteraLiteModel m) {
    int e = m.config().dInner();
    for (int l = 0; l < m.config().nLayers(); l++) {
      for (String w : new String[] {"out_proj.weight", "x_proj.weight"}) {
        Parameter p = m.parameters().get("blocks." + l + ".mixer." + w);
        double[] v = p.value().toDoubleArray();
        for (int r = 0; r < v.length / e; r++) {
          for (int c : DEAD) {
            v[r * e + c] = 0;
          }
        }
        p.value().copyFrom(v);
      }
    }
  }

  @Test
  void channelsThatReachNothingScoreZeroAndRemovingThemChangesNothing() throws IOException {
    int[] ids = new SplittableRandom(2).ints(600, 0, 40).toArray();
    TokenSequence seq = TokenSequence.of(ids, 40);
    try (IteraLiteModel m = new IteraLiteModel(Backends.select(), SMALL, DType.F32, 3)) {
      killChannels(m);
      try (ChannelPruner.Pruned p = ChannelPruner.prune(m, 28, seq, seq, 50, null, null)) {
        ChannelPruner.Report r = p.report();
        int[] expected = IntStream.range(0, 32).filter(c -> Arrays.stream(DEAD).noneMatch(d -> d == c)).toArray();
        for (int l = 0; l < 2; l++) {
          assertArrayEquals(expected, r.kept()[l]);
          for (int c : DEAD) {
            assertEquals(0, r.scores()[l][c]);
          }
        }
        assertEquals(r.lossBefore(), r.lossAfterPrune(), 1e-5, "the removed channels reached nothing");
        IteraLiteModel q = p.model();
        assertEquals(28, q.config().dInner());
        assertEquals(28, q.mixers().get(0).config().dInner());
        assertEquals(q.config().parameterCount(), q.parameters().parameterCount());
        int k = 2 * 16 + 4 + 1 + (1 + 2 * 4) + 1 + 1 + 4 + 1 + 16; // per channel: in_proj x+z, conv, x_proj, dt, A_log, D, out_proj
        assertEquals(2L * 4 * k, r.parametersBefore() - r.parametersAfter());
        // The z half of in_proj follows the x half.
        double[] in = m.parameters().get("blocks.1.mixer.in_proj.weight").value().toDoubleArray();
        double[] inP = q.parameters().get("blocks.1.mixer.in_proj.weight").value().toDoubleArray();
        assertArrayEquals(Arrays.copyOfRange(in, (32 + 4) * 16, (32 + 5) * 16), Arrays.copyOfRange(inP, (28 + 3) * 16, (28 + 4) * 16));
        // Recurrent decoding of the narrower mixers agrees with the full forward.
        int[] prompt = Arrays.copyOf(ids, 12);
        float[] full = q.logits(prompt, 1);
        try (DecodeSession s = q.newSession()) {
          float[] a = s.prefill(Arrays.copyOf(prompt, 11));
          float[] b = s.step(prompt[11]);
          for (int j = 0; j < 40; j++) {
            assertEquals(full[10 * 40 + j], a[j], 1e-4);
            assertEquals(full[11 * 40 + j], b[j], 1e-4);
          }
        }
        // A pruned model checkpoints and loads like any other (its inner width is in config.json).
        Path ck = Checkpoint.save(dir.resolve("pruned"), q, null);
        try (Checkpoint.Loaded l = Checkpoint.load(ck, Backends.select())) {
          assertEquals(q.config(), l.model().config());
          assertEquals(q.loss(prompt, Arrays.copyOfRange(ids, 1, 13), 1), l.model().loss(prompt, Arrays.copyOfRange(ids, 1, 13), 1), 1e-6);
        }
      }
      assertThrows(IllegalArgumentException.class, () -> ChannelPruner.prune(m, 0, seq, seq, 50, null, null));
      assertThrows(IllegalArgumentException.class, () -> ChannelPruner.prune(m, 32, seq, seq, 50, null, null));
      assertThrows(IllegalArgumentException.class, () -> ChannelPruner.prune(m, 16, seq, seq, 600, null, null));
      TrainingConfig tc = TrainingConfig.builder().batchSize(2).seqLen(8).peakLr(1e-3).warmupSteps(0).totalSteps(2).build();
      assertThrows(IllegalArgumentException.class, () -> ChannelPruner.prune(m, 16, seq, seq, 50, tc, null));
    }
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(40, 16, 2).dInner(0));
  }

  @Test
  void configurationsWrittenBeforeTheInnerWidthExistedStillLoad() throws IOException {
    ObjectMapper json = new ObjectMapper();
    try (IteraLiteModel m = new IteraLiteModel(Backends.select(), SMALL, DType.F32, 3)) {
      Path ck = Checkpoint.save(dir.resolve("old"), m, null);
      Path cfg = ck.resolve(Checkpoint.CONFIG_FILE);
      ObjectNode root = (ObjectNode) json.readTree(cfg.toFile());
      assertEquals(32, root.get("config").get("dInner").asInt());
      ((ObjectNode) root.get("config")).remove("dInner");
      Files.write(cfg, json.writeValueAsBytes(root));
      try (Checkpoint.Loaded l = Checkpoint.load(ck, Backends.select())) {
        assertEquals(SMALL, l.model().config());
      }
      ((ObjectNode) root.get("config")).put("innerWidth", 5);
      Files.write(cfg, json.writeValueAsBytes(root));
      IOException e = assertThrows(IOException.class, () -> Checkpoint.load(ck, Backends.select()));
      assertTrue(e.getMessage().contains("innerWidth"), e.getMessage());
      ((ObjectNode) root.get("config")).remove("innerWidth");
      ((ObjectNode) root.get("config")).remove("expand");
      Files.write(cfg, json.writeValueAsBytes(root));
      e = assertThrows(IOException.class, () -> Checkpoint.load(ck, Backends.select()));
      assertTrue(e.getMessage().contains("expand"), e.getMessage());
    }
  }

  @Test
  void pruningAThirdOfTheChannelsOfATrainedModelThenRecovering() {
    TokenSequence calib = TrainedFixture.tokens(Arrays.copyOfRange(TrainedFixture.validBytes(), 0, 8192));
    TokenSequence eval = TrainedFixture.tokens(Arrays.copyOfRange(TrainedFixture.validBytes(), 50_000, 58_192));
    TokenSequence train = TrainedFixture.tokens(TrainedFixture.trainBytes());
    TrainingConfig recovery = TrainingConfig.builder().seed(9).batchSize(8).seqLen(32).peakLr(2e-3).warmupSteps(5)
        .totalSteps(60).lrFloorFraction(0.1).weightDecay(0.1).clipNorm(1.0).build();
    try (IteraLiteModel m = TrainedFixture.model();
        ChannelPruner.Pruned p = ChannelPruner.prune(m, 64, calib, eval, 64, recovery, train)) {
      ChannelPruner.Report r = p.report();
      System.out.printf(Locale.ROOT, "channel prune d_inner 96->64 (byte Itera-Lite, WikiText-2): params %,d -> %,d,"
          + " loss %.4f -> %.4f (pruned) -> %.4f (after %d recovery steps)%n", r.parametersBefore(), r.parametersAfter(),
          r.lossBefore(), r.lossAfterPrune(), r.lossAfterRecovery(), r.recoverySteps());
      assertEquals(96, r.innerBefore());
      assertEquals(r.parametersAfter(), p.model().config().parameterCount());
      assertTrue(r.parametersAfter() < r.parametersBefore());
      assertTrue(Double.isFinite(r.lossAfterPrune()) && r.lossAfterPrune() >= r.lossBefore() - 0.05, r.toString());
      assertTrue(r.lossAfterRecovery() < r.lossAfterPrune(), "the recovery fine-tune must win back loss: " + r);
    }
  }
}
