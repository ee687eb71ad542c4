package dev.iteralite.maven;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backend;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.data.TrainValSplit;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.BpeTrainer;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import dev.iteralite.tokenizer.WordTokenizer;
import dev.iteralite.train.TrainingConfig;
import dev.iteralite.train.TrainingDivergedException;
import dev.iteralite.train.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Trains a model on a text corpus and writes its checkpoints (with the tokenizer), its metrics CSV
 * and the resolved training configuration to {@code checkpointsDirectory/<name>}. Progress (step,
 * loss, tokens/s, ETA) is logged every {@code logEvery} steps. An up-to-date check skips training
 * when the data, the settings and the library version are those of the finished run already there
 * ({@code -Ditera.train.force} retrains).
 *
 * <pre>
 * mvn itera:train -Ditera.train.corpus=src/main/itera/corpus.txt -Ditera.train.steps=300
 * mvn itera:train -Ditera.train.wikiText=data/wikitext-2 -Ditera.train.tokenizer=bpe -Ditera.preset=small
 * </pre>
 */
@Mojo(name = "train", defaultPhase = LifecyclePhase.PROCESS_CLASSES, threadSafe = true)
public class TrainMojo extends AbstractIteraMojo {
  static final String SKIP = "itera.train.skip";
  static final String NAME = "itera.train.name";
  static final String CORPUS = "itera.train.corpus";
  static final String WIKITEXT = "itera.train.wikiText";
  static final String FORCE = "itera.train.force";

  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** Skips this goal only. */
  @Parameter(property = SKIP, defaultValue = "false")
  boolean skipTrain;

  /** Name of the trained model: its outputs go to {@code checkpointsDirectory/<name>}. */
  @Parameter(property = NAME, defaultValue = "model")
  String name;

  /** Where each named model's training output directory is created. */
  @Parameter(property = "itera.train.checkpointsDirectory", defaultValue = "${project.build.directory}/itera/checkpoints")
  File checkpointsDirectory;

  /**
   * UTF-8 text files trained on (gzip-compressed when the name ends in {@code .gz}), joined in order
   * by newlines; the last {@code validationFraction} of the tokens is held out for validation. Set
   * this or {@code wikiText}.
   */
  @Parameter(property = CORPUS)
  List<File> corpus;

  /**
   * A WikiText-2 directory ({@code train.txt} + {@code valid.txt}, or {@code wiki.train.tokens} +
   * {@code wiki.valid.tokens}): trains on the train split, validates on the valid split.
   */
  @Parameter(property = WIKITEXT)
  File wikiText;

  /**
   * Use only the first this many bytes of the training text (of {@code corpus} joined, or of
   * WikiText's train split), cut at a line end; 0 = all.
   */
  @Parameter(property = "itera.train.maxCorpusBytes", defaultValue = "0")
  long maxCorpusBytes;

  /** Fraction of a {@code corpus}'s tokens held out for validation, in (0, 1). */
  @Parameter(property = "itera.train.validationFraction", defaultValue = "0.1")
  double validationFraction;

  /**
   * {@code byte} (256 ids, nothing to learn), {@code bpe} (byte-level BPE learned from the training
   * text with {@code bpeMerges} merges) or {@code word} (WikiText-style words, at most {@code
   * wordVocabSize}).
   */
  @Parameter(property = "itera.train.tokenizer", defaultValue = "byte")
  String tokenizer;

  /** BPE merges learned (vocabulary = 256 + merges). */
  @Parameter(property = "itera.train.bpeMerges", defaultValue = "256")
  int bpeMerges;

  /** Largest word vocabulary ({@code <unk>} and {@code <eos>} included). */
  @Parameter(property = "itera.train.wordVocabSize", defaultValue = "16384")
  int wordVocabSize;

  /** {@code itera-lite} (Mamba + mixture of experts) or {@code transformer} (the baseline). */
  @Parameter(property = "itera.train.architecture", defaultValue = "itera-lite")
  String architecture;

  /**
   * The architecture's hyperparameters as JSON (the record fields of {@code IteraLiteConfig} or
   * {@code TransformerConfig}; {@code vocabSize} must cover the tokenizer). Instead of {@code preset}.
   */
  @Parameter(property = "itera.train.modelConfig")
  File modelConfig;

  /** A {@code TrainingConfig} JSON file; when set, the inline training parameters must be left out. */
  @Parameter(property = "itera.train.trainingConfig")
  File trainingConfig;

  /** Sequences per batch (default 8). */
  @Parameter(property = "itera.train.batchSize")
  Integer batchSize;

