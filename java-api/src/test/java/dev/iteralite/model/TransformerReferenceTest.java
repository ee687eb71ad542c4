package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tiny random checkpoints written in llama2.c's format, loaded, and run through {@link Transformer}:
 * logits must equal a plain double-precision re-implementation of llama2.c's forward pass.
 */
class TransformerReferenceTest {
  @TempDir Path tmp;

  /** llama2.c's weights as flat arrays, in file order. */
  static final class Weights {
    final TransformerConfig c;
    final float[] emb;
    final float[][] rmsAtt;
    final float[][] wq;
    final float[][] wk;
    final float[][] wv;
    final float[][] wo;
    final float[][] rmsFfn;
    final float[][] w1;
    final float[][] w2;
    final float[][] w3;
    final float[] rmsFinal;
    final float[] wcls;

    Weights(TransformerConfig c, long seed) {
      this.c = c;
      Random r = new Random(seed);
      int d = c.dim();
      int kv = c.kvDim();
      int h = c.hiddenDim();
      int n = c.nLayers();
      emb = rnd(r, c.vocabSize() * d, 1.0);
      rmsAtt = new float[n][];
      wq = new float[n][];
      wk = new float[n][];
      wv = new float[n][];
      wo = new float[n][];
      rmsFfn = new float[n][];
      w1 = new float[n][];
      w2 = new float[n][];
      w3 = new float[n][];
      for (int l = 0; l < n; l++) {
        rmsAtt[l] = norm(r, d);
        wq[l] = rnd(r, d * d, 1.0 / Math.sqrt(d));
        wk[l] = rnd(r, kv * d, 1.0 / Math.sqrt(d));
        wv[l] = rnd(r, kv * d, 1.0 / Math.sqrt(d));
        wo[l] = rnd(r, d * d, 1.0 / Math.sqrt(d));
        rmsFfn[l] = norm(r, d);
        w1[l] = rnd(r, h * d, 1.0 / Math.sqrt(d));
        w2[l] = rnd(r, d * h, 1.0 / Math.sqrt(h));
        w3[l] = rnd(r, h * d, 1.0 / Math.sqrt(d));
      }
      rmsFinal = norm(r, d);
      wcls = c.sharedClassifier() ? emb : rnd(r, c.vocabSize() * d, 1.0 / Math.sqrt(d));
    }

    private static float[] rnd(Random r, int n, double scale) {
      float[] a = new float[n];
      for (int i = 0; i < n; i++) {
        a[i] = (float) (r.nextGaussian() * scale);
      }
      return a;
    }

    private static float[] norm(Random r, int n) {
      float[] a = new float[n];
      for (int i = 0; i < n; i++) {
        a[i] = (float) (1 + 0.3 * r.nextGaussian());
      }
      return a;
    }

    /** The checkpoint file bytes (RoPE tables filled with junk, which the loader must skip). */
    byte[] file() {
      ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(Llama2cCheckpoint.expectedBytes(c))).order(ByteOrder.LITTLE_ENDIAN);
      b.putInt(c.dim()).putInt(c.hiddenDim()).putInt(c.nLayers()).putInt(c.nHeads()).putInt(c.nKvHeads())
          .putInt(c.sharedClassifier() ? c.vocabSize() : -c.vocabSize()).putInt(c.seqLen());
      put(b, emb);
      for (float[][] t : new float[][][] {rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3}) {
        for (float[] a : t) {
          put(b, a);
        }
      }
      put(b, rmsFinal);
      for (int i = 0; i < c.seqLen() * c.headSize(); i++) {
        b.putFloat(12345f);
      }
      if (!c.sharedClassifier()) {
        put(b, wcls);
      }
      assertEquals(0, b.remaining());
      return b.array();
    }

