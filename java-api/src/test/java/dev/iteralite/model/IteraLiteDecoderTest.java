package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class IteraLiteDecoderTest {
  private static final int VOCAB = 97;

  private static IteraLiteModel model() {
    // blocks 1 and 3 are MoE (top-2 of 5 experts), 0 and 2 dense; odd widths on purpose
    IteraLiteConfig c = IteraLiteConfig.builder(VOCAB, 40, 4).moeEvery(2).experts(5).topK(2).ffnHidden(72).build();
    return new IteraLiteModel(Backends.cpu(), c, DType.F32, 5);
  }

  @Test
  void stepsMatchTheModelsGeneralDecodePath() {
    try (IteraLiteModel m = model();
        DecodeSession fast = m.newSession();
        IteraLiteModel.State general = m.newState(1)) {
      assertInstanceOf(IteraLiteDecoder.class, fast);
      SplittableRandom r = new SplittableRandom(3);
      int[] prompt = {4, 17, 93, 0, 52};
      float[] a = fast.prefill(prompt).clone();
      float[] b = m.prefillLogits(prompt, general);
      assertClose(a, b, "prefill");
      assertEquals(prompt.length, fast.position());
      for (int t = 0; t < 40; t++) {
        int token = r.nextInt(VOCAB);
        assertClose(fast.step(token), m.stepLogits(token, general), "step " + t);
      }
      assertEquals(prompt.length + 40, fast.position());
      // a second prefill starts a new context
      assertClose(fast.prefill(new int[] {9}).clone(), m.prefillLogits(new int[] {9}, general), "re-prefill");
    }
  }

  @Test
  void decodingAllocatesNothingPerToken() {
    try (IteraLiteModel m = model(); DecodeSession s = m.newSession()) {
      s.prefill(new int[] {1, 2, 3});
      s.step(4);
      long allocations = NativeMemory.unreleasedAllocations();
      long bytes = NativeMemory.unreleasedBytes();
      for (int t = 0; t < 200; t++) {
        s.step(t % VOCAB);
      }
      assertEquals(allocations, NativeMemory.unreleasedAllocations());
      assertEquals(bytes, NativeMemory.unreleasedBytes());
    }
  }

  @Test
  void badInputIsRejectedAndClosedSessionsRefuse() {
    try (IteraLiteModel m = model()) {
      DecodeSession s = m.newSession();
      s.prefill(new int[] {1});
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.step(VOCAB));
      assertTrue(e.getMessage().contains(String.valueOf(VOCAB)), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> s.step(-1));
      assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[0]));
      s.close();
      s.close(); // idempotent
      assertThrows(IllegalStateException.class, () -> s.step(1));
    }
  }

  private static void assertClose(float[] got, float[] want, String what) {
    assertEquals(want.length, got.length, what);
    double scale = 0;
    double err = 0;
    for (int i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      err = Math.max(err, Math.abs(got[i] - want[i]));
      assertTrue(Float.isFinite(got[i]), what + ": logit " + i + " is " + got[i]);
    }
    assertTrue(err <= 1e-4 * Math.max(scale, 1e-3), what + ": max error " + err + " vs logit scale " + scale);
  }
}
