package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.nn.GradientChecker;
import dev.iteralite.nn.MambaConfig;
import dev.iteralite.nn.MambaMixer;
import dev.iteralite.nn.MambaState;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Mamba-1 mixer: float64 finite-difference gradients of every parameter and the input on the
 * reference backend; the CPU backend against the reference (forward and all gradients);
 * prefill + token-by-token steps against the full forward; Mamba's initialisation; bad inputs.
 */
class MambaMixerTest {
  static final CpuBackend CPU = Backends.cpu();

  /** Small but complete: E = 16, N = 3, K = 3, R = 2; chunk 2 so the CPU backward recomputes chunks. */
  static MambaConfig small() {
    return MambaConfig.builder(8).dState(3).dConv(3).dtRank(2).chunk(2).build();
  }

  static Tensor input(Arena ar, DType dt, Random rnd, long... shape) {
    Tensor t = ar.allocate(dt, shape);
    TestTensors.randomize(t, rnd, 1.0);
    return t;
  }

  @Test
  void finiteDifferenceGradientsOfEveryParameter() {
    Backend ref = Backends.reference();
    ParameterSet.Builder b = ParameterSet.builder();
    MambaConfig cfg = small();
    MambaMixer mixer = new MambaMixer(ref, b, "m", cfg);
    try (ParameterSet params = b.build(DType.F64, 7); Arena ar = Arena.open()) {
      // Larger dt than the init range so the state carries information across tokens, and a
      // random D so its gradient is not special.
      perturb(params, new Random(3), 0.3);
      Tensor x = input(ar, DType.F64, new Random(11), 2, 5, cfg.dModel()); // batch 2, L 5
      List<GradientChecker.Result> results =
          new GradientChecker().tolerances(1e-5, 1e-9).maxElementsPerTensor(40).check(mixer, params, x);
      Set<String> names = new HashSet<>();
      for (GradientChecker.Result r : results) {
        assertTrue(r.checked() > 0, r.tensor() + ": nothing checked");
        assertTrue(r.passed(), () -> "gradient mismatch: " + r);
        names.add(r.tensor());
      }
      assertEquals(
          Set.of("input", "m.in_proj.weight", "m.conv.weight", "m.conv.bias", "m.x_proj.weight", "m.dt_proj.weight",
              "m.dt_proj.bias", "m.A_log", "m.D", "m.out_proj.weight"),
          names);
    }
  }

  /** Adds U(-s, s) to every parameter (moves D, A_log, the dt bias off their init constants). */
  static void perturb(ParameterSet params, Random rnd, double s) {
    double[] v = params.values().toDoubleArray();
    for (int i = 0; i < v.length; i++) {
      v[i] += (rnd.nextDouble() * 2 - 1) * s;
    }
    params.values().copyFrom(v);
  }

  static List<Isa> isas() {
    return KernelParityTest.isas();
  }

  @ParameterizedTest
  @MethodSource("isas")
  void cpuMatchesReference(Isa isa) {
    Isa saved = CPU.isa();
    CPU.setIsa(isa);
    MambaConfig cfg = MambaConfig.builder(24).dState(16).chunk(5).build(); // E 48, R 2
    ParameterSet.Builder bc = ParameterSet.builder();
    MambaMixer cpu = new MambaMixer(CPU, bc, "m", cfg);
    ParameterSet.Builder br = ParameterSet.builder();
    MambaMixer ref = new MambaMixer(Backends.reference(), br, "m", cfg);
    try (ParameterSet pc = bc.build(DType.F32, 5); ParameterSet pr = br.build(DType.F64, 5); Arena ar = Arena.open()) {
      perturb(pc, new Random(8), 0.2);
      pr.values().copyFrom(pc.values().toDoubleArray());
      Tensor x = input(ar, DType.F32, new Random(9), 3 * 13, cfg.dModel()); // batch 3, L 13
      Tensor x64 = TestTensors.f64(ar, x);
      pc.zeroGrads(CPU);
      pr.zeroGrads(Backends.reference());
      Tensor y = cpu.forward(x, 3, ar);
      Tensor y64 = ref.forward(x64, 3, ar);
      assertClose("mixer forward " + isa, y, y64, 1e-9);
      Tensor g = input(ar, DType.F32, new Random(10), 3 * 13, cfg.dModel());
      Tensor dx = cpu.backward(g, ar);
      Tensor dx64 = ref.backward(TestTensors.f64(ar, g), ar);
      assertClose("mixer dInput " + isa, dx, dx64, 1e-8);
      for (int i = 0; i < pc.parameters().size(); i++) {
        Parameter p = pc.parameters().get(i);
        assertClose("mixer grad " + p.name() + " " + isa, p.grad(), pr.parameters().get(i).grad(), 1e-8);
      }
    } finally {
      CPU.setIsa(saved);
    }
  }

