package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.nn.GradientChecker;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.optim.AdamW;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class IteraLiteModelTest {
  /** The gradient-check configuration of the brief: vocab 11, D 8, 2 layers, MoE in block 1 (3 experts, top-2). */
  private static IteraLiteConfig tinyCheckConfig() {
    return IteraLiteConfig.builder(11, 8, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(12)
        .auxWeights(0.05, 0.01).build();
  }

  private static int[] randomTokens(int n, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(vocab);
    }
    return t;
  }

  @Test
  void presetParameterCountsAreInRangeAndMatchTheBuiltModel() {
    IteraLiteConfig tiny = IteraLiteConfig.tiny(512);
    IteraLiteConfig small = IteraLiteConfig.small(8192);
    assertTrue(tiny.parameterCount() >= 1_000_000 && tiny.parameterCount() <= 2_000_000, "tiny: " + tiny.parameterCount());
    assertTrue(small.parameterCount() >= 8_000_000 && small.parameterCount() <= 12_000_000, "small: " + small.parameterCount());
    for (IteraLiteConfig c : List.of(tiny, small, tinyCheckConfig(), IteraLiteConfig.builder(7, 16, 3).build())) {
      try (IteraLiteModel m = new IteraLiteModel(Backends.reference(), c, DType.F32, 1)) {
        assertEquals(c.parameterCount(), m.parameters().parameterCount(), c.toString());
        long moeLayers = 0;
        for (int i = 0; i < c.nLayers(); i++) {
          moeLayers += c.isMoeLayer(i) ? 1 : 0;
        }
        assertEquals(moeLayers, m.moeLayers().size());
      }
    }
  }

  @Test
  void configRejectsInvalidValues() {
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(1, 8, 2).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 0, 2).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 8, 0).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 8, 2).moeEvery(-1).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 8, 2).experts(2).topK(3).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 8, 2).auxWeights(-1, 0).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 8, 2).dState(100000).build());
    assertThrows(IllegalArgumentException.class, () -> IteraLiteConfig.builder(11, 8, 2).ffnHidden(0).build());
  }

  @Test
  void float64GradientOfTotalLossIncludingAuxMatchesCentralDifferences() {
    IteraLiteConfig c = tinyCheckConfig();
    Backend ref = Backends.reference();
    int batch = 2;
    int len = 5;
    int[] tokens = randomTokens(batch * len, 11, 3);
    int[] targets = randomTokens(batch * len, 11, 4);
    try (IteraLiteModel m = new IteraLiteModel(ref, c, DType.F64, 7)) {
      ParameterSet ps = m.parameters();
      ps.zeroGrads(ref);
      double total;
      try (Arena arena = Arena.open()) {
        total = m.forwardBackward(tokens, targets, batch, arena);
      }
      assertTrue(m.lastAuxLoss() > 0, "the MoE block must contribute an auxiliary loss");
      assertEquals(total - m.lastAuxLoss(), m.loss(tokens, targets, batch), 1e-12);
      GradientChecker checker = new GradientChecker().step(1e-6).tolerances(1e-5, 1e-8).maxElementsPerTensor(12);
      List<String> names = List.of("embed.weight", "blocks.0.mixer.A_log", "blocks.0.mixer.in_proj.weight",
          "blocks.0.mixer.dt_proj.bias", "blocks.0.ffn.w1.weight", "blocks.1.moe.router.weight", "blocks.1.moe.w3",
          "blocks.1.norm2.weight", "final_norm.weight");
      for (String name : names) {
        Parameter p = ps.get(name);
        double[] analytic = p.grad().toDoubleArray();
        // Forward only (no gradient accumulation): cross-entropy plus the aux losses of that forward.
        GradientChecker.Result r = checker.checkScalar(name, p.value(), analytic,
            () -> m.loss(tokens, targets, batch) + m.lastAuxLoss());
        assertTrue(r.passed(), r.toString());
        assertTrue(r.checked() > 0);
      }
    }
  }

  @Test
  void cpuAndReferenceBackendsAgreeOnLossAndGradients() {
    IteraLiteConfig c = IteraLiteConfig.builder(37, 32, 2).moeEvery(2).experts(4).topK(2).ffnHidden(48).build();
    int batch = 2;
    int len = 24;
    int[] tokens = randomTokens(batch * len, 37, 11);
    int[] targets = randomTokens(batch * len, 37, 12);
    try (IteraLiteModel cpu = new IteraLiteModel(Backends.cpu(), c, DType.F32, 5);
        IteraLiteModel ref = new IteraLiteModel(Backends.reference(), c, DType.F32, 5)) {
      cpu.parameters().zeroGrads(cpu.backend());
      ref.parameters().zeroGrads(ref.backend());
      double lc;
      double lr;
      try (Arena a = Arena.open()) {
        lc = cpu.forwardBackward(tokens, targets, batch, a);
      }
      try (Arena a = Arena.open()) {
        lr = ref.forwardBackward(tokens, targets, batch, a);
      }
      assertEquals(lr, lc, 1e-4 * Math.abs(lr));
      for (Parameter p : ref.parameters().parameters()) {
        float[] gr = p.grad().toFloatArray();
        float[] gc = cpu.parameters().get(p.name()).grad().toFloatArray();
        double scale = 0;
        for (float v : gr) {
          scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < gr.length; i++) {
          assertEquals(gr[i], gc[i], 2e-3 * scale + 1e-6, p.name() + "[" + i + "]");
        }
      }
    }
  }

  @Test
  void steppingTokenByTokenGivesTheFullForwardsLogits() {
    IteraLiteConfig c = tinyCheckConfig();
    int batch = 2;
    int len = 9;
    int[] tokens = randomTokens(batch * len, 11, 21);
    try (IteraLiteModel m = new IteraLiteModel(Backends.reference(), c, DType.F64, 3);
        IteraLiteModel.State state = m.newState(batch)) {
      float[] full = m.logits(tokens, batch); // [B * L, V]
      int v = c.vocabSize();
      for (int t = 0; t < len; t++) {
        int[] step = new int[batch];
        for (int b = 0; b < batch; b++) {
          step[b] = tokens[b * len + t];
        }
        float[] logits = m.stepLogits(step, state);
        for (int b = 0; b < batch; b++) {
          for (int j = 0; j < v; j++) {
            assertEquals(full[(b * len + t) * v + j], logits[b * v + j], 1e-5, "b=" + b + " t=" + t + " j=" + j);
          }
        }
      }
      assertEquals(len, state.position());
      state.reset();
      try (IteraLiteModel.State single = newSingle(m, state)) {
        assertEquals(v, m.stepLogits(tokens[0], single).length);
      }
    }
  }

  @Test
  void prefillThenStepGivesTheFullForwardsLogits() {
    IteraLiteConfig c = tinyCheckConfig();
    int batch = 2;
    int len = 10;
    int prompt = 6;
    int v = c.vocabSize();
    int[] tokens = randomTokens(batch * len, 11, 31);
    try (IteraLiteModel m = new IteraLiteModel(Backends.reference(), c, DType.F64, 8);
        IteraLiteModel.State state = m.newState(batch)) {
      float[] full = m.logits(tokens, batch);
      m.stepLogits(new int[] {3, 4}, state); // stale context: prefill must start from an empty one
      int[] head = new int[batch * prompt];
      for (int b = 0; b < batch; b++) {
        System.arraycopy(tokens, b * len, head, b * prompt, prompt);
      }
      float[] logits = m.prefillLogits(head, state);
      assertEquals(prompt, state.position());
      for (int t = prompt - 1; t < len; t++) {
        if (t >= prompt) {
          int[] step = {tokens[t], tokens[len + t]};
          logits = m.stepLogits(step, state);
        }
        for (int b = 0; b < batch; b++) {
          for (int j = 0; j < v; j++) {
            assertEquals(full[(b * len + t) * v + j], logits[b * v + j], 1e-5, "b=" + b + " t=" + t + " j=" + j);
          }
        }
      }
    }
  }

  private static IteraLiteModel.State newSingle(IteraLiteModel m, IteraLiteModel.State other) {
    assertThrows(IllegalArgumentException.class, () -> m.stepLogits(0, other)); // batch 2 state, one token
    return m.newState(1);
  }

  @Test
  void cpuTrainingOnARepetitiveSequenceLowersTheLoss() {
    IteraLiteConfig c = IteraLiteConfig.builder(11, 32, 2).moeEvery(2).experts(4).topK(2).ffnHidden(64).build();
    Backend cpu = Backends.cpu();
    int batch = 4;
    int len = 32;
    int[] pattern = {1, 5, 2, 9, 3, 3, 7, 0, 4};
    SplittableRandom r = new SplittableRandom(9);
    try (IteraLiteModel m = new IteraLiteModel(cpu, c, DType.F32, 13);
        AdamW opt = new AdamW(cpu, m.parameters(), new AdamW.Config(0.9, 0.95, 1e-8, 0.01, 1.0))) {
      List<Double> losses = new ArrayList<>();
      int[] tokens = new int[batch * len];
      int[] targets = new int[batch * len];
      for (int step = 0; step < 60; step++) {
        for (int b = 0; b < batch; b++) {
          int off = r.nextInt(pattern.length);
          for (int t = 0; t < len; t++) {
            tokens[b * len + t] = pattern[(off + t) % pattern.length];
            targets[b * len + t] = pattern[(off + t + 1) % pattern.length];
          }
        }
        m.parameters().zeroGrads(cpu);
        try (Arena a = Arena.open()) {
          losses.add(m.forwardBackward(tokens, targets, batch, a));
        }
        opt.step(1e-2, 1.0);
      }
      double first = losses.get(0);
      double last = m.loss(tokens, targets, batch);
      assertTrue(first > 2.0, "initial loss should be near ln 11: " + first);
      assertTrue(last < 0.5 * first, "loss did not fall: " + first + " -> " + last + " " + losses);
      assertFalse(Double.isNaN(last));
      for (MixtureOfExperts moe : m.moeLayers()) {
        long routed = 0;
        for (long n : moe.cumulativeRoutedCounts()) {
          routed += n;
        }
        assertTrue(routed > 0);
      }
    }
  }
}
