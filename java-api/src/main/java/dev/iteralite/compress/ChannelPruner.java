package dev.iteralite.compress;

import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.Arena;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Structured pruning of the Mamba mixers' inner channels: removes whole channels of every mixer
 * and builds a smaller dense model whose mixers have an explicit, narrower inner width ({@link
 * IteraLiteConfig#dInner()}).
 *
 * <p><b>Why a channel can go.</b> Inner channel {@code c} of a mixer reaches the rest of the network
 * only through column {@code c} of {@code out_proj} (its output) and column {@code c} of {@code
 * x_proj} (its share of every channel's dt, B and C); the scan itself is channel-wise. Zeroing those
 * two columns is therefore exactly the same function as deleting the channel with all its weights
 * (in_proj rows of x and z, conv taps and bias, dt_proj row and bias, A_log row, D). The importance
 * score is the first-order Taylor estimate of the loss change of that zeroing (Molchanov et al.
 * 2019): per calibration batch {@code s_c = sum over both columns of w * dL/dw}, scored as the mean
 * of {@code s_c^2}. The lowest-scored channels of each mixer go (the same number per mixer, since the
 * configuration has one inner width); an optional short recovery fine-tune follows.
 */
public final class ChannelPruner {
  private ChannelPruner() {}

  /**
   * The outcome of one prune.
   *
   * @param scores Taylor importance per channel, [layer][channel] (original channel ids)
   * @param kept the channels kept in each layer (original ids, ascending)
   * @param lossBefore mean next-token loss (nats) of the original model on the evaluation tokens
   * @param lossAfterPrune the same right after pruning
   * @param lossAfterRecovery the same after the recovery fine-tune (NaN without one)
   */
  public record Report(int innerBefore, int innerAfter, double[][] scores, int[][] kept, long parametersBefore,
      long parametersAfter, double lossBefore, double lossAfterPrune, double lossAfterRecovery, long recoverySteps) {}

  /** The pruned model (the caller's to close) and its report. */
  public record Pruned(IteraLiteModel model, Report report) implements AutoCloseable {
    @Override
    public void close() {
      model.close();
    }
  }

  /**
   * Taylor importance of every inner channel, [layer][channel], over contiguous windows of {@code
   * window} tokens of {@code calibration}, four windows per backward. Uses the model's gradient
   * buffers and leaves them zeroed; the weights are not changed.
   */
  public static double[][] channelScores(IteraLiteModel model, TokenSequence calibration, int window) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(calibration, "calibration");
    if (window < 1 || calibration.size() < window + 1L) {
      throw new IllegalArgumentException("channel pruning: need window >= 1 and at least window + 1 calibration tokens,"
          + " got window " + window + " and " + calibration.size() + " tokens");
    }
    if (calibration.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException("channel pruning: calibration vocabulary " + calibration.vocabSize()
          + " exceeds the model's " + model.vocabSize());
    }
    IteraLiteConfig c = model.config();
    int e = c.dInner();
    int d = c.dModel();
    int rows = c.dtRank() + 2 * c.dState();
    double[][] scores = new double[c.nLayers()][e];
    ParameterSet ps = model.parameters();
    long windows = (calibration.size() - 1) / window;
    int batches = 0;
    int[] buf = new int[window + 1];
    for (long w0 = 0; w0 < windows; w0 += 4) {
      int b = (int) Math.min(4, windows - w0);
      int[] in = new int[b * window];
      int[] tg = new int[b * window];
      for (int i = 0; i < b; i++) {
        calibration.read((w0 + i) * window, buf, 0, window + 1);
        System.arraycopy(buf, 0, in, i * window, window);
        System.arraycopy(buf, 1, tg, i * window, window);
      }
      ps.zeroGrads(model.backend());
      try (Arena arena = Arena.open()) {
        model.forwardBackward(in, tg, b, arena);
      }
      for (int l = 0; l < c.nLayers(); l++) {
        String p = "blocks." + l + ".mixer.";
        double[] ow = ps.get(p + "out_proj.weight").value().toDoubleArray(); // [D, E]
        double[] og = ps.get(p + "out_proj.weight").grad().toDoubleArray();
        double[] xw = ps.get(p + "x_proj.weight").value().toDoubleArray(); // [R + 2N, E]
        double[] xg = ps.get(p + "x_proj.weight").grad().toDoubleArray();
        double[] s = new double[e];
        for (int j = 0; j < d; j++) {
          for (int ch = 0; ch < e; ch++) {
            s[ch] += ow[j * e + ch] * og[j * e + ch];
          }
        }
        for (int j = 0; j < rows; j++) {
          for (int ch = 0; ch < e; ch++) {
            s[ch] += xw[j * e + ch] * xg[j * e + ch];
          }
        }
        for (int ch = 0; ch < e; ch++) {
          scores[l][ch] += s[ch] * s[ch];
        }
      }
      batches++;
    }
    ps.zeroGrads(model.backend());
    for (double[] layer : scores) {
      for (int ch = 0; ch < e; ch++) {
        layer[ch] /= batches;
      }
    }
    return scores;
  }

  /**
   * Keeps the {@code keep} most important inner channels of every mixer.
   *
   * @param keep the new inner width, in [1, dInner - 1]
   * @param calibration tokens the importance is measured on
   * @param evaluation tokens the losses are measured on (may be the same)
   * @param window window length for calibration and evaluation
   * @param recovery fine-tuning configuration for the pruned model, or null for none
   * @param recoveryData training tokens of the fine-tune (required with {@code recovery})
   */
  public static Pruned prune(IteraLiteModel model, int keep, TokenSequence calibration, TokenSequence evaluation,
      int window, TrainingConfig recovery, TokenSequence recoveryData) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(evaluation, "evaluation");
    IteraLiteConfig c = model.config();
    int e = c.dInner();
    if (keep < 1 || keep >= e) {
      throw new IllegalArgumentException("channel pruning: keep must be in [1, " + (e - 1) + "] (the current inner width is "
          + e + "), got " + keep);
    }
    if (recovery != null && recoveryData == null) {
      throw new IllegalArgumentException("channel pruning: a recovery configuration needs recovery training data");
    }
    double[][] scores = channelScores(model, calibration, window);
    int[][] kept = new int[c.nLayers()][];
    for (int l = 0; l < kept.length; l++) {
      double[] s = scores[l];
      // Most important first; ties go to the lower id so the result is deterministic.
      Integer[] order = IntStream.range(0, e).boxed().toArray(Integer[]::new);
      Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -s[i]).thenComparingInt(i -> i));
      kept[l] = Arrays.stream(order, 0, keep).mapToInt(Integer::intValue).sorted().toArray();
    }
    double lossBefore = ModelSurgery.loss(model, evaluation, window);
    IteraLiteConfig smaller = ModelSurgery.withFields(c, Map.of("dInner", keep));
    IteraLiteModel out = (IteraLiteModel) ModelSurgery.newModel(model, smaller);
    try {
      for (Parameter p : out.parameters().parameters()) {
        Parameter src = model.parameters().get(p.name());
        int layer = mixerLayer(p.name());
        if (layer < 0) {
          ModelSurgery.copy(src, p);
          continue;
        }
        int[] k = kept[layer];
        String local = p.name().substring(("blocks." + layer + ".mixer.").length());
        switch (local) {
          case "in_proj.weight" -> { // rows: x channels, then z channels
            int[] both = new int[2 * k.length];
            for (int i = 0; i < k.length; i++) {
              both[i] = k[i];
              both[k.length + i] = e + k[i];
            }
            ModelSurgery.gather(src, p, 0, both);
          }
          case "conv.weight", "conv.bias", "dt_proj.weight", "dt_proj.bias", "A_log", "D" ->
              ModelSurgery.gather(src, p, 0, k);
          case "x_proj.weight", "out_proj.weight" -> ModelSurgery.gather(src, p, 1, k);
          default -> throw new IllegalStateException("channel pruning does not know mixer parameter " + p.name());
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
      Report r = new Report(e, keep, scores, kept, model.parameters().parameterCount(),
          out.parameters().parameterCount(), lossBefore, lossAfterPrune, lossAfterRecovery, steps);
      return new Pruned(out, r);
    } catch (RuntimeException ex) {
      out.close();
      throw ex;
    }
  }

  /** The block index of a mixer parameter name ({@code blocks.i.mixer.*}), else -1. */
  private static int mixerLayer(String name) {
    if (!name.startsWith("blocks.")) {
      return -1;
    }
    int dot = name.indexOf('.', 7);
    if (dot < 0 || !name.startsWith(".mixer.", dot)) {
      return -1;
    }
    return Integer.parseInt(name.substring(7, dot));
  }
}
