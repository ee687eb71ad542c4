package dev.iteralite.maven;

import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backend;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.compress.ChannelPruner;
import dev.iteralite.compress.CompressionReport;
import dev.iteralite.compress.Distiller;
import dev.iteralite.compress.ExpertPruner;
import dev.iteralite.compress.MixedPrecisionSearch;
import dev.iteralite.compress.VocabularyTrimmer;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.data.WikiText;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.CompressibleModel;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.PrecisionPlan;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.Tokenizer;
import dev.iteralite.train.TrainingConfig;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Compresses a trained checkpoint into the configured variants, saves each as a checkpoint under
 * {@code outputDirectory/<variant>/} and writes the compression report ({@code compression.json}
 * and {@code compression.md}: size on disk, bits per weight, perplexity and its change, bits per
 * byte, prefill / decode speed of every variant against the F32 baseline on held-out text), with the
 * quality gate {@code maxPerplexityIncrease}. Each technique runs only when configured:
 *
 * <ul>
 *   <li>{@code formats}: uniform quantisation, one variant per format (default {@code q8_0,q4_0});
 *   <li>{@code precisionPlan}: explicit mixed precision ({@code regex=format;...}), variant {@code plan};
 *   <li>{@code targetBits} and/or {@code searchMaxPerplexityIncrease}: a {@link MixedPrecisionSearch}
 *       plan, variant {@code mixed};
 *   <li>{@code pruneExperts} / {@code pruneChannels}: structured pruning with a {@code recoverySteps}
 *       fine-tune, variants {@code pruned-experts} / {@code pruned-channels}, and with both {@code
 *       pruned} (experts, then channels, one fine-tune: the smallest dense model);
 *   <li>{@code distillDModel}: a smaller Itera-Lite student distilled from the model, variant {@code distilled};
 *   <li>{@code trimVocabulary}: the vocabulary cut to the ids a corpus uses, variant {@code trimmed-vocab}.
 * </ul>
 *
 * The default phase is {@code package}: after {@code train} (process-classes) and {@code evaluate}
 * (test), before {@code benchmark} (verify), which can then benchmark the compressed checkpoints.
 * Like the train goal it skips the work when the input checkpoint, the texts, the settings and the
 * library are unchanged ({@code -Ditera.compress.force} recompresses).
 *
 * <pre>
 * mvn itera:compress -Ditera.evaluate.text=heldout.txt -Ditera.compress.formats=q8_0,q4_0,nf4
 * mvn itera:compress -Ditera.evaluate.text=heldout.txt -Ditera.train.corpus=train.txt -Ditera.compress.pruneExperts=2
 * </pre>
 */
@Mojo(name = "compress", defaultPhase = LifecyclePhase.PACKAGE, threadSafe = true)
public class CompressMojo extends AbstractIteraMojo {
  /** The up-to-date stamp inside {@code outputDirectory}. */
  static final String STAMP_FILE = "itera-compress.sha256";

  /** Skips this goal only. */
  @Parameter(property = PropertyNames.COMPRESS_SKIP, defaultValue = "false")
  boolean skipCompress;

  /** Compress even when the inputs and settings of the last run are unchanged. */
  @Parameter(property = PropertyNames.COMPRESS_FORCE, defaultValue = "false")
  boolean force;

  /** The trained model compressed when {@code checkpoint} is not set (the train goal's {@code name}). */
  @Parameter(property = TrainMojo.NAME, defaultValue = "model")
  String name;

  /** Where the train goal puts each named model (the train goal's parameter of the same name). */
  @Parameter(property = "itera.train.checkpointsDirectory", defaultValue = "${project.build.directory}/itera/checkpoints")
  File checkpointsDirectory;

  /** Which checkpoint of a training run: {@code best} (lowest validation loss; the last when none) or {@code last}. */
  @Parameter(property = PropertyNames.COMPRESS_WHICH, defaultValue = "best")
  String which;

  /** Each variant is saved as a checkpoint root {@code outputDirectory/<variant>/} (LAST pointer and one folder). */
  @Parameter(property = PropertyNames.COMPRESS_OUTPUT_DIRECTORY,
      defaultValue = "${project.build.directory}/itera/compressed")
  File outputDirectory;

  /** The JSON report; the Markdown table goes next to it with the extension {@code .md}. */
  @Parameter(property = PropertyNames.COMPRESS_OUTPUT, defaultValue = "${project.build.directory}/itera/compression.json")
  File output;

  /**
   * Weight formats of the uniformly quantised variants, comma-separated: {@code q8_0}, {@code q4_0},
   * {@code nf4}, {@code nf4_dq}, {@code int8}, {@code int4_g32|g64|g128}, {@code f16}, {@code bf16};
   * {@code none} for no uniform variant.
   */
  @Parameter(property = PropertyNames.COMPRESS_FORMATS, defaultValue = "q8_0,q4_0")
  String formats;

  /**
   * An explicit mixed-precision plan, variant {@code plan}: rules {@code regex=format} separated by
   * {@code ;} or new lines, first match wins, over the matrix names ({@code embed.weight}, {@code
   * blocks.i.mixer.in_proj.weight}, {@code blocks.i.moe.w1.e}, ...); {@code *=format} sets the format
   * of unmatched matrices (default f32: kept uncompressed). Example: {@code
   * embed\.weight=int8; .*\.moe\..*=q4_0; *=q8_0}.
   */
  @Parameter(property = PropertyNames.COMPRESS_PRECISION_PLAN)
  String precisionPlan;

  /**
   * Size target of the automatic mixed-precision search (variant {@code mixed}), in stored bits per
   * parameter, e.g. 6.0; needs {@code corpus} for calibration.
   */
  @Parameter(property = PropertyNames.COMPRESS_TARGET_BITS)
  Double targetBits;

  /**
   * Quality budget of the automatic mixed-precision search, in percent of calibration perplexity
   * (5 = at most 5% above the all-{@code searchHigh} plan); with {@code targetBits} the search stops at
   * the size target unless this budget runs out first.
   */
  @Parameter(property = PropertyNames.COMPRESS_SEARCH_MAX_PERPLEXITY_INCREASE)
  Double searchMaxPerplexityIncrease;

  /** The search's high-precision format. */
  @Parameter(property = PropertyNames.COMPRESS_SEARCH_HIGH, defaultValue = "q8_0")
  String searchHigh;

  /** The search's low-precision format. */
  @Parameter(property = PropertyNames.COMPRESS_SEARCH_LOW, defaultValue = "q4_0")
  String searchLow;

  /** Calibration windows (from the start of {@code corpus}) for the search, pruning and distillation checks. */
  @Parameter(property = PropertyNames.COMPRESS_CALIBRATION_WINDOWS, defaultValue = "8")
  int calibrationWindows;

