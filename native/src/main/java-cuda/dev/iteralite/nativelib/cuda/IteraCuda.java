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
}
