package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class QuantizedModelTest {
  private static final int VOCAB = 97;

  private static IteraLiteModel model() {
    // widths that suit 32- and 64-weight blocks; dt_proj (K = dtRank 4) cannot be compressed
    IteraLiteConfig c = IteraLiteConfig.builder(VOCAB, 64, 2).moeEvery(2).experts(3).topK(2).ffnHidden(128).dtRank(4).build();
    return new IteraLiteModel(Backends.cpu(), c, DType.F32, 11);
  }

  /**
   * Dense blocks only: with random weights the router's logits are nearly tied, so a rounding
   * error can legitimately pick another expert and move the logits far more than the format's
   * error; closeness is measured where the computation is continuous.
   */
  private static IteraLiteModel denseModel() {
    IteraLiteConfig c = IteraLiteConfig.builder(VOCAB, 64, 2).ffnHidden(128).dtRank(4).build();
    return new IteraLiteModel(Backends.cpu(), c, DType.F32, 11);
  }

  private static int[] tokens(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(VOCAB);
    }
    return t;
  }

  /** Max |a - b| over the logits of a 30-token decode, relative to the largest reference logit. */
  private static double decodeError(IteraLiteModel m, QuantizedModel q) {
    int[] seq = tokens(30, 5);
    double err = 0;
    double scale = 1e-6;
    try (DecodeSession ref = m.newSession(); DecodeSession got = q.newSession()) {
      float[] a = ref.prefill(new int[] {seq[0]}).clone();
      float[] b = got.prefill(new int[] {seq[0]});
      for (int t = 1; ; t++) {
        for (int i = 0; i < a.length; i++) {
          scale = Math.max(scale, Math.abs(a[i]));
          err = Math.max(err, Math.abs(a[i] - b[i]));
          assertTrue(Float.isFinite(b[i]));
        }
        if (t == seq.length) {
          break;
        }
        a = ref.step(seq[t]).clone();
        b = got.step(seq[t]);
      }
    }
    return err / scale;
  }

  @Test
  void f32PlanReproducesTheModelAndCompressedFormatsStayClose() {
    try (IteraLiteModel moe = model(); QuantizedModel f32 = QuantizedModel.quantize(moe, WeightFormat.F32)) {
      assertTrue(decodeError(moe, f32) < 1e-5);
    }
    try (IteraLiteModel m = denseModel()) {
      try (QuantizedModel f32 = QuantizedModel.quantize(m, WeightFormat.F32)) {
        assertTrue(decodeError(m, f32) < 1e-5);
        assertEquals(4L * m.parameters().parameterCount(), f32.weightBytes());
      }
      double previousBits = 33;
      double previousError = 0;
      for (WeightFormat f : new WeightFormat[] {WeightFormat.BF16, WeightFormat.Q8_0, WeightFormat.Q4_0}) {
        try (QuantizedModel q = QuantizedModel.quantize(m, f)) {
          assertEquals(f.blockSize() > 4, q.keptF32().contains("blocks.0.mixer.dt_proj.weight"), f + ": " + q.keptF32());
          double err = decodeError(m, q);
          // relative to the largest logit after 30 recurrent steps of a random-weight model (small logits)
          double budget = f == WeightFormat.BF16 ? 0.03 : f == WeightFormat.Q8_0 ? 0.06 : 0.6;
          assertTrue(err < budget, f + ": relative logit error " + err + " over budget " + budget);
          assertTrue(err > previousError, f + ": error " + err + " should exceed the finer format's " + previousError);
          previousError = err;
          assertTrue(q.bitsPerWeight() < 17, f + ": " + q.bitsPerWeight() + " bits/weight");
          assertTrue(q.bitsPerWeight() <= previousBits, f + " should not be larger than the format before it");
          previousBits = q.bitsPerWeight();
        }
      }
    }
  }

  @Test
  void teacherForcedLanguageModelMatchesTheModelsLoss() {
    try (IteraLiteModel m = model(); QuantizedModel f32 = QuantizedModel.quantize(m, WeightFormat.F32)) {
      int[] in = tokens(2 * 24, 8);
      int[] tgt = tokens(2 * 24, 9);
      double want = m.loss(in, tgt, 2) * in.length;
      double got = f32.languageModel().sumNll(in, tgt, 2);
      assertEquals(want, got, 1e-4 * want);
    }
  }

  @Test
  void compressedDecodingAllocatesNothingPerTokenAndClosesCleanly() {
    long before = NativeMemory.unreleasedBytes();
    try (IteraLiteModel m = model(); QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q8_0)) {
      try (DecodeSession s = q.newSession()) {
        s.prefill(new int[] {1, 2});
        long allocations = NativeMemory.unreleasedAllocations();
        for (int t = 0; t < 100; t++) {
          s.step(t % VOCAB);
        }
        assertEquals(allocations, NativeMemory.unreleasedAllocations());
        assertThrows(IllegalArgumentException.class, () -> s.step(VOCAB));
      }
      q.close();
      assertThrows(IllegalStateException.class, q::newSession);
    }
    assertEquals(before, NativeMemory.unreleasedBytes());
  }
}
