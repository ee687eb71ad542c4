package dev.iteralite.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backend;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.CompressibleModel;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import dev.iteralite.tokenizer.Tokenizer;
import dev.iteralite.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Saves and loads model checkpoints: weights, configuration, tokenizer and (for training) the
 * optimiser and trainer state, written so that a crash at any moment leaves the previous checkpoint
 * intact.
 *
 * <h2>Layout of a checkpoint root</h2>
 *
 * <pre>
 * root/
 *   LAST                    one line: the folder name of the newest complete checkpoint
 *   BEST                    one line: the folder of the checkpoint with the lowest validation loss
 *   step-00000040/          one complete checkpoint (immutable once published)
 *     model.safetensors     parameters by name (safetensors, the parameters' type: F32, or F64)
 *     config.json           {"format_version": 1, "architecture": "itera-lite", "config": {record fields},
 *                            "library_version", "parameter_dtype", "parameter_count", "step", "tokenizer"}
 *     tokenizer.bin         the tokenizer (Tokenizers format), when one was given
 *     trainer-state.json    {@link TrainingState} (training checkpoints only)
 *     optimizer.safetensors the optimiser's flat moment tensors (training checkpoints only)
 *   step-00000030/          kept while BEST points at it
 * </pre>
 *
 * <h2>Atomic publication</h2>
 *
 * {@link #save} writes every file into a new hidden sibling {@code .tmp-step-N-<random>}, forcing
 * each file and then the folder to disk; renames the folder to {@code step-N} (a single atomic
 * rename) and forces the root; then replaces {@code LAST} (and {@code BEST}) atomically (temporary
 * file, fsync, rename, fsync of the root); only then deletes the folders no pointer names any more
 * and stale temporaries. A crash before a pointer is replaced leaves the pointer naming the previous
 * complete folder, which is only deleted after the pointers moved on; a crash afterwards leaves the
 * new one. Loading a root follows {@code LAST} (or {@code BEST}); a path that itself holds {@code
 * config.json} is loaded directly.
 *
 * <p>Loading validates the configuration and every tensor's presence, shape and type against the
 * model the configuration declares, with errors naming the problem.
 */
public final class Checkpoint {
  /** Version of the layout and of {@code config.json} / {@code trainer-state.json}. */
  public static final int FORMAT_VERSION = 1;
  public static final String MODEL_FILE = "model.safetensors";
  public static final String CONFIG_FILE = "config.json";
  public static final String TOKENIZER_FILE = "tokenizer.bin";
  public static final String STATE_FILE = "trainer-state.json";
  public static final String OPTIMIZER_FILE = "optimizer.safetensors";
  public static final String LAST_POINTER = "LAST";
  public static final String BEST_POINTER = "BEST";

  private static final Pattern STEP_DIR = Pattern.compile("step-\\d{8,}(-\\d+)?");
  private static final String TEMP_PREFIX = ".tmp-";

  static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  /** Test hook: called at named points of {@link #save} so tests can simulate a crash there. */
  interface FaultHook {
    void at(String point) throws IOException;
  }

  static volatile FaultHook faultHook = point -> {};

  private Checkpoint() {}

  /** Which checkpoint of a root to use. */
  public enum Which {
    LAST,
    BEST
  }

  /**
   * A loaded checkpoint: the model (owned: close this to free it), its tokenizer (null if none was
   * saved) and where it came from.
   *
   * @param model the model, weights loaded
   * @param tokenizer the tokenizer, or null if the checkpoint has none
   * @param directory the checkpoint folder read
   * @param step the training step it was saved at (0 for a model saved outside training)
   * @param libraryVersion the Itera-Lite version that wrote it
   */
  public record Loaded(CausalLm model, Tokenizer tokenizer, Path directory, long step, String libraryVersion)
      implements AutoCloseable {
    @Override
    public void close() {
      model.close();
    }
  }

  // ------------------------------------------------------------------ saving

  /** Saves a model (no training state) as the new last checkpoint of {@code root}; returns its folder. */
  public static Path save(Path root, CausalLm model, Tokenizer tokenizer) throws IOException {
    return save(root, model, tokenizer, null, Map.of(), false);
  }

  /**
   * Saves a checkpoint atomically (see the class description) and makes it the last one of {@code
   * root}, and the best one too when {@code best}. Folders no pointer names any more are deleted.
   *
   * @param tokenizer saved as {@code tokenizer.bin}; null for none
   * @param state the trainer state, or null for a plain model checkpoint
   * @param optimizerTensors flat optimiser tensors (e.g. AdamW moments) by name, saved with {@code state}
   * @return the published checkpoint folder
   * @throws IllegalArgumentException if the tokenizer's vocabulary exceeds the model's
   */
  public static Path save(Path root, CausalLm model, Tokenizer tokenizer, TrainingState state,
      Map<String, Tensor> optimizerTensors, boolean best) throws IOException {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(optimizerTensors, "optimizerTensors");
    if (tokenizer != null && tokenizer.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("checkpoint: tokenizer " + tokenizer.name() + " has " + tokenizer.vocabSize()
          + " ids but the model only " + model.vocabSize());
    }
    if (state == null && !optimizerTensors.isEmpty()) {
      throw new IllegalArgumentException("checkpoint: optimizer tensors need a TrainingState");
    }
    Files.createDirectories(root);
    long step = state == null ? 0 : state.step();
    String base = String.format(Locale.ROOT, "step-%08d", step);
    Path temp = root.resolve(TEMP_PREFIX + base + "-" + UUID.randomUUID());
    Files.createDirectory(temp);
    boolean published = false;
    Path target = null;
    try {
      ParameterSet params = model.parameters();
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put("format", "itera-lite");
      meta.put("architecture", model.architecture());
      if (model instanceof QuantizedModel compressed) {
        compressed.writeWeights(temp.resolve(MODEL_FILE), meta); // compressed matrices as U8 blocks, the rest F32
      } else {
        Safetensors.saveParameters(temp.resolve(MODEL_FILE), params, meta);
      }
      faultHook.at("model-written");
      AtomicFiles.writeDurably(temp.resolve(CONFIG_FILE), configJson(model, tokenizer, step));
      if (tokenizer != null) {
        AtomicFiles.writeDurably(temp.resolve(TOKENIZER_FILE), Tokenizers.toBytes(tokenizer));
      }
      if (state != null) {
        Safetensors.Writer w = Safetensors.writer().metadata("optimizer_step", Long.toString(state.optimizerStep()));
        optimizerTensors.forEach(w::add);
        w.write(temp.resolve(OPTIMIZER_FILE));
        AtomicFiles.writeDurably(temp.resolve(STATE_FILE), stateJson(state, optimizerTensors.keySet()));
      }
      faultHook.at("files-written");
      AtomicFiles.forceDirectory(temp);
      target = root.resolve(base);
      for (int i = 2; Files.exists(target); i++) {
        target = root.resolve(base + "-" + i);
      }
      AtomicFiles.moveAtomically(temp, target);
      published = true;
      AtomicFiles.forceDirectory(root);
      faultHook.at("published");
      AtomicFiles.replaceDurably(root.resolve(LAST_POINTER), pointer(target));
      faultHook.at("last-pointer-written");
      if (best) {
        AtomicFiles.replaceDurably(root.resolve(BEST_POINTER), pointer(target));
        faultHook.at("best-pointer-written");
      }
    } finally {
      if (!published) {
        deleteTree(temp);
      }
    }
    removeUnreferenced(root);
    return target;
  }

  private static byte[] pointer(Path dir) {
    return (dir.getFileName().toString() + "\n").getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] configJson(CausalLm model, Tokenizer tokenizer, long step) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("format_version", FORMAT_VERSION);
    root.put("architecture", model.architecture());
    root.set("config", JSON.valueToTree(model.config()));
    root.put("library_version", IteraLite.version());
    root.put("parameter_dtype", model.parameters().dtype().name());
    root.put("parameter_count", model.parameters().parameterCount());
    root.put("step", step);
    if (model instanceof QuantizedModel compressed) {
      root.put("compressed", true);
      root.put("precision_plan", compressed.plan().describe());
    }
    if (tokenizer != null) {
      root.put("tokenizer", tokenizer.name());
    } else {
      root.putNull("tokenizer");
    }
    return JSON.writeValueAsBytes(root);
  }

  private static byte[] stateJson(TrainingState s, Set<String> optimizerTensors) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("format_version", FORMAT_VERSION);
    root.put("step", s.step());
    root.put("tokens_seen", s.tokensSeen());
    root.put("sampler_position", s.samplerPosition());
    root.put("optimizer_step", s.optimizerStep());
    putDouble(root, "best_val_loss", s.bestValLoss());
    root.put("best_step", s.bestStep());
    root.put("evals_without_improvement", s.evalsWithoutImprovement());
    putDouble(root, "last_val_loss", s.lastValLoss());
    putDouble(root, "elapsed_seconds", s.elapsedSeconds());
    root.putArray("optimizer_tensors").addAll(optimizerTensors.stream().map(JSON.getNodeFactory()::textNode).toList());
    try {
      root.set("training_config", JSON.readTree(s.trainingConfigJson()));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("TrainingState: trainingConfigJson is not valid JSON: " + e.getOriginalMessage(), e);
    }
    return JSON.writeValueAsBytes(root);
  }

  /** Doubles are written exactly (shortest round-trip decimal); non-finite ones as strings. */
  private static void putDouble(ObjectNode node, String field, double v) {
    if (Double.isFinite(v)) {
      node.put(field, v);
    } else {
      node.put(field, Double.toString(v));
    }
  }

  // ------------------------------------------------------------------ locating

  /** The folder of the last (or best) checkpoint of {@code root}, if there is one. */
  public static Optional<Path> find(Path root, Which which) throws IOException {
    Path pointer = root.resolve(which == Which.BEST ? BEST_POINTER : LAST_POINTER);
    String name;
    try {
      name = Files.readString(pointer, StandardCharsets.UTF_8).strip();
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    if (!STEP_DIR.matcher(name).matches()) {
      throw new IOException("checkpoint pointer " + pointer + " holds '" + name + "', not a checkpoint folder name; it is corrupt");
    }
    Path dir = root.resolve(name);
    if (!Files.isRegularFile(dir.resolve(CONFIG_FILE))) {
      throw new IOException("checkpoint pointer " + pointer + " names " + dir + ", which holds no " + CONFIG_FILE
          + "; the checkpoint folder was removed or damaged");
    }
    return Optional.of(dir);
  }

  /**
   * The checkpoint folder {@code path} stands for: itself if it holds {@code config.json}, else the
   * one its {@code LAST} (or {@code BEST}) pointer names.
   *
   * @throws IOException if there is no checkpoint there
   */
  public static Path resolve(Path path, Which which) throws IOException {
    if (Files.isRegularFile(path.resolve(CONFIG_FILE))) {
      return path;
    }
    return find(path, which).orElseThrow(() -> new IOException("no checkpoint at " + path + ": neither a "
        + CONFIG_FILE + " nor a " + (which == Which.BEST ? BEST_POINTER : LAST_POINTER) + " pointer file"));
  }

  // ------------------------------------------------------------------ loading

  /** Loads the last checkpoint of a root (or the checkpoint folder given) on {@code backend}. */
  public static Loaded load(Path path, Backend backend) throws IOException {
    return load(path, Which.LAST, backend);
  }

  /**
   * Loads a checkpoint: builds the model its {@code config.json} describes, reads and checks every
   * weight, and reads the tokenizer.
   *
   * @throws IOException if a file is missing, corrupt or inconsistent with the configuration
   */
  public static Loaded load(Path path, Which which, Backend backend) throws IOException {
    Objects.requireNonNull(backend, "backend");
    Path dir = resolve(path, which);
    JsonNode config = readConfig(dir);
    String arch = config.get("architecture").asText();
    DType dtype = parameterDType(dir, config);
    CausalLm model = newModel(arch, config.get("config"), dtype, backend, dir);
    try {
      if (config.path("compressed").asBoolean(false)) {
        if (!(model instanceof CompressibleModel compressible) || dtype != DType.F32) {
          throw new IOException("checkpoint " + dir + ": compressed weights exist for F32 compressible models (Itera-Lite,"
              + " Transformer) only, not '" + arch + "' (" + dtype + ")");
        }
        model = QuantizedModel.readWeights(dir.resolve(MODEL_FILE), compressible); // now owns the F32 model
      } else {
        Safetensors.loadParameters(dir.resolve(MODEL_FILE), model.parameters());
      }
      Tokenizer tokenizer = null;
      Path tok = dir.resolve(TOKENIZER_FILE);
      if (Files.isRegularFile(tok)) {
        tokenizer = Tokenizers.load(tok);
        if (tokenizer.vocabSize() > model.vocabSize()) {
          throw new IOException("checkpoint " + dir + ": tokenizer has " + tokenizer.vocabSize() + " ids but the model only "
              + model.vocabSize());
        }
      } else if (!config.path("tokenizer").isNull() && config.has("tokenizer")) {
        throw new IOException("checkpoint " + dir + ": config.json names tokenizer '" + config.get("tokenizer").asText()
            + "' but " + TOKENIZER_FILE + " is missing");
      }
      return new Loaded(model, tokenizer, dir, config.path("step").asLong(0), config.path("library_version").asText("?"));
    } catch (IOException | RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * Reads a checkpoint's weights into an existing model of the same architecture and configuration.
   *
   * @throws IOException if the checkpoint is of another architecture or configuration, or invalid
   */
  public static void loadWeights(Path checkpointDir, CausalLm model) throws IOException {
    JsonNode config = readConfig(checkpointDir);
    String arch = config.get("architecture").asText();
    if (!arch.equals(model.architecture())) {
      throw new IOException("checkpoint " + checkpointDir + " holds a '" + arch + "' model, not '" + model.architecture() + "'");
    }
    // Compare parsed records, not JSON trees, so files written before a field with a default
    // existed (e.g. IteraLiteConfig.dInner) still match the model they describe.
    Record theirs = readRecord(config.get("config"), model.config().getClass(), checkpointDir);
    if (!theirs.equals(model.config())) {
      throw new IOException("checkpoint " + checkpointDir + " has configuration " + theirs
          + " but the model has " + model.config());
    }
    Safetensors.loadParameters(checkpointDir.resolve(MODEL_FILE), model.parameters());
  }

  /** The trainer state of a checkpoint folder, if it has one. */
  public static Optional<TrainingState> readTrainingState(Path checkpointDir) throws IOException {
    Path file = checkpointDir.resolve(STATE_FILE);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    JsonNode n;
    try {
      n = JSON.readTree(Files.readAllBytes(file));
    } catch (JsonProcessingException e) {
      throw new IOException(file + " is not valid JSON: " + e.getOriginalMessage());
    }
    String what = file.toString();
    int version = requireField(n, "format_version", what).asInt();
    if (version != FORMAT_VERSION) {
      throw new IOException(what + ": format_version " + version + " is not supported (this reader knows " + FORMAT_VERSION + ")");
    }
    try {
      return Optional.of(new TrainingState(
          requireLong(n, "step", what),
          requireLong(n, "tokens_seen", what),
          requireLong(n, "sampler_position", what),
          requireLong(n, "optimizer_step", what),
          readDouble(n, "best_val_loss", what),
          requireLong(n, "best_step", what),
          (int) requireLong(n, "evals_without_improvement", what),
          readDouble(n, "last_val_loss", what),
          readDouble(n, "elapsed_seconds", what),
          JSON.writeValueAsString(requireField(n, "training_config", what))));
    } catch (IllegalArgumentException e) {
      throw new IOException(what + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads the optimiser tensors of a training checkpoint into {@code destinations} (name to a
   * tensor of the saved type and shape).
   *
   * @throws IOException if the file is missing or invalid, or a tensor is missing or differs in type or shape
   */
  public static void readOptimizerTensors(Path checkpointDir, Map<String, Tensor> destinations) throws IOException {
    Path file = checkpointDir.resolve(OPTIMIZER_FILE);
    if (!Files.isRegularFile(file)) {
      throw new IOException("checkpoint " + checkpointDir + " has no " + OPTIMIZER_FILE + "; it is not a training checkpoint");
    }
    try (Safetensors.Reader r = Safetensors.open(file)) {
      for (Map.Entry<String, Tensor> e : destinations.entrySet()) {
        if (!r.contains(e.getKey())) {
          throw new IOException(file + " has no tensor '" + e.getKey() + "'");
        }
        try {
          r.readInto(e.getKey(), e.getValue());
        } catch (IllegalArgumentException ex) {
          throw new IOException(ex.getMessage() + " (was the checkpoint written for another model?)", ex);
        }
      }
    }
  }

  /** The parsed, checked {@code config.json} of a checkpoint folder. */
  static JsonNode readConfig(Path dir) throws IOException {
    Path file = dir.resolve(CONFIG_FILE);
    JsonNode n;
    try {
      n = JSON.readTree(Files.readAllBytes(file));
    } catch (NoSuchFileException e) {
      throw new IOException("checkpoint " + dir + " has no " + CONFIG_FILE);
    } catch (JsonProcessingException e) {
      throw new IOException(file + " is not valid JSON: " + e.getOriginalMessage());
    }
    String what = file.toString();
    if (n == null || !n.isObject()) {
      throw new IOException(what + " is not a JSON object");
    }
    int version = requireField(n, "format_version", what).asInt();
    if (version != FORMAT_VERSION) {
      throw new IOException(what + ": format_version " + version + " is not supported (this reader knows " + FORMAT_VERSION
          + "); use the Itera-Lite version that wrote it (" + n.path("library_version").asText("unknown") + ")");
    }
    if (!requireField(n, "architecture", what).isTextual()) {
      throw new IOException(what + ": 'architecture' must be a string");
    }
    if (!requireField(n, "config", what).isObject()) {
      throw new IOException(what + ": 'config' must be an object");
    }
    return n;
  }

  private static DType parameterDType(Path dir, JsonNode config) throws IOException {
    String name = config.path("parameter_dtype").asText("F32");
    if (!name.equals("F32") && !name.equals("F64")) {
      throw new IOException("checkpoint " + dir + ": parameter_dtype '" + name + "' is not F32 or F64");
    }
    return DType.valueOf(name);
  }

  // ------------------------------------------------------------------ the architecture dispatch point

  /**
   * Builds an untrained model of a checkpoint's architecture and configuration: the single place
   * that maps architecture names to model classes. A new architecture is added here.
   */
  static CausalLm newModel(String architecture, JsonNode config, DType dtype, Backend backend, Path dir)
      throws IOException {
    switch (architecture) {
      case "itera-lite": {
        IteraLiteConfig c = readRecord(config, IteraLiteConfig.class, dir);
        return new IteraLiteModel(backend, c, dtype, 0);
      }
      case "transformer": {
        TransformerConfig c = readRecord(config, TransformerConfig.class, dir);
        return new TransformerModel(backend, c, dtype, 0);
      }
      default:
        throw new IOException("checkpoint " + dir + " holds an unknown architecture '" + architecture
            + "' (known: itera-lite, transformer)");
    }
  }

  private static <T> T readRecord(JsonNode config, Class<T> type, Path dir) throws IOException {
    try {
      return JSON.treeToValue(config, type);
    } catch (JsonProcessingException e) {
      Throwable c = e.getCause();
      String why = c instanceof IllegalArgumentException ? c.getMessage() : e.getOriginalMessage();
      throw new IOException("checkpoint " + dir + ": 'config' is not a valid " + type.getSimpleName() + ": " + why, e);
    }
  }

  // ------------------------------------------------------------------ helpers

  private static JsonNode requireField(JsonNode n, String field, String what) throws IOException {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      throw new IOException(what + " lacks the field '" + field + "'");
    }
    return v;
  }

  private static long requireLong(JsonNode n, String field, String what) throws IOException {
    JsonNode v = requireField(n, field, what);
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw new IOException(what + ": '" + field + "' must be an integer, got " + v);
    }
    return v.asLong();
  }

  private static double readDouble(JsonNode n, String field, String what) throws IOException {
    JsonNode v = requireField(n, field, what);
    if (v.isNumber()) {
      return v.doubleValue();
    }
    if (v.isTextual()) {
      String t = v.asText();
      if (t.equals("NaN") || t.equals("Infinity") || t.equals("-Infinity")) {
        return Double.parseDouble(t);
      }
    }
    throw new IOException(what + ": '" + field + "' must be a number, got " + v);
  }

  /** Deletes step folders no pointer names and stale temporaries (left by crashes). */
  private static void removeUnreferenced(Path root) throws IOException {
    Set<String> keep = new HashSet<>();
    for (Which w : Which.values()) {
      try {
        find(root, w).ifPresent(p -> keep.add(p.getFileName().toString()));
      } catch (IOException e) {
        return; // a damaged pointer: delete nothing, the user must look
      }
    }
    List<Path> doomed = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        boolean stepDir = STEP_DIR.matcher(name).matches() && !keep.contains(name);
        if ((stepDir || name.startsWith(TEMP_PREFIX)) && Files.isDirectory(p)) {
          doomed.add(p);
        }
      }
    }
    for (Path p : doomed) {
      deleteTree(p);
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
