package dev.iteralite.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.nn.MoeConfig;
import org.junit.jupiter.api.Test;

/** The analytic FLOP formulas against counts done by hand for tiny configurations. */
class FlopCounterTest {
  /** V 10, D 4, 2 blocks, N 2, K 3, E = 2·4 = 8, R 1, MoE (3 experts, top-2) in block 1, H 5. */
  static final IteraLiteConfig TINY = IteraLiteConfig.builder(10, 4, 2).dState(2).dConv(3).expand(2).dtRank(1)
      .moeEvery(2).experts(3).topK(2).ffnHidden(5).build();

  @Test
  void iteraLiteMatchesTheHandCount() {
    // mixer: in_proj 2·4·16 = 128, conv 2·3·8 = 48, x_proj 2·8·(1 + 2·2) = 80, dt_proj 2·1·8 = 16,
    //        scan 7·8·2 = 112, out_proj 2·8·4 = 64                          -> 448
    assertEquals(448, FlopCounter.mambaMixer(TINY.mambaConfig()));
    // dense SwiGLU 3 · 2·4·5 = 120; MoE router 2·4·3 = 24 + 2 experts · 120 -> 264
    assertEquals(120, FlopCounter.swiglu(4, 5));
    assertEquals(264, FlopCounter.mixtureOfExperts(TINY.moeConfig()));
    // 2 mixers + dense + MoE + head 2·4·10 = 80
    assertEquals(2 * 448 + 120 + 264 + 80, FlopCounter.iteraLite(TINY));
    assertEquals(1360, FlopCounter.perToken(TINY, 1).getAsLong());
    assertEquals(1360, FlopCounter.perToken(TINY, 500).getAsLong(), "a recurrent model's work is context-independent");
  }

  @Test
  void geluExpertsHaveTwoMatrices() {
    MoeConfig gelu = MoeConfig.builder(4, 5, 3).topK(1).expertKind(MoeConfig.ExpertKind.GELU).build();
    assertEquals(2 * 4 * 3 + 2 * (2 * 4 * 5), FlopCounter.mixtureOfExperts(gelu));
  }

  @Test
  void transformerMatchesTheHandCountAndGrowsWithContext() {
    // D 8, hidden 12, 2 layers, 2 heads, 1 KV head (kv width 4), V 16
    TransformerConfig c = new TransformerConfig(8, 12, 2, 2, 1, 16, 32, true);
    // attention at context 5: Q,O 2·2·8·8 = 256, K,V 2·2·8·4 = 128, scores+values 2·2·5·8 = 160 -> 544
    assertEquals(544, FlopCounter.attention(c, 5));
    // per layer 544 + SwiGLU 6·8·12 = 576 -> 1120; 2 layers + head 2·8·16 = 256
    assertEquals(2 * 1120 + 256, FlopCounter.transformer(c, 5));
    assertEquals(2496 + 2 * 2 * 2 * 8, FlopCounter.perToken(c, 6).getAsLong(), "each extra position adds 2·2·D per layer");
  }

  @Test
  void unknownConfigurationsHaveNoCount() {
    record Other(int x) {}
    assertTrue(FlopCounter.perToken(new Other(1), 4).isEmpty());
  }

  @Test
  void badArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> FlopCounter.linear(0, 4));
    assertThrows(IllegalArgumentException.class, () -> FlopCounter.selectiveScan(8, -1));
    TransformerConfig c = new TransformerConfig(8, 12, 2, 2, 1, 16, 32, true);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FlopCounter.transformer(c, 0));
    assertTrue(e.getMessage().contains("context"), e.getMessage());
  }
}
