package dev.iteralite.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A tiny Itera-Lite model through the model benchmark: every figure present, positive and finite. */
class ModelBenchmarkTest {
  static final IteraLiteConfig CONFIG = IteraLiteConfig.builder(32, 16, 2).moeEvery(2).experts(4).topK(2)
      .ffnHidden(32).build();
  static final ModelBenchmark.Options OPTIONS = new ModelBenchmark.Options(8, 8, 1, 3, 7, 16, 2, 200);

  static TokenSequence randomTokens(int n, int vocab) {
    SplittableRandom r = new SplittableRandom(3);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = r.nextInt(vocab);
    }
    return TokenSequence.of(ids, vocab);
  }

  static ModelResult tinyRun(boolean withEval) {
    try (IteraLiteModel model = new IteraLiteModel(Backends.cpu(), CONFIG, DType.F32, 1)) {
      List<String> log = new ArrayList<>();
      ModelResult r = new ModelBenchmark(OPTIONS).run(BenchmarkTarget.of("tiny", model),
          withEval ? randomTokens(101, 32) : null, withEval ? 400 : -1, log::add);
      assertEquals(1 + OPTIONS.measuredRounds() + (withEval ? 1 : 0), log.size(), "one progress line per phase: " + log);
      return r;
    }
  }

  @Test
  void tinyIteraLiteRunGivesPositiveFiniteFigures() {
    long live = NativeMemory.unreleasedBytes();
    ModelResult r = tinyRun(true);
    assertEquals(live, NativeMemory.unreleasedBytes(), "model and session memory released");
    assertEquals("tiny", r.name());
    assertEquals("itera-lite", r.architecture());
    assertEquals(CONFIG.parameterCount(), r.params());
    assertEquals(4 * CONFIG.parameterCount(), r.bytes());
    assertEquals(FlopCounter.iteraLite(CONFIG), r.flopsPerToken());
    assertEquals(16, r.context());
    for (double v : new double[] {r.prefillTokensPerSec(), r.decodeTokensPerSec(), r.latencyP50Ms(), r.latencyP95Ms(),
        r.decodeGflops(), r.perplexity(), r.bitsPerByte()}) {
      assertTrue(v > 0 && Double.isFinite(v), "figure " + v + " in " + r);
    }
    assertTrue(r.latencyP50Ms() <= r.latencyP95Ms());
    assertEquals(3, r.decode().samples());
    assertTrue(r.prefill().min() <= r.prefillTokensPerSec() && r.prefillTokensPerSec() <= r.prefill().max());
    // A random-init model is close to uniform over 32 ids: perplexity near 32, never below 1.
    assertTrue(r.perplexity() > 8 && r.perplexity() < 128, "perplexity " + r.perplexity());
    assertEquals(100, r.evalTokens());
    // bits per byte = total NLL / (ln 2 · bytes) = ln(ppl) · tokens / (ln 2 · bytes)
    assertEquals(Math.log(r.perplexity()) * 100 / (Math.log(2) * 400), r.bitsPerByte(), 1e-9);
    assertTrue(r.peakRssBytes() > 0, "VmHWM is readable on Linux: " + r.peakRssScope());
    assertTrue(r.peakNativeBytes() >= r.bytes(), "the weights are native memory: " + r.peakNativeBytes());
    // Only sanity bounds: over a run of a few milliseconds the process CPU clock may not tick at
    // all, or may count JIT, GC and other tests' threads (CI measured 0.0 and 1.58 of the cores).
    assertTrue(Double.isFinite(r.cpuUtilisation()) && r.cpuUtilisation() >= 0 && r.cpuUtilisation() < 16,
        "cpu " + r.cpuUtilisation());
    if (!r.energy().available()) {
      assertFalse(r.energy().reason().isBlank());
      assertTrue(Double.isNaN(r.energy().joulesPerToken()));
    }
  }

  @Test
  void transformerBaselineGoesThroughTheSameInterface() {
    TransformerConfig cfg = new TransformerConfig(16, 32, 2, 2, 1, 32, 64, true);
    try (TransformerModel model = new TransformerModel(Backends.cpu(), cfg, DType.F32, 1)) {
      ModelResult r = new ModelBenchmark(OPTIONS).run(BenchmarkTarget.of("tf", model), randomTokens(101, 32), -1,
          s -> {});
      assertEquals("transformer", r.architecture());
      assertEquals(cfg.parameterCount(), r.params());
      assertEquals(FlopCounter.transformer(cfg, 16), r.flopsPerToken(), "attention FLOPs at context P + D");
      assertTrue(r.decodeTokensPerSec() > 0 && Double.isFinite(r.decodeTokensPerSec()));
      assertTrue(r.perplexity() > 8 && r.perplexity() < 128, "near-uniform at init: " + r.perplexity());
      assertTrue(Double.isNaN(r.bitsPerByte()), "byte count unknown");
    }
  }

  @Test
  void withoutEvalDataQualityIsUnknown() {
    ModelResult r = tinyRun(false);
    assertTrue(Double.isNaN(r.perplexity()) && Double.isNaN(r.bitsPerByte()));
    assertEquals(0, r.evalTokens());
  }

  @Test
  void badArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new ModelBenchmark.Options(0, 8, 1, 3, 7, 16, 2, 200));
    assertThrows(IllegalArgumentException.class, () -> new ModelBenchmark.Options(8, 8, -1, 3, 7, 16, 2, 200));
    IllegalArgumentException rounds =
        assertThrows(IllegalArgumentException.class, () -> ModelBenchmark.Options.defaults().withRounds(1, 0));
    assertTrue(rounds.getMessage().contains("measuredRounds"), rounds.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Spread.of());
    assertThrows(IllegalArgumentException.class, () -> Spread.of(1, Double.NaN));
    try (IteraLiteModel model = new IteraLiteModel(Backends.cpu(), CONFIG, DType.F32, 1)) {
      BenchmarkTarget t = BenchmarkTarget.of("tiny", model);
      ModelBenchmark b = new ModelBenchmark(OPTIONS);
      IllegalArgumentException vocab = assertThrows(IllegalArgumentException.class,
          () -> b.run(t, randomTokens(50, 64), -1, s -> {}));
      assertTrue(vocab.getMessage().contains("vocabulary 64"), vocab.getMessage());
      assertThrows(IllegalArgumentException.class, () -> b.run(t, randomTokens(50, 32), 0, s -> {}));
      assertThrows(IllegalArgumentException.class, () -> BenchmarkTarget.of(" ", model));
    }
  }

  @Test
  void spreadPercentiles() {
    Spread s = Spread.of(4, 1, 3, 2, 5);
    assertEquals(1, s.min());
    assertEquals(2, s.q1());
    assertEquals(3, s.median());
    assertEquals(4, s.q3());
    assertEquals(5, s.max());
    assertEquals(2, s.iqr());
    assertEquals(2.5, Spread.of(2, 3).median());
  }
}
