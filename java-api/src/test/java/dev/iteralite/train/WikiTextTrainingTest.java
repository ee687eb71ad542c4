package dev.iteralite.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.testing.TestData;
import dev.iteralite.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short real training run: a small byte-level Itera-Lite (Mamba + MoE) on WikiText-2 for a few
 * hundred steps; its validation loss must fall clearly, and the saved checkpoint must load through
 * the application entry point and evaluate to the same loss.
 */
class WikiTextTrainingTest {
  private static final int STEPS = 300;

  @TempDir Path dir;

  @Test
  void validationLossFallsOnWikiText2() throws IOException {
    byte[] train = Files.readAllBytes(TestData.require("wikitext-2/train.txt"));
    byte[] valid = Files.readAllBytes(TestData.require("wikitext-2/valid.txt"));
    ByteTokenizer tok = ByteTokenizer.instance();
    TokenSequence trainTokens = TokenSequence.of(tok.encode(Arrays.copyOf(train, 2_000_000)), tok.vocabSize());
    TokenSequence validTokens = TokenSequence.of(tok.encode(Arrays.copyOf(valid, 200_000)), tok.vocabSize());
    IteraLiteConfig mc = IteraLiteConfig.builder(256, 48, 2).dState(8).moeEvery(2).experts(4).topK(2).ffnHidden(96).build();
    Path ck = dir.resolve("wiki");
    TrainingConfig tc = TrainingConfig.builder().seed(5).batchSize(8).seqLen(32).peakLr(5e-3).warmupSteps(20).totalSteps(STEPS)
        .lrFloorFraction(0.1).weightDecay(0.1).clipNorm(1.0).evalEvery(50).evalBatches(4).checkpointDir(ck)
        .metricsCsv(ck.resolve("metrics.csv")).build();
    double initial;
    TrainingResult r;
    long t0 = System.nanoTime();
    try (IteraLiteModel m = new IteraLiteModel(Backends.select(), mc, DType.F32, 1);
        Trainer t = new Trainer(m, tc, trainTokens, validTokens)) {
      initial = t.evaluate();
      r = t.tokenizer(tok).run();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    List<String> rows = Files.readAllLines(ck.resolve("metrics.csv"));
    StringBuilder curve = new StringBuilder();
    for (String row : rows.subList(1, rows.size())) {
      String[] f = row.split(",", -1);
      if (!f[4].isEmpty()) {
        curve.append(" step ").append(f[0]).append(": ").append(f[4].substring(0, Math.min(6, f[4].length())));
      }
    }
    System.out.printf(Locale.ROOT, "WikiText-2 bytes, %,d parameters, %d steps x %d tokens in %.1f s: val loss %.3f ->%s (best %.3f at %d)%n",
        mc.parameterCount(), STEPS, tc.tokensPerStep(), seconds, initial, curve, r.bestValLoss(), r.bestStep());
    assertEquals(STEPS, r.stepsCompleted());
    assertTrue(initial > 5.0, "an untrained byte model is near ln 256 = 5.55 nats: " + initial);
    assertTrue(r.lastValLoss() < 3.0 && r.lastValLoss() < initial - 2.0,
        "validation loss must fall clearly: " + initial + " -> " + r.lastValLoss());
    // The best checkpoint is loadable through the entry point and evaluates as during training.
    try (IteraLite.LoadedModel lm = IteraLite.load(ck, Backends.select())) {
      assertEquals(STEPS, lm.step());
      EvalResult e = lm.evaluate(validTokens.slice(0, 20_000), 32);
      assertTrue(e.loss() < 3.0, "reloaded model loss " + e.loss());
      assertTrue(e.bitsPerToken() < 3.0 / Math.log(2) + 1e-9);
    }
  }
}
