package dev.iteralite.bench;

import java.util.Objects;

/**
 * One kernel's timing: time per call with its spread, the work and compulsory memory traffic per
 * call, the rates they imply, and how close that comes to this machine's measured roofline.
 *
 * @param name kernel, e.g. {@code gemm}, {@code selective_scan_forward}
 * @param shape the problem size in the kernel's own terms, e.g. {@code M=512 N=512 K=512}
 * @param nanos nanoseconds per call over the measured rounds
 * @param flops floating-point operations per call (the formulas are in {@link KernelBenchmark})
 * @param bytes compulsory bytes read and written per call (each operand once)
 * @param rooflineGflops the attainable GFLOP/s at this kernel's intensity: {@code min(peak, flops/bytes × bandwidth)}
 */
public record KernelResult(String name, String shape, Spread nanos, long flops, long bytes, double rooflineGflops) {
  /** Rejects nulls and negative work. */
  public KernelResult {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(nanos, "nanos");
    if (flops < 0 || bytes < 1) {
      throw new IllegalArgumentException("KernelResult: need flops >= 0 and bytes >= 1, got " + flops + ", " + bytes);
    }
  }

  /** Median nanoseconds per call. */
  public double medianNs() {
    return nanos.median();
  }

  /** GFLOP/s at the median time. */
  public double gflops() {
    return flops / nanos.median();
  }

  /** GB/s (10^9 bytes) of compulsory traffic at the median time. */
  public double gbps() {
    return bytes / nanos.median();
  }

  /** Arithmetic intensity, FLOPs per byte. */
  public double intensity() {
    return (double) flops / bytes;
  }

  /**
   * Fraction of the roofline reached: GFLOP/s over the attainable GFLOP/s; for a kernel without
   * FLOPs (a copy) GB/s over the measured bandwidth.
   */
  public double rooflineFraction() {
    if (flops == 0) {
      return Double.isNaN(rooflineGflops) ? Double.NaN : gbps() / rooflineGflops;
    }
    return gflops() / rooflineGflops;
  }
}
