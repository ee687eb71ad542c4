package dev.iteralite.bench;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.SelectiveScan;
import dev.iteralite.backend.SelectiveScanGrads;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.nn.MoeConfig;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.quant.QuantizedMatrix;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Times the kernels behind a model — GEMM, the selective scan (forward and backward), a whole MoE
 * layer forward — on one {@link Backend} and judges each against this machine's {@link Roofline},
 * measured in the same run (a large SGEMM for peak FLOP/s, a large native copy for bandwidth).
 * A kernel whose operands stay in cache can exceed the DRAM roofline (fraction above 1): the
 * bandwidth ceiling is the copy's, which is sized to miss the cache.
 *
 * <p>Each measurement calibrates a repetition count so one round lasts at least {@link
 * Options#minRoundNanos()}, runs the warm-up rounds, then records nanoseconds per call for every
 * measured round ({@link Spread}). Work and traffic per call (fp32, 4 bytes per element):
 *
 * <ul>
 *   <li>{@code gemm} M×N×K, {@code C = A·B}: {@code 2·M·N·K} FLOPs; bytes {@code 4·(M·K + K·N + M·N)}.
 *   <li>{@code copy} of B bytes: 0 FLOPs; {@code 2·B} bytes (read + write).
 *   <li>{@code selective_scan_forward}, L tokens, E channels, N states (with z gate, D skip, Δ bias):
 *       {@code 7·L·E·N} FLOPs ({@link FlopCounter#selectiveScan}); bytes: u, Δ, z, y {@code 4·L·E}, B
 *       and C {@code 2·L·N}, A, the last state and the chunk states {@code (2 + ⌈L/64⌉)·E·N}, D and
 *       Δ bias {@code 2·E}.
 *   <li>{@code selective_scan_backward}: {@code 2 × 7·L·E·N} FLOPs (the usual backward ≈ 2 ×
 *       forward convention; the kernel additionally recomputes the states inside each chunk);
 *       bytes: u, Δ, z, dy in and du, dΔ, dz out {@code 7·L·E}, B, C, dB, dC {@code 4·L·N}, A, dA and
 *       the chunk states {@code (2 + ⌈L/64⌉)·E·N}, D, Δ bias and their gradients {@code 4·E}.
 *   <li>{@code moe_forward}, T tokens of width D, X experts of hidden H, top-k: {@code T ×}
 *       {@link FlopCounter#mixtureOfExperts}; bytes: the weights {@code X·(3·D·H) + D·X} plus input
 *       and output {@code 2·T·D}.
 *   <li>{@code quantized_gemv}, {@code y = W x} with W [rows, cols] stored in a {@link WeightFormat}:
 *       {@code 2·rows·cols} FLOPs; bytes: the stored matrix (scales included) plus {@code 4·(rows + cols)}.
 * </ul>
 */
public final class KernelBenchmark {
  private final Backend backend;
  private final Options options;
  private Roofline roofline;

  /**
   * Settings of the kernel measurements.
   *
   * @param warmupRounds rounds discarded first (>= 0)
   * @param measuredRounds rounds recorded (>= 1)
   * @param minRoundNanos each round repeats the call until it lasts at least this long (>= 0)
   * @param rooflineGemmSize S of the S×S×S SGEMM that measures peak FLOP/s (>= 16)
   * @param rooflineCopyBytes bytes of the copy that measures bandwidth (>= 1 MiB; use several
   *     times the last-level cache to measure DRAM)
   * @param seed seed of the random operands
   */
  public record Options(int warmupRounds, int measuredRounds, long minRoundNanos, int rooflineGemmSize,
      long rooflineCopyBytes, long seed) {

    /** Validates every field; messages name the field and the fix. */
    public Options {
      if (warmupRounds < 0) {
        throw new IllegalArgumentException("KernelBenchmark.Options: warmupRounds must be >= 0, got " + warmupRounds);
      }
      if (measuredRounds < 1) {
        throw new IllegalArgumentException("KernelBenchmark.Options: measuredRounds must be >= 1, got " + measuredRounds);
      }
      if (minRoundNanos < 0) {
        throw new IllegalArgumentException("KernelBenchmark.Options: minRoundNanos must be >= 0, got " + minRoundNanos);
      }
      if (rooflineGemmSize < 16) {
        throw new IllegalArgumentException(
            "KernelBenchmark.Options: rooflineGemmSize must be >= 16, got " + rooflineGemmSize);
      }
      if (rooflineCopyBytes < (1 << 20)) {
        throw new IllegalArgumentException(
            "KernelBenchmark.Options: rooflineCopyBytes must be >= 1 MiB, got " + rooflineCopyBytes);
      }
    }

    /** 2 warm-up and 7 measured rounds of at least 20 ms, SGEMM 1024³, a 128 MiB copy. */
    public static Options defaults() {
      return new Options(2, 7, 20_000_000L, 1024, 128L << 20, 42);
    }

    /**
     * Short rounds and a smaller SGEMM for smoke tests (figures are noisy); the copy still moves
     * 64 MiB (32 MiB each way) so it measures memory rather than a 32 MiB L3.
     */
    public static Options quick() {
      return new Options(1, 3, 1_000_000L, 256, 32L << 20, 42);
    }
  }

  /** Kernel benchmarks on {@code backend}. */
  public KernelBenchmark(Backend backend, Options options) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.options = Objects.requireNonNull(options, "options");
  }

  /** This machine's ceilings, measured on the first call and reused afterwards. */
  public synchronized Roofline roofline() {
    if (roofline == null) {
      // A ceiling is what the machine can do, so take the best round (as STREAM does), not the
      // median: on a shared machine the median mixes in time stolen by other processes.
      int s = options.rooflineGemmSize();
      double peak = (2.0 * s * s * s) / timeGemm(s, s, s).min();
      KernelResult copy = copyUnjudged(options.rooflineCopyBytes());
      roofline = new Roofline(peak, copy.bytes() / copy.nanos().min(), s, options.rooflineCopyBytes());
    }
    return roofline;
  }

  /** {@code C[M,N] = A[M,K]·B[K,N]} through {@link Backend#gemm}. */
  public KernelResult gemm(int m, int n, int k) {
    positive("m", m);
    positive("n", n);
    positive("k", k);
    Spread t = timeGemm(m, n, k);
    long flops = 2L * m * n * k;
    long bytes = 4L * ((long) m * k + (long) k * n + (long) m * n);
    return judged("gemm", "M=" + m + " N=" + n + " K=" + k, t, flops, bytes);
  }

  /** A contiguous native copy of {@code bytes} bytes (rounded down to whole floats) through {@link Backend#copy}. */
  public KernelResult copy(long bytes) {
    KernelResult raw = copyUnjudged(bytes);
    return judged(raw.name(), raw.shape(), raw.nanos(), 0, raw.bytes());
  }

  /** The selective-scan forward, batch 1, with z gate, D skip and Δ bias (softplus). */
  public KernelResult selectiveScanForward(int length, int dInner, int dState) {
    try (ScanOperands o = new ScanOperands(length, dInner, dState, false)) {
      Spread t = time(() -> backend.selectiveScanForward(o.scan, o.y, o.last, o.chunks));
      long flops = FlopCounter.selectiveScan(dInner, dState) * length;
      long chunks = SelectiveScan.numChunks(length, SelectiveScan.DEFAULT_CHUNK);
      long bytes = 4L * (4L * length * dInner + 2L * length * dState + (2 + chunks) * dInner * dState + 2L * dInner);
      return judged("selective_scan_forward", scanShape(length, dInner, dState), t, flops, bytes);
    }
  }

  /** The selective-scan backward for the same operands as {@link #selectiveScanForward}. */
  public KernelResult selectiveScanBackward(int length, int dInner, int dState) {
    try (ScanOperands o = new ScanOperands(length, dInner, dState, true)) {
      backend.selectiveScanForward(o.scan, o.y, o.last, o.chunks);
      Spread t = time(() -> backend.selectiveScanBackward(o.scan, o.chunks, o.dy, o.grads));
      long flops = 2 * FlopCounter.selectiveScan(dInner, dState) * length;
      long chunks = SelectiveScan.numChunks(length, SelectiveScan.DEFAULT_CHUNK);
      long bytes = 4L * (7L * length * dInner + 4L * length * dState + (2 + chunks) * dInner * dState + 4L * dInner);
      return judged("selective_scan_backward", scanShape(length, dInner, dState), t, flops, bytes);
    }
  }

  /** One {@link MixtureOfExperts} layer forward (dropless SwiGLU experts) on {@code tokens} rows. */
  public KernelResult moeForward(int dModel, int hidden, int experts, int topK, int tokens) {
    positive("tokens", tokens);
    MoeConfig cfg = MoeConfig.builder(dModel, hidden, experts).topK(topK).build();
    ParameterSet.Builder b = ParameterSet.builder();
    MixtureOfExperts moe = new MixtureOfExperts(backend, b, "moe", cfg);
    try (ParameterSet params = b.build(DType.F32, options.seed());
        Tensor x = random(new SplittableRandom(options.seed()), 1.0, tokens, dModel)) {
      Spread t = time(() -> {
        try (Arena arena = Arena.open()) {
          moe.forward(x, arena);
        }
      });
      long flops = FlopCounter.mixtureOfExperts(cfg) * tokens;
      long bytes = 4L * ((long) experts * 3 * dModel * hidden + (long) dModel * experts + 2L * tokens * dModel);
      return judged("moe_forward",
          "T=" + tokens + " D=" + dModel + " H=" + hidden + " experts=" + experts + " top" + topK, t, flops, bytes);
    }
  }

  /** {@code y = W x} with W [rows, cols] quantised to {@code format} ({@link QuantizedMatrix#gemv}). */
  public KernelResult quantizedGemv(WeightFormat format, int rows, int cols) {
    Objects.requireNonNull(format, "format");
    positive("rows", rows);
    positive("cols", cols);
    SplittableRandom r = new SplittableRandom(options.seed());
    try (Tensor w = random(r, 1.0, rows, cols);
        QuantizedMatrix q = QuantizedMatrix.quantize(format, w);
        Tensor x = random(r, 1.0, cols);
        Tensor y = Tensor.allocate(DType.F32, rows)) {
      Spread t = time(() -> q.gemv(x, y));
      return judged("quantized_gemv", "format=" + format.id() + " rows=" + rows + " cols=" + cols, t,
          2L * rows * cols, q.bytes() + 4L * (rows + cols));
    }
  }

  /**
   * The standard suite: square GEMMs, a one-row GEMM (the decode shape), the scan forward and
   * backward, the MoE forward (8 experts, top-2), Q8_0 and Q4_0 quantised GEMV of the same size as
   * the one-row GEMM, and the roofline's copy.
   *
   * @param quick smaller shapes that finish in a second or two (smoke tests, CI)
   */
  public List<KernelResult> standardSuite(boolean quick, Consumer<String> progress) {
    Objects.requireNonNull(progress, "progress");
    List<KernelResult> out = new ArrayList<>();
    Roofline r = roofline();
    progress.accept(String.format(Locale.ROOT, "roofline: peak %.1f GFLOP/s (SGEMM %d^3), bandwidth %.1f GB/s (copy %d MiB)",
        r.peakGflops(), r.gemmSize(), r.bandwidthGbps(), r.copyBytes() >> 20));
    int[] gemm = quick ? new int[] {128} : new int[] {256, 512, 1024};
    for (int s : gemm) {
      out.add(report(gemm(s, s, s), progress));
    }
    if (quick) {
      out.add(report(gemm(1, 512, 512), progress));
      out.add(report(selectiveScanForward(64, 128, 16), progress));
      out.add(report(selectiveScanBackward(64, 128, 16), progress));
      out.add(report(moeForward(64, 128, 8, 2, 128), progress));
      out.add(report(quantizedGemv(WeightFormat.Q8_0, 512, 512), progress));
      out.add(report(quantizedGemv(WeightFormat.Q4_0, 512, 512), progress));
    } else {
      out.add(report(gemm(1, 1024, 1024), progress));
      out.add(report(selectiveScanForward(256, 1024, 16), progress));
      out.add(report(selectiveScanBackward(256, 1024, 16), progress));
      out.add(report(moeForward(256, 512, 8, 2, 2048), progress));
      out.add(report(quantizedGemv(WeightFormat.Q8_0, 1024, 1024), progress));
      out.add(report(quantizedGemv(WeightFormat.Q4_0, 1024, 1024), progress));
    }
    out.add(report(copy(options.rooflineCopyBytes()), progress));
    return out;
  }

  private static KernelResult report(KernelResult k, Consumer<String> progress) {
    progress.accept(String.format(Locale.ROOT, "%s %s: %.1f us, %.2f GFLOP/s, %.2f GB/s, %.0f%% of roofline", k.name(),
        k.shape(), k.medianNs() / 1e3, k.gflops(), k.gbps(), 100 * k.rooflineFraction()));
    return k;
  }

  // ------------------------------------------------------------------ measurement

  private KernelResult judged(String name, String shape, Spread t, long flops, long bytes) {
    Roofline r = roofline();
    double attainable = flops == 0 ? r.bandwidthGbps() : r.attainableGflops((double) flops / bytes);
    return new KernelResult(name, shape, t, flops, bytes, attainable);
  }

  private KernelResult copyUnjudged(long bytes) {
    long n = bytes / 4;
    if (n < 1) {
      throw new IllegalArgumentException("KernelBenchmark: copy needs at least 4 bytes, got " + bytes);
    }
    try (Tensor src = Tensor.allocate(DType.F32, n);
        Tensor dst = Tensor.allocate(DType.F32, n)) {
      backend.fill(src, 1f);
      backend.fill(dst, 0f); // touch every page before timing
      Spread t = time(() -> backend.copy(src, dst));
      return new KernelResult("copy", "bytes=" + 4 * n, t, 0, 8 * n, Double.NaN);
    }
  }

  private Spread timeGemm(int m, int n, int k) {
    SplittableRandom r = new SplittableRandom(options.seed());
    try (Tensor a = random(r, 1.0, m, k);
        Tensor b = random(r, 1.0, k, n);
        Tensor c = Tensor.allocate(DType.F32, m, n)) {
      return time(() -> backend.gemm(false, false, 1f, a, b, 0f, c));
    }
  }

  /** Nanoseconds per call of {@code op}: calibrated repetitions, warm-up rounds, measured rounds. */
  Spread time(Runnable op) {
    long t0 = System.nanoTime();
    op.run(); // first call: page faults, lazy initialisation; also the calibration sample
    long first = Math.max(1, System.nanoTime() - t0);
    long reps = Math.max(1, Math.min(1_000_000, options.minRoundNanos() / first));
    for (int w = 0; w < options.warmupRounds(); w++) {
      for (long i = 0; i < reps; i++) {
        op.run();
      }
    }
    double[] perCall = new double[options.measuredRounds()];
    for (int round = 0; round < perCall.length; round++) {
      long s = System.nanoTime();
      for (long i = 0; i < reps; i++) {
        op.run();
      }
      perCall[round] = Math.max(1, System.nanoTime() - s) / (double) reps;
    }
    return Spread.of(perCall);
  }

  private static Tensor random(SplittableRandom r, double scale, long... shape) {
    Tensor t = Tensor.allocate(DType.F32, shape);
    float[] v = new float[Math.toIntExact(t.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) ((2 * r.nextDouble() - 1) * scale);
    }
    t.copyFrom(v);
    return t;
  }

  private static String scanShape(int length, int dInner, int dState) {
    return "L=" + length + " E=" + dInner + " N=" + dState;
  }

  private static void positive(String name, long v) {
    if (v < 1) {
      throw new IllegalArgumentException("KernelBenchmark: " + name + " must be >= 1, got " + v);
    }
  }

  /** Operands of one batch-1 scan of L tokens, E channels, N states (B and C as slices of one [L, 2N] buffer). */
  private final class ScanOperands implements AutoCloseable {
    final List<Tensor> owned = new ArrayList<>();
    final SelectiveScan scan;
    final Tensor y;
    final Tensor last;
    final Tensor chunks;
    Tensor dy;
    SelectiveScanGrads grads;

    ScanOperands(int length, int e, int n, boolean withGrads) {
      positive("length", length);
      positive("dInner", e);
      positive("dState", n);
      if (n > SelectiveScan.MAX_STATE) {
        throw new IllegalArgumentException("KernelBenchmark: dState must be <= " + SelectiveScan.MAX_STATE + ", got " + n);
      }
      SplittableRandom r = new SplittableRandom(options.seed());
      Tensor u = own(random(r, 1.0, length, e));
      Tensor delta = own(random(r, 1.0, length, e));
      Tensor a = own(random(r, 1.0, e, n));
      float[] av = a.toFloatArray();
      for (int i = 0; i < av.length; i++) {
        av[i] = -(Math.abs(av[i]) + 0.1f);
      }
      a.copyFrom(av); // A strictly negative, -(|x| + 0.1), so the state decays
      Tensor bc = own(random(r, 1.0, length, 2L * n));
      Tensor d = own(random(r, 1.0, e));
      Tensor z = own(random(r, 1.0, length, e));
      Tensor bias = own(random(r, 1.0, e));
      y = own(Tensor.allocate(DType.F32, length, e));
      last = own(Tensor.allocate(DType.F32, e, n));
      chunks = own(Tensor.allocate(DType.F32, SelectiveScan.numChunks(length, SelectiveScan.DEFAULT_CHUNK) * e * n));
      scan = new SelectiveScan(1, u, delta, a, bc.slice(1, 0, n), bc.slice(1, n, 2L * n), d, z, bias, true,
          SelectiveScan.DEFAULT_CHUNK);
      if (withGrads) {
        dy = own(random(r, 1.0, length, e));
        Tensor dbc = own(Tensor.allocate(DType.F32, length, 2L * n));
        grads = new SelectiveScanGrads(own(Tensor.allocate(DType.F32, length, e)),
            own(Tensor.allocate(DType.F32, length, e)), own(Tensor.allocate(DType.F32, e, n)), dbc.slice(1, 0, n),
            dbc.slice(1, n, 2L * n), own(Tensor.allocate(DType.F32, e)), own(Tensor.allocate(DType.F32, length, e)),
            own(Tensor.allocate(DType.F32, e)));
      }
    }

    private Tensor own(Tensor t) {
      owned.add(t);
      return t;
    }

    @Override
    public void close() {
      for (Tensor t : owned) {
        t.close();
      }
    }
  }
}
