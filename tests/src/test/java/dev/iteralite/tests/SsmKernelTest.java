package dev.iteralite.tests;

import static dev.iteralite.tests.TestTensors.assertClose;
import static dev.iteralite.tests.TestTensors.f64;
import static dev.iteralite.tests.TestTensors.matrix;
import static dev.iteralite.tests.TestTensors.poison;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.backend.ReferenceBackend;
import dev.iteralite.backend.SelectiveScan;
import dev.iteralite.backend.SelectiveScanGrads;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Selective scan and causal conv1d: the fast kernels (every ISA level) against the C++ scalar
 * specification ({@code _ref}, called raw) and the Java double reference, forward, every gradient
 * and the decoding step; odd L / N / E, strided operands (column slices, as the mixer passes
 * them), NaN-poisoned outputs, several seeds and chunk lengths.
 */
@ExtendWith(RestoresIsa.class)
class SsmKernelTest {
  static final CpuBackend CPU = Backends.cpu();
  static final ReferenceBackend REF = Backends.reference();
  /** Normalised squared error allowed between an F32 kernel and the double reference. */
  static final double TOL = 1e-9;



  /** batch, L, E, N, chunk, D?, z?, delta bias?, softplus?, seed. */
  record Case(int batch, int len, int e, int n, int chunk, boolean d, boolean z, boolean bias, boolean softplus, long seed) {
    @Override
    public String toString() {
      return "B" + batch + " L" + len + " E" + e + " N" + n + " chunk" + chunk + (d ? " D" : "") + (z ? " z" : "")
          + (bias ? " bias" : "") + (softplus ? " softplus" : "");
    }
  }

