package dev.iteralite.bench;

import dev.iteralite.data.TokenSequence;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.tensor.NativeMemory;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Measures a model the way it is used for generation: prefill a P-token prompt, then decode D
 * tokens one step at a time, repeated for a few warm-up and several measured rounds, reporting
 * medians and spread (see {@link ModelResult} for every figure and how it is defined).
 *
 * <p>Prompt and decode tokens are drawn uniformly from the vocabulary with a fixed seed, so the
 * timings measure the model and not a sampler. Every round reuses one session ({@code prefill}
 * clears it). Energy, CPU time and the resident-memory peak cover the measured rounds only;
 * perplexity is computed afterwards with {@link Evaluator} when evaluation data is given.
 */
public final class ModelBenchmark {
  private final Options options;

  /**
   * Settings of a model benchmark.
   *
   * @param promptTokens P, prompt length of each prefill (>= 1)
   * @param decodeTokens D, decode steps per round (>= 1); P + D must fit the model's context
   * @param warmupRounds rounds run and discarded first (>= 0)
   * @param measuredRounds rounds measured (>= 1)
   * @param seed seed of the random prompt and decode tokens
   * @param evalWindow tokens per evaluation window (>= 1; clamped to the model's context)
   * @param evalBatch windows per evaluation call (>= 1)
   * @param maxEvalTokens evaluate at most this many tokens of the data (>= 2)
   */
  public record Options(int promptTokens, int decodeTokens, int warmupRounds, int measuredRounds, long seed,
      int evalWindow, int evalBatch, long maxEvalTokens) {

    /** Validates every field; messages name the field and the fix. */
    public Options {
      atLeast("promptTokens", promptTokens, 1);
      atLeast("decodeTokens", decodeTokens, 1);
      atLeast("warmupRounds", warmupRounds, 0);
      atLeast("measuredRounds", measuredRounds, 1);
      atLeast("evalWindow", evalWindow, 1);
      atLeast("evalBatch", evalBatch, 1);
      atLeast("maxEvalTokens", maxEvalTokens, 2);
    }

    /** P 128, D 128, 2 warm-up and 5 measured rounds, seed 42, evaluation windows of 256 × 8, ≤ 65,536 tokens. */
    public static Options defaults() {
      return new Options(128, 128, 2, 5, 42, 256, 8, 65_536);
    }

    /** These options with another prompt length. */
    public Options withPromptTokens(int p) {
      return new Options(p, decodeTokens, warmupRounds, measuredRounds, seed, evalWindow, evalBatch, maxEvalTokens);
    }

    /** These options with another decode length. */
    public Options withDecodeTokens(int d) {
      return new Options(promptTokens, d, warmupRounds, measuredRounds, seed, evalWindow, evalBatch, maxEvalTokens);
    }

    /** These options with other round counts. */
    public Options withRounds(int warmup, int measured) {
      return new Options(promptTokens, decodeTokens, warmup, measured, seed, evalWindow, evalBatch, maxEvalTokens);
    }

    /** These options with other evaluation settings. */
    public Options withEval(int window, int batch, long maxTokens) {
      return new Options(promptTokens, decodeTokens, warmupRounds, measuredRounds, seed, window, batch, maxTokens);
    }

    private static void atLeast(String name, long v, long min) {
      if (v < min) {
        throw new IllegalArgumentException("ModelBenchmark.Options: " + name + " must be >= " + min + ", got " + v);
      }
    }
  }

  /** A benchmark with these options. */
  public ModelBenchmark(Options options) {
    this.options = Objects.requireNonNull(options, "options");
  }

  /** The options. */
  public Options options() {
    return options;
  }

  /** Runs the benchmark without evaluation data (perplexity and bits per byte are NaN). */
  public ModelResult run(BenchmarkTarget target) {
    return run(target, null, -1, msg -> {});
  }

