package dev.iteralite.bench;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.SelectiveScan;
import dev.iteralite.backend.SelectiveScanGrads;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nn.MambaConfig;
import dev.iteralite.nn.MambaMixer;
import dev.iteralite.nn.MambaState;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Mamba-1 selective scan (batch 1, N = 16, z gate, D skip, delta bias + softplus, chunk 64):
 * forward and backward through the {@code Backend} API against the single-threaded scalar C++
 * specification ({@code _ref}), the single-token update, and one whole mixer layer's decode step
 * (projections included) at d_model {@link MixerDecode#dModel}.
 *
 * <p>Shapes ({@code shape} = E x L): {@code 512x256} (tiny model, d_model 256), {@code 1024x256}
 * (the d_inner 1024 / length 256 target), {@code 1024x1024} (small model, d_model 512).
 * Elements per scan = L * E * N; divide by the time for elements/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class SsmBenchmark {
  static final int N = 16;
  static final int CHUNK = SelectiveScan.DEFAULT_CHUNK;

  /** d_inner x length. */
  @Param({"512x256", "1024x256", "1024x1024"})
  public String shape;

  /** Worker threads; 0 = all available cores. */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private int e;
  private int len;
  private final List<Tensor> owned = new ArrayList<>();
  private Tensor u, delta, a, bc, d, z, bias, y, last, chunks, dy, du, dDelta, dA, dbc, dD, dz, dBias;
  private SelectiveScan scan;
  private SelectiveScanGrads grads;
  // one decoding token
  private Tensor uStep, deltaStep, bcStep, zStep, yStep, state;
  private SelectiveScan step;

  private Tensor random(SplittableRandom r, double lo, double hi, long... dims) {
    Tensor t = Tensor.allocate(DType.F32, dims);
    double[] v = new double[(int) t.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = lo + (hi - lo) * r.nextDouble();
    }
    t.copyFrom(v);
    owned.add(t);
    return t;
  }

  @Setup(Level.Trial)
  public void setup() {
    cpu = BenchSupport.cpu(threads);
    String[] p = shape.split("x");
    e = Integer.parseInt(p[0]);
    len = Integer.parseInt(p[1]);
    SplittableRandom r = new SplittableRandom(1);
    u = random(r, -1, 1, len, e);
    delta = random(r, -3, 1, len, e);
    a = random(r, -3, -0.2, e, N);
    bc = random(r, -1, 1, len, 2 * N); // B | C, as slices of x_proj's output
    d = random(r, 0, 1, e);
    z = random(r, -2, 2, len, e);
    bias = random(r, -2, 0, e);
    y = random(r, 0, 0, len, e);
    last = random(r, 0, 0, e, N);
    chunks = random(r, 0, 0, SelectiveScan.numChunks(len, CHUNK) * e * N);
    dy = random(r, -1, 1, len, e);
    du = random(r, 0, 0, len, e);
    dDelta = random(r, 0, 0, len, e);
    dA = random(r, 0, 0, e, N);
    dbc = random(r, 0, 0, len, 2 * N);
    dD = random(r, 0, 0, e);
    dz = random(r, 0, 0, len, e);
    dBias = random(r, 0, 0, e);
    scan = new SelectiveScan(1, u, delta, a, bc.slice(1, 0, N), bc.slice(1, N, 2 * N), d, z, bias, true, CHUNK);
    grads = new SelectiveScanGrads(du, dDelta, dA, dbc.slice(1, 0, N), dbc.slice(1, N, 2 * N), dD, dz, dBias);
    cpu.selectiveScanForward(scan, y, last, chunks);
    uStep = random(r, -1, 1, 1, e);
    deltaStep = random(r, -3, 1, 1, e);
    bcStep = random(r, -1, 1, 1, 2 * N);
    zStep = random(r, -2, 2, 1, e);
    yStep = random(r, 0, 0, 1, e);
    state = random(r, -0.1, 0.1, e, N);
    step = new SelectiveScan(1, uStep, deltaStep, a, bcStep.slice(1, 0, N), bcStep.slice(1, N, 2 * N), d, zStep, bias,
        true, 1);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    owned.forEach(Tensor::close);
    owned.clear();
  }

  @Benchmark
  public void scanForward() {
    cpu.selectiveScanForward(scan, y, last, chunks);
  }

  /** The scalar C++ specification, single-threaded (same operands). */
  @Benchmark
  public void scanForwardRef() {
    IteraNative.itera_selective_scan_forward_ref(1, len, e, N, u.address(), e, delta.address(), e, a.address(),
        bc.address(), 2 * N, bc.address() + 4L * N, 2 * N, d.address(), z.address(), e, bias.address(), 1, CHUNK,
        y.address(), e, last.address(), chunks.address());
  }

  @Benchmark
  public void scanBackward() {
    cpu.selectiveScanBackward(scan, chunks, dy, grads);
  }

  @Benchmark
  public void scanBackwardRef() {
    IteraNative.itera_selective_scan_backward_ref(1, len, e, N, u.address(), e, delta.address(), e, a.address(),
        bc.address(), 2 * N, bc.address() + 4L * N, 2 * N, d.address(), z.address(), e, bias.address(), 1, CHUNK,
        chunks.address(), dy.address(), e, du.address(), e, dDelta.address(), e, dA.address(), dbc.address(), 2 * N,
        dbc.address() + 4L * N, 2 * N, dD.address(), dz.address(), e, dBias.address());
  }

  /** One token's state update for d_inner = E (the state keeps evolving; it stays bounded). */
  @Benchmark
  public void scanStep() {
    cpu.selectiveScanStep(step, state, yStep);
  }

  @Benchmark
  public void scanStepRef() {
    IteraNative.itera_selective_scan_step_ref(1, e, N, uStep.address(), e, deltaStep.address(), e, a.address(),
        bcStep.address(), 2 * N, bcStep.address() + 4L * N, 2 * N, d.address(), zStep.address(), e, bias.address(), 1,
        state.address(), yStep.address(), e);
  }

  /** One whole Mamba mixer layer, one token (batch 1): in_proj, conv step, SiLU, x_proj, dt_proj, scan step, out_proj. */
  @State(Scope.Benchmark)
  public static class MixerDecode {
    @Param("256")
    public int dModel;

    @Param("0")
    public int threads;

    CpuBackend cpu;
    ParameterSet params;
    MambaMixer mixer;
    MambaState state;
    Tensor token;
    Tensor out;

    @Setup(Level.Trial)
    public void setup() {
      cpu = BenchSupport.cpu(threads);
      ParameterSet.Builder b = ParameterSet.builder();
      mixer = new MambaMixer(cpu, b, "m", MambaConfig.of(dModel));
      params = b.build(DType.F32, 3);
      state = mixer.newState(1);
      token = BenchSupport.filled(0.1f, 1, dModel);
      out = BenchSupport.filled(0f, 1, dModel);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      state.close();
      params.close();
      token.close();
      out.close();
    }
  }

  @Benchmark
  public void mixerDecodeStep(MixerDecode m) {
    m.mixer.step(m.token, m.state, m.out);
  }
}