  /** Tokens per calibration window (clamped to the model's context). */
  @Parameter(property = PropertyNames.COMPRESS_CALIBRATION_WINDOW_LENGTH, defaultValue = "64")
  int calibrationWindowLength;

  /** Expert pruning: experts kept in every MoE layer (the least-loaded others go), variant {@code pruned-experts}. */
  @Parameter(property = PropertyNames.COMPRESS_PRUNE_EXPERTS)
  Integer pruneExperts;

  /** Channel pruning: Mamba inner channels kept in every mixer, variant {@code pruned-channels}. */
  @Parameter(property = PropertyNames.COMPRESS_PRUNE_CHANNELS)
  Integer pruneChannels;

  /** Recovery fine-tune steps on {@code corpus} after pruning (batches of 8 x 64 tokens); 0 = none. */
  @Parameter(property = PropertyNames.COMPRESS_RECOVERY_STEPS, defaultValue = "100")
  long recoverySteps;

  /**
   * Peak learning rate of the recovery fine-tune. A trained model sits in a minimum its training
   * reached at a small final rate; a fresh-training rate (1e-3 and up) throws it out again, so the
   * default is 3e-4.
   */
  @Parameter(property = PropertyNames.COMPRESS_RECOVERY_LR, defaultValue = "3e-4")
  double recoveryLr;

  /** Distillation: the student's model width; setting it adds the variant {@code distilled}. */
  @Parameter(property = PropertyNames.COMPRESS_DISTILL_D_MODEL)
  Integer distillDModel;

  /** The student's layers; default half the teacher's (at least 1). */
  @Parameter(property = PropertyNames.COMPRESS_DISTILL_LAYERS)
  Integer distillLayers;

  /** Distillation steps (batches of 8 x 32 tokens of {@code corpus}). */
  @Parameter(property = PropertyNames.COMPRESS_DISTILL_STEPS, defaultValue = "200")
  long distillSteps;

  /** Weight of the hard-target cross-entropy, in [0, 1] (the soft KL term gets 1 - alpha). */
  @Parameter(property = PropertyNames.COMPRESS_DISTILL_ALPHA, defaultValue = "0.5")
  double distillAlpha;

  /** Softening temperature of the distillation, > 0. */
  @Parameter(property = PropertyNames.COMPRESS_DISTILL_TEMPERATURE, defaultValue = "2.0")
  double distillTemperature;

  /** Cut the vocabulary to the ids {@code vocabularyCorpus} (default: {@code corpus}) uses, variant {@code trimmed-vocab}. */
  @Parameter(property = PropertyNames.COMPRESS_TRIM_VOCABULARY, defaultValue = "false")
  boolean trimVocabulary;

  /** The text whose token ids the trimmed vocabulary keeps; default the training {@code corpus}. */
  @Parameter(property = PropertyNames.COMPRESS_VOCABULARY_CORPUS)
  File vocabularyCorpus;

  /**
   * The training text (the train goal's parameter of the same name): calibration, recovery and
   * distillation data. Needed only by the search, pruning, distillation and trimming.
   */
  @Parameter(property = TrainMojo.CORPUS)
  List<File> corpus;

  /** Use only the first this many bytes of {@code corpus}, cut at a line end; 0 = all (the train goal's parameter). */
  @Parameter(property = "itera.train.maxCorpusBytes", defaultValue = "0")
  long maxCorpusBytes;

  /** Held-out UTF-8 text the report measures on (the evaluate goal's parameter). Set this or {@code wikiText}. */
  @Parameter(property = EvaluateMojo.TEXT)
  File text;

  /** A WikiText-2 directory; {@code split} chooses the file (the evaluate goal's parameter). */
  @Parameter(property = EvaluateMojo.WIKITEXT)
  File wikiText;

  /** The WikiText-2 split: {@code test} or {@code valid}. */
  @Parameter(property = "itera.evaluate.split", defaultValue = "test")
  String split;

  /** Skip this many bytes of the text (and the rest of their line) first. */
  @Parameter(property = "itera.evaluate.offsetBytes", defaultValue = "0")
  long offsetBytes;

  /** Use only this many bytes of the text (cut at a line end); 0 = all. */
  @Parameter(property = "itera.evaluate.maxBytes", defaultValue = "0")
  long maxBytes;

  /** Evaluation windows per variant (fewer when the text is shorter); compressed models decode them token by token. */
  @Parameter(property = PropertyNames.COMPRESS_WINDOWS, defaultValue = "16")
  int windows;

  /** Tokens per evaluation window (clamped to the model's context). */
  @Parameter(property = PropertyNames.COMPRESS_WINDOW_LENGTH, defaultValue = "128")
  int windowLength;

  /** Prompt tokens of the speed measurement. */
  @Parameter(property = PropertyNames.COMPRESS_PROMPT_TOKENS, defaultValue = "32")
  int promptTokens;

  /** Decode steps of the speed measurement. */
  @Parameter(property = PropertyNames.COMPRESS_DECODE_TOKENS, defaultValue = "32")
  int decodeTokens;

  /** Measured rounds of the speed measurement (the median is reported). */
  @Parameter(property = PropertyNames.COMPRESS_ROUNDS, defaultValue = "3")
  int rounds;

  /**
   * Quality gate, in percent: the build fails if a variant's perplexity on the held-out text is
   * more than this much above the F32 baseline's (5 = 5%). Unset: no gate.
   */
  @Parameter(property = PropertyNames.COMPRESS_MAX_PERPLEXITY_INCREASE)
  Double maxPerplexityIncrease;

  /** Whether a failed gate fails the build ({@code false}: it is logged as a warning). */
  @Parameter(property = PropertyNames.COMPRESS_HALT_ON_FAILURE, defaultValue = "true")
  boolean haltOnFailure;

  @Override
  String goal() {
    return "compress";
  }

  @Override
  boolean goalSkipped() {
    return skipCompress;
  }

  /** The checkpoint compressed: {@code <checkpoint>}, else the train goal's output for {@code name}. */
  Path checkpointRoot() {
    return trainedCheckpointRoot(name, checkpointsDirectory);
  }

  @Override
  void validateModels() throws ConfigurationProblem {
    requireTrainedCheckpoint("the compress goal compresses a trained Itera-Lite checkpoint", name, checkpointsDirectory);
  }

  Checkpoint.Which whichCheckpoint() throws ConfigurationProblem {
    return parseWhich(which, PropertyNames.COMPRESS_WHICH);
  }

