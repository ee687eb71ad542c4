package dev.iteralite.maven;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.checkpoint.Checkpoint;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * What every {@code itera} goal shares: the global skip flag, which model to load and the native
 * thread count. Subclasses implement {@link #run}; skipping, configuration errors and the
 * process-wide native lock are handled here.
 */
public abstract class AbstractIteraMojo extends AbstractMojo {
  /**
   * The native library and its thread count are process-wide, so goals of parallel ({@code -T})
   * module builds take turns instead of racing.
   */
  private static final Object NATIVE_LOCK = new Object();

  /** Skips every itera goal. */
  @Parameter(property = PropertyNames.SKIP, defaultValue = "false")
  boolean skip;

  /**
   * An Itera-Lite preset with random weights drawn from {@code seed} and the byte tokenizer:
   * {@code tiny} or {@code small}. Configure exactly one of {@code preset}, {@code
   * llama2cCheckpoint} or {@code checkpoint}.
   */
  @Parameter(property = PropertyNames.PRESET)
  String preset;

  /** Seed of the preset's weights. */
  @Parameter(property = PropertyNames.SEED, defaultValue = "42")
  long seed;

  /** A llama2.c checkpoint ({@code .bin}, e.g. stories260K.bin); needs {@code llama2cTokenizer}. */
  @Parameter(property = PropertyNames.LLAMA2C_CHECKPOINT)
  File llama2cCheckpoint;

  /** The llama2.c tokenizer ({@code .bin}) the checkpoint was trained with. */
  @Parameter(property = PropertyNames.LLAMA2C_TOKENIZER)
  File llama2cTokenizer;

  /**
   * An Itera-Lite checkpoint: a training run's root directory (its last checkpoint is used) or one
   * checkpoint folder.
   */
  @Parameter(property = PropertyNames.CHECKPOINT)
  File checkpoint;

  /**
   * Native worker threads (kernels and OpenBLAS), >= 1; unset: every core. The same property
   * ({@code -Ditera.threads}) is read by the library itself.
   */
  @Parameter(property = PropertyNames.THREADS)
  Integer threads;

  /** The goal's name, for log lines. */
  abstract String goal();

  /** Whether the goal's own skip flag is set. */
  abstract boolean goalSkipped();

  /** Checks the goal's own parameters (the model is checked separately). */
  abstract void validateGoal() throws ConfigurationProblem;

  /** Runs the goal on a validated configuration. */
  abstract void run(Backend backend, ModelSpec model) throws MojoExecutionException, MojoFailureException,
      ConfigurationProblem;

  /** Checks the configured model(s); goals with several models override this. */
  void validateModels() throws ConfigurationProblem {
    modelSpec().validate();
  }

  /** Whether any of the top-level model elements is set. */
  boolean topLevelModelSet() {
    return (preset != null && !preset.isBlank()) || llama2cCheckpoint != null || llama2cTokenizer != null
        || checkpoint != null;
  }

  ModelSpec modelSpec() {
    return new ModelSpec(preset, seed, llama2cCheckpoint, llama2cTokenizer, checkpoint);
  }

  /** Validates everything without loading anything; the message names the XML element and the fix. */
  void validate() throws MojoExecutionException {
    try {
      if (threads != null && threads < 1) {
        throw new ConfigurationProblem("threads", "must be >= 1, got " + threads,
            "set a positive count (-D" + PropertyNames.THREADS + "=2), or leave it unset to use every core");
      }
      validateModels();
      validateGoal();
    } catch (ConfigurationProblem p) {
      throw new MojoExecutionException(p.getMessage(), p);
    }
  }

  @Override
  public final void execute() throws MojoExecutionException, MojoFailureException {
    if (skip || goalSkipped()) {
      getLog().info("Skipping itera:" + goal() + " (" + (skip ? PropertyNames.SKIP : "itera." + goal() + ".skip")
          + " is set)");
      return;
    }
    validate();
    synchronized (NATIVE_LOCK) {
      Backend backend;
      try {
        backend = Backends.select();
      } catch (RuntimeException e) {
        throw new MojoExecutionException("cannot start an Itera-Lite backend: " + e.getMessage(), e);
      }
      if (backend instanceof CpuBackend cpu) {
        // Always set: an earlier goal in this JVM may have changed it (0 restores every core).
        int now = cpu.setThreads(threads == null ? 0 : threads);
        if (threads != null) {
          getLog().info("Itera-Lite native threads: " + now);
        }
      }
      try {
        run(backend, modelSpec());
      } catch (ConfigurationProblem p) {
        throw new MojoExecutionException(p.getMessage(), p);
      } catch (RuntimeException e) {
        // Anything the library throws here is unexpected (bad weights, a native failure): a build
        // error naming the goal, not a stack trace from Maven's internals.
        throw new MojoExecutionException("itera:" + goal() + " failed: " + e, e);
      }
    }
  }

  // ---------------------------------------------------- goals that work on a trained checkpoint

  /** The trained run a goal reads: {@code <checkpoint>}, else the train goal's output for {@code name}. */
  Path trainedCheckpointRoot(String name, File checkpointsDirectory) {
    return checkpoint != null ? checkpoint.toPath() : checkpointsDirectory.toPath().resolve(name);
  }

  /**
   * Checks that a goal working on a trained checkpoint (evaluate, compress) is given one: no preset
   * or llama2.c model ({@code refusal} says what the goal does instead), and {@code <checkpoint>} or
   * the trained model's {@code name} naming an existing folder.
   */
  void requireTrainedCheckpoint(String refusal, String name, File checkpointsDirectory) throws ConfigurationProblem {
    if ((preset != null && !preset.isBlank()) || llama2cCheckpoint != null || llama2cTokenizer != null) {
      String e = preset != null && !preset.isBlank() ? "preset" : llama2cCheckpoint != null ? "llama2cCheckpoint"
          : "llama2cTokenizer";
      throw new ConfigurationProblem(e, refusal, "remove <" + e + "> and set <checkpoint> or the trained model's <name>");
    }
    if (checkpoint == null && (name == null || name.isBlank() || checkpointsDirectory == null)) {
      throw new ConfigurationProblem("checkpoint", "no checkpoint is configured",
          "set <checkpoint> (-D" + PropertyNames.CHECKPOINT + "=...) or the trained model's <name>");
    }
    Path root = trainedCheckpointRoot(name, checkpointsDirectory);
    if (!Files.isDirectory(root)) {
      throw new ConfigurationProblem(checkpoint != null ? "checkpoint" : "name", "there is no checkpoint at " + root,
          checkpoint != null ? "point <checkpoint> at a training run's root or one checkpoint folder"
              : "run itera:train for '" + name + "' first, or set <checkpoint>");
    }
  }

  /** Parses a {@code <which>} element: {@code best} or {@code last} ({@code property} names its -D form). */
  static Checkpoint.Which parseWhich(String which, String property) throws ConfigurationProblem {
    String w = which == null ? "" : which.trim().toLowerCase(Locale.ROOT);
    return switch (w) {
      case "best" -> Checkpoint.Which.BEST;
      case "last" -> Checkpoint.Which.LAST;
      default -> throw new ConfigurationProblem("which", "'" + which + "' is not best or last",
          "use <which>best</which> or <which>last</which> (-D" + property + "=best)");
    };
  }
}
