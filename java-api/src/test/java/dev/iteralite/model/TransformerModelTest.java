package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.GenerationResult;
import dev.iteralite.generate.Generator;
import dev.iteralite.nn.GradientChecker;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.optim.AdamW;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.testing.TestData;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The trainable Transformer baseline: presets sized like Itera-Lite's, llama2.c's parameter layout,
 * float64 gradients against central differences, the training forward against the one-token KV-cache
 * inference, a few optimiser steps, and stories260K loaded into it.
 */
class TransformerModelTest {

  private static int[] randomTokens(int n, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(vocab);
    }
    return t;
  }

  @Test
  void presetsAreWithinTenPercentOfIteraLiteAndMatchTheBuiltModel() {
    for (int vocab : new int[] {512, 4096, 8192}) {
      double tiny = (double) TransformerConfig.tiny(vocab).parameterCount() / IteraLiteConfig.tiny(vocab).parameterCount();
      double small = (double) TransformerConfig.small(vocab).parameterCount() / IteraLiteConfig.small(vocab).parameterCount();
      assertTrue(Math.abs(tiny - 1) <= 0.10, "tiny(" + vocab + ") ratio " + tiny);
      assertTrue(Math.abs(small - 1) <= 0.10, "small(" + vocab + ") ratio " + small);
    }
    TransformerConfig t = TransformerConfig.tiny(512);
    assertEquals(32, t.headSize());
    try (TransformerModel m = new TransformerModel(Backends.cpu(), t, DType.F32, 1)) {
      assertEquals(t.parameterCount(), m.parameters().parameterCount());
      assertEquals("transformer", m.architecture());
      assertEquals(t.seqLen(), m.maxSequenceLength());
      assertEquals(512, m.vocabSize());
    }
  }

  @Test
  void builderDefaultsAndValidation() {
    TransformerConfig c = TransformerConfig.builder(100, 96, 3).build();
    assertEquals(new TransformerConfig(96, 256, 3, 3, 3, 100, 1024, true), c);
    TransformerConfig g = TransformerConfig.builder(100, 64, 2).heads(4).kvHeads(2).hiddenDim(100).seqLen(32)
        .sharedClassifier(false).build();
    assertEquals(new TransformerConfig(64, 100, 2, 4, 2, 100, 32, false), g);
    assertThrows(IllegalArgumentException.class, () -> TransformerConfig.builder(100, 64, 2).heads(0).build());
    assertThrows(IllegalArgumentException.class, () -> TransformerConfig.builder(100, 64, 2).heads(4).kvHeads(3).build());
    assertThrows(IllegalArgumentException.class, () -> TransformerConfig.builder(100, 64, 2).hiddenDim(-1).build());
  }

  @Test
  void layoutIsTransformerDeclaresWithScaledOutputProjections() {
    TransformerConfig c = TransformerConfig.builder(50, 32, 3).heads(4).kvHeads(2).hiddenDim(40).sharedClassifier(false).build();
    try (ParameterSet mine = TransformerModel.declare(c).build(DType.F32, 3);
        ParameterSet theirs = Transformer.declare(c).build(DType.F32, 3)) {
      assertEquals(theirs.parameters().size(), mine.parameters().size());
      for (int i = 0; i < mine.parameters().size(); i++) {
        Parameter a = mine.parameters().get(i);
        Parameter b = theirs.parameters().get(i);
        assertEquals(b.name(), a.name());
        assertArrayEquals(b.shape(), a.shape(), a.name());
        assertEquals(b.offset(), a.offset(), a.name());
        assertEquals(b.weightDecay(), a.weightDecay(), a.name());
      }
      // GPT-2 init: wo and w2 have std 0.02 / sqrt(2 * nLayers), the others 0.02
      assertEquals(0.02 / Math.sqrt(6), std(mine.get("layers.1.attn.wo")), 0.1 * 0.02 / Math.sqrt(6));
      assertEquals(0.02 / Math.sqrt(6), std(mine.get("layers.2.ffn.w2")), 0.1 * 0.02 / Math.sqrt(6));
      assertEquals(0.02, std(mine.get("layers.0.attn.wq")), 0.002);
    }
  }

  private static double std(Parameter p) {
    double s = 0;
    float[] v = p.value().toFloatArray();
    for (float x : v) {
      s += x * x;
    }
    return Math.sqrt(s / v.length);
  }

  private static void checkGradients(TransformerConfig c, List<String> names) {
    Backend ref = Backends.reference();
    int batch = 2;
    int len = 5;
    int[] tokens = randomTokens(batch * len, c.vocabSize(), 3);
    int[] targets = randomTokens(batch * len, c.vocabSize(), 4);
    targets[3] = -1; // an ignored position
    try (TransformerModel m = new TransformerModel(ref, c, DType.F64, 7)) {
      // Larger weights than the init so attention is far from uniform and every path matters.
      for (Parameter p : m.parameters().parameters()) {
        if (p.weightDecay()) {
          double[] v = p.value().toDoubleArray();
          for (int i = 0; i < v.length; i++) {
            v[i] *= 15;
          }
          p.value().copyFrom(v);
        }
      }
      ParameterSet ps = m.parameters();
      ps.zeroGrads(ref);
      double loss;
      try (Arena arena = Arena.open()) {
        loss = m.forwardBackward(tokens, targets, batch, arena);
      }
      assertEquals(m.loss(tokens, targets, batch), loss, 1e-12);
      GradientChecker checker = new GradientChecker().step(1e-6).tolerances(1e-5, 1e-8).maxElementsPerTensor(10);
      for (String name : names) {
        Parameter p = ps.get(name);
        GradientChecker.Result r = checker.checkScalar(name, p.value(), p.grad().toDoubleArray(),
            () -> m.loss(tokens, targets, batch));
        assertTrue(r.passed(), r.toString());
        assertTrue(r.checked() > 0);
      }
    }
  }

  @Test
  void float64GradientsMatchCentralDifferencesUntiedGrouped() {
    TransformerConfig c = TransformerConfig.builder(11, 8, 2).heads(2).kvHeads(1).hiddenDim(12).seqLen(8)
        .sharedClassifier(false).build();
    checkGradients(c, List.of("tok_embeddings", "layers.0.attn_norm", "layers.0.attn.wq", "layers.0.attn.wk",
        "layers.0.attn.wv", "layers.0.attn.wo", "layers.0.ffn_norm", "layers.0.ffn.w1", "layers.0.ffn.w3",
        "layers.0.ffn.w2", "layers.1.attn.wk", "layers.1.ffn.w2", "norm", "output"));
  }

  @Test
  void float64GradientsMatchCentralDifferencesTied() {
    TransformerConfig c = TransformerConfig.builder(9, 12, 1).heads(3).hiddenDim(10).seqLen(5).build();
    checkGradients(c, List.of("tok_embeddings", "layers.0.attn.wq", "layers.0.attn.wv", "layers.0.ffn.w1", "norm"));
  }

  @Test
  void trainingLogitsEqualOneTokenInferenceAndSessions() {
    TransformerConfig c = TransformerConfig.builder(37, 32, 2).heads(4).kvHeads(2).hiddenDim(48).seqLen(16).build();
    int batch = 2;
    int len = 12;
    int[] tokens = randomTokens(batch * len, c.vocabSize(), 21);
    try (TransformerModel m = new TransformerModel(Backends.cpu(), c, DType.F32, 9)) {
      // Weights large enough that attention patterns and RoPE matter to the logits.
      for (Parameter p : m.parameters().parameters()) {
        if (p.weightDecay()) {
          double[] v = p.value().toDoubleArray();
          for (int i = 0; i < v.length; i++) {
            v[i] *= 10;
          }
          p.value().copyFrom(v);
        }
      }
      float[] full = m.logits(tokens, batch);
      Transformer inf = m.inference();
      int v = c.vocabSize();
      for (int b = 0; b < batch; b++) {
        try (KvCache cache = inf.newCache(); DecodeSession s = m.newSession()) {
          for (int t = 0; t < len; t++) {
            float[] step = inf.forward(tokens[b * len + t], t, cache);
            assertClose(Arrays.copyOfRange(full, (b * len + t) * v, (b * len + t + 1) * v), step, 1e-4, "b" + b + " t" + t);
          }
          // a session: prefill of the first 5 tokens, then steps
          float[] pre = s.prefill(Arrays.copyOfRange(tokens, b * len, b * len + 5));
          assertClose(Arrays.copyOfRange(full, (b * len + 4) * v, (b * len + 5) * v), pre, 1e-4, "prefill");
          for (int t = 5; t < len; t++) {
            float[] step = s.step(tokens[b * len + t]);
            assertClose(Arrays.copyOfRange(full, (b * len + t) * v, (b * len + t + 1) * v), step, 1e-4, "session t" + t);
          }
          assertEquals(len, s.position());
        }
      }
      try (DecodeSession s = m.newSession()) {
        assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[17]));
        assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {37}));
        s.prefill(new int[16]);
        assertThrows(IllegalStateException.class, () -> s.step(1));
      }
      assertThrows(IllegalArgumentException.class, () -> m.loss(new int[34], new int[34], 2));
      // The reference backend over the same weights: same logits, and its (recomputing) session too.
      try (TransformerModel r = new TransformerModel(Backends.reference(), c, DType.F32, 9)) {
        r.parameters().values().copyFrom(m.parameters().values().toDoubleArray());
        assertClose(full, r.logits(tokens, batch), 1e-4, "reference backend");
        try (DecodeSession s = r.newSession()) {
          float[] pre = s.prefill(Arrays.copyOfRange(tokens, 0, 3));
          assertClose(Arrays.copyOfRange(full, 2 * v, 3 * v), pre, 1e-4, "recompute prefill");
          float[] step = s.step(tokens[3]);
          assertClose(Arrays.copyOfRange(full, 3 * v, 4 * v), step, 1e-4, "recompute step");
        }
      }
    }
  }

  private static void assertClose(float[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what);
    double scale = 0;
    for (float x : expected) {
      scale = Math.max(scale, Math.abs(x));
    }
    assertTrue(scale > 0.1, what + ": logits too small to compare meaningfully: " + scale);
    for (int i = 0; i < expected.length; i++) {
      assertTrue(Math.abs(expected[i] - actual[i]) <= tol * scale, what + " [" + i + "]: " + expected[i] + " vs " + actual[i]);
    }
  }

  @Test
  void adamWStepsLowerTheLossOnARandomCorpus() {
    TransformerConfig c = TransformerConfig.builder(23, 32, 2).heads(4).hiddenDim(64).seqLen(32).build();
    Backend cpu = Backends.cpu();
    int[] corpus = randomTokens(200, c.vocabSize(), 5);
    int batch = 4;
    int len = 24;
    SplittableRandom r = new SplittableRandom(1);
    try (TransformerModel m = new TransformerModel(cpu, c, DType.F32, 13);
        AdamW opt = new AdamW(cpu, m.parameters(), new AdamW.Config(0.9, 0.95, 1e-8, 0.01, 1.0))) {
      int[] evalTokens = Arrays.copyOfRange(corpus, 0, 4 * len);
      int[] evalTargets = Arrays.copyOfRange(corpus, 1, 4 * len + 1);
      double before = m.loss(evalTokens, evalTargets, 4);
      List<Double> losses = new ArrayList<>();
      int[] tokens = new int[batch * len];
      int[] targets = new int[batch * len];
      for (int step = 0; step < 40; step++) {
        for (int b = 0; b < batch; b++) {
          int off = r.nextInt(corpus.length - len - 1);
          System.arraycopy(corpus, off, tokens, b * len, len);
          System.arraycopy(corpus, off + 1, targets, b * len, len);
        }
        m.parameters().zeroGrads(cpu);
        try (Arena a = Arena.open()) {
          losses.add(m.forwardBackward(tokens, targets, batch, a));
        }
        opt.step(3e-3, 1.0);
      }
      double after = m.loss(evalTokens, evalTargets, 4);
      assertTrue(Math.abs(before - Math.log(c.vocabSize())) < 0.3, "initial loss should be near ln V: " + before);
      assertTrue(after < before - 0.5, "loss did not fall: " + before + " -> " + after + " " + losses);
    }
  }

  /** stories260K in the trainable model: the loss on a TinyStories text equals what step inference implies. */
  @Test
  void stories260KLossEqualsStepInference() throws Exception {
    Path ckpt = TestData.require("llama2c/stories260K.bin");
    Llama2cTokenizer tok = Llama2cTokenizer.fromLlama2c(TestData.require("llama2c/tok512.bin"));
    String text = Files.readString(TestData.require("tinystories/tinystories_val.txt"));
    int[] ids = tok.encode(text.substring(0, 600).getBytes(java.nio.charset.StandardCharsets.UTF_8), true, false);
    ids = Arrays.copyOf(ids, Math.min(ids.length, 129));
    int n = ids.length - 1;
    int[] tokens = Arrays.copyOf(ids, n);
    int[] targets = Arrays.copyOfRange(ids, 1, n + 1);
    try (Llama2cCheckpoint c = Llama2cCheckpoint.load(ckpt);
        TransformerModel m = new TransformerModel(Backends.cpu(), c.config(), c.weights())) {
      double loss = m.loss(tokens, targets, 1);
      Transformer inf = m.inference();
      double nll = 0;
      try (KvCache cache = inf.newCache()) {
        for (int t = 0; t < n; t++) {
          float[] logits = inf.forward(tokens[t], t, cache);
          double mx = Double.NEGATIVE_INFINITY;
          for (float x : logits) {
            mx = Math.max(mx, x);
          }
          double sum = 0;
          for (float x : logits) {
            sum += Math.exp(x - mx);
          }
          nll += mx + Math.log(sum) - logits[targets[t]];
        }
      }
      double stepLoss = nll / n;
      // The generator on the trainable model (its KV-cache session) reproduces llama2.c's greedy sample.
      GenerationResult g = new Generator(m, tok).generate("", GenerationConfig.greedy(40));
      assertTrue(g.text().startsWith("Once upon a time, there was a little girl named Lily."), g.text());
      assertTrue(loss > 0.3 && loss < 3.0, "stories260K loss on TinyStories should be sane (~1-2 nats): " + loss);
      assertEquals(stepLoss, loss, 1e-4, "training forward vs step inference");
    }
  }
}
