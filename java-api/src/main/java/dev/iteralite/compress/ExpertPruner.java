package dev.iteralite.compress;

import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.nn.MixtureOfExperts;
import dev.iteralite.nn.Parameter;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Structured pruning of Itera-Lite's mixture-of-experts layers: measures how many routed token
 * slots each expert receives on calibration data, removes the {@code k} least-loaded experts of
 * every MoE layer (the configuration has one expert count for all layers) and builds a smaller
 * dense model from the survivors: their router rows and expert weights are copied, every other
 * parameter unchanged, and {@code topK} is lowered only if it would exceed the remaining experts.
 * An optional short recovery fine-tune with the {@link Trainer} follows; the report gives the loss
 * before, right after the cut and after recovery, so the quality cost is always stated.
 */
public final class ExpertPruner {
  private ExpertPruner() {}

  /**
   * The outcome of one prune.
   *
   * @param load routed slots per expert on the calibration data, [MoE layer][expert] (original ids)
   * @param removed the experts removed from each MoE layer (original ids, ascending)
   * @param lossBefore mean next-token loss (nats) of the original model on the evaluation tokens
   * @param lossAfterPrune the same right after pruning
   * @param lossAfterRecovery the same after the recovery fine-tune (NaN without one)
   */
  public record Report(int expertsBefore, int expertsAfter, int topKBefore, int topKAfter, long[][] load,
      int[][] removed, long parametersBefore, long parametersAfter, double lossBefore, double lossAfterPrune,
      double lossAfterRecovery, long recoverySteps) {}

  /** The pruned model (the caller's to close) and its report. */
  public record Pruned(IteraLiteModel model, Report report) implements AutoCloseable {
    @Override
    public void close() {
      model.close();
    }
  }

  /**
   * Routed slots per expert, [MoE layer][expert], over contiguous windows of {@code calibration}
   * (forward passes only; the model's cumulative counters are reset first).
   */
  public static long[][] measureLoad(IteraLiteModel model, TokenSequence calibration, int window) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(calibration, "calibration");
    List<MixtureOfExperts> moes = model.moeLayers();
    if (moes.isEmpty()) {
      throw new IllegalArgumentException("expert pruning: the model has no MoE layers (moeEvery = 0)");
    }
    if (calibration.size() < 2 || window < 1) {
      throw new IllegalArgumentException("expert pruning: need >= 2 calibration tokens and window >= 1, got "
          + calibration.size() + " tokens, window " + window);
    }
    if (calibration.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("expert pruning: calibration vocabulary " + calibration.vocabSize()
          + " exceeds the model's " + model.vocabSize());
    }
    moes.forEach(MixtureOfExperts::resetCounts);
    ModelSurgery.loss(model, calibration, window);
    long[][] load = new long[moes.size()][];
    for (int l = 0; l < load.length; l++) {
      load[l] = moes.get(l).cumulativeRoutedCounts();
    }
    return load;
  }

  /**
   * Removes the {@code remove} least-loaded experts from every MoE layer.
   *
   * @param calibration tokens whose routing decides which experts go
   * @param evaluation tokens the losses are measured on (may be the same)
   * @param window window length for calibration and evaluation
   * @param recovery fine-tuning configuration for the pruned model, or null for none
   * @param recoveryData training tokens of the fine-tune (required with {@code recovery})
   * @throws IllegalArgumentException if the model has no MoE layers, {@code remove} is not in {@code
   *     [1, experts - 1]}, or the data do not fit the model
   */
  public static Pruned prune(IteraLiteModel model, int remove, TokenSequence calibration, TokenSequence evaluation,
      int window, TrainingConfig recovery, TokenSequence recoveryData) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(evaluation, "evaluation");
    IteraLiteConfig c = model.config();
    if (c.moeEvery() == 0) {
      throw new IllegalArgumentException("expert pruning: the model has no MoE layers (moeEvery = 0)");
    }
    if (remove < 1 || remove >= c.experts()) {
      throw new IllegalArgumentException("expert pruning: remove must be in [1, " + (c.experts() - 1)
          + "] (at least one expert must stay), got " + remove);
    }
    if (recovery != null && recoveryData == null) {
      throw new IllegalArgumentException("expert pruning: a recovery configuration needs recovery training data");
    }
    long[][] load = measureLoad(model, calibration, window);
    int keepCount = c.experts() - remove;
    int[][] kept = new int[load.length][];
    int[][] removed = new int[load.length][];
    for (int l = 0; l < load.length; l++) {
      long[] ld = load[l];
      // Least-loaded first; ties go to the higher id so the result is deterministic.
      Integer[] order = IntStream.range(0, ld.length).boxed().toArray(Integer[]::new);
      Arrays.sort(order, Comparator.<Integer>comparingLong(i -> ld[i]).thenComparing(i -> -i));
      removed[l] = Arrays.stream(order, 0, remove).mapToInt(Integer::intValue).sorted().toArray();
      kept[l] = Arrays.stream(order, remove, ld.length).mapToInt(Integer::intValue).sorted().toArray();
    }
    double lossBefore = ModelSurgery.loss(model, evaluation, window);
    int topK = Math.min(c.topK(), keepCount);
    IteraLiteConfig smaller = ModelSurgery.withFields(c, Map.of("experts", keepCount, "topK", topK));
    IteraLiteModel out = (IteraLiteModel) ModelSurgery.newModel(model, smaller);
    try {
      List<String> moePrefixes = new ArrayList<>();
      for (int i = 0; i < c.nLayers(); i++) {
        if (c.isMoeLayer(i)) {
          moePrefixes.add("blocks." + i + ".moe.");
        }
      }
      for (Parameter p : out.parameters().parameters()) {
        Parameter src = model.parameters().get(p.name());
        int layer = -1;
        for (int l = 0; l < moePrefixes.size(); l++) {
          if (p.name().startsWith(moePrefixes.get(l))) {
            layer = l;
          }
        }
        if (layer >= 0) {
          ModelSurgery.gather(src, p, 0, kept[layer]); // router rows and expert slabs share dimension 0
        } else {
          ModelSurgery.copy(src, p);
        }
      }
      double lossAfterPrune = ModelSurgery.loss(out, evaluation, window);
      double lossAfterRecovery = Double.NaN;
      long steps = 0;
      if (recovery != null) {
        try (Trainer t = new Trainer(out, recovery, recoveryData, null)) {
          steps = t.run().stepsCompleted();
        }
        lossAfterRecovery = ModelSurgery.loss(out, evaluation, window);
      }
      Report r = new Report(c.experts(), keepCount, c.topK(), topK, load, removed, model.parameters().parameterCount(),
          out.parameters().parameterCount(), lossBefore, lossAfterPrune, lossAfterRecovery, steps);
      return new Pruned(out, r);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }
}
