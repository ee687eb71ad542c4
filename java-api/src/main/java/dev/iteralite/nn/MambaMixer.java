package dev.iteralite.nn;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.SelectiveScan;
import dev.iteralite.backend.SelectiveScanGrads;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/**
 * The Mamba-1 mixer (kernel-facts §1.1-1.5): in_proj (no bias) to (x, z); causal depthwise conv1d
 * with bias; SiLU; x_proj to (dt_low, B, C); dt_proj with bias and softplus (the bias and softplus
 * are fused into the scan); selective scan with A = -exp(A_log), D skip and gate SiLU(z); out_proj.
 *
 * <p><b>Batching.</b> Activations are token-major rows. {@link #forward(Tensor, Arena)} takes
 * either [L, D] (one sequence) or [B, L, D] (B sequences; the output has the same shape); {@link
 * #forward(Tensor, int, Arena)} takes [B * L, D] rows (row b * L + t is token t of sequence b) and
 * an explicit batch. Backward mirrors the latest forward.
 *
 * <p><b>Decoding.</b> {@link #newState(int)} makes a {@link MambaState}; {@link #prefill} runs the
 * full forward over a prompt and leaves the window and SSM state in it; {@link #step} then
 * processes one token per sequence in O(1) time and memory. Stepping token by token gives the
 * full forward's outputs (to rounding).
 *
 * <p>Parameters (names prefixed by the given name): {@code in_proj.weight} [2E, D], {@code
 * conv.weight} [E, K], {@code conv.bias} [E], {@code x_proj.weight} [R + 2N, E], {@code
 * dt_proj.weight} [E, R], {@code dt_proj.bias} [E], {@code A_log} [E, N], {@code D} [E], {@code
 * out_proj.weight} [D, E]. A_log, D and the dt bias have no weight decay.
 */
public final class MambaMixer implements Layer {
  private final Backend backend;
  private final MambaConfig config;
  private final int d;
  private final int e;
  private final int n;
  private final int k;
  private final int r;
  private final Linear inProj;
  private final Parameter convWeight;
  private final Parameter convBias;
  private final Linear xProj;
  private final Parameter dtWeight;
  private final Parameter dtBias;
  private final Parameter aLog;
  private final Parameter dSkip;
  private final Linear outProj;
  private final Projection f32InProj = (x, y) -> gemmF32(x, inProjWeight(), y);
  private final Projection f32XProj = (x, y) -> gemmF32(x, xProjWeight(), y);
  private final Projection f32DtProj = (x, y) -> gemmF32(x, dtProjWeight(), y);
  private final Projection f32OutProj = (x, y) -> gemmF32(x, outProjWeight(), y);

  // Saved by the latest forward for backward.
  private int savedBatch;
  private long[] savedShape;
  private Tensor xz;          // [R, 2E]: in_proj output (x | z)
  private Tensor xc;          // [R, E]: conv output, pre-SiLU
  private Tensor u;           // [R, E]: SiLU(xc), the scan input
  private Tensor xdbl;        // [R, Rdt + 2N]: x_proj output (dt_low | B | C)
  private Tensor delta;       // [R, E]: dt_proj output without bias (raw delta)
  private Tensor a;           // [E, N]: -exp(A_log)
  private Tensor chunkStates; // [B, ceil(L/chunk), E, N]

  /** Declares the mixer's parameters on {@code params} under {@code name}. */
  public MambaMixer(Backend backend, ParameterSet.Builder params, String name, MambaConfig config) {
    this.backend = backend;
    this.config = config;
    this.d = config.dModel();
    this.e = config.dInner();
    this.n = config.dState();
    this.k = config.dConv();
    this.r = config.dtRank();
    this.inProj = new Linear(backend, params, name + ".in_proj", d, 2L * e, false);
    // PyTorch Conv1d default for a depthwise conv: U(+-1/sqrt(fan_in)), fan_in = K.
    double convBound = 1.0 / Math.sqrt(k);
    this.convWeight = params.add(name + ".conv.weight", Init.uniform(convBound), true, e, k);
    this.convBias = params.add(name + ".conv.bias", Init.uniform(convBound), false, e);
    this.xProj = new Linear(backend, params, name + ".x_proj", e, (long) r + 2L * n, false);
    this.dtWeight = params.add(name + ".dt_proj.weight", Init.uniform(1.0 / Math.sqrt(r)), true, e, r);
    this.dtBias = params.add(name + ".dt_proj.bias", dtBiasInit(config), false, e);
    this.aLog = params.add(name + ".A_log", (v, s, rnd) -> {
      // S4D-real: A_log[e, n] = log(n + 1), so A = -(n + 1).
      for (int i = 0; i < v.length; i++) {
        v[i] = Math.log(i % n + 1);
      }
    }, false, e, n);
    this.dSkip = params.add(name + ".D", Init.constant(1.0), false, e);
    this.outProj = new Linear(backend, params, name + ".out_proj", e, d, false);
  }

