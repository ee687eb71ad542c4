package dev.iteralite.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.nn.Parameter;
import dev.iteralite.tensor.DType;
import dev.iteralite.train.TrainingConfig;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ExpertPrunerTest {
  @Test
  void pruningTheLeastLoadedExpertsOfATrainedModelThenRecovering() {
    TokenSequence calib = TrainedFixture.tokens(Arrays.copyOfRange(TrainedFixture.validBytes(), 0, 8192));
    TokenSequence eval = TrainedFixture.tokens(Arrays.copyOfRange(TrainedFixture.validBytes(), 50_000, 58_192));
    TokenSequence train = TrainedFixture.tokens(TrainedFixture.trainBytes());
    TrainingConfig recovery = TrainingConfig.builder().seed(9).batchSize(8).seqLen(32).peakLr(2e-3).warmupSteps(5)
        .totalSteps(60).lrFloorFraction(0.1).weightDecay(0.1).clipNorm(1.0).build();
    try (IteraLiteModel m = TrainedFixture.model();
        ExpertPruner.Pruned p = ExpertPruner.prune(m, 3, calib, eval, 64, recovery, train)) {
      ExpertPruner.Report r = p.report();
      System.out.printf(Locale.ROOT, "expert prune 6->3 (byte Itera-Lite, WikiText-2): params %,d -> %,d, loss %.4f -> %.4f"
          + " (pruned) -> %.4f (after %d recovery steps); load %s removed %s%n", r.parametersBefore(),
          r.parametersAfter(), r.lossBefore(), r.lossAfterPrune(), r.lossAfterRecovery(), r.recoverySteps(),
          Arrays.deepToString(r.load()), Arrays.deepToString(r.removed()));
      IteraLiteConfig c = TrainedFixture.CONFIG;
      assertEquals(3, p.model().config().experts());
      assertEquals(2, p.model().config().topK());
      long perExpert = c.dModel() + 3L * c.ffnHidden() * c.dModel();
      assertEquals(2 * 3 * perExpert, r.parametersBefore() - r.parametersAfter()); // two MoE layers
      assertEquals(r.parametersAfter(), p.model().config().parameterCount());
      for (int l = 0; l < 2; l++) {
        long[] load = r.load()[l];
        long maxRemoved = Arrays.stream(r.removed()[l]).mapToLong(i -> load[i]).max().orElseThrow();
        for (int e = 0; e < load.length; e++) {
          final int ex = e;
          if (Arrays.stream(r.removed()[l]).noneMatch(i -> i == ex)) {
            assertTrue(load[e] >= maxRemoved, "a kept expert must carry at least the load of every removed one");
          }
        }
        // 8191 tokens x top-2 routed slots per layer.
        assertEquals(8191L * 2, Arrays.stream(load).sum());
      }
      assertTrue(Double.isFinite(r.lossAfterPrune()) && r.lossAfterPrune() > 0);
      assertTrue(r.lossAfterRecovery() < r.lossAfterPrune(), "the recovery fine-tune must win back loss: " + r);
      assertEquals(60, r.recoverySteps());
    }
  }

  @Test
  void removingAnExpertThatIsNeverRoutedChangesNothingAndTheWeightsAreTheSurvivors() {
    // Router rows u, -u, 0 with top-1: one of u.x and -u.x is >= 0, so expert 2 never wins.
    IteraLiteConfig c = IteraLiteConfig.builder(40, 16, 2).dState(4).moeEvery(2).experts(3).topK(1).ffnHidden(24).build();
    int[] ids = new SplittableRandom(2).ints(400, 0, 40).toArray();
    TokenSequence seq = TokenSequence.of(ids, 40);
    try (IteraLiteModel m = new IteraLiteModel(Backends.select(), c, DType.F32, 3)) {
      Parameter router = m.parameters().get("blocks.1.moe.router.weight");
      double[] w = router.value().toDoubleArray();
      for (int j = 0; j < 16; j++) {
        w[16 + j] = -w[j];
        w[32 + j] = 0;
      }
      router.value().copyFrom(w);
      try (ExpertPruner.Pruned p = ExpertPruner.prune(m, 1, seq, seq, 50, null, null)) {
        ExpertPruner.Report r = p.report();
        assertEquals(0, r.load()[0][2]);
        assertArrayEquals(new int[] {2}, r.removed()[0]);
        assertEquals(r.lossBefore(), r.lossAfterPrune(), 1e-5, "top-1 weights renormalise: nothing changes");
        assertTrue(Double.isNaN(r.lossAfterRecovery()));
        double[] w1 = m.parameters().get("blocks.1.moe.w1").value().toDoubleArray();
        double[] w1p = p.model().parameters().get("blocks.1.moe.w1").value().toDoubleArray();
        assertArrayEquals(Arrays.copyOf(w1, 2 * 24 * 16), w1p);
        assertArrayEquals(m.parameters().get("blocks.0.mixer.A_log").value().toDoubleArray(),
            p.model().parameters().get("blocks.0.mixer.A_log").value().toDoubleArray());
      }
      assertThrows(IllegalArgumentException.class, () -> ExpertPruner.prune(m, 0, seq, seq, 50, null, null));
      assertThrows(IllegalArgumentException.class, () -> ExpertPruner.prune(m, 3, seq, seq, 50, null, null));
      TrainingConfig tc = TrainingConfig.builder().batchSize(2).seqLen(8).peakLr(1e-3).warmupSteps(0).totalSteps(2).build();
      assertThrows(IllegalArgumentException.class, () -> ExpertPruner.prune(m, 1, seq, seq, 50, tc, null));
      assertThrows(IllegalArgumentException.class,
          () -> ExpertPruner.prune(m, 1, TokenSequence.of(ids, 300), seq, 50, null, null));
    }
    try (IteraLiteModel dense = new IteraLiteModel(Backends.select(), IteraLiteConfig.builder(40, 16, 1).build(), DType.F32, 3)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ExpertPruner.prune(dense, 1, seq, seq, 50, null, null));
      assertTrue(e.getMessage().contains("no MoE"), e.getMessage());
    }
  }
}
