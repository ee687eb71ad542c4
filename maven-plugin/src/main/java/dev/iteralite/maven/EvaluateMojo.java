package dev.iteralite.maven;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.iteralite.backend.Backend;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.data.WikiText;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.eval.LanguageModel;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Locale;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Evaluates a trained checkpoint on held-out text: loss (nats/token), perplexity, bits per byte and
 * word-level perplexity, written to {@code evaluation.json}, with the quality gate {@code
 * maxPerplexity}. Without {@code <checkpoint>} it evaluates the train goal's output for {@code
 * name}, so {@code mvn itera:train itera:evaluate} needs no paths.
 *
 * <pre>
 * mvn itera:evaluate -Ditera.evaluate.text=src/test/itera/heldout.txt -Ditera.evaluate.maxPerplexity=20
 * mvn itera:evaluate -Ditera.evaluate.wikiText=data/wikitext-2 -Ditera.evaluate.split=test
 * </pre>
 */
@Mojo(name = "evaluate", defaultPhase = LifecyclePhase.TEST, threadSafe = true)
public class EvaluateMojo extends AbstractIteraMojo {
  static final String SKIP = "itera.evaluate.skip";
  static final String TEXT = "itera.evaluate.text";
  static final String WIKITEXT = "itera.evaluate.wikiText";
  static final String MAX_PERPLEXITY = "itera.evaluate.maxPerplexity";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Skips this goal only. */
  @Parameter(property = SKIP, defaultValue = "false")
  boolean skipEvaluate;

  /** The trained model evaluated when {@code checkpoint} is not set (the train goal's {@code name}). */
  @Parameter(property = TrainMojo.NAME, defaultValue = "model")
  String name;

  /** Where the train goal puts each named model (the train goal's parameter of the same name). */
  @Parameter(property = "itera.train.checkpointsDirectory", defaultValue = "${project.build.directory}/itera/checkpoints")
  File checkpointsDirectory;

  /** Which checkpoint of a training run: {@code best} (lowest validation loss; the last when none) or {@code last}. */
  @Parameter(property = "itera.evaluate.which", defaultValue = "best")
  String which;

  /** A UTF-8 text file to evaluate on (gzip-compressed when the name ends in {@code .gz}). Set this or {@code wikiText}. */
  @Parameter(property = TEXT)
  File text;

  /** A WikiText-2 directory; {@code split} chooses the file. Word perplexity then counts one {@code <eos>} per line. */
  @Parameter(property = WIKITEXT)
  File wikiText;

  /** The WikiText-2 split: {@code test} or {@code valid}. */
  @Parameter(property = "itera.evaluate.split", defaultValue = "test")
  String split;

  /**
   * Skip this many bytes of the text (and the rest of the line they end in) first, e.g. the part a
   * model was trained on ({@code maxCorpusBytes} of the train goal).
   */
  @Parameter(property = "itera.evaluate.offsetBytes", defaultValue = "0")
  long offsetBytes;

  /** Evaluate only this many bytes of the text (after {@code offsetBytes}, cut at a line end); 0 = all. */
  @Parameter(property = "itera.evaluate.maxBytes", defaultValue = "0")
  long maxBytes;

  /** Tokens per evaluation window (clamped to the model's context). */
  @Parameter(property = "itera.evaluate.windowLength", defaultValue = "256")
  int windowLength;

  /** Windows per forward pass. */
  @Parameter(property = "itera.evaluate.batchSize", defaultValue = "8")
  int batchSize;

  /** Quality gate: the build fails if the token-level perplexity is above this. Unset: no gate. */
  @Parameter(property = MAX_PERPLEXITY)
  Double maxPerplexity;

  /** Whether a failed gate fails the build ({@code false}: it is logged as a warning). */
  @Parameter(property = "itera.evaluate.haltOnFailure", defaultValue = "true")
  boolean haltOnFailure;

