package dev.iteralite.bench;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.nativelib.RawPointer;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/** Shared set-up for the benchmarks: the backend, thread count, buffers. */
final class BenchSupport {
  /** JVM flags for every forked benchmark JVM (JDK 22+ warn on System.load without it; 17 ignores it). */
  static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

  private BenchSupport() {}

  /**
   * The native CPU backend with {@code threads} worker threads for the kernels and OpenBLAS ({@code
   * <= 0}: all available cores). Returns the backend.
   */
  static CpuBackend cpu(int threads) {
    CpuBackend cpu = Backends.cpu();
    cpu.setThreads(threads);
    return cpu;
  }

  /** A contiguous F32 tensor with every element set to {@code value} (set natively: fast for 256 MiB). */
  static Tensor filled(float value, long... shape) {
    Tensor t = Tensor.allocate(DType.F32, shape);
    IteraNative.itera_fill_f32(t.size(), value, t.address());
    return t;
  }

  /** A non-owning JavaCPP {@link FloatPointer} over a tensor's memory, for the OpenBLAS preset's API. */
  static FloatPointer floatPointer(Tensor t) {
    return new FloatPointer(new RawPointer(t.address(), t.size() * 4L));
  }

  /** Parses a size with an optional binary suffix: {@code 16M} = 16 * 2^20, {@code 4K}, {@code 1G}. */
  static long parseSize(String s) {
    String v = s.trim().toUpperCase(java.util.Locale.ROOT);
    long mul = 1;
    char last = v.charAt(v.length() - 1);
    if (last == 'K' || last == 'M' || last == 'G') {
      mul = last == 'K' ? 1L << 10 : last == 'M' ? 1L << 20 : 1L << 30;
      v = v.substring(0, v.length() - 1);
    }
    return Long.parseLong(v) * mul;
  }
}