  /** Prefill of a prompt (shorter and longer than K), then one token at a time, equals the full forward. */
  @Test
  void prefillThenStepsEqualFullForward() {
    for (Backend be : new Backend[] {Backends.reference(), CPU}) {
      DType dt = be == CPU ? DType.F32 : DType.F64;
      for (int prompt : new int[] {0, 2, 6}) {
        MambaConfig cfg = MambaConfig.builder(32).chunk(4).build(); // E 64, N 16, K 4, R 2
        ParameterSet.Builder b = ParameterSet.builder();
        MambaMixer mixer = new MambaMixer(be, b, "m", cfg);
        int batch = 2;
        int len = 11;
        try (ParameterSet params = b.build(dt, 21); Arena ar = Arena.open()) {
          perturb(params, new Random(4), 0.1);
          // after the parameter change: the state snapshots A = -exp(A_log)
          MambaState state = mixer.newState(batch);
          Tensor x = input(ar, dt, new Random(prompt), batch, len, cfg.dModel());
          double[] full = mixer.forward(x, ar).toDoubleArray(); // [batch, len, D]
          double[] stepped = new double[full.length];
          double[] xv = x.toDoubleArray();
          int d = cfg.dModel();
          if (prompt > 0) {
            Tensor p = ar.allocate(dt, batch, prompt, d);
            double[] pv = new double[batch * prompt * d];
            for (int s = 0; s < batch; s++) {
              System.arraycopy(xv, s * len * d, pv, s * prompt * d, prompt * d);
            }
            p.copyFrom(pv);
            double[] out = mixer.prefill(p, state, ar).toDoubleArray();
            for (int s = 0; s < batch; s++) {
              System.arraycopy(out, s * prompt * d, stepped, s * len * d, prompt * d);
            }
          }
          Tensor tok = ar.allocate(dt, batch, d);
          Tensor out = ar.allocate(dt, batch, d);
          double[] tv = new double[batch * d];
          for (int t = prompt; t < len; t++) {
            for (int s = 0; s < batch; s++) {
              System.arraycopy(xv, (s * len + t) * d, tv, s * d, d);
            }
            tok.copyFrom(tv);
            mixer.step(tok, state, out);
            double[] ov = out.toDoubleArray();
            for (int s = 0; s < batch; s++) {
              System.arraycopy(ov, s * d, stepped, (s * len + t) * d, d);
            }
          }
          state.close();
          assertClose(be.name() + " prompt " + prompt + ": steps vs forward", stepped, full, dt == DType.F32 ? 1e-9 : 1e-24);
        }
      }
    }
  }

  @Test
  void mambaInitialisation() {
    MambaConfig cfg = MambaConfig.of(64); // E 128, N 16, R 4
    assertEquals(4, cfg.dtRank());
    assertEquals(16, cfg.dState());
    assertEquals(4, cfg.dConv());
    assertEquals(128, cfg.dInner());
    ParameterSet.Builder b = ParameterSet.builder();
    MambaMixer mixer = new MambaMixer(Backends.reference(), b, "m", cfg);
    try (ParameterSet params = b.build(DType.F64, 1)) {
      double[] aLog = mixer.aLog().value().toDoubleArray();
      for (int i = 0; i < aLog.length; i++) {
        assertEquals(Math.log(i % 16 + 1), aLog[i], 1e-15);
      }
      for (double d : mixer.dSkip().value().toDoubleArray()) {
        assertEquals(1.0, d);
      }
      double lo = Double.MAX_VALUE;
      double hi = 0;
      for (double bias : mixer.dtBias().value().toDoubleArray()) {
        double dt = Math.log1p(Math.exp(bias)); // softplus(bias) is the initial dt
        assertTrue(dt >= 1e-3 * (1 - 1e-9) && dt <= 0.1 * (1 + 1e-9), "dt " + dt + " outside [1e-3, 0.1]");
        lo = Math.min(lo, dt);
        hi = Math.max(hi, dt);
      }
      assertTrue(lo < 3e-3 && hi > 3e-2, "dt not spread log-uniformly: [" + lo + ", " + hi + "]");
      double bound = 1.0 / Math.sqrt(4);
      for (double w : params.get("m.dt_proj.weight").value().toDoubleArray()) {
        assertTrue(Math.abs(w) <= bound, "dt_proj weight " + w);
      }
      for (Parameter p : mixer.parameters()) {
        boolean noDecay = p == mixer.aLog() || p == mixer.dSkip() || p == mixer.dtBias() || p.name().equals("m.conv.bias");
        assertEquals(!noDecay, p.weightDecay(), p.name() + " weight decay");
      }
      assertFalse(params.get("m.A_log").weightDecay());
    }
  }

  @Test
  void badConfigurationsAndInputsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.of(0));
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.builder(16).dState(0).build());
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.builder(16).dState(257).build());
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.builder(16).dConv(0).build());
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.builder(16).dtRank(0).build());
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.builder(16).dtRange(0.1, 0.01).build());
    assertThrows(IllegalArgumentException.class, () -> MambaConfig.builder(16).chunk(0).build());
    MambaConfig cfg = small();
    ParameterSet.Builder b = ParameterSet.builder();
    MambaMixer mixer = new MambaMixer(CPU, b, "m", cfg);
    ParameterSet.Builder b2 = ParameterSet.builder();
    MambaMixer other = new MambaMixer(CPU, b2, "o", cfg);
    try (ParameterSet params = b.build(DType.F32, 1); ParameterSet p2 = b2.build(DType.F32, 1); Arena ar = Arena.open();
        MambaState foreign = other.newState(1)) {
      Tensor wrongWidth = ar.allocate(DType.F32, 6, cfg.dModel() + 1);
      assertThrows(IllegalArgumentException.class, () -> mixer.forward(wrongWidth, ar));
      Tensor x = ar.allocate(DType.F32, 7, cfg.dModel());
      assertThrows(IllegalArgumentException.class, () -> mixer.forward(x, 2, ar)); // 7 rows, batch 2
      Tensor tok = ar.allocate(DType.F32, 1, cfg.dModel());
      Tensor out = ar.allocate(DType.F32, 1, cfg.dModel());
      assertThrows(IllegalArgumentException.class, () -> mixer.step(tok, foreign, out));
      assertThrows(IllegalArgumentException.class, () -> mixer.newState(0));
    }
  }
}