  /** Where the results go. */
  @Parameter(property = "itera.evaluate.output", defaultValue = "${project.build.directory}/itera/evaluation.json")
  File output;

  @Override
  String goal() {
    return "evaluate";
  }

  @Override
  boolean goalSkipped() {
    return skipEvaluate;
  }

  /** The checkpoint evaluated: {@code <checkpoint>}, else the train goal's output for {@code name}. */
  Path checkpointRoot() {
    return trainedCheckpointRoot(name, checkpointsDirectory);
  }

  @Override
  void validateModels() throws ConfigurationProblem {
    requireTrainedCheckpoint("the evaluate goal evaluates a trained Itera-Lite checkpoint", name, checkpointsDirectory);
  }

  Checkpoint.Which whichCheckpoint() throws ConfigurationProblem {
    return parseWhich(which, "itera.evaluate.which");
  }

  @Override
  void validateGoal() throws ConfigurationProblem {
    whichCheckpoint();
    textFile();
    if (offsetBytes < 0) {
      throw new ConfigurationProblem("offsetBytes", "must be >= 0, got " + offsetBytes, "use 0 to start at the beginning");
    }
    if (maxBytes < 0) {
      throw new ConfigurationProblem("maxBytes", "must be >= 0, got " + maxBytes, "use 0 for the whole text");
    }
    if (windowLength < 2) {
      throw new ConfigurationProblem("windowLength", "must be >= 2, got " + windowLength, "set e.g. <windowLength>256</windowLength>");
    }
    if (batchSize < 1) {
      throw new ConfigurationProblem("batchSize", "must be >= 1, got " + batchSize, "set e.g. <batchSize>8</batchSize>");
    }
    if (maxPerplexity != null && !(maxPerplexity >= 1 && Double.isFinite(maxPerplexity))) {
      throw new ConfigurationProblem("maxPerplexity", "must be a number >= 1, got " + maxPerplexity,
          "set e.g. <maxPerplexity>20</maxPerplexity>, or remove it to disable the gate");
    }
    if (output == null) {
      throw new ConfigurationProblem("output", "no output file", "set <output> or leave it at its default");
    }
  }

