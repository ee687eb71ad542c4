package dev.iteralite.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.Batch;
import dev.iteralite.data.RandomWindowSampler;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.nn.Parameter;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
  @TempDir Path dir;

  static final TokenSequence TRAIN = TinyRun.data(20_000, 1);
  static final TokenSequence VAL = TinyRun.data(4_000, 2);

  static int[] bits(IteraLiteModel m) {
    float[] v = m.parameters().values().toFloatArray();
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return b;
  }

  /** CSV rows without the wall-clock throughput column. */
  static List<String> rowsWithoutThroughput(Path csv) throws IOException {
    List<String> out = new ArrayList<>();
    for (String line : Files.readAllLines(csv)) {
      String[] f = line.split(",", -1);
      f[6] = "";
      out.add(String.join(",", f));
    }
    return out;
  }

  @Test
  void lossFallsAndTheCsvHasTheDocumentedColumns() throws IOException {
    long live = NativeMemory.unreleasedBytes();
    Path csv = dir.resolve("metrics.csv");
    List<TrainingListener.StepReport> reports = new ArrayList<>();
    TrainingResult r;
    double initialVal;
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, TinyRun.config().totalSteps(60).metricsCsv(csv).build(), TRAIN, VAL)) {
      initialVal = t.evaluate();
      r = t.listener(new TrainingListener() {
        @Override
        public void onStep(StepReport report) {
          reports.add(report);
        }
      }).run();
    }
    assertEquals(live, NativeMemory.unreleasedBytes());
    assertEquals(TrainingResult.StopReason.COMPLETED, r.stopReason());
    assertEquals(60, r.stepsCompleted());
    assertEquals(60L * 4 * 16, r.tokensSeen());
    assertTrue(initialVal > 2.7, "an untrained model is near ln 20 = 3.0: " + initialVal);
    assertTrue(r.lastValLoss() < initialVal - 0.8, "validation loss " + initialVal + " -> " + r.lastValLoss());
    assertEquals(60, reports.size());
    assertEquals(0, reports.get(59).etaSeconds());
    assertTrue(reports.get(10).etaSeconds() > 0);

    List<String> lines = Files.readAllLines(csv);
    assertEquals(Trainer.CSV_HEADER, lines.get(0));
    assertEquals("step,tokens_seen,lr,train_loss,val_loss,grad_norm,tokens_per_s,aux_loss,expert_load", lines.get(0));
    assertEquals(61, lines.size());
    for (int s = 1; s <= 60; s++) {
      String[] f = lines.get(s).split(",", -1);
      assertEquals(9, f.length, lines.get(s));
      assertEquals(s, Long.parseLong(f[0]));
      assertEquals(s * 64L, Long.parseLong(f[1]));
      assertEquals(reports.get(s - 1).learningRate(), Double.parseDouble(f[2]));
      assertEquals(s % 10 == 0, !f[4].isEmpty(), "val_loss only on evaluation steps: " + lines.get(s));
      assertTrue(Double.parseDouble(f[5]) > 0);
      assertTrue(Double.parseDouble(f[7]) > 0, "the MoE layer has an auxiliary loss");
      String[] load = f[8].split(";");
      assertEquals(3, load.length, "one MoE layer of 3 experts");
      double sum = 0;
      for (String x : load) {
        sum += Double.parseDouble(x);
      }
      assertEquals(1.0, sum, 1e-3);
    }
    // Warm-up then cosine decay to the floor.
    assertEquals(1e-2 / 5, reports.get(0).learningRate(), 1e-15);
    assertEquals(1e-2, reports.get(4).learningRate(), 1e-15);
    assertTrue(reports.get(30).learningRate() < reports.get(10).learningRate());
  }

  /** Accumulation sums the micro-batch gradients and scales by 1/n: the reported norm is that of the mean gradient. */
  @Test
  void gradientAccumulationAveragesTheMicroBatches() {
    TrainingConfig c = TinyRun.config().gradAccumulation(3).clipNorm(0).build();
    double expected;
    try (IteraLiteModel m = TinyRun.model(3); dev.iteralite.tensor.Arena arena = dev.iteralite.tensor.Arena.open()) {
      RandomWindowSampler s = new RandomWindowSampler(TRAIN, c.batchSize(), c.seqLen(), c.seed());
      m.parameters().zeroGrads(m.backend());
      for (int b = 0; b < 3; b++) {
        Batch batch = s.batch(b);
        m.forwardBackward(batch.inputs(), batch.targets(), c.batchSize(), arena);
      }
      expected = m.parameters().gradNorm(m.backend()) / 3;
    }
    List<Double> norms = new ArrayList<>();
    try (IteraLiteModel m = TinyRun.model(3); Trainer t = new Trainer(m, c.toBuilder().totalSteps(6).build(), TRAIN, VAL)) {
      TrainingResult r = t.listener(new TrainingListener() {
        @Override
        public void onStep(StepReport report) {
          norms.add(report.gradNorm());
        }
      }).run();
      assertEquals(6 * 3 * 64, r.tokensSeen());
    }
    assertEquals(expected, norms.get(0), 1e-12 * expected);
  }

  @Test
  void noDecayOnNormsBiasesAlogDAndDtBias() {
    try (IteraLiteModel m = TinyRun.model(1)) {
      for (Parameter p : m.parameters().parameters()) {
        String n = p.name();
        boolean noDecay = n.contains("norm") || n.endsWith(".bias") || n.endsWith(".A_log") || n.endsWith(".D");
        assertEquals(!noDecay, p.weightDecay(), n);
      }
      Set<String> names = new java.util.HashSet<>();
      m.parameters().parameters().forEach(p -> names.add(p.name()));
      assertTrue(names.containsAll(List.of("blocks.0.mixer.A_log", "blocks.0.mixer.D", "blocks.0.mixer.dt_proj.bias",
          "blocks.0.norm1.weight", "final_norm.weight")), names.toString());
    }
  }

  /** 20 steps, an interruption right after the step-20 checkpoint, a resume to 40 == an uninterrupted 40-step run. */
  @Test
  void resumeContinuesBitForBit() throws IOException {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    TrainingConfig.Builder base = TinyRun.config().gradAccumulation(2).totalSteps(40).checkpointEvery(20).earlyStopping(50, 0);
    int[] uninterrupted;
    TrainingResult ra;
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, base.checkpointDir(a).metricsCsv(a.resolve("m.csv")).build(), TRAIN, VAL)) {
      ra = t.tokenizer(TinyRun.tokenizer()).run();
      uninterrupted = bits(m);
    }
    TrainingConfig cb = base.checkpointDir(b).metricsCsv(b.resolve("m.csv")).build();
    try (IteraLiteModel m = TinyRun.model(3); Trainer t = new Trainer(m, cb, TRAIN, VAL)) {
      t.tokenizer(TinyRun.tokenizer()).listener(new TrainingListener() {
        @Override
        public void onCheckpoint(long step, Path directory, boolean best) {
          if (step == 20) {
            throw new IllegalStateException("interrupted");
          }
        }
      });
      assertThrows(IllegalStateException.class, t::run);
      assertFalse(java.util.Arrays.equals(uninterrupted, bits(m)));
    }
    TrainingResult rb;
    try (IteraLiteModel m = TinyRun.model(99); Trainer t = new Trainer(m, cb, TRAIN, VAL)) {
      assertEquals(20, t.tokenizer(TinyRun.tokenizer()).resumeFrom(b).step());
      rb = t.run();
      assertArrayEquals(uninterrupted, bits(m), "parameters after 20 + 20 steps differ from 40 uninterrupted steps");
    }
    assertEquals(ra.stepsCompleted(), rb.stepsCompleted());
    assertEquals(ra.tokensSeen(), rb.tokensSeen());
    assertEquals(Double.doubleToRawLongBits(ra.finalTrainLoss()), Double.doubleToRawLongBits(rb.finalTrainLoss()));
    assertEquals(Double.doubleToRawLongBits(ra.bestValLoss()), Double.doubleToRawLongBits(rb.bestValLoss()));
    assertEquals(ra.bestStep(), rb.bestStep());
    assertEquals(rowsWithoutThroughput(a.resolve("m.csv")), rowsWithoutThroughput(b.resolve("m.csv")));
    // The final checkpoints hold the same weights and optimiser state.
    try (Checkpoint.Loaded la = Checkpoint.load(a, Backends.select());
        Checkpoint.Loaded lb = Checkpoint.load(b, Backends.select())) {
      assertArrayEquals(bits((IteraLiteModel) la.model()), bits((IteraLiteModel) lb.model()));
      assertEquals(40, Checkpoint.readTrainingState(lb.directory()).orElseThrow().step());
    }
  }

  /** The same pipeline trains the Transformer baseline through CausalLm: 10 + 10 resumed steps == 20 steps. */
  @Test
  void transformerTrainsAndResumesBitForBitToo() throws IOException {
    TransformerConfig tc = TransformerConfig.builder(20, 16, 2).build();
    Path a = dir.resolve("ta");
    TrainingConfig.Builder base = TinyRun.config().totalSteps(20);
    float[] uninterrupted;
    double before;
    TrainingResult r;
    try (TransformerModel m = new TransformerModel(Backends.select(), tc, DType.F32, 3);
        Trainer t = new Trainer(m, base.build(), TRAIN, VAL)) {
      before = t.evaluate();
      r = t.run();
      uninterrupted = m.parameters().values().toFloatArray();
    }
    assertTrue(r.lastValLoss() < before - 0.3, "transformer validation loss " + before + " -> " + r.lastValLoss());
    try (TransformerModel m = new TransformerModel(Backends.select(), tc, DType.F32, 3);
        Trainer t = new Trainer(m, base.checkpointDir(a).checkpointEvery(10).build(), TRAIN, VAL)) {
      t.tokenizer(TinyRun.tokenizer()).listener(new TrainingListener() {
        @Override
        public void onCheckpoint(long step, Path directory, boolean best) {
          if (step == 10) {
            throw new IllegalStateException("interrupted");
          }
        }
      });
      assertThrows(IllegalStateException.class, t::run);
    }
    try (TransformerModel m = new TransformerModel(Backends.select(), tc, DType.F32, 8);
        Trainer t = new Trainer(m, base.checkpointDir(a).build(), TRAIN, VAL)) {
      t.tokenizer(TinyRun.tokenizer()).resumeFrom(a).run();
      float[] resumed = m.parameters().values().toFloatArray();
      for (int i = 0; i < resumed.length; i++) {
        assertEquals(Float.floatToRawIntBits(uninterrupted[i]), Float.floatToRawIntBits(resumed[i]), "element " + i);
      }
    }
  }

  /** The time budget ends a run with a checkpoint; with the contiguous sampler, resuming it matches an uninterrupted run. */
  @Test
  void timeBudgetStopsWithACheckpointAndContiguousSamplingResumesExactly() throws IOException {
    Path a = dir.resolve("tb");
    TrainingConfig.Builder base = TinyRun.config().totalSteps(12).sampler(TrainingConfig.SamplerKind.CONTIGUOUS);
    int[] uninterrupted;
    try (IteraLiteModel m = TinyRun.model(3); Trainer t = new Trainer(m, base.build(), TRAIN, VAL)) {
      t.run();
      uninterrupted = bits(m);
    }
    TrainingResult first;
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, base.checkpointDir(a).maxMinutes(1e-9).build(), TRAIN, VAL)) {
      first = t.tokenizer(TinyRun.tokenizer()).run();
    }
    assertEquals(TrainingResult.StopReason.TIME_BUDGET, first.stopReason());
    assertEquals(1, first.stepsCompleted());
    assertEquals(a.resolve("step-00000001"), first.lastCheckpoint());
    try (IteraLiteModel m = TinyRun.model(5);
        Trainer t = new Trainer(m, base.checkpointDir(a).maxMinutes(0).build(), TRAIN, VAL)) {
      TrainingResult r = t.tokenizer(TinyRun.tokenizer()).resumeFrom(a).run();
      assertEquals(TrainingResult.StopReason.COMPLETED, r.stopReason());
      assertArrayEquals(uninterrupted, bits(m));
    }
  }

  @Test
  void resumeRefusesAnotherDataOrder() throws IOException {
    Path a = dir.resolve("a");
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, TinyRun.config(a).totalSteps(10).build(), TRAIN, VAL)) {
      t.tokenizer(TinyRun.tokenizer()).run();
    }
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, TinyRun.config(a).totalSteps(20).seed(12).build(), TRAIN, VAL)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.resumeFrom(a));
      assertTrue(e.getMessage().contains("seed 11 vs 12"), e.getMessage());
    }
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, TinyRun.config(dir.resolve("none")).build(), TRAIN, VAL)) {
      assertThrows(IOException.class, () -> t.resumeFrom(dir.resolve("none")));
    }
  }

  /** minDelta larger than any possible gain: the first evaluation is the best, two more end the run and restore it. */
  @Test
  void earlyStoppingStopsAfterPatienceAndKeepsTheBestWeights() throws IOException {
    Path ck = dir.resolve("es");
    List<int[]> atEval = new ArrayList<>();
    TrainingResult r;
    int[] finalBits;
    try (IteraLiteModel m = TinyRun.model(3);
        Trainer t = new Trainer(m, TinyRun.config(ck).evalEvery(5).earlyStopping(2, 100).build(), TRAIN, VAL)) {
      r = t.tokenizer(TinyRun.tokenizer()).listener(new TrainingListener() {
        @Override
        public void onEvaluation(long step, double valLoss, boolean improved) {
          atEval.add(bits(m));
        }
      }).run();
      finalBits = bits(m);
    }
    assertEquals(TrainingResult.StopReason.EARLY_STOPPED, r.stopReason());
    assertEquals(15, r.stepsCompleted());
    assertEquals(5, r.bestStep());
    assertEquals(3, atEval.size());
    assertArrayEquals(atEval.get(0), finalBits, "the model must hold the step-5 weights");
    assertFalse(java.util.Arrays.equals(atEval.get(0), atEval.get(2)));
    try (Checkpoint.Loaded best = Checkpoint.load(ck, Checkpoint.Which.BEST, Backends.select());
        Checkpoint.Loaded last = Checkpoint.load(ck, Backends.select())) {
      assertArrayEquals(atEval.get(0), bits((IteraLiteModel) best.model()));
      assertArrayEquals(atEval.get(2), bits((IteraLiteModel) last.model()));
      assertEquals(5, best.step());
      assertEquals(15, last.step());
    }
  }

  @Test
  void aNanLossThrowsAndLeavesTheLastCheckpointIntact() throws IOException {
    Path ck = dir.resolve("nan");
    TrainingConfig c = TinyRun.config(ck).totalSteps(20).checkpointEvery(5).build();
    int[] saved;
    try (IteraLiteModel m = TinyRun.model(3); Trainer t = new Trainer(m, c.toBuilder().totalSteps(10).warmupSteps(5).build(), TRAIN, VAL)) {
      t.tokenizer(TinyRun.tokenizer()).run();
      saved = bits(m);
    }
    try (IteraLiteModel m = TinyRun.model(3); Trainer t = new Trainer(m, c, TRAIN, VAL)) {
      t.tokenizer(TinyRun.tokenizer()).resumeFrom(ck);
      m.parameters().get("final_norm.weight").value().setDouble(Double.NaN, 0);
      TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::run);
      assertEquals(11, e.step());
      assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("step 11"), e.getMessage());
    }
    try (Checkpoint.Loaded l = Checkpoint.load(ck, Backends.select())) {
      assertEquals(10, l.step());
      assertArrayEquals(saved, bits((IteraLiteModel) l.model()));
    }
  }

  @Test
  void badSetupsAreRejected() {
    try (IteraLiteModel m = TinyRun.model(3)) {
      TrainingConfig c = TinyRun.config().build();
      IllegalArgumentException vocab = assertThrows(IllegalArgumentException.class,
          () -> new Trainer(m, c, TokenSequence.of(new int[100], 50), VAL));
      assertTrue(vocab.getMessage().contains("50"), vocab.getMessage());
      IllegalArgumentException shortSeq = assertThrows(IllegalArgumentException.class,
          () -> new Trainer(m, c, TRAIN, TokenSequence.of(new int[10], 20)));
      assertTrue(shortSeq.getMessage().contains("validation"), shortSeq.getMessage());
      assertThrows(IllegalArgumentException.class, () -> new Trainer(m, TinyRun.config().earlyStopping(2, 0).build(), TRAIN, null));
      try (Trainer t = new Trainer(m, TinyRun.config(dir).build(), TRAIN, VAL)) {
        IllegalStateException noTok = assertThrows(IllegalStateException.class, t::run);
        assertTrue(noTok.getMessage().contains("tokenizer"), noTok.getMessage());
      }
    }
  }
}
