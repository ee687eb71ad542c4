package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.assertOutsideUntouched;
import static dev.iteralite.tests.TestTensors.bytes;
import static dev.iteralite.tests.TestTensors.matrix;
import static dev.iteralite.tests.TestTensors.normalisedError;
import static dev.iteralite.tests.TestTensors.ownerOf;
import static dev.iteralite.tests.TestTensors.poison;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quantised weight kernels: for every {@link WeightFormat} and every ISA level this CPU has (the
 * AVX-512 level runs the VNNI kernels where AVX512-VNNI exists), the fast quantiser and
 * dequantiser must equal the C++ scalar specification byte for byte, and the fast GEMV/GEMM
 * (activations quantised on the fly to int8 blocks) must match the specification's
 * dequantise-then-double product within a normalised error set by the activation rounding. The
 * specification itself is checked against a Java double product of its own dequantised weights.
 * Odd N, K a multiple of the block, M = 1, 2, 3, 17 and 23, row-strided inputs and outputs,
 * NaN-poisoned outputs and padding.
 */
@ExtendWith(RestoresIsa.class)
class QuantKernelTest {
  static final CpuBackend CPU = Backends.cpu();



  /**
   * Normalised squared error allowed between the fast product and the specification. Float
   * formats convert exactly and differ only by fp32 summation order. Integer formats round each
   * activation to 1/127 of its block's absmax: about (1/127)^2 / 4 = 1.6e-5 relative on uniform
   * activations (measured 1.5e-5 to 2.5e-5), and NF4's int8 code book adds its own rounding (about
   * 6e-5 in all). At the sizes tested here (a few hundred blocks) one block with a wrong scale or a
   * skipped block costs more than ten times these bounds (see {@link #oneCorruptBlockExceedsTheBound}),
   * and a systematic slip (nibble order, scale of the neighbouring block) costs O(1).
   */
  static double tolerance(WeightFormat f) {
    switch (f) {
      case F32:
      case F16:
      case BF16:
        return 1e-10;
      case NF4:
      case NF4_DQ:
        return 2e-4;
      default:
        return 1e-4;
    }
  }

  /**
   * Activation rows from which BF16 GEMMs on AVX-512 CPUs with AVX512-BF16 take bf16 dot products
   * (vdpbf16ps) instead of fp32 FMAs over the same bf16-rounded activations (quant.cpp, kBf16DotRows).
   */
  static final int BF16_DOT_ROWS = 8;

  /** N (odd), K, M, pad of the row strides. */
  record Shape(int n, int k, int m, int pad) {}