  /** Tokens per sequence (default 64). */
  @Parameter(property = "itera.train.seqLen")
  Integer seqLen;

  /** Optimiser steps (default 200). */
  @Parameter(property = "itera.train.steps")
  Long steps;

  /** Peak learning rate after warm-up (default 3e-3). */
  @Parameter(property = "itera.train.peakLr")
  Double peakLr;

  /** Linear warm-up steps (default: a tenth of the steps, at most 50). */
  @Parameter(property = "itera.train.warmupSteps")
  Long warmupSteps;

  /** Evaluate on the validation data every this many steps (default: ten evaluations per run). */
  @Parameter(property = "itera.train.evalEvery")
  Long evalEvery;

  /** Validation batches per evaluation (default 4). */
  @Parameter(property = "itera.train.evalBatches")
  Integer evalBatches;

  /** Early-stopping patience in evaluations; 0 = off (default). */
  @Parameter(property = "itera.train.patience")
  Integer patience;

  /** Wall-clock budget in minutes; 0 = none (default). */
  @Parameter(property = "itera.train.maxMinutes")
  Double maxMinutes;

  /** Log one progress line every this many steps. */
  @Parameter(property = "itera.train.logEvery", defaultValue = "10")
  long logEvery;

  /** Train even when the last run's inputs are unchanged. */
  @Parameter(property = FORCE, defaultValue = "false")
  boolean force;

  @Override
  String goal() {
    return "train";
  }

  @Override
  boolean goalSkipped() {
    return skipTrain;
  }

  /** Train builds a new model: only {@code preset} (or {@code modelConfig}) applies. */
  @Override
  void validateModels() throws ConfigurationProblem {
    if (llama2cCheckpoint != null || llama2cTokenizer != null || checkpoint != null) {
      String e = checkpoint != null ? "checkpoint" : llama2cCheckpoint != null ? "llama2cCheckpoint" : "llama2cTokenizer";
      throw new ConfigurationProblem(e, "the train goal builds a new model and does not load one",
          "remove <" + e + "> from the train goal's configuration (use <preset> or <modelConfig>)");
    }
    if (modelConfig != null && preset != null && !preset.isBlank()) {
      throw new ConfigurationProblem("modelConfig", "both <modelConfig> and <preset> are set",
          "keep one: <preset>tiny|small</preset> or a <modelConfig> JSON file");
    }
    if (modelConfig != null && !modelConfig.isFile()) {
      throw new ConfigurationProblem("modelConfig", "file " + modelConfig + " does not exist",
          "point <modelConfig> (-Ditera.train.modelConfig=...) at an IteraLiteConfig/TransformerConfig JSON file");
    }
    presetName();
    architectureName();
  }

  String presetName() throws ConfigurationProblem {
    String p = preset == null || preset.isBlank() ? "tiny" : preset.trim().toLowerCase(Locale.ROOT);
    if (!p.equals("tiny") && !p.equals("small")) {
      throw new ConfigurationProblem("preset", "'" + preset + "' is not a preset",
          "use <preset>tiny</preset> or <preset>small</preset> (-D" + PropertyNames.PRESET + "=tiny)");
    }
    return p;
  }

  String architectureName() throws ConfigurationProblem {
    String a = architecture == null ? "" : architecture.trim().toLowerCase(Locale.ROOT);
    if (!a.equals("itera-lite") && !a.equals("transformer")) {
      throw new ConfigurationProblem("architecture", "'" + architecture + "' is not an architecture",
          "use itera-lite or transformer (-Ditera.train.architecture=itera-lite)");
    }
    return a;
  }

  String tokenizerName() throws ConfigurationProblem {
    String t = tokenizer == null ? "" : tokenizer.trim().toLowerCase(Locale.ROOT);
    if (!List.of("byte", "bpe", "word").contains(t)) {
      throw new ConfigurationProblem("tokenizer", "'" + tokenizer + "' is not a tokenizer",
          "use byte, bpe or word (-Ditera.train.tokenizer=byte)");
    }
    return t;
  }

