package dev.iteralite.bench;

import java.util.Arrays;

/**
 * How a set of measured rounds is summarised: the median and the spread around it (minimum, lower
 * and upper quartile, maximum), so a report can show how stable a figure was.
 *
 * @param min smallest sample
 * @param q1 25th percentile (linear interpolation between order statistics)
 * @param median 50th percentile
 * @param q3 75th percentile
 * @param max largest sample
 * @param samples number of samples
 */
public record Spread(double min, double q1, double median, double q3, double max, int samples) {
  /** Checks the order {@code min <= q1 <= median <= q3 <= max} and {@code samples >= 1}. */
  public Spread {
    if (samples < 1) {
      throw new IllegalArgumentException("Spread: need at least one sample, got " + samples);
    }
    if (!(min <= q1 && q1 <= median && median <= q3 && q3 <= max)) {
      throw new IllegalArgumentException(
          "Spread: values out of order: min " + min + ", q1 " + q1 + ", median " + median + ", q3 " + q3 + ", max " + max);
    }
  }

  /**
   * Summarises {@code values} (not modified).
   *
   * @throws IllegalArgumentException if {@code values} is empty or holds a NaN
   */
  public static Spread of(double... values) {
    if (values == null || values.length == 0) {
      throw new IllegalArgumentException("Spread: need at least one sample");
    }
    double[] s = values.clone();
    for (double v : s) {
      if (Double.isNaN(v)) {
        throw new IllegalArgumentException("Spread: a sample is NaN");
      }
    }
    Arrays.sort(s);
    return new Spread(s[0], percentileSorted(s, 25), percentileSorted(s, 50), percentileSorted(s, 75), s[s.length - 1],
        s.length);
  }

  /** Interquartile range {@code q3 - q1}. */
  public double iqr() {
    return q3 - q1;
  }

  /**
   * The {@code p}-th percentile (0..100) of already sorted values, interpolating linearly between
   * the closest order statistics (the "R-7" definition spreadsheets use).
   */
  static double percentileSorted(double[] sorted, double p) {
    if (sorted.length == 1) {
      return sorted[0];
    }
    double pos = p / 100.0 * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(sorted.length - 1, lo + 1);
    double frac = pos - lo;
    return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
  }
}
