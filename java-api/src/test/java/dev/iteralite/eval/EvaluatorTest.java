package dev.iteralite.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenFile;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Evaluation: formulas on hand-computed numbers, exact coverage of every target, argument checks, a real model. */
class EvaluatorTest {
  private static final double LN2 = Math.log(2);

  /** Assigns probability 1/V to every target. */
  private static LanguageModel uniform(int vocab) {
    return new LanguageModel() {
      @Override
      public int vocabSize() {
        return vocab;
      }

      @Override
      public double sumNll(int[] inputs, int[] targets, int batch) {
        assertEquals(inputs.length, targets.length);
        assertEquals(0, inputs.length % batch);
        return targets.length * Math.log(vocab);
      }
    };
  }

  private static int[] ids(int n, int vocab, long seed) {
    Random r = new Random(seed);
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = r.nextInt(vocab);
    }
    return a;
  }

  @Test
  void uniformModelGivesLnVAndPerplexityV() {
    int v = 50;
    EvalResult r = new Evaluator(8, 3).evaluate(uniform(v), TokenSequence.of(ids(101, v, 1), v));
    assertEquals(100, r.tokens());
    assertEquals(Math.log(v), r.loss(), 1e-12);
    assertEquals(v, r.perplexity(), 1e-9);
    assertEquals(Math.log(v) / LN2, r.bitsPerToken(), 1e-12);
    assertEquals(100 * Math.log(v), r.totalNll(), 1e-9);
    assertFalse(r.hasBytes());
    assertFalse(r.hasWords());
    assertTrue(Double.isNaN(r.bitsPerByte()));
    assertTrue(Double.isNaN(r.wordPerplexity()));
  }

  @Test
  void bitsPerByteAndWordPerplexityOnHandComputedNumbers() {
    // 10 ids -> 9 targets at p = 1/2 each: total NLL = 9 ln 2 nats = 9 bits.
    EvalResult r = new Evaluator(4, 2).evaluate(uniform(2), TokenSequence.of(ids(10, 2, 2), 2), 18, 3);
    assertEquals(9, r.tokens());
    assertEquals(9 * LN2, r.totalNll(), 1e-12);
    assertEquals(0.5, r.bitsPerByte(), 1e-12); // 9 bits / 18 bytes
    assertEquals(8.0, r.wordPerplexity(), 1e-9); // exp(9 ln 2 / 3) = 2^3
    assertEquals(2.0, r.perplexity(), 1e-12);
    assertEquals(1.0, r.bitsPerToken(), 1e-12);
    String s = r.toString();
    assertTrue(s.contains("bits/byte") && s.contains("word ppl 8.000") && s.contains("ppl 2.000"), s);

    // Direct record: 1000 nats over 400 tokens, 900 bytes, 250 words.
    EvalResult d = new EvalResult(1000, 400, 900, 250);
    assertEquals(2.5, d.loss(), 1e-12);
    assertEquals(Math.exp(2.5), d.perplexity(), 1e-9);
    assertEquals(1000 / (LN2 * 900), d.bitsPerByte(), 1e-12);
    assertEquals(Math.exp(4.0), d.wordPerplexity(), 1e-9);
    // BPB = (loss / ln 2) * (tokens / bytes)
    assertEquals(d.bitsPerToken() * 400 / 900, d.bitsPerByte(), 1e-12);
  }

  @Test
  void tokenFileSuppliesTheByteCount(@TempDir Path dir) throws IOException {
    Path p = dir.resolve("t.tok");
    TokenFile.write(p, ids(33, 16, 3), 16, "test", 64);
    try (TokenFile f = TokenFile.open(p)) {
      EvalResult r = new Evaluator(5, 4).evaluate(uniform(16), f, 8);
      assertEquals(32, r.tokens());
      assertEquals(64, r.sourceBytes());
      assertEquals(32 * 4.0 / 64, r.bitsPerByte(), 1e-12); // 4 bits per token, 32 tokens, 64 bytes
      assertEquals(Math.exp(32 * Math.log(16) / 8), r.wordPerplexity(), 1e-6);
    }
  }

  @Test
  void everyTargetIsCountedExactlyOnceIncludingTheRaggedTail() {
    for (int n : new int[] {2, 3, 7, 8, 9, 17, 64, 65, 100}) {
      for (int window : new int[] {1, 3, 8, 200}) {
        for (int batch : new int[] {1, 2, 5}) {
          int[] seq = new int[n];
          for (int i = 0; i < n; i++) {
            seq[i] = i; // id == position
          }
          int[] seen = new int[n];
          List<Integer> calls = new ArrayList<>();
          final int w = window;
          final int bs = batch;
          LanguageModel m = new LanguageModel() {
            @Override
            public int vocabSize() {
              return n;
            }

            @Override
            public double sumNll(int[] inputs, int[] targets, int b) {
              assertTrue(b >= 1 && b <= bs);
              int len = inputs.length / b;
              assertEquals(inputs.length, len * b);
              assertTrue(len <= w);
              assertTrue(b == 1 || len == w, "only full windows are batched");
              for (int k = 0; k < b; k++) {
                assertEquals(0, inputs[k * len] % w, "window starts on a multiple of L");
                for (int t = 0; t < len; t++) {
                  int i = k * len + t;
                  assertEquals(inputs[i] + 1, targets[i], "target is the next token");
                  if (t > 0) {
                    assertEquals(inputs[i - 1] + 1, inputs[i], "windows are contiguous");
                  }
                  seen[targets[i]]++;
                }
              }
              calls.add(targets.length);
              return targets.length * 0.25;
            }
          };
          EvalResult r = new Evaluator(window, batch).evaluate(m, TokenSequence.of(seq, n));
          String where = "n=" + n + " L=" + window + " B=" + batch;
          assertEquals(0, seen[0], where);
          for (int i = 1; i < n; i++) {
            assertEquals(1, seen[i], where + " position " + i);
          }
          assertEquals(n - 1, r.tokens(), where);
          assertEquals((n - 1) * 0.25, r.totalNll(), 1e-12, where);
          long full = (n - 1) / window;
          long expectedCalls = (full + batch - 1) / batch + ((n - 1) % window == 0 ? 0 : 1);
          assertEquals(expectedCalls, calls.size(), where);
        }
      }
    }
  }

  @Test
  void resultIsDeterministicAndIndependentOfBatchSizeForAStatelessModel() {
    int v = 7;
    LanguageModel m = new LanguageModel() {
      @Override
      public int vocabSize() {
        return v;
      }

      @Override
      public double sumNll(int[] inputs, int[] targets, int batch) {
        double s = 0;
        for (int t : targets) {
          s += 0.1 * (t + 1); // depends only on the target
        }
        return s;
      }
    };
    TokenSequence seq = TokenSequence.of(ids(200, v, 4), v);
    EvalResult a = new Evaluator(16, 1).evaluate(m, seq);
    EvalResult b = new Evaluator(16, 6).evaluate(m, seq);
    EvalResult c = new Evaluator(13, 4).evaluate(m, seq);
    assertEquals(a.totalNll(), b.totalNll(), 1e-9);
    assertEquals(a.totalNll(), c.totalNll(), 1e-9);
    assertEquals(a, new Evaluator(16, 1).evaluate(m, seq));
  }

  @Test
  void badArgumentsAreRejected() {
    LanguageModel u = uniform(10);
    TokenSequence seq = TokenSequence.of(ids(20, 10, 5), 10);
    assertThrows(IllegalArgumentException.class, () -> new Evaluator(0, 1));
    assertThrows(IllegalArgumentException.class, () -> new Evaluator(4, 0));
    Evaluator e = new Evaluator(4, 2);
    assertThrows(NullPointerException.class, () -> e.evaluate(null, seq));
    assertThrows(NullPointerException.class, () -> e.evaluate(u, (TokenSequence) null));
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(u, TokenSequence.of(new int[] {3}, 10)));
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(u, TokenSequence.of(new int[0], 10)));
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(uniform(5), seq)); // vocab 10 > 5
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(u, seq, 0, -1));
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(u, seq, -2, -1));
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(u, seq, 10, 0));
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(u, seq, 10, -5));
    LanguageModel nan = new LanguageModel() {
      @Override
      public int vocabSize() {
        return 10;
      }

      @Override
      public double sumNll(int[] inputs, int[] targets, int batch) {
        return Double.NaN;
      }
    };
    assertThrows(IllegalArgumentException.class, () -> e.evaluate(nan, seq));
    assertThrows(IllegalArgumentException.class, () -> new EvalResult(1, 0, -1, -1));
    assertThrows(IllegalArgumentException.class, () -> new EvalResult(-1, 5, -1, -1));
    assertThrows(IllegalArgumentException.class, () -> new EvalResult(Double.POSITIVE_INFINITY, 5, -1, -1));
    assertThrows(IllegalArgumentException.class, () -> new EvalResult(1, 5, 0, -1));
    assertThrows(IllegalArgumentException.class, () -> new EvalResult(1, 5, -1, 0));
  }

  @Test
  void untrainedIteraLiteModelScoresAboutLnVocab() {
    int v = 37;
    IteraLiteConfig c = IteraLiteConfig.builder(v, 32, 2).moeEvery(2).experts(4).topK(2).ffnHidden(48).build();
    try (IteraLiteModel model = new IteraLiteModel(Backends.cpu(), c, DType.F32, 5)) {
      LanguageModel lm = LanguageModel.of(model);
      assertEquals(v, lm.vocabSize());
      int[] data = ids(2 * 24 + 1, v, 6);
      TokenSequence seq = TokenSequence.of(data, v);
      EvalResult r = new Evaluator(24, 2).evaluate(lm, seq, 150, -1);
      assertEquals(48, r.tokens());
      assertEquals(Math.log(v), r.loss(), 0.5, r.toString());
      assertEquals(r.totalNll() / (LN2 * 150), r.bitsPerByte(), 1e-12);

      // Exactly two full windows in one call: equal to the model's own mean loss on them.
      int[] in = new int[48];
      int[] tg = new int[48];
      for (int b = 0; b < 2; b++) {
        System.arraycopy(data, b * 24, in, b * 24, 24);
        System.arraycopy(data, b * 24 + 1, tg, b * 24, 24);
      }
      assertEquals(model.loss(in, tg, 2), r.loss(), 1e-9);

      // Batch size does not change the result beyond float rounding (windows are independent).
      EvalResult one = new Evaluator(24, 1).evaluate(lm, seq);
      assertEquals(r.totalNll(), one.totalNll(), 1e-4 * r.totalNll());
      // A ragged tail is evaluated too.
      EvalResult ragged = new Evaluator(20, 2).evaluate(lm, seq);
      assertEquals(48, ragged.tokens());
      assertEquals(Math.log(v), ragged.loss(), 0.5, ragged.toString());
    }
  }
}
