package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The Transformer baseline as a {@link CompressibleModel}: the F32 plan reproduces the model's own
 * KV-cache decoding, compressed formats stay close in the order of their precision, the batched
 * prefill (one GEMM per matrix over the prompt) agrees with feeding the prompt token by token, and
 * bad tokens, full contexts and closed sessions are refused.
 */
class QuantizedTransformerTest {
  private static final int VOCAB = 97;
  private static final int SEQ = 32;

  /** Every matrix suits 32-weight blocks (dim 64, hidden 96); grouped-query heads. */
  private static TransformerModel model(boolean shared) {
    TransformerConfig c = TransformerConfig.builder(VOCAB, 64, 2).hiddenDim(96).heads(4).kvHeads(2).seqLen(SEQ)
        .sharedClassifier(shared).build();
    return new TransformerModel(Backends.cpu(), c, DType.F32, 3);
  }

  /**
   * dim 40 (head size 10, one KV head) suits no 32-weight block, so with Q8_0/Q4_0 every matrix
   * reading the residual stays F32 while {@code ffn.w2} (input width 96) is compressed: the mixed path.
   */
  private static TransformerModel oddModel() {
    TransformerConfig c = TransformerConfig.builder(VOCAB, 40, 3).hiddenDim(96).heads(4).kvHeads(1).seqLen(SEQ)
        .sharedClassifier(false).build();
    return new TransformerModel(Backends.cpu(), c, DType.F32, 5);
  }

