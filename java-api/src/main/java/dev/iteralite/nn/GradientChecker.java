package dev.iteralite.nn;

import dev.iteralite.backend.Backends;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Checks a layer's backward against central finite differences in float64.
 *
 * <p>Build the layer on the reference backend with an F64 {@link ParameterSet} and give it an F64
 * input (or I32 ids). The checker takes the scalar loss L = sum(output * R) for a fixed random R,
 * runs backward with dL/dOutput = R, and compares every analytic derivative it samples (input
 * elements and each parameter's elements, up to {@link #maxElementsPerTensor}) with (L(x+h) -
 * L(x-h)) / 2h. An element passes when |analytic - numeric| <= atol + rtol * max(|analytic|,
 * |numeric|).
 */
public final class GradientChecker {
  /**
   * The outcome for one tensor.
   *
   * @param tensor "input" or the parameter name
   * @param checked number of elements compared
   * @param worstExcess largest |a - n| / (atol + rtol * max(|a|, |n|)); <= 1 means pass
   * @param worstAnalytic analytic value at the worst element
   * @param worstNumeric numeric value at the worst element
   */
  public record Result(String tensor, int checked, double worstExcess, double worstAnalytic, double worstNumeric) {
    public boolean passed() {
      return worstExcess <= 1.0;
    }
  }

  private double step = 1e-6;
  private double rtol = 1e-6;
  private double atol = 1e-8;
  private int maxElementsPerTensor = 48;
  private long seed = 42;

  /** Finite-difference step h (default 1e-6). */
  public GradientChecker step(double h) {
    this.step = h;
    return this;
  }

  /** Relative and absolute tolerances (defaults 1e-6, 1e-8). */
  public GradientChecker tolerances(double relative, double absolute) {
    this.rtol = relative;
    this.atol = absolute;
    return this;
  }

  /** How many elements per tensor to check (chosen at random; all if the tensor is smaller). */
  public GradientChecker maxElementsPerTensor(int n) {
    this.maxElementsPerTensor = n;
    return this;
  }

  public GradientChecker seed(long s) {
    this.seed = s;
    return this;
  }

  /**
   * Checks {@code layer} at {@code input}: the input gradient (if the input is floating point)
   * and the gradient of every parameter in {@code params}.
   */
  public List<Result> check(Layer layer, ParameterSet params, Tensor input) {
    if (params.dtype() != DType.F64) {
      throw new IllegalArgumentException("gradient checks need F64 parameters (build the ParameterSet with DType.F64)");
    }
    if (input.dtype() != DType.F64 && input.dtype() != DType.I32) {
      throw new IllegalArgumentException("gradient checks need an F64 (or I32 ids) input, got " + input.describe());
    }
    SplittableRandom random = new SplittableRandom(seed);
    List<Result> results = new ArrayList<>();
    try (Arena arena = Arena.open()) {
      params.zeroGrads(Backends.reference());
      Tensor out = layer.forward(input, arena);
      double[] projection = new double[Math.toIntExact(out.size())];
      for (int i = 0; i < projection.length; i++) {
        projection[i] = random.nextDouble() * 2 - 1;
      }
      Tensor dOut = arena.allocate(DType.F64, out.shape());
      dOut.copyFrom(projection);
      Tensor dInput = layer.backward(dOut, arena);

      if (input.dtype() == DType.F64) {
        if (dInput == null) {
          throw new IllegalStateException("layer returned no input gradient for a floating-point input");
        }
        results.add(checkScalar("input", input, dInput.toDoubleArray(), () -> loss(layer, input, projection)));
      }
      for (Parameter p : params.parameters()) {
        results.add(checkScalar(p.name(), p.value(), p.grad().toDoubleArray(), () -> loss(layer, input, projection)));
      }
    }
    return results;
  }

  /**
   * Compares {@code analytic} (dLoss/dx in row-major order) with central differences of {@code
   * loss} taken by perturbing elements of {@code x} in place: the building block for checking
   * anything with a scalar loss (loss heads, whole models).
   */
  public Result checkScalar(String name, Tensor x, double[] analytic, DoubleSupplier loss) {
    if (x.dtype() != DType.F64) {
      throw new IllegalArgumentException("gradient checks perturb F64 tensors, got " + x.describe() + " for " + name);
    }
    if (analytic.length != x.size()) {
      throw new IllegalArgumentException("analytic gradient has " + analytic.length + " elements, " + name + " has " + x.size());
    }
    int[] indices = sample(Math.toIntExact(x.size()), new SplittableRandom(seed ^ name.hashCode()));
    double worst = 0;
    double worstA = 0;
    double worstN = 0;
    for (int i : indices) {
      double original = x.getDoubleAt(i);
      x.setDoubleAt(i, original + step);
      double plus = loss.getAsDouble();
      x.setDoubleAt(i, original - step);
      double minus = loss.getAsDouble();
      x.setDoubleAt(i, original);
      double numeric = (plus - minus) / (2 * step);
      double a = analytic[i];
      double excess = Math.abs(a - numeric) / (atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)));
      if (!(excess <= worst)) { // also catches NaN
        worst = Double.isNaN(excess) ? Double.POSITIVE_INFINITY : excess;
        worstA = a;
        worstN = numeric;
      }
    }
    return new Result(name, indices.length, worst, worstA, worstN);
  }

  private static double loss(Layer layer, Tensor input, double[] projection) {
    try (Arena arena = Arena.open()) {
      Tensor out = layer.forward(input, arena);
      double sum = 0;
      for (int i = 0; i < projection.length; i++) {
        sum += out.getDoubleAt(i) * projection[i];
      }
      return sum;
    }
  }

  private int[] sample(int n, SplittableRandom random) {
    if (n <= maxElementsPerTensor) {
      int[] all = new int[n];
      for (int i = 0; i < n; i++) {
        all[i] = i;
      }
      return all;
    }
    return random.ints(0, n).distinct().limit(maxElementsPerTensor).toArray();
  }
}
