package dev.iteralite.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Random;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reference backend is the oracle, so it is checked on its own: known values, and every
 * backward against float64 central finite differences of its forward.
 */
class ReferenceBackendTest {
  private static final ReferenceBackend REF = new ReferenceBackend();
  private static final double H = 1e-6;
  private static final double REL = 1e-6;

  private Arena ar;
  private final Random rnd = new Random(5);

  @BeforeEach
  void open() {
    ar = Arena.open();
  }

  @AfterEach
  void close() {
    ar.close();
  }

  private Tensor rand(double scale, long... shape) {
    Tensor t = ar.allocate(DType.F64, shape);
    for (long i = 0; i < t.size(); i++) {
      t.setDoubleAt(i, (rnd.nextDouble() * 2 - 1) * scale);
    }
    return t;
  }

  private Tensor zeros(long... shape) {
    return ar.allocate(DType.F64, shape);
  }

  private static double dot(Tensor a, Tensor b) {
    double s = 0;
    for (long i = 0; i < a.size(); i++) {
      s += a.getDoubleAt(i) * b.getDoubleAt(i);
    }
    return s;
  }

  /** Checks analytic[i] == d loss / d x[i] by central differences, for every element of x. */
  private static void gradCheck(String what, Tensor x, Tensor analytic, DoubleSupplier loss) {
    double maxErr = 0;
    for (long i = 0; i < x.size(); i++) {
      double old = x.getDoubleAt(i);
      x.setDoubleAt(i, old + H);
      double up = loss.getAsDouble();
      x.setDoubleAt(i, old - H);
      double down = loss.getAsDouble();
      x.setDoubleAt(i, old);
      double numeric = (up - down) / (2 * H);
      double a = analytic.getDoubleAt(i);
      double err = Math.abs(numeric - a) / Math.max(1.0, Math.abs(numeric));
      maxErr = Math.max(maxErr, err);
      assertTrue(err < REL, what + "[" + i + "]: analytic " + a + " vs numeric " + numeric);
    }
    assertTrue(maxErr < REL);
  }

  @Test
  void knownValues() {
    assertEquals(0.8411919906082768, ReferenceBackend.activate(Activation.GELU, 1.0), 1e-15);
    assertEquals(0.7310585786300049, ReferenceBackend.activate(Activation.SILU, 1.0), 1e-15);
    assertEquals(Math.log(2), ReferenceBackend.activate(Activation.SOFTPLUS, 0.0), 1e-15);
    assertEquals(25.0, ReferenceBackend.activate(Activation.SOFTPLUS, 25.0), 0.0, "identity above 20");
    assertEquals(1.0, ReferenceBackend.derivative(Activation.SOFTPLUS, 25.0), 0.0);
    assertEquals(Math.log1p(Math.exp(20.0)), ReferenceBackend.activate(Activation.SOFTPLUS, 20.0), 0.0);

    Tensor a = ar.adopt(Tensor.ofDoubles(new double[] {1, 2, 3, 4, 5, 6}, 2, 3));
    Tensor b = ar.adopt(Tensor.ofDoubles(new double[] {1, 0, 0, 1, 1, 1}, 3, 2));
    Tensor c = ar.adopt(Tensor.ofDoubles(new double[] {Double.NaN, Double.NaN, Double.NaN, Double.NaN}, 2, 2));
    REF.gemm(false, false, 2f, a, b, 0f, c);
    assertEquals(java.util.List.of(8.0, 10.0, 20.0, 22.0), java.util.Arrays.stream(c.toDoubleArray()).boxed().toList());
    REF.gemm(true, true, 1f, b, a, 1f, c); // (b^T a^T) = (a b)^T, added to c
    assertEquals(java.util.List.of(12.0, 20.0, 25.0, 33.0), java.util.Arrays.stream(c.toDoubleArray()).boxed().toList());

    // one AdamW step from zero moments: update = lr * (g / (|g| + eps) + wd * p)
    Tensor p = ar.adopt(Tensor.ofDoubles(new double[] {1.0, -2.0}, 2));
    Tensor g = ar.adopt(Tensor.ofDoubles(new double[] {2.0, -4.0}, 2));
    Tensor m = zeros(2);
    Tensor v = zeros(2);
    REF.adamW(p, g, m, v, new AdamWStep(0.1, 0.9, 0.999, 1e-8, 0.01, 0.5, 1));
    assertEquals(1.0 - 0.1 * (1.0 / (1.0 + 1e-8) + 0.01), p.getDouble(0), 1e-15);
    assertEquals(-2.0 - 0.1 * (-2.0 / (2.0 + 1e-8) - 0.02), p.getDouble(1), 1e-15);
    assertEquals(0.1, m.getDouble(0), 1e-15);
    assertEquals(0.001 * 4, v.getDouble(1), 1e-15); // g = -4 * gradScale 0.5

    Tensor logits = ar.adopt(Tensor.ofDoubles(new double[] {0, 0, 0, 0}, 1, 4));
    Tensor losses = zeros(1);
    double sum = REF.crossEntropy(logits, ar.adopt(Tensor.ofInts(new int[] {2}, 1)), -1, 1f, losses, logits);
    assertEquals(Math.log(4), sum, 1e-15);
    assertEquals(-0.75, logits.getDouble(0, 2), 1e-15);
    assertEquals(0.25, logits.getDouble(0, 0), 1e-15);
  }

