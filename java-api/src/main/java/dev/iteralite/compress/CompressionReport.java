package dev.iteralite.compress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.iteralite.bench.BenchmarkTarget;
import dev.iteralite.bench.ModelBenchmark;
import dev.iteralite.bench.ModelResult;
import dev.iteralite.bench.SystemInfo;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.eval.LanguageModel;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.QuantizedModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;

/**
 * The compression table of a trained model: an FP32 baseline and every compressed variant
 * (quantised, trimmed, pruned, distilled...) measured in one run on the same held-out tokens and
 * with the same timing settings, so their sizes, perplexities and speeds can be compared row by row.
 * Written as JSON (schema in java-api/BENCHMARK-SCHEMA.md, "compression.json") and as a Markdown
 * table; the report goal draws it as a size-vs-perplexity chart.
 *
 * <p>Definitions, for each row:
 *
 * <ul>
 *   <li><b>parameters</b>: the variant's parameter count ({@code model.parameters().parameterCount()};
 *       for a {@link QuantizedModel} that is its source model's).
 *   <li><b>bytes on disk</b>: with a checkpoint, the sum of the sizes of the regular files in the
 *       checkpoint folder ({@link Checkpoint#resolve}: a root's {@code LAST} checkpoint only, never
 *       older ones kept for {@code BEST}); without one, the in-memory weights ({@link
 *       QuantizedModel#weightBytes()}, or parameters × the parameter type's bytes, i.e. 4 ×
 *       parameters for F32).
 *   <li><b>bits per weight</b>: {@code 8 × bytes of the weights file (model.safetensors, header
 *       included) / parameters} of that variant; without a checkpoint {@code 8 × bytes / parameters}.
 *   <li><b>size ratio</b>: baseline bytes / variant bytes (above 1 = smaller than the baseline).
 *   <li><b>perplexity</b>: token-level, over {@code count} non-overlapping windows of {@code length}
 *       tokens taken from the start of the evaluation tokens ({@link Evaluator}); a {@link
 *       QuantizedModel} is scored through {@link QuantizedModel#languageModel()}, i.e. with its
 *       compressed weights. A variant with a token map is scored on the mapped ids. <b>change</b>
 *       is {@code perplexity / baseline perplexity − 1}.
 *   <li><b>word perplexity / bits per byte</b>: from the same NLL with the word / byte count given,
 *       scaled by the share of the evaluation tokens the windows cover (NaN when not given).
 *   <li><b>prefill / decode tokens/s</b>: {@link ModelBenchmark} medians (random prompt of {@code
 *       promptTokens}, then {@code steps} single-token steps; one warm-up and {@code rounds}
 *       measured rounds); <b>speed-up</b> is variant / baseline.
 * </ul>
 *
 * <p>The models stay owned by the caller (close them after {@link #run()}).
 */
public final class CompressionReport {
  /** Version written as {@code schemaVersion} in the JSON. */
  public static final int SCHEMA_VERSION = 1;
  /** The JSON's {@code kind}, so a report reader can tell this file from {@code benchmark.json}. */
  public static final String KIND = "itera-compression-report";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final int EVAL_BATCH = 8;

  private final Entry baseline;
  private final List<Entry> variants;
  private final int[] tokens;
  private final long words;
  private final long textBytes;
  private final int windowCount;
  private final int windowLength;
  private final int promptTokens;
  private final int steps;
  private final int rounds;
  private final Consumer<String> progress;

  /** A variant as given to the builder, validated by {@link Builder#build()}. */
  private record Pending(String name, String technique, CausalLm model, Path checkpointDir, IntUnaryOperator tokenMap) {}

  /** One model to measure, with its evaluation tokens already in its own ids. */
  private record Entry(String name, String technique, CausalLm model, Path checkpointDir, int[] tokens) {}

  private CompressionReport(Builder b, Entry baseline, List<Entry> variants) {
    this.baseline = baseline;
    this.variants = variants;
    this.tokens = b.tokens;
    this.words = b.words;
    this.textBytes = b.textBytes;
    this.windowCount = b.windowCount;
    this.windowLength = b.windowLength;
    this.promptTokens = b.promptTokens;
    this.steps = b.steps;
    this.rounds = b.rounds;
    this.progress = b.progress;
  }

