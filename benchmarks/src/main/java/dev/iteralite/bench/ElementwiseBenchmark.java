package dev.iteralite.bench;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Tensor;
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
 * Memory-bound kernels on buffers far larger than the caches, through the {@code Backend} API, next
 * to three bandwidth baselines measured in the same run:
 *
 * <ul>
 *   <li>{@code copy}: {@code itera_copy_bytes} of 4n bytes (n = 64M: 256 MiB), STREAM "copy";
 *   <li>{@code rawAdd}: the native add kernel without the API, STREAM "add"-like (2 reads + 1 write);
 *   <li>{@code readStream}: the native sum of squares, a read-only stream: the bandwidth the memory
 *       system delivers when no write-allocate traffic competes (the copy and add baselines count
 *       4 bytes per written float, yet the hardware also reads every written line first).
 * </ul>
 *
 * <p>Row-wise kernels (softmax, RMSNorm) see the buffer as rows of {@value #COLS} (n = 16M: a 4096 x
 * 4096 RMSNorm). Bytes moved = bytes read + bytes written by the algorithm ({@link #bytesMoved}),
 * not counting write-allocate traffic; {@link Report} prints GB/s and the share of the copy bandwidth.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ElementwiseBenchmark {
  /** Row length for the row-wise kernels. */
  public static final int COLS = 4096;

  /** Elements per buffer (binary suffixes allowed). */
  @Param({"16M", "64M"})
  public String n;

  /** Worker threads for the kernels; 0 = all available cores. */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private long count;
  private Tensor a;
  private Tensor b;
  private Tensor out;
  private Tensor w;
  private Tensor rstd;
  private Tensor rowsIn;
  private Tensor rowsOut;

  /** Bytes read plus bytes written by one call of {@code method} on n floats (0 if unknown). */
  public static double bytesMoved(String method, long n) {
    switch (method) {
      case "add":
      case "rawAdd":
      case "axpy": // reads x and y, writes y
        return 12.0 * n;
      case "readStream":
        return 4.0 * n;
      case "copy":
      case "scale": // reads and writes x
      case "silu":
      case "softmax": // one read pass counted; implementations that re-read a row hit cache
      case "rmsnorm": // + w (C floats) and rstd (R floats), negligible
        return 8.0 * n;
      default:
        return 0;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    cpu = BenchSupport.cpu(threads);
    count = BenchSupport.parseSize(n);
    if (count % COLS != 0) {
      throw new IllegalArgumentException("n must be a multiple of " + COLS + ", got " + count);
    }
    a = BenchSupport.filled(0.5f, count);
    b = BenchSupport.filled(0.25f, count);
    out = BenchSupport.filled(0f, count);
    w = BenchSupport.filled(1f, COLS);
    rstd = BenchSupport.filled(0f, count / COLS);
    rowsIn = a.reshape(count / COLS, COLS);
    rowsOut = out.reshape(count / COLS, COLS);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    a.close();
    b.close();
    out.close();
    w.close();
    rstd.close();
  }

  // ------------------------------------------------------------------ baselines (raw native calls)

  @Benchmark
  public void copy() {
    IteraNative.itera_copy_bytes(4L * count, a.address(), out.address());
  }

  @Benchmark
  public void rawAdd() {
    IteraNative.itera_add(count, a.address(), b.address(), out.address());
  }

  @Benchmark
  public double readStream() {
    return IteraNative.itera_sum_squares(count, a.address());
  }

  // ------------------------------------------------------------------ through the Backend API

  @Benchmark
  public void add() {
    cpu.add(a, b, out);
  }

  @Benchmark
  public void axpy() {
    // tiny alpha: y stays far from overflow and denormals however many calls run
    cpu.axpy(1e-6f, b, out);
  }

  @Benchmark
  public void scale() {
    // -1 is exact: the values flip sign and never decay into denormals
    cpu.scale(-1f, out);
  }

  @Benchmark
  public void silu() {
    cpu.activationForward(Activation.SILU, a, out);
  }

  @Benchmark
  public void rmsnorm() {
    cpu.rmsNormForward(rowsIn, w, 1e-5f, rowsOut, rstd);
  }

  @Benchmark
  public void softmax() {
    cpu.softmaxForward(rowsIn, rowsOut);
  }
}
