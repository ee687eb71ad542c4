package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA kernels ({@code cuda-kernels/}, bound as {@code dev.iteralite.nativelib.cuda.IteraCuda})
 * against plain Java on the host.
 *
 * <p>{@code IteraCuda} exists only when itera-native was built with nvcc (Maven profile {@code
 * cuda}), so it is reached by reflection and this class compiles either way. Skipped (not failed)
 * when the class is absent, and the GPU tests also when {@code cudaGetDeviceCount} fails or finds
 * no device (e.g. error 35, "CUDA driver version is insufficient", on a machine without a GPU). A
 * class that exists but whose library does not load is a packaging bug and fails.
 */
class CudaAddTest {
  private static final String CLASS_NAME = "dev.iteralite.nativelib.cuda.IteraCuda";
  /** Bit pattern written over outputs before a kernel runs: a quiet NaN no kernel produces. */
  private static final int POISON_BYTE = 0xFF;

  private static Class<?> cuda;

  @BeforeAll
  static void findBinding() {
    try {
      cuda = Class.forName(CLASS_NAME, false, CudaAddTest.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      cuda = null;
    }
  }

  private static void assumeBindingBuilt() {
    Assumptions.assumeTrue(cuda != null, "IteraCuda not built (itera-native was built without nvcc or with -P '!cuda')");
  }

  /** Skips unless at least one device is usable; returns the device description. */
  private static String assumeDevice() {
    assumeBindingBuilt();
    int[] count = new int[1];
    int err = (int) call("itera_cuda_device_count", (Object) count);
    if (err != 0 || count[0] <= 0) {
      String what = err == 35 ? "CUDA driver insufficient" : err == 100 ? "no CUDA device" : "CUDA unavailable";
      Assumptions.abort(what + ": cudaGetDeviceCount -> " + err + " (" + call("itera_cuda_error_string", err)
          + "), count " + count[0] + "; no GPU test run");
    }
    return (String) call("describe");
  }

  private static Object call(String name, Object... args) {
    Method m = null;
    for (Method candidate : cuda.getMethods()) {
      if (candidate.getName().equals(name) && candidate.getParameterCount() == args.length) {
        m = candidate;
        break;
      }
    }
    if (m == null) {
      fail("IteraCuda has no method " + name + " with " + args.length + " parameters");
    }
    try {
      return m.invoke(null, args);
    } catch (IllegalAccessException e) {
      throw new AssertionError(e);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw new AssertionError(cause);
    }
  }

  private static void check(int status, String what) {
    if (status != 0) {
      fail(what + " -> CUDA error " + status + " (" + call("itera_cuda_error_string", status) + ")");
    }
  }

  private static long deviceAlloc(long bytes) {
    long[] ptr = new long[1];
    check((int) call("itera_cuda_malloc", bytes, ptr), "cudaMalloc(" + bytes + ")");
    assertTrue(ptr[0] != 0, "cudaMalloc returned NULL for " + bytes + " bytes");
    return ptr[0];
  }

  private static float[] random(Random rnd, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (rnd.nextGaussian() * 4);
    }
    return x;
  }

  @Test
  void libraryLoadsWithoutAGpu() {
    assumeBindingBuilt();
    int[] v = new int[1];
    // the runtime is linked statically, so its version is known with or without a driver
    assertEquals(0, (int) call("itera_cuda_runtime_version", (Object) v));
    assertTrue(v[0] >= 12000, "runtime version " + v[0]);
    int[] count = {-1};
    int err = (int) call("itera_cuda_device_count", (Object) count);
    assertTrue(err != 0 || count[0] >= 0);
    if (err != 0) {
      assertEquals(0, count[0], "count must be 0 when cudaGetDeviceCount fails");
    }
    assertNotNull(call("itera_cuda_error_string", 35));
    assertNotNull(call("describe"));
  }