  /**
   * Parses a comma-separated list of weight formats ({@code none} or blank: empty), rejecting
   * {@code f32} (the uncompressed baseline) and repeats.
   */
  static List<WeightFormat> parseFormats(String list, String element, String property) throws ConfigurationProblem {
    List<WeightFormat> out = new ArrayList<>();
    if (list == null || list.isBlank() || list.trim().equalsIgnoreCase("none")) {
      return out;
    }
    for (String id : list.split("[,\\s]+")) {
      if (id.isEmpty()) {
        continue;
      }
      WeightFormat f;
      try {
        f = WeightFormat.fromId(id);
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem(element, e.getMessage(),
            "list known formats, comma-separated (-D" + property + "=q8_0,q4_0), or none");
      }
      if (f == WeightFormat.F32) {
        throw new ConfigurationProblem(element, "f32 is the uncompressed baseline, not a compressed format",
            "remove f32 from <" + element + ">");
      }
      if (out.contains(f)) {
        throw new ConfigurationProblem(element, f.id() + " is listed twice", "list each format once");
      }
      out.add(f);
    }
    return out;
  }

  /**
   * Parses {@code precisionPlan}: {@code regex=format} rules separated by {@code ;} or new lines
   * (split at the last {@code =}, so a regex may contain one), {@code *=format} the fallback.
   */
  static PrecisionPlan parsePlan(String text) throws ConfigurationProblem {
    List<PrecisionPlan.Rule> rules = new ArrayList<>();
    WeightFormat fallback = null;
    String fix = "write rules as regex=format separated by ';', e.g. <precisionPlan>embed\\.weight=int8; "
        + ".*\\.moe\\..*=q4_0; *=q8_0</precisionPlan>";
    for (String entry : text.split("[;\\n]")) {
      String e = entry.strip();
      if (e.isEmpty()) {
        continue;
      }
      int eq = e.lastIndexOf('=');
      if (eq <= 0 || eq == e.length() - 1) {
        throw new ConfigurationProblem("precisionPlan", "rule '" + e + "' is not regex=format", fix);
      }
      String pattern = e.substring(0, eq).strip();
      WeightFormat f;
      try {
        f = WeightFormat.fromId(e.substring(eq + 1));
      } catch (IllegalArgumentException x) {
        throw new ConfigurationProblem("precisionPlan", "rule '" + e + "': " + x.getMessage(), fix);
      }
      if (pattern.equals("*")) {
        if (fallback != null) {
          throw new ConfigurationProblem("precisionPlan", "two fallback rules (*=format)", "keep one *=format");
        }
        fallback = f;
        continue;
      }
      try {
        rules.add(new PrecisionPlan.Rule(pattern, f));
      } catch (IllegalArgumentException x) {
        throw new ConfigurationProblem("precisionPlan", x.getMessage().replaceFirst("^PrecisionPlan: ", ""), fix);
      }
    }
    if (rules.isEmpty() && (fallback == null || fallback == WeightFormat.F32)) {
      throw new ConfigurationProblem("precisionPlan", "the plan compresses nothing", fix);
    }
    return new PrecisionPlan(rules, fallback == null ? WeightFormat.F32 : fallback);
  }

  /** Whether any technique needs the training corpus. */
  private boolean needsCorpus() {
    return targetBits != null || searchMaxPerplexityIncrease != null || pruneExperts != null || pruneChannels != null
        || distillDModel != null || (trimVocabulary && vocabularyCorpus == null);
  }

  private static void positive(String element, long v, String property, String example) throws ConfigurationProblem {
    if (v < 1) {
      throw new ConfigurationProblem(element, "must be >= 1, got " + v,
          "set e.g. <" + element + ">" + example + "</" + element + "> (-D" + property + "=" + example + ")");
    }
  }

  @Override
  void validateGoal() throws ConfigurationProblem {
    whichCheckpoint();
    textFile();
    List<WeightFormat> uniform = parseFormats(formats, "formats", PropertyNames.COMPRESS_FORMATS);
    if (precisionPlan != null && !precisionPlan.isBlank()) {
      parsePlan(precisionPlan);
    }
    if (targetBits != null && !(targetBits > 0 && targetBits < 32)) {
      throw new ConfigurationProblem("targetBits", "must be in (0, 32) bits per parameter, got " + targetBits,
          "set e.g. <targetBits>6</targetBits>, or remove it");
    }
    if (searchMaxPerplexityIncrease != null && !(searchMaxPerplexityIncrease >= 0
        && Double.isFinite(searchMaxPerplexityIncrease))) {
      throw new ConfigurationProblem("searchMaxPerplexityIncrease", "must be a percentage >= 0, got "
          + searchMaxPerplexityIncrease, "set e.g. <searchMaxPerplexityIncrease>5</searchMaxPerplexityIncrease> (5%)");
    }
    if (targetBits != null || searchMaxPerplexityIncrease != null) {
      WeightFormat high = searchFormat(searchHigh, "searchHigh");
      WeightFormat low = searchFormat(searchLow, "searchLow");
      if (low.bitsPerWeight(256) >= high.bitsPerWeight(256)) {
        throw new ConfigurationProblem("searchLow", low.id() + " does not store fewer bits than <searchHigh> " + high.id(),
            "choose a smaller low format, e.g. <searchLow>q4_0</searchLow> with <searchHigh>q8_0</searchHigh>");
      }
    }
    positive("calibrationWindows", calibrationWindows, PropertyNames.COMPRESS_CALIBRATION_WINDOWS, "8");
    if (calibrationWindowLength < 2) {
      throw new ConfigurationProblem("calibrationWindowLength", "must be >= 2, got " + calibrationWindowLength,
          "set e.g. <calibrationWindowLength>64</calibrationWindowLength>");
    }
    if (pruneExperts != null) {
      positive("pruneExperts", pruneExperts, PropertyNames.COMPRESS_PRUNE_EXPERTS, "2");
    }
    if (pruneChannels != null) {
      positive("pruneChannels", pruneChannels, PropertyNames.COMPRESS_PRUNE_CHANNELS, "128");
    }
    if (recoverySteps < 0) {
      throw new ConfigurationProblem("recoverySteps", "must be >= 0, got " + recoverySteps, "use 0 for no fine-tune");
    }
    if (!(recoveryLr > 0 && recoveryLr < 1)) {
      throw new ConfigurationProblem("recoveryLr", "must be in (0, 1), got " + recoveryLr,
          "set e.g. <recoveryLr>3e-4</recoveryLr> (-D" + PropertyNames.COMPRESS_RECOVERY_LR + "=3e-4)");
    }
    if (distillDModel != null) {
      positive("distillDModel", distillDModel, PropertyNames.COMPRESS_DISTILL_D_MODEL, "64");
      if (distillLayers != null) {
        positive("distillLayers", distillLayers, PropertyNames.COMPRESS_DISTILL_LAYERS, "2");
      }
      positive("distillSteps", distillSteps, PropertyNames.COMPRESS_DISTILL_STEPS, "200");
      if (!(distillAlpha >= 0 && distillAlpha <= 1)) {
        throw new ConfigurationProblem("distillAlpha", "must be in [0, 1], got " + distillAlpha,
            "set e.g. <distillAlpha>0.5</distillAlpha>");
      }
      if (!(distillTemperature > 0) || Double.isInfinite(distillTemperature)) {
        throw new ConfigurationProblem("distillTemperature", "must be finite and > 0, got " + distillTemperature,
            "set e.g. <distillTemperature>2</distillTemperature>");
      }
    }
    if (vocabularyCorpus != null && !vocabularyCorpus.isFile()) {
      throw new ConfigurationProblem("vocabularyCorpus", "file " + vocabularyCorpus + " does not exist",
          "set <vocabularyCorpus> (-D" + PropertyNames.COMPRESS_VOCABULARY_CORPUS + "=...) to a UTF-8 text file");
    }
    corpusFiles();
    if (maxCorpusBytes < 0) {
      throw new ConfigurationProblem("maxCorpusBytes", "must be >= 0, got " + maxCorpusBytes, "use 0 for the whole text");
    }
    if (offsetBytes < 0) {
      throw new ConfigurationProblem("offsetBytes", "must be >= 0, got " + offsetBytes, "use 0 to start at the beginning");
    }
    if (maxBytes < 0) {
      throw new ConfigurationProblem("maxBytes", "must be >= 0, got " + maxBytes, "use 0 for the whole text");
    }
    positive("windows", windows, PropertyNames.COMPRESS_WINDOWS, "16");
    if (windowLength < 2) {
      throw new ConfigurationProblem("windowLength", "must be >= 2, got " + windowLength,
          "set e.g. <windowLength>128</windowLength>");
    }
    positive("promptTokens", promptTokens, PropertyNames.COMPRESS_PROMPT_TOKENS, "32");
    positive("decodeTokens", decodeTokens, PropertyNames.COMPRESS_DECODE_TOKENS, "32");
    positive("rounds", rounds, PropertyNames.COMPRESS_ROUNDS, "3");
    if (maxPerplexityIncrease != null && !(maxPerplexityIncrease >= 0 && Double.isFinite(maxPerplexityIncrease))) {
      throw new ConfigurationProblem("maxPerplexityIncrease", "must be a percentage >= 0, got " + maxPerplexityIncrease,
          "set e.g. <maxPerplexityIncrease>5</maxPerplexityIncrease> (5% above the F32 model), or remove it");
    }
    if (outputDirectory == null) {
      throw new ConfigurationProblem("outputDirectory", "no directory", "leave it at its default or set one");
    }
    if (output == null) {
      throw new ConfigurationProblem("output", "no output file", "leave it at its default or set one");
    }
    if (variantNames(uniform).isEmpty()) {
      throw new ConfigurationProblem("formats", "no compression is configured",
          "list formats (-D" + PropertyNames.COMPRESS_FORMATS + "=q8_0,q4_0) or configure <precisionPlan>, <targetBits>,"
              + " <pruneExperts>, <pruneChannels>, <distillDModel> or <trimVocabulary>");
    }
  }

