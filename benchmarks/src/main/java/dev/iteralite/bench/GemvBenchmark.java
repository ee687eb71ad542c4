package dev.iteralite.bench;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.tensor.Tensor;
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
 * One-row products (decode): {@code y = x * op(W)} through the API (which takes the native GEMV for
 * M = 1) against OpenBLAS's own {@code cblas_sgemv} on the same buffers, the fair baseline for
 * M = 1 ({@link GemmBenchmark} compares against {@code cblas_sgemm}, whose small-M path is slow).
 * {@code shape} is {@code 1xKxN}, trailing {@code T} = W stored N x K (the Linear layout). GEMV is
 * memory-bound: {@link Report} prints GFLOP/s, and the weight stream is 4KN bytes per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class GemvBenchmark {
  @Param({"1x1024x1024", "1x1024x1024T", "1x4096x4096", "1x4096x4096T"})
  public String shape;

  /** Worker threads for the kernels and OpenBLAS; 0 = all available cores. */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private GemmBenchmark.Shape s;
  private Tensor x;
  private Tensor w;
  private Tensor y;
  private FloatPointer px;
  private FloatPointer pw;
  private FloatPointer py;

  @Setup(Level.Trial)
  public void setUp() {
    cpu = BenchSupport.cpu(threads);
    s = GemmBenchmark.Shape.parse(shape);
    if (s.m() != 1) {
      throw new IllegalArgumentException("GEMV shapes have M = 1, got " + shape);
    }
    x = BenchSupport.filled(0.5f, 1, s.k());
    w = s.transB() ? BenchSupport.filled(0.25f, s.n(), s.k()) : BenchSupport.filled(0.25f, s.k(), s.n());
    y = BenchSupport.filled(0f, 1, s.n());
    px = BenchSupport.floatPointer(x);
    pw = BenchSupport.floatPointer(w);
    py = BenchSupport.floatPointer(y);
    api();
    float viaApi = y.getFloat(0, s.n() - 1);
    openblasGemv();
    float viaBlas = y.getFloat(0, s.n() - 1);
    float expected = 0.125f * s.k();
    if (Math.abs(viaApi - expected) > 1e-3f * expected || Math.abs(viaBlas - expected) > 1e-3f * expected) {
      throw new IllegalStateException("GEMV " + shape + " gives " + viaApi + " (api) / " + viaBlas + " (openblas), expected " + expected);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    x.close();
    w.close();
    y.close();
  }

  @Benchmark
  public void api() {
    cpu.gemm(false, s.transB(), 1f, x, w, 0f, y);
  }

  @Benchmark
  public void openblasGemv() {
    int k = (int) s.k();
    int n = (int) s.n();
    if (s.transB()) {
      // W is N x K: y = W x
      openblas.cblas_sgemv(openblas.CblasRowMajor, openblas.CblasNoTrans, n, k, 1f, pw, k, px, 1, 0f, py, 1);
    } else {
      // W is K x N: y = W^T x
      openblas.cblas_sgemv(openblas.CblasRowMajor, openblas.CblasTrans, k, n, 1f, pw, n, px, 1, 0f, py, 1);
    }
  }
}
