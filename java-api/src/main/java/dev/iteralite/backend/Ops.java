package dev.iteralite.backend;

import dev.iteralite.tensor.Tensor;

/** Validation steps and small helpers shared by {@link CpuBackend} and {@link ReferenceBackend}. */
final class Ops {
  private Ops() {}

  static void checkEps(Checks k, float eps) {
    if (!(eps >= 0) || !Float.isFinite(eps)) {
      throw k.fail("eps must be finite and >= 0, got " + eps);
    }
  }

  static void checkScale(Checks k, float scale) {
    if (!Float.isFinite(scale)) {
      throw k.fail("scale must be finite, got " + scale);
    }
  }

  /** Sum of a losses vector, in double. */
  static double sum(Tensor losses) {
    double s = 0;
    for (double x : losses.toDoubleArray()) {
      s += x;
    }
    return s;
  }

  static void fusedXentDisjoint(Checks k, Tensor h, Tensor w, Tensor losses, Tensor dh, Tensor dw) {
    k.disjoint("losses", losses, "h", h);
    k.disjoint("losses", losses, "w", w);
    if (dh != null) {
      k.disjoint("dh", dh, "h", h);
      k.disjoint("dh", dh, "w", w);
      k.disjoint("dh", dh, "losses", losses);
    }
    if (dw != null) {
      k.disjoint("dw", dw, "h", h);
      k.disjoint("dw", dw, "w", w);
      k.disjoint("dw", dw, "losses", losses);
      if (dh != null) {
        k.disjoint("dw", dw, "dh", dh);
      }
    }
  }

  static void checkCopy(Checks k, Tensor src, Tensor dst) {
    if (src.dtype() != dst.dtype()) {
      throw k.fail(
          "argument 'dst' (" + dst + ") has dtype " + dst.dtype() + " but 'src' (" + src + ") is " + src.dtype()
              + ": mismatched dtypes; copy needs one dtype (convert explicitly)");
    }
    k.sameShape("dst", dst, "src", src);
  }

  static void checkAdamW(Checks k, Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step) {
    k.contiguous("param", k.real("param", param));
    k.contiguous("grad", k.sameShape("grad", k.real("grad", grad), "param", param));
    k.contiguous("m", k.sameShape("m", k.real("m", m), "param", param));
    k.contiguous("v", k.sameShape("v", k.real("v", v), "param", param));
    if (step == null) {
      throw k.fail("argument 'step' is null; pass the AdamW hyper-parameters");
    }
    k.disjoint("param", param, "grad", grad);
    k.disjoint("param", param, "m", m);
    k.disjoint("param", param, "v", v);
    k.disjoint("m", m, "grad", grad);
    k.disjoint("v", v, "grad", grad);
    k.disjoint("m", m, "v", v);
  }
}
