package dev.iteralite.compress;

import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.PrecisionPlan;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Chooses a mixed-precision {@link PrecisionPlan} for an {@link IteraLiteModel} by a sensitivity
 * pass: starting from every matrix in the {@code high} format, it measures on calibration windows
 * how much the loss rises when one matrix alone drops to the {@code low} format, ranks the matrices
 * by loss increase per byte saved, and moves them to {@code low} cheapest first until the target is
 * met: a size ({@link Target#maxBytes}) or a loss increase ({@link Target#maxLossIncrease}, checked
 * on the real combined plan, not the sum of single-matrix estimates). Each measurement decodes the
 * calibration windows with the compressed weights ({@link QuantizedModel#languageModel()}), so
 * the pass costs (matrices + 2) evaluations of the calibration set.
 */
public final class MixedPrecisionSearch {
  /**
   * What the search must reach: at most {@code maxBytes} of decoding weights (0 = no size target)
   * and at most {@code maxLossIncrease} nats/token over the all-{@code high} plan (infinity = no
   * quality target). With both, it stops at the size target unless quality runs out first.
   *
   * @param maxBytes size target in bytes, or 0
   * @param maxLossIncrease loss budget in nats per token (>= 0), or infinity
   */
  public record Target(long maxBytes, double maxLossIncrease) {
    /** Validates the target. */
    public Target {
      if (maxBytes < 0) {
        throw new IllegalArgumentException("MixedPrecisionSearch: maxBytes must be >= 0 (0 = none), got " + maxBytes);
      }
      if (!(maxLossIncrease >= 0)) {
        throw new IllegalArgumentException("MixedPrecisionSearch: maxLossIncrease must be >= 0, got " + maxLossIncrease);
      }
      if (maxBytes == 0 && maxLossIncrease == Double.POSITIVE_INFINITY) {
        throw new IllegalArgumentException("MixedPrecisionSearch: give a size target, a loss budget or both");
      }
    }

    /** Smallest plan whose decoding weights fit in {@code bytes}. */
    public static Target size(long bytes) {
      return new Target(bytes, Double.POSITIVE_INFINITY);
    }

    /** Smallest plan whose calibration loss rises by at most {@code nats} per token. */
    public static Target lossIncrease(double nats) {
      return new Target(0, nats);
    }
  }

  /**
   * One matrix's measured sensitivity.
   *
   * @param name matrix name (see {@link PrecisionPlan})
   * @param lossIncrease calibration loss with only this matrix in {@code low} minus the all-high loss
   * @param bytesSaved bytes saved by storing it in {@code low}
   */
  public record Sensitivity(String name, double lossIncrease, long bytesSaved) {}

  /**
   * The search's outcome.
   *
   * @param plan the chosen plan
   * @param baseLoss calibration loss of the all-{@code high} plan (nats/token)
   * @param loss calibration loss of the chosen plan
   * @param bytes decoding-weight bytes of the chosen plan
   * @param highBytes bytes of the all-{@code high} plan
   * @param lowered matrices moved to {@code low}, in the order chosen
   * @param sensitivities every matrix's measured sensitivity, most sensitive first
   * @param targetMet whether the target was reached
   */
  public record Result(PrecisionPlan plan, double baseLoss, double loss, long bytes, long highBytes, List<String> lowered,
      List<Sensitivity> sensitivities, boolean targetMet) {}

  private MixedPrecisionSearch() {}

  /**
   * Runs the search.
   *
   * @param calibrationInputs windows of input tokens, {@code batch} windows laid out token-major
   * @param calibrationTargets next tokens, same layout
   * @param batch number of windows
   * @throws IllegalArgumentException if {@code low} is not smaller than {@code high} or the inputs are inconsistent
   */
  public static Result search(IteraLiteModel model, WeightFormat high, WeightFormat low, Target target,
      int[] calibrationInputs, int[] calibrationTargets, int batch) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(high, "high");
    Objects.requireNonNull(low, "low");
    Objects.requireNonNull(target, "target");
    if (low.bitsPerWeight(low.blockSize() * 4L) >= high.bitsPerWeight(Math.max(high.blockSize(), low.blockSize()) * 4L)) {
      throw new IllegalArgumentException("MixedPrecisionSearch: the low format " + low.id() + " must store fewer bits than the high "
          + high.id());
    }
    if (calibrationInputs == null || calibrationTargets == null || calibrationInputs.length != calibrationTargets.length
        || batch < 1 || calibrationInputs.length == 0 || calibrationInputs.length % batch != 0) {
      throw new IllegalArgumentException("MixedPrecisionSearch: the calibration inputs and targets must be equal-length, non-empty"
          + " batches of " + batch + " windows");
    }
    List<String> names = QuantizedModel.matrixNames(model);
    PrecisionPlan highPlan = PrecisionPlan.uniform(high);
    double baseLoss;
    long highBytes;
    try (QuantizedModel q = QuantizedModel.quantize(model, highPlan)) {
      baseLoss = q.loss(calibrationInputs, calibrationTargets, batch);
      highBytes = q.weightBytes();
    }
    List<Sensitivity> sensitivities = new ArrayList<>();
    for (String name : names) {
      PrecisionPlan one = PrecisionPlan.builder(high).exact(name, low).build();
      try (QuantizedModel q = QuantizedModel.quantize(model, one)) {
        if (q.formatOf(name) != low) {
          continue; // the matrix's width does not suit the low format's blocks
        }
        double loss = q.loss(calibrationInputs, calibrationTargets, batch);
        sensitivities.add(new Sensitivity(name, loss - baseLoss, highBytes - q.weightBytes()));
      }
    }
    List<Sensitivity> byCost = new ArrayList<>(sensitivities);
    // cheapest loss per byte first; a negative increase (noise) counts as free
    byCost.sort(Comparator.comparingDouble(s -> Math.max(0, s.lossIncrease()) / Math.max(1, s.bytesSaved())));
    List<String> lowered = new ArrayList<>();
    PrecisionPlan plan = highPlan;
    long bytes = highBytes;
    double loss = baseLoss;
    boolean met = meets(target, bytes, loss - baseLoss);
    for (Sensitivity s : byCost) {
      if (target.maxBytes() > 0 && bytes <= target.maxBytes()) {
        break;
      }
      List<String> trial = new ArrayList<>(lowered);
      trial.add(s.name());
      PrecisionPlan candidate = planOf(high, low, trial);
      double candidateLoss;
      long candidateBytes;
      try (QuantizedModel q = QuantizedModel.quantize(model, candidate)) {
        candidateLoss = q.loss(calibrationInputs, calibrationTargets, batch);
        candidateBytes = q.weightBytes();
      }
      if (candidateLoss - baseLoss > target.maxLossIncrease()) {
        continue; // over the quality budget with this matrix: try the next one
      }
      lowered = trial;
      plan = candidate;
      bytes = candidateBytes;
      loss = candidateLoss;
      met = meets(target, bytes, loss - baseLoss);
    }
    sensitivities.sort(Comparator.comparingDouble(Sensitivity::lossIncrease).reversed());
    return new Result(plan, baseLoss, loss, bytes, highBytes, List.copyOf(lowered), List.copyOf(sensitivities), met);
  }

  private static boolean meets(Target t, long bytes, double increase) {
    return (t.maxBytes() == 0 || bytes <= t.maxBytes()) && increase <= t.maxLossIncrease();
  }

  private static PrecisionPlan planOf(WeightFormat high, WeightFormat low, List<String> lowered) {
    PrecisionPlan.Builder b = PrecisionPlan.builder(high);
    for (String n : lowered) {
      b.exact(n, low);
    }
    return b.build();
  }
}
