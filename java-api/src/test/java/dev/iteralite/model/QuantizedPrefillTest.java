package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The batched prefill of a {@link QuantizedModel} (every compressed matrix applied to all prompt
 * rows through the quantised GEMM, sequence conv and scan) against feeding the same prompt token
 * by token through the quantised GEMV step: same last logits, and a recurrent state from which the
 * following steps agree.
 *
 * <p>Why the integer formats and BF16 get a majority rule rather than 1e-4 on every prompt: they
 * round the activations on the fly (to int8 blocks; BF16 to bf16), a discontinuous rounding.
 * Prefill and stepping sum in different orders (GEMM against GEMV, chunked against stepped scan,
 * MoE combine), so now and then an activation one ulp apart lands on the neighbouring level and
 * the logits move by up to the format's own error. Measured on 10 random models x 40 prompt
 * lengths: 2 to 4% of prompts per integer plan, at most 0.021. F16 keeps fp32 activations and
 * must match on every prompt. A real defect (state, routing, a missing product) shows on most
 * prompts, which the majority rule catches.
 */
class QuantizedPrefillTest {
  private static final int VOCAB = 97;
  private static final int[] LENGTHS = {1, 2, 5, 33};
  private static final int PROMPTS_PER_LENGTH = 4;
  private static final double TOLERANCE = 1e-4;
  /** Rounding plans: one rounding flip stays below this (int8: measured at most 0.021). */
  private static final double FLIP_BOUND = 0.05;

  /**
   * Block 1 is MoE (top-2 of 3 experts), blocks 0 and 2 dense. dInner and ffnHidden 96 suit
   * 32-blocks but not 64-blocks; dtRank 32 lets dt_proj be compressed by the 32-block formats.
   */
  private static IteraLiteModel model() {
    IteraLiteConfig c = IteraLiteConfig.builder(VOCAB, 64, 3).moeEvery(2).experts(3).topK(2).ffnHidden(96)
        .dInner(96).dtRank(32).build();
    return new IteraLiteModel(Backends.cpu(), c, DType.F32, 23);
  }

  /** In_proj of block 0, expert 1's w3 and the tied head F32 by rule, then {@code blockFormat} on block 1. */
  private static PrecisionPlan mixedPlan(WeightFormat fallback, WeightFormat blockFormat) {
    return PrecisionPlan.builder(fallback)
        .exact("blocks.0.mixer.in_proj.weight", WeightFormat.F32)
        .exact("blocks.1.moe.w3.1", WeightFormat.F32)
        .exact("embed.weight", WeightFormat.F32)
        .rule("blocks\\.1\\..*", blockFormat)
        .build();
  }