  /**
   * dt bias: dt = exp(U[log dtMin, log dtMax]) floored at dtFloor, then the inverse softplus
   * dt + log(-expm1(-dt)), so that softplus(bias) = dt at initialisation.
   */
  static Init dtBiasInit(MambaConfig c) {
    return (v, s, rnd) -> {
      double lo = Math.log(c.dtMin());
      double hi = Math.log(c.dtMax());
      for (int i = 0; i < v.length; i++) {
        double dt = Math.max(Math.exp(lo + rnd.nextDouble() * (hi - lo)), c.dtFloor());
        v[i] = dt + Math.log(-Math.expm1(-dt));
      }
    };
  }

  public MambaConfig config() {
    return config;
  }

  public Parameter aLog() {
    return aLog;
  }

  public Parameter dSkip() {
    return dSkip;
  }

  public Parameter dtBias() {
    return dtBias;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of(inProj.weight(), convWeight, convBias, xProj.weight(), dtWeight, dtBias, aLog, dSkip,
        outProj.weight());
  }

  // ------------------------------------------------------------------ training forward / backward

  @Override
  public Tensor forward(Tensor input, Arena arena) {
    if (input.rank() == 3) {
      long b = input.dim(0);
      if (b < 1 || b > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("MambaMixer: batch dimension of " + input.describe() + " must be in [1, 2^31)");
      }
      Tensor out = forward(input.reshape(b * input.dim(1), input.dim(2)), (int) b, arena);
      savedShape = input.shape();
      return out.reshape(input.shape());
    }
    return forward(input, 1, arena);
  }

  /** Forward over [batch * L, D] rows; see the class comment. */
  public Tensor forward(Tensor input, int batch, Arena arena) {
    return run(input, batch, arena, null, null);
  }

  /**
   * The forward over [batch * L, D] rows. {@code projections} null: the layer's own F32 products
   * (the training path, saving what backward needs); otherwise {in, x, dt, out} sequence
   * products supplied by the caller (inference only).
   */
  private Tensor run(Tensor input, int batch, Arena arena, Tensor lastState, Projection[] projections) {
    Shapes.requireRank2("MambaMixer", "input", input, d);
    long rows = input.dim(0);
    if (batch < 1 || rows % batch != 0 || rows == 0) {
      throw new IllegalArgumentException(
          "MambaMixer: " + rows + " input rows do not split into batch=" + batch + " sequences of >= 1 token");
    }
    long len = rows / batch;
    DType dt = input.dtype();
    xz = projections == null ? inProj.forward(input, arena) : project(projections[0], input, 2L * e, arena); // [R, 2E]
    Tensor x = xz.slice(1, 0, e);
    Tensor z = xz.slice(1, e, 2L * e);
    xc = arena.allocate(dt, rows, e);
    backend.causalConv1dForward(batch, x, convWeight.value(), convBias.value(), xc);
    u = arena.allocate(dt, rows, e);
    backend.activationForward(Activation.SILU, xc, u);
    xdbl = projections == null ? xProj.forward(u, arena) : project(projections[1], u, (long) r + 2L * n, arena); // [R, Rdt + 2N]
    delta = arena.allocate(dt, rows, e);
    if (projections == null) {
      backend.gemm(false, true, 1f, xdbl.slice(1, 0, r), dtWeight.value(), 0f, delta); // dt_low W_dt^T
    } else {
      projections[2].apply(xdbl.slice(1, 0, r), delta);
    }
    a = negExp(aLog.value(), arena.allocate(dt, e, n));
    chunkStates = arena.allocate(dt, batch, SelectiveScan.numChunks(len, config.chunk()), e, n);
    Tensor y = arena.allocate(dt, rows, e);
    backend.selectiveScanForward(scan(batch, u, delta, a, xdbl, z), y, lastState, chunkStates);
    savedBatch = batch;
    savedShape = null;
    return projections == null ? outProj.forward(y, arena) : project(projections[3], y, d, arena);
  }

  private static Tensor project(Projection p, Tensor x, long outFeatures, Arena arena) {
    Tensor y = arena.allocate(x.dtype(), x.dim(0), outFeatures);
    p.apply(x, y);
    return y;
  }

  private SelectiveScan scan(int batch, Tensor u, Tensor delta, Tensor a, Tensor xdbl, Tensor z) {
    return new SelectiveScan(batch, u, delta, a, xdbl.slice(1, r, (long) r + n), xdbl.slice(1, (long) r + n,
        (long) r + 2L * n), dSkip.value(), z, dtBias.value(), true, config.chunk());
  }

