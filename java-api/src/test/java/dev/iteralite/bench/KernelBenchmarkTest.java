package dev.iteralite.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.NativeMemory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Kernel timings on small shapes: the work and traffic formulas, positive rates, a roofline fraction. */
class KernelBenchmarkTest {
  static final KernelBenchmark.Options FAST = new KernelBenchmark.Options(0, 2, 200_000, 64, 1 << 20, 1);

  static void positiveFinite(KernelResult k) {
    for (double v : new double[] {k.medianNs(), k.gbps(), k.rooflineFraction(), k.rooflineGflops()}) {
      assertTrue(v > 0 && Double.isFinite(v), v + " in " + k);
    }
    if (k.flops() > 0) {
      assertTrue(k.gflops() > 0 && Double.isFinite(k.gflops()), k.toString());
    }
  }

  @Test
  void kernelsOnSmallShapes() {
    long live = NativeMemory.unreleasedBytes();
    KernelBenchmark b = new KernelBenchmark(Backends.cpu(), FAST);
    Roofline r = b.roofline();
    assertTrue(r.peakGflops() > 0 && r.bandwidthGbps() > 0);
    assertEquals(r.peakGflops() / r.bandwidthGbps(), r.ridgeIntensity(), 1e-9);

    KernelResult g = b.gemm(33, 17, 9);
    assertEquals(2L * 33 * 17 * 9, g.flops());
    assertEquals(4L * (33 * 9 + 9 * 17 + 33 * 17), g.bytes());
    assertEquals(Math.min(r.peakGflops(), g.intensity() * r.bandwidthGbps()), g.rooflineGflops(), 1e-9);
    assertEquals(g.gflops() / g.rooflineGflops(), g.rooflineFraction(), 1e-12);
    positiveFinite(g);

    KernelResult f = b.selectiveScanForward(20, 8, 4);
    assertEquals(7L * 20 * 8 * 4, f.flops());
    assertEquals(4L * (4 * 20 * 8 + 2 * 20 * 4 + 3 * 8 * 4 + 2 * 8), f.bytes(), "one chunk of 64 covers 20 tokens");
    positiveFinite(f);
    KernelResult bw = b.selectiveScanBackward(20, 8, 4);
    assertEquals(2 * f.flops(), bw.flops());
    positiveFinite(bw);

    KernelResult m = b.moeForward(16, 32, 4, 2, 10);
    assertEquals(10 * (2L * 16 * 4 + 2 * 6L * 16 * 32), m.flops());
    positiveFinite(m);

    KernelResult q = b.quantizedGemv(WeightFormat.Q8_0, 40, 64);
    assertEquals(2L * 40 * 64, q.flops());
    assertEquals(WeightFormat.Q8_0.matrixBytes(40, 64) + 4L * (40 + 64), q.bytes());
    assertEquals("format=q8_0 rows=40 cols=64", q.shape());
    positiveFinite(q);

    KernelResult c = b.copy(1 << 20);
    assertEquals(0, c.flops());
    assertEquals(2L << 20, c.bytes());
    assertEquals(c.gbps() / r.bandwidthGbps(), c.rooflineFraction(), 1e-12);
    assertEquals(live, NativeMemory.unreleasedBytes(), "operands released");
  }

  @Test
  void quickSuiteCoversEveryKernel() {
    List<String> log = new ArrayList<>();
    List<KernelResult> all = new KernelBenchmark(Backends.cpu(), FAST).standardSuite(true, log::add);
    List<String> names = all.stream().map(KernelResult::name).distinct().toList();
    assertEquals(List.of("gemm", "selective_scan_forward", "selective_scan_backward", "moe_forward", "quantized_gemv",
        "copy"), names);
    all.forEach(KernelBenchmarkTest::positiveFinite);
    assertEquals(all.size() + 1, log.size(), "roofline line plus one per kernel: " + log);
  }

  @Test
  void badArgumentsAreRejected() {
    KernelBenchmark b = new KernelBenchmark(Backends.cpu(), FAST);
    assertThrows(IllegalArgumentException.class, () -> b.gemm(0, 4, 4));
    assertThrows(IllegalArgumentException.class, () -> b.selectiveScanForward(8, 8, 300));
    assertThrows(IllegalArgumentException.class, () -> b.moeForward(16, 32, 4, 5, 10));
    assertThrows(IllegalArgumentException.class, () -> b.quantizedGemv(WeightFormat.Q4_0, 8, 33), "cols not a block multiple");
    assertThrows(IllegalArgumentException.class, () -> new KernelBenchmark.Options(0, 0, 1, 64, 1 << 20, 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new KernelBenchmark.Options(0, 1, 1, 64, 1000, 1));
    assertTrue(e.getMessage().contains("rooflineCopyBytes"), e.getMessage());
  }
}