  /** A new builder: evaluation tokens, a baseline and at least one variant are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Collects the inputs of a {@link CompressionReport}; {@link #build()} validates them all. */
  public static final class Builder {
    private int[] tokens;
    private long words = -1;
    private long textBytes = -1;
    private int windowCount = 16;
    private int windowLength = 256;
    private int promptTokens = 128;
    private int steps = 128;
    private int rounds = 3;
    private Consumer<String> progress = msg -> {};
    private String baselineName;
    private CausalLm baselineModel;
    private Path baselineDir;
    private final List<Pending> variants = new ArrayList<>();

    private Builder() {}

    /** Held-out tokens in the baseline's ids (copied); the windows are taken from their start. */
    public Builder evaluationTokens(int[] tokens) {
      this.tokens = Objects.requireNonNull(tokens, "evaluationTokens").clone();
      return this;
    }

    /**
     * Word count of the text the evaluation tokens encode (WikiText-2: including one {@code <eos>}
     * per line), for word-level perplexity; 0 or less for none (the default).
     */
    public Builder words(long wordCount) {
      this.words = wordCount > 0 ? wordCount : -1;
      return this;
    }

    /** UTF-8 byte count of the text the evaluation tokens encode, for bits per byte; 0 or less for none. */
    public Builder textBytes(long bytes) {
      this.textBytes = bytes > 0 ? bytes : -1;
      return this;
    }

    /** Evaluate {@code count} windows of {@code length} tokens (default 16 × 256). */
    public Builder windows(int count, int length) {
      this.windowCount = count;
      this.windowLength = length;
      return this;
    }

    /**
     * Timing: prefill {@code promptTokens} random tokens, then {@code steps} decode steps; one
     * warm-up round, then {@code rounds} measured rounds whose medians are reported (default 128,
     * 128, 3).
     */
    public Builder decode(int promptTokens, int steps, int rounds) {
      this.promptTokens = promptTokens;
      this.steps = steps;
      this.rounds = rounds;
      return this;
    }

    /** Receives one line per measurement phase (e.g. a Maven logger); default: silent. */
    public Builder progress(Consumer<String> progress) {
      this.progress = Objects.requireNonNull(progress, "progress");
      return this;
    }

    /**
     * The FP32 reference row, technique {@code baseline}.
     *
     * @param checkpointDir its checkpoint (folder or root), or null: bytes are then the in-memory
     *     weights (4 × parameters for F32)
     */
    public Builder baseline(String name, CausalLm model, Path checkpointDir) {
      this.baselineName = name;
      this.baselineModel = model;
      this.baselineDir = checkpointDir;
      return this;
    }

    /** A variant that uses the baseline's token ids. */
    public Builder variant(String name, String technique, CausalLm model, Path checkpointDir) {
      return variant(name, technique, model, checkpointDir, null);
    }

    /**
     * A variant whose token ids differ from the baseline's (e.g. vocabulary trimming: {@code
     * trimmed.tokenizer()::fromBaseId}).
     *
     * @param tokenMap maps each baseline id of the evaluation tokens to the variant's id; null for
     *     the identity
     */
    public Builder variant(String name, String technique, CausalLm model, Path checkpointDir, IntUnaryOperator tokenMap) {
      variants.add(new Pending(name, technique, model, checkpointDir, tokenMap));
      return this;
    }

    /**
     * Validates everything that can be checked before measuring.
     *
     * @throws IllegalArgumentException naming the problem and the fix: no evaluation tokens, no
     *     baseline, no variant, a blank or repeated name, non-positive window or timing settings,
     *     windows needing more tokens than given, windows or prompt + steps beyond a model's
     *     context, evaluation tokens outside the baseline's vocabulary, a token map giving ids
     *     outside a variant's vocabulary, or a checkpoint folder that holds no checkpoint or one
     *     of another parameter count
     */
    public CompressionReport build() {
      if (tokens == null) {
        throw new IllegalArgumentException("CompressionReport: no evaluation tokens; call evaluationTokens(ids) with "
            + "held-out text in the baseline's ids");
      }
      if (windowCount < 1 || windowLength < 1) {
        throw new IllegalArgumentException("CompressionReport: windows(count, length) must both be >= 1, got "
            + windowCount + " x " + windowLength);
      }
      if (promptTokens < 1 || steps < 1 || rounds < 1) {
        throw new IllegalArgumentException("CompressionReport: decode(promptTokens, steps, rounds) must all be >= 1, got "
            + promptTokens + ", " + steps + ", " + rounds);
      }
      long needed = (long) windowCount * windowLength + 1;
      if (tokens.length < needed) {
        throw new IllegalArgumentException("CompressionReport: " + windowCount + " windows of " + windowLength
            + " tokens need " + needed + " evaluation tokens (one more for the last target), but only " + tokens.length
            + " were given; use fewer or shorter windows, or more text");
      }
      if (baselineModel == null) {
        throw new IllegalArgumentException("CompressionReport: no baseline; call baseline(name, fp32Model, checkpointDir)");
      }
      if (variants.isEmpty()) {
        throw new IllegalArgumentException("CompressionReport: no variants; add at least one with variant(...)");
      }
      int[] used = Arrays.copyOf(tokens, (int) needed);
      Set<String> names = new HashSet<>();
      Entry base = entry(names, baselineName, "baseline", baselineModel, baselineDir, used, null);
      List<Entry> vs = new ArrayList<>();
      for (Pending v : variants) {
        vs.add(entry(names, v.name(), v.technique(), v.model(), v.checkpointDir(), used, v.tokenMap()));
      }
      return new CompressionReport(this, base, List.copyOf(vs));
    }

