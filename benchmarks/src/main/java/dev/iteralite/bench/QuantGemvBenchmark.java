package dev.iteralite.bench;

import dev.iteralite.backend.Backends;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
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
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * Products with compressed weights through {@link QuantizedMatrix}: {@code Y = X W^T} with
 * {@code shape} = {@code MxNxK} (M = 1 is the decode GEMV, 512 a prefill GEMM) for every benchmarked
 * {@link WeightFormat}; F32 is the baseline (the project's native GEMV for M = 1, OpenBLAS sgemm
 * otherwise), measured in the same run. Weights are N(0, 1).
 *
 * <p>{@link #main} runs JMH and prints median time, GFLOP/s (2MNK / t), GB/s of weight bytes read
 * and the speed-up against F32 at the same shape and thread count:
 *
 * <pre>
 * java -cp benchmarks.jar dev.iteralite.bench.QuantGemvBenchmark -wi 2 -i 5 -w 300ms -r 300ms
 * java -cp benchmarks.jar dev.iteralite.bench.QuantGemvBenchmark -p shape=1x4096x4096 -p threads=1
 * </pre>
 *
 * <p>The comparison with ggml's CPU backend (issue 5: decode 1x1024x1024 and prefill 512x1024x1024
 * of Q8_0 and Q4_0 on 2 threads):
 *
 * <pre>
 * java -cp benchmarks.jar dev.iteralite.bench.QuantGemvBenchmark -p format=Q8_0,Q4_0 \
 *     -p shape=1x1024x1024,512x1024x1024 -p threads=2
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class QuantGemvBenchmark {
  @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "NF4", "INT8", "INT4_G32"})
  public String format;

  /** M x N x K: M activation rows, W is N x K. */
  @Param({"1x1024x4096", "1x4096x4096", "1x1024x1024", "512x1024x1024"})
  public String shape;

  /** Worker threads; 0 = all available cores. */
  @Param({"1", "2"})
  public int threads;

  private QuantizedMatrix w;
  private Tensor x;
  private Tensor y;

  /** Parsed {@code MxNxK}. */
  record Shape(long m, long n, long k) {
    static Shape parse(String s) {
      String[] p = s.toLowerCase(Locale.ROOT).split("x");
      if (p.length != 3) {
        throw new IllegalArgumentException("shape must be MxNxK, got " + s);
      }
      return new Shape(Long.parseLong(p[0]), Long.parseLong(p[1]), Long.parseLong(p[2]));
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    BenchSupport.cpu(threads);
    Shape s = Shape.parse(shape);
    SplittableRandom rnd = new SplittableRandom(42);
    try (Tensor w32 = Tensor.allocate(DType.F32, s.n(), s.k())) {
      float[] all = new float[(int) (s.n() * s.k())];
      for (int i = 0; i < all.length; i++) {
        all[i] = (float) gaussian(rnd);
      }
      w32.copyFrom(all);
      w = QuantizedMatrix.quantize(WeightFormat.valueOf(format), w32);
    }
    x = Tensor.allocate(DType.F32, s.m(), s.k());
    float[] xs = new float[(int) (s.m() * s.k())];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = (float) gaussian(rnd);
    }
    x.copyFrom(xs);
    y = Tensor.allocate(DType.F32, s.m(), s.n());
    product();
    if (!Float.isFinite(y.getFloat(s.m() - 1, s.n() - 1))) {
      throw new IllegalStateException(format + " " + shape + " produced " + y.getFloat(s.m() - 1, s.n() - 1));
    }
  }

  private static double gaussian(SplittableRandom r) {
    // Box-Muller; SplittableRandom has no nextGaussian on JDK 17
    double u = 1.0 - r.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    w.close();
    x.close();
    y.close();
  }

  @Benchmark
  public void product() {
    w.gemm(x, y);
  }

  /** Runs JMH (its usual command line; default: this class) and prints the summary table. */
  public static void main(String[] args) throws Exception {
    List<String> a = new ArrayList<>(List.of(args));
    boolean hasInclude = a.stream().anyMatch(s -> !s.startsWith("-") && !isOptionValue(a, s));
    if (!hasInclude) {
      a.add(QuantGemvBenchmark.class.getSimpleName());
    }
    Collection<RunResult> results = new Runner(new CommandLineOptions(a.toArray(new String[0]))).run();
    record Row(String format, String shape, int threads, double micros, double min, double max) {}
    List<Row> rows = new ArrayList<>();
    for (RunResult rr : results) {
      var p = rr.getParams();
      var st = rr.getPrimaryResult().getStatistics();
      double med = st.getN() > 0 ? st.getPercentile(50) : rr.getPrimaryResult().getScore();
      rows.add(new Row(p.getParam("format"), p.getParam("shape"), Integer.parseInt(p.getParam("threads")), med,
          st.getN() > 0 ? st.getMin() : med, st.getN() > 0 ? st.getMax() : med));
    }
    System.out.println();
    System.out.println("QuantGemvBenchmark (" + Runtime.getRuntime().availableProcessors() + " logical CPUs): "
        + Backends.cpu().describe());
    String fmt = "%-9s %-14s %7s %12s %7s %11s %11s %9s%n";
    System.out.printf(Locale.ROOT, fmt, "format", "MxNxK", "threads", "median us", "spread", "GFLOP/s", "weight GB/s", "vs F32");
    for (Row r : rows) {
      Shape s = Shape.parse(r.shape());
      WeightFormat f = WeightFormat.valueOf(r.format());
      double sec = r.micros() * 1e-6;
      double gflops = 2.0 * s.m() * s.n() * s.k() / sec / 1e9;
      double gbs = f.matrixBytes(s.n(), s.k()) / sec / 1e9;
      String speedup = rows.stream()
          .filter(b -> b.format().equals("F32") && b.shape().equals(r.shape()) && b.threads() == r.threads())
          .findFirst()
          .map(b -> String.format(Locale.ROOT, "%.2fx", b.micros() / r.micros()))
          .orElse("");
      System.out.printf(Locale.ROOT, fmt, f.id(), r.shape(), r.threads(), String.format(Locale.ROOT, "%.1f", r.micros()),
          String.format(Locale.ROOT, "%.0f%%", 100 * (r.max() - r.min()) / r.micros()),
          String.format(Locale.ROOT, "%.1f", gflops), String.format(Locale.ROOT, "%.1f", gbs), speedup);
    }
  }

  private static boolean isOptionValue(List<String> a, String s) {
    int i = a.indexOf(s);
    return i > 0 && a.get(i - 1).startsWith("-");
  }
}
