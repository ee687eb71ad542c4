package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.assertOutsideUntouched;
import static dev.iteralite.tests.TestTensors.bytes;
import static dev.iteralite.tests.TestTensors.matrix;
import static dev.iteralite.tests.TestTensors.ownerOf;
import static dev.iteralite.tests.TestTensors.poison;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nativelib.RawPointer;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The row-interleaved in-memory layouts Q8_0_R16 / Q4_0_R16 / NF4_R16 (itera_kernels.h) that {@link
 * QuantizedMatrix} keeps Q8_0, Q4_0 and NF4 in: the bytes are exactly the documented permutation of
 * the stored blocks (rebuilt here in Java from the header's description), conversion both ways is
 * lossless, every entry point reading the layout (dequantise, one row, the fast GEMV/GEMM on every
 * ISA, the checks) agrees with the specification run on the ggml bytes, and bad arguments are
 * refused. Shapes cover no full group (N < 16), whole groups only, an odd number of groups (the
 * GEMV pairs groups) and a tail of base-layout rows, with M = 1, 2, 3, 5, 23 and 37 (from 32 rows NF4
 * and INT4 groups are converted to the Q8_0 form once per call); the products over
 * the ggml rows themselves (panels of 32 rows converted on the fly) are checked on the same shapes.
 */
@ExtendWith(RestoresIsa.class)
class QuantLayoutTest {
  static final CpuBackend CPU = Backends.cpu();
  static final int Q8_0_R16 = 11;
  static final int Q4_0_R16 = 12;
  static final int NF4_R16 = 13;
  static final WeightFormat[] INTERLEAVED = {WeightFormat.Q8_0, WeightFormat.Q4_0, WeightFormat.NF4,
      WeightFormat.INT4_G32, WeightFormat.INT4_G64, WeightFormat.INT4_G128, WeightFormat.NF4_DQ};

  /** N rows, K, M activation rows. */
  record Shape(int n, int k, int m) {}

  static final Shape[] SHAPES = {new Shape(5, 96, 3), new Shape(16, 64, 1), new Shape(48, 128, 2),
      new Shape(77, 384, 5), new Shape(33, 256, 23), new Shape(515, 1024, 1), new Shape(45, 256, 37)};

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (WeightFormat f : INTERLEAVED) {
      for (Shape s : SHAPES) {
        int k = (s.k() + f.blockSize() - 1) / f.blockSize() * f.blockSize(); // NF4: 96 -> 128
        out.add(Arguments.of(f, new Shape(s.n(), k, s.m())));
      }
    }
    return out.stream();
  }

  static int r16(WeightFormat f) {
    switch (f) {
      case Q8_0:
        return Q8_0_R16;
      case Q4_0:
        return Q4_0_R16;
      case NF4:
        return NF4_R16;
      case INT4_G32:
        return 14;
      case INT4_G64:
        return 15;
      case INT4_G128:
        return 16;
      case NF4_DQ:
        return 17;
      default:
        throw new IllegalArgumentException(f + " has no interleaved layout");
    }
  }

  /** The documented layout, built from the stored bytes without the library. */
  static byte[] interleave(WeightFormat f, int n, int k, byte[] plain) {
    if (f == WeightFormat.NF4_DQ) {
      return interleaveNf4Dq(n, k, plain);
    }
    boolean q8 = f == WeightFormat.Q8_0;
    boolean nf4 = f == WeightFormat.NF4;
    int nb = k / f.blockSize();
    boolean int4 = f.id().startsWith("int4");
    int scaleBytes = nf4 ? 4 : int4 ? 3 : 2; // NF4: an fp32 absmax; INT4: fp16 scale + zero point
    int steps = f == WeightFormat.Q4_0 ? 4 : q8 ? 8 : f.blockSize() / 8;
    int blockBytes = scaleBytes + 4 * steps;
    int rb = nb * blockBytes;
    byte[] out = plain.clone(); // the tail rows stay as they are
    for (int g = 0; g < n / 16; g++) {
      int base = g * 16 * rb;
      for (int r = 0; r < 16; r++) {
        int row = (g * 16 + r) * rb;
        for (int b = 0; b < nb; b++) {
          int blk = row + b * blockBytes;
          int table = base + b * 16 * scaleBytes;
          for (int i = 0; i < scaleBytes; i++) {
            // INT4: the 16 fp16 scales, then the 16 zero points
            int at = int4 ? (i < 2 ? table + r * 2 + i : table + 32 + r) : table + r * scaleBytes + i;
            out[at] = plain[blk + i];
          }
          for (int st = 0; st < steps; st++) {
            for (int j = 0; j < 4; j++) {
              byte v = plain[blk + scaleBytes + 4 * st + j];
              out[base + nb * 16 * scaleBytes + ((b * steps + st) * 16 + r) * 4 + j] = q8 ? (byte) (v ^ 0x80) : v;
            }
          }
        }
      }
    }
    return out;
  }

  /** NF4_DQ_R16: c2 [16], offsets [16], qc [K/64][16], then the code bytes as NF4_R16. */
  static byte[] interleaveNf4Dq(int n, int k, byte[] plain) {
    int nb = k / 64;
    int rb = 8 + nb + k / 2;
    byte[] out = plain.clone(); // the tail rows stay as they are
    for (int g = 0; g < n / 16; g++) {
      int base = g * 16 * rb;
      for (int r = 0; r < 16; r++) {
        int row = (g * 16 + r) * rb;
        for (int i = 0; i < 4; i++) {
          out[base + r * 4 + i] = plain[row + i];
          out[base + 64 + r * 4 + i] = plain[row + 4 + i];
        }
        for (int b = 0; b < nb; b++) {
          out[base + 128 + b * 16 + r] = plain[row + 8 + b];
          for (int st = 0; st < 8; st++) {
            for (int j = 0; j < 4; j++) {
              out[base + 128 + nb * 16 + ((b * 8 + st) * 16 + r) * 4 + j] = plain[row + 8 + nb + b * 32 + 4 * st + j];
            }
          }
        }
      }
    }
    return out;
  }

  @ParameterizedTest
  @MethodSource("cases")
  void layoutIsTheDocumentedPermutationAndEveryReaderAgreesWithTheSpecification(WeightFormat f, Shape s) {
    Random rnd = new Random(17L * s.n() + s.k() + f.ordinal());
    String what = f.id() + " " + s;
    int layout = r16(f);
    long bytes = f.matrixBytes(s.n(), s.k());
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, rnd, s.n(), s.k(), 0, 1.0);
      Tensor plain = arena.allocate(DType.I8, bytes);
      assertEquals(0, IteraNative.itera_quantize_ref(f.nativeCode(), s.n(), s.k(), w.address(), s.k(), plain.address()));
      byte[] plainBytes = bytes(plain);
      byte[] expected = interleave(f, s.n(), s.k(), plainBytes);
      if (s.n() >= 16) {
        assertFalse(Arrays.equals(plainBytes, expected), what + ": a full group must be interleaved");
      }

      Tensor viaRelayout = arena.allocate(DType.I8, bytes);
      assertEquals(0, IteraNative.itera_quant_relayout(f.nativeCode(), layout, s.n(), s.k(), plain.address(), viaRelayout.address()));
      assertArrayEquals(expected, bytes(viaRelayout), what + ": relayout to _R16");
      Tensor refQuant = arena.allocate(DType.I8, bytes);
      assertEquals(0, IteraNative.itera_quantize_ref(layout, s.n(), s.k(), w.address(), s.k(), refQuant.address()));
      assertArrayEquals(expected, bytes(refQuant), what + ": reference quantiser into _R16");
      Tensor back = arena.allocate(DType.I8, bytes);
      assertEquals(0, IteraNative.itera_quant_relayout(layout, f.nativeCode(), s.n(), s.k(), viaRelayout.address(), back.address()));
      assertArrayEquals(plainBytes, bytes(back), what + ": relayout back to " + f.id());
      assertEquals(0, IteraNative.itera_quant_check(layout, s.n(), s.k(), viaRelayout.address()), what + ": check");

      Tensor deqSpec = arena.allocate(DType.F32, s.n(), s.k());
      assertEquals(0, IteraNative.itera_dequantize_ref(f.nativeCode(), s.n(), s.k(), plain.address(), deqSpec.address(), s.k()));
      float[] spec = deqSpec.toFloatArray();
      Tensor x = matrix(arena, rnd, s.m(), s.k(), 0, 1.0);
      Tensor ySpec = arena.allocate(DType.F32, s.m(), s.n());
      assertEquals(0, IteraNative.itera_qgemm_ref(f.nativeCode(), s.m(), s.n(), s.k(), x.address(), s.k(), plain.address(), ySpec.address(), s.n()));

      for (Isa isa : KernelParityTest.isas()) {
        CPU.setIsa(isa);
        String at = what + " " + isa;
        Tensor fast = arena.allocate(DType.I8, bytes);
        assertEquals(0, IteraNative.itera_quantize(layout, s.n(), s.k(), w.address(), s.k(), fast.address()));
        assertArrayEquals(expected, bytes(fast), at + ": fast quantiser into _R16");

        Tensor deq = poison(arena.allocate(DType.F32, s.n(), s.k()));
        assertEquals(0, IteraNative.itera_dequantize(layout, s.n(), s.k(), fast.address(), deq.address(), s.k()));
        assertArrayEquals(spec, deq.toFloatArray(), 0f, at + ": dequantised");
        Tensor row = arena.allocate(DType.F32, s.k());
        for (int r = 0; r < s.n(); r++) {
          poison(row);
          assertEquals(0, IteraNative.itera_dequantize_row(layout, s.n(), s.k(), fast.address(), r, row.address()));
          assertArrayEquals(Arrays.copyOfRange(spec, r * s.k(), (r + 1) * s.k()), row.toFloatArray(), 0f, at + ": row " + r);
        }

        // products into a poisoned, row-strided output
        Tensor y = poison(matrix(arena, rnd, s.m(), s.n(), 3, 1.0));
        assertEquals(0, IteraNative.itera_qgemm(layout, s.m(), s.n(), s.k(), x.address(), s.k(), fast.address(), y.address(), y.stride(0)));
        assertClose(at + ": gemm", y, ySpec, QuantKernelTest.tolerance(f));
        assertOutsideUntouched(at + ": gemm padding", ownerOf(y, 3), y);
        // the same product over the ggml rows (with M >= 2 on AVX-512: panels converted on the fly)
        Tensor yPlain = poison(matrix(arena, rnd, s.m(), s.n(), 3, 1.0));
        assertEquals(0, IteraNative.itera_qgemm(f.nativeCode(), s.m(), s.n(), s.k(), x.address(), s.k(), plain.address(), yPlain.address(), yPlain.stride(0)));
        assertClose(at + ": gemm on ggml rows", yPlain, ySpec, QuantKernelTest.tolerance(f));
        assertOutsideUntouched(at + ": gemm on ggml rows, padding", ownerOf(yPlain, 3), yPlain);
        // Both quantise the activations the same way and take exact integer block dots, so they
        // differ by fp32 rounding only: this catches what the spec bound cannot (a scale 1% off)
        assertClose(at + ": interleaved vs stored rows", y, yPlain, 1e-9);
        Tensor yv = poison(arena.allocate(DType.F32, s.n()));
        assertEquals(0, IteraNative.itera_qgemv(layout, s.n(), s.k(), fast.address(), x.address(), yv.address()));
        assertClose(at + ": gemv", yv.toDoubleArray(), ySpec.select(0, 0).toDoubleArray(), QuantKernelTest.tolerance(f));
      }
    }
  }

  /** A non-finite scale is found in a group row and in a tail row of the interleaved layout. */
  @ParameterizedTest
  @EnumSource(value = WeightFormat.class, names = {"Q8_0", "Q4_0", "NF4", "INT4_G32", "INT4_G128", "NF4_DQ"})
  void checkFindsABadScaleInGroupAndTailRows(WeightFormat f) {
    int n = 21; // one group, 5 tail rows
    int k = 384;
    int rb = (int) f.rowBytes(k);
    int blockBytes = (int) f.rowBytes(f.blockSize());
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, new Random(3), n, k, 0, 1.0);
      Tensor plain = arena.allocate(DType.I8, f.matrixBytes(n, k));
      assertEquals(0, IteraNative.itera_quantize_ref(f.nativeCode(), n, k, w.address(), k, plain.address()));
      for (int badRow : new int[] {7, 19}) {
        byte[] corrupt = bytes(plain);
        // block 2's scale := +infinity (NF4_DQ: the row's second-level scale c2)
        int at = f == WeightFormat.NF4_DQ ? badRow * rb : badRow * rb + 2 * blockBytes;
        if (f == WeightFormat.NF4 || f == WeightFormat.NF4_DQ) { // fp32 0x7f800000
          corrupt[at] = 0;
          corrupt[at + 1] = 0;
          corrupt[at + 2] = (byte) 0x80;
          corrupt[at + 3] = 0x7f;
        } else { // fp16 0x7c00
          corrupt[at] = 0;
          corrupt[at + 1] = 0x7c;
        }
        Tensor src = arena.allocate(DType.I8, corrupt.length);
        new RawPointer(src.address(), corrupt.length).asByteBuffer().put(corrupt);
        Tensor r16 = arena.allocate(DType.I8, corrupt.length);
        assertEquals(0, IteraNative.itera_quant_relayout(f.nativeCode(), r16(f), n, k, src.address(), r16.address()));
        assertNotEquals(0, IteraNative.itera_quant_check(r16(f), n, k, r16.address()), f + ": bad scale in row " + badRow);
        assertThrows(IllegalArgumentException.class, () -> QuantizedMatrix.fromBytes(f, n, k, corrupt).close());
        if (f.id().startsWith("int4")) { // a zero point of 16 (INT4 allows 0..15) in block 1
          byte[] badZero = bytes(plain);
          badZero[badRow * rb + blockBytes + 2] = 16;
          new RawPointer(src.address(), badZero.length).asByteBuffer().put(badZero);
          assertEquals(0, IteraNative.itera_quant_relayout(f.nativeCode(), r16(f), n, k, src.address(), r16.address()));
          assertNotEquals(0, IteraNative.itera_quant_check(r16(f), n, k, r16.address()), f + ": bad zero point in row " + badRow);
        }
      }
    }
  }

  @Test
  void badArgumentsAreRefused() {
    int n = 20;
    int k = 64;
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, new Random(1), n, k, 0, 1.0);
      try (QuantizedMatrix q = QuantizedMatrix.quantize(WeightFormat.Q8_0, w)) {
        Tensor dst = arena.allocate(DType.I8, q.bytes());
        // different blocks: no relayout between Q8_0 and Q4_0 (or NF4) layouts
        assertNotEquals(0, IteraNative.itera_quant_relayout(Q8_0_R16, Q4_0_R16, n, k, q.address(), dst.address()));
        assertNotEquals(0, IteraNative.itera_quant_relayout(Q8_0_R16, NF4_R16, n, k, q.address(), dst.address()));
        assertNotEquals(0, IteraNative.itera_quant_relayout(Q8_0_R16, WeightFormat.Q4_0.nativeCode(), n, k, q.address(), dst.address()));
        Tensor row = arena.allocate(DType.F32, k);
        assertNotEquals(0, IteraNative.itera_dequantize_row(Q8_0_R16, n, k, q.address(), n, row.address()));
        assertNotEquals(0, IteraNative.itera_dequantize_row(Q8_0_R16, n, k, q.address(), -1, row.address()));
        assertNotEquals(0, IteraNative.itera_dequantize_row(Q8_0_R16, n, 48, q.address(), 0, row.address()));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dequantizeRow(n, row.address()));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dequantizeRow(-1, row.address()));
      }
      assertEquals(-1, IteraNative.itera_quant_layout(99));
    }
  }

  /**
   * Matrices are interleaved exactly where the selected kernels read that layout (AVX-512 with
   * VNNI); a matrix made at a lower level stays in the ggml layout, and either kind gives the same
   * products at every level.
   */
  @ParameterizedTest
  @EnumSource(value = WeightFormat.class, names = {"Q8_0", "Q4_0", "NF4", "INT4_G64"})
  void layoutFollowsTheIsaAndEitherLayoutWorksEverywhere(WeightFormat f) {
    int n = 40;
    int k = 256;
    Random rnd = new Random(8);
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, rnd, n, k, 0, 1.0);
      Tensor x = matrix(arena, rnd, 2, k, 0, 1.0);
      Tensor ySpec = arena.allocate(DType.F32, 2, n);
      List<QuantizedMatrix> made = new ArrayList<>();
      try {
        for (Isa isa : KernelParityTest.isas()) {
          CPU.setIsa(isa);
          boolean interleaved = isa == Isa.AVX512 && CPU.features().has("AVX512_VNNI");
          assertEquals(interleaved ? r16(f) : f.nativeCode(), IteraNative.itera_quant_layout(f.nativeCode()), isa.toString());
          QuantizedMatrix q = QuantizedMatrix.quantize(f, w);
          made.add(q);
          assertEquals(interleaved ? r16(f) : f.nativeCode(), q.nativeLayout(), isa + " " + f.id());
          assertEquals(WeightFormat.INT8.nativeCode(), IteraNative.itera_quant_layout(WeightFormat.INT8.nativeCode()));
        }
        QuantizedMatrix first = made.get(0);
        assertEquals(0, IteraNative.itera_qgemm_ref(first.nativeLayout(), 2, n, k, x.address(), k, first.address(), ySpec.address(), n));
        for (Isa isa : KernelParityTest.isas()) {
          CPU.setIsa(isa);
          for (QuantizedMatrix q : made) {
            assertArrayEquals(first.toBytes(), q.toBytes(), "stored bytes do not depend on the layout");
            Tensor y = poison(arena.allocate(DType.F32, 2, n));
            q.gemm(x, y);
            assertClose(isa + " " + f.id() + " layout " + q.nativeLayout(), y, ySpec, QuantKernelTest.tolerance(f));
          }
        }
      } finally {
        made.forEach(QuantizedMatrix::close);
      }
    }
  }

}
