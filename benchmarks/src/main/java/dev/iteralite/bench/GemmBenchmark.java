package dev.iteralite.bench;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Tensor;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
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
 * SGEMM {@code C = A * op(B)} (alpha 1, beta 0) three ways on the same buffers:
 *
 * <ul>
 *   <li>{@code api}: {@code Backends.cpu().gemm(...)} (validation + {@code itera_sgemm}, which takes
 *       the native GEMV when M == 1);
 *   <li>{@code openblas}: OpenBLAS's own {@code cblas_sgemm} through the JavaCPP preset's Java API;
 *   <li>{@code iteraBlas}: {@code IteraNative.itera_blas_sgemm} (plain cblas_sgemm behind our JNI, raw
 *       addresses, no validation).
 * </ul>
 *
 * <p>{@code shape} is {@code MxKxN}; a trailing {@code T} stores B as N x K and multiplies by its
 * transpose (the Linear-layer layout). GFLOP/s = 2MNK / time ({@link Report} prints it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class GemmBenchmark {
  @Param({
    "128x128x128", "256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048",
    "1x1024x1024", "1x1024x1024T", "1x4096x4096", "1x4096x4096T",
    "64x1024x1024", "64x4096x4096"
  })
  public String shape;

  /** Worker threads for the kernels and OpenBLAS; 0 = all available cores. */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private Shape s;
  private Tensor a;
  private Tensor b;
  private Tensor c;
  private FloatPointer pa;
  private FloatPointer pb;
  private FloatPointer pc;

  /** A parsed {@code MxKxN[T]} shape. */
  public record Shape(long m, long k, long n, boolean transB) {
    public static Shape parse(String s) {
      String v = s.trim();
      boolean t = v.endsWith("T") || v.endsWith("t");
      if (t) {
        v = v.substring(0, v.length() - 1);
      }
      String[] p = v.toLowerCase(Locale.ROOT).split("x");
      if (p.length != 3) {
        throw new IllegalArgumentException("shape must be MxKxN or MxKxNT, got " + s);
      }
      return new Shape(Long.parseLong(p[0]), Long.parseLong(p[1]), Long.parseLong(p[2]), t);
    }

    /** Floating-point operations of one product (multiply and add counted separately). */
    public double flops() {
      return 2.0 * m * n * k;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    cpu = BenchSupport.cpu(threads);
    s = Shape.parse(shape);
    a = BenchSupport.filled(0.5f, s.m(), s.k());
    b = s.transB() ? BenchSupport.filled(0.25f, s.n(), s.k()) : BenchSupport.filled(0.25f, s.k(), s.n());
    c = BenchSupport.filled(0f, s.m(), s.n());
    pa = BenchSupport.floatPointer(a);
    pb = BenchSupport.floatPointer(b);
    pc = BenchSupport.floatPointer(c);
    // all three paths must agree before anything is timed
    api();
    float viaApi = c.getFloat(s.m() - 1, s.n() - 1);
    openblas();
    float viaBlas = c.getFloat(s.m() - 1, s.n() - 1);
    float expected = 0.125f * s.k();
    if (Math.abs(viaApi - expected) > 1e-3f * expected || Math.abs(viaBlas - expected) > 1e-3f * expected) {
      throw new IllegalStateException("GEMM " + shape + " gives " + viaApi + " (api) / " + viaBlas + " (openblas), expected " + expected);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    a.close();
    b.close();
    c.close();
  }

  @Benchmark
  public void api() {
    cpu.gemm(false, s.transB(), 1f, a, b, 0f, c);
  }

  @Benchmark
  public void openblas() {
    int n = (int) s.n();
    int k = (int) s.k();
    openblas.cblas_sgemm(
        openblas.CblasRowMajor, openblas.CblasNoTrans, s.transB() ? openblas.CblasTrans : openblas.CblasNoTrans,
        (int) s.m(), n, k, 1f, pa, k, pb, s.transB() ? k : n, 0f, pc, n);
  }

  @Benchmark
  public void iteraBlas() {
    IteraNative.itera_blas_sgemm(
        0, s.transB() ? 1 : 0, s.m(), s.n(), s.k(), 1f, a.address(), s.k(), b.address(),
        s.transB() ? s.k() : s.n(), 0f, c.address(), s.n());
  }
}
