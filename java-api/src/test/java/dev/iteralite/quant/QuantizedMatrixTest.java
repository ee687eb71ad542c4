package dev.iteralite.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link QuantizedMatrix} and {@link WeightFormat}: round-trip error budgets per format on
 * Gaussian weights, exact byte layouts on hand-made blocks (ggml's Q8_0/Q4_0, bitsandbytes' NF4
 * packing, the INT4 group header), raw-bytes round trips, storage sizes, and bad input.
 */
class QuantizedMatrixTest {
  static final int ROWS = 64;
  static final int COLS = 1024;

  private static float[] gaussian(long seed, int n) {
    Random rnd = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return v;
  }

  private static double relativeRms(float[] got, float[] want) {
    double e = 0;
    double s = 0;
    for (int i = 0; i < want.length; i++) {
      e += (double) (got[i] - want[i]) * (got[i] - want[i]);
      s += (double) want[i] * want[i];
    }
    return Math.sqrt(e / s);
  }

  /**
   * Relative RMS error budgets on N(0, 1) weights (measured values in parentheses, K = 1024). A
   * uniform quantiser with step d has RMS error d / sqrt(12):
   *
   * <ul>
   *   <li>F16 / BF16: relative rounding of at most 2^-11 / 2^-8, RMS about a third of that
   *       (2.1e-4 / 1.7e-3).
   *   <li>Q8_0: d = amax/127 with amax of 32 normals about 2.1: 0.0048 (0.54%); INT8 per row:
   *       amax of 1024 normals about 3.3, so about 0.75% (0.8%).
   *   <li>Q4_0: d = amax/8, about 0.27: 7.7%, plus the lost +8 level (8.6%); INT4 asymmetric:
   *       d = range/15 with the range of g normals growing with g (8.0%, 9.1%, 10.0%).
   *   <li>NF4: the 16 quantiles spend their levels where normal weights are (9.3%); double
   *       quantisation of the absmaxes adds almost nothing.
   * </ul>
   * Each budget sits about 15% above the measured value: an off-by-one nibble, a wrong scale or a
   * wrong zero point costs far more (tens of percent).
   */
  @ParameterizedTest
  @CsvSource({
    "F32, 0",
    "F16, 3e-4",
    "BF16, 2.2e-3",
    "Q8_0, 0.0065",
    "INT8, 0.0095",
    "Q4_0, 0.10",
    "INT4_G32, 0.092",
    "INT4_G64, 0.105",
    "INT4_G128, 0.115",
    "NF4, 0.105",
    "NF4_DQ, 0.106"
  })
  void roundTripErrorWithinBudget(WeightFormat format, double budget) {
    float[] w = gaussian(7, ROWS * COLS);
    try (Arena arena = Arena.open();
        Tensor t = Tensor.of(w, ROWS, COLS);
        QuantizedMatrix q = QuantizedMatrix.quantize(format, t)) {
      float[] back = q.dequantize(arena).toFloatArray();
      double err = relativeRms(back, w);
      assertTrue(err <= budget, format + ": relative RMS error " + err + " > budget " + budget);
      if (format != WeightFormat.F32) {
        assertTrue(err > budget / 4, format + ": error " + err + " implausibly small: is it quantising at all?");
      }
    }
  }

  @Test
  void rowBytesAgreeWithTheKernelsAndBitsPerWeightAreTheDocumentedOnes() {
    for (WeightFormat f : WeightFormat.values()) {
      for (long k : new long[] {128, 384, 1024, 4096}) {
        assertEquals(IteraNative.itera_quant_row_bytes(f.nativeCode(), k), f.rowBytes(k), f + " K=" + k);
      }
      assertEquals(f.blockSize(), IteraNative.itera_quant_block_size(f.nativeCode()), f.id());
      assertEquals(f, WeightFormat.fromId(f.id().toUpperCase()));
    }
    assertEquals(32.0, WeightFormat.F32.bitsPerWeight(4096));
    assertEquals(16.0, WeightFormat.BF16.bitsPerWeight(4096));
    assertEquals(8.5, WeightFormat.Q8_0.bitsPerWeight(4096));
    assertEquals(4.5, WeightFormat.Q4_0.bitsPerWeight(4096));
    assertEquals(8.0 + 32.0 / 4096, WeightFormat.INT8.bitsPerWeight(4096));
    assertEquals(4.75, WeightFormat.INT4_G32.bitsPerWeight(4096));
    assertEquals(4.375, WeightFormat.INT4_G64.bitsPerWeight(4096));
    assertEquals(4.1875, WeightFormat.INT4_G128.bitsPerWeight(4096));
    assertEquals(4.5, WeightFormat.NF4.bitsPerWeight(4096));
    assertEquals(4.125 + 64.0 / 4096, WeightFormat.NF4_DQ.bitsPerWeight(4096));
    try (Tensor w = Tensor.of(new float[3 * 64], 3, 64);
        QuantizedMatrix q = QuantizedMatrix.quantize(WeightFormat.Q4_0, w)) {
      assertEquals(3 * 2 * 18, q.bytes());
      assertEquals(4.5, q.bitsPerWeight());
    }
  }

