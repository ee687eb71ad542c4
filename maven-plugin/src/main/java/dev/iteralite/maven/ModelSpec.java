package dev.iteralite.maven;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.bench.BenchmarkTarget;
import dev.iteralite.bench.FlopCounter;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.Llama2cCheckpoint;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.model.Transformer;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.tokenizer.Llama2cTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which model a goal runs, as configured: exactly one of an Itera-Lite preset (random weights from
 * a seed, byte tokenizer), a llama2.c checkpoint with its tokenizer, or an Itera-Lite checkpoint
 * directory.
 */
record ModelSpec(String preset, long seed, File llama2cCheckpoint, File llama2cTokenizer, File checkpoint) {

  /** Checks the combination and that the files exist; the message names the element and the fix. */
  void validate() throws ConfigurationProblem {
    List<String> given = new ArrayList<>();
    if (preset != null && !preset.isBlank()) {
      given.add("preset");
    }
    if (llama2cCheckpoint != null) {
      given.add("llama2cCheckpoint");
    }
    if (checkpoint != null) {
      given.add("checkpoint");
    }
    if (given.isEmpty()) {
      throw new ConfigurationProblem("preset", "no model is configured",
          "set one of <preset>tiny</preset> (-D" + PropertyNames.PRESET + "=tiny), <llama2cCheckpoint> with "
              + "<llama2cTokenizer>, or <checkpoint>");
    }
    if (given.size() > 1) {
      throw new ConfigurationProblem(given.get(1), "more than one model is configured (" + String.join(", ", given)
          + ")", "keep exactly one of <preset>, <llama2cCheckpoint> or <checkpoint>");
    }
    switch (given.get(0)) {
      case "preset" -> presetConfig();
      case "llama2cCheckpoint" -> {
        requireFile("llama2cCheckpoint", llama2cCheckpoint, PropertyNames.LLAMA2C_CHECKPOINT);
        if (llama2cTokenizer == null) {
          throw new ConfigurationProblem("llama2cTokenizer", "a llama2.c checkpoint needs its tokenizer",
              "set <llama2cTokenizer> (-D" + PropertyNames.LLAMA2C_TOKENIZER + "=...) to the tokenizer .bin it was "
                  + "trained with, e.g. tok512.bin for stories260K");
        }
        requireFile("llama2cTokenizer", llama2cTokenizer, PropertyNames.LLAMA2C_TOKENIZER);
      }
      default -> {
        if (!checkpoint.isDirectory()) {
          throw new ConfigurationProblem("checkpoint", checkpoint + " is not a directory",
              "point <checkpoint> (-D" + PropertyNames.CHECKPOINT + "=...) at a training run's root (its LAST "
                  + "checkpoint is used) or at one checkpoint folder");
        }
      }
    }
    if (llama2cTokenizer != null && llama2cCheckpoint == null) {
      throw new ConfigurationProblem("llama2cTokenizer", "a llama2.c tokenizer is set without a checkpoint",
          "add <llama2cCheckpoint> or remove <llama2cTokenizer>");
    }
  }

  /** The label used in reports when none is given. */
  String defaultName() {
    if (llama2cCheckpoint != null) {
      return llama2cCheckpoint.getName().replaceFirst("\\.bin$", "");
    }
    if (checkpoint != null) {
      return checkpoint.getName();
    }
    return "itera-lite-" + preset.trim().toLowerCase(Locale.ROOT);
  }

  IteraLiteConfig presetConfig() throws ConfigurationProblem {
    int vocab = ByteTokenizer.instance().vocabSize();
    return switch (preset.trim().toLowerCase(Locale.ROOT)) {
      case "tiny" -> IteraLiteConfig.tiny(vocab);
      case "small" -> IteraLiteConfig.small(vocab);
      default -> throw new ConfigurationProblem("preset", "'" + preset + "' is not a preset",
          "use <preset>tiny</preset> or <preset>small</preset> (-D" + PropertyNames.PRESET + "=tiny)");
    };
  }

  private static void requireFile(String element, File f, String property) throws ConfigurationProblem {
    if (!f.isFile()) {
      throw new ConfigurationProblem(element, "file " + f + " does not exist",
          "set <" + element + "> (-D" + property + "=...) to an existing file");
    }
  }

  /** Loads the model on {@code backend}; call {@link #validate()} first. */
  LoadedModel open(Backend backend, String name) throws IOException, ConfigurationProblem {
    if (llama2cCheckpoint != null) {
      if (!(backend instanceof CpuBackend cpu)) {
        throw new ConfigurationProblem("llama2cCheckpoint", "llama2.c checkpoints run on the native cpu backend only,"
            + " but the backend is '" + backend.name() + "'", "remove -Ditera.backend=" + backend.name());
      }
      Llama2cTokenizer tok = Llama2cTokenizer.fromLlama2c(llama2cTokenizer.toPath());
      Llama2cCheckpoint ckpt = Llama2cCheckpoint.load(llama2cCheckpoint.toPath());
      try {
        Transformer model = new Transformer(cpu, ckpt.config(), ckpt.weights());
        return new LoadedModel(BenchmarkTarget.of(name, model), new Generator(model, tok), tok, null, ckpt);
      } catch (RuntimeException e) {
        ckpt.close();
        throw e;
      }
    }
    if (checkpoint != null) {
      // A compressed checkpoint (itera:compress output) loads as a QuantizedModel.
      Checkpoint.Loaded loaded = Checkpoint.load(checkpoint.toPath(), backend);
      Tokenizer tok = loaded.tokenizer();
      return new LoadedModel(target(name, loaded.model()),
          tok == null ? null : new Generator(loaded.model(), tok), tok, loaded.model(), loaded);
    }
    CausalLm model = new IteraLiteModel(backend, presetConfig(), DType.F32, seed);
    Tokenizer tok = ByteTokenizer.instance();
    return new LoadedModel(BenchmarkTarget.of(name, model), new Generator(model, tok), tok, model, model);
  }

  /**
   * The benchmark target of {@code model}; a {@link QuantizedModel} counts its compressed bytes and
   * is scored through its compressed weights (BenchmarkTarget.of would count and score the F32 source).
   */
  static BenchmarkTarget target(String name, CausalLm model) {
    if (model instanceof QuantizedModel q) {
      Record config = q.config();
      return new BenchmarkTarget(name, q.architecture(), q.parameters().parameterCount(), q.weightBytes(), q.vocabSize(),
          q.maxSequenceLength(), ctx -> FlopCounter.perToken(config, ctx).orElse(-1), q::newSession, q.languageModel());
    }
    return BenchmarkTarget.of(name, model);
  }

  /**
   * A loaded model: what the benchmark and generation need, the Itera-Lite model itself (null for a
   * llama2.c checkpoint) and what to close.
   */
  record LoadedModel(BenchmarkTarget target, Generator generator, Tokenizer tokenizer, CausalLm model,
      AutoCloseable owner) implements AutoCloseable {
    @Override
    public void close() {
      try {
        owner.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing the model failed", e);
      }
    }
  }
}
