package dev.iteralite.compress;

import dev.iteralite.backend.Backend;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.nn.Parameter;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;

/**
 * The knowledge-distillation objective of one batch (Hinton et al.): {@code alpha * CE(student,
 * targets) + (1 - alpha) * tau^2 * KL(softmax(teacher / tau) || softmax(student / tau))}, both terms
 * averaged over the positions whose target is not -1. The {@code tau^2} factor keeps the soft term's
 * gradient on the scale of the hard term's as {@code tau} grows. Gradients are exact: {@code
 * dLoss/dz = alpha (softmax(z) - onehot) / n + (1 - alpha) tau (softmax(z/tau) - softmax(t/tau)) / n}.
 *
 * <p>Holds the full [T, V] logits of the batch (distillation batches are small); computed in
 * double precision in Java, the two projections on the backend.
 */
public final class DistillationLoss implements IteraLiteModel.HeadObjective {
  private final Backend backend;
  private final float[] teacher;
  private final int[] targets;
  private final double alpha;
  private final double tau;
  private double lastCe = Double.NaN;
  private double lastKl = Double.NaN;

  /**
   * @param teacherLogits the teacher's logits [T, V] for the same tokens, row-major
   * @param targets next-token ids [T]; -1 skips a position (in both terms)
   * @param alpha weight of the hard-target cross-entropy, in [0, 1]
   * @param temperature softening temperature tau, > 0
   */
  public DistillationLoss(Backend backend, float[] teacherLogits, int[] targets, double alpha, double temperature) {
    if (backend == null || teacherLogits == null || targets == null) {
      throw new IllegalArgumentException("distillation loss: backend, teacher logits and targets must be non-null");
    }
    if (!(alpha >= 0 && alpha <= 1)) {
      throw new IllegalArgumentException("distillation loss: alpha must be in [0, 1], got " + alpha);
    }
    if (!(temperature > 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("distillation loss: temperature must be finite and > 0, got " + temperature);
    }
    if (targets.length == 0 || teacherLogits.length % targets.length != 0) {
      throw new IllegalArgumentException("distillation loss: " + teacherLogits.length + " teacher logits do not form "
          + targets.length + " rows");
    }
    this.backend = backend;
    this.teacher = teacherLogits;
    this.targets = targets;
    this.alpha = alpha;
    this.tau = temperature;
  }

  /** Mean hard-target cross-entropy of the latest call. */
  public double lastCrossEntropy() {
    return lastCe;
  }

  /** Mean KL(teacher_tau || student_tau) of the latest call (without the tau^2 factor). */
  public double lastKl() {
    return lastKl;
  }

  @Override
  public double apply(Tensor hidden, Parameter head, Tensor dHidden, Arena arena) {
    int t = Math.toIntExact(hidden.dim(0));
    int v = Math.toIntExact(head.shape()[0]);
    if (t != targets.length || (long) t * v != teacher.length) {
      throw new IllegalArgumentException("distillation loss: the student gives " + t + " x " + v + " logits but the teacher "
          + teacher.length + " values for " + targets.length + " targets; teacher and student need the same vocabulary");
    }
    Tensor logits = arena.allocate(hidden.dtype(), t, v);
    backend.gemm(false, true, 1f, hidden, head.value(), 0f, logits);
    double[] z = logits.toDoubleArray();
    long n = 0;
    for (int y : targets) {
      if (y != -1) {
        if (y < 0 || y >= v) {
          throw new IllegalArgumentException("distillation loss: target " + y + " is outside [0, " + v + ")");
        }
        n++;
      }
    }
    if (n == 0) {
      throw new IllegalArgumentException("distillation loss: every target is -1; nothing to learn from");
    }
    double ce = 0;
    double kl = 0;
    double[] g = dHidden == null ? null : new double[z.length];
    double[] q = new double[v];
    double[] p = new double[v];
    double[] s1 = new double[v];
    for (int r = 0; r < t; r++) {
      int y = targets[r];
      if (y == -1) {
        continue;
      }
      int o = r * v;
      double lse1 = logSumExp(z, o, v, 1.0, s1);
      double lseS = logSumExp(z, o, v, 1.0 / tau, q);
      double lseT = logSumExpF(teacher, o, v, 1.0 / tau, p);
      ce += lse1 - z[o + y];
      for (int j = 0; j < v; j++) {
        double logQ = z[o + j] / tau - lseS;
        double logP = teacher[o + j] / tau - lseT;
        if (p[j] > 0) {
          kl += p[j] * (logP - logQ);
        }
      }
      if (g != null) {
        for (int j = 0; j < v; j++) {
          g[o + j] = (alpha * (s1[j] - (j == y ? 1 : 0)) + (1 - alpha) * tau * (q[j] - p[j])) / n;
        }
      }
    }
    lastCe = ce / n;
    lastKl = kl / n;
    if (g != null) {
      Tensor gt = arena.allocate(hidden.dtype(), t, v);
      gt.copyFrom(g);
      backend.gemm(false, false, 1f, gt, head.value(), 1f, dHidden);
      backend.gemm(true, false, 1f, gt, hidden, 1f, head.grad());
    }
    return alpha * lastCe + (1 - alpha) * tau * tau * lastKl;
  }

  /** logsumexp of x[o..o+v) * scale; writes the softmax into {@code probs}. */
  private static double logSumExp(double[] x, int o, int v, double scale, double[] probs) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v; j++) {
      max = Math.max(max, x[o + j] * scale);
    }
    double sum = 0;
    for (int j = 0; j < v; j++) {
      probs[j] = Math.exp(x[o + j] * scale - max);
      sum += probs[j];
    }
    for (int j = 0; j < v; j++) {
      probs[j] /= sum;
    }
    return max + Math.log(sum);
  }

  private static double logSumExpF(float[] x, int o, int v, double scale, double[] probs) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v; j++) {
      max = Math.max(max, x[o + j] * scale);
    }
    double sum = 0;
    for (int j = 0; j < v; j++) {
      probs[j] = Math.exp(x[o + j] * scale - max);
      sum += probs[j];
    }
    for (int j = 0; j < v; j++) {
      probs[j] /= sum;
    }
    return max + Math.log(sum);
  }
}