  private static byte[] bytesOf(WeightFormat f, float[] row) {
    try (Tensor t = Tensor.of(row, 1, row.length);
        QuantizedMatrix q = QuantizedMatrix.quantize(f, t)) {
      return q.toBytes();
    }
  }

  @Test
  void q8_0IsGgmlsBlock() {
    // amax 127 gives d = 1 (fp16 0x3c00) and q = x exactly.
    float[] x = new float[32];
    byte[] want = new byte[34];
    want[0] = 0x00;
    want[1] = 0x3c;
    for (int j = 0; j < 32; j++) {
      x[j] = j == 5 ? -127 : j - 16;
      want[2 + j] = (byte) x[j];
    }
    assertArrayEquals(want, bytesOf(WeightFormat.Q8_0, x));
  }

  @Test
  void q4_0IsGgmlsBlockWithLowNibblesHoldingTheFirstHalf() {
    // The largest magnitude is -8 (first), so d = -8 / -8 = 1 and q = x + 8.
    float[] x = new float[32];
    for (int j = 0; j < 16; j++) {
      x[j] = j - 8; // q = j
      x[16 + j] = 7 - j; // q = 15 - j
    }
    byte[] want = new byte[18];
    want[0] = 0x00;
    want[1] = 0x3c;
    for (int j = 0; j < 16; j++) {
      want[2 + j] = (byte) (j | ((15 - j) << 4));
    }
    assertArrayEquals(want, bytesOf(WeightFormat.Q4_0, x));
  }

