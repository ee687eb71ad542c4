package dev.iteralite.bench;

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
 * What crossing into native code costs: an empty JNI call ({@code itera_noop}), the raw add kernel
 * on a tiny buffer, and the same add through the checked {@code Backend} API (validation + call).
 * The difference between the last two is the Java-side validation cost per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class CallOverheadBenchmark {
  /** Elements of the tiny tensors. */
  @Param("16")
  public int size;

  /** Worker threads for the kernels; 0 = all available cores (tiny sizes stay on the caller's thread). */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private Tensor a;
  private Tensor b;
  private Tensor out;

  @Setup(Level.Trial)
  public void setUp() {
    cpu = BenchSupport.cpu(threads);
    a = BenchSupport.filled(1f, size);
    b = BenchSupport.filled(2f, size);
    out = BenchSupport.filled(0f, size);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    a.close();
    b.close();
    out.close();
  }

  @Benchmark
  public void noop() {
    IteraNative.itera_noop();
  }

  @Benchmark
  public void rawAdd() {
    IteraNative.itera_add(size, a.address(), b.address(), out.address());
  }

  @Benchmark
  public void apiAdd() {
    cpu.add(a, b, out);
  }
}
