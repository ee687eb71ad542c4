package dev.iteralite.bench;

/**
 * This machine's measured ceilings, taken in the same run as the kernels they judge: peak
 * arithmetic from a large SGEMM and memory bandwidth from a large native copy.
 *
 * @param peakGflops GFLOP/s of the SGEMM ({@code 2·S³} FLOPs per call, best round)
 * @param bandwidthGbps GB/s of the copy, counting read + write bytes like STREAM's copy (best round)
 * @param gemmSize S, the square SGEMM size
 * @param copyBytes bytes copied per call
 */
public record Roofline(double peakGflops, double bandwidthGbps, int gemmSize, long copyBytes) {
  /** Both ceilings must be positive and finite. */
  public Roofline {
    if (!(peakGflops > 0) || !(bandwidthGbps > 0) || Double.isInfinite(peakGflops) || Double.isInfinite(bandwidthGbps)) {
      throw new IllegalArgumentException("Roofline: ceilings must be positive and finite, got " + peakGflops
          + " GFLOP/s and " + bandwidthGbps + " GB/s");
    }
  }

  /** Attainable GFLOP/s at {@code intensity} FLOPs per byte: {@code min(peak, intensity × bandwidth)}. */
  public double attainableGflops(double intensity) {
    return Math.min(peakGflops, intensity * bandwidthGbps);
  }

  /** The ridge point: the intensity (FLOPs/byte) above which a kernel can be compute-bound. */
  public double ridgeIntensity() {
    return peakGflops / bandwidthGbps;
  }
}
