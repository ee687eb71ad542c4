package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.iteralite.nativelib.IteraNative;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA model kernels (selective scan, RMSNorm, cross-entropy, MoE dispatch) through the Java
 * binding {@code IteraCuda}, against the CPU specification ({@code IteraNative.itera_*_ref}).
 *
 * <p>The exhaustive check of every kernel is the C++ harness {@code cuda-kernels/bench}
 * ({@code itera_cuda_check}); this class proves the JavaCPP binding passes every argument through
 * (a swapped stride or pointer shows up as a large error) and that argument checks that need no
 * GPU work without one. Like {@link CudaAddTest} it reaches {@code IteraCuda} by reflection and
 * is skipped when the class was not built, and its GPU cases when no device is usable.
 */
class CudaKernelsTest {
  private static final String CLASS_NAME = "dev.iteralite.nativelib.cuda.IteraCuda";
  private static final int INVALID_VALUE = 1; // cudaErrorInvalidValue
  private static final int POISON_BYTE = 0xFF; // every float becomes a NaN

  private static Class<?> cuda;

  @BeforeAll
  static void findBinding() {
    try {
      cuda = Class.forName(CLASS_NAME, false, CudaKernelsTest.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      cuda = null;
    }
  }

  private static void assumeBindingBuilt() {
    Assumptions.assumeTrue(cuda != null, "IteraCuda not built (itera-native was built without nvcc or with -P '!cuda')");
  }

  private static void assumeDevice() {
    assumeBindingBuilt();
    int[] count = new int[1];
    int err = (int) call("itera_cuda_device_count", (Object) count);
    Assumptions.assumeTrue(err == 0 && count[0] > 0,
        "no usable CUDA device: cudaGetDeviceCount -> " + err + ", count " + count[0] + "; no GPU test run");
  }

  private static Object call(String name, Object... args) {
    for (Method m : cuda.getMethods()) {
      if (m.getName().equals(name) && m.getParameterCount() == args.length) {
        try {
          return m.invoke(null, args);
        } catch (IllegalAccessException e) {
          throw new AssertionError(e);
        } catch (InvocationTargetException e) {
          Throwable cause = e.getCause();
          if (cause instanceof Error err) {
            throw err;
          }
          throw new AssertionError(cause);
        }
      }
    }
    throw new AssertionError("IteraCuda has no method " + name + " with " + args.length + " parameters");
  }

  private static void ok(Object status, String what) {
    int st = (int) status;
    if (st != 0) {
      fail(what + " -> CUDA error " + st + " (" + call("itera_cuda_error_string", st) + ")");
    }
  }

  /** Host buffers (JavaCPP) and their device copies; everything is released on close. */
  private static final class Buffers implements AutoCloseable {
    private final List<Pointer> host = new ArrayList<>();
    private final List<Long> device = new ArrayList<>();

    FloatPointer host(float[] values) {
      FloatPointer p = new FloatPointer(values);
      host.add(p);
      return p;
    }

    IntPointer host(int[] values) {
      IntPointer p = new IntPointer(values);
      host.add(p);
      return p;
    }

    long device(long bytes) {
      long[] ptr = new long[1];
      ok(call("itera_cuda_malloc", Math.max(bytes, 4), ptr), "cudaMalloc(" + bytes + ")");
      device.add(ptr[0]);
      return ptr[0];
    }

    /** Device copy of values. */
    long up(float[] values) {
      long d = device(4L * values.length);
      ok(call("itera_cuda_memcpy_h2d", d, host(values).address(), 4L * values.length), "h2d");
      return d;
    }

    long up(int[] values) {
      long d = device(4L * values.length);
      ok(call("itera_cuda_memcpy_h2d", d, host(values).address(), 4L * values.length), "h2d");
      return d;
    }

    /** Device buffer of n floats, every one a NaN. */
    long poisoned(int n) {
      long d = device(4L * n);
      ok(call("itera_cuda_memset", d, POISON_BYTE, 4L * n), "poison");
      return d;
    }

    float[] down(long d, int n) {
      ok(call("itera_cuda_synchronize"), "synchronize");
      try (FloatPointer h = new FloatPointer((long) n)) {
        ok(call("itera_cuda_memcpy_d2h", h.address(), d, 4L * n), "d2h");
        float[] out = new float[n];
        h.get(out);
        return out;
      }
    }

    int[] downInts(long d, int n) {
      ok(call("itera_cuda_synchronize"), "synchronize");
      try (IntPointer h = new IntPointer((long) n)) {
        ok(call("itera_cuda_memcpy_d2h", h.address(), d, 4L * n), "d2h");
        int[] out = new int[n];
        h.get(out);
        return out;
      }
    }

    @Override
    public void close() {
      for (long d : device) {
        call("itera_cuda_free", d);
      }
      for (Pointer p : host) {
        p.close();
      }
    }
  }

  private static float[] uniform(Random rnd, int n, double lo, double hi) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
    }
    return x;
  }

  private static float[] get(FloatPointer p, int n) {
    float[] out = new float[n];
    p.get(out);
    return out;
  }

  /**
   * max |gpu - ref| / max |ref - init| (init = null for written outputs); NaNs in ref (untouched
   * poison) must be NaN in gpu too.
   */
  private static double normErr(float[] gpu, float[] ref, float[] init) {
    double scale = 0;
    double err = 0;
    for (int i = 0; i < ref.length; i++) {
      if (Float.isNaN(ref[i])) {
        if (!Float.isNaN(gpu[i])) {
          return Double.POSITIVE_INFINITY;
        }
        continue;
      }
      if (!Float.isFinite(gpu[i])) {
        return Double.POSITIVE_INFINITY;
      }
      scale = Math.max(scale, Math.abs(ref[i] - (init == null ? 0 : init[i])));
      err = Math.max(err, Math.abs((double) gpu[i] - ref[i]));
    }
    return scale > 0 ? err / scale : err;
  }

  private static void assertClose(String what, float[] gpu, float[] ref, float[] init, double tol) {
    double e = normErr(gpu, ref, init);
    assertTrue(e <= tol, what + ": normalised error " + e + " > " + tol);
  }

  private static float[] nans(int n) {
    float[] x = new float[n];
    Arrays.fill(x, Float.NaN);
    return x;
  }

  @Test
  void unsupportedArgumentsAreRejectedBeforeAnyGpuWork() {
    assumeBindingBuilt();
    // Every case returns before the first CUDA call, so this holds with or without a GPU.
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_selective_scan_forward", 1L, 8L, 4L, 65L, 0L, 4L, 0L, 4L, 0L,
        0L, 65L, 0L, 65L, 0L, 0L, 4L, 0L, 1, 8L, 0L, 4L, 0L, 0L, 0L), "N > 64");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_selective_scan_forward", 1L, 8L, 4L, 16L, 0L, 4L, 0L, 4L, 0L,
        0L, 16L, 0L, 16L, 0L, 0L, 4L, 0L, 1, 0L, 0L, 4L, 0L, 0L, 0L), "chunk 0");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_selective_scan_backward", 1L, 64L, 4L, 16L, 0L, 4L, 0L, 4L,
        0L, 0L, 16L, 0L, 16L, 0L, 0L, 4L, 0L, 1, 16L, 0L, 0L, 4L, 0L, 4L, 0L, 4L, 0L, 0L, 16L, 0L, 16L, 0L, 0L, 4L,
        0L, 0L), "no chunk states for L > chunk");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_selective_scan_backward", 1L, 4096L, 4L, 16L, 0L, 4L, 0L, 4L,
        0L, 0L, 16L, 0L, 16L, 0L, 0L, 4L, 0L, 1, 4096L, 0L, 0L, 4L, 0L, 4L, 0L, 4L, 0L, 0L, 16L, 0L, 16L, 0L, 0L,
        4L, 0L, 0L), "chunk 4096: the sub-tile states do not fit in shared memory");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_causal_conv1d_forward", 1L, 8L, 4L, 17L, 0L, 4L, 0L, 0L, 0L,
        4L, 0L), "K > 16");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_gemv_q4_0", 8L, 33L, 0L, 0L, 0L, 0L), "K % 32 != 0");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_gemv_q8_0", 8L, 64L, 256L, 4L, 0L, 0L), "x not 16-aligned");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_moe_topk", 8L, 4L, 5L, 0L, 4L, 0L, 0L, 0L), "k > E");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_moe_dispatch", 8L, 2L, 2000L, 0L, 0L, 0L, 0L, 0L, 0L, 0L,
        0L), "E > 1024");
    assertEquals(INVALID_VALUE, (int) call("itera_cuda_adamw", 8L, 0L, 0L, 0L, 0L, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f,
        1f, 0L, 0L), "step 0");
    // empty problems launch nothing
    assertEquals(0, (int) call("itera_cuda_selective_scan_forward", 0L, 8L, 4L, 16L, 0L, 4L, 0L, 4L, 0L, 0L, 16L,
        0L, 16L, 0L, 0L, 4L, 0L, 1, 8L, 0L, 4L, 0L, 0L, 0L));
    assertEquals(0, (int) call("itera_cuda_rmsnorm_forward", 0L, 8L, 0L, 8L, 0L, 1e-5f, 0L, 8L, 0L, 0L));
    assertEquals(0, (int) call("itera_cuda_gemv_q4_0", 0L, 64L, 0L, 0L, 0L, 0L));
  }

  @Test
  void selectiveScanMatchesTheReference() {
    assumeDevice();
    final long bt = 2;
    final long len = 67;
    final long e = 45;
    final long n = 16;
    final long chunk = 16;
    final int rows = (int) (bt * len);
    final long ldu = e + 3;
    final long ldbc = n + 2;
    final long nc = (len + chunk - 1) / chunk;
    Random rnd = new Random(11);
    float[] u = uniform(rnd, (int) (rows * ldu), -1, 1);
    float[] delta = uniform(rnd, (int) (rows * ldu), -4, -1);
    float[] a = uniform(rnd, (int) (e * n), -8, -0.5);
    float[] b = uniform(rnd, (int) (rows * ldbc), -1, 1);
    float[] c = uniform(rnd, (int) (rows * ldbc), -1, 1);
    float[] d = uniform(rnd, (int) e, -1, 1);
    float[] z = uniform(rnd, (int) (rows * ldu), -3, 3);
    float[] bias = uniform(rnd, (int) e, -0.5, 0.5);
    float[] dy = uniform(rnd, (int) (rows * ldu), -1, 1);
    try (Buffers buf = new Buffers()) {
      FloatPointer hy = buf.host(nans((int) (rows * ldu)));
      FloatPointer hcs = buf.host(nans((int) (bt * nc * e * n)));
      FloatPointer hu = buf.host(u);
      FloatPointer hdl = buf.host(delta);
      FloatPointer ha = buf.host(a);
      FloatPointer hb = buf.host(b);
      FloatPointer hc = buf.host(c);
      FloatPointer hd = buf.host(d);
      FloatPointer hz = buf.host(z);
      FloatPointer hbias = buf.host(bias);
      IteraNative.itera_selective_scan_forward_ref(bt, len, e, n, hu.address(), ldu, hdl.address(), ldu,
          ha.address(), hb.address(), ldbc, hc.address(), ldbc, hd.address(), hz.address(), ldu, hbias.address(), 1,
          chunk, hy.address(), ldu, 0L, hcs.address());

      long du = buf.up(u);
      long ddl = buf.up(delta);
      long da = buf.up(a);
      long db = buf.up(b);
      long dc = buf.up(c);
      long dd = buf.up(d);
      long dz = buf.up(z);
      long dbias = buf.up(bias);
      long gy = buf.poisoned((int) (rows * ldu));
      long gcs = buf.poisoned((int) (bt * nc * e * n));
      ok(call("itera_cuda_selective_scan_forward", bt, len, e, n, du, ldu, ddl, ldu, da, db, ldbc, dc, ldbc, dd, dz,
          ldu, dbias, 1, chunk, gy, ldu, 0L, gcs, 0L), "scan forward");
      assertClose("scan forward y", buf.down(gy, (int) (rows * ldu)), get(hy, (int) (rows * ldu)), null, 1e-4);
      assertClose("scan forward chunk states", buf.down(gcs, (int) (bt * nc * e * n)),
          get(hcs, (int) (bt * nc * e * n)), null, 1e-4);

      // backward (accumulating into random initial gradients), from the reference's chunk states
      float[] du0 = uniform(rnd, (int) (rows * ldu), -1, 1);
      float[] dd0 = uniform(rnd, (int) (rows * ldu), -1, 1);
      float[] da0 = uniform(rnd, (int) (e * n), -1, 1);
      float[] db0 = uniform(rnd, (int) (rows * ldbc), -1, 1);
      float[] dc0 = uniform(rnd, (int) (rows * ldbc), -1, 1);
      float[] dD0 = uniform(rnd, (int) e, -1, 1);
      float[] dz0 = uniform(rnd, (int) (rows * ldu), -1, 1);
      float[] dbias0 = uniform(rnd, (int) e, -1, 1);
      FloatPointer rdu = buf.host(du0);
      FloatPointer rdd = buf.host(dd0);
      FloatPointer rda = buf.host(da0);
      FloatPointer rdb = buf.host(db0);
      FloatPointer rdc = buf.host(dc0);
      FloatPointer rdD = buf.host(dD0);
      FloatPointer rdz = buf.host(dz0);
      FloatPointer rdbias = buf.host(dbias0);
      FloatPointer hdy = buf.host(dy);
      IteraNative.itera_selective_scan_backward_ref(bt, len, e, n, hu.address(), ldu, hdl.address(), ldu,
          ha.address(), hb.address(), ldbc, hc.address(), ldbc, hd.address(), hz.address(), ldu, hbias.address(), 1,
          chunk, hcs.address(), hdy.address(), ldu, rdu.address(), ldu, rdd.address(), ldu, rda.address(),
          rdb.address(), ldbc, rdc.address(), ldbc, rdD.address(), rdz.address(), ldu, rdbias.address());
      long gdu = buf.up(du0);
      long gdd = buf.up(dd0);
      long gda = buf.up(da0);
      long gdb = buf.up(db0);
      long gdc = buf.up(dc0);
      long gdD = buf.up(dD0);
      long gdz = buf.up(dz0);
      long gdbias = buf.up(dbias0);
      long gcsRef = buf.up(get(hcs, (int) (bt * nc * e * n)));
      ok(call("itera_cuda_selective_scan_backward", bt, len, e, n, du, ldu, ddl, ldu, da, db, ldbc, dc, ldbc, dd, dz,
          ldu, dbias, 1, chunk, gcsRef, buf.up(dy), ldu, gdu, ldu, gdd, ldu, gda, gdb, ldbc, gdc, ldbc, gdD, gdz, ldu,
          gdbias, 0L), "scan backward");
      double tol = 2e-3;
      assertClose("du", buf.down(gdu, du0.length), get(rdu, du0.length), du0, tol);
      assertClose("ddelta", buf.down(gdd, dd0.length), get(rdd, dd0.length), dd0, tol);
      assertClose("dA", buf.down(gda, da0.length), get(rda, da0.length), da0, tol);
      assertClose("dB", buf.down(gdb, db0.length), get(rdb, db0.length), db0, tol);
      assertClose("dC", buf.down(gdc, dc0.length), get(rdc, dc0.length), dc0, tol);
      assertClose("dD", buf.down(gdD, dD0.length), get(rdD, dD0.length), dD0, tol);
      assertClose("dz", buf.down(gdz, dz0.length), get(rdz, dz0.length), dz0, tol);
      assertClose("ddelta_bias", buf.down(gdbias, dbias0.length), get(rdbias, dbias0.length), dbias0, tol);
    }
  }

  @Test
  void rmsNormAndCrossEntropyMatchTheReference() {
    assumeDevice();
    Random rnd = new Random(12);
    final long r = 37;
    final long cols = 300;
    final long ld = cols + 5;
    float[] x = uniform(rnd, (int) (r * ld), -2, 2);
    float[] w = uniform(rnd, (int) cols, 0.5, 1.5);
    try (Buffers buf = new Buffers()) {
      FloatPointer hy = buf.host(nans((int) (r * ld)));
      FloatPointer hrs = buf.host(nans((int) r));
      IteraNative.itera_rmsnorm_forward_ref(r, cols, buf.host(x).address(), ld, buf.host(w).address(), 1e-5f,
          hy.address(), ld, hrs.address());
      long gy = buf.poisoned((int) (r * ld));
      long grs = buf.poisoned((int) r);
      ok(call("itera_cuda_rmsnorm_forward", r, cols, buf.up(x), ld, buf.up(w), 1e-5f, gy, ld, grs, 0L), "rmsnorm");
      assertClose("rmsnorm y", buf.down(gy, (int) (r * ld)), get(hy, (int) (r * ld)), null, 1e-5);
      assertClose("rmsnorm rstd", buf.down(grs, (int) r), get(hrs, (int) r), null, 1e-5);

      // cross-entropy over the same rows as logits, one row ignored, then a bad target
      int[] targets = new int[(int) r];
      for (int i = 0; i < r; i++) {
        targets[i] = i == 5 ? -100 : rnd.nextInt((int) cols);
      }
      float scale = 1f / r;
      FloatPointer hloss = buf.host(nans((int) r));
      FloatPointer hdl = buf.host(nans((int) (r * ld)));
      assertEquals(0, IteraNative.itera_cross_entropy_ref(r, cols, buf.host(x).address(), ld,
          buf.host(targets).address(), -100, scale, hloss.address(), hdl.address(), ld));
      long gloss = buf.poisoned((int) r);
      long gdl = buf.poisoned((int) (r * ld));
      long status = buf.up(new int[] {7});
      long logits = buf.up(x);
      ok(call("itera_cuda_cross_entropy", r, cols, logits, ld, buf.up(targets), -100, scale, gloss, gdl, ld, status,
          0L), "cross entropy");
      assertArrayEquals(new int[] {0}, buf.downInts(status, 1));
      assertClose("losses", buf.down(gloss, (int) r), get(hloss, (int) r), null, 1e-5);
      assertClose("dlogits", buf.down(gdl, (int) (r * ld)), get(hdl, (int) (r * ld)), null, 1e-5);

      targets[3] = (int) cols;
      long lossUntouched = buf.poisoned((int) r);
      ok(call("itera_cuda_cross_entropy", r, cols, logits, ld, buf.up(targets), -100, scale, lossUntouched, gdl, ld,
          status, 0L), "cross entropy, bad target");
      assertArrayEquals(new int[] {-1}, buf.downInts(status, 1), "ITERA_ERR_INDEX_OUT_OF_RANGE");
      for (float v : buf.down(lossUntouched, (int) r)) {
        assertTrue(Float.isNaN(v), "losses written despite a bad target");
      }
    }
  }

  @Test
  void moeDispatchIsTheReferencePermutation() {
    assumeDevice();
    Random rnd = new Random(13);
    final long t = 1100;
    final long k = 2;
    final long e = 7;
    final long capacity = 250; // drops some assignments
    final int a = (int) (t * k);
    int[] ids = new int[a];
    for (int i = 0; i < a; i++) {
      ids[i] = rnd.nextInt((int) e);
    }
    try (Buffers buf = new Buffers()) {
      IntPointer routed = buf.host(new int[(int) e]);
      IntPointer offsets = buf.host(new int[(int) e + 1]);
      IntPointer slots = buf.host(new int[a]);
      IntPointer perm = buf.host(new int[a]);
      assertEquals(0, IteraNative.itera_moe_dispatch_ref(t, k, e, capacity, buf.host(ids).address(),
          routed.address(), offsets.address(), slots.address(), perm.address()));
      long groutes = buf.device(4 * e);
      long goffsets = buf.device(4 * (e + 1));
      long gslots = buf.device(4L * a);
      long gperm = buf.device(4L * a);
      long status = buf.up(new int[] {7});
      ok(call("itera_cuda_moe_dispatch", t, k, e, capacity, buf.up(ids), groutes, goffsets, gslots, gperm, status,
          0L), "dispatch");
      assertArrayEquals(new int[] {0}, buf.downInts(status, 1));
      int[] expected = new int[(int) e];
      routed.get(expected);
      assertArrayEquals(expected, buf.downInts(groutes, (int) e), "routed");
      expected = new int[(int) e + 1];
      offsets.get(expected);
      assertArrayEquals(expected, buf.downInts(goffsets, (int) e + 1), "offsets");
      expected = new int[a];
      slots.get(expected);
      assertArrayEquals(expected, buf.downInts(gslots, a), "slots");
      perm.get(expected);
      assertArrayEquals(expected, buf.downInts(gperm, a), "perm");
    }
  }
}
