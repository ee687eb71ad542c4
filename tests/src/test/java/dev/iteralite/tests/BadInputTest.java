package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.AdamWStep;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invalid calls give clear exceptions, never a crash: each case asserts the exception type and
 * that its message names the problem. Shared cases run on both backends (their validation is the
 * same); layout and dtype cases that only the native backend restricts run on {@code cpu}. Every
 * test ends with a valid call, proving the JVM and the backend are still fine.
 */
class BadInputTest {
  private Arena ar;

  static List<Backend> backends() {
    return List.of(Backends.cpu(), Backends.reference());
  }

  @BeforeEach
  void open() {
    ar = Arena.open();
  }

  @AfterEach
  void close() {
    ar.close();
  }

  private Tensor f32(long... shape) {
    Tensor t = ar.allocate(DType.F32, shape);
    t.fill(0.5);
    return t;
  }

  private Tensor i32(int... values) {
    return ar.adopt(Tensor.ofInts(values, values.length));
  }

  private static void fails(Class<? extends Throwable> type, Executable call, String... fragments) {
    Throwable e = assertThrows(type, call);
    String msg = e.getMessage();
    for (String f : fragments) {
      assertTrue(msg != null && msg.contains(f), "message should mention '" + f + "': " + msg);
    }
  }

  private void stillWorks(Backend b) {
    Tensor x = f32(2, 3);
    Tensor y = f32(2, 3);
    b.add(x, x, y);
    assertEquals(1.0, y.getDouble(1, 2), 0.0);
  }

  // ------------------------------------------------------------------ shapes and ranks

