package dev.iteralite.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Everything the {@link Trainer} needs to know besides the model and the data: optimisation,
 * schedule, evaluation, early stopping, checkpoints and logging. Build one with {@link #builder()};
 * every field is validated on construction with a message naming it. Saved and loaded as JSON
 * ({@link #toJson()}, {@link #fromJson}); fields missing from a JSON file take the builder's
 * defaults, unknown fields are rejected.
 *
 * @param seed seed of the training data order and evaluation windows (model initialisation has its own)
 * @param batchSize sequences per micro-batch
 * @param seqLen tokens per sequence
 * @param gradAccumulation micro-batches per optimiser step (gradients summed, then scaled by 1/n)
 * @param peakLr learning rate after warm-up
 * @param warmupSteps linear warm-up steps, in [0, totalSteps)
 * @param totalSteps optimiser steps of the whole run; 0 when {@code tokenBudget} decides
 * @param tokenBudget training tokens of the whole run (0 when {@code totalSteps} decides); the run
 *     then takes {@code ceil(tokenBudget / tokensPerStep)} steps
 * @param lrFloorFraction the cosine decay ends at {@code peakLr * lrFloorFraction}, in [0, 1]
 * @param weightDecay AdamW's decoupled weight decay (not applied to norms, biases, A_log, D, dt bias)
 * @param beta1 AdamW first-moment decay, in [0, 1)
 * @param beta2 AdamW second-moment decay, in [0, 1)
 * @param eps AdamW denominator guard, > 0
 * @param clipNorm global gradient-norm clipping threshold (0 = no clipping)
 * @param evalEvery evaluate every this many steps (0 = only at the end)
 * @param evalBatches validation batches per evaluation (fixed windows, the same every time)
 * @param patience stop after this many evaluations without an improvement of at least {@code
 *     minDelta} (0 = no early stopping)
 * @param minDelta smallest validation-loss decrease that counts as an improvement
 * @param checkpointEvery save the last checkpoint every this many steps (0 = only at the end and
 *     when the validation loss improves); needs {@code checkpointDir}
 * @param checkpointDir checkpoint root folder (see {@code Checkpoint}), or null for none
 * @param metricsCsv CSV metrics file, or null for none
 * @param maxMinutes wall-clock budget in minutes (0 = none); the run stops after the step that
 *     exceeds it and saves a checkpoint. The only setting whose effect depends on the clock.
 * @param sampler how training batches are drawn
 */
public record TrainingConfig(
    long seed,
    int batchSize,
    int seqLen,
    int gradAccumulation,
    double peakLr,
    long warmupSteps,
    long totalSteps,
    long tokenBudget,
    double lrFloorFraction,
    double weightDecay,
    double beta1,
    double beta2,
    double eps,
    double clipNorm,
    long evalEvery,
    int evalBatches,
    int patience,
    double minDelta,
    long checkpointEvery,
    Path checkpointDir,
    Path metricsCsv,
    double maxMinutes,
    SamplerKind sampler) {

  /** How training batches are drawn from the token sequence. */
  public enum SamplerKind {
    /** Uniformly random windows ({@code RandomWindowSampler}); the usual choice. */
    RANDOM_WINDOWS,
    /** Parallel contiguous lanes in order ({@code ContiguousStreamSampler}), epoch after epoch. */
    CONTIGUOUS
  }

  /** Validates every field; messages name the field, its value and the allowed range. */
  public TrainingConfig {
    atLeast("batchSize", batchSize, 1);
    atLeast("seqLen", seqLen, 1);
    if ((long) batchSize * seqLen > Integer.MAX_VALUE - 8) {
      throw invalid("batchSize * seqLen", (long) batchSize * seqLen, "must fit one int array (< 2^31 - 8)");
    }
    atLeast("gradAccumulation", gradAccumulation, 1);
    if (!(peakLr > 0) || !Double.isFinite(peakLr)) {
      throw invalid("peakLr", peakLr, "must be finite and > 0");
    }
    atLeast("warmupSteps", warmupSteps, 0);
    atLeast("totalSteps", totalSteps, 0);
    atLeast("tokenBudget", tokenBudget, 0);
    if ((totalSteps > 0) == (tokenBudget > 0)) {
      throw new IllegalArgumentException("TrainingConfig: give exactly one of totalSteps and tokenBudget (> 0), got totalSteps="
          + totalSteps + " tokenBudget=" + tokenBudget);
    }
    long steps = totalSteps > 0 ? totalSteps : ceilDiv(tokenBudget, (long) batchSize * seqLen * gradAccumulation);
    if (warmupSteps >= steps) {
      throw invalid("warmupSteps", warmupSteps, "must be below the run's " + steps + " steps");
    }
    unit("lrFloorFraction", lrFloorFraction, true);
    if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
      throw invalid("weightDecay", weightDecay, "must be finite and >= 0");
    }
    unit("beta1", beta1, false);
    unit("beta2", beta2, false);
    if (!(eps > 0) || !Double.isFinite(eps)) {
      throw invalid("eps", eps, "must be finite and > 0");
    }
    if (!(clipNorm >= 0) || !Double.isFinite(clipNorm)) {
      throw invalid("clipNorm", clipNorm, "must be finite and >= 0 (0 = no clipping)");
    }
    atLeast("evalEvery", evalEvery, 0);
    atLeast("evalBatches", evalBatches, 1);
    atLeast("patience", patience, 0);
    if (!(minDelta >= 0) || !Double.isFinite(minDelta)) {
      throw invalid("minDelta", minDelta, "must be finite and >= 0");
    }
    if (patience > 0 && evalEvery == 0) {
      throw invalid("patience", patience, "needs evalEvery > 0 (early stopping compares periodic evaluations)");
    }
    atLeast("checkpointEvery", checkpointEvery, 0);
    if (checkpointEvery > 0 && checkpointDir == null) {
      throw invalid("checkpointEvery", checkpointEvery, "needs a checkpointDir");
    }
    if (!(maxMinutes >= 0) || !Double.isFinite(maxMinutes)) {
      throw invalid("maxMinutes", maxMinutes, "must be finite and >= 0 (0 = no limit)");
    }
    if (sampler == null) {
      throw new IllegalArgumentException("TrainingConfig: sampler must be one of " + List.of(SamplerKind.values()));
    }
  }

  /** Tokens consumed by one optimiser step ({@code batchSize * seqLen * gradAccumulation}). */
  public long tokensPerStep() {
    return (long) batchSize * seqLen * gradAccumulation;
  }

  /** Optimiser steps of the whole run ({@code totalSteps}, or the token budget divided by {@link #tokensPerStep()}, rounded up). */
  public long steps() {
    return totalSteps > 0 ? totalSteps : ceilDiv(tokenBudget, tokensPerStep());
  }

  /** A builder holding this configuration's values. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A builder with the defaults listed on each setter. */
  public static Builder builder() {
    return new Builder();
  }

  // ------------------------------------------------------------------ JSON

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .registerModule(new com.fasterxml.jackson.databind.module.SimpleModule()
          .addSerializer(Path.class, new com.fasterxml.jackson.databind.ser.std.ToStringSerializer(Path.class))
          .addDeserializer(Path.class, new com.fasterxml.jackson.databind.deser.std.FromStringDeserializer<Path>(Path.class) {
            @Override
            protected Path _deserialize(String value, com.fasterxml.jackson.databind.DeserializationContext ctxt) {
              return Path.of(value);
            }
          }));

  /** This configuration as a JSON object (field names as the record's; paths as strings, null when unset). */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("TrainingConfig could not be written as JSON", e);
    }
  }

  /**
   * Reads a configuration from JSON; absent fields take the {@link #builder()} defaults.
   *
   * @throws IllegalArgumentException if the JSON is malformed, has unknown fields or wrongly typed
   *     values, or a value is out of range (the message names the field)
   */
  public static TrainingConfig fromJson(String json) {
    JsonNode node;
    try {
      node = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("TrainingConfig: not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("TrainingConfig: the JSON must be an object of fields");
    }
    ObjectNode merged = JSON.valueToTree(builder().build());
    List<String> unknown = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!merged.has(f)) {
        unknown.add(f);
      }
    }
    if (!unknown.isEmpty()) {
      List<String> known = new ArrayList<>();
      merged.fieldNames().forEachRemaining(known::add);
      throw new IllegalArgumentException("TrainingConfig: unknown field(s) " + unknown + "; known fields: " + known);
    }
    // The two run lengths exclude each other: giving one clears the default of the other.
    if (node.has("tokenBudget") && !node.has("totalSteps")) {
      merged.put("totalSteps", 0);
    }
    merged.setAll((ObjectNode) node);
    try {
      return JSON.treeToValue(merged, TrainingConfig.class);
    } catch (JsonProcessingException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IllegalArgumentException iae && iae.getMessage() != null && iae.getMessage().startsWith("TrainingConfig")) {
        throw iae;
      }
      String field = e instanceof com.fasterxml.jackson.databind.JsonMappingException jme && !jme.getPath().isEmpty()
          ? jme.getPath().get(jme.getPath().size() - 1).getFieldName() : "?";
      throw new IllegalArgumentException("TrainingConfig: field '" + field + "' has a value of the wrong type: "
          + e.getOriginalMessage(), e);
    }
  }

  /** Writes {@link #toJson()} to a file (UTF-8). */
  public void save(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(file, toJson() + "\n", StandardCharsets.UTF_8);
  }

  /** Reads a file written by {@link #save} (or by hand); see {@link #fromJson}. */
  public static TrainingConfig load(Path file) throws IOException {
    try {
      return fromJson(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------ checks

  private static IllegalArgumentException invalid(String field, Object value, String rule) {
    return new IllegalArgumentException("TrainingConfig: " + field + " " + rule + ", got " + value);
  }

  private static void atLeast(String field, long value, long min) {
    if (value < min) {
      throw invalid(field, value, "must be >= " + min);
    }
  }

  private static void unit(String field, double value, boolean closed) {
    boolean ok = closed ? value >= 0 && value <= 1 : value >= 0 && value < 1;
    if (!ok) {
      throw invalid(field, value, "must be in " + (closed ? "[0, 1]" : "[0, 1)"));
    }
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  /** Mutable builder for {@link TrainingConfig}; {@link #build()} validates. */
  public static final class Builder {
    private long seed = 1234;
    private int batchSize = 8;
    private int seqLen = 128;
    private int gradAccumulation = 1;
    private double peakLr = 3e-3;
    private long warmupSteps = 20;
    private long totalSteps = 1000;
    private long tokenBudget = 0;
    private double lrFloorFraction = 0.1;
    private double weightDecay = 0.1;
    private double beta1 = 0.9;
    private double beta2 = 0.95;
    private double eps = 1e-8;
    private double clipNorm = 1.0;
    private long evalEvery = 100;
    private int evalBatches = 8;
    private int patience = 0;
    private double minDelta = 0;
    private long checkpointEvery = 0;
    private Path checkpointDir;
    private Path metricsCsv;
    private double maxMinutes = 0;
    private SamplerKind sampler = SamplerKind.RANDOM_WINDOWS;

    private Builder() {}

    private Builder(TrainingConfig c) {
      seed = c.seed;
      batchSize = c.batchSize;
      seqLen = c.seqLen;
      gradAccumulation = c.gradAccumulation;
      peakLr = c.peakLr;
      warmupSteps = c.warmupSteps;
      totalSteps = c.totalSteps;
      tokenBudget = c.tokenBudget;
      lrFloorFraction = c.lrFloorFraction;
      weightDecay = c.weightDecay;
      beta1 = c.beta1;
      beta2 = c.beta2;
      eps = c.eps;
      clipNorm = c.clipNorm;
      evalEvery = c.evalEvery;
      evalBatches = c.evalBatches;
      patience = c.patience;
      minDelta = c.minDelta;
      checkpointEvery = c.checkpointEvery;
      checkpointDir = c.checkpointDir;
      metricsCsv = c.metricsCsv;
      maxMinutes = c.maxMinutes;
      sampler = c.sampler;
    }

    /** Data-order seed (default 1234). */
    public Builder seed(long v) {
      seed = v;
      return this;
    }

    /** Sequences per micro-batch (default 8). */
    public Builder batchSize(int v) {
      batchSize = v;
      return this;
    }

    /** Tokens per sequence (default 128). */
    public Builder seqLen(int v) {
      seqLen = v;
      return this;
    }

    /** Micro-batches per optimiser step (default 1). */
    public Builder gradAccumulation(int v) {
      gradAccumulation = v;
      return this;
    }

    /** Peak learning rate (default 3e-3). */
    public Builder peakLr(double v) {
      peakLr = v;
      return this;
    }

    /** Warm-up steps (default 20). */
    public Builder warmupSteps(long v) {
      warmupSteps = v;
      return this;
    }

    /** Optimiser steps of the run (default 1000); clears any token budget. */
    public Builder totalSteps(long v) {
      totalSteps = v;
      tokenBudget = 0;
      return this;
    }

    /** Training tokens of the run instead of a step count; clears totalSteps. */
    public Builder tokenBudget(long v) {
      tokenBudget = v;
      totalSteps = 0;
      return this;
    }

    /** Final learning rate as a fraction of the peak (default 0.1). */
    public Builder lrFloorFraction(double v) {
      lrFloorFraction = v;
      return this;
    }

    /** Decoupled weight decay (default 0.1). */
    public Builder weightDecay(double v) {
      weightDecay = v;
      return this;
    }

    /** AdamW betas (default 0.9, 0.95). */
    public Builder betas(double b1, double b2) {
      beta1 = b1;
      beta2 = b2;
      return this;
    }

    /** AdamW epsilon (default 1e-8). */
    public Builder eps(double v) {
      eps = v;
      return this;
    }

    /** Global gradient-norm clip (default 1.0; 0 = off). */
    public Builder clipNorm(double v) {
      clipNorm = v;
      return this;
    }

    /** Evaluate every n steps (default 100; 0 = only at the end). */
    public Builder evalEvery(long v) {
      evalEvery = v;
      return this;
    }

    /** Validation batches per evaluation (default 8). */
    public Builder evalBatches(int v) {
      evalBatches = v;
      return this;
    }

    /** Early-stopping patience in evaluations (default 0 = off) and the minimum improvement (default 0). */
    public Builder earlyStopping(int patience, double minDelta) {
      this.patience = patience;
      this.minDelta = minDelta;
      return this;
    }

    /** Save the last checkpoint every n steps (default 0 = at the end and on improvement only). */
    public Builder checkpointEvery(long v) {
      checkpointEvery = v;
      return this;
    }

    /** Checkpoint root folder (default none). */
    public Builder checkpointDir(Path v) {
      checkpointDir = v;
      return this;
    }

    /** CSV metrics file (default none). */
    public Builder metricsCsv(Path v) {
      metricsCsv = v;
      return this;
    }

    /** Wall-clock budget in minutes (default 0 = none). */
    public Builder maxMinutes(double v) {
      maxMinutes = v;
      return this;
    }

    /** Batch sampler (default random windows). */
    public Builder sampler(SamplerKind v) {
      sampler = v;
      return this;
    }

    /** Validates and builds. */
    public TrainingConfig build() {
      return new TrainingConfig(seed, batchSize, seqLen, gradAccumulation, peakLr, warmupSteps, totalSteps, tokenBudget,
          lrFloorFraction, weightDecay, beta1, beta2, eps, clipNorm, evalEvery, evalBatches, patience, minDelta,
          checkpointEvery, checkpointDir, metricsCsv, maxMinutes, sampler);
    }
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "TrainingConfig[steps=%d, batch=%dx%d x%d, lr=%.3g warmup=%d floor=%.3g, wd=%.3g, clip=%.3g, seed=%d]",
        steps(), batchSize, seqLen, gradAccumulation, peakLr, warmupSteps, lrFloorFraction, weightDecay, clipNorm, seed);
  }
}