  @Test
  void normGradients() {
    int r = 3;
    int c = 7;
    Tensor x = rand(2, r, c);
    Tensor w = rand(1.5, c);
    Tensor b = rand(0.5, c);
    Tensor g = rand(1, r, c);
    Tensor y = zeros(r, c);
    Tensor mean = zeros(r);
    Tensor rstd = zeros(r);
    DoubleSupplier rms = () -> {
      REF.rmsNormForward(x, w, 1e-5f, y, rstd);
      return dot(y, g);
    };
    rms.getAsDouble();
    Tensor dx = zeros(r, c);
    Tensor dw = zeros(c);
    REF.rmsNormBackward(g, x, w, rstd, dx, dw);
    gradCheck("rmsnorm dx", x, dx, rms);
    gradCheck("rmsnorm dw", w, dw, rms);

    DoubleSupplier ln = () -> {
      REF.layerNormForward(x, w, b, 1e-5f, y, mean, rstd);
      return dot(y, g);
    };
    ln.getAsDouble();
    Tensor dx2 = zeros(r, c);
    Tensor dw2 = zeros(c);
    Tensor db2 = zeros(c);
    REF.layerNormBackward(g, x, w, mean, rstd, dx2, dw2, db2);
    gradCheck("layernorm dx", x, dx2, ln);
    gradCheck("layernorm dw", w, dw2, ln);
    gradCheck("layernorm db", b, db2, ln);
  }

  @Test
  void softmaxAndActivationGradients() {
    Tensor x = rand(3, 2, 9);
    Tensor g = rand(1, 2, 9);
    Tensor y = zeros(2, 9);
    DoubleSupplier sm = () -> {
      REF.softmaxForward(x, y);
      return dot(y, g);
    };
    sm.getAsDouble();
    Tensor dx = zeros(2, 9);
    REF.softmaxBackward(y, g, dx);
    gradCheck("softmax dx", x, dx, sm);

    for (Activation f : Activation.values()) {
      Tensor xa = rand(6, 41);
      xa.setDoubleAt(0, 25.0); // softplus identity branch
      xa.setDoubleAt(1, -25.0);
      Tensor ga = rand(1, 41);
      Tensor ya = zeros(41);
      DoubleSupplier act = () -> {
        REF.activationForward(f, xa, ya);
        return dot(ya, ga);
      };
      Tensor dxa = rand(1, 41);
      Tensor start = ar.adopt(Tensor.ofDoubles(dxa.toDoubleArray(), 41));
      REF.activationBackward(f, xa, ga, dxa);
      REF.axpy(-1f, start, dxa); // the backward accumulated: remove the starting values
      gradCheck(f + " dx", xa, dxa, act);
    }
  }

  @Test
  void lossAndEmbeddingGradients() {
    int t = 4;
    int c = 5;
    int v = 6;
    Tensor logits = rand(2, t, v);
    Tensor targets = ar.adopt(Tensor.ofInts(new int[] {1, -100, 5, 0}, t));
    Tensor losses = zeros(t);
    float scale = 0.25f;
    DoubleSupplier xent = () -> scale * REF.crossEntropy(logits, targets, -100, scale, losses, null);
    Tensor dl = zeros(t, v);
    REF.crossEntropy(logits, targets, -100, scale, losses, dl);
    assertEquals(0.0, losses.getDouble(1), 0.0, "ignored rows lose nothing");
    gradCheck("crossEntropy dlogits", logits, dl, xent);

    Tensor h = rand(1, t, c);
    Tensor w = rand(1, v, c);
    DoubleSupplier fused = () -> scale * REF.fusedLinearCrossEntropy(h, w, targets, -100, scale, losses, null, null);
    Tensor dh = zeros(t, c);
    Tensor dw = zeros(v, c);
    double sum = REF.fusedLinearCrossEntropy(h, w, targets, -100, scale, losses, dh, dw);
    gradCheck("fused dh", h, dh, fused);
    gradCheck("fused dw", w, dw, fused);
    // the fused loss equals the unfused one on materialised logits
    Tensor lg = zeros(t, v);
    REF.gemm(false, true, 1f, h, w, 0f, lg);
    assertEquals(REF.crossEntropy(lg, targets, -100, 1f, zeros(t), null), sum, 1e-12);

    Tensor table = rand(1, v, c);
    Tensor ids = ar.adopt(Tensor.ofInts(new int[] {3, 0, 3, 5}, t));
    Tensor out = zeros(t, c);
    Tensor gout = rand(1, t, c);
    DoubleSupplier emb = () -> {
      REF.embeddingForward(ids, table, out);
      return dot(out, gout);
    };
    Tensor dtable = zeros(v, c);
    REF.embeddingBackward(ids, gout, dtable);
    gradCheck("embedding dtable", table, dtable, emb);
  }

  @Test
  void acceptsAnyStrides() {
    Tensor big = rand(1, 6, 10);
    Tensor xT = big.view(0, new long[] {10, 6}, new long[] {1, 10}); // a transposed view
    Tensor y = zeros(10, 6);
    REF.softmaxForward(xT, y);
    double rowSum = 0;
    for (int j = 0; j < 6; j++) {
      rowSum += y.getDouble(3, j);
    }
    assertEquals(1.0, rowSum, 1e-15);
    assertEquals(Math.exp(big.getDouble(2, 3)) / sumExpColumn(big, 3), y.getDouble(3, 2), 1e-15);
  }

  private static double sumExpColumn(Tensor t, int col) {
    double s = 0;
    for (int i = 0; i < t.dim(0); i++) {
      s += Math.exp(t.getDouble(i, col));
    }
    return s;
  }
}
