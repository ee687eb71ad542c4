package dev.iteralite.maven;

import dev.iteralite.backend.Backend;
import dev.iteralite.bench.BenchmarkReport;
import dev.iteralite.bench.BenchmarkTarget;
import dev.iteralite.bench.KernelBenchmark;
import dev.iteralite.bench.KernelResult;
import dev.iteralite.bench.ModelBenchmark;
import dev.iteralite.bench.ModelResult;
import dev.iteralite.bench.SystemInfo;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.CompressibleModel;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Benchmarks a model (prefill and decode tokens/s, latency p50/p95, memory, CPU use, analytic
 * FLOPs, perplexity and bits per byte on {@code evalText}, energy where RAPL is readable) and the
 * kernels behind it (GEMM, selective scan, MoE, against this machine's measured roofline), writes
 * {@code benchmark.json} (schema: java-api/BENCHMARK-SCHEMA.md) and applies the quality gates
 * {@code minTokensPerSecond} and {@code maxPerplexity}. Compressed variants go into the same report:
 * {@code formats} quantises each model in memory, and a compressed checkpoint (from {@code
 * itera:compress}) given as a {@code <checkpoint>} is measured through its compressed weights.
 *
 * <pre>
 * mvn itera:benchmark -Ditera.preset=tiny -Ditera.benchmark.minTokensPerSecond=100
 * mvn itera:benchmark -Ditera.checkpoint=target/itera/checkpoints/model -Ditera.benchmark.formats=q8_0,q4_0
 * </pre>
 */
@Mojo(name = "benchmark", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true)
public class BenchmarkMojo extends AbstractIteraMojo {
  /**
   * Several models benchmarked in one run and one report (e.g. Itera-Lite against the Transformer
   * baseline); each {@code <model>} has a {@code <name>} and one of {@code <preset>}, {@code
   * <llama2cCheckpoint>} + {@code <llama2cTokenizer>} or {@code <checkpoint>}. Replaces the
   * top-level model elements.
   */
  @Parameter
  List<ModelParameter> models;

  /** Skips this goal only. */
  @Parameter(property = PropertyNames.BENCHMARK_SKIP, defaultValue = "false")
  boolean skipBenchmark;

  /** The model's label in the report; defaults to the preset or file name. */
  @Parameter(property = PropertyNames.BENCHMARK_NAME)
  String name;

  /** Where the JSON report goes. */
  @Parameter(property = PropertyNames.BENCHMARK_OUTPUT, defaultValue = "${project.build.directory}/itera/benchmark.json")
  File output;

  /** P: tokens of each prefill. */
  @Parameter(property = PropertyNames.BENCHMARK_PROMPT_TOKENS, defaultValue = "128")
  int promptTokens;

  /** D: decode steps per round, measured at contexts P+1 .. P+D. */
  @Parameter(property = PropertyNames.BENCHMARK_DECODE_TOKENS, defaultValue = "128")
  int decodeTokens;

  /** Rounds run and discarded before measuring. */
  @Parameter(property = PropertyNames.BENCHMARK_WARMUP_ROUNDS, defaultValue = "2")
  int warmupRounds;

  /** Rounds measured (medians and spread are over these). */
  @Parameter(property = PropertyNames.BENCHMARK_ROUNDS, defaultValue = "5")
  int rounds;

  /**
   * A UTF-8 text file to measure perplexity and bits per byte on, tokenized with the model's
   * tokenizer; none: quality is not measured.
   */
  @Parameter(property = PropertyNames.BENCHMARK_EVAL_TEXT)
  File evalText;

  /** Tokens per evaluation window (clamped to the model's context). */
  @Parameter(property = PropertyNames.BENCHMARK_EVAL_WINDOW, defaultValue = "256")
  int evalWindow;

  /** Evaluate at most this many tokens of {@code evalText}. */
  @Parameter(property = PropertyNames.BENCHMARK_MAX_EVAL_TOKENS, defaultValue = "65536")
  long maxEvalTokens;

  /** Kernel benchmarks: {@code none}, {@code quick} (small shapes, seconds) or {@code full}. */
  @Parameter(property = PropertyNames.BENCHMARK_KERNELS, defaultValue = "quick")
  String kernels;

  /** Quality gate: the build fails if the median decode tokens/s is below this. Unset: no gate. */
  @Parameter(property = PropertyNames.BENCHMARK_MIN_TOKENS_PER_SECOND)
  Double minTokensPerSecond;

  /** Quality gate: the build fails if the perplexity on {@code evalText} is above this. Unset: no gate. */
  @Parameter(property = PropertyNames.BENCHMARK_MAX_PERPLEXITY)
  Double maxPerplexity;

  /** Whether a failed gate fails the build ({@code false}: it is logged as a warning). */
  @Parameter(property = PropertyNames.BENCHMARK_HALT_ON_FAILURE, defaultValue = "true")
  boolean haltOnFailure;

  /**
   * Also benchmark each model quantised in memory to these weight formats, comma-separated (e.g.
   * {@code q8_0,q4_0,nf4}); each appears in the report as {@code <name>-<format>} and goes through
   * the same gates. Unset: none. A compressed checkpoint written by {@code itera:compress} can
   * instead be given as a model's {@code <checkpoint>}.
   */
  @Parameter(property = PropertyNames.BENCHMARK_FORMATS)
  String formats;

  @Override
  String goal() {
    return "benchmark";
  }

  @Override
  boolean goalSkipped() {
    return skipBenchmark;
  }

  @Override
  void validateModels() throws ConfigurationProblem {
    if (models == null || models.isEmpty()) {
      super.validateModels();
      return;
    }
    if (topLevelModelSet() || (name != null && !name.isBlank())) {
      throw new ConfigurationProblem("models", "both <models> and a top-level model element are set",
          "move the top-level <name>/<preset>/<llama2cCheckpoint>/<checkpoint> into a <model> of <models>, or "
              + "remove <models>");
    }
    Set<String> names = new HashSet<>();
    for (int i = 0; i < models.size(); i++) {
      String where = "models/model[" + (i + 1) + "]";
      ModelParameter m = models.get(i);
      if (m == null) {
        throw new ConfigurationProblem(where, "is empty", "give it a <name> and one model input");
      }
      try {
        m.spec().validate();
      } catch (ConfigurationProblem p) {
        throw p.within(where);
      }
      String label = label(m.name, m.spec());
      if (!names.add(label)) {
        throw new ConfigurationProblem(where + "/name", "two models are named '" + label + "'",
            "give each <model> a distinct <name>");
      }
    }
  }

  private static String label(String name, ModelSpec spec) {
    return name == null || name.isBlank() ? spec.defaultName() : name;
  }

  @Override
  void validateGoal() throws ConfigurationProblem {
    try {
      options();
    } catch (IllegalArgumentException e) {
      // Options names the field; the element has the same name in this goal except for rounds.
      String field = e.getMessage().replaceFirst("^ModelBenchmark\\.Options: (\\w+).*$", "$1");
      String element = switch (field) {
        case "measuredRounds" -> "rounds";
        case "evalBatch" -> "evalWindow";
        default -> field;
      };
      throw new ConfigurationProblem(element, e.getMessage().replaceFirst("^ModelBenchmark\\.Options: ", ""),
          "set <" + element + "> (-Ditera.benchmark." + element + "=...) to an allowed value");
    }
    kernelMode();
    weightFormats();
    if (output == null) {
      throw new ConfigurationProblem("output", "no output file", "set <output> or leave it at its default");
    }
    if (evalText != null && !evalText.isFile()) {
      throw new ConfigurationProblem("evalText", "file " + evalText + " does not exist",
          "set <evalText> (-D" + PropertyNames.BENCHMARK_EVAL_TEXT + "=...) to a UTF-8 text file, or remove it");
    }
    if (minTokensPerSecond != null && !(minTokensPerSecond > 0 && Double.isFinite(minTokensPerSecond))) {
      throw new ConfigurationProblem("minTokensPerSecond", "must be a positive number, got " + minTokensPerSecond,
          "set e.g. <minTokensPerSecond>100</minTokensPerSecond>, or remove it to disable the gate");
    }
    if (maxPerplexity != null) {
      if (!(maxPerplexity >= 1 && Double.isFinite(maxPerplexity))) {
        throw new ConfigurationProblem("maxPerplexity", "must be a number >= 1, got " + maxPerplexity,
            "set e.g. <maxPerplexity>20</maxPerplexity>, or remove it to disable the gate");
      }
      if (evalText == null) {
        throw new ConfigurationProblem("maxPerplexity", "the perplexity gate needs evaluation text",
            "add <evalText> (-D" + PropertyNames.BENCHMARK_EVAL_TEXT + "=...) or remove <maxPerplexity>");
      }
    }
  }

  /** The configured {@code formats}, parsed. */
  List<WeightFormat> weightFormats() throws ConfigurationProblem {
    return CompressMojo.parseFormats(formats, "formats", PropertyNames.BENCHMARK_FORMATS);
  }

  ModelBenchmark.Options options() {
    return new ModelBenchmark.Options(promptTokens, decodeTokens, warmupRounds, rounds, 42, evalWindow, 8,
        maxEvalTokens);
  }

  String kernelMode() throws ConfigurationProblem {
    String k = kernels == null ? "quick" : kernels.trim().toLowerCase(Locale.ROOT);
    if (!List.of("none", "quick", "full").contains(k)) {
      throw new ConfigurationProblem("kernels", "'" + kernels + "' is not a kernel suite",
          "use none, quick or full (-D" + PropertyNames.BENCHMARK_KERNELS + "=quick)");
    }
    return k;
  }

  @Override
  void run(Backend backend, ModelSpec spec) throws MojoExecutionException, MojoFailureException, ConfigurationProblem {
    List<ModelResult> results = new ArrayList<>();
    if (models == null || models.isEmpty()) {
      results.addAll(benchmarkModel(backend, spec, label(name, spec)));
    } else {
      for (ModelParameter m : models) {
        results.addAll(benchmarkModel(backend, m.spec(), label(m.name, m.spec())));
      }
    }

    List<KernelResult> kernelResults = List.of();
    KernelBenchmark kb = null;
    String mode = kernelMode();
    if (!mode.equals("none")) {
      kb = new KernelBenchmark(backend, mode.equals("quick") ? KernelBenchmark.Options.quick()
          : KernelBenchmark.Options.defaults());
      kernelResults = kb.standardSuite(mode.equals("quick"), getLog()::info);
    }
    BenchmarkReport report = new BenchmarkReport(Instant.now(), SystemInfo.collect(backend),
        kb == null ? null : kb.roofline(), results, kernelResults);
    try {
      report.write(output.toPath());
    } catch (IOException e) {
      throw new MojoExecutionException("cannot write " + output + ": " + e.getMessage(), e);
    }
    getLog().info("Benchmark report: " + output);
    List<String> failures = new ArrayList<>();
    for (ModelResult r : results) {
      String failure = gateFailure(r);
      if (failure != null) {
        failures.add(failure);
      }
    }
    if (!failures.isEmpty()) {
      if (haltOnFailure) {
        throw new MojoFailureException(String.join("; ", failures));
      }
      failures.forEach(f -> getLog().warn(f + " (not failing: haltOnFailure is false)"));
    }
  }

  /** The model, then each of its in-memory quantised variants ({@code formats}). */
  private List<ModelResult> benchmarkModel(Backend backend, ModelSpec spec, String label)
      throws MojoExecutionException, ConfigurationProblem {
    List<ModelResult> out = new ArrayList<>();
    List<WeightFormat> quantise = weightFormats();
    try (ModelSpec.LoadedModel m = spec.open(backend, label)) {
      TokenSequence eval = null;
      long bytes = -1;
      if (evalText != null) {
        if (m.tokenizer() == null) {
          throw new ConfigurationProblem("evalText", "the checkpoint has no tokenizer to encode the text with",
              "save the checkpoint with its tokenizer, or remove <evalText>");
        }
        byte[] text = Files.readAllBytes(evalText.toPath());
        if (text.length < 2) {
          throw new ConfigurationProblem("evalText", evalText + " holds fewer than 2 bytes", "use a real text file");
        }
        int[] ids = m.tokenizer().encode(text);
        eval = TokenSequence.of(ids, m.tokenizer().vocabSize());
        bytes = text.length;
        getLog().info(String.format(Locale.ROOT, "evaluation text %s: %,d bytes, %,d tokens", evalText, bytes,
            ids.length));
      }
      out.add(measure(m.target(), eval, bytes, label));
      if (!quantise.isEmpty()) {
        if (!(m.model() instanceof CompressibleModel source) || m.model() instanceof QuantizedModel) {
          throw new ConfigurationProblem("formats", "model '" + label + "' cannot be quantised (it is "
              + (m.model() == null ? "a llama2.c checkpoint" : m.model() instanceof QuantizedModel ? "already compressed"
              : "a " + m.model().architecture() + " model") + ")", "remove <formats>, or benchmark an Itera-Lite or "
              + "Transformer preset or checkpoint");
        }
        for (WeightFormat f : quantise) {
          try (QuantizedModel q = QuantizedModel.quantize(source, f)) {
            out.add(measure(ModelSpec.target(label + "-" + f.id(), q), eval, bytes, label + "-" + f.id()));
          }
        }
      }
    } catch (IOException e) {
      throw new MojoExecutionException("cannot load the model or the evaluation text: " + e.getMessage(), e);
    }
    return out;
  }

  private ModelResult measure(BenchmarkTarget target, TokenSequence eval, long bytes, String label)
      throws MojoExecutionException, ConfigurationProblem {
    ModelResult result;
    try {
      result = new ModelBenchmark(options()).run(target, eval, bytes, getLog()::info);
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().contains("exceeds the context")) {
        throw new ConfigurationProblem("promptTokens", e.getMessage(),
            "lower <promptTokens> or <decodeTokens> so their sum fits the model's context");
      }
      throw new MojoExecutionException("benchmark of '" + label + "' failed: " + e.getMessage(), e);
    }
    getLog().info(summary(result));
    return result;
  }

  /** The first failed gate's message (naming the element and the measured value), or null if all pass. */
  String gateFailure(ModelResult r) {
    if (minTokensPerSecond != null && !(r.decodeTokensPerSec() >= minTokensPerSecond)) {
      return String.format(Locale.ROOT,
          "<minTokensPerSecond> gate failed: '%s' decoded %.1f tokens/s (median of %d rounds), below the required %.1f",
          r.name(), r.decodeTokensPerSec(), r.decode().samples(), minTokensPerSecond);
    }
    if (maxPerplexity != null && !(r.perplexity() <= maxPerplexity)) {
      return String.format(Locale.ROOT,
          "<maxPerplexity> gate failed: '%s' has perplexity %.3f on %s (%d tokens), above the allowed %.3f", r.name(),
          r.perplexity(), evalText == null ? "no text" : evalText.getName(), r.evalTokens(), maxPerplexity);
    }
    return null;
  }

  static String summary(ModelResult r) {
    String flops = r.flopsPerToken() < 0 ? "FLOPs unknown" : String.format(Locale.ROOT, "%.2f MFLOP/token",
        r.flopsPerToken() / 1e6);
    StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
        "%s: %,d params, %s, prefill %.1f tok/s, decode %.1f tok/s [%.1f..%.1f], latency p50 %.3f ms p95 %.3f ms",
        r.name(), r.params(), flops, r.prefillTokensPerSec(), r.decodeTokensPerSec(), r.decode().min(),
        r.decode().max(), r.latencyP50Ms(), r.latencyP95Ms()));
    if (r.peakRssBytes() > 0) {
      s.append(String.format(Locale.ROOT, ", peak RSS %.1f MiB", r.peakRssBytes() / 1048576.0));
    }
    s.append(String.format(Locale.ROOT, ", CPU %.0f%%", 100 * r.cpuUtilisation()));
    if (!Double.isNaN(r.perplexity())) {
      s.append(String.format(Locale.ROOT, ", perplexity %.3f, %.4f bits/byte", r.perplexity(), r.bitsPerByte()));
    }
    s.append(r.energy().available()
        ? String.format(Locale.ROOT, ", %.4f J/token", r.energy().joulesPerToken())
        : ", energy: " + r.energy().reason());
    return s.toString();
  }
}
