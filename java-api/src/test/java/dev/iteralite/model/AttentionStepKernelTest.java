package dev.iteralite.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.Isa;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fused decode-attention kernel (fast, at every ISA level) and its scalar _ref against a Java double oracle. */
class AttentionStepKernelTest {
  private static double[] oracle(int heads, int kvHeads, int hs, int t, float[] q, float[] kv, int ld, int vOff, float scale) {
    double[] out = new double[heads * hs];
    int mul = heads / kvHeads;
    for (int h = 0; h < heads; h++) {
      int off = (h / mul) * hs;
      double[] s = new double[t];
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < t; j++) {
        double d = 0;
        for (int i = 0; i < hs; i++) {
          d += (double) q[h * hs + i] * kv[j * ld + off + i];
        }
        s[j] = d * scale;
        max = Math.max(max, s[j]);
      }
      double sum = 0;
      for (int j = 0; j < t; j++) {
        s[j] = Math.exp(s[j] - max);
        sum += s[j];
      }
      for (int j = 0; j < t; j++) {
        for (int i = 0; i < hs; i++) {
          out[h * hs + i] += s[j] / sum * kv[j * ld + vOff + off + i];
        }
      }
    }
    return out;
  }

  @Test
  void fastAndReferenceMatchTheOracle() {
    CpuBackend cpu = Backends.cpu();
    Isa saved = cpu.isa();
    Random r = new Random(3);
    int[][] shapes = {{8, 4, 8}, {8, 8, 16}, {4, 1, 32}, {2, 2, 64}, {6, 3, 6}, {3, 3, 2}, {4, 2, 24}};
    int[] lengths = {1, 7, 8, 9, 31, 100};
    try {
      for (Isa isa : Isa.values()) {
        cpu.setIsa(isa);
        for (int[] sh : shapes) {
          int heads = sh[0];
          int kvHeads = sh[1];
          int hs = sh[2];
          int kvDim = kvHeads * hs;
          int ld = 2 * kvDim + 3; // keys, values, padding: exercises the row stride
          for (int t : lengths) {
            float[] q = new float[heads * hs];
            float[] kv = new float[t * ld];
            for (int i = 0; i < q.length; i++) {
              q[i] = (float) r.nextGaussian();
            }
            for (int i = 0; i < kv.length; i++) {
              kv[i] = (float) r.nextGaussian();
            }
            float scale = (float) (1 / Math.sqrt(hs));
            double[] want = oracle(heads, kvHeads, hs, t, q, kv, ld, kvDim, scale);
            try (Tensor tq = Tensor.of(q, q.length);
                Tensor tkv = Tensor.of(kv, kv.length);
                Tensor att = Tensor.allocate(DType.F32, heads, t + 5);
                Tensor out = Tensor.allocate(DType.F32, heads * hs);
                Tensor outRef = Tensor.allocate(DType.F32, heads * hs)) {
              IteraNative.itera_attention_step(heads, kvHeads, hs, t, tq.address(), tkv.address(),
                  tkv.address() + 4L * kvDim, ld, scale, att.address(), t + 5, out.address());
              IteraNative.itera_attention_step_ref(heads, kvHeads, hs, t, tq.address(), tkv.address(),
                  tkv.address() + 4L * kvDim, ld, scale, att.address(), t + 5, outRef.address());
              float[] got = out.toFloatArray();
              float[] gotRef = outRef.toFloatArray();
              for (int i = 0; i < want.length; i++) {
                String where = isa + " heads=" + heads + " kv=" + kvHeads + " hs=" + hs + " T=" + t + " i=" + i;
                assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])), where);
                assertEquals(want[i], gotRef[i], 1e-6 * (1 + Math.abs(want[i])), where + " (ref)");
              }
            }
          }
        }
      }
    } finally {
      cpu.setIsa(saved);
    }
  }
}
