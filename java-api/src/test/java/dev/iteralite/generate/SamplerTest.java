package dev.iteralite.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Greedy, temperature, top-k and top-p sampling, seeding and config validation. */
class SamplerTest {
  private static float[] logits(Random r, int n) {
    float[] l = new float[n];
    for (int i = 0; i < n; i++) {
      l[i] = (float) (3 * r.nextGaussian());
    }
    return l;
  }

  @Test
  void greedyIsArgmaxWithLowestIndexOnTies() {
    Sampler s = new Sampler(5, GenerationConfig.greedy(1));
    assertEquals(3, s.sample(new float[] {0, 1, 2, 5, 4}));
    assertEquals(1, s.sample(new float[] {0, 7, 2, 7, 4}));
  }

  @Test
  void topKOneAndTinyTopPEqualGreedy() {
    Random r = new Random(7);
    Sampler k1 = new Sampler(50, GenerationConfig.builder().temperature(1.5f).topK(1).seed(3).build());
    Sampler p0 = new Sampler(50, GenerationConfig.builder().temperature(1.5f).topP(1e-6f).seed(4).build());
    for (int i = 0; i < 500; i++) {
      float[] l = logits(r, 50);
      if (i % 10 == 0) {
        l[i % 50] = l[(i + 1) % 50] = 100f; // a tie: both must pick the lower index, as argmax does
      }
      int g = Sampler.argmax(l, 50);
      assertEquals(g, k1.sample(l));
      assertEquals(g, p0.sample(l));
    }
  }

  @Test
  void seededSamplingIsReproducibleAndSeedDependent() {
    Random r = new Random(1);
    float[][] ls = new float[200][];
    for (int i = 0; i < ls.length; i++) {
      ls[i] = logits(r, 30);
    }
    GenerationConfig cfg = GenerationConfig.builder().temperature(1f).topK(10).topP(0.9f).seed(42).build();
    int[] a = run(new Sampler(30, cfg), ls);
    int[] b = run(new Sampler(30, cfg), ls);
    int[] c = run(new Sampler(30, GenerationConfig.builder().temperature(1f).topK(10).topP(0.9f).seed(43).build()), ls);
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, c));
  }

  private static int[] run(Sampler s, float[][] ls) {
    int[] out = new int[ls.length];
    for (int i = 0; i < ls.length; i++) {
      out[i] = s.sample(ls[i]);
    }
    return out;
  }

  @Test
  void frequenciesFollowTheFilteredDistribution() {
    float[] l = {2f, 1f, 0f, -1f, 0.5f};
    // Softmax of l: sorted probabilities 0.524 (0), 0.193 (1), 0.117 (4), 0.071 (2), 0.026 (3).
    int n = 200_000;
    int[] plain = counts(new Sampler(5, GenerationConfig.builder().temperature(1f).seed(1).build()), l, n);
    double z = 0;
    for (float v : l) {
      z += Math.exp(v);
    }
    for (int i = 0; i < 5; i++) {
      assertEquals(Math.exp(l[i]) / z, plain[i] / (double) n, 0.005, "token " + i);
    }
    int[] k2 = counts(new Sampler(5, GenerationConfig.builder().temperature(1f).topK(2).seed(2).build()), l, n);
    assertEquals(0, k2[2] + k2[3] + k2[4]);
    assertEquals(Math.exp(2) / (Math.exp(2) + Math.exp(1)), k2[0] / (double) n, 0.005);
    // top-p 0.8: 0.524 + 0.193 = 0.717 <= 0.8, adding 0.117 exceeds it: keeps tokens 0, 1, 4.
    int[] p8 = counts(new Sampler(5, GenerationConfig.builder().temperature(1f).topP(0.8f).seed(3).build()), l, n);
    assertEquals(0, p8[2] + p8[3]);
    assertTrue(p8[4] > 0);
    double kept = Math.exp(2) + Math.exp(1) + Math.exp(0.5);
    assertEquals(Math.exp(0.5) / kept, p8[4] / (double) n, 0.005);
    // Low temperature sharpens towards the argmax.
    int[] cold = counts(new Sampler(5, GenerationConfig.builder().temperature(0.05f).seed(4).build()), l, n);
    assertTrue(cold[0] > n - 10);
  }

  private static int[] counts(Sampler s, float[] l, int n) {
    int[] c = new int[l.length];
    for (int i = 0; i < n; i++) {
      c[s.sample(l)]++;
    }
    return c;
  }

  @Test
  void badConfigsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().temperature(-0.1f).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().temperature(Float.NaN).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().temperature(Float.POSITIVE_INFINITY).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().topK(-1).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().topP(0f).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().topP(1.01f).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().topP(Float.NaN).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().maxNewTokens(0).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().stopSequences(null).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().stopSequences(List.of("")).build());
    assertThrows(IllegalArgumentException.class, () -> new Sampler(0, GenerationConfig.greedy(1)));
    assertThrows(IllegalArgumentException.class, () -> new Sampler(4, null));
    assertThrows(IllegalArgumentException.class, () -> new Sampler(4, GenerationConfig.greedy(1)).sample(new float[3]));
  }

  @Test
  void utf8TailDetection() {
    assertEquals(0, Generator.incompleteUtf8Tail("ab".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    byte[] euro = "€".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    assertEquals(0, Generator.incompleteUtf8Tail(euro));
    assertEquals(2, Generator.incompleteUtf8Tail(Arrays.copyOf(euro, 2)));
    assertEquals(1, Generator.incompleteUtf8Tail(Arrays.copyOf(euro, 1)));
  }
}
