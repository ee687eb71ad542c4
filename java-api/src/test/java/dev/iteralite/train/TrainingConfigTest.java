package dev.iteralite.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingConfigTest {
  @TempDir Path dir;

  private static void rejects(String field, UnaryOperator<TrainingConfig.Builder> change) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> change.apply(TrainingConfig.builder()).build(), field);
    assertTrue(e.getMessage().contains(field), "message '" + e.getMessage() + "' does not name " + field);
  }

  @Test
  void everyFieldIsValidatedWithItsName() {
    rejects("batchSize", b -> b.batchSize(0));
    rejects("seqLen", b -> b.seqLen(0));
    rejects("batchSize * seqLen", b -> b.batchSize(1 << 16).seqLen(1 << 16));
    rejects("gradAccumulation", b -> b.gradAccumulation(0));
    rejects("peakLr", b -> b.peakLr(0));
    rejects("peakLr", b -> b.peakLr(Double.NaN));
    rejects("warmupSteps", b -> b.warmupSteps(-1));
    rejects("warmupSteps", b -> b.totalSteps(10).warmupSteps(10));
    rejects("totalSteps", b -> b.totalSteps(0));
    rejects("tokenBudget", b -> b.tokenBudget(-5));
    rejects("lrFloorFraction", b -> b.lrFloorFraction(1.5));
    rejects("weightDecay", b -> b.weightDecay(-0.1));
    rejects("beta1", b -> b.betas(1.0, 0.9));
    rejects("beta2", b -> b.betas(0.9, -0.1));
    rejects("eps", b -> b.eps(0));
    rejects("clipNorm", b -> b.clipNorm(-1));
    rejects("evalEvery", b -> b.evalEvery(-1));
    rejects("evalBatches", b -> b.evalBatches(0));
    rejects("patience", b -> b.earlyStopping(-1, 0));
    rejects("patience", b -> b.evalEvery(0).earlyStopping(2, 0));
    rejects("minDelta", b -> b.earlyStopping(2, -1));
    rejects("checkpointEvery", b -> b.checkpointEvery(-1));
    rejects("checkpointEvery", b -> b.checkpointEvery(10));
    rejects("maxMinutes", b -> b.maxMinutes(-1));
    rejects("sampler", b -> b.sampler(null));
  }

  @Test
  void tokenBudgetDecidesTheStepCount() {
    TrainingConfig c = TrainingConfig.builder().batchSize(4).seqLen(16).gradAccumulation(2).warmupSteps(1).tokenBudget(1000).build();
    assertEquals(128, c.tokensPerStep());
    assertEquals(8, c.steps()); // ceil(1000 / 128)
    assertEquals(50, TrainingConfig.builder().totalSteps(50).build().steps());
  }

  @Test
  void jsonRoundTripAndDefaultsForMissingFields() throws IOException {
    TrainingConfig c = TrainingConfig.builder().seed(-7).batchSize(3).seqLen(17).gradAccumulation(2).peakLr(1e-3)
        .warmupSteps(5).totalSteps(77).lrFloorFraction(0.05).weightDecay(0.01).betas(0.8, 0.99).eps(1e-6).clipNorm(0.5)
        .evalEvery(7).evalBatches(3).earlyStopping(4, 1e-3).checkpointEvery(11).checkpointDir(Path.of("runs/x"))
        .metricsCsv(Path.of("/tmp/m.csv")).maxMinutes(1.5).sampler(TrainingConfig.SamplerKind.CONTIGUOUS).build();
    assertEquals(c, TrainingConfig.fromJson(c.toJson()));
    Path f = dir.resolve("train.json");
    c.save(f);
    assertEquals(c, TrainingConfig.load(f));
    assertTrue(c.toJson().contains("\"checkpointDir\" : \"runs/x\""), c.toJson());

    TrainingConfig partial = TrainingConfig.fromJson("{\"batchSize\": 2, \"tokenBudget\": 4096, \"warmupSteps\": 2}");
    assertEquals(2, partial.batchSize());
    assertEquals(0, partial.totalSteps());
    assertEquals(TrainingConfig.builder().build().peakLr(), partial.peakLr());
    assertEquals(16, partial.steps()); // 4096 / (2 * 128)
  }

  @Test
  void badJsonIsRejectedNamingTheField() {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("{\"batchsize\": 2}"));
    assertTrue(unknown.getMessage().contains("batchsize") && unknown.getMessage().contains("batchSize"), unknown.getMessage());
    IllegalArgumentException type = assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("{\"seqLen\": \"long\"}"));
    assertTrue(type.getMessage().contains("seqLen"), type.getMessage());
    IllegalArgumentException range = assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("{\"eps\": -1}"));
    assertTrue(range.getMessage().contains("eps"), range.getMessage());
    IllegalArgumentException sampler = assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("{\"sampler\": \"SHUFFLE\"}"));
    assertTrue(sampler.getMessage().contains("sampler"), sampler.getMessage());
    assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("[1]"));
    assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("{"));
  }
}