  private static WeightFormat searchFormat(String id, String element) throws ConfigurationProblem {
    try {
      return WeightFormat.fromId(id);
    } catch (IllegalArgumentException e) {
      throw new ConfigurationProblem(element, e.getMessage(), "set <" + element + "> to a known format, e.g. q8_0 or q4_0");
    }
  }

  /** The training corpus files, checked; empty when none is configured and none is needed. */
  List<Path> corpusFiles() throws ConfigurationProblem {
    boolean has = corpus != null && !corpus.isEmpty();
    if (!has) {
      if (needsCorpus()) {
        String why = targetBits != null || searchMaxPerplexityIncrease != null ? "the mixed-precision search calibrates"
            : pruneExperts != null || pruneChannels != null ? "pruning calibrates and fine-tunes"
            : distillDModel != null ? "distillation trains" : "vocabulary trimming keeps the ids it uses";
        throw new ConfigurationProblem("corpus", "no training text: " + why + " on it",
            "set <corpus><file>train.txt</file></corpus> (-D" + TrainMojo.CORPUS + "=train.txt), the text the model was "
                + "trained on");
      }
      return List.of();
    }
    List<Path> out = new ArrayList<>();
    for (int i = 0; i < corpus.size(); i++) {
      File f = corpus.get(i);
      if (f == null || !f.isFile()) {
        throw new ConfigurationProblem("corpus", "file " + f + " (entry " + (i + 1) + ") does not exist",
            "list existing UTF-8 text files in <corpus>");
      }
      out.add(f.toPath());
    }
    return out;
  }

  /** The held-out text, checked (the evaluate goal's rules). */
  Path textFile() throws ConfigurationProblem {
    if ((text != null) == (wikiText != null)) {
      throw new ConfigurationProblem("text", text != null ? "both <text> and <wikiText> are set"
          : "no held-out text to measure the variants on", "set either <text> (-D" + EvaluateMojo.TEXT
              + "=heldout.txt) or <wikiText> (-D" + EvaluateMojo.WIKITEXT + "=path/to/wikitext-2)");
    }
    if (text != null) {
      if (!text.isFile()) {
        throw new ConfigurationProblem("text", "file " + text + " does not exist",
            "set <text> (-D" + EvaluateMojo.TEXT + "=...) to a UTF-8 text file");
      }
      return text.toPath();
    }
    String s = split == null ? "" : split.trim().toLowerCase(Locale.ROOT);
    if (!s.equals("test") && !s.equals("valid")) {
      throw new ConfigurationProblem("split", "'" + split + "' is not a WikiText-2 evaluation split",
          "use <split>test</split> or <split>valid</split>");
    }
    return WikiTextFiles.split(wikiText, s, "wikiText");
  }

  /** The variant names this configuration produces, in order (also their folder names). */
  List<String> variantNames(List<WeightFormat> uniform) {
    List<String> names = new ArrayList<>();
    uniform.forEach(f -> names.add(f.id()));
    if (precisionPlan != null && !precisionPlan.isBlank()) {
      names.add("plan");
    }
    if (targetBits != null || searchMaxPerplexityIncrease != null) {
      names.add("mixed");
    }
    if (pruneExperts != null) {
      names.add("pruned-experts");
    }
    if (pruneChannels != null) {
      names.add("pruned-channels");
    }
    if (pruneExperts != null && pruneChannels != null) {
      names.add("pruned");
    }
    if (distillDModel != null) {
      names.add("distilled");
    }
    if (trimVocabulary) {
      names.add("trimmed-vocab");
    }
    return names;
  }

