package dev.iteralite.nativelib.cuda;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * Raw JavaCPP binding of the Itera-Lite CUDA ABI ({@code cuda-kernels/include/itera_cuda.h}).
 *
 * <p>This class exists only in builds made where nvcc is installed (Maven profile {@code cuda} of
 * {@code itera-native}); probe for it with {@code Class.forName("dev.iteralite.nativelib.cuda.IteraCuda")}.
 * Its library {@code libjniIteraCuda.so} links the CUDA runtime statically and needs nothing but
 * the NVIDIA driver at run time; without a driver it still loads, and {@link
 * #itera_cuda_device_count} reports the error (e.g. 35, insufficient driver) with a count of 0.
 *
 * <p>Every function returns a {@code cudaError_t} value (0 = success). Pointers are native
 * addresses passed as {@code long}; device addresses come from {@link #itera_cuda_malloc}. Nothing
 * is validated: a wrong address or size corrupts memory or crashes the JVM.
 */
@Platform(
    include = "itera_cuda.h",
    // JavaCPP emits link entries in REVERSE order: this yields -litera_cuda -lcudart_static -ldl -lrt
    link = {"rt", "dl", "cudart_static", "itera_cuda"},
    compiler = "cpp17")
public final class IteraCuda {
  static {
    Loader.load();
  }

  private IteraCuda() {}

  /** Forces the native library to load (idempotent); throws {@link UnsatisfiedLinkError} on failure. */
  public static void load() {
    // the static initialiser did the work
  }

  /**
   * A one-line description of the CUDA situation, e.g. {@code "CUDA driver insufficient: ..."} or
   * {@code "1 device(s): NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB), driver 13000, runtime 13000"}.
   */
  public static String describe() {
    int[] v = new int[1];
    itera_cuda_runtime_version(v);
    int runtime = v[0];
    itera_cuda_driver_version(v);
    int driver = v[0];
    int[] count = new int[1];
    int err = itera_cuda_device_count(count);
    if (err != 0 || count[0] <= 0) {
      return "no usable CUDA device: cudaGetDeviceCount -> " + err + " (" + itera_cuda_error_string(err)
          + "), count " + count[0] + ", driver " + driver + ", runtime " + runtime;
    }
    StringBuilder sb = new StringBuilder().append(count[0]).append(" device(s)");
    for (int d = 0; d < count[0]; d++) {
      byte[] name = new byte[256];
      int[] major = new int[1];
      int[] minor = new int[1];
      long[] mem = new long[1];
      int[] sms = new int[1];
      int e = itera_cuda_device_properties(d, name, name.length, major, minor, mem, sms);
      sb.append(d == 0 ? ": " : "; ");
      if (e != 0) {
        sb.append("device ").append(d).append(" error ").append(e);
        continue;
      }
      int len = 0;
      while (len < name.length && name[len] != 0) {
        len++;
      }
      sb.append(new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8))
          .append(" (sm_").append(major[0]).append(minor[0])
          .append(String.format(java.util.Locale.ROOT, ", %.1f GiB, %d SMs)", mem[0] / (double) (1L << 30), sms[0]));
    }
    return sb.append(", driver ").append(driver).append(", runtime ").append(runtime).toString();
  }

  public static native int itera_cuda_runtime_version(int[] version);
  public static native int itera_cuda_driver_version(int[] version);
  public static native int itera_cuda_device_count(int[] count);
  public static native int itera_cuda_device_properties(int device, @Cast("char*") byte[] name, long name_capacity, int[] cc_major, int[] cc_minor, @Cast("int64_t*") long[] total_memory_bytes, int[] multiprocessor_count);
  public static native @Cast("const char*") String itera_cuda_error_string(int status);
  public static native int itera_cuda_set_device(int device);
  public static native int itera_cuda_get_device(int[] device);
  public static native int itera_cuda_malloc(long bytes, @Cast("void**") long[] ptr);
  public static native int itera_cuda_free(@Cast("void*") long ptr);
  public static native int itera_cuda_memcpy_h2d(@Cast("void*") long dst_device, @Cast("const void*") long src_host, long bytes);
  public static native int itera_cuda_memcpy_d2h(@Cast("void*") long dst_host, @Cast("const void*") long src_device, long bytes);
  public static native int itera_cuda_memcpy_d2d(@Cast("void*") long dst_device, @Cast("const void*") long src_device, long bytes);
  public static native int itera_cuda_memset(@Cast("void*") long dst_device, int value, long bytes);
  public static native int itera_cuda_synchronize();
  public static native int itera_cuda_add(long n, @Cast("const float*") long a, @Cast("const float*") long b, @Cast("float*") long out);
  public static native int itera_cuda_axpy(long n, float alpha, @Cast("const float*") long x, @Cast("float*") long y);

  // Model kernels: the CPU ABI's itera_X as itera_cuda_X on device pointers, plus a trailing
  // cudaStream_t (0 = legacy default stream) and, where the CPU kernel returns an index error, a
  // device int32 status. Launches are asynchronous; see itera_cuda.h for the supported sizes.
  public static native int itera_cuda_set_scan_impl(int impl);
  public static native int itera_cuda_causal_conv1d_forward(long Bt, long L, long E, long K, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, long ldy, @Cast("void*") long stream);
  public static native int itera_cuda_causal_conv1d_backward(long Bt, long L, long E, long K, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx, @Cast("float*") long dw, @Cast("float*") long dbias, @Cast("void*") long stream);
  public static native int itera_cuda_causal_conv1d_step(long Bt, long E, long K, @Cast("const float*") long x, long ldx, @Cast("float*") long state, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, long ldy, @Cast("void*") long stream);
  public static native int itera_cuda_selective_scan_forward(long Bt, long L, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, long chunk, @Cast("float*") long y, long ldy, @Cast("float*") long last_state, @Cast("float*") long chunk_states, @Cast("void*") long stream);
  public static native int itera_cuda_selective_scan_backward(long Bt, long L, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, long chunk, @Cast("const float*") long chunk_states, @Cast("const float*") long dy, long lddy, @Cast("float*") long du, long lddu, @Cast("float*") long ddelta, long ldddelta, @Cast("float*") long dA, @Cast("float*") long dB, long lddb, @Cast("float*") long dC, long lddc, @Cast("float*") long dD, @Cast("float*") long dz, long lddz, @Cast("float*") long ddelta_bias, @Cast("void*") long stream);
  public static native int itera_cuda_selective_scan_step(long Bt, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, @Cast("float*") long state, @Cast("float*") long y, long ldy, @Cast("void*") long stream);
  public static native int itera_cuda_moe_topk(long T, long E, long k, @Cast("const float*") long probs, long ldp, @Cast("int32_t*") long ids, @Cast("float*") long weights, @Cast("void*") long stream);
  public static native int itera_cuda_moe_dispatch(long T, long k, long E, long capacity, @Cast("const int32_t*") long ids, @Cast("int32_t*") long routed, @Cast("int32_t*") long offsets, @Cast("int32_t*") long slots, @Cast("int32_t*") long perm, @Cast("int32_t*") long device_status, @Cast("void*") long stream);
  public static native int itera_cuda_moe_gather(long N, long D, long k, @Cast("const int32_t*") long perm, @Cast("const float*") long x, long ldx, @Cast("float*") long xp, long ldxp, @Cast("void*") long stream);
  public static native int itera_cuda_moe_gather_backward(long T, long D, long k, @Cast("const int32_t*") long slots, @Cast("const float*") long dxp, long lddxp, @Cast("float*") long dx, long lddx, @Cast("void*") long stream);
  public static native int itera_cuda_moe_combine(long T, long D, long k, @Cast("const int32_t*") long slots, @Cast("const float*") long weights, @Cast("const float*") long yp, long ldyp, @Cast("float*") long out, long ldo, @Cast("void*") long stream);
  public static native int itera_cuda_moe_combine_backward(long T, long N, long D, long k, @Cast("const int32_t*") long perm, @Cast("const int32_t*") long slots, @Cast("const float*") long weights, @Cast("const float*") long dout, long lddo, @Cast("const float*") long yp, long ldyp, @Cast("float*") long dyp, long lddyp, @Cast("float*") long dweights, @Cast("void*") long stream);
  public static native int itera_cuda_swiglu_forward(long n, @Cast("const float*") long h1, @Cast("const float*") long h3, @Cast("float*") long out, @Cast("void*") long stream);
  public static native int itera_cuda_swiglu_backward(long n, @Cast("const float*") long h1, @Cast("const float*") long h3, @Cast("const float*") long dout, @Cast("float*") long dh1, @Cast("float*") long dh3, @Cast("void*") long stream);
  public static native int itera_cuda_gemv_q8_0(long N, long K, @Cast("const void*") long W, @Cast("const float*") long x, @Cast("float*") long y, @Cast("void*") long stream);
  public static native int itera_cuda_gemv_q4_0(long N, long K, @Cast("const void*") long W, @Cast("const float*") long x, @Cast("float*") long y, @Cast("void*") long stream);
  public static native int itera_cuda_rmsnorm_forward(long R, long C, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, float eps, @Cast("float*") long y, long ldy, @Cast("float*") long rstd, @Cast("void*") long stream);
  public static native int itera_cuda_rmsnorm_backward(long R, long C, @Cast("const float*") long dy, long lddy, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long rstd, @Cast("float*") long dx, long lddx, @Cast("float*") long dw, @Cast("void*") long stream);
  public static native int itera_cuda_softmax_forward(long R, long C, @Cast("const float*") long x, long ldx, @Cast("float*") long y, long ldy, @Cast("void*") long stream);
  public static native int itera_cuda_softmax_backward(long R, long C, @Cast("const float*") long y, long ldy, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx, @Cast("void*") long stream);
  public static native int itera_cuda_cross_entropy(long R, long V, @Cast("const float*") long logits, long ldl, @Cast("const int32_t*") long targets, int ignore_index, float scale, @Cast("float*") long losses, @Cast("float*") long dlogits, long lddl, @Cast("int32_t*") long device_status, @Cast("void*") long stream);
  public static native int itera_cuda_adamw(long n, @Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long m, @Cast("float*") long v, float lr, float beta1, float beta2, float eps, float weight_decay, float grad_scale, long step, @Cast("void*") long stream);
}