  @Test
  void nf4PacksLikeBitsandbytesWithTheEvenElementInTheHighNibble() {
    float[] code = {
      -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
      -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
      0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
      0.7229568362236023f, 1.0f
    };
    float[] x = new float[64];
    byte[] want = new byte[36];
    ByteBuffer.wrap(want).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 2.0f);
    for (int j = 0; j < 32; j++) {
      int hi = j % 16;
      int lo = 15 - j % 16;
      x[2 * j] = 2 * code[hi]; // absmax 2
      x[2 * j + 1] = 2 * code[lo];
      want[4 + j] = (byte) ((hi << 4) | lo);
    }
    assertArrayEquals(want, bytesOf(WeightFormat.NF4, x));
    try (QuantizedMatrix q = QuantizedMatrix.fromBytes(WeightFormat.NF4, 1, 64, want);
        Arena arena = Arena.open()) {
      assertArrayEquals(x, q.dequantize(arena).toFloatArray(), 0f);
    }
  }

  @Test
  void int4GroupHoldsScaleZeroPointAndGgmlPackedNibbles() {
    // min -1.5, max 6: s = 7.5 / 15 = 0.5 (fp16 0x3800), z = 3, q = x / 0.5 + 3 exactly.
    float[] x = new float[32];
    byte[] want = new byte[19];
    want[0] = 0x00;
    want[1] = 0x38;
    want[2] = 3;
    for (int j = 0; j < 32; j++) {
      x[j] = (j % 16 - 3) * 0.5f;
    }
    x[31] = 6.0f; // q 15
    for (int j = 0; j < 16; j++) {
      int q0 = (int) (x[j] / 0.5f) + 3;
      int q1 = (int) (x[16 + j] / 0.5f) + 3;
      want[3 + j] = (byte) (q0 | (q1 << 4));
    }
    assertArrayEquals(want, bytesOf(WeightFormat.INT4_G32, x));
  }

  @ParameterizedTest
  @EnumSource(WeightFormat.class)
  void rawBytesRebuildTheSameMatrix(WeightFormat format) {
    float[] w = gaussian(3, 5 * 256);
    try (Arena arena = Arena.open();
        Tensor t = Tensor.of(w, 5, 256);
        QuantizedMatrix q = QuantizedMatrix.quantize(format, t)) {
      byte[] raw = q.toBytes();
      assertEquals(q.bytes(), raw.length);
      ByteBuffer direct = ByteBuffer.allocateDirect(raw.length + 3);
      direct.position(3);
      q.copyTo(direct);
      direct.position(3);
      try (QuantizedMatrix back = QuantizedMatrix.fromBytes(format, 5, 256, direct)) {
        assertEquals(3, direct.position(), "fromBytes must not move the buffer");
        assertArrayEquals(raw, back.toBytes());
        assertArrayEquals(q.dequantize(arena).toFloatArray(), back.dequantize(arena).toFloatArray(), 0f);
      }
    }
  }

  @Test
  void corruptOrMislabelledBytesAreRejected() {
    float[] w = gaussian(5, 2 * 128);
    byte[] q4;
    byte[] i4;
    try (Tensor t = Tensor.of(w, 2, 128)) {
      try (QuantizedMatrix q = QuantizedMatrix.quantize(WeightFormat.Q4_0, t)) {
        q4 = q.toBytes();
      }
      try (QuantizedMatrix q = QuantizedMatrix.quantize(WeightFormat.INT4_G64, t)) {
        i4 = q.toBytes();
      }
    }
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.fromBytes(WeightFormat.Q8_0, 2, 128, q4));
    assertTrue(e.getMessage().contains("expected 272 bytes"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.fromBytes(WeightFormat.Q4_0, 2, 96, q4));
    byte[] infScale = q4.clone();
    infScale[18 * 3] = 0x00;
    infScale[18 * 3 + 1] = 0x7c; // fp16 +inf in block 3
    e = assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.fromBytes(WeightFormat.Q4_0, 2, 128, infScale));
    assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
    byte[] badZero = i4.clone();
    badZero[35 + 2] = 16; // zero point of group 1
    assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.fromBytes(WeightFormat.INT4_G64, 2, 128, badZero));
    assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.fromBytes(WeightFormat.Q4_0, 0, 128, new byte[0]));
  }

  @Test
  void badInputIsRejectedBeforeReachingNativeCode() {
    long live = NativeMemory.unreleasedBytes();
    try (Arena arena = Arena.open()) {
      Tensor w48 = arena.allocate(DType.F32, 4, 48);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q4_0, w48));
      assertTrue(e.getMessage().contains("multiple of 32") && e.getMessage().contains("64"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.NF4, arena.allocate(DType.F32, 4, 96)));
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q8_0, arena.allocate(DType.F64, 4, 64)));
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q8_0, arena.allocate(DType.F32, 64)));
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q8_0, null));
      Tensor nan = arena.allocate(DType.F32, 2, 64);
      nan.setFloat(Float.NaN, 1, 7);
      e = assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q8_0, nan));
      assertTrue(e.getMessage().contains("NaN"), e.getMessage());
      Tensor huge = arena.allocate(DType.F32, 2, 64);
      huge.setFloat(1e6f, 0, 0);
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.F16, huge));
      Tensor strided = arena.allocate(DType.F32, 64, 4).view(0, new long[] {4, 64}, new long[] {1, 4});
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q8_0, strided));
      Tensor closed = Tensor.allocate(DType.F32, 2, 64);
      closed.close();
      assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.quantize(WeightFormat.Q8_0, closed));

      QuantizedMatrix q = QuantizedMatrix.quantize(WeightFormat.Q8_0, arena.allocate(DType.F32, 8, 64));
      Tensor x = arena.allocate(DType.F32, 64);
      Tensor y = arena.allocate(DType.F32, 8);
      q.gemv(x, y);
      assertThrows(IllegalArgumentException.class, () -> q.gemv(arena.allocate(DType.F32, 32), y));
      assertThrows(IllegalArgumentException.class, () -> q.gemv(x, arena.allocate(DType.F32, 9)));
      assertThrows(IllegalArgumentException.class, () -> q.gemv(x, arena.allocate(DType.F64, 8)));
      Tensor both = arena.allocate(DType.F32, 3, 64);
      assertThrows(IllegalArgumentException.class, () -> q.gemm(both, both.slice(1, 0, 8)), "y overlapping x");
      assertThrows(IllegalArgumentException.class, () -> q.gemm(both, arena.allocate(DType.F32, 2, 8)));
      assertThrows(IllegalArgumentException.class, () -> q.gemm(both, arena.allocate(DType.F32, 3, 7)));
      assertThrows(IllegalArgumentException.class, () -> q.dequantize(arena.allocate(DType.F32, 8, 63)));
      q.close();
      q.close();
      assertThrows(IllegalStateException.class, () -> q.gemv(x, y));
    }
    // <=, not ==: the counter is process-wide, and a session another test's thread is still
    // closing may be freed meanwhile; a leak here would only ever raise it
    long now = NativeMemory.unreleasedBytes();
    assertTrue(now <= live, "every rejected call must free what it allocated: " + live + " bytes before, " + now + " after");
    assertThrows(IllegalArgumentException.class, () -> WeightFormat.fromId("q5_k"));
  }
}