  @ParameterizedTest
  @MethodSource("backends")
  void gemmShapes(Backend b) {
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, f32(4, 5), f32(6, 7), 0, f32(4, 7)),
        "gemm", "inner dimensions differ", "4 x 5", "6 x 7");
    fails(IllegalArgumentException.class, () -> b.gemm(false, true, 1, f32(4, 5), f32(5, 7), 0, f32(4, 5)),
        "inner dimensions", "transpose");
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, f32(4, 5), f32(5, 7), 0, f32(4, 8)),
        "'c'", "expected 4 x 7");
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, f32(4, 5), f32(2, 5, 7), 0, f32(4, 7)),
        "ranks differ");
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, f32(2, 4, 5), f32(3, 5, 7), 0, f32(2, 4, 7)),
        "batch sizes differ");
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, f32(5), f32(5, 7), 0, f32(1, 7)),
        "rank 1", "expected rank 2");
    stillWorks(b);
  }

  @ParameterizedTest
  @MethodSource("backends")
  void rowShapes(Backend b) {
    fails(IllegalArgumentException.class, () -> b.rmsNormForward(f32(3, 8), f32(7), 1e-5f, f32(3, 8), f32(3)),
        "rmsNormForward", "'w'", "expected C=8");
    fails(IllegalArgumentException.class, () -> b.rmsNormForward(f32(3, 8), f32(8), 1e-5f, f32(3, 9), f32(3)),
        "'y'", "[3, 9]", "[3, 8]");
    fails(IllegalArgumentException.class, () -> b.rmsNormForward(f32(3, 8), f32(8), 1e-5f, f32(3, 8), f32(4)),
        "'rstd'", "R=3");
    fails(IllegalArgumentException.class, () -> b.rmsNormForward(f32(8), f32(8), 1e-5f, f32(8), f32(1)),
        "'x'", "rank 1", "rank >= 2");
    fails(IllegalArgumentException.class, () -> b.rmsNormForward(f32(3, 8), f32(8), Float.NaN, f32(3, 8), f32(3)),
        "eps");
    fails(IllegalArgumentException.class,
        () -> b.layerNormBackward(f32(3, 8), f32(3, 8), f32(8), f32(3), f32(3), f32(3, 8), f32(8), f32(9)),
        "'db'", "C=8");
    fails(IllegalArgumentException.class, () -> b.softmaxBackward(f32(3, 8), f32(3, 8), f32(8, 3)),
        "softmaxBackward", "'dx'");
    fails(IllegalArgumentException.class, () -> b.softmaxForward(f32(3, 0), f32(3, 0)), "C must be >= 1");
    fails(IllegalArgumentException.class, () -> b.add(f32(3, 4), f32(4, 3), f32(3, 4)), "add", "'b'", "[4, 3]");
    fails(IllegalArgumentException.class, () -> b.axpy(1, f32(5), f32(6)), "axpy", "'y'");
    fails(IllegalArgumentException.class, () -> b.activationBackward(Activation.GELU, f32(5), f32(5), f32(4)),
        "'dx'");
    fails(IllegalArgumentException.class,
        () -> b.adamW(f32(4), f32(5), f32(4), f32(4), new AdamWStep(1e-3, 0.9, 0.99, 1e-8, 0, 1, 1)), "adamW",
        "'grad'");
    fails(IllegalArgumentException.class,
        () -> b.fusedLinearCrossEntropy(f32(4, 8), f32(10, 7), i32(0, 1, 2, 3), -1, 1, f32(4), null, null),
        "fusedLinearCrossEntropy", "'w'", "dimension C is 7, expected 8");
    fails(IllegalArgumentException.class,
        () -> b.crossEntropy(f32(4, 8), i32(0, 1, 2), -1, 1, f32(4), null), "'targets'", "R (rows of logits)=4");
    fails(IllegalArgumentException.class,
        () -> b.embeddingForward(i32(0, 1), f32(5, 3), f32(2, 4)), "'out'", "dimension C is 4, expected 3");
    stillWorks(b);
  }

  @Test
  void negativeSizesAreRejectedWhereTheyArise() {
    fails(IllegalArgumentException.class, () -> Tensor.allocate(DType.F32, 3, -2), "negative dimension");
    Tensor t = f32(4, 4);
    fails(IllegalArgumentException.class, () -> t.view(0, new long[] {2, -1}, new long[] {4, 1}), "negative");
    fails(IllegalArgumentException.class, () -> t.view(0, new long[] {2, 2}, new long[] {-4, 1}), "negative strides");
    fails(IndexOutOfBoundsException.class, () -> t.slice(0, 3, 2), "slice");
    fails(IllegalArgumentException.class, () -> new AdamWStep(1e-3, 0.9, 0.99, 1e-8, 0, 1, 0), "step");
    stillWorks(Backends.cpu());
  }

  // ------------------------------------------------------------------ dtypes

  @ParameterizedTest
  @MethodSource("backends")
  void mismatchedDtypes(Backend b) {
    Tensor x64 = ar.allocate(DType.F64, 3, 4);
    if (b.name().equals("cpu")) {
      fails(IllegalArgumentException.class, () -> b.softmaxForward(x64, f32(3, 4)), "'x'", "F64", "expected F32");
    } else {
      fails(IllegalArgumentException.class, () -> b.softmaxForward(x64, f32(3, 4)), "'y'", "mismatched dtypes");
    }
    fails(IllegalArgumentException.class, () -> b.embeddingForward(f32(2), f32(5, 3), f32(2, 3)), "'ids'",
        "expected I32");
    fails(IllegalArgumentException.class,
        () -> b.crossEntropy(f32(2, 3), f32(2), -1, 1, f32(2), null), "'targets'", "expected I32");
    fails(IllegalArgumentException.class, () -> b.add(i32(1, 2), i32(1, 2), i32(1, 2)), "'a'", "I32");
    fails(IllegalArgumentException.class, () -> b.copy(f32(3), ar.allocate(DType.F64, 3)), "copy",
        "mismatched dtypes");
    fails(IllegalArgumentException.class, () -> b.fill(ar.allocate(DType.F16, 4), 1f), "F16");
    stillWorks(b);
  }

  // ------------------------------------------------------------------ index ranges

  @ParameterizedTest
  @MethodSource("backends")
  void tokenIdsOutOfRange(Backend b) {
    Tensor table = f32(5, 3);
    fails(IllegalArgumentException.class, () -> b.embeddingForward(i32(0, 4, -1, 2), table, f32(4, 3)),
        "embeddingForward", "'ids'", "-1 at position 2", "[0, 5)");
    fails(IllegalArgumentException.class, () -> b.embeddingForward(i32(0, 5), table, f32(2, 3)),
        "5 at position 1", "[0, 5)");
    fails(IllegalArgumentException.class, () -> b.embeddingBackward(i32(7), f32(1, 3), table),
        "embeddingBackward", "7 at position 0", "[0, 5)");
    fails(IllegalArgumentException.class, () -> b.embeddingForward(i32(Integer.MIN_VALUE), table, f32(1, 3)),
        String.valueOf(Integer.MIN_VALUE));
    // the table is untouched by the rejected backward call
    assertEquals(0.5, table.getDouble(4, 2), 0.0);
    stillWorks(b);
  }

  @ParameterizedTest
  @MethodSource("backends")
  void targetsOutOfRange(Backend b) {
    Tensor logits = f32(3, 4);
    fails(IllegalArgumentException.class, () -> b.crossEntropy(logits, i32(0, 4, 1), -100, 1, f32(3), null),
        "crossEntropy", "'targets'", "4 at position 1", "[0, 4)", "ignore index -100");
    fails(IllegalArgumentException.class, () -> b.crossEntropy(logits, i32(0, 1, -2), -100, 1, f32(3), null),
        "-2 at position 2");
    fails(IllegalArgumentException.class,
        () -> b.fusedLinearCrossEntropy(f32(2, 3), f32(6, 3), i32(6, 0), -1, 1, f32(2), null, null),
        "fusedLinearCrossEntropy", "6 at position 0", "[0, 6)");
    fails(IllegalArgumentException.class,
        () -> b.fusedLinearCrossEntropy(f32(2, 3), f32(6, 3), i32(0, -5), -1, 1, f32(2), null, null),
        "-5 at position 1");
    // the ignore index itself is accepted and contributes nothing
    Tensor losses = f32(3);
    double sum = b.crossEntropy(logits, i32(-100, -100, -100), -100, 1, losses, null);
    assertEquals(0.0, sum, 0.0);
    stillWorks(b);
  }

  // ------------------------------------------------------------------ lifetime

  @ParameterizedTest
  @MethodSource("backends")
  void closedTensors(Backend b) {
    Tensor x = Tensor.allocate(DType.F32, 3, 4);
    Tensor view = x.slice(0, 1, 3);
    x.close();
    fails(IllegalStateException.class, () -> b.softmaxForward(x, f32(3, 4)), "softmaxForward", "'x'", "closed");
    fails(IllegalStateException.class, () -> b.softmaxForward(view, f32(2, 4)), "'x'", "closed");
    fails(IllegalStateException.class, () -> b.scale(2f, view), "closed");

    Tensor y;
    try (Arena scope = Arena.open()) {
      y = scope.allocate(DType.F32, 4);
    }
    Tensor yy = y;
    fails(IllegalStateException.class, () -> b.add(f32(4), f32(4), yy), "'out'", "closed");
    fails(IllegalArgumentException.class, () -> b.add(f32(4), null, f32(4)), "'b'", "null");
    fails(IllegalArgumentException.class, () -> b.adamW(f32(4), f32(4), f32(4), f32(4), null), "'step'", "null");
    // closing a view does not free the owner
    Tensor owner = f32(4);
    Tensor v2 = owner.slice(0, 0, 2);
    v2.close();
    fails(IllegalStateException.class, () -> b.scale(2f, v2), "closed");
    b.scale(2f, owner);
    assertEquals(1.0, owner.getDouble(3), 0.0);
    stillWorks(b);
  }

  // ------------------------------------------------------------------ aliasing

  @ParameterizedTest
  @MethodSource("backends")
  void aliasing(Backend b) {
    Tensor m = f32(6, 6);
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, m, f32(6, 6), 0, m), "'c'", "overlaps",
        "'a'");
    fails(IllegalArgumentException.class, () -> b.softmaxForward(m, m), "'y'", "overlaps");
    Tensor flat = f32(8);
    fails(IllegalArgumentException.class, () -> b.add(flat.slice(0, 0, 4), f32(4), flat.slice(0, 1, 5)),
        "partially overlaps");
    // in-place where the contract allows it: add, cross-entropy gradient into the logits
    b.add(flat, flat, flat);
    assertEquals(1.0, flat.getDouble(7), 0.0);
    Tensor logits = f32(2, 3);
    b.crossEntropy(logits, i32(0, 1), -1, 1, f32(2), logits);
    assertEquals(-2.0 / 3, logits.getDouble(0, 0), 1e-6);
    // disjoint column blocks of one matrix are separate tensors
    Tensor wide = f32(4, 8);
    b.softmaxForward(wide.slice(1, 0, 4), wide.slice(1, 4, 8));
    assertEquals(0.25, wide.getDouble(3, 7), 1e-6);
    stillWorks(b);
  }

  // ------------------------------------------------------------------ layout (cpu only)

  @Test
  void cpuNeedsContiguityWhereKernelsTakePlainPointers() {
    Backend b = Backends.cpu();
    Tensor wide = f32(4, 8);
    Tensor strided = wide.slice(1, 0, 5);
    fails(IllegalArgumentException.class, () -> b.activationForward(Activation.SILU, strided, f32(4, 5)),
        "activationForward", "'x'", "not contiguous", "contiguous copy");
    fails(IllegalArgumentException.class, () -> b.sumSquares(strided), "not contiguous");
    fails(IllegalArgumentException.class, () -> b.rmsNormForward(f32(3, 4), wide.select(1, 0).slice(0, 0, 4),
        1e-5f, f32(3, 4), f32(3)), "'w'", "not contiguous");
    // a transposed view (last stride != 1) cannot be a GEMM operand: pass the flag instead
    Tensor t = wide.view(0, new long[] {8, 4}, new long[] {1, 8});
    fails(IllegalArgumentException.class, () -> b.gemm(false, false, 1, t, f32(4, 2), 0, f32(8, 2)), "'a'",
        "stride 1", "transpose flag");
    // rows that overlap (row stride < C)
    Tensor overlapping = wide.view(0, new long[] {3, 4}, new long[] {2, 1});
    fails(IllegalArgumentException.class, () -> b.softmaxForward(overlapping, f32(3, 4)), "row stride 2",
        "rows overlap");
    // but row-strided matrices are fine: the reference backend accepts the rest too
    Tensor y = f32(4, 5);
    b.softmaxForward(strided, y);
    assertEquals(0.2, y.getDouble(0, 0), 1e-6);
    Tensor yRef = f32(4, 5);
    Backends.reference().activationForward(Activation.SILU, strided, yRef);
    assertEquals(0.5 / (1 + Math.exp(-0.5)), yRef.getDouble(3, 4), 1e-6);
    stillWorks(b);
  }
}