  private static int[] tokens(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(VOCAB);
    }
    return t;
  }

  /** ||a - b|| / ||b|| (Euclidean). */
  private static double normalisedError(float[] a, float[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < b.length; i++) {
      assertTrue(Float.isFinite(a[i]), "non-finite logit at " + i);
      num += (double) (a[i] - b[i]) * (a[i] - b[i]);
      den += (double) b[i] * b[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  }

  /**
   * Logits after each position of {@code seq}: the first {@code promptLength} tokens through one
   * prefill, the rest stepped.
   */
  private static List<float[]> decode(DecodeSession s, int[] seq, int promptLength) {
    List<float[]> out = new ArrayList<>();
    out.add(s.prefill(Arrays.copyOf(seq, promptLength)).clone());
    for (int t = promptLength; t < seq.length; t++) {
      out.add(s.step(seq[t]).clone());
    }
    assertEquals(seq.length, s.position());
    return out;
  }

  /** Worst normalised error of {@code got} against {@code want} over the positions both cover (aligned at the end). */
  private static double worst(List<float[]> got, List<float[]> want) {
    double err = 0;
    int n = Math.min(got.size(), want.size());
    for (int i = 1; i <= n; i++) {
      err = Math.max(err, normalisedError(got.get(got.size() - i), want.get(want.size() - i)));
    }
    return err;
  }

  @Test
  void f32PlanDecodesLikeTheF32Model() {
    int[] seq = tokens(20, 1);
    for (boolean shared : new boolean[] {true, false}) {
      try (TransformerModel m = model(shared); QuantizedModel f32 = QuantizedModel.quantize(m, WeightFormat.F32)) {
        assertEquals(m.compressibleMatrices(), f32.keptF32());
        assertEquals(4L * m.parameters().parameterCount(), f32.weightBytes());
        List<float[]> want;
        try (DecodeSession s = m.newSession()) {
          want = decode(s, seq, 1);
        }
        try (DecodeSession s = f32.newSession()) {
          // token by token: the same F32 kernels and the same attention as the model's decoder
          assertTrue(worst(decode(s, seq, 1), want) < 1e-6, "shared=" + shared);
          // the batched prefill through the backend's GEMM, RoPE and attention
          assertTrue(worst(decode(s, seq, 12), want) < 1e-5, "shared=" + shared);
        }
        // the evaluator's view: teacher-forced loss of the compressed weights = the model's loss
        int[] in = tokens(2 * 16, 6);
        int[] tgt = tokens(2 * 16, 7);
        double loss = m.loss(in, tgt, 2);
        assertEquals(loss, f32.loss(in, tgt, 2), 1e-5 * loss);
      }
    }
  }

  @Test
  void compressedFormatsStayCloseInOrderOfPrecision() {
    int[] seq = tokens(24, 2);
    try (TransformerModel m = model(false)) {
      List<float[]> want;
      try (DecodeSession s = m.newSession()) {
        want = decode(s, seq, 1);
      }
      double previousError = 0;
      long previousBytes = Long.MAX_VALUE;
      for (WeightFormat f : new WeightFormat[] {WeightFormat.BF16, WeightFormat.Q8_0, WeightFormat.Q4_0}) {
        try (QuantizedModel q = QuantizedModel.quantize(m, f)) {
          assertTrue(q.keptF32().isEmpty(), f + " keeps " + q.keptF32());
          for (String name : m.compressibleMatrices()) {
            assertEquals(f, q.formatOf(name), name);
          }
          double err;
          try (DecodeSession s = q.newSession()) {
            err = worst(decode(s, seq, 1), want);
            err = Math.max(err, worst(decode(s, seq, 9), want));
          }
          double budget = f == WeightFormat.BF16 ? 0.01 : f == WeightFormat.Q8_0 ? 0.03 : 0.3;
          assertTrue(err < budget, f + ": normalised logit error " + err + " over budget " + budget);
          assertTrue(err > previousError, f + ": error " + err + " should exceed the finer format's " + previousError);
          previousError = err;
          assertTrue(q.weightBytes() < previousBytes, f + ": " + q.weightBytes() + " bytes");
          previousBytes = q.weightBytes();
        }
      }
    }
  }

  /**
   * Prefill sums in another order than stepping (GEMM vs GEMV, batched vs one-row attention), so
   * logits agree to float rounding; the integer formats also quantise activations, where an ulp can
   * move one value to the neighbouring int8 level (seen once in 96 random models: 4.6e-5). A wrong
   * position, cache row or mask gives errors of order one.
   */
  @Test
  void batchedPrefillThenStepsEqualsTokenByToken() {
    int[] seq = tokens(21, 3);
    for (boolean odd : new boolean[] {false, true}) {
      try (TransformerModel m = odd ? oddModel() : model(true)) {
        for (WeightFormat f : new WeightFormat[] {WeightFormat.F32, WeightFormat.BF16, WeightFormat.Q8_0, WeightFormat.Q4_0}) {
          try (QuantizedModel q = QuantizedModel.quantize(m, f)) {
            if (odd && f.blockSize() == 32) {
              assertEquals(WeightFormat.F32, q.formatOf("layers.0.attn.wq"));
              assertEquals(f, q.formatOf("layers.0.ffn.w2"));
            }
            try (DecodeSession stepped = q.newSession(); DecodeSession batched = q.newSession()) {
              List<float[]> want = decode(stepped, seq, 1);
              for (int prompt : new int[] {1, 2, 17}) {
                double err = worst(decode(batched, seq, prompt), want);
                assertTrue(err <= 1e-4, (odd ? "odd " : "") + f + ", prompt " + prompt + ": normalised error " + err);
              }
            }
          }
        }
      }
    }
  }

  @Test
  void badTokensFullContextsAndClosedSessionsAreRefused() {
    long before = NativeMemory.unreleasedBytes();
    try (TransformerModel m = model(true); TransformerModel other = model(true);
        QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q8_0)) {
      assertThrows(IllegalArgumentException.class, () -> other.newSession(q));
      assertThrows(IllegalArgumentException.class, () -> m.compressibleMatrix("norm"));
      try (DecodeSession s = q.newSession()) {
        assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[0]));
        assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {1, VOCAB}));
        assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {-1}));
        assertThrows(IllegalArgumentException.class, () -> s.prefill(tokens(SEQ + 1, 4)));
        s.prefill(new int[] {1, 2});
        assertThrows(IllegalArgumentException.class, () -> s.step(VOCAB));
        assertEquals(2, s.position());
        long allocations = NativeMemory.unreleasedAllocations();
        for (int t = 2; t < SEQ; t++) {
          s.step(t % VOCAB);
        }
        assertEquals(allocations, NativeMemory.unreleasedAllocations(), "a step allocates no native memory");
        assertThrows(IllegalStateException.class, () -> s.step(1), "the context is full");
        s.prefill(tokens(SEQ, 5)); // a prefill clears the context
        assertEquals(SEQ, s.position());
        s.close();
        assertThrows(IllegalStateException.class, () -> s.step(1));
        assertThrows(IllegalStateException.class, () -> s.prefill(new int[] {1}));
      }
      DecodeSession open = q.newSession();
      q.close();
      assertThrows(IllegalStateException.class, q::newSession);
      assertThrows(IllegalStateException.class, () -> open.step(1), "the compressed matrices are gone");
      open.close();
    }
    assertEquals(before, NativeMemory.unreleasedBytes(), "sessions and compressed copies free everything");
  }
}
