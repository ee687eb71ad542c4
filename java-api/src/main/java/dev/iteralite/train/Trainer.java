package dev.iteralite.train;

import dev.iteralite.backend.Backend;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.checkpoint.Safetensors;
import dev.iteralite.checkpoint.TrainingState;
import dev.iteralite.data.BatchSampler;
import dev.iteralite.data.ContiguousStreamSampler;
import dev.iteralite.data.RandomWindowSampler;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.CausalLm;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.optim.AdamW;
import dev.iteralite.optim.LearningRateSchedule;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import dev.iteralite.tokenizer.Tokenizer;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Trains a {@link CausalLm} on a token sequence: AdamW with decoupled weight decay (none on norms,
 * biases, A_log, D and dt bias, as each parameter declares), linear warm-up then cosine decay to a
 * floor, global-norm gradient clipping, gradient accumulation, the model's weighted MoE auxiliary
 * losses, periodic evaluation on fixed validation windows, early stopping with patience, a CSV
 * metrics log, and atomic best/last {@link Checkpoint}s from which {@link #resumeFrom} continues
 * bit for bit.
 *
 * <p><b>Determinism.</b> Every number depends only on the model's initial weights, the data, the
 * {@link TrainingConfig} and the backend's kernels: the batches are a pure function of the seed and
 * the batch index, the validation windows are fixed, and nothing reads the clock except throughput,
 * ETA and the optional time budget. A resumed run restores the weights, the AdamW moments and step
 * count, the sampler position and the early-stopping counters, so after N + M steps its parameters
 * equal those of an uninterrupted run bit for bit.
 *
 * <p><b>Metrics CSV</b> (when configured): one row per step with the columns {@code
 * step,tokens_seen,lr,train_loss,val_loss,grad_norm,tokens_per_s,aux_loss,expert_load}; {@code
 * train_loss} is the cross-entropy (the auxiliary loss is its own column), {@code val_loss} is empty
 * on steps without evaluation, {@code expert_load} is the fraction of routed slots per expert of the
 * step's last micro-batch, layer after layer, joined by {@code ;}. A resumed run drops rows after
 * the checkpoint's step and appends.
 *
 * <p>A step whose loss or gradient norm is NaN or infinite throws {@link TrainingDivergedException}
 * before the update is applied and before any checkpoint is written. Not thread-safe; close the
 * trainer to free the optimiser state (the model stays the caller's).
 */
public final class Trainer implements AutoCloseable {
  /** CSV header line. */
  public static final String CSV_HEADER = "step,tokens_seen,lr,train_loss,val_loss,grad_norm,tokens_per_s,aux_loss,expert_load";
  static final String MOMENT1 = "adamw.m";
  static final String MOMENT2 = "adamw.v";
  private static final long EVAL_SEED_SALT = 0x6A09E667F3BCC909L;

  private final CausalLm model;
  private final TrainingConfig config;
  private final Backend backend;
  private final ParameterSet params;
  private final AdamW optimizer;
  private final BatchSampler sampler;
  private final LearningRateSchedule schedule;
  private final List<int[][]> valBatches = new ArrayList<>();
  private Tokenizer tokenizer;
  private TrainingListener listener = new TrainingListener() {};
  private Tensor bestSnapshot;

  private long step;
  private long tokensSeen;
  private double bestValLoss = Double.POSITIVE_INFINITY;
  private long bestStep = -1;
  private int evalsWithoutImprovement;
  private double lastValLoss = Double.NaN;
  private double elapsedBefore;
  private boolean resumed;
  private Path lastCheckpoint;
  private Path bestCheckpoint;

  /**
   * A trainer starting at step 0 from the model's current weights.
   *
   * @param validation validation tokens, or null to train without evaluation (then {@code
   *     patience} must be 0)
   * @throws IllegalArgumentException if a sequence's vocabulary exceeds the model's, a sequence is
   *     too short for one window, or early stopping is configured without validation data
   */
  public Trainer(CausalLm model, TrainingConfig config, TokenSequence train, TokenSequence validation) {
    this.model = Objects.requireNonNull(model, "model");
    this.config = Objects.requireNonNull(config, "config");
    Objects.requireNonNull(train, "train");
    checkSequence("training", train, model, config);
    if (validation != null) {
      checkSequence("validation", validation, model, config);
    } else if (config.patience() > 0) {
      throw new IllegalArgumentException("trainer: early stopping (patience " + config.patience() + ") needs validation data");
    }
    if (config.seqLen() > model.maxSequenceLength()) {
      throw new IllegalArgumentException("trainer: seqLen " + config.seqLen() + " exceeds the model's maximum sequence length "
          + model.maxSequenceLength());
    }
    this.backend = model.backend();
    this.params = model.parameters();
    this.sampler = config.sampler() == TrainingConfig.SamplerKind.CONTIGUOUS
        ? new ContiguousStreamSampler(train, config.batchSize(), config.seqLen())
        : new RandomWindowSampler(train, config.batchSize(), config.seqLen(), config.seed());
    this.schedule = LearningRateSchedule.warmupCosine(config.peakLr(), config.warmupSteps(), config.steps(),
        config.lrFloorFraction());
    if (validation != null) {
      RandomWindowSampler vs = new RandomWindowSampler(validation, config.batchSize(), config.seqLen(),
          config.seed() ^ EVAL_SEED_SALT);
      for (int b = 0; b < config.evalBatches(); b++) {
        var batch = vs.batch(b);
        valBatches.add(new int[][] {batch.inputs(), batch.targets()});
      }
    }
    this.optimizer = new AdamW(backend, params,
        new AdamW.Config(config.beta1(), config.beta2(), config.eps(), config.weightDecay(), config.clipNorm()));
    if (config.patience() > 0) {
      try {
        bestSnapshot = params.allocateLike();
        backend.copy(params.values(), bestSnapshot);
      } catch (RuntimeException e) {
        optimizer.close();
        throw e;
      }
    }
  }

  private static void checkSequence(String what, TokenSequence seq, CausalLm model, TrainingConfig config) {
    if (seq.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("trainer: the " + what + " tokens use a vocabulary of " + seq.vocabSize()
          + " ids but the model accepts " + model.vocabSize() + "; tokenize with the model's tokenizer");
    }
    if (seq.size() < config.seqLen() + 1L) {
      throw new IllegalArgumentException("trainer: the " + what + " sequence has " + seq.size() + " tokens, fewer than one window of seqLen "
          + config.seqLen() + " plus its target; use a shorter seqLen or more data");
    }
  }

  /** The tokenizer saved with every checkpoint (required when the configuration names a checkpoint folder). */
  public Trainer tokenizer(Tokenizer tokenizer) {
    if (tokenizer != null && tokenizer.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("trainer: tokenizer " + tokenizer.name() + " has " + tokenizer.vocabSize()
          + " ids but the model accepts " + model.vocabSize());
    }
    this.tokenizer = tokenizer;
    return this;
  }

  /** Receives progress events (replaces any earlier listener). */
  public Trainer listener(TrainingListener listener) {
    this.listener = Objects.requireNonNull(listener, "listener");
    return this;
  }

  /** The model being trained. */
  public CausalLm model() {
    return model;
  }

  /** The configuration. */
  public TrainingConfig config() {
    return config;
  }

  /** Optimiser steps completed so far. */
  public long step() {
    return step;
  }

  /** Training tokens consumed so far. */
  public long tokensSeen() {
    return tokensSeen;
  }

  // ------------------------------------------------------------------ resume

  /**
   * Restores the weights, optimiser state, data position and early-stopping counters of a training
   * checkpoint (a root's last one, or a checkpoint folder), so that {@link #run()} continues exactly
   * where it was saved.
   *
   * @throws IOException if there is no training checkpoint there or it does not fit this model
   * @throws IllegalArgumentException if the checkpoint was trained with another seed, batch shape,
   *     accumulation or sampler (its data order would differ)
   */
  public Trainer resumeFrom(Path checkpoint) throws IOException {
    Path dir = Checkpoint.resolve(checkpoint, Checkpoint.Which.LAST);
    TrainingState state = Checkpoint.readTrainingState(dir).orElseThrow(() -> new IOException("checkpoint " + dir
        + " has no " + Checkpoint.STATE_FILE + ": it holds a model, not a training run, and cannot be resumed"));
    TrainingConfig saved = TrainingConfig.fromJson(state.trainingConfigJson());
    List<String> diff = new ArrayList<>();
    if (saved.seed() != config.seed()) {
      diff.add("seed " + saved.seed() + " vs " + config.seed());
    }
    if (saved.batchSize() != config.batchSize() || saved.seqLen() != config.seqLen()) {
      diff.add("batch " + saved.batchSize() + "x" + saved.seqLen() + " vs " + config.batchSize() + "x" + config.seqLen());
    }
    if (saved.gradAccumulation() != config.gradAccumulation()) {
      diff.add("gradAccumulation " + saved.gradAccumulation() + " vs " + config.gradAccumulation());
    }
    if (saved.sampler() != config.sampler()) {
      diff.add("sampler " + saved.sampler() + " vs " + config.sampler());
    }
    if (!diff.isEmpty()) {
      throw new IllegalArgumentException("trainer: checkpoint " + dir + " was trained with a different data order ("
          + String.join(", ", diff) + "); resume with its configuration");
    }
    if (state.step() > config.steps()) {
      throw new IllegalArgumentException("trainer: checkpoint " + dir + " is at step " + state.step()
          + ", beyond this configuration's " + config.steps() + " steps");
    }
    Checkpoint.loadWeights(dir, model);
    Checkpoint.readOptimizerTensors(dir, Map.of(MOMENT1, optimizer.firstMoments(), MOMENT2, optimizer.secondMoments()));
    optimizer.restoreStepCount(state.optimizerStep());
    sampler.restore(state.samplerPosition());
    step = state.step();
    tokensSeen = state.tokensSeen();
    bestValLoss = state.bestValLoss();
    bestStep = state.bestStep();
    evalsWithoutImprovement = state.evalsWithoutImprovement();
    lastValLoss = state.lastValLoss();
    elapsedBefore = state.elapsedSeconds();
    resumed = true;
    lastCheckpoint = dir;
    Path root = Files.isRegularFile(checkpoint.resolve(Checkpoint.CONFIG_FILE)) ? dir.getParent() : checkpoint;
    Optional<Path> best = root == null ? Optional.empty() : Checkpoint.find(root, Checkpoint.Which.BEST);
    bestCheckpoint = best.orElse(null);
    if (bestSnapshot != null) {
      if (best.isPresent()) {
        try (Safetensors.Reader r = Safetensors.open(best.get().resolve(Checkpoint.MODEL_FILE))) {
          for (Parameter p : params.parameters()) {
            r.readInto(p.name(), params.viewOf(bestSnapshot, p));
          }
        }
      } else {
        backend.copy(params.values(), bestSnapshot);
      }
    }
    return this;
  }

  // ------------------------------------------------------------------ the loop

  /**
   * Trains until the configured number of steps, early stopping or the time budget; writes metrics
   * and checkpoints as configured. When early stopping ends the run, the model is left holding the
   * best weights.
   *
   * @throws TrainingDivergedException if a loss or gradient norm becomes NaN or infinite
   * @throws IllegalStateException if the configuration names a checkpoint folder but no tokenizer was set
   * @throws UncheckedIOException if writing metrics or a checkpoint fails
   */
  public TrainingResult run() {
    if (config.checkpointDir() != null && tokenizer == null) {
      throw new IllegalStateException("trainer: checkpoints need the tokenizer; call tokenizer(...) before run()");
    }
    long total = config.steps();
    int accum = config.gradAccumulation();
    int n = config.batchSize() * config.seqLen();
    int[] inputs = new int[n];
    int[] targets = new int[n];
    long segmentStart = System.nanoTime();
    double segmentTrainSeconds = 0;
    long segmentSteps = 0;
    double trainLoss = Double.NaN;
    TrainingResult.StopReason reason = TrainingResult.StopReason.COMPLETED;
    try (MetricsLog csv = MetricsLog.open(config.metricsCsv(), resumed, step)) {
      while (step < total) {
        long t0 = System.nanoTime();
        params.zeroGrads(backend);
        double sumLoss = 0;
        double sumAux = 0;
        for (int a = 0; a < accum; a++) {
          sampler.nextInto(inputs, targets);
          double loss;
          try (Arena arena = Arena.open()) {
            loss = model.forwardBackward(inputs, targets, config.batchSize(), arena);
          }
          if (!Double.isFinite(loss)) {
            throw new TrainingDivergedException(step + 1, String.format(Locale.ROOT,
                "training loss is %s at step %d (micro-batch %d of %d, lr %.3g); no update was applied and the last"
                    + " checkpoint is intact: lower peakLr, raise warmupSteps or check the data", loss, step + 1, a + 1,
                accum, schedule.at(step)));
          }
          sumLoss += loss;
          sumAux += model.lastAuxLoss();
        }
        double lr = schedule.at(step);
        double gradNorm;
        try {
          gradNorm = optimizer.step(lr, 1.0 / accum);
        } catch (ArithmeticException e) {
          throw new TrainingDivergedException(step + 1, "gradient norm is not finite at step " + (step + 1)
              + "; no update was applied and the last checkpoint is intact: lower peakLr or check the data (" + e.getMessage() + ")");
        }
        step++;
        tokensSeen += config.tokensPerStep();
        double aux = sumAux / accum;
        trainLoss = sumLoss / accum - aux;
        double stepSeconds = (System.nanoTime() - t0) / 1e9;
        segmentTrainSeconds += stepSeconds;
        segmentSteps++;

        double val = Double.NaN;
        boolean improved = false;
        boolean stop = false;
        boolean evaluate = !valBatches.isEmpty() && ((config.evalEvery() > 0 && step % config.evalEvery() == 0) || step == total);
        if (evaluate) {
          val = evaluate();
          if (!Double.isFinite(val)) {
            throw new TrainingDivergedException(step, "validation loss is " + val + " after step " + step
                + "; no checkpoint was written for it and the last checkpoint is intact: lower peakLr or check the data");
          }
          lastValLoss = val;
          if (val < bestValLoss - config.minDelta()) {
            improved = true;
            bestValLoss = val;
            bestStep = step;
            evalsWithoutImprovement = 0;
            if (bestSnapshot != null) {
              backend.copy(params.values(), bestSnapshot);
            }
          } else {
            evalsWithoutImprovement++;
            if (config.patience() > 0 && evalsWithoutImprovement >= config.patience()) {
              stop = true;
              reason = TrainingResult.StopReason.EARLY_STOPPED;
            }
          }
          listener.onEvaluation(step, val, improved);
        }
        double elapsed = elapsedBefore + (System.nanoTime() - segmentStart) / 1e9;
        if (!stop && config.maxMinutes() > 0 && elapsed >= config.maxMinutes() * 60 && step < total) {
          stop = true;
          reason = TrainingResult.StopReason.TIME_BUDGET;
        }
        double[] load = model.lastExpertLoad();
        csv.row(step, tokensSeen, lr, trainLoss, val, gradNorm, config.tokensPerStep() / stepSeconds, aux, load);
        double eta = (total - step) * (segmentTrainSeconds / segmentSteps);
        listener.onStep(new TrainingListener.StepReport(step, total, tokensSeen, lr, trainLoss, aux, gradNorm,
            config.tokensPerStep() / stepSeconds, eta, val));

        if (config.checkpointDir() != null) {
          boolean periodic = config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0;
          if (improved || periodic || stop || step == total) {
            saveCheckpoint(improved, elapsedBefore + (System.nanoTime() - segmentStart) / 1e9);
          }
        }
        if (stop) {
          break;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("trainer: writing metrics or a checkpoint failed: " + e.getMessage(), e);
    }
    if (reason == TrainingResult.StopReason.EARLY_STOPPED && bestSnapshot != null) {
      backend.copy(bestSnapshot, params.values());
    }
    double elapsed = elapsedBefore + (System.nanoTime() - segmentStart) / 1e9;
    elapsedBefore = elapsed;
    resumed = true; // a second run() continues the same log
    return new TrainingResult(step, tokensSeen, trainLoss, lastValLoss, bestValLoss, bestStep, reason, elapsed,
        lastCheckpoint, bestCheckpoint);
  }

  /** Mean validation cross-entropy over the fixed validation windows. */
  public double evaluate() {
    if (valBatches.isEmpty()) {
      throw new IllegalStateException("trainer: no validation data was given");
    }
    double sum = 0;
    for (int[][] b : valBatches) {
      sum += model.loss(b[0], b[1], config.batchSize());
    }
    return sum / valBatches.size();
  }

  private void saveCheckpoint(boolean best, double elapsed) throws IOException {
    TrainingState state = new TrainingState(step, tokensSeen, sampler.position(), optimizer.stepCount(), bestValLoss,
        bestStep, evalsWithoutImprovement, lastValLoss, elapsed, config.toJson());
    Path dir = Checkpoint.save(config.checkpointDir(), model, tokenizer, state,
        Map.of(MOMENT1, optimizer.firstMoments(), MOMENT2, optimizer.secondMoments()), best);
    lastCheckpoint = dir;
    if (best) {
      bestCheckpoint = dir;
    }
    listener.onCheckpoint(step, dir, best);
  }

  @Override
  public void close() {
    optimizer.close();
    if (bestSnapshot != null) {
      bestSnapshot.close();
    }
  }

  // ------------------------------------------------------------------ metrics CSV

  /** The CSV metrics file (or nothing); rows are flushed one by one so a crash keeps them. */
  private static final class MetricsLog implements AutoCloseable {
    private final BufferedWriter out;

    private MetricsLog(BufferedWriter out) {
      this.out = out;
    }

    static MetricsLog open(Path file, boolean resumed, long step) throws IOException {
      if (file == null) {
        return new MetricsLog(null);
      }
      Path parent = file.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      if (resumed && Files.isRegularFile(file)) {
        // Rows after the checkpoint's step were written by the interrupted run and will be redone.
        List<String> keep = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          if (keep.isEmpty()) {
            if (!line.equals(CSV_HEADER)) {
              throw new IOException("metrics file " + file + " does not start with the header " + CSV_HEADER
                  + "; move it away or name another metricsCsv");
            }
            keep.add(line);
            continue;
          }
          int comma = line.indexOf(',');
          try {
            if (comma > 0 && Long.parseLong(line.substring(0, comma)) <= step) {
              keep.add(line);
            }
          } catch (NumberFormatException e) {
            // a row cut short by a crash: dropped
          }
        }
        Path temp = Files.createTempFile(parent, "." + file.getFileName(), ".tmp");
        Files.write(temp, keep, StandardCharsets.UTF_8);
        Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return new MetricsLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND));
      }
      BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
      w.write(CSV_HEADER);
      w.newLine();
      w.flush();
      return new MetricsLog(w);
    }

    void row(long step, long tokens, double lr, double trainLoss, double valLoss, double gradNorm, double tokensPerSecond,
        double aux, double[] load) throws IOException {
      if (out == null) {
        return;
      }
      StringBuilder b = new StringBuilder(128);
      b.append(step).append(',').append(tokens).append(',').append(lr).append(',').append(trainLoss).append(',');
      if (!Double.isNaN(valLoss)) {
        b.append(valLoss);
      }
      b.append(',').append(gradNorm).append(',').append(String.format(Locale.ROOT, "%.1f", tokensPerSecond)).append(',')
          .append(aux).append(',');
      for (int i = 0; i < load.length; i++) {
        b.append(i == 0 ? "" : ";").append(String.format(Locale.ROOT, "%.4f", load[i]));
      }
      out.write(b.toString());
      out.newLine();
      out.flush();
    }

    @Override
    public void close() throws IOException {
      if (out != null) {
        out.close();
      }
    }
  }
}