  /** The text evaluated, checked. */
  Path textFile() throws ConfigurationProblem {
    if ((text != null) == (wikiText != null)) {
      throw new ConfigurationProblem("text", text != null ? "both <text> and <wikiText> are set" : "no evaluation text",
          "set either <text> (-D" + TEXT + "=heldout.txt) or <wikiText> (-D" + WIKITEXT + "=path/to/wikitext-2)");
    }
    if (text != null) {
      if (!text.isFile()) {
        throw new ConfigurationProblem("text", "file " + text + " does not exist",
            "set <text> (-D" + TEXT + "=...) to a UTF-8 text file");
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

  /** Whitespace-separated words of a plain text (WikiText counts its own way, with {@code <eos>}). */
  static long plainWords(String s) {
    String t = s.strip();
    return t.isEmpty() ? 0 : t.split("\\s+").length;
  }

  @Override
  void run(Backend backend, ModelSpec ignored) throws MojoExecutionException, MojoFailureException, ConfigurationProblem {
    Path file = textFile();
    Path root = checkpointRoot();
    EvalResult r;
    Checkpoint.Loaded loaded;
    byte[] bytes;
    long words;
    try {
      bytes = TextInput.read(file, offsetBytes, maxBytes);
      String s = new String(bytes, StandardCharsets.UTF_8);
      words = wikiText != null ? WikiText.parse(file.getFileName().toString(), s).wordCount() : plainWords(s);
      Checkpoint.Which w = whichCheckpoint();
      if (w == Checkpoint.Which.BEST && Checkpoint.find(root, Checkpoint.Which.BEST).isEmpty()) {
        w = Checkpoint.Which.LAST;
      }
      loaded = Files.isRegularFile(root.resolve(Checkpoint.CONFIG_FILE)) ? Checkpoint.load(root, backend)
          : Checkpoint.load(root, w, backend);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot load " + root + " or " + file + ": " + e.getMessage(), e);
    }
    long t0 = System.nanoTime();
    int window;
    try (loaded) {
      if (loaded.tokenizer() == null) {
        throw new ConfigurationProblem("checkpoint", "the checkpoint " + loaded.directory() + " has no tokenizer",
            "save the checkpoint with its tokenizer");
      }
      int[] ids = loaded.tokenizer().encode(bytes);
      window = (int) Math.min(windowLength, Math.min(loaded.model().maxSequenceLength(), ids.length - 1L));
      if (ids.length < 2 || window < 1) {
        throw new ConfigurationProblem(text != null ? "text" : "maxBytes", file + " gives " + ids.length
            + " tokens, too few to evaluate", "use a longer text");
      }
      r = new Evaluator(window, batchSize).evaluate(LanguageModel.of(loaded.model()),
          TokenSequence.of(ids, loaded.tokenizer().vocabSize()), bytes.length, words > 0 ? words : -1);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    getLog().info(String.format(Locale.ROOT, "Evaluated %s (step %d) on %s: %,d tokens, loss %.4f, perplexity %.3f, "
        + "%.4f bits/byte%s in %.1f s", loaded.directory().getFileName(), loaded.step(), file.getFileName(), r.tokens(),
        r.loss(), r.perplexity(), r.bitsPerByte(), r.hasWords() ? String.format(Locale.ROOT, ", word perplexity %.2f",
            r.wordPerplexity()) : "", seconds));

    boolean passed = maxPerplexity == null || r.perplexity() <= maxPerplexity;
    try {
      writeJson(loaded, file, r, window, passed);
    } catch (IOException e) {
      throw new MojoExecutionException("cannot write " + output + ": " + e.getMessage(), e);
    }
    getLog().info("Evaluation: " + output);
    if (!passed) {
      String msg = String.format(Locale.ROOT, "<maxPerplexity> %s exceeded: measured perplexity %.3f on %s "
          + "(checkpoint %s); train longer or raise <maxPerplexity> (-D%s=...)", maxPerplexity, r.perplexity(),
          file.getFileName(), loaded.directory(), MAX_PERPLEXITY);
      if (haltOnFailure) {
        throw new MojoFailureException(msg);
      }
      getLog().warn(msg);
    }
  }

  private void writeJson(Checkpoint.Loaded loaded, Path file, EvalResult r, int window, boolean passed) throws IOException {
    ObjectNode o = JSON.createObjectNode();
    o.put("createdAt", Instant.now().toString());
    o.put("checkpoint", loaded.directory().toString());
    o.put("step", loaded.step());
    o.put("libraryVersion", loaded.libraryVersion());
    o.put("tokenizer", loaded.tokenizer().name());
    o.put("text", file.toString());
    o.put("windowLength", window);
    o.put("tokens", r.tokens());
    o.put("bytes", r.sourceBytes());
    o.put("words", r.words());
    o.put("loss", r.loss());
    o.put("perplexity", r.perplexity());
    o.put("bitsPerToken", r.bitsPerToken());
    if (r.hasBytes()) {
      o.put("bitsPerByte", r.bitsPerByte());
    } else {
      o.putNull("bitsPerByte");
    }
    if (r.hasWords()) {
      o.put("wordPerplexity", r.wordPerplexity());
    } else {
      o.putNull("wordPerplexity");
    }
    if (maxPerplexity != null) {
      o.put("maxPerplexity", maxPerplexity);
    } else {
      o.putNull("maxPerplexity");
    }
    o.put("passed", passed);
    Path out = output.toPath().toAbsolutePath();
    Files.createDirectories(out.getParent());
    Path tmp = Files.createTempFile(out.getParent(), "." + out.getFileName(), ".tmp");
    Files.writeString(tmp, JSON.writeValueAsString(o) + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

}