    private static void put(ByteBuffer b, float[] a) {
      for (float v : a) {
        b.putFloat(v);
      }
    }
  }

  /** Straight from the equations, in double: logits for each position of {@code tokens}. */
  static double[][] reference(Weights w, int[] tokens) {
    TransformerConfig c = w.c;
    int d = c.dim();
    int hs = c.headSize();
    int kvDim = c.kvDim();
    int hidden = c.hiddenDim();
    int n = tokens.length;
    double[][][] keys = new double[c.nLayers()][n][];
    double[][][] values = new double[c.nLayers()][n][];
    double[][] out = new double[n][];
    for (int pos = 0; pos < n; pos++) {
      double[] x = new double[d];
      for (int i = 0; i < d; i++) {
        x[i] = w.emb[tokens[pos] * d + i];
      }
      for (int l = 0; l < c.nLayers(); l++) {
        double[] xn = rmsnorm(x, w.rmsAtt[l]);
        double[] q = matvec(w.wq[l], xn, d, d);
        double[] k = matvec(w.wk[l], xn, kvDim, d);
        double[] v = matvec(w.wv[l], xn, kvDim, d);
        rope(q, hs, pos);
        rope(k, hs, pos);
        keys[l][pos] = k;
        values[l][pos] = v;
        double[] att = new double[d];
        for (int h = 0; h < c.nHeads(); h++) {
          int g = h / (c.nHeads() / c.nKvHeads()); // grouped-query: consecutive heads share a KV head
          double[] s = new double[pos + 1];
          double max = Double.NEGATIVE_INFINITY;
          for (int t = 0; t <= pos; t++) {
            double dot = 0;
            for (int i = 0; i < hs; i++) {
              dot += q[h * hs + i] * keys[l][t][g * hs + i];
            }
            s[t] = dot / Math.sqrt(hs);
            max = Math.max(max, s[t]);
          }
          double sum = 0;
          for (int t = 0; t <= pos; t++) {
            s[t] = Math.exp(s[t] - max);
            sum += s[t];
          }
          for (int t = 0; t <= pos; t++) {
            for (int i = 0; i < hs; i++) {
              att[h * hs + i] += s[t] / sum * values[l][t][g * hs + i];
            }
          }
        }
        double[] o = matvec(w.wo[l], att, d, d);
        for (int i = 0; i < d; i++) {
          x[i] += o[i];
        }
        double[] xf = rmsnorm(x, w.rmsFfn[l]);
        double[] a = matvec(w.w1[l], xf, hidden, d);
        double[] b = matvec(w.w3[l], xf, hidden, d);
        for (int i = 0; i < hidden; i++) {
          a[i] = a[i] / (1 + Math.exp(-a[i])) * b[i];
        }
        double[] f = matvec(w.w2[l], a, d, hidden);
        for (int i = 0; i < d; i++) {
          x[i] += f[i];
        }
      }
      out[pos] = matvec(w.wcls, rmsnorm(x, w.rmsFinal), c.vocabSize(), d);
    }
    return out;
  }

  private static double[] rmsnorm(double[] x, float[] g) {
    double ss = 0;
    for (double v : x) {
      ss += v * v;
    }
    double inv = 1 / Math.sqrt(ss / x.length + 1e-5);
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = g[i] * x[i] * inv;
    }
    return y;
  }

  private static double[] matvec(float[] w, double[] x, int rows, int cols) {
    double[] y = new double[rows];
    for (int r = 0; r < rows; r++) {
      double s = 0;
      for (int k = 0; k < cols; k++) {
        s += w[r * cols + k] * x[k];
      }
      y[r] = s;
    }
    return y;
  }

  /** Rotates pairs (i, i+1) of every head by pos * 10000^(-(i mod hs)/hs). */
  private static void rope(double[] v, int hs, int pos) {
    for (int i = 0; i < v.length; i += 2) {
      double theta = pos * Math.pow(10000, -(double) (i % hs) / hs);
      double a = v[i];
      double b = v[i + 1];
      v[i] = a * Math.cos(theta) - b * Math.sin(theta);
      v[i + 1] = a * Math.sin(theta) + b * Math.cos(theta);
    }
  }

  private void check(TransformerConfig c, long seed) throws IOException {
    Weights w = new Weights(c, seed);
    Path f = tmp.resolve("m" + seed + ".bin");
    Files.write(f, w.file());
    int[] tokens = new int[c.seqLen()];
    Random r = new Random(seed + 1);
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(c.vocabSize());
    }
    double[][] want = reference(w, tokens);
    try (Llama2cCheckpoint ck = Llama2cCheckpoint.load(f)) {
      assertEquals(c, ck.config());
      Transformer m = new Transformer(Backends.cpu(), ck.config(), ck.weights());
      for (int round = 0; round < 2; round++) { // a reused cache gives the same answers
        try (KvCache cache = m.newCache()) {
          for (int pos = 0; pos < tokens.length; pos++) {
            float[] got = m.forward(tokens[pos], pos, cache);
            for (int v = 0; v < c.vocabSize(); v++) {
              double tol = 2e-4 * (1 + Math.abs(want[pos][v]));
              assertEquals(want[pos][v], got[v], tol, "pos " + pos + " logit " + v + " for " + c);
            }
          }
        }
      }
    }
  }

  @Test
  void groupedQueryUntiedMatchesReference() throws IOException {
    check(new TransformerConfig(16, 24, 2, 4, 2, 11, 12, false), 1);
  }

  @Test
  void multiHeadTiedMatchesReference() throws IOException {
    check(new TransformerConfig(16, 40, 3, 2, 2, 9, 10, true), 2);
  }

  @Test
  void unalignedShapesUseTheUnfusedPathAndMatch() throws IOException {
    // 6 * 12 and 10 * 12 floats are not multiples of the 16-float alignment: wk/wv and w1/w3 are
    // not adjacent, so the separate projections run.
    check(new TransformerConfig(12, 10, 2, 6, 3, 7, 9, true), 3);
  }

  @Test
  void multiQueryMatchesReference() throws IOException {
    check(new TransformerConfig(32, 48, 1, 8, 1, 13, 16, false), 4);
  }

  @Test
  void badFilesAreRejectedClearly() throws IOException {
    TransformerConfig c = new TransformerConfig(16, 24, 1, 4, 2, 11, 8, true);
    byte[] good = new Weights(c, 5).file();
    Path truncated = tmp.resolve("truncated.bin");
    Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 4));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Llama2cCheckpoint.load(truncated));
    assertTrue(e.getMessage().contains("expected " + good.length + " bytes") && e.getMessage().contains((good.length - 4) + " bytes"), e.getMessage());

    Path trailing = tmp.resolve("trailing.bin");
    Files.write(trailing, java.util.Arrays.copyOf(good, good.length + 8));
    e = assertThrows(IllegalArgumentException.class, () -> Llama2cCheckpoint.load(trailing));
    assertTrue(e.getMessage().contains("expected " + good.length + " bytes"), e.getMessage());

    Path shortHeader = tmp.resolve("short.bin");
    Files.write(shortHeader, new byte[10]);
    e = assertThrows(IllegalArgumentException.class, () -> Llama2cCheckpoint.load(shortHeader));
    assertTrue(e.getMessage().contains("header"), e.getMessage());

    byte[] badHeads = good.clone();
    ByteBuffer.wrap(badHeads).order(ByteOrder.LITTLE_ENDIAN).putInt(12, 3); // n_heads = 3 does not divide dim 16
    Path bh = tmp.resolve("heads.bin");
    Files.write(bh, badHeads);
    e = assertThrows(IllegalArgumentException.class, () -> Llama2cCheckpoint.load(bh));
    assertTrue(e.getMessage().contains("bad header") && e.getMessage().contains("n_heads=3"), e.getMessage());

    byte[] zeroDim = good.clone();
    ByteBuffer.wrap(zeroDim).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0);
    Path zd = tmp.resolve("zero.bin");
    Files.write(zd, zeroDim);
    e = assertThrows(IllegalArgumentException.class, () -> Llama2cCheckpoint.load(zd));
    assertTrue(e.getMessage().contains("bad header"), e.getMessage());

    assertThrows(IOException.class, () -> Llama2cCheckpoint.load(tmp.resolve("missing.bin")));
  }

  @Test
  void forwardChecksItsArguments() throws IOException {
    TransformerConfig c = new TransformerConfig(16, 24, 1, 4, 2, 11, 8, true);
    Path f = tmp.resolve("ok.bin");
    Files.write(f, new Weights(c, 6).file());
    try (Llama2cCheckpoint ck = Llama2cCheckpoint.load(f)) {
      Transformer m = new Transformer(Backends.cpu(), ck.config(), ck.weights());
      KvCache cache = m.newCache();
      assertThrows(IllegalArgumentException.class, () -> m.forward(11, 0, cache));
      assertThrows(IllegalArgumentException.class, () -> m.forward(-1, 0, cache));
      assertThrows(IllegalArgumentException.class, () -> m.forward(0, 8, cache));
      assertThrows(IllegalArgumentException.class, () -> m.forward(0, -1, cache));
      cache.close();
      assertThrows(IllegalStateException.class, () -> m.forward(0, 0, cache));
      try (KvCache other = new Transformer(Backends.cpu(), ck.config(), ck.weights()).newCache()) {
        m.forward(0, 0, other);
      }
    }
  }
}