  @Override
  void validateGoal() throws ConfigurationProblem {
    if (name == null || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
      throw new ConfigurationProblem("name", "'" + name + "' is not a usable model name",
          "use letters, digits, '.', '_' and '-' (-D" + NAME + "=tiny-wiki)");
    }
    if (checkpointsDirectory == null) {
      throw new ConfigurationProblem("checkpointsDirectory", "no directory", "leave it at its default or set one");
    }
    dataFiles();
    if (corpus != null && !corpus.isEmpty() && !(validationFraction > 0 && validationFraction < 1)) {
      throw new ConfigurationProblem("validationFraction", "must be in (0, 1), got " + validationFraction,
          "set e.g. <validationFraction>0.1</validationFraction>");
    }
    switch (tokenizerName()) {
      case "bpe" -> {
        if (bpeMerges < 1) {
          throw new ConfigurationProblem("bpeMerges", "must be >= 1, got " + bpeMerges, "set e.g. <bpeMerges>256</bpeMerges>");
        }
      }
      case "word" -> {
        if (wordVocabSize < 2) {
          throw new ConfigurationProblem("wordVocabSize", "must be >= 2, got " + wordVocabSize,
              "set e.g. <wordVocabSize>16384</wordVocabSize>");
        }
      }
      default -> { }
    }
    if (maxCorpusBytes < 0) {
      throw new ConfigurationProblem("maxCorpusBytes", "must be >= 0, got " + maxCorpusBytes, "use 0 for the whole text");
    }
    if (logEvery < 1) {
      throw new ConfigurationProblem("logEvery", "must be >= 1, got " + logEvery, "set e.g. <logEvery>10</logEvery>");
    }
    resolveTrainingConfig();
  }

