package dev.iteralite.nativelib;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * Raw JavaCPP binding of the Itera-Lite CPU kernel ABI ({@code cpu-kernels/include/itera_kernels.h}).
 *
 * <p>Every pointer argument is a native address passed as a {@code long}, so a call costs one plain
 * JNI transition. Nothing here validates anything: these functions trust their arguments
 * completely, and a wrong size or address corrupts memory or crashes the JVM. Use the checked
 * {@code Backend} API of {@code itera-lite} instead; this class is for that layer and for benchmarks.
 *
 * <p>Generated from the header by hand-run script; keep the two in the same order.
 */
@Platform(
    include = "itera_kernels.h",
    link = "itera_cpu",
    compiler = "cpp17")
public final class IteraNative {
  static {
    // OpenBLAS's libopenblas.so.0 must be in the process first: our library records it as
    // NEEDED by SONAME and the dynamic linker then reuses the already-loaded copy.
    Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
    Loader.load();
  }

  private IteraNative() {}

  /** Forces the native libraries to load (idempotent); throws {@link UnsatisfiedLinkError} on failure. */
  public static void load() {
    // the static initialiser did the work
  }

    public static native int itera_cpu_features();
    public static native int itera_max_isa();
    public static native int itera_get_isa();
    public static native int itera_set_isa(int isa);
    public static native void itera_set_num_threads(int n);
    public static native int itera_get_num_threads();
    public static native @Cast("const char*") String itera_blas_config();
    public static native void itera_noop();
    public static native @Cast("intptr_t") long itera_alloc(long bytes);
    public static native void itera_free(@Cast("void*") long ptr, long bytes);
    public static native long itera_live_bytes();
    public static native long itera_live_allocations();
    public static native void itera_fill_f32(long n, float value, @Cast("float*") long dst);
    public static native void itera_copy_bytes(long n, @Cast("const void*") long src, @Cast("void*") long dst);
    public static native void itera_sgemm(int transA, int transB, long M, long N, long K, float alpha, @Cast("const float*") long A, long lda, @Cast("const float*") long B, long ldb, float beta, @Cast("float*") long C, long ldc);
    public static native void itera_sgemm_strided_batched(int transA, int transB, long M, long N, long K, float alpha, @Cast("const float*") long A, long lda, long strideA, @Cast("const float*") long B, long ldb, long strideB, float beta, @Cast("float*") long C, long ldc, long strideC, long batch);
    public static native void itera_sgemm_strided_batched_ref(int transA, int transB, long M, long N, long K, float alpha, @Cast("const float*") long A, long lda, long strideA, @Cast("const float*") long B, long ldb, long strideB, float beta, @Cast("float*") long C, long ldc, long strideC, long batch);
    public static native void itera_blas_sgemm(int transA, int transB, long M, long N, long K, float alpha, @Cast("const float*") long A, long lda, @Cast("const float*") long B, long ldb, float beta, @Cast("float*") long C, long ldc);
    public static native void itera_sgemv(int transW, long N, long K, float alpha, @Cast("const float*") long W, long ldw, @Cast("const float*") long x, float beta, @Cast("float*") long y);
    public static native void itera_sgemv_ref(int transW, long N, long K, float alpha, @Cast("const float*") long W, long ldw, @Cast("const float*") long x, float beta, @Cast("float*") long y);
    public static native int itera_embedding_forward(long T, long C, long V, @Cast("const int32_t*") long ids, @Cast("const float*") long table, long ldt, @Cast("float*") long out, long ldo);
    public static native int itera_embedding_forward_ref(long T, long C, long V, @Cast("const int32_t*") long ids, @Cast("const float*") long table, long ldt, @Cast("float*") long out, long ldo);
    public static native int itera_embedding_backward(long T, long C, long V, @Cast("const int32_t*") long ids, @Cast("const float*") long dout, long ldo, @Cast("float*") long dtable, long ldt);
    public static native int itera_embedding_backward_ref(long T, long C, long V, @Cast("const int32_t*") long ids, @Cast("const float*") long dout, long ldo, @Cast("float*") long dtable, long ldt);
    public static native void itera_rmsnorm_forward(long R, long C, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, float eps, @Cast("float*") long y, long ldy, @Cast("float*") long rstd);
    public static native void itera_rmsnorm_forward_ref(long R, long C, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, float eps, @Cast("float*") long y, long ldy, @Cast("float*") long rstd);
    public static native void itera_rmsnorm_backward(long R, long C, @Cast("const float*") long dy, long lddy, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long rstd, @Cast("float*") long dx, long lddx, @Cast("float*") long dw);
    public static native void itera_rmsnorm_backward_ref(long R, long C, @Cast("const float*") long dy, long lddy, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long rstd, @Cast("float*") long dx, long lddx, @Cast("float*") long dw);
    public static native void itera_layernorm_forward(long R, long C, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long b, float eps, @Cast("float*") long y, long ldy, @Cast("float*") long mean, @Cast("float*") long rstd);
    public static native void itera_layernorm_forward_ref(long R, long C, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long b, float eps, @Cast("float*") long y, long ldy, @Cast("float*") long mean, @Cast("float*") long rstd);
    public static native void itera_layernorm_backward(long R, long C, @Cast("const float*") long dy, long lddy, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long mean, @Cast("const float*") long rstd, @Cast("float*") long dx, long lddx, @Cast("float*") long dw, @Cast("float*") long db);
    public static native void itera_layernorm_backward_ref(long R, long C, @Cast("const float*") long dy, long lddy, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long mean, @Cast("const float*") long rstd, @Cast("float*") long dx, long lddx, @Cast("float*") long dw, @Cast("float*") long db);
    public static native void itera_softmax_forward(long R, long C, @Cast("const float*") long x, long ldx, @Cast("float*") long y, long ldy);
    public static native void itera_softmax_forward_ref(long R, long C, @Cast("const float*") long x, long ldx, @Cast("float*") long y, long ldy);
    public static native void itera_softmax_backward(long R, long C, @Cast("const float*") long y, long ldy, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx);
    public static native void itera_softmax_backward_ref(long R, long C, @Cast("const float*") long y, long ldy, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx);
    public static native int itera_cross_entropy(long R, long V, @Cast("const float*") long logits, long ldl, @Cast("const int32_t*") long targets, int ignore_index, float scale, @Cast("float*") long losses, @Cast("float*") long dlogits, long lddl);
    public static native int itera_cross_entropy_ref(long R, long V, @Cast("const float*") long logits, long ldl, @Cast("const int32_t*") long targets, int ignore_index, float scale, @Cast("float*") long losses, @Cast("float*") long dlogits, long lddl);
    public static native int itera_fused_linear_cross_entropy(long T, long C, long V, @Cast("const float*") long h, long ldh, @Cast("const float*") long W, long ldw, @Cast("const int32_t*") long targets, int ignore_index, float scale, @Cast("float*") long losses, @Cast("float*") long dh, long lddh, @Cast("float*") long dW, long lddw, long block_rows, @Cast("float*") long workspace);
    public static native int itera_fused_linear_cross_entropy_ref(long T, long C, long V, @Cast("const float*") long h, long ldh, @Cast("const float*") long W, long ldw, @Cast("const int32_t*") long targets, int ignore_index, float scale, @Cast("float*") long losses, @Cast("float*") long dh, long lddh, @Cast("float*") long dW, long lddw, long block_rows, @Cast("float*") long workspace);
    public static native long itera_fused_xent_workspace(long T, long V, long block_rows);
    public static native void itera_silu_forward(long n, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_silu_forward_ref(long n, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_silu_backward(long n, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx);
    public static native void itera_silu_backward_ref(long n, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx);
    public static native void itera_gelu_forward(long n, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_gelu_forward_ref(long n, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_gelu_backward(long n, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx);
    public static native void itera_gelu_backward_ref(long n, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx);
    public static native void itera_softplus_forward(long n, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_softplus_forward_ref(long n, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_softplus_backward(long n, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx);
    public static native void itera_softplus_backward_ref(long n, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx);
    public static native void itera_add(long n, @Cast("const float*") long a, @Cast("const float*") long b, @Cast("float*") long out);
    public static native void itera_add_ref(long n, @Cast("const float*") long a, @Cast("const float*") long b, @Cast("float*") long out);
    public static native void itera_axpy(long n, float alpha, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_axpy_ref(long n, float alpha, @Cast("const float*") long x, @Cast("float*") long y);
    public static native void itera_scale(long n, float alpha, @Cast("float*") long x);
    public static native void itera_scale_ref(long n, float alpha, @Cast("float*") long x);
    public static native double itera_sum_squares(long n, @Cast("const float*") long x);
    public static native double itera_sum_squares_ref(long n, @Cast("const float*") long x);
    public static native void itera_adamw(long n, @Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long m, @Cast("float*") long v, float lr, float beta1, float beta2, float eps, float weight_decay, float grad_scale, long step);
    public static native void itera_adamw_ref(long n, @Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long m, @Cast("float*") long v, float lr, float beta1, float beta2, float eps, float weight_decay, float grad_scale, long step);
}