  /**
   * The last two are for the AVX-512 packed GEMM (panels of 32 weight rows, register tiles of 4
   * activation rows): 77 rows end in a 13-row panel and 23 activation rows in a 3-row tile; 33
   * rows leave a panel with one row (its second 16-row half empty) and M = 2 has only a 2-row tile.
   */
  static final Shape[] SHAPES = {new Shape(37, 384, 1, 0), new Shape(129, 256, 3, 3), new Shape(5, 128, 17, 1),
      new Shape(77, 384, 23, 2), new Shape(33, 128, 2, 1)};

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : KernelParityTest.isas()) {
      for (WeightFormat f : WeightFormat.values()) {
        for (Shape s : SHAPES) {
          out.add(Arguments.of(isa, f, s));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest
  @MethodSource("cases")
  void fastMatchesSpecification(Isa isa, WeightFormat f, Shape s) {
    CPU.setIsa(isa);
    String what = isa + " " + f.id() + " " + s;
    Random rnd = new Random(31L * s.n() + s.k() + 7L * f.ordinal());
    int code = f.nativeCode();
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, rnd, s.n(), s.k(), s.pad(), 1.0);
      long ldw = w.stride(0);
      // quantise: fast == spec, byte for byte
      Tensor spec = arena.allocate(DType.I8, f.matrixBytes(s.n(), s.k()));
      assertEquals(0, IteraNative.itera_quantize_ref(code, s.n(), s.k(), w.address(), ldw, spec.address()));
      byte[] specBytes = bytes(spec);
      try (QuantizedMatrix q = QuantizedMatrix.quantize(f, w)) {
        assertArrayEquals(specBytes, q.toBytes(), what + ": quantised bytes");

        // dequantise: fast == spec exactly
        Tensor deqSpec = poison(arena.allocate(DType.F32, s.n(), s.k()));
        int layout = q.nativeLayout(); // Q8_0 / Q4_0 are held row-interleaved
        assertEquals(0, IteraNative.itera_dequantize_ref(layout, s.n(), s.k(), q.address(), deqSpec.address(), s.k()));
        Tensor deqOut = matrix(arena, rnd, s.n(), s.k(), s.pad(), 1.0);
        poison(deqOut);
        q.dequantize(deqOut);
        assertArrayEquals(deqSpec.toFloatArray(), deqOut.toFloatArray(), 0f, what + ": dequantised");
        assertOutsideUntouched(what + ": dequantise padding", ownerOf(deqOut, s.pad()), deqOut);

        // the specification's product is a double product of its dequantised weights
        Tensor x = matrix(arena, rnd, s.m(), s.k(), s.pad(), 1.0);
        long ldx = x.stride(0);
        Tensor ySpec = poison(arena.allocate(DType.F32, s.m(), s.n()));
        assertEquals(0, IteraNative.itera_qgemm_ref(layout, s.m(), s.n(), s.k(), x.address(), ldx, q.address(), ySpec.address(), s.n()));
        assertClose(what + ": spec vs Java double", ySpec.toDoubleArray(), javaProduct(deqSpec, arena.adopt(activationsAsMultiplied(f, x))), 1e-13);

        // fast GEMM into a poisoned, row-strided output
        Tensor yFast = poison(matrix(arena, rnd, s.m(), s.n(), s.pad(), 1.0));
        q.gemm(x, yFast);
        assertClose(what + ": fast gemm", yFast, ySpec, tolerance(f));
        assertOutsideUntouched(what + ": gemm padding", ownerOf(yFast, s.pad()), yFast);

        if (s.m() == 1) {
          Tensor xv = arena.allocate(DType.F32, s.k());
          xv.copyFrom(x.toFloatArray());
          Tensor yv = poison(arena.allocate(DType.F32, s.n()));
          q.gemv(xv, yv);
          assertClose(what + ": fast gemv", yv.toDoubleArray(), ySpec.toDoubleArray(), tolerance(f));
          Tensor yvSpec = poison(arena.allocate(DType.F32, s.n()));
          assertEquals(0, IteraNative.itera_qgemv_ref(layout, s.n(), s.k(), q.address(), xv.address(), yvSpec.address()));
          assertArrayEquals(ySpec.toFloatArray(), yvSpec.toFloatArray(), 0f, what + ": spec gemv == spec gemm row");
        }
      }
    }
  }

  /** Enough rows that the work is split across threads, on every ISA, against the same spec. */
  @ParameterizedTest
  @EnumSource(value = WeightFormat.class, names = {"Q8_0", "Q4_0", "INT4_G128", "NF4", "BF16"})
  void threadedLargerProductMatchesSpecification(WeightFormat f) {
    int n = 515;
    int k = 1024;
    Random rnd = new Random(99);
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, rnd, n, k, 0, 1.0);
      // 6 rows: one full register tile of the packed GEMM and a 2-row rest, on each thread
      Tensor x = matrix(arena, rnd, 6, k, 0, 1.0);
      Tensor ySpec = arena.allocate(DType.F32, 6, n);
      try (QuantizedMatrix q = QuantizedMatrix.quantize(f, w)) {
        assertEquals(0, IteraNative.itera_qgemm_ref(q.nativeLayout(), 6, n, k, x.address(), k, q.address(), ySpec.address(), n));
        for (Isa isa : KernelParityTest.isas()) {
          CPU.setIsa(isa);
          Tensor y = poison(arena.allocate(DType.F32, 6, n));
          q.gemm(x, y);
          assertClose(isa + " " + f.id() + " gemm", y, ySpec, tolerance(f));
          Tensor y1 = poison(arena.allocate(DType.F32, n));
          q.gemv(x.select(0, 2), y1);
          assertClose(isa + " " + f.id() + " gemv", y1.toDoubleArray(), ySpec.select(0, 2).toDoubleArray(), tolerance(f));
        }
      }
    }
  }

  /**
   * BF16 products multiply the bf16 weights by the activations rounded to bf16 (nearest even) on
   * every path: the GEMV, the fp32 row dots of a few rows, OpenBLAS over converted panels, and,
   * from {@link #BF16_DOT_ROWS} rows on CPUs with AVX512-BF16, vdpbf16ps. Each equals the double
   * product of the rounded activations apart from fp32 summation order, and not the product of
   * the unrounded ones. Odd K (the last weight without a partner), N not a multiple of the 12-row
   * register tile, M not a multiple of 16 (a partial line of activation rows), into poisoned,
   * row-strided outputs.
   */
  @ParameterizedTest
  @MethodSource("bf16Shapes")
  void bf16ProductsMultiplyBf16RoundedActivationsOnEveryPath(Shape s) {
    Random rnd = new Random(17L * s.n() + s.k() + s.m());
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, rnd, s.n(), s.k(), s.pad(), 1.0);
      Tensor x = matrix(arena, rnd, s.m(), s.k(), s.pad(), 1.0);
      try (QuantizedMatrix q = QuantizedMatrix.quantize(WeightFormat.BF16, w);
          Tensor deq = Tensor.allocate(DType.F32, s.n(), s.k());
          Tensor xr = activationsAsMultiplied(WeightFormat.BF16, x)) {
        q.dequantize(deq);
        double[] exact = javaProduct(deq, x);
        double[] ofRounded = javaProduct(deq, xr);
        for (Isa isa : KernelParityTest.isas()) {
          CPU.setIsa(isa);
          String what = isa + " " + s;
          Tensor y = poison(matrix(arena, rnd, s.m(), s.n(), s.pad(), 1.0));
          q.gemm(x, y);
          assertClose(what, y.toDoubleArray(), ofRounded, 1e-10);
          assertTrue(normalisedError(y.toDoubleArray(), exact) > 1e-8, what + ": the activations were not rounded");
          assertOutsideUntouched(what + ": padding", ownerOf(y, s.pad()), y);
        }
      }
    }
  }

  static Stream<Shape> bf16Shapes() {
    return Stream.of(new Shape(13, 67, 8, 1), new Shape(37, 130, 17, 0), new Shape(25, 64, 33, 3),
        new Shape(50, 255, 40, 2), new Shape(24, 96, 7, 1), new Shape(29, 65, 1, 2), new Shape(31, 48, 49, 1));
  }

  /**
   * The activations as a format's products multiply them: BF16 rounds them to the nearest bfloat16
   * (ties to even), every other float format keeps them. A new [M, K] tensor (close it).
   */
  static Tensor activationsAsMultiplied(WeightFormat f, Tensor x) {
    float[] xs = x.toFloatArray();
    if (f == WeightFormat.BF16) {
      for (int i = 0; i < xs.length; i++) {
        int bits = Float.floatToRawIntBits(xs[i]);
        xs[i] = Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
      }
    }
    return Tensor.of(xs, x.dim(0), x.dim(1));
  }

  /** The bounds above can fail: one block with a doubled scale or one nibble off is caught. */
  @ParameterizedTest
  @EnumSource(value = WeightFormat.class, names = {"Q8_0", "Q4_0"})
  void oneCorruptBlockExceedsTheBound(WeightFormat f) {
    int n = 37; // the first test shape: 444 blocks
    int k = 384;
    Random rnd = new Random(5);
    try (Arena arena = Arena.open()) {
      Tensor w = matrix(arena, rnd, n, k, 0, 1.0);
      Tensor x = matrix(arena, rnd, 1, k, 0, 1.0);
      byte[] good;
      try (QuantizedMatrix q = QuantizedMatrix.quantize(f, w)) {
        good = q.toBytes();
      }
      int blockBytes = f == WeightFormat.Q8_0 ? 34 : 18;
      int at = 17 * (int) f.rowBytes(k) + 5 * blockBytes; // row 17, block 5
      byte[] scaled = good.clone();
      scaled[at + 1] += 4; // fp16 exponent + 1: scale doubled
      byte[] nibble = good.clone();
      nibble[at + 2 + 3] ^= 0x01; // one weight one step off
      double[] errors = new double[2];
      byte[][] variants = {scaled, nibble};
      for (int v = 0; v < 2; v++) {
        try (QuantizedMatrix good0 = QuantizedMatrix.fromBytes(f, n, k, good);
            QuantizedMatrix bad = QuantizedMatrix.fromBytes(f, n, k, variants[v])) {
          Tensor yGood = arena.allocate(DType.F32, 1, n);
          Tensor yBad = arena.allocate(DType.F32, 1, n);
          good0.gemm(x, yGood);
          bad.gemm(x, yBad);
          errors[v] = normalisedError(yBad.toDoubleArray(), yGood.toDoubleArray());
        }
      }
      assertTrue(errors[0] > 10 * tolerance(f), f + ": doubled scale of one block gives only " + errors[0]);
      // One weight one quantisation step off moves one output by about d|x|: small, but the
      // comparison of the two products is exact apart from it, so it must still show.
      assertTrue(errors[1] > 0, f + ": a changed nibble must change the product");
    }
  }


  /** Y[m, n] = sum_k W[n, k] X[m, k] in double. */
  private static double[] javaProduct(Tensor w, Tensor x) {
    int n = (int) w.dim(0);
    int k = (int) w.dim(1);
    int m = (int) x.dim(0);
    double[] wd = w.toDoubleArray();
    double[] xd = x.toDoubleArray();
    double[] y = new double[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int l = 0; l < k; l++) {
          acc += wd[j * k + l] * xd[i * k + l];
        }
        y[i * n + j] = acc;
      }
    }
    return y;
  }
}
