package dev.iteralite.bench;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.nn.MoeConfig;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
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
 * The {@link MixtureOfExperts} layer (E experts of hidden H, top-2, dropless, SwiGLU, aux losses
 * on) against a dense SwiGLU FFN of hidden 2H, which does the same active FLOPs per token (each
 * token passes two experts of width H). Both run on T tokens through the native CPU backend with
 * a fresh step {@link Arena} per call, forward only ({@code *Forward}) and forward + backward
 * ({@code *Step}). The dense FFN is written with the same backend calls the experts use (three
 * GEMMs, the fused SwiGLU gate), so the ratio moe / dense is the cost of routing, dispatch, the
 * per-segment GEMMs and the combine. Issue 3's target: moe <= 1.3x dense at T >= 2048.
 *
 * <p>{@code size} is {@code D:H:E:T}: tiny = 256:512:8:2048, small = 512:1024:8:2048.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class MoeBenchmark {
  @Param({"256:512:8:2048", "512:1024:8:2048"})
  public String size;

  /** Worker threads for the kernels and OpenBLAS; 0 = all available cores. */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private ParameterSet moeParams;
  private MixtureOfExperts moe;
  private Tensor x; // [T, D]
  private Tensor dy; // [T, D]
  private Tensor w1; // [2H, D] dense
  private Tensor w3; // [2H, D] dense
  private Tensor w2; // [D, 2H] dense
  private Tensor dw1;
  private Tensor dw3;
  private Tensor dw2;
  private long d;
  private long hDense;
  private long t;

  @Setup(Level.Trial)
  public void setUp() {
    String[] p = size.split(":");
    d = Long.parseLong(p[0]);
    long h = Long.parseLong(p[1]);
    int e = Integer.parseInt(p[2]);
    t = Long.parseLong(p[3]);
    hDense = 2 * h;
    cpu = BenchSupport.cpu(threads);
    ParameterSet.Builder b = ParameterSet.builder();
    moe = new MixtureOfExperts(cpu, b, "moe", MoeConfig.builder(d, h, e).topK(2).build());
    moeParams = b.build(DType.F32, 1);
    SplittableRandom r = new SplittableRandom(7);
    x = random(r, 1.0, t, d);
    dy = random(r, 1e-3, t, d);
    w1 = random(r, 1 / Math.sqrt(d), hDense, d);
    w3 = random(r, 1 / Math.sqrt(d), hDense, d);
    w2 = random(r, 1 / Math.sqrt(hDense), d, hDense);
    dw1 = Tensor.allocate(DType.F32, hDense, d);
    dw3 = Tensor.allocate(DType.F32, hDense, d);
    dw2 = Tensor.allocate(DType.F32, d, hDense);
  }

  private static Tensor random(SplittableRandom r, double scale, long... shape) {
    Tensor out = Tensor.allocate(DType.F32, shape);
    double[] v = new double[Math.toIntExact(out.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = (2 * r.nextDouble() - 1) * scale;
    }
    out.copyFrom(v);
    return out;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    moeParams.close();
    for (Tensor z : new Tensor[] {x, dy, w1, w3, w2, dw1, dw3, dw2}) {
      z.close();
    }
  }

  @Benchmark
  public double moeForward() {
    try (Arena arena = Arena.open()) {
      moe.forward(x, arena);
      return moe.auxLoss();
    }
  }

  @Benchmark
  public double moeStep() {
    try (Arena arena = Arena.open()) {
      moe.forward(x, arena);
      Tensor dx = moe.backward(dy, arena);
      return moe.auxLoss() + dx.getDoubleAt(0);
    }
  }

  @Benchmark
  public double denseForward() {
    try (Arena arena = Arena.open()) {
      return denseForward(arena, null).getDoubleAt(0);
    }
  }

  @Benchmark
  public double denseStep() {
    try (Arena arena = Arena.open()) {
      Tensor[] saved = new Tensor[3];
      denseForward(arena, saved);
      Tensor h1 = saved[0]; // [T, 2H]
      Tensor h3 = saved[1]; // [T, 2H]
      Tensor a = saved[2]; // [T, 2H]
      Tensor da = arena.allocate(DType.F32, t, hDense);
      cpu.gemm(false, false, 1f, dy, w2, 0f, da);
      cpu.gemm(true, false, 1f, dy, a, 1f, dw2);
      Tensor dh1 = arena.allocate(DType.F32, t, hDense);
      Tensor dh3 = arena.allocate(DType.F32, t, hDense);
      cpu.swigluBackward(h1, h3, da, dh1, dh3);
      Tensor dx = arena.allocate(DType.F32, t, d);
      cpu.gemm(false, false, 1f, dh1, w1, 0f, dx);
      cpu.gemm(false, false, 1f, dh3, w3, 1f, dx);
      cpu.gemm(true, false, 1f, dh1, x, 1f, dw1);
      cpu.gemm(true, false, 1f, dh3, x, 1f, dw3);
      return dx.getDoubleAt(0);
    }
  }

  /** y = W2 (silu(W1 x) * W3 x); saves h1, h3 and the gate output when {@code saved} is non-null. */
  private Tensor denseForward(Arena arena, Tensor[] saved) {
    Tensor h1 = arena.allocate(DType.F32, t, hDense); // [T, 2H]
    Tensor h3 = arena.allocate(DType.F32, t, hDense); // [T, 2H]
    cpu.gemm(false, true, 1f, x, w1, 0f, h1);
    cpu.gemm(false, true, 1f, x, w3, 0f, h3);
    Tensor a = arena.allocate(DType.F32, t, hDense); // [T, 2H]
    cpu.swigluForward(h1, h3, a);
    Tensor y = arena.allocate(DType.F32, t, d); // [T, D]
    cpu.gemm(false, true, 1f, a, w2, 0f, y);
    if (saved != null) {
      saved[0] = h1;
      saved[1] = h3;
      saved[2] = a;
    }
    return y;
  }
}