  /** The Markdown report next to {@code output}. */
  Path markdownFile() {
    Path json = output.toPath().toAbsolutePath();
    String n = json.getFileName().toString();
    return json.resolveSibling((n.endsWith(".json") ? n.substring(0, n.length() - 5) : n) + ".md");
  }

  /** Every setting that changes the variants or the report, for the up-to-date stamp. */
  Map<String, String> hashedSettings(Path source) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("source", source.getFileName().toString());
    s.put("formats", String.valueOf(formats));
    s.put("precisionPlan", String.valueOf(precisionPlan));
    s.put("search", targetBits + "/" + searchMaxPerplexityIncrease + "/" + searchHigh + "/" + searchLow);
    s.put("calibration", calibrationWindows + "x" + calibrationWindowLength);
    s.put("prune", pruneExperts + "/" + pruneChannels + "/" + recoverySteps + "/" + recoveryLr);
    s.put("distill", distillDModel + "/" + distillLayers + "/" + distillSteps + "/" + distillAlpha + "/" + distillTemperature);
    s.put("trim", trimVocabulary + "/" + (vocabularyCorpus != null));
    s.put("seed", Long.toString(seed));
    s.put("corpus", maxCorpusBytes + "");
    s.put("text", (wikiText != null ? "wikiText:" + split : "text") + "/" + offsetBytes + "/" + maxBytes);
    s.put("evaluation", windows + "x" + windowLength + "/" + promptTokens + "/" + decodeTokens + "/" + rounds);
    // The gate is hashed too: a run is only stamped once its gate passed, so a stricter gate re-checks.
    s.put("gate", maxPerplexityIncrease + "/" + haltOnFailure);
    s.put("output", output.toPath().toAbsolutePath().normalize().toString());
    return s;
  }

  /** The stamp of this configuration: library, settings, the source checkpoint's files and every text read. */
  String inputsHash(Path source) throws ConfigurationProblem, IOException {
    List<Path> files = new ArrayList<>();
    for (String f : List.of(Checkpoint.CONFIG_FILE, Checkpoint.MODEL_FILE, Checkpoint.TOKENIZER_FILE)) {
      if (Files.isRegularFile(source.resolve(f))) {
        files.add(source.resolve(f));
      }
    }
    files.add(textFile());
    files.addAll(corpusFiles());
    if (vocabularyCorpus != null) {
      files.add(vocabularyCorpus.toPath());
    }
    return TrainStamp.compute(TrainStamp.libraryIdentity(IteraLite.version(), IteraLite.class), hashedSettings(source),
        files);
  }

  /** The source checkpoint folder: a checkpoint folder itself, or the {@code which} checkpoint of a run. */
  Path sourceCheckpoint() throws ConfigurationProblem, IOException {
    Path root = checkpointRoot();
    Checkpoint.Which w = whichCheckpoint();
    if (w == Checkpoint.Which.BEST && !Files.isRegularFile(root.resolve(Checkpoint.CONFIG_FILE))
        && Checkpoint.find(root, Checkpoint.Which.BEST).isEmpty()) {
      w = Checkpoint.Which.LAST;
    }
    return Checkpoint.resolve(root, w);
  }

  /** One compressed model, held open until the report has measured it. */
  private record Variant(String name, String technique, CausalLm model, Tokenizer tokenizer, IntUnaryOperator tokenMap) {}

  @Override
  void run(Backend backend, ModelSpec ignored) throws MojoExecutionException, MojoFailureException, ConfigurationProblem {
    List<WeightFormat> uniform = parseFormats(formats, "formats", PropertyNames.COMPRESS_FORMATS);
    List<String> names = variantNames(uniform);
    Path outDir = outputDirectory.toPath().toAbsolutePath().normalize();
    Path source;
    String hash;
    try {
      source = sourceCheckpoint();
      hash = inputsHash(source);
      if (!force && hash.equals(TrainStamp.read(outDir, STAMP_FILE)) && upToDate(outDir, names)) {
        getLog().info("Compressed variants of " + source + " are up to date (inputs " + hash.substring(0, 12)
            + "), skipping; -D" + PropertyNames.COMPRESS_FORCE + "=true recompresses. Variants: " + outDir);
        return;
      }
      prepareOutput(outDir);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot prepare " + outDir + ": " + e.getMessage(), e);
    }

    Path file = textFile();
    byte[] heldOut;
    long words;
    byte[] train = null;
    try {
      heldOut = TextInput.read(file, offsetBytes, maxBytes);
      String s = new String(heldOut, StandardCharsets.UTF_8);
      words = wikiText != null ? WikiText.parse(file.getFileName().toString(), s).wordCount() : EvaluateMojo.plainWords(s);
      List<Path> corpusFiles = corpusFiles();
      if (!corpusFiles.isEmpty()) {
        train = readCorpus(corpusFiles);
      }
    } catch (IOException e) {
      throw new MojoExecutionException("cannot read the texts: " + e.getMessage(), e);
    }

    List<AutoCloseable> open = new ArrayList<>();
    Checkpoint.Loaded loaded;
    try {
      loaded = Checkpoint.load(source, backend);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot load " + source + ": " + e.getMessage(), e);
    }
    open.add(loaded);
    List<String> failures;
    try {
      Tokenizer tok = loaded.tokenizer();
      if (tok == null) {
        throw new ConfigurationProblem("checkpoint", "the checkpoint " + source + " has no tokenizer",
            "save the checkpoint with its tokenizer");
      }
      CausalLm model = loaded.model();
      int[] evalIds = tok.encode(heldOut);
      int window = Math.min(windowLength, model.maxSequenceLength());
      if (evalIds.length < 2) {
        throw new ConfigurationProblem(text != null ? "text" : "maxBytes", file + " gives " + evalIds.length
            + " tokens, too few to evaluate", "use a longer text");
      }
      int[] trainIds = train == null ? null : tok.encode(train);
      String baseline = checkpoint != null ? checkpointRoot().getFileName().toString() : name;
      getLog().info(String.format(Locale.ROOT, "Compressing %s (%s, %,d parameters) into %s -> %s", source,
          model.architecture(), model.parameters().parameterCount(), String.join(", ", names), outDir));

      List<Variant> variants = buildVariants(backend, model, tok, uniform, train, trainIds, open);

      // A short text gets fewer (or one shorter) windows rather than an error.
      int count = (int) Math.min(windows, (evalIds.length - 1L) / window);
      if (count < 1) {
        count = 1;
        window = evalIds.length - 1;
      }
      CompressionReport.Builder report = CompressionReport.builder().evaluationTokens(evalIds).words(words)
          .textBytes(heldOut.length).windows(count, window).decode(promptTokens, decodeTokens, rounds)
          // The report counts a checkpoint's deployable files only (not the optimiser state).
          .progress(getLog()::info).baseline(baseline, model, source);
      for (Variant v : variants) {
        Path saved;
        try {
          saved = Checkpoint.save(outDir.resolve(v.name()), v.model(), v.tokenizer());
        } catch (IOException e) {
          throw new MojoExecutionException("cannot save variant " + v.name() + ": " + e.getMessage(), e);
        }
        if (v.tokenMap() == null) {
          report.variant(v.name(), v.technique(), v.model(), saved);
        } else {
          report.variant(v.name(), v.technique(), v.model(), saved, v.tokenMap());
        }
      }
      CompressionReport built;
      try {
        built = report.build();
      } catch (IllegalArgumentException e) {
        String m = String.valueOf(e.getMessage());
        String element = m.contains("tokenMap") ? (vocabularyCorpus != null ? "vocabularyCorpus" : "trimVocabulary")
            : m.contains("decode(") ? "promptTokens" : "windowLength";
        throw new ConfigurationProblem(element, m.replaceFirst("^CompressionReport: ", ""),
            element.equals("promptTokens") ? "lower <promptTokens> or <decodeTokens> so their sum fits the context"
                : element.equals("windowLength") ? "lower <windowLength> or <windows>"
                : "trim against a corpus that covers the held-out text, or remove <trimVocabulary>");
      }
      CompressionReport.Result result = built.run();
      try {
        Path json = output.toPath().toAbsolutePath();
        Files.createDirectories(json.getParent());
        result.writeJson(json);
        result.writeMarkdown(markdownFile());
      } catch (IOException e) {
        throw new MojoExecutionException("cannot write " + output + ": " + e.getMessage(), e);
      }
      logTable(result);
      getLog().info("Compression report: " + output + " and " + markdownFile().getFileName() + "; variants: " + outDir);
      failures = gateFailures(result, baseline, file.getFileName().toString());
    } finally {
      Collections.reverse(open);
      for (AutoCloseable c : open) {
        try {
          c.close();
        } catch (Exception e) {
          getLog().warn("closing a model failed: " + e);
        }
      }
    }
    boolean fail = !failures.isEmpty() && haltOnFailure;
    if (!fail) {
      try {
        TrainStamp.write(outDir, STAMP_FILE, hash);
      } catch (IOException e) {
        throw new MojoExecutionException("cannot write the stamp in " + outDir + ": " + e.getMessage(), e);
      }
    }
    if (!failures.isEmpty()) {
      if (fail) {
        throw new MojoFailureException(String.join("; ", failures));
      }
      failures.forEach(f -> getLog().warn(f + " (not failing: haltOnFailure is false)"));
    }
  }

  /**
   * Builds every configured variant from {@code model}; each is added to {@code open} (closed by
   * the caller, after the report) as soon as it exists.
   */
  private List<Variant> buildVariants(Backend backend, CausalLm model, Tokenizer tok, List<WeightFormat> uniform,
      byte[] train, int[] trainIds, List<AutoCloseable> open) throws ConfigurationProblem, MojoExecutionException {
    List<Variant> variants = new ArrayList<>();
    for (WeightFormat f : uniform) {
      QuantizedModel q = QuantizedModel.quantize(compressible(model, "formats"), f);
      open.add(q);
      variants.add(new Variant(f.id(), "quantize " + f.id(), q, tok, null));
    }
    if (precisionPlan != null && !precisionPlan.isBlank()) {
      PrecisionPlan plan = parsePlan(precisionPlan);
      QuantizedModel q = QuantizedModel.quantize(compressible(model, "precisionPlan"), plan);
      open.add(q);
      variants.add(new Variant("plan", "quantize " + plan.describe(), q, tok, null));
    }
    if (targetBits != null || searchMaxPerplexityIncrease != null) {
      QuantizedModel q = search(iteraLite(model, targetBits != null ? "targetBits" : "searchMaxPerplexityIncrease"),
          trainIds);
      open.add(q);
      variants.add(new Variant("mixed", "mixed precision " + q.plan().describe(), q, tok, null));
    }
    if (pruneExperts != null) {
      IteraLiteModel m = iteraLite(model, "pruneExperts");
      int remove = m.config().experts() - pruneExperts;
      ExpertPruner.Pruned p;
      try {
        p = ExpertPruner.prune(m, remove, calibration(trainIds, tok, m), calibration(trainIds, tok, m),
            calibrationWindow(m), recovery(m), TokenSequence.of(trainIds, tok.vocabSize()));
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem("pruneExperts", e.getMessage().replace("remove must be", "the experts removed must"),
            "keep between 1 and " + (m.config().experts() - 1) + " of the model's " + m.config().experts() + " experts");
      }
      open.add(p);
      ExpertPruner.Report r = p.report();
      getLog().info(String.format(Locale.ROOT, "pruned experts %d -> %d: calibration loss %.4f -> %.4f%s", r.expertsBefore(),
          r.expertsAfter(), r.lossBefore(), r.lossAfterPrune(), recovered(r.lossAfterRecovery(), r.recoverySteps())));
      variants.add(new Variant("pruned-experts", "prune experts " + r.expertsBefore() + "->" + r.expertsAfter(), p.model(),
          tok, null));
    }
    if (pruneChannels != null) {
      IteraLiteModel m = iteraLite(model, "pruneChannels");
      ChannelPruner.Pruned p;
      try {
        p = ChannelPruner.prune(m, pruneChannels, calibration(trainIds, tok, m), calibration(trainIds, tok, m),
            calibrationWindow(m), recovery(m), TokenSequence.of(trainIds, tok.vocabSize()));
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem("pruneChannels", e.getMessage(),
            "keep fewer inner channels than the model's " + m.config().dInner());
      }
      open.add(p);
      ChannelPruner.Report r = p.report();
      getLog().info(String.format(Locale.ROOT, "pruned channels %d -> %d: calibration loss %.4f -> %.4f%s",
          r.innerBefore(), r.innerAfter(), r.lossBefore(), r.lossAfterPrune(),
          recovered(r.lossAfterRecovery(), r.recoverySteps())));
      variants.add(new Variant("pruned-channels", "prune channels " + r.innerBefore() + "->" + r.innerAfter(), p.model(),
          tok, null));
    }
    if (pruneExperts != null && pruneChannels != null) {
      // Both cuts on one model: the experts go first (no fine-tune in between), the channel scores
      // are then measured on the model that will actually be shipped, and one recovery follows.
      IteraLiteModel m = iteraLite(model, "pruneExperts");
      ExpertPruner.Pruned e = ExpertPruner.prune(m, m.config().experts() - pruneExperts, calibration(trainIds, tok, m),
          calibration(trainIds, tok, m), calibrationWindow(m), null, null);
      open.add(e);
      IteraLiteModel em = e.model();
      ChannelPruner.Pruned p = ChannelPruner.prune(em, pruneChannels, calibration(trainIds, tok, em),
          calibration(trainIds, tok, em), calibrationWindow(em), recovery(em), TokenSequence.of(trainIds, tok.vocabSize()));
      open.add(p);
      ChannelPruner.Report r = p.report();
      getLog().info(String.format(Locale.ROOT, "pruned experts %d -> %d and channels %d -> %d: calibration loss %.4f -> "
          + "%.4f%s", e.report().expertsBefore(), e.report().expertsAfter(), r.innerBefore(), r.innerAfter(),
          e.report().lossBefore(), r.lossAfterPrune(), recovered(r.lossAfterRecovery(), r.recoverySteps())));
      variants.add(new Variant("pruned", "prune experts " + e.report().expertsBefore() + "->" + e.report().expertsAfter()
          + ", channels " + r.innerBefore() + "->" + r.innerAfter(), p.model(), tok, null));
    }
    if (distillDModel != null) {
      IteraLiteModel student = new IteraLiteModel(backend, studentConfig(model), DType.F32, seed);
      open.add(student);
      Distiller.Config d = Distiller.Config.defaults(distillSteps);
      Distiller.Config cfg = new Distiller.Config(distillAlpha, distillTemperature, distillSteps, d.batchSize(),
          Math.min(d.seqLen(), model.maxSequenceLength()), d.peakLr(), d.warmupSteps(), d.weightDecay(), d.clipNorm(), seed);
      Distiller.Report r;
      try {
        r = Distiller.distill(model, student, TokenSequence.of(trainIds, tok.vocabSize()), calibration(trainIds, tok, student),
            cfg);
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem("distillDModel", e.getMessage(), "adjust the student or use more <corpus> text");
      }
      getLog().info(String.format(Locale.ROOT, "distilled %,d -> %,d parameters in %d steps: calibration loss teacher "
          + "%.4f, student %.4f -> %.4f, KL %.4f -> %.4f", r.teacherParameters(), r.studentParameters(), r.steps(),
          r.teacherLoss(), r.studentLossBefore(), r.studentLossAfter(), r.klBefore(), r.klAfter()));
      variants.add(new Variant("distilled", "distill d" + student.config().dModel() + " x" + student.config().nLayers(),
          student, tok, null));
    }
    if (trimVocabulary) {
      byte[] keepText;
      try {
        keepText = vocabularyCorpus != null ? TextInput.read(vocabularyCorpus.toPath(), 0, 0) : train;
      } catch (IOException e) {
        throw new MojoExecutionException("cannot read " + vocabularyCorpus + ": " + e.getMessage(), e);
      }
      VocabularyTrimmer.Trimmed t;
      try {
        t = VocabularyTrimmer.trim(model, tok, keepText, calibrationWindow(model));
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem(vocabularyCorpus != null ? "vocabularyCorpus" : "corpus", e.getMessage(),
            "trim against a text the model's tokenizer covers");
      }
      open.add(t);
      VocabularyTrimmer.Report r = t.report();
      getLog().info(String.format(Locale.ROOT, "trimmed vocabulary %,d -> %,d ids (%,d -> %,d parameters)",
          r.vocabBefore(), r.vocabAfter(), r.parametersBefore(), r.parametersAfter()));
      variants.add(new Variant("trimmed-vocab", "trim vocabulary " + r.vocabBefore() + "->" + r.vocabAfter(), t.model(),
          t.tokenizer(), t.tokenizer()::fromBaseId));
    }
    return variants;
  }

  private static String recovered(double loss, long steps) {
    return steps == 0 ? " (no recovery fine-tune)" : String.format(Locale.ROOT, " -> %.4f after %d recovery steps", loss, steps);
  }

  /** The gate's messages, naming the element, the variant and the measured change; empty when all pass. */
  List<String> gateFailures(CompressionReport.Result result, String baseline, String textName) {
    List<String> failures = new ArrayList<>();
    if (maxPerplexityIncrease == null) {
      return failures;
    }
    double base = Double.NaN;
    for (CompressionReport.Row r : result.rows()) {
      if (r.name().equals(baseline)) {
        base = r.perplexity();
      }
    }
    for (CompressionReport.Row r : result.rows()) {
      if (r.name().equals(baseline)) {
        continue;
      }
      String f = gateFailure(r.name(), base, r.perplexity(), textName);
      if (f != null) {
        failures.add(f);
      }
    }
    return failures;
  }

  /** One variant's gate message, or null when it passes (a NaN perplexity fails). */
  String gateFailure(String variant, double baselinePerplexity, double perplexity, String textName) {
    double increase = 100 * (perplexity / baselinePerplexity - 1);
    if (maxPerplexityIncrease == null || increase <= maxPerplexityIncrease) {
      return null;
    }
    return String.format(Locale.ROOT, "<maxPerplexityIncrease> gate failed: variant '%s' has perplexity %.3f on %s, "
        + "%+.2f%% against the F32 model's %.3f, above the allowed %s%%; compress less aggressively or raise "
        + "<maxPerplexityIncrease> (-D%s=...)", variant, perplexity, textName, increase, baselinePerplexity,
        maxPerplexityIncrease, PropertyNames.COMPRESS_MAX_PERPLEXITY_INCREASE);
  }

  private void logTable(CompressionReport.Result result) {
    getLog().info(String.format(Locale.ROOT, "%-16s %-28s %12s %12s %6s %6s %10s %8s %9s %10s %10s", "variant", "technique",
        "parameters", "bytes", "bpw", "ratio", "perplexity", "change", "bits/byte", "prefill/s", "decode/s"));
    for (CompressionReport.Row r : result.rows()) {
      getLog().info(String.format(Locale.ROOT, "%-16s %-28s %,12d %,12d %6.2f %6.2f %10.3f %+7.2f%% %9.4f %10.1f %10.1f",
          r.name(), r.technique(), r.parameters(), r.bytesOnDisk(), r.bitsPerWeight(), r.sizeRatio(), r.perplexity(),
          100 * r.perplexityChange(), r.bitsPerByte(), r.prefillTokensPerSec(), r.decodeTokensPerSec()));
    }
  }

  private static CompressibleModel compressible(CausalLm model, String element) throws ConfigurationProblem {
    if (model instanceof CompressibleModel c) {
      return c;
    }
    throw new ConfigurationProblem(element, "the checkpoint holds a " + (model instanceof QuantizedModel
        ? "model that is already compressed" : "'" + model.architecture() + "' model, which cannot be quantised"),
        "remove <" + element + ">, or compress the F32 checkpoint it came from");
  }

  private static IteraLiteModel iteraLite(CausalLm model, String element) throws ConfigurationProblem {
    if (model instanceof IteraLiteModel m) {
      return m;
    }
    throw new ConfigurationProblem(element, "this technique needs an F32 Itera-Lite model, but the checkpoint holds "
        + (model instanceof QuantizedModel ? "a compressed model" : "a '" + model.architecture() + "' model"),
        "remove <" + element + ">, or compress an Itera-Lite checkpoint");
  }

  private int calibrationWindow(CausalLm m) {
    return Math.min(calibrationWindowLength, m.maxSequenceLength());
  }

  /** The first {@code calibrationWindows} windows of the corpus (fewer when it is shorter). */
  private TokenSequence calibration(int[] trainIds, Tokenizer tok, CausalLm m) throws ConfigurationProblem {
    int len = calibrationWindow(m);
    long want = (long) calibrationWindows * len + 1;
    if (trainIds.length < len + 1) {
      throw new ConfigurationProblem("corpus", "the corpus gives " + trainIds.length + " tokens, fewer than one calibration "
          + "window of " + len, "use more text or a shorter <calibrationWindowLength>");
    }
    return TokenSequence.of(java.util.Arrays.copyOf(trainIds, (int) Math.min(want, trainIds.length)), tok.vocabSize());
  }

  private QuantizedModel search(IteraLiteModel m, int[] trainIds) throws ConfigurationProblem {
    WeightFormat high = searchFormat(searchHigh, "searchHigh");
    WeightFormat low = searchFormat(searchLow, "searchLow");
    int len = calibrationWindow(m);
    int batch = (int) Math.min(calibrationWindows, (trainIds.length - 1L) / len);
    if (batch < 1) {
      throw new ConfigurationProblem("corpus", "the corpus gives " + trainIds.length + " tokens, fewer than one calibration "
          + "window of " + len, "use more text or a shorter <calibrationWindowLength>");
    }
    int[] in = new int[batch * len];
    int[] tg = new int[batch * len];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(trainIds, b * len, in, b * len, len);
      System.arraycopy(trainIds, b * len + 1, tg, b * len, len);
    }
    long maxBytes = targetBits == null ? 0 : (long) Math.ceil(targetBits * m.parameters().parameterCount() / 8);
    double nats = searchMaxPerplexityIncrease == null ? Double.POSITIVE_INFINITY
        : Math.log1p(searchMaxPerplexityIncrease / 100);
    MixedPrecisionSearch.Result r = MixedPrecisionSearch.search(m, high, low, new MixedPrecisionSearch.Target(maxBytes, nats),
        in, tg, batch);
    getLog().info(String.format(Locale.ROOT, "mixed precision: %d of %d matrices in %s, %,d bytes (all-%s %,d), "
        + "calibration loss %.4f -> %.4f, target %s", r.lowered().size(), r.sensitivities().size(), low.id(), r.bytes(),
        high.id(), r.highBytes(), r.baseLoss(), r.loss(), r.targetMet() ? "met" : "NOT met (closest plan kept)"));
    return QuantizedModel.quantize(m, r.plan());
  }

  private TrainingConfig recovery(CausalLm m) {
    if (recoverySteps == 0) {
      return null;
    }
    return TrainingConfig.builder().seed(seed).batchSize(8).seqLen(Math.min(64, m.maxSequenceLength())).peakLr(recoveryLr)
        .warmupSteps(Math.min(recoverySteps - 1, recoverySteps / 10)).totalSteps(recoverySteps).lrFloorFraction(0.1)
        .weightDecay(0.1).clipNorm(1.0).build();
  }

  /** The student: the teacher's Itera-Lite layout at width {@code distillDModel} and {@code distillLayers} layers. */
  IteraLiteConfig studentConfig(CausalLm teacher) throws ConfigurationProblem {
    int d = distillDModel;
    try {
      if (teacher.config() instanceof IteraLiteConfig c) {
        int layers = distillLayers != null ? distillLayers : Math.max(1, c.nLayers() / 2);
        return IteraLiteConfig.builder(teacher.vocabSize(), d, layers).dState(c.dState()).dConv(c.dConv())
            .expand(c.expand()).moeEvery(c.moeEvery() <= layers ? c.moeEvery() : 0).experts(c.experts()).topK(c.topK())
            .ffnHidden(Math.max(1, c.ffnHidden() * d / c.dModel())).build();
      }
      int layers = distillLayers != null ? distillLayers : 2;
      return IteraLiteConfig.builder(teacher.vocabSize(), d, layers).moeEvery(layers >= 2 ? 2 : 0).ffnHidden(2 * d).build();
    } catch (IllegalArgumentException e) {
      throw new ConfigurationProblem("distillDModel", e.getMessage(), "choose another student width or layer count");
    }
  }

  private byte[] readCorpus(List<Path> files) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (Path f : files) {
      long left = maxCorpusBytes - all.size();
      if (maxCorpusBytes > 0 && left <= 1) {
        break;
      }
      if (all.size() > 0) {
        all.write('\n');
        left--;
      }
      all.write(TextInput.read(f, 0, maxCorpusBytes > 0 ? left : 0));
    }
    return all.toByteArray();
  }

  /** Whether the report and every variant of an earlier, stamped run are still there. */
  private boolean upToDate(Path outDir, List<String> names) throws IOException {
    if (!Files.isRegularFile(output.toPath()) || !Files.isRegularFile(markdownFile())) {
      return false;
    }
    for (String n : names) {
      if (Checkpoint.find(outDir.resolve(n), Checkpoint.Which.LAST).isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Empties the output directory of an earlier run (so variants no longer configured do not linger);
   * refuses to touch a folder that holds anything but the stamp and checkpoint roots.
   */
  void prepareOutput(Path out) throws IOException, ConfigurationProblem {
    if (Files.isDirectory(out)) {
      List<Path> entries;
      try (Stream<Path> s = Files.list(out)) {
        entries = s.toList();
      }
      for (Path p : entries) {
        boolean ours = p.getFileName().toString().equals(STAMP_FILE) || p.getFileName().toString().startsWith("." + STAMP_FILE)
            || (Files.isDirectory(p) && Files.exists(p.resolve(Checkpoint.LAST_POINTER)));
        if (!ours) {
          throw new ConfigurationProblem("outputDirectory", out + " holds " + p.getFileName() + ", which is not an "
              + "itera:compress output", "choose another <outputDirectory>, or remove that folder");
        }
      }
      TrainStamp.delete(out, STAMP_FILE);
      try (Stream<Path> walk = Files.walk(out)) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          if (!p.equals(out)) {
            Files.delete(p);
          }
        }
      }
    }
    Files.createDirectories(out);
  }
}