  /** out = -exp(aLog), elementwise (E * N values: done in Java). */
  private static Tensor negExp(Tensor aLog, Tensor out) {
    double[] v = aLog.toDoubleArray();
    for (int i = 0; i < v.length; i++) {
      v[i] = -Math.exp(v[i]);
    }
    out.copyFrom(v);
    return out;
  }

  @Override
  public Tensor backward(Tensor gradOutput, Arena arena) {
    Shapes.requireSaved("MambaMixer", xz);
    Tensor g = gradOutput;
    long[] shape = savedShape;
    if (gradOutput.rank() == 3) {
      g = gradOutput.reshape(gradOutput.dim(0) * gradOutput.dim(1), gradOutput.dim(2));
    }
    long rows = xz.dim(0);
    DType dt = xz.dtype();
    Tensor dy = outProj.backward(g, arena); // [R, E]
    Tensor dxz = zeros(arena, dt, rows, 2L * e);
    Tensor dxdbl = zeros(arena, dt, rows, (long) r + 2L * n);
    Tensor du = zeros(arena, dt, rows, e);
    Tensor dDelta = zeros(arena, dt, rows, e);
    Tensor dA = zeros(arena, dt, e, n);
    Tensor z = xz.slice(1, e, 2L * e);
    backend.selectiveScanBackward(scan(savedBatch, u, delta, a, xdbl, z), chunkStates, dy,
        new SelectiveScanGrads(du, dDelta, dA, dxdbl.slice(1, r, (long) r + n),
            dxdbl.slice(1, (long) r + n, (long) r + 2L * n), dSkip.grad(), dxz.slice(1, e, 2L * e), dtBias.grad()));
    // A = -exp(A_log): dA_log = dA * A.
    double[] ga = dA.toDoubleArray();
    double[] av = a.toDoubleArray();
    double[] gl = aLog.grad().toDoubleArray();
    for (int i = 0; i < ga.length; i++) {
      gl[i] += ga[i] * av[i];
    }
    aLog.grad().copyFrom(gl);
    // dt_proj: d dt_low = dDelta W_dt (into the x_proj gradient's first R columns), dW_dt += dDelta^T dt_low.
    backend.gemm(false, false, 1f, dDelta, dtWeight.value(), 1f, dxdbl.slice(1, 0, r));
    backend.gemm(true, false, 1f, dDelta, xdbl.slice(1, 0, r), 1f, dtWeight.grad());
    Tensor duProj = xProj.backward(dxdbl, arena); // [R, E]
    backend.add(du, duProj, du);
    Tensor dxc = zeros(arena, dt, rows, e);
    backend.activationBackward(Activation.SILU, xc, du, dxc);
    backend.causalConv1dBackward(savedBatch, xz.slice(1, 0, e), convWeight.value(), dxc, dxz.slice(1, 0, e),
        convWeight.grad(), convBias.grad());
    Tensor dInput = inProj.backward(dxz, arena);
    return shape == null ? dInput : dInput.reshape(shape);
  }

  private Tensor zeros(Arena arena, DType dt, long... shape) {
    Tensor t = arena.allocate(dt, shape);
    backend.fill(t, 0f);
    return t;
  }

  // ------------------------------------------------------------------ recurrent inference

  /** A zeroed recurrent state for {@code batch} sequences, in the parameters' dtype. */
  public MambaState newState(int batch) {
    try (Arena tmp = Arena.open()) {
      DType dt = aLog.value().dtype();
      MambaState s = new MambaState(this, batch, dt, negExp(aLog.value(), tmp.allocate(dt, e, n)));
      s.x = s.xz.slice(1, 0, e);
      s.z = s.xz.slice(1, e, 2L * e);
      s.dtLow = s.xdbl.slice(1, 0, r);
      s.stepScan = new SelectiveScan(batch, s.u, s.delta, s.a(), s.xdbl.slice(1, r, (long) r + n),
          s.xdbl.slice(1, (long) r + n, (long) r + 2L * n), dSkip.value(), s.z, dtBias.value(), true, 1);
      return s;
    }
  }

  /**
   * Runs the full forward over a prompt of [state.batch() * L, D] rows (or [B, L, D]) and leaves its
   * final window and SSM state in {@code state}: conv = the last K inputs x (zero-padded in front
   * when L < K), ssm = the scan's last state. Returns the forward's output (in {@code arena}).
   */
  public Tensor prefill(Tensor input, MambaState state, Arena arena) {
    return prefill(input, state, arena, null);
  }

