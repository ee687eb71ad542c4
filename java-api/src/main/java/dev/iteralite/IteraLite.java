package dev.iteralite;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.eval.LanguageModel;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.GenerationResult;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.CausalLm;
import dev.iteralite.tokenizer.Tokenizer;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import dev.iteralite.train.TrainingListener;
import dev.iteralite.train.TrainingResult;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Properties;

/**
 * The application entry point of the library: load a checkpoint and generate or evaluate with it,
 * or train a model, in one call each.
 *
 * <pre>{@code
 * try (IteraLite.LoadedModel m = IteraLite.load(Path.of("runs/wiki/"))) {       // a root (its LAST) or a checkpoint folder
 *   System.out.println(m.generate("The meaning of", GenerationConfig.greedy(40)).text());
 *   System.out.println(m.evaluate("Some held-out text.").bitsPerByte());
 * }
 * TrainingResult r = IteraLite.train(model, tokenizer, config, trainTokens, validationTokens, listener);
 * }</pre>
 */
public final class IteraLite {
  private static final String DEVELOPMENT_VERSION = "development";

  private IteraLite() {}

  /**
   * The library version, from the jar's Maven metadata ({@code development} when running from
   * compiled classes).
   */
  public static String version() {
    try (InputStream in = IteraLite.class.getResourceAsStream("/META-INF/maven/dev.iteralite/itera-lite/pom.properties")) {
      if (in != null) {
        Properties p = new Properties();
        p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
        return p.getProperty("version", DEVELOPMENT_VERSION);
      }
    } catch (IOException e) {
      // fall through: an unreadable resource means no packaged version
    }
    return DEVELOPMENT_VERSION;
  }

  /** Loads a checkpoint (a root's last one, or a checkpoint folder) on the default backend ({@link Backends#select()}). */
  public static LoadedModel load(Path checkpoint) throws IOException {
    return load(checkpoint, Backends.select());
  }

  /**
   * Loads a checkpoint on {@code backend}.
   *
   * @throws IOException if there is no valid checkpoint there
   */
  public static LoadedModel load(Path checkpoint, Backend backend) throws IOException {
    Checkpoint.Loaded loaded = Checkpoint.load(checkpoint, backend);
    return new LoadedModel(loaded);
  }

  /**
   * Trains {@code model} (from its current weights) with {@code config}, saving checkpoints with
   * {@code tokenizer} where the configuration names a folder.
   *
   * @param validation validation tokens, or null
   * @param listener progress events, or null
   */
  public static TrainingResult train(CausalLm model, Tokenizer tokenizer, TrainingConfig config, TokenSequence train,
      TokenSequence validation, TrainingListener listener) {
    try (Trainer t = new Trainer(model, config, train, validation)) {
      t.tokenizer(tokenizer);
      if (listener != null) {
        t.listener(listener);
      }
      return t.run();
    }
  }

  /**
   * Continues an interrupted run of {@code model} from the last checkpoint in {@code config}'s
   * checkpoint folder, bit for bit as if it had not been interrupted.
   *
   * @throws IOException if there is no training checkpoint there
   */
  public static TrainingResult resume(CausalLm model, Tokenizer tokenizer, TrainingConfig config, TokenSequence train,
      TokenSequence validation, TrainingListener listener) throws IOException {
    if (config.checkpointDir() == null) {
      throw new IllegalArgumentException("resume: the configuration names no checkpointDir to resume from");
    }
    try (Trainer t = new Trainer(model, config, train, validation)) {
      t.tokenizer(tokenizer);
      if (listener != null) {
        t.listener(listener);
      }
      t.resumeFrom(config.checkpointDir());
      return t.run();
    }
  }

  /** A model loaded from a checkpoint with its tokenizer; close it to free the model. */
  public static final class LoadedModel implements AutoCloseable {
    private final Checkpoint.Loaded loaded;

    private LoadedModel(Checkpoint.Loaded loaded) {
      this.loaded = loaded;
    }

    /** The model (owned by this object). */
    public CausalLm model() {
      return loaded.model();
    }

    /** The tokenizer saved with the checkpoint, or null if it had none. */
    public Tokenizer tokenizer() {
      return loaded.tokenizer();
    }

    /** The checkpoint folder it was read from. */
    public Path directory() {
      return loaded.directory();
    }

    /** The training step the checkpoint was saved at. */
    public long step() {
      return loaded.step();
    }

    /**
     * Generates a continuation of {@code prompt}.
     *
     * @throws IllegalStateException if the checkpoint has no tokenizer
     */
    public GenerationResult generate(String prompt, GenerationConfig config) {
      return new Generator(model(), requireTokenizer()).generate(prompt, config);
    }

    /** Loss, perplexity and bits per token of {@code tokens} over contiguous windows of {@code windowLength}. */
    public EvalResult evaluate(TokenSequence tokens, int windowLength) {
      Objects.requireNonNull(tokens, "tokens");
      return new Evaluator(windowLength, 8).evaluate(LanguageModel.of(model()), tokens);
    }

    /** Loss, perplexity and bits per byte of {@code text} (encoded with the checkpoint's tokenizer), windows of 256 tokens. */
    public EvalResult evaluate(String text) {
      Objects.requireNonNull(text, "text");
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      int[] ids = requireTokenizer().encode(bytes);
      TokenSequence seq = TokenSequence.of(ids, requireTokenizer().vocabSize());
      int window = Math.min(256, model().maxSequenceLength());
      return new Evaluator(window, 8).evaluate(LanguageModel.of(model()), seq, bytes.length, -1);
    }

    private Tokenizer requireTokenizer() {
      if (loaded.tokenizer() == null) {
        throw new IllegalStateException("the checkpoint " + loaded.directory() + " has no tokenizer.bin; it can only take token ids");
      }
      return loaded.tokenizer();
    }

    @Override
    public void close() {
      loaded.close();
    }
  }
}