  /** The training (first) and validation (second, wikiText only) files, checked. */
  List<Path> dataFiles() throws ConfigurationProblem {
    boolean hasCorpus = corpus != null && !corpus.isEmpty();
    if (hasCorpus == (wikiText != null)) {
      throw new ConfigurationProblem("corpus", hasCorpus ? "both <corpus> and <wikiText> are set" : "no training data",
          "set either <corpus><file>text.txt</file></corpus> (-D" + CORPUS + "=text.txt) or <wikiText> (-D" + WIKITEXT
              + "=path/to/wikitext-2)");
    }
    if (wikiText != null) {
      return List.of(WikiTextFiles.split(wikiText, "train", "wikiText"), WikiTextFiles.split(wikiText, "valid", "wikiText"));
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

  /**
   * The training configuration from {@code trainingConfig} or the inline parameters, with this
   * goal's checkpoint folder and metrics file.
   */
  TrainingConfig resolveTrainingConfig() throws ConfigurationProblem {
    Path out = outputDirectory();
    TrainingConfig base;
    if (trainingConfig != null) {
      Map<String, Object> inline = inlineSettings();
      if (!inline.isEmpty()) {
        String first = inline.keySet().iterator().next();
        throw new ConfigurationProblem(first, "is set together with <trainingConfig>",
            "put " + first + " into the JSON file, or remove <trainingConfig> and configure inline");
      }
      if (!trainingConfig.isFile()) {
        throw new ConfigurationProblem("trainingConfig", "file " + trainingConfig + " does not exist",
            "point <trainingConfig> (-Ditera.train.trainingConfig=...) at a TrainingConfig JSON file, or remove it");
      }
      try {
        base = TrainingConfig.load(trainingConfig.toPath());
      } catch (IOException | RuntimeException e) {
        throw new ConfigurationProblem("trainingConfig", "cannot use " + trainingConfig + ": " + e.getMessage(),
            "fix the JSON (field names as in TrainingConfig)");
      }
    } else {
      long s = steps == null ? 200 : steps;
      try {
        base = TrainingConfig.builder().seed(seed).batchSize(batchSize == null ? 8 : batchSize)
            .seqLen(seqLen == null ? 64 : seqLen).peakLr(peakLr == null ? 3e-3 : peakLr)
            .warmupSteps(warmupSteps == null ? Math.min(50, s / 10) : warmupSteps).totalSteps(s)
            .evalEvery(evalEvery == null ? Math.max(1, s / 10) : evalEvery).evalBatches(evalBatches == null ? 4 : evalBatches)
            .earlyStopping(patience == null ? 0 : patience, 0.0).maxMinutes(maxMinutes == null ? 0 : maxMinutes).build();
      } catch (IllegalArgumentException e) {
        String element = elementOf(e.getMessage());
        throw new ConfigurationProblem(element, e.getMessage().replaceFirst("^TrainingConfig: ", ""),
            "set <" + element + "> (-Ditera.train." + element + "=...) to an allowed value");
      }
    }
    return base.toBuilder().checkpointDir(out).metricsCsv(out.resolve("metrics.csv")).build();
  }

  /** The inline element a TrainingConfig message is about (its field names, with totalSteps → steps). */
  static String elementOf(String message) {
    for (String f : List.of("batchSize", "seqLen", "peakLr", "warmupSteps", "totalSteps", "evalEvery", "evalBatches",
        "patience", "maxMinutes")) {
      if (message.contains(f)) {
        return f.equals("totalSteps") ? "steps" : f;
      }
    }
    return "steps";
  }

  private Map<String, Object> inlineSettings() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("batchSize", batchSize);
    m.put("seqLen", seqLen);
    m.put("steps", steps);
    m.put("peakLr", peakLr);
    m.put("warmupSteps", warmupSteps);
    m.put("evalEvery", evalEvery);
    m.put("evalBatches", evalBatches);
    m.put("patience", patience);
    m.put("maxMinutes", maxMinutes);
    m.values().removeIf(java.util.Objects::isNull);
    return m;
  }

  Path outputDirectory() {
    return checkpointsDirectory.toPath().resolve(name).toAbsolutePath().normalize();
  }

  /** Everything besides the data bytes and the library version that changes the trained weights. */
  Map<String, String> hashedSettings(TrainingConfig cfg) throws ConfigurationProblem, IOException {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("data", wikiText != null ? "wikiText" : "corpus");
    s.put("architecture", architectureName());
    s.put("model", modelConfig != null ? "json:" + TrainStamp.fileHash(modelConfig.toPath()) : "preset:" + presetName());
    s.put("seed", Long.toString(seed));
    s.put("maxCorpusBytes", Long.toString(maxCorpusBytes));
    String tok = tokenizerName();
    s.put("tokenizer", tok + (tok.equals("bpe") ? ":" + bpeMerges : tok.equals("word") ? ":" + wordVocabSize : ""));
    if (wikiText == null) {
      s.put("validationFraction", Double.toString(validationFraction));
    }
    // The output paths do not change the weights; a moved project is still up to date.
    s.put("training", cfg.toBuilder().checkpointDir(null).metricsCsv(null).build().toJson());
    return s;
  }

  /** The stamp of this configuration's inputs. */
  String inputsHash(TrainingConfig cfg) throws ConfigurationProblem, IOException {
    return TrainStamp.compute(TrainStamp.libraryIdentity(IteraLite.version(), IteraLite.class), hashedSettings(cfg),
        dataFiles());
  }

  @Override
  void run(Backend backend, ModelSpec ignored) throws MojoExecutionException, MojoFailureException, ConfigurationProblem {
    TrainingConfig cfg = resolveTrainingConfig();
    Path out = outputDirectory();
    String hash;
    try {
      hash = inputsHash(cfg);
      if (!force && hash.equals(TrainStamp.read(out)) && Checkpoint.find(out, Checkpoint.Which.LAST).isPresent()) {
        getLog().info("Model '" + name + "' is up to date (inputs " + hash.substring(0, 12) + "), skipping training; "
            + "-D" + FORCE + "=true retrains. Checkpoints: " + out);
        return;
      }
      prepareOutput(out);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot prepare " + out + ": " + e.getMessage(), e);
    }

    long t0 = System.nanoTime();
    List<Path> files = dataFiles();
    byte[] trainText;
    byte[] validText = null;
    try {
      if (wikiText != null) {
        trainText = TextInput.read(files.get(0), 0, maxCorpusBytes);
        validText = TextInput.read(files.get(1), 0, 0);
      } else {
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
        trainText = all.toByteArray();
      }
    } catch (IOException e) {
      throw new MojoExecutionException("cannot read the training data: " + e.getMessage(), e);
    }
    Tokenizer tok = buildTokenizer(trainText);
    TokenSequence train;
    TokenSequence valid;
    try {
      if (validText != null) {
        train = TokenSequence.of(tok.encode(trainText), tok.vocabSize());
        valid = TokenSequence.of(tok.encode(validText), tok.vocabSize());
      } else {
        TrainValSplit split = TrainValSplit.byFraction(TokenSequence.of(tok.encode(trainText), tok.vocabSize()),
            validationFraction);
        train = split.train();
        valid = split.validation();
      }
    } catch (IllegalArgumentException e) {
      throw new ConfigurationProblem(wikiText != null ? "wikiText" : "corpus", e.getMessage(), "use more text");
    }
    getLog().info(String.format(Locale.ROOT, "Data: %,d training and %,d validation tokens, tokenizer %s (%,d ids), "
        + "prepared in %.1f s", train.size(), valid.size(), tok.name(), tok.vocabSize(), (System.nanoTime() - t0) / 1e9));

    try (CausalLm model = buildModel(backend, tok.vocabSize())) {
      getLog().info(String.format(Locale.ROOT, "Training %s '%s': %,d parameters, %d steps of %,d tokens -> %s",
          architectureName(), name, model.parameters().parameterCount(), cfg.steps(), cfg.tokensPerStep(), out));
      cfg.save(out.resolve("training-config.json"));
      TrainingResult r;
      try {
        r = IteraLite.train(model, tok, cfg, train, valid, new TrainProgress(getLog()::info, logEvery));
      } catch (TrainingDivergedException e) {
        throw new MojoFailureException("training of '" + name + "' diverged: " + e.getMessage(), e);
      } catch (IllegalArgumentException e) {
        throw new ConfigurationProblem("seqLen", e.getMessage(), "adjust the training parameters or the data");
      }
      getLog().info(String.format(Locale.ROOT, "Trained '%s': %d steps (%s) in %s, final train loss %.4f, best val loss "
          + "%.4f (ppl %.2f) at step %d", name, r.stepsCompleted(), r.stopReason(), TrainProgress.duration(r.elapsedSeconds()),
          r.finalTrainLoss(), r.bestValLoss(), Math.exp(r.bestValLoss()), r.bestStep()));
      TrainStamp.write(out, hash);
      getLog().info("Checkpoints: " + out + " (metrics: " + cfg.metricsCsv().getFileName() + ")");
    } catch (IOException e) {
      throw new MojoExecutionException("cannot write the training output to " + out + ": " + e.getMessage(), e);
    }
  }

  private Tokenizer buildTokenizer(byte[] trainText) throws ConfigurationProblem {
    try {
      return switch (tokenizerName()) {
        case "bpe" -> BpeTrainer.train(trainText, bpeMerges);
        case "word" -> WordTokenizer.train(trainText, 1, wordVocabSize);
        default -> ByteTokenizer.instance();
      };
    } catch (IllegalArgumentException e) {
      throw new ConfigurationProblem("tokenizer", e.getMessage(), "choose another tokenizer or size");
    }
  }

  CausalLm buildModel(Backend backend, int vocab) throws ConfigurationProblem {
    boolean transformer = architectureName().equals("transformer");
    try {
      if (modelConfig != null) {
        int configured;
        if (transformer) {
          TransformerConfig c = JSON.readValue(modelConfig, TransformerConfig.class);
          configured = c.vocabSize();
          checkVocab(configured, vocab);
          return new TransformerModel(backend, c, DType.F32, seed);
        }
        IteraLiteConfig c = JSON.readValue(modelConfig, IteraLiteConfig.class);
        checkVocab(c.vocabSize(), vocab);
        return new IteraLiteModel(backend, c, DType.F32, seed);
      }
      boolean small = presetName().equals("small");
      return transformer
          ? new TransformerModel(backend, small ? TransformerConfig.small(vocab) : TransformerConfig.tiny(vocab), DType.F32, seed)
          : new IteraLiteModel(backend, small ? IteraLiteConfig.small(vocab) : IteraLiteConfig.tiny(vocab), DType.F32, seed);
    } catch (IOException | IllegalArgumentException e) {
      throw new ConfigurationProblem(modelConfig != null ? "modelConfig" : "preset", e.getMessage(),
          modelConfig != null ? "fix the JSON (the record fields of " + (transformer ? "TransformerConfig" : "IteraLiteConfig")
              + ")" : "use another preset");
    }
  }

  private void checkVocab(int configured, int needed) throws ConfigurationProblem {
    if (configured < needed) {
      throw new ConfigurationProblem("modelConfig", "vocabSize " + configured + " is below the tokenizer's " + needed + " ids",
          "set \"vocabSize\": " + needed + " (or more) in " + modelConfig.getName());
    }
  }

  /** Empties the output directory of an earlier run; refuses to touch a folder that is not one. */
  void prepareOutput(Path out) throws IOException, ConfigurationProblem {
    if (Files.isDirectory(out)) {
      boolean ours;
      try (Stream<Path> s = Files.list(out)) {
        List<Path> entries = s.toList();
        ours = entries.isEmpty() || Files.exists(out.resolve(TrainStamp.FILE))
            || Files.exists(out.resolve(Checkpoint.LAST_POINTER)) || Files.exists(out.resolve("training-config.json"));
      }
      if (!ours) {
        throw new ConfigurationProblem("name", out + " exists and is not an itera training output",
            "choose another <name> or <checkpointsDirectory>, or remove that folder");
      }
      TrainStamp.delete(out);
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