    private Entry entry(Set<String> names, String name, String technique, CausalLm model, Path dir, int[] used,
        IntUnaryOperator map) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("CompressionReport: every row needs a non-blank name");
      }
      if (!names.add(name)) {
        throw new IllegalArgumentException("CompressionReport: the name '" + name + "' is used twice; give each row its own");
      }
      if (technique == null || technique.isBlank()) {
        throw new IllegalArgumentException("CompressionReport: '" + name + "' needs a technique (e.g. 'quantisation')");
      }
      Objects.requireNonNull(model, name + ": model");
      int vocab = model.vocabSize();
      if (windowLength > model.maxSequenceLength()) {
        throw new IllegalArgumentException("CompressionReport: windows of " + windowLength + " tokens exceed the context of '"
            + name + "' (" + model.maxSequenceLength() + "); use shorter windows");
      }
      if ((long) promptTokens + steps > model.maxSequenceLength()) {
        throw new IllegalArgumentException("CompressionReport: promptTokens + steps = " + ((long) promptTokens + steps)
            + " exceed the context of '" + name + "' (" + model.maxSequenceLength() + "); lower them in decode(...)");
      }
      int[] ids = new int[used.length];
      for (int i = 0; i < used.length; i++) {
        int id = used[i];
        if (map == null) {
          if (id < 0 || id >= vocab) {
            throw new IllegalArgumentException("CompressionReport: evaluation token " + i + " is id " + id + ", outside '"
                + name + "''s vocabulary [0, " + vocab + "); tokenize the text with the baseline's tokenizer"
                + (baselineModel == model ? "" : ", or give this variant a tokenMap"));
          }
          ids[i] = id;
        } else {
          int m = map.applyAsInt(id);
          if (m < 0 || m >= vocab) {
            throw new IllegalArgumentException("CompressionReport: the tokenMap of '" + name + "' maps evaluation token " + i
                + " (baseline id " + id + ") to " + m + ", outside its vocabulary [0, " + vocab + "); the variant cannot "
                + "represent this text (e.g. trim the vocabulary against a corpus that contains it)");
          }
          ids[i] = m;
        }
      }
      Path folder = null;
      if (dir != null) {
        try {
          folder = Checkpoint.resolve(dir, Checkpoint.Which.LAST);
          JsonNode config = JSON.readTree(folder.resolve(Checkpoint.CONFIG_FILE).toFile());
          long stored = config.path("parameter_count").asLong(-1);
          long params = model.parameters().parameterCount();
          if (stored != params) {
            throw new IllegalArgumentException("CompressionReport: the checkpoint " + folder + " of '" + name + "' holds "
                + stored + " parameters but the model has " + params + "; pass the folder this model was saved to");
          }
          if (!Files.isRegularFile(folder.resolve(Checkpoint.MODEL_FILE))) {
            throw new IllegalArgumentException("CompressionReport: the checkpoint " + folder + " of '" + name + "' has no "
                + Checkpoint.MODEL_FILE);
          }
        } catch (IOException e) {
          throw new IllegalArgumentException("CompressionReport: checkpointDir " + dir + " of '" + name
              + "' is not a readable checkpoint (" + e.getMessage() + "); save it with Checkpoint.save or pass null", e);
        }
      }
      return new Entry(name, technique, model, folder, ids);
    }
  }

  /**
   * One variant's figures (definitions in the class description); unknown numbers are NaN.
   *
   * @param sizeRatio baseline bytes / bytes
   * @param perplexityChange {@code perplexity / baseline perplexity − 1} (0 for the baseline)
   * @param wordPerplexity NaN if the word count is unknown
   * @param bitsPerByte NaN if the byte count is unknown
   */
  public record Row(String name, String technique, long parameters, long bytesOnDisk, double bitsPerWeight,
      double sizeRatio, double perplexity, double perplexityChange, double wordPerplexity, double bitsPerByte,
      double prefillTokensPerSec, double decodeTokensPerSec, double prefillSpeedup, double decodeSpeedup) {
    /** Rejects null names. */
    public Row {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(technique, "technique");
    }
  }

  /**
   * The measured table: the baseline first, then the variants in the order they were added.
   *
   * @param rows one per model
   * @param system machine, software and measurement settings (field → text): {@link SystemInfo}'s
   *     main fields, {@code createdAt}, {@code evaluation} and {@code timing}
   */
  public record Result(List<Row> rows, Map<String, String> system) {
    /** Copies both; keeps the map's order. */
    public Result {
      rows = List.copyOf(rows);
      system = Collections.unmodifiableMap(new LinkedHashMap<>(system));
    }

    /** Writes the JSON (BENCHMARK-SCHEMA.md, "compression.json"): temporary file, then an atomic rename. */
    public void writeJson(Path file) throws IOException {
      ObjectNode root = JSON.createObjectNode();
      root.put("schemaVersion", SCHEMA_VERSION);
      root.put("kind", KIND);
      ObjectNode sys = root.putObject("system");
      system.forEach(sys::put);
      ArrayNode rs = root.putArray("rows");
      for (Row r : rows) {
        ObjectNode o = rs.addObject();
        o.put("name", r.name());
        o.put("technique", r.technique());
        o.put("parameters", r.parameters());
        o.put("bytesOnDisk", r.bytesOnDisk());
        num(o, "bitsPerWeight", r.bitsPerWeight());
        num(o, "sizeRatio", r.sizeRatio());
        num(o, "perplexity", r.perplexity());
        num(o, "perplexityChange", r.perplexityChange());
        num(o, "wordPerplexity", r.wordPerplexity());
        num(o, "bitsPerByte", r.bitsPerByte());
        num(o, "prefillTokensPerSec", r.prefillTokensPerSec());
        num(o, "decodeTokensPerSec", r.decodeTokensPerSec());
        num(o, "prefillSpeedup", r.prefillSpeedup());
        num(o, "decodeSpeedup", r.decodeSpeedup());
      }
      writeAtomically(file, JSON.writeValueAsString(root) + "\n");
    }

    /** Writes the Markdown table (a row per variant, then the system lines): temporary file, then an atomic rename. */
    public void writeMarkdown(Path file) throws IOException {
      writeAtomically(file, toMarkdown());
    }

    /** The Markdown text {@link #writeMarkdown} writes. */
    public String toMarkdown() {
      StringBuilder b = new StringBuilder("# Compression report\n\n");
      b.append("| variant | technique | parameters | bytes on disk | size ratio | bits/weight | perplexity | Δ perplexity "
          + "| word perplexity | bits/byte | prefill tok/s | decode tok/s | prefill speed-up | decode speed-up |\n");
      b.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
      for (Row r : rows) {
        b.append("| ").append(cell(r.name())).append(" | ").append(cell(r.technique())).append(" | ")
            .append(String.format(Locale.ROOT, "%,d | %,d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
                r.parameters(), r.bytesOnDisk(), fmt("%.2fx", r.sizeRatio()), fmt("%.2f", r.bitsPerWeight()),
                fmt("%.3f", r.perplexity()), fmt("%+.2f%%", 100 * r.perplexityChange()), fmt("%.3f", r.wordPerplexity()),
                fmt("%.4f", r.bitsPerByte()), fmt("%.1f", r.prefillTokensPerSec()), fmt("%.1f", r.decodeTokensPerSec()),
                fmt("%.2fx", r.prefillSpeedup()), fmt("%.2fx", r.decodeSpeedup())))
            .append('\n');
      }
      b.append('\n');
      system.forEach((k, v) -> b.append("- ").append(k).append(": ").append(v.replace("\n", " ")).append('\n'));
      return b.toString();
    }

    /**
     * Reads a file written by {@link #writeJson}; {@code null} numbers become NaN.
     *
     * @throws IOException if it is not such a file (the message names the file and the field)
     */
    public static Result readJson(Path file) throws IOException {
      JsonNode root;
      try {
        root = JSON.readTree(file.toFile());
      } catch (IOException e) {
        throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
      }
      if (root == null || !root.isObject() || !KIND.equals(root.path("kind").asText())) {
        throw new IOException(file + " is not a compression report (its 'kind' must be '" + KIND + "')");
      }
      if (root.path("schemaVersion").asInt(-1) != SCHEMA_VERSION) {
        throw new IOException(file + ": schemaVersion " + root.get("schemaVersion") + " is not " + SCHEMA_VERSION);
      }
      Map<String, String> sys = new LinkedHashMap<>();
      JsonNode s = root.get("system");
      if (s != null && s.isObject()) {
        for (Iterator<Map.Entry<String, JsonNode>> it = s.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          sys.put(e.getKey(), e.getValue().asText());
        }
      }
      JsonNode rs = root.get("rows");
      if (rs == null || !rs.isArray()) {
        throw new IOException(file + ": field 'rows' must be an array");
      }
      List<Row> rows = new ArrayList<>();
      for (int i = 0; i < rs.size(); i++) {
        JsonNode o = rs.get(i);
        String at = file + ": rows[" + i + "]";
        rows.add(new Row(text(o, "name", at), text(o, "technique", at), count(o, "parameters", at),
            count(o, "bytesOnDisk", at), number(o, "bitsPerWeight", at), number(o, "sizeRatio", at),
            number(o, "perplexity", at), number(o, "perplexityChange", at), number(o, "wordPerplexity", at),
            number(o, "bitsPerByte", at), number(o, "prefillTokensPerSec", at), number(o, "decodeTokensPerSec", at),
            number(o, "prefillSpeedup", at), number(o, "decodeSpeedup", at)));
      }
      return new Result(rows, sys);
    }

    private static String text(JsonNode o, String field, String at) throws IOException {
      JsonNode v = o.get(field);
      if (v == null || !v.isTextual()) {
        throw new IOException(at + ": field '" + field + "' must be a string");
      }
      return v.asText();
    }

    private static long count(JsonNode o, String field, String at) throws IOException {
      JsonNode v = o.get(field);
      if (v == null || !v.isIntegralNumber()) {
        throw new IOException(at + ": field '" + field + "' must be an integer");
      }
      return v.asLong();
    }

    private static double number(JsonNode o, String field, String at) throws IOException {
      JsonNode v = o.get(field);
      if (v == null || v.isNull()) {
        return Double.NaN;
      }
      if (!v.isNumber()) {
        throw new IOException(at + ": field '" + field + "' must be a number or null");
      }
      return v.asDouble();
    }

    private static void num(ObjectNode o, String field, double v) {
      if (Double.isFinite(v)) {
        o.put(field, v);
      } else {
        o.putNull(field);
      }
    }

    private static String fmt(String format, double v) {
      return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "n/a";
    }

    private static String cell(String s) {
      return s.replace("|", "\\|").replace("\n", " ");
    }
  }

  /**
   * Measures the baseline, then every variant, one after the other with the same evaluation windows
   * and timing settings.
   *
   * @throws IllegalStateException if a model returns broken logits while being timed
   * @throws java.io.UncheckedIOException if a checkpoint folder cannot be listed
   */
  public Result run() {
    long targets = (long) windowCount * windowLength;
    double share = (double) targets / (tokens.length - 1);
    long w = words > 0 ? Math.max(1, Math.round(words * share)) : -1;
    long bytes = textBytes > 0 ? Math.max(1, Math.round(textBytes * share)) : -1;
    ModelBenchmark timer = new ModelBenchmark(ModelBenchmark.Options.defaults().withPromptTokens(promptTokens)
        .withDecodeTokens(steps).withRounds(1, rounds));
    // One untimed pass over every model first: the first model timed would otherwise pay for the
    // JIT compiling the decode loops the others share (it made the F32 baseline look 1.6x slower).
    ModelBenchmark warmUp = new ModelBenchmark(ModelBenchmark.Options.defaults().withPromptTokens(promptTokens)
        .withDecodeTokens(steps).withRounds(1, 1));
    warmUp.run(BenchmarkTarget.of(baseline.name(), baseline.model()), null, -1, s -> { });
    for (Entry v : variants) {
      warmUp.run(BenchmarkTarget.of(v.name(), v.model()), null, -1, s -> { });
    }
    Measured base = measure(baseline, timer, w, bytes);
    List<Row> rows = new ArrayList<>();
    rows.add(base.row(base));
    for (Entry v : variants) {
      rows.add(measure(v, timer, w, bytes).row(base));
    }
    Map<String, String> system = new LinkedHashMap<>();
    SystemInfo info = SystemInfo.collect(baseline.model().backend());
    system.put("createdAt", Instant.now().toString());
    system.put("cpuModel", info.cpuModel());
    system.put("logicalCores", Integer.toString(info.logicalCores()));
    system.put("maxIsa", info.maxIsa());
    system.put("backend", info.backend());
    system.put("threads", Integer.toString(info.threads()));
    system.put("jdkVersion", info.jdkVendor() + " " + info.jdkVersion());
    system.put("os", info.os());
    system.put("iteraLiteVersion", info.iteraLiteVersion());
    system.put("evaluation", String.format(Locale.ROOT, "%d windows of %d tokens (%d targets) from the start of %d "
        + "evaluation tokens%s%s", windowCount, windowLength, targets, tokens.length,
        w > 0 ? ", " + w + " words" : "", bytes > 0 ? ", " + bytes + " bytes" : ""));
    system.put("timing", String.format(Locale.ROOT, "prefill %d random tokens then %d decode steps; after an untimed "
        + "pass over every model, 1 warm-up and %d measured rounds, medians", promptTokens, steps, rounds));
    return new Result(rows, system);
  }

  /** The raw measurements of one model. */
  private record Measured(Entry entry, long parameters, long bytes, double bitsPerWeight, EvalResult eval,
      double prefill, double decode) {
    Row row(Measured base) {
      return new Row(entry.name(), entry.technique(), parameters, bytes, bitsPerWeight, (double) base.bytes / bytes,
          eval.perplexity(), entry == base.entry ? 0.0 : eval.perplexity() / base.eval.perplexity() - 1,
          eval.wordPerplexity(), eval.bitsPerByte(), prefill, decode, prefill / base.prefill, decode / base.decode);
    }
  }

  private Measured measure(Entry e, ModelBenchmark timer, long w, long bytes) {
    CausalLm model = e.model();
    long params = model.parameters().parameterCount();
    long size;
    double bpw;
    if (e.checkpointDir() != null) {
      size = folderBytes(e.checkpointDir());
      bpw = 8.0 * fileSize(e.checkpointDir().resolve(Checkpoint.MODEL_FILE)) / params;
    } else {
      size = model instanceof QuantizedModel q ? q.weightBytes() : model.parameters().dtype().bytesFor(params);
      bpw = 8.0 * size / params;
    }
    progress.accept(String.format(Locale.ROOT, "%s: evaluating %d windows of %d tokens", e.name(), windowCount,
        windowLength));
    LanguageModel scorer = model instanceof QuantizedModel q ? q.languageModel() : LanguageModel.of(model);
    EvalResult eval = new Evaluator(windowLength, EVAL_BATCH).evaluate(scorer,
        TokenSequence.of(e.tokens(), model.vocabSize()), bytes, w);
    ModelResult timing = timer.run(BenchmarkTarget.of(e.name(), model), null, -1, progress);
    return new Measured(e, params, size, bpw, eval, timing.prefillTokensPerSec(), timing.decodeTokensPerSec());
  }

  /**
   * Sum of the sizes of the files a deployment of the checkpoint needs (weights, config,
   * tokenizer): the optimizer moments and trainer state only serve resuming training, and would
   * make an F32 training checkpoint look three times its size.
   */
  private static long folderBytes(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      long total = 0;
      for (Path p : (Iterable<Path>) files::iterator) {
        String name = p.getFileName().toString();
        if (Files.isRegularFile(p) && !name.equals(Checkpoint.OPTIMIZER_FILE) && !name.equals(Checkpoint.STATE_FILE)) {
          total += Files.size(p);
        }
      }
      return total;
    } catch (IOException ex) {
      throw new java.io.UncheckedIOException("CompressionReport: cannot list checkpoint " + dir, ex);
    }
  }

  private static long fileSize(Path file) {
    try {
      return Files.size(file);
    } catch (IOException ex) {
      throw new java.io.UncheckedIOException("CompressionReport: cannot read the size of " + file, ex);
    }
  }

  private static void writeAtomically(Path file, String text) throws IOException {
    Path abs = file.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