  static final Case[] CASES = {
    new Case(1, 7, 5, 3, 3, true, true, true, true, 1),
    new Case(2, 13, 37, 16, 4, true, true, true, true, 2),
    new Case(3, 33, 19, 16, 64, false, false, false, false, 3),
    new Case(2, 50, 40, 5, 7, true, false, true, true, 4),
    new Case(1, 1, 17, 16, 1, true, true, true, true, 5),
    new Case(2, 64, 33, 16, 16, true, true, false, true, 6),
    new Case(1, 40, 48, 16, 40, true, true, true, true, 7),
  };

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : KernelParityTest.isas()) {
      for (Case c : CASES) {
        out.add(Arguments.of(isa, c));
      }
    }
    return out.stream();
  }

  /** The operands of one case: F32 (strided views as the mixer has them) and F64 copies. */
  static final class Operands {
    final Case c;
    final long rows;
    final Tensor u, delta, a, b, cm, d, z, bias;
    final SelectiveScan f32;
    final SelectiveScan f64;

    Operands(Arena ar, Case c) {
      this.c = c;
      Random rnd = new Random(c.seed());
      rows = (long) c.batch() * c.len();
      u = matrix(ar, rnd, rows, c.e(), 3, 1.0);
      delta = matrix(ar, rnd, rows, c.e(), 0, 1.0);
      if (c.softplus()) {
        shift(delta, 2.0, -1.0); // raw delta in [-3, 1]
      } else {
        shift(delta, 0.25, 0.26); // positive deltas in [0.01, 0.51]: no softplus to make them so
      }
      a = matrix(ar, rnd, c.e(), c.n(), 0, 1.0);
      shift(a, 1.4, -1.6); // A in [-3, -0.2]
      Tensor bc = matrix(ar, rnd, rows, 2L * c.n() + 3, 0, 1.0); // B | C | 3 unused columns
      b = bc.slice(1, 0, c.n());
      cm = bc.slice(1, c.n(), 2L * c.n());
      d = c.d() ? TestTensors.random(ar, rnd, 1.0, c.e()) : null;
      z = c.z() ? matrix(ar, rnd, rows, 2L * c.e(), 0, 2.0).slice(1, c.e(), 2L * c.e()) : null;
      bias = c.bias() ? TestTensors.random(ar, rnd, 1.0, c.e()) : null;
      if (bias != null) {
        shift(bias, 1.0, -1.0);
      }
      f32 = new SelectiveScan(c.batch(), u, delta, a, b, cm, d, z, bias, c.softplus(), c.chunk());
      f64 = new SelectiveScan(c.batch(), f64(ar, u), f64(ar, delta), f64(ar, a), f64(ar, b), f64(ar, cm),
          d == null ? null : f64(ar, d), z == null ? null : f64(ar, z), bias == null ? null : f64(ar, bias),
          c.softplus(), c.chunk());
    }

    long chunks() {
      return SelectiveScan.numChunks(c.len(), c.chunk());
    }

    /** Raw call of the C++ specification forward. */
    void refForward(Tensor y, Tensor last, Tensor chunkStates) {
      IteraNative.itera_selective_scan_forward_ref(c.batch(), c.len(), c.e(), c.n(), u.address(), u.stride(0),
          delta.address(), delta.stride(0), a.address(), b.address(), b.stride(0), cm.address(), cm.stride(0),
          addr(d), addr(z), z == null ? 0 : z.stride(0), addr(bias), c.softplus() ? 1 : 0, c.chunk(), y.address(),
          y.stride(0), last.address(), chunkStates.address());
    }

    void refBackward(Tensor chunkStates, Tensor dy, SelectiveScanGrads g) {
      IteraNative.itera_selective_scan_backward_ref(c.batch(), c.len(), c.e(), c.n(), u.address(), u.stride(0),
          delta.address(), delta.stride(0), a.address(), b.address(), b.stride(0), cm.address(), cm.stride(0),
          addr(d), addr(z), z == null ? 0 : z.stride(0), addr(bias), c.softplus() ? 1 : 0, c.chunk(),
          chunkStates.address(), dy.address(), dy.stride(0), g.du().address(), g.du().stride(0),
          g.dDelta().address(), g.dDelta().stride(0), g.dA().address(), g.dB().address(), g.dB().stride(0),
          g.dC().address(), g.dC().stride(0), addr(g.dD()), addr(g.dz()), g.dz() == null ? 0 : g.dz().stride(0),
          addr(g.dDeltaBias()));
    }

    /** Gradient buffers (F32 strided like the mixer's, or F64), all starting at the same small values. */
    SelectiveScanGrads grads(Arena ar, DType dt, long seed) {
      Random rnd = new Random(seed);
      Tensor dxdbl = init(ar, dt, rnd, rows, 2L * c.n() + 1);
      Tensor dxz = init(ar, dt, rnd, rows, 2L * c.e());
      return new SelectiveScanGrads(init(ar, dt, rnd, rows, c.e()), init(ar, dt, rnd, rows, c.e()),
          init(ar, dt, rnd, c.e(), c.n()), dxdbl.slice(1, 1, c.n() + 1L), dxdbl.slice(1, c.n() + 1L, 2L * c.n() + 1),
          c.d() ? init(ar, dt, rnd, c.e()) : null, c.z() ? dxz.slice(1, 0, c.e()) : null,
          c.bias() ? init(ar, dt, rnd, c.e()) : null);
    }
  }

  static Tensor init(Arena ar, DType dt, Random rnd, long... shape) {
    Tensor t = ar.allocate(dt, shape);
    TestTensors.randomize(t, rnd, 0.1);
    return t;
  }

  static long addr(Tensor t) {
    return t == null ? 0L : t.address();
  }

  /** t = t * scale + offset, elementwise. */
  static void shift(Tensor t, double scale, double offset) {
    double[] v = t.toDoubleArray();
    for (int i = 0; i < v.length; i++) {
      v[i] = v[i] * scale + offset;
    }
    t.copyFrom(v);
  }

  static void assertGrads(String what, SelectiveScanGrads actual, SelectiveScanGrads expected, double tol) {
    assertClose(what + " du", actual.du(), expected.du(), tol);
    assertClose(what + " dDelta", actual.dDelta(), expected.dDelta(), tol);
    assertClose(what + " dA", actual.dA(), expected.dA(), tol);
    assertClose(what + " dB", actual.dB(), expected.dB(), tol);
    assertClose(what + " dC", actual.dC(), expected.dC(), tol);
    if (expected.dD() != null) {
      assertClose(what + " dD", actual.dD(), expected.dD(), tol);
    }
    if (expected.dz() != null) {
      assertClose(what + " dz", actual.dz(), expected.dz(), tol);
    }
    if (expected.dDeltaBias() != null) {
      assertClose(what + " dDeltaBias", actual.dDeltaBias(), expected.dDeltaBias(), tol);
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void scanForwardBackwardMatchSpecAndReference(Isa isa, Case c) {
    CPU.setIsa(isa);
    try (Arena ar = Arena.open()) {
      Operands o = new Operands(ar, c);
      long state = (long) c.batch() * c.e() * c.n();
      // fast (outputs poisoned: every element must be written)
      Tensor y = poison(ar.allocate(DType.F32, o.rows, c.e()));
      Tensor last = poison(ar.allocate(DType.F32, state));
      Tensor chunks = poison(ar.allocate(DType.F32, state * o.chunks()));
      CPU.selectiveScanForward(o.f32, y, last, chunks);
      // C++ specification
      Tensor yRef = poison(ar.allocate(DType.F32, o.rows, c.e()));
      Tensor lastRef = poison(ar.allocate(DType.F32, state));
      Tensor chunksRef = poison(ar.allocate(DType.F32, state * o.chunks()));
      o.refForward(yRef, lastRef, chunksRef);
      // Java double reference
      Tensor yJ = ar.allocate(DType.F64, o.rows, c.e());
      Tensor lastJ = ar.allocate(DType.F64, state);
      Tensor chunksJ = ar.allocate(DType.F64, state * o.chunks());
      REF.selectiveScanForward(o.f64, yJ, lastJ, chunksJ);
      String w = isa + " " + c;
      assertClose("spec y " + w, yRef, yJ, TOL);
      assertClose("spec lastState " + w, lastRef, lastJ, TOL);
      assertClose("spec chunkStates " + w, chunksRef, chunksJ, TOL);
      assertClose("fast y " + w, y, yJ, TOL);
      assertClose("fast lastState " + w, last, lastJ, TOL);
      assertClose("fast chunkStates " + w, chunks, chunksJ, TOL);

      Random rnd = new Random(c.seed() + 100);
      Tensor dy = matrix(ar, rnd, o.rows, c.e(), 2, 1.0);
      SelectiveScanGrads g = o.grads(ar, DType.F32, c.seed());
      SelectiveScanGrads gRef = o.grads(ar, DType.F32, c.seed());
      SelectiveScanGrads gJ = o.grads(ar, DType.F64, c.seed());
      CPU.selectiveScanBackward(o.f32, chunks, dy, g);
      o.refBackward(chunksRef, dy, gRef);
      REF.selectiveScanBackward(o.f64, chunksJ, f64(ar, dy), gJ);
      assertGrads("spec " + w, gRef, gJ, TOL);
      assertGrads("fast " + w, g, gJ, TOL);
    }
  }

  /** Token-by-token steps from a zero state reproduce the full forward's outputs and last state. */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void stepsEqualForward(Isa isa, Case c) {
    CPU.setIsa(isa);
    try (Arena ar = Arena.open()) {
      Operands o = new Operands(ar, c);
      long state = (long) c.batch() * c.e() * c.n();
      Tensor y = ar.allocate(DType.F32, o.rows, c.e());
      Tensor last = ar.allocate(DType.F32, state);
      CPU.selectiveScanForward(o.f32, y, last, null);
      Tensor h = ar.allocate(DType.F32, state);
      h.fill(0);
      Tensor hRef = ar.allocate(DType.F32, state);
      hRef.fill(0);
      double[] ySteps = new double[(int) (o.rows * c.e())];
      double[] yStepsRef = new double[ySteps.length];
      for (int t = 0; t < c.len(); t++) {
        // token t of every sequence: rows t, L + t, 2L + t, ... as a [batch, *] view
        SelectiveScan s = new SelectiveScan(c.batch(), rowsAt(o.u, c, t), rowsAt(o.delta, c, t), o.a,
            rowsAt(o.b, c, t), rowsAt(o.cm, c, t), o.d, o.z == null ? null : rowsAt(o.z, c, t), o.bias,
            c.softplus(), 1);
        Tensor yt = poison(ar.allocate(DType.F32, c.batch(), c.e()));
        CPU.selectiveScanStep(s, h, yt);
        Tensor ytRef = poison(ar.allocate(DType.F32, c.batch(), c.e()));
        IteraNative.itera_selective_scan_step_ref(c.batch(), c.e(), c.n(), s.u().address(), s.u().stride(0),
            s.delta().address(), s.delta().stride(0), o.a.address(), s.b().address(), s.b().stride(0),
            s.c().address(), s.c().stride(0), addr(o.d), addr(s.z()), s.z() == null ? 0 : s.z().stride(0),
            addr(o.bias), c.softplus() ? 1 : 0, hRef.address(), ytRef.address(), c.e());
        double[] v = yt.toDoubleArray();
        double[] vr = ytRef.toDoubleArray();
        for (int b = 0; b < c.batch(); b++) {
          System.arraycopy(v, b * c.e(), ySteps, (b * c.len() + t) * c.e(), c.e());
          System.arraycopy(vr, b * c.e(), yStepsRef, (b * c.len() + t) * c.e(), c.e());
        }
      }
      String w = isa + " " + c;
      assertClose("fast steps y " + w, ySteps, y.toDoubleArray(), TOL);
      assertClose("fast steps state " + w, h, last, TOL);
      assertClose("spec steps y " + w, yStepsRef, y.toDoubleArray(), TOL);
      assertClose("spec steps state " + w, hRef, last, TOL);
    }
  }

  /** Rows {t, L + t, 2L + t, ...} of a [batch * L, C] view, as a [batch, C] view. */
  static Tensor rowsAt(Tensor m, Case c, int t) {
    return m.view(t * m.stride(0), new long[] {c.batch(), m.dim(1)}, new long[] {c.len() * m.stride(0), 1});
  }

  // ------------------------------------------------------------------ causal conv1d

  static Stream<Arguments> convCases() {
    List<Arguments> out = new ArrayList<>();
    int[][] shapes = {{1, 9, 5, 4}, {2, 17, 37, 4}, {3, 2, 19, 4}, {2, 11, 33, 1}, {1, 13, 16, 5}};
    for (Isa isa : KernelParityTest.isas()) {
      for (int[] s : shapes) {
        out.add(Arguments.of(isa, s[0], s[1], s[2], s[3]));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} B{1} L{2} E{3} K{4}")
  @MethodSource("convCases")
  void convForwardBackwardStepMatchSpecAndReference(Isa isa, int batch, int len, int e, int k) {
    CPU.setIsa(isa);
    Random rnd = new Random(31L * len + e + k);
    String w = isa + " B" + batch + " L" + len + " E" + e + " K" + k;
    try (Arena ar = Arena.open()) {
      long rows = (long) batch * len;
      Tensor xz = matrix(ar, rnd, rows, 2L * e, 0, 1.0);
      Tensor x = xz.slice(1, 0, e); // strided, as in_proj's x half
      Tensor wt = TestTensors.random(ar, rnd, 1.0, e, k);
      Tensor bias = TestTensors.random(ar, rnd, 1.0, e);
      Tensor y = poison(ar.allocate(DType.F32, rows, e));
      CPU.causalConv1dForward(batch, x, wt, bias, y);
      Tensor yRef = poison(ar.allocate(DType.F32, rows, e));
      IteraNative.itera_causal_conv1d_forward_ref(batch, len, e, k, x.address(), x.stride(0), wt.address(),
          bias.address(), yRef.address(), e);
      Tensor yJ = ar.allocate(DType.F64, rows, e);
      REF.causalConv1dForward(batch, f64(ar, x), f64(ar, wt), f64(ar, bias), yJ);
      assertClose("conv spec y " + w, yRef, yJ, 1e-12);
      assertClose("conv fast y " + w, y, yJ, 1e-12);

      Tensor dy = matrix(ar, rnd, rows, e, 3, 1.0);
      Tensor[] dx = new Tensor[3];
      Tensor[] dw = new Tensor[3];
      Tensor[] db = new Tensor[3];
      for (int i = 0; i < 3; i++) {
        Random r0 = new Random(5);
        DType dt = i == 2 ? DType.F64 : DType.F32;
        dx[i] = init(ar, dt, r0, rows, 2L * e).slice(1, 0, e);
        dw[i] = init(ar, dt, r0, e, k);
        db[i] = init(ar, dt, r0, e);
      }
      CPU.causalConv1dBackward(batch, x, wt, dy, dx[0], dw[0], db[0]);
      IteraNative.itera_causal_conv1d_backward_ref(batch, len, e, k, x.address(), x.stride(0), wt.address(),
          dy.address(), dy.stride(0), dx[1].address(), dx[1].stride(0), dw[1].address(), db[1].address());
      REF.causalConv1dBackward(batch, f64(ar, x), f64(ar, wt), f64(ar, dy), dx[2], dw[2], db[2]);
      for (int i = 0; i < 2; i++) {
        String who = (i == 0 ? "fast " : "spec ") + w;
        assertClose("conv dx " + who, dx[i], dx[2], 1e-12);
        assertClose("conv dw " + who, dw[i], dw[2], 1e-12);
        assertClose("conv dbias " + who, db[i], db[2], 1e-12);
      }

      // steps from a zero window reproduce the forward (the window zeros are the causal padding)
      Tensor win = ar.allocate(DType.F32, batch, k, e);
      win.fill(0);
      Tensor winRef = ar.allocate(DType.F32, batch, k, e);
      winRef.fill(0);
      Tensor winJ = ar.allocate(DType.F64, batch, k, e);
      winJ.fill(0);
      Case c = new Case(batch, len, e, 1, 1, false, false, false, false, 0);
      double[] ys = new double[(int) (rows * e)];
      double[] ysRef = new double[ys.length];
      double[] ysJ = new double[ys.length];
      for (int t = 0; t < len; t++) {
        Tensor xt = rowsAt(x, c, t);
        Tensor yt = poison(ar.allocate(DType.F32, batch, e));
        CPU.causalConv1dStep(xt, win, wt, bias, yt);
        Tensor ytRef = poison(ar.allocate(DType.F32, batch, e));
        IteraNative.itera_causal_conv1d_step_ref(batch, e, k, xt.address(), xt.stride(0), winRef.address(),
            wt.address(), bias.address(), ytRef.address(), e);
        Tensor ytJ = ar.allocate(DType.F64, batch, e);
        REF.causalConv1dStep(f64(ar, xt), winJ, f64(ar, wt), f64(ar, bias), ytJ);
        double[][] src = {yt.toDoubleArray(), ytRef.toDoubleArray(), ytJ.toDoubleArray()};
        double[][] dst = {ys, ysRef, ysJ};
        for (int i = 0; i < 3; i++) {
          for (int b = 0; b < batch; b++) {
            System.arraycopy(src[i], b * e, dst[i], (b * len + t) * e, e);
          }
        }
      }
      double[] full = yJ.toDoubleArray();
      assertClose("conv fast steps " + w, ys, full, 1e-12);
      assertClose("conv spec steps " + w, ysRef, full, 1e-12);
      assertClose("conv reference steps " + w, ysJ, full, 1e-24);
    }
  }

  // ------------------------------------------------------------------ memory bound and bad inputs

  /** The saved states are ceil(L/chunk) per sequence, and the backward needs nothing else. */
  @Test
  void backwardMemoryIsChunkStatesOnly() {
    assertTrue(SelectiveScan.numChunks(1024, 64) == 16);
    assertTrue(IteraNative.itera_ssm_num_chunks(1024, 64) == 16);
    assertTrue(IteraNative.itera_ssm_num_chunks(1025, 64) == 17);
    assertTrue(IteraNative.itera_ssm_num_chunks(3, 64) == 1);
  }

  @Test
  void badInputsAreRejected() {
    try (Arena ar = Arena.open()) {
      Case c = CASES[1];
      Operands o = new Operands(ar, c);
      long state = (long) c.batch() * c.e() * c.n();
      Tensor y = ar.allocate(DType.F32, o.rows, c.e());
      Tensor chunks = ar.allocate(DType.F32, state * o.chunks());
      // rows not a multiple of batch
      SelectiveScan badBatch = new SelectiveScan(5, o.u, o.delta, o.a, o.b, o.cm, o.d, o.z, o.bias, true, c.chunk());
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanForward(badBatch, y, null, null));
      // A with the wrong number of channels
      Tensor a2 = ar.allocate(DType.F32, c.e() + 1, c.n());
      SelectiveScan badA = new SelectiveScan(c.batch(), o.u, o.delta, a2, o.b, o.cm, o.d, o.z, o.bias, true, c.chunk());
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanForward(badA, y, null, null));
      // chunk 0
      SelectiveScan badChunk = new SelectiveScan(c.batch(), o.u, o.delta, o.a, o.b, o.cm, o.d, o.z, o.bias, true, 0);
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanForward(badChunk, y, null, null));
      // chunk states of the wrong size
      Tensor small = ar.allocate(DType.F32, state);
      if (o.chunks() > 1) {
        assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanForward(o.f32, y, null, small));
      }
      // F64 on the CPU backend
      Tensor y64 = ar.allocate(DType.F64, o.rows, c.e());
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanForward(o.f64, y64, null, null));
      // output aliasing an input
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanForward(o.f32, o.u, null, null));
      // a gradient for an absent input / a missing one for a present input
      CPU.selectiveScanForward(o.f32, y, null, chunks);
      Tensor dy = ar.allocate(DType.F32, o.rows, c.e());
      SelectiveScanGrads g = o.grads(ar, DType.F32, 1);
      SelectiveScanGrads noDD = new SelectiveScanGrads(g.du(), g.dDelta(), g.dA(), g.dB(), g.dC(), null, g.dz(), g.dDeltaBias());
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanBackward(o.f32, chunks, dy, noDD));
      SelectiveScan noZ = new SelectiveScan(c.batch(), o.u, o.delta, o.a, o.b, o.cm, o.d, null, o.bias, true, c.chunk());
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanBackward(noZ, chunks, dy, g));
      // d_state above the limit
      Tensor bigA = ar.allocate(DType.F32, c.e(), SelectiveScan.MAX_STATE + 1);
      Tensor bigBC = ar.allocate(DType.F32, o.rows, SelectiveScan.MAX_STATE + 1);
      SelectiveScan big = new SelectiveScan(c.batch(), o.u, o.delta, bigA, bigBC, bigBC, null, null, null, true, 4);
      assertThrows(IllegalArgumentException.class, () -> REF.selectiveScanForward(big, y, null, null));
      // step: state of the wrong size
      SelectiveScan step = new SelectiveScan(c.batch(), rowsAt(o.u, c, 0), rowsAt(o.delta, c, 0), o.a,
          rowsAt(o.b, c, 0), rowsAt(o.cm, c, 0), o.d, rowsAt(o.z, c, 0), o.bias, true, 1);
      Tensor yt = ar.allocate(DType.F32, c.batch(), c.e());
      Tensor badState = ar.allocate(DType.F32, state - 1);
      assertThrows(IllegalArgumentException.class, () -> CPU.selectiveScanStep(step, badState, yt));
      // conv: w with the wrong channel count, window of the wrong size, rows not a multiple of batch
      Tensor w = ar.allocate(DType.F32, c.e() + 2, 4);
      assertThrows(IllegalArgumentException.class, () -> CPU.causalConv1dForward(c.batch(), o.u, w, null, y));
      Tensor w4 = ar.allocate(DType.F32, c.e(), 4);
      assertThrows(IllegalArgumentException.class, () -> CPU.causalConv1dForward(7, o.u, w4, null, y));
      Tensor win = ar.allocate(DType.F32, c.batch(), 3, c.e());
      assertThrows(IllegalArgumentException.class, () -> CPU.causalConv1dStep(rowsAt(o.u, c, 0), win, w4, null, yt));
      // closed tensor
      Tensor closed = ar.allocate(DType.F32, o.rows, c.e());
      closed.close();
      assertThrows(IllegalStateException.class, () -> CPU.causalConv1dForward(c.batch(), closed, w4, null, y));
    }
  }
}