  private static int[] tokens(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(VOCAB);
    }
    return t;
  }

  /** ||got - want|| / ||want||. */
  private static double error(float[] got, float[] want) {
    assertEquals(want.length, got.length);
    double num = 0;
    double den = 0;
    for (int i = 0; i < want.length; i++) {
      assertTrue(Float.isFinite(got[i]), "non-finite logit " + got[i] + " at " + i);
      double diff = (double) got[i] - want[i];
      num += diff * diff;
      den += (double) want[i] * want[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  }

  private static void assertClose(float[] got, float[] want, String what) {
    double err = error(got, want);
    assertTrue(err < TOLERANCE, what + ": normalised error " + err + " >= " + TOLERANCE);
  }

  /**
   * Logits after the prompt's last token and after each following token, all fed one at a time
   * through step() from a new session's empty state (prefill is not involved).
   */
  private static List<float[]> stepped(DecodeSession s, int[] prompt, int[] next) {
    List<float[]> out = new ArrayList<>();
    float[] l = null;
    for (int t : prompt) {
      l = s.step(t).clone();
    }
    out.add(l);
    for (int t : next) {
      out.add(s.step(t).clone());
    }
    return out;
  }

  /**
   * Batched prefill then 5 steps against token-by-token stepping: the largest normalised error over
   * those 6 logit vectors. Also checks the positions, and that the prefill's logits are at least
   * {@code formatError} from the F32 model's (the compressed weights made them, not the F32 ones).
   */
  private static double caseError(
      IteraLiteModel m, QuantizedModel q, int[] prompt, int[] next, double minFormatError, String what) {
    try (DecodeSession ref = q.newSession(); DecodeSession got = q.newSession(); IteraLiteModel.State f32 = m.newState(1)) {
      List<float[]> want = stepped(ref, prompt, next);
      float[] prefilled = got.prefill(prompt);
      double err = error(prefilled, want.get(0));
      double formatError = error(prefilled, m.prefillLogits(prompt, f32));
      assertTrue(formatError > minFormatError, what + ": only " + formatError + " from the F32 model");
      assertEquals(prompt.length, got.position(), what);
      for (int t = 0; t < next.length; t++) {
        err = Math.max(err, error(got.step(next[t]), want.get(t + 1)));
      }
      assertEquals(prompt.length + next.length, got.position(), what);
      return err;
    }
  }

  /** Errors of every (length, prompt) case of {@code plan}, in order. */
  private static List<Double> caseErrors(IteraLiteModel m, PrecisionPlan plan) {
    // F16 weights are 8x closer to F32 than BF16's, yet still far above an exact path's 1e-7
    double minFormatError = plan.describe().startsWith("f16") ? 1e-5 : 10 * TOLERANCE;
    List<Double> errors = new ArrayList<>();
    try (QuantizedModel q = QuantizedModel.quantize(m, plan)) {
      for (int len : LENGTHS) {
        for (int p = 0; p < PROMPTS_PER_LENGTH; p++) {
          int[] prompt = tokens(len, 1000L * p + len);
          int[] next = tokens(5, 2000L * p + len);
          errors.add(caseError(m, q, prompt, next, minFormatError, plan.describe() + " T=" + len + " prompt " + p));
        }
      }
    }
    return errors;
  }

  @Test
  void floatFormatsMatchTokenByTokenSteppingOnEveryPrompt() {
    long before = NativeMemory.unreleasedBytes();
    try (IteraLiteModel m = model()) {
      // F16 products keep the activations fp32 (BF16 rounds them: see the rounding-flip test)
      for (PrecisionPlan plan : new PrecisionPlan[] {PrecisionPlan.uniform(WeightFormat.F16),
          mixedPlan(WeightFormat.F16, WeightFormat.F16)}) {
        List<Double> errors = caseErrors(m, plan);
        for (int i = 0; i < errors.size(); i++) {
          assertTrue(errors.get(i) < TOLERANCE, plan.describe() + " case " + i + ": normalised error " + errors.get(i));
        }
      }
    }
    assertEquals(before, NativeMemory.unreleasedBytes());
  }

  @Test
  void roundingFormatsMatchTokenByTokenSteppingUpToRareRoundingFlips() {
    long before = NativeMemory.unreleasedBytes();
    try (IteraLiteModel m = model()) {
      PrecisionPlan mixed = mixedPlan(WeightFormat.Q4_0, WeightFormat.INT4_G64);
      try (QuantizedModel q = QuantizedModel.quantize(m, mixed)) {
        // F32 by rule, F32 because 96-wide inputs do not fit INT4_G64's 64-blocks, and compressed
        for (String kept : new String[] {"blocks.0.mixer.in_proj.weight", "blocks.1.moe.w3.1", "embed.weight",
            "blocks.1.moe.w2.0", "blocks.1.mixer.out_proj.weight"}) {
          assertTrue(q.keptF32().contains(kept), kept + " should be F32, kept " + q.keptF32());
        }
        assertEquals(WeightFormat.INT4_G64, q.formatOf("blocks.1.moe.w1.0"));
        assertEquals(WeightFormat.Q4_0, q.formatOf("blocks.2.ffn.w2.weight"));
      }
      try (QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q8_0)) {
        // the seams carry compressed dt_proj and expert matrices, not only the big projections
        assertEquals(WeightFormat.Q8_0, q.formatOf("blocks.0.mixer.dt_proj.weight"));
        assertEquals(WeightFormat.Q8_0, q.formatOf("blocks.1.moe.w2.2"));
      }
      // Integer formats round the activations to int8 blocks and BF16 to bf16: an fp32 difference of
      // an ulp between the batched and the stepped path can flip one rounding.
      for (PrecisionPlan plan : new PrecisionPlan[] {PrecisionPlan.uniform(WeightFormat.Q8_0),
          PrecisionPlan.uniform(WeightFormat.Q4_0), PrecisionPlan.uniform(WeightFormat.INT8), mixed,
          PrecisionPlan.uniform(WeightFormat.BF16), mixedPlan(WeightFormat.BF16, WeightFormat.BF16)}) {
        List<Double> errors = caseErrors(m, plan);
        int exact = 0;
        for (int i = 0; i < errors.size(); i++) {
          assertTrue(errors.get(i) < FLIP_BOUND, plan.describe() + " case " + i + ": normalised error " + errors.get(i)
              + " is beyond an activation rounding flip");
          if (errors.get(i) < TOLERANCE) {
            exact++;
          }
        }
        assertTrue(4 * exact >= 3 * errors.size(), plan.describe() + ": only " + exact + " of " + errors.size()
            + " prompts within " + TOLERANCE + " of stepping: " + errors);
      }
    }
    assertEquals(before, NativeMemory.unreleasedBytes());
  }

  /** With every matrix kept F32 the batched path runs on the F32 GEMMs and must equal the F32 model's own prefill. */
  @Test
  void f32PlanPrefillEqualsTheModelsParallelPrefill() {
    try (IteraLiteModel m = model();
        QuantizedModel f32 = QuantizedModel.quantize(m, WeightFormat.F32);
        DecodeSession s = f32.newSession();
        IteraLiteModel.State general = m.newState(1)) {
      int[] prompt = tokens(33, 7);
      assertClose(s.prefill(prompt), m.prefillLogits(prompt, general), "F32 plan prefill");
      for (int t : tokens(5, 8)) {
        assertClose(s.step(t), m.stepLogits(t, general), "F32 plan step");
      }
    }
  }

  @Test
  void prefillAgainResetsTheState() {
    try (IteraLiteModel m = model(); QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q8_0)) {
      int[] first = tokens(33, 1);
      int[] second = tokens(5, 2);
      int[] next = tokens(5, 3);
      // the same computation on a fresh session: a complete reset reproduces it bit for bit
      List<float[]> want = new ArrayList<>();
      try (DecodeSession fresh = q.newSession()) {
        want.add(fresh.prefill(second).clone());
        for (int t : next) {
          want.add(fresh.step(t).clone());
        }
      }
      try (DecodeSession s = q.newSession()) {
        s.prefill(first);
        s.step(4);
        s.step(9);
        for (int round = 0; round < 2; round++) {
          assertArrayEquals(want.get(0), s.prefill(second), "prefill " + (round + 2));
          assertEquals(second.length, s.position());
          for (int t = 0; t < next.length; t++) {
            assertArrayEquals(want.get(t + 1), s.step(next[t]), "step " + t + " after prefill " + (round + 2));
          }
        }
      }
    }
  }

  @Test
  void badPromptsAreRejectedBeforeNativeCodeAndLeaveTheSessionUsable() {
    try (IteraLiteModel m = model(); QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q4_0);
        DecodeSession s = q.newSession()) {
      int[] prompt = tokens(5, 4);
      float[] wantNext;
      try (DecodeSession ref = q.newSession()) {
        ref.prefill(prompt);
        wantNext = ref.step(3).clone();
      }
      s.prefill(prompt);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {1, 2, VOCAB, 3}));
      assertTrue(e.getMessage().contains(String.valueOf(VOCAB)), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {-1}));
      assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[0]));
      assertThrows(IllegalArgumentException.class, () -> s.prefill(null));
      // a rejected prompt touched nothing (no reset, no partial run): the state is still the first prompt's
      assertEquals(prompt.length, s.position());
      assertArrayEquals(wantNext, s.step(3), "step after rejected prompts");
      s.close();
      assertThrows(IllegalStateException.class, () -> s.prefill(prompt));
    }
  }
}
