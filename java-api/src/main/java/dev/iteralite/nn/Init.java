package dev.iteralite.nn;

import java.util.SplittableRandom;

/** How a parameter's initial values are drawn (deterministic given the model seed). */
@FunctionalInterface
public interface Init {
  /** Fills {@code values} (row-major over {@code shape}). */
  void fill(double[] values, long[] shape, SplittableRandom random);

  static Init zeros() {
    return (v, s, r) -> java.util.Arrays.fill(v, 0.0);
  }

  static Init constant(double c) {
    return (v, s, r) -> java.util.Arrays.fill(v, c);
  }

  /** Normal(0, std^2). */
  static Init normal(double std) {
    return (v, s, r) -> {
      for (int i = 0; i < v.length; i += 2) {
        // Box-Muller: two independent normals per pair of uniforms.
        double u1 = 1.0 - r.nextDouble();
        double u2 = r.nextDouble();
        double radius = Math.sqrt(-2.0 * Math.log(u1));
        v[i] = std * radius * Math.cos(2 * Math.PI * u2);
        if (i + 1 < v.length) {
          v[i + 1] = std * radius * Math.sin(2 * Math.PI * u2);
        }
      }
    };
  }

  /** Uniform(-bound, bound). */
  static Init uniform(double bound) {
    return (v, s, r) -> {
      for (int i = 0; i < v.length; i++) {
        v[i] = (2 * r.nextDouble() - 1) * bound;
      }
    };
  }

  /** PyTorch's nn.Linear default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = last dimension. */
  static Init fanIn() {
    return (v, s, r) -> uniform(1.0 / Math.sqrt(s[s.length - 1])).fill(v, s, r);
  }
}