  @Test
  void addMatchesTheHostOnOddSizes() {
    String device = assumeDevice();
    Random rnd = new Random(42);
    for (int n : new int[] {1, 1000, (1 << 20) + 3}) {
      float[] a = random(rnd, n);
      float[] b = random(rnd, n);
      int tail = 16; // extra elements after n that must keep the poison
      long bytes = 4L * n;
      long padded = 4L * (n + tail);
      long da = deviceAlloc(bytes);
      long db = deviceAlloc(bytes);
      long dout = deviceAlloc(padded);
      try (FloatPointer ha = new FloatPointer(a);
          FloatPointer hb = new FloatPointer(b);
          FloatPointer hout = new FloatPointer((long) n + tail)) {
        check((int) call("itera_cuda_memcpy_h2d", da, ha.address(), bytes), "h2d a");
        check((int) call("itera_cuda_memcpy_h2d", db, hb.address(), bytes), "h2d b");
        check((int) call("itera_cuda_memset", dout, POISON_BYTE, padded), "poison out");
        check((int) call("itera_cuda_add", (long) n, da, db, dout), "itera_cuda_add n=" + n);
        check((int) call("itera_cuda_synchronize"), "synchronize after add n=" + n);
        check((int) call("itera_cuda_memcpy_d2h", hout.address(), dout, padded), "d2h out");
        float[] out = new float[n + tail];
        hout.get(out);
        for (int i = 0; i < n; i++) {
          if (Float.floatToRawIntBits(out[i]) != Float.floatToRawIntBits(a[i] + b[i])) {
            fail("add n=" + n + " i=" + i + ": " + out[i] + " != " + (a[i] + b[i]) + " on " + device);
          }
        }
        for (int i = n; i < n + tail; i++) {
          assertEquals(-1, Float.floatToRawIntBits(out[i]), "add n=" + n + " wrote past the end at " + i);
        }

        // in place: out aliases a
        check((int) call("itera_cuda_add", (long) n, da, db, da), "itera_cuda_add in place n=" + n);
        check((int) call("itera_cuda_memcpy_d2h", hout.address(), da, bytes), "d2h a");
        hout.get(out, 0, n);
        for (int i = 0; i < n; i++) {
          if (Float.floatToRawIntBits(out[i]) != Float.floatToRawIntBits(a[i] + b[i])) {
            fail("in-place add n=" + n + " i=" + i + ": " + out[i] + " != " + (a[i] + b[i]));
          }
        }
      } finally {
        check((int) call("itera_cuda_free", da), "free a");
        check((int) call("itera_cuda_free", db), "free b");
        check((int) call("itera_cuda_free", dout), "free out");
      }
    }
  }

  @Test
  void axpyMatchesTheHostOnOddSizes() {
    assumeDevice();
    Random rnd = new Random(7);
    float alpha = -0.375f;
    for (int n : new int[] {1, 1000, (1 << 20) + 3}) {
      float[] x = random(rnd, n);
      float[] y = random(rnd, n);
      long bytes = 4L * n;
      long dx = deviceAlloc(bytes);
      long dy = deviceAlloc(bytes);
      try (FloatPointer hx = new FloatPointer(x);
          FloatPointer hy = new FloatPointer(y)) {
        check((int) call("itera_cuda_memcpy_h2d", dx, hx.address(), bytes), "h2d x");
        check((int) call("itera_cuda_memcpy_h2d", dy, hy.address(), bytes), "h2d y");
        check((int) call("itera_cuda_axpy", (long) n, alpha, dx, dy), "itera_cuda_axpy n=" + n);
        check((int) call("itera_cuda_synchronize"), "synchronize after axpy n=" + n);
        check((int) call("itera_cuda_memcpy_d2h", hy.address(), dy, bytes), "d2h y");
        float[] out = new float[n];
        hy.get(out);
        for (int i = 0; i < n; i++) {
          float expected = Math.fma(alpha, x[i], y[i]); // the kernel uses fmaf: one rounding
          if (Float.floatToRawIntBits(out[i]) != Float.floatToRawIntBits(expected)) {
            fail("axpy n=" + n + " i=" + i + ": " + out[i] + " != " + expected);
          }
        }
      } finally {
        check((int) call("itera_cuda_free", dx), "free x");
        check((int) call("itera_cuda_free", dy), "free y");
      }
    }
  }

  @Test
  void zeroSizesAreNoOps() {
    assumeBindingBuilt();
    // n = 0 launches nothing, so this holds with or without a GPU
    assertEquals(0, (int) call("itera_cuda_add", 0L, 0L, 0L, 0L));
    assertEquals(0, (int) call("itera_cuda_axpy", 0L, 1f, 0L, 0L));
    long[] ptr = {123};
    assertEquals(0, (int) call("itera_cuda_malloc", 0L, ptr));
    assertEquals(0L, ptr[0]);
    assertEquals(0, (int) call("itera_cuda_free", 0L));
  }
}
