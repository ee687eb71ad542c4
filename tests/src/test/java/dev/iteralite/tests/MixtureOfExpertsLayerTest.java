package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.f64;
import static dev.iteralite.tests.TestTensors.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.ReferenceBackend;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.nn.MoeConfig;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The {@link MixtureOfExperts} layer on the native CPU backend: one expert with k = 1 is the dense
 * FFN to rounding (forward, input and weight gradients), and the CPU layer agrees with the
 * float64 reference layer (output, auxiliary losses, counts, every gradient).
 */
class MixtureOfExpertsLayerTest {
  static final CpuBackend CPU = Backends.cpu();
  static final ReferenceBackend REF = Backends.reference();

  /** max |a - b| / max |b|. */
  private static double relMax(double[] a, double[] b) {
    double diff = 0;
    double scale = 0;
    for (int i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    return diff / scale;
  }

  @ParameterizedTest
  @EnumSource(MoeConfig.ExpertKind.class)
  void oneExpertTop1IsTheDenseFeedForward(MoeConfig.ExpertKind kind) {
    int t = 67;
    long d = 40;
    long h = 72;
    // No z-loss: with one expert it is the only router signal left, and it would add an input
    // gradient the dense FFN does not have (the balance loss is constant at E = 1).
    MoeConfig cfg = MoeConfig.builder(d, h, 1).topK(1).expertKind(kind).zLossWeight(0).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(CPU, b, "moe", cfg);
    Random rnd = new Random(21);
    try (ParameterSet params = b.build(DType.F32, 3); Arena arena = Arena.open()) {
      Tensor x = random(arena, rnd, 1.0, t, d);
      Tensor dy = random(arena, rnd, 1.0, t, d);
      params.zeroGrads(CPU);
      Tensor out = moe.forward(x, arena);
      Tensor dx = moe.backward(dy, arena);
      assertEquals(cfg.balanceWeight(), moe.balanceLoss(), 1e-9, "balance loss at E = 1 is alpha");

      // The dense FFN with the same matrices, through plain backend calls.
      Tensor w1 = moe.w1().value().select(0, 0); // [H, D]
      Tensor w2 = moe.w2().value().select(0, 0); // [D, H]
      Tensor h1 = arena.allocate(DType.F32, t, h);
      CPU.gemm(false, true, 1f, x, w1, 0f, h1);
      Tensor h3 = null;
      Tensor a = arena.allocate(DType.F32, t, h);
      if (kind == MoeConfig.ExpertKind.SWIGLU) {
        h3 = arena.allocate(DType.F32, t, h);
        CPU.gemm(false, true, 1f, x, moe.w3().value().select(0, 0), 0f, h3);
        CPU.swigluForward(h1, h3, a);
      } else {
        CPU.activationForward(dev.iteralite.backend.Activation.GELU, h1, a);
      }
      Tensor y = arena.allocate(DType.F32, t, d);
      CPU.gemm(false, true, 1f, a, w2, 0f, y);
      Tensor da = arena.allocate(DType.F32, t, h);
      CPU.gemm(false, false, 1f, dy, w2, 0f, da);
      Tensor dw2 = arena.allocate(DType.F32, d, h);
      CPU.gemm(true, false, 1f, dy, a, 0f, dw2);
      Tensor dh1 = arena.allocate(DType.F32, t, h);
      Tensor dh3 = arena.allocate(DType.F32, t, h);
      if (h3 != null) {
        CPU.swigluBackward(h1, h3, da, dh1, dh3);
      } else {
        CPU.activationBackward(dev.iteralite.backend.Activation.GELU, h1, da, dh1);
      }
      Tensor dxDense = arena.allocate(DType.F32, t, d);
      CPU.gemm(false, false, 1f, dh1, w1, 0f, dxDense);
      Tensor dw1 = arena.allocate(DType.F32, h, d);
      CPU.gemm(true, false, 1f, dh1, x, 0f, dw1);

      double tol = 1e-6; // rounding of a few fp32 operations, relative to the largest element
      assertTrue(relMax(out.toDoubleArray(), y.toDoubleArray()) <= tol, "forward");
      assertTrue(relMax(moe.w1().grad().select(0, 0).toDoubleArray(), dw1.toDoubleArray()) <= tol, "dW1");
      assertTrue(relMax(moe.w2().grad().select(0, 0).toDoubleArray(), dw2.toDoubleArray()) <= tol, "dW2");
      if (h3 != null) {
        CPU.gemm(false, false, 1f, dh3, moe.w3().value().select(0, 0), 1f, dxDense);
        Tensor dw3 = arena.allocate(DType.F32, h, d);
        CPU.gemm(true, false, 1f, dh3, x, 0f, dw3);
        assertTrue(relMax(moe.w3().grad().select(0, 0).toDoubleArray(), dw3.toDoubleArray()) <= tol, "dW3");
      }
      assertTrue(relMax(dx.toDoubleArray(), dxDense.toDoubleArray()) <= tol, "dx");
      double routerGrad = 0;
      for (double g : moe.routerWeight().grad().toDoubleArray()) {
        routerGrad = Math.max(routerGrad, Math.abs(g));
      }
      assertEquals(0.0, routerGrad, 0.0, "one expert with k = 1 and no z-loss gives the router no gradient");
    }
  }

  @ParameterizedTest
  @CsvSource({"257,48,40,6,2,0,SWIGLU", "130,33,17,5,3,1.0,SWIGLU", "64,24,31,4,1,0,GELU"})
  void cpuLayerMatchesTheReferenceLayer(int t, long d, long h, int e, int k, double cf, MoeConfig.ExpertKind kind) {
    MoeConfig cfg = MoeConfig.builder(d, h, e).topK(k).capacityFactor(cf).expertKind(kind).build();
    ParameterSet.Builder bc = ParameterSet.builder();
    MixtureOfExperts cpu = new MixtureOfExperts(CPU, bc, "moe", cfg);
    ParameterSet.Builder br = ParameterSet.builder();
    MixtureOfExperts ref = new MixtureOfExperts(REF, br, "moe", cfg);
    Random rnd = new Random(t);
    try (ParameterSet pc = bc.build(DType.F32, 8); ParameterSet pr = br.build(DType.F64, 8); Arena arena = Arena.open()) {
      // identical (fp32-representable) parameter values on both sides
      for (Parameter p : pc.parameters()) {
        pr.get(p.name()).value().copyFrom(p.value().toDoubleArray());
      }
      Tensor x = random(arena, rnd, 1.5, t, d);
      Tensor dy = random(arena, rnd, 1.0, t, d);
      pc.zeroGrads(CPU);
      pr.zeroGrads(REF);
      Tensor outC = cpu.forward(x, arena);
      Tensor outR = ref.forward(f64(arena, x), arena);
      assertArrayEquals(ref.lastRoutedCounts(), cpu.lastRoutedCounts(), "routing decisions");
      assertArrayEquals(ref.lastKeptCounts(), cpu.lastKeptCounts(), "capacity decisions");
      if (cf > 0) {
        assertTrue(cpu.lastDroppedCount() >= 0);
      }
      assertClose("output", outC, outR, 1e-10);
      assertEquals(ref.auxLoss(), cpu.auxLoss(), 1e-6 * ref.auxLoss(), "aux loss");
      Tensor dxC = cpu.backward(dy, arena);
      Tensor dxR = ref.backward(f64(arena, dy), arena);
      assertClose("dx", dxC, dxR, 1e-10);
      for (Parameter p : pc.parameters()) {
        assertClose("grad " + p.name(), p.grad(), pr.get(p.name()).grad(), 1e-9);
      }
    }
  }

  /** The layer's input need not be contiguous: a row-strided view works on every backend. */
  @ParameterizedTest
  @CsvSource({"cpu", "reference"})
  void acceptsRowStridedInput(String backendName) {
    Backend backend = backendName.equals("cpu") ? CPU : REF;
    MoeConfig cfg = MoeConfig.builder(8, 6, 3).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(backend, b, "moe", cfg);
    Random rnd = new Random(4);
    try (ParameterSet params = b.build(DType.F32, 2); Arena arena = Arena.open()) {
      Tensor wide = random(arena, rnd, 1.0, 10, 12);
      Tensor view = wide.slice(1, 2, 10); // [10, 8], row stride 12
      Tensor copy = arena.allocate(DType.F32, 10, 8);
      copy.copyFrom(view.toDoubleArray());
      double[] a = moe.forward(view, arena).toDoubleArray();
      double[] c = moe.forward(copy, arena).toDoubleArray();
      assertArrayEquals(c, a, 0.0);
    }
  }
}