  /**
   * Runs the benchmark.
   *
   * @param eval evaluation tokens, or null to skip perplexity
   * @param evalSourceBytes UTF-8 bytes of the text {@code eval} encodes (for bits per byte), or -1
   *     if unknown; when only part of the data is evaluated the count is scaled by the fraction of
   *     tokens used
   * @param progress receives one line per phase (e.g. Maven's logger)
   * @throws IllegalArgumentException if P + D exceeds the model's context, the data's vocabulary
   *     exceeds the model's, or the byte count is 0 or below -1
   * @throws IllegalStateException if the model returns logits of the wrong length or non-finite logits
   */
  public ModelResult run(BenchmarkTarget target, TokenSequence eval, long evalSourceBytes, Consumer<String> progress) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(progress, "progress");
    int p = options.promptTokens();
    int d = options.decodeTokens();
    if ((long) p + d > target.maxSequenceLength()) {
      throw new IllegalArgumentException("ModelBenchmark: promptTokens + decodeTokens = " + ((long) p + d)
          + " exceeds the context of '" + target.name() + "' (" + target.maxSequenceLength()
          + " tokens); lower promptTokens or decodeTokens");
    }
    if (eval != null && eval.vocabSize() > target.vocabSize()) {
      throw new IllegalArgumentException("ModelBenchmark: evaluation data has vocabulary " + eval.vocabSize()
          + " but '" + target.name() + "' accepts " + target.vocabSize() + " ids; use the model's tokenizer");
    }
    if (evalSourceBytes == 0 || evalSourceBytes < -1) {
      throw new IllegalArgumentException("ModelBenchmark: evalSourceBytes must be >= 1 or -1 (unknown), got "
          + evalSourceBytes);
    }
    SplittableRandom rnd = new SplittableRandom(options.seed());
    int[] prompt = new int[p];
    int[] next = new int[d];
    for (int i = 0; i < p; i++) {
      prompt[i] = rnd.nextInt(target.vocabSize());
    }
    for (int i = 0; i < d; i++) {
      next[i] = rnd.nextInt(target.vocabSize());
    }
    int rounds = options.measuredRounds();
    double[] prefillRate = new double[rounds];
    double[] decodeRate = new double[rounds];
    long[] stepNanos = new long[rounds * d];
    long nativePeak = NativeMemory.liveBytes();
    EnergyResult energy;
    double cpuUtil;
    boolean rssReset;
    try (DecodeSession session = target.sessions().get()) {
      progress.accept(String.format(Locale.ROOT, "%s: %d warm-up round(s) of prefill %d + decode %d tokens",
          target.name(), options.warmupRounds(), p, d));
      for (int r = 0; r < options.warmupRounds(); r++) {
        nativePeak = Math.max(nativePeak, round(session, target, prompt, next, null, 0));
      }
      rssReset = ProcessProbe.resetPeakRss();
      Energy.Meter meter = Energy.probe().start();
      long cpu0 = ProcessProbe.processCpuNanos();
      long wall0 = System.nanoTime();
      for (int r = 0; r < rounds; r++) {
        long t0 = System.nanoTime();
        check(session.prefill(prompt), target);
        long t1 = System.nanoTime();
        prefillRate[r] = p / ((t1 - t0) / 1e9);
        nativePeak = Math.max(nativePeak, round(session, target, null, next, stepNanos, r * d));
        long stepsTotal = 0;
        for (int i = 0; i < d; i++) {
          stepsTotal += stepNanos[r * d + i];
        }
        decodeRate[r] = d / (stepsTotal / 1e9);
        progress.accept(String.format(Locale.ROOT, "%s: round %d/%d: prefill %.1f tok/s, decode %.1f tok/s",
            target.name(), r + 1, rounds, prefillRate[r], decodeRate[r]));
      }
      long wall = System.nanoTime() - wall0;
      long cpu1 = ProcessProbe.processCpuNanos();
      energy = meter.stop((long) rounds * (p + d));
      cpuUtil = cpu0 < 0 || cpu1 < 0 || wall <= 0 ? Double.NaN
          : (cpu1 - cpu0) / ((double) wall * Runtime.getRuntime().availableProcessors());
    }
    long rss = ProcessProbe.peakRssBytes();
    String rssScope = rss < 0 ? "unreadable: /proc/self/status has no VmHWM (not Linux?)"
        : rssReset ? "benchmark" : "process";
    double[] lat = new double[stepNanos.length];
    for (int i = 0; i < lat.length; i++) {
      lat[i] = stepNanos[i] / 1e6;
    }
    Arrays.sort(lat);
    double p50 = Spread.percentileSorted(lat, 50);
    double p95 = Spread.percentileSorted(lat, 95);

    double ppl = Double.NaN;
    double bpb = Double.NaN;
    long evalTokens = 0;
    if (eval != null) {
      if (target.scorer() == null) {
        throw new IllegalArgumentException("ModelBenchmark: '" + target.name() + "' cannot score text for perplexity;"
            + " run it without evaluation data");
      }
      long n = Math.min(eval.size(), options.maxEvalTokens());
      TokenSequence used = n == eval.size() ? eval : eval.slice(0, n);
      long bytes = evalSourceBytes;
      if (bytes > 0 && n < eval.size()) {
        bytes = Math.max(1, Math.round(evalSourceBytes * (double) n / eval.size()));
      }
      int window = Math.min(options.evalWindow(), target.maxSequenceLength());
      progress.accept(String.format(Locale.ROOT, "%s: evaluating %d tokens in windows of %d", target.name(),
          n, window));
      EvalResult er = new Evaluator(window, options.evalBatch()).evaluate(target.scorer(), used, bytes, -1);
      ppl = er.perplexity();
      bpb = er.bitsPerByte();
      evalTokens = er.tokens();
    }
    long flops = target.flopsPerToken((long) p + d).orElse(-1);
    return new ModelResult(target.name(), target.architecture(), target.parameters(), target.parameterBytes(), flops,
        p, d, p + d, options.warmupRounds(), Spread.of(prefillRate), Spread.of(decodeRate), p50, p95, rss, rssScope,
        nativePeak, cpuUtil, ppl, bpb, evalTokens, energy);
  }

  /**
   * One round: an optional prefill, then the decode steps (each timed into {@code nanos} from
   * {@code offset} when non-null). Returns the largest live native memory seen.
   */
  private static long round(DecodeSession s, BenchmarkTarget target, int[] prompt, int[] next, long[] nanos,
      int offset) {
    if (prompt != null) {
      check(s.prefill(prompt), target);
    }
    long peak = NativeMemory.liveBytes();
    for (int i = 0; i < next.length; i++) {
      long t0 = System.nanoTime();
      float[] logits = s.step(next[i]);
      long t1 = System.nanoTime();
      if (nanos != null) {
        nanos[offset + i] = t1 - t0;
      }
      if (i == 0 || i == next.length - 1) {
        check(logits, target);
      }
      peak = Math.max(peak, NativeMemory.liveBytes());
    }
    return peak;
  }

  private static void check(float[] logits, BenchmarkTarget target) {
    if (logits == null || logits.length != target.vocabSize()) {
      throw new IllegalStateException("ModelBenchmark: '" + target.name() + "' returned "
          + (logits == null ? "no logits" : logits.length + " logits") + ", expected " + target.vocabSize());
    }
    for (float v : logits) {
      if (!Float.isFinite(v)) {
        throw new IllegalStateException("ModelBenchmark: '" + target.name() + "' produced a non-finite logit (" + v
            + "); the weights are broken");
      }
    }
  }
}