  /**
   * {@link #prefill(Tensor, MambaState, Arena)} with the four projections supplied by the caller
   * as sequence products over all the prompt's rows at once (e.g. {@code QuantizedMatrix::gemm}
   * over quantised copies of {@link #inProjWeight()}, {@link #xProjWeight()}, {@link
   * #dtProjWeight()} and {@link #outProjWeight()}); the convolution, gate and scan stay as they
   * are. Inference only: nothing is kept for {@link #backward}, which refuses until the next
   * training forward. The dt projection's input is a column slice (row stride R + 2N).
   */
  public Tensor prefill(Tensor input, MambaState state, Arena arena, Projection inProjection, Projection xProjection,
      Projection dtProjection, Projection outProjection) {
    if (inProjection == null || xProjection == null || dtProjection == null || outProjection == null) {
      throw new IllegalArgumentException("MambaMixer: the four prefill projections must be non-null; use "
          + "prefill(input, state, arena) for the layer's own weights");
    }
    Tensor out = prefill(input, state, arena, new Projection[] {inProjection, xProjection, dtProjection, outProjection});
    // The Linear layers saw no input, so a backward now would mix this prefill with an older forward.
    xz = null;
    return out;
  }

  private Tensor prefill(Tensor input, MambaState state, Arena arena, Projection[] projections) {
    requireOwn(state);
    int batch = state.batch();
    Tensor rowsIn = input.rank() == 3 ? input.reshape(input.dim(0) * input.dim(1), input.dim(2)) : input;
    Tensor out = run(rowsIn, batch, arena, state.ssm(), projections);
    state.a().copyFrom(a.toDoubleArray()); // the snapshot follows the parameters the prompt saw
    long len = rowsIn.dim(0) / batch;
    double[] xzv = xz.toDoubleArray(); // [R, 2E]
    double[] win = new double[batch * k * e];
    for (int b = 0; b < batch; b++) {
      for (int j = 0; j < k; j++) {
        long t = len - k + j; // token held in window row j
        if (t < 0) {
          continue;
        }
        System.arraycopy(xzv, (int) ((b * len + t) * 2L * e), win, (b * k + j) * e, e);
      }
    }
    state.conv().copyFrom(win);
    return input.rank() == 3 ? out.reshape(input.shape()) : out;
  }

  /**
   * One decoding token per sequence: token [batch, D] -> out [batch, D] (written), updating {@code
   * state} in place. Allocates nothing (the state holds the work buffers).
   */
  public void step(Tensor token, MambaState state, Tensor out) {
    step(token, state, out, f32InProj, f32XProj, f32DtProj, f32OutProj);
  }

  /**
   * {@link #step(Tensor, MambaState, Tensor)} with the four projections supplied by the caller,
   * e.g. from quantised copies of {@link #inProjWeight()}, {@link #xProjWeight()}, {@link
   * #dtProjWeight()} and {@link #outProjWeight()}; the convolution, gate and scan stay as they are.
   */
  public void step(Tensor token, MambaState state, Tensor out, Projection inProjection, Projection xProjection,
      Projection dtProjection, Projection outProjection) {
    requireOwn(state);
    inProjection.apply(token, state.xz);
    backend.causalConv1dStep(state.x, state.conv(), convWeight.value(), convBias.value(), state.xc);
    backend.activationForward(Activation.SILU, state.xc, state.u);
    xProjection.apply(state.u, state.xdbl);
    dtProjection.apply(state.dtLow, state.delta);
    backend.selectiveScanStep(state.stepScan, state.ssm(), state.y);
    outProjection.apply(state.y, out);
  }

  /**
   * One matrix product of a decoding step or a prefill: {@code y [rows, out] = x [rows, in] · W^T}
   * ({@code y} written; in a prefill {@code x} may have a row stride and rows is the prompt length).
   */
  @FunctionalInterface
  public interface Projection {
    void apply(Tensor x, Tensor y);
  }

  /** in_proj weight [2 d_inner, d_model]. */
  public Parameter inProjWeight() {
    return inProj.weight();
  }

  /** x_proj weight [dt_rank + 2 d_state, d_inner]. */
  public Parameter xProjWeight() {
    return xProj.weight();
  }

  /** dt_proj weight [d_inner, dt_rank]. */
  public Parameter dtProjWeight() {
    return dtWeight;
  }

  /** out_proj weight [d_model, d_inner]. */
  public Parameter outProjWeight() {
    return outProj.weight();
  }

  private void gemmF32(Tensor x, Parameter w, Tensor y) {
    backend.gemm(false, true, 1f, x, w.value(), 0f, y);
  }

  private void requireOwn(MambaState state) {
    if (state == null || state.owner() != this) {
      throw new IllegalArgumentException("MambaMixer: the state must come from this mixer's newState()");
    }
  }
}
