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
    // ---- mixture of experts (itera_kernels.h section "mixture of experts")
    public static native int itera_moe_topk(long T, long E, long k, @Cast("const float*") long probs, long ldp, @Cast("int32_t*") long ids, @Cast("float*") long weights);
    public static native int itera_moe_topk_ref(long T, long E, long k, @Cast("const float*") long probs, long ldp, @Cast("int32_t*") long ids, @Cast("float*") long weights);
    public static native int itera_moe_dispatch(long T, long k, long E, long capacity, @Cast("const int32_t*") long ids, @Cast("int32_t*") long routed, @Cast("int32_t*") long offsets, @Cast("int32_t*") long slots, @Cast("int32_t*") long perm);
    public static native int itera_moe_dispatch_ref(long T, long k, long E, long capacity, @Cast("const int32_t*") long ids, @Cast("int32_t*") long routed, @Cast("int32_t*") long offsets, @Cast("int32_t*") long slots, @Cast("int32_t*") long perm);
    public static native void itera_moe_gather(long N, long D, long k, @Cast("const int32_t*") long perm, @Cast("const float*") long x, long ldx, @Cast("float*") long xp, long ldxp);
    public static native void itera_moe_gather_ref(long N, long D, long k, @Cast("const int32_t*") long perm, @Cast("const float*") long x, long ldx, @Cast("float*") long xp, long ldxp);
    public static native void itera_moe_gather_backward(long T, long D, long k, @Cast("const int32_t*") long slots, @Cast("const float*") long dxp, long lddxp, @Cast("float*") long dx, long lddx);
    public static native void itera_moe_gather_backward_ref(long T, long D, long k, @Cast("const int32_t*") long slots, @Cast("const float*") long dxp, long lddxp, @Cast("float*") long dx, long lddx);
    public static native void itera_moe_combine(long T, long D, long k, @Cast("const int32_t*") long slots, @Cast("const float*") long weights, @Cast("const float*") long yp, long ldyp, @Cast("float*") long out, long ldo);
    public static native void itera_moe_combine_ref(long T, long D, long k, @Cast("const int32_t*") long slots, @Cast("const float*") long weights, @Cast("const float*") long yp, long ldyp, @Cast("float*") long out, long ldo);
    public static native void itera_moe_combine_backward(long T, long N, long D, long k, @Cast("const int32_t*") long perm, @Cast("const int32_t*") long slots, @Cast("const float*") long weights, @Cast("const float*") long dout, long lddo, @Cast("const float*") long yp, long ldyp, @Cast("float*") long dyp, long lddyp, @Cast("float*") long dweights);
    public static native void itera_moe_combine_backward_ref(long T, long N, long D, long k, @Cast("const int32_t*") long perm, @Cast("const int32_t*") long slots, @Cast("const float*") long weights, @Cast("const float*") long dout, long lddo, @Cast("const float*") long yp, long ldyp, @Cast("float*") long dyp, long lddyp, @Cast("float*") long dweights);
    public static native void itera_swiglu_forward(long n, @Cast("const float*") long h1, @Cast("const float*") long h3, @Cast("float*") long out);
    public static native void itera_swiglu_forward_ref(long n, @Cast("const float*") long h1, @Cast("const float*") long h3, @Cast("float*") long out);
    public static native void itera_attention_step(long n_heads, long n_kv_heads, long head_size, long T, @Cast("const float*") long q, @Cast("const float*") long k, @Cast("const float*") long v, long ldkv, float scale, @Cast("float*") long att, long ldatt, @Cast("float*") long out);
    public static native void itera_attention_step_ref(long n_heads, long n_kv_heads, long head_size, long T, @Cast("const float*") long q, @Cast("const float*") long k, @Cast("const float*") long v, long ldkv, float scale, @Cast("float*") long att, long ldatt, @Cast("float*") long out);
    public static native void itera_swiglu_backward(long n, @Cast("const float*") long h1, @Cast("const float*") long h3, @Cast("const float*") long dout, @Cast("float*") long dh1, @Cast("float*") long dh3);
    public static native void itera_swiglu_backward_ref(long n, @Cast("const float*") long h1, @Cast("const float*") long h3, @Cast("const float*") long dout, @Cast("float*") long dh1, @Cast("float*") long dh3);

    // ---- selective SSM (Mamba-1): see the "selective SSM" section of itera_kernels.h
    public static native long itera_ssm_num_chunks(long L, long chunk);
    public static native void itera_causal_conv1d_forward(long Bt, long L, long E, long K, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, long ldy);
    public static native void itera_causal_conv1d_forward_ref(long Bt, long L, long E, long K, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, long ldy);
    public static native void itera_causal_conv1d_backward(long Bt, long L, long E, long K, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx, @Cast("float*") long dw, @Cast("float*") long dbias);
    public static native void itera_causal_conv1d_backward_ref(long Bt, long L, long E, long K, @Cast("const float*") long x, long ldx, @Cast("const float*") long w, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx, @Cast("float*") long dw, @Cast("float*") long dbias);
    public static native void itera_causal_conv1d_step(long Bt, long E, long K, @Cast("const float*") long x, long ldx, @Cast("float*") long state, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, long ldy);
    public static native void itera_causal_conv1d_step_ref(long Bt, long E, long K, @Cast("const float*") long x, long ldx, @Cast("float*") long state, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, long ldy);
    public static native void itera_selective_scan_forward(long Bt, long L, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, long chunk, @Cast("float*") long y, long ldy, @Cast("float*") long last_state, @Cast("float*") long chunk_states);
    public static native void itera_selective_scan_forward_ref(long Bt, long L, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, long chunk, @Cast("float*") long y, long ldy, @Cast("float*") long last_state, @Cast("float*") long chunk_states);
    public static native void itera_selective_scan_backward(long Bt, long L, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, long chunk, @Cast("const float*") long chunk_states, @Cast("const float*") long dy, long lddy, @Cast("float*") long du, long lddu, @Cast("float*") long ddelta, long ldddelta, @Cast("float*") long dA, @Cast("float*") long dB, long lddb, @Cast("float*") long dC, long lddc, @Cast("float*") long dD, @Cast("float*") long dz, long lddz, @Cast("float*") long ddelta_bias);
    public static native void itera_selective_scan_backward_ref(long Bt, long L, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, long chunk, @Cast("const float*") long chunk_states, @Cast("const float*") long dy, long lddy, @Cast("float*") long du, long lddu, @Cast("float*") long ddelta, long ldddelta, @Cast("float*") long dA, @Cast("float*") long dB, long lddb, @Cast("float*") long dC, long lddc, @Cast("float*") long dD, @Cast("float*") long dz, long lddz, @Cast("float*") long ddelta_bias);
    public static native void itera_selective_scan_step(long Bt, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, @Cast("float*") long state, @Cast("float*") long y, long ldy);
    public static native void itera_selective_scan_step_ref(long Bt, long E, long N, @Cast("const float*") long u, long ldu, @Cast("const float*") long delta, long lddelta, @Cast("const float*") long A, @Cast("const float*") long B, long ldb, @Cast("const float*") long C, long ldc, @Cast("const float*") long D, @Cast("const float*") long z, long ldz, @Cast("const float*") long delta_bias, int delta_softplus, @Cast("float*") long state, @Cast("float*") long y, long ldy);

    // ---- causal attention (training): see the "causal attention (training)" section of itera_kernels.h
    public static native void itera_causal_attention_forward(long Bt, long L, long H, long KV, long hs, float scale, @Cast("const float*") long q, long ldq, @Cast("const float*") long k, long ldk, @Cast("const float*") long v, long ldv, @Cast("float*") long out, long ldo, @Cast("float*") long lse);
    public static native void itera_causal_attention_forward_ref(long Bt, long L, long H, long KV, long hs, float scale, @Cast("const float*") long q, long ldq, @Cast("const float*") long k, long ldk, @Cast("const float*") long v, long ldv, @Cast("float*") long out, long ldo, @Cast("float*") long lse);
    public static native void itera_causal_attention_backward(long Bt, long L, long H, long KV, long hs, float scale, @Cast("const float*") long q, long ldq, @Cast("const float*") long k, long ldk, @Cast("const float*") long v, long ldv, @Cast("const float*") long lse, @Cast("const float*") long dout, long lddo, @Cast("float*") long dq, long lddq, @Cast("float*") long dk, long lddk, @Cast("float*") long dv, long lddv);
    public static native void itera_causal_attention_backward_ref(long Bt, long L, long H, long KV, long hs, float scale, @Cast("const float*") long q, long ldq, @Cast("const float*") long k, long ldk, @Cast("const float*") long v, long ldv, @Cast("const float*") long lse, @Cast("const float*") long dout, long lddo, @Cast("float*") long dq, long lddq, @Cast("float*") long dk, long lddk, @Cast("float*") long dv, long lddv);
    public static native void itera_rope_forward(long R, long L, long n_heads, long hs, @Cast("const float*") long x, long ldx, @Cast("float*") long y, long ldy);
    public static native void itera_rope_forward_ref(long R, long L, long n_heads, long hs, @Cast("const float*") long x, long ldx, @Cast("float*") long y, long ldy);
    public static native void itera_rope_backward(long R, long L, long n_heads, long hs, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx);
    public static native void itera_rope_backward_ref(long R, long L, long n_heads, long hs, @Cast("const float*") long dy, long lddy, @Cast("float*") long dx, long lddx);

    // ---- quantised weights (itera_kernels.h section "quantised weights"); W is raw row bytes
    public static native long itera_quant_block_size(int fmt);
    public static native long itera_quant_row_bytes(int fmt, long K);
    public static native int itera_quantize(int fmt, long N, long K, @Cast("const float*") long src, long lds, @Cast("void*") long dst);
    public static native int itera_quantize_ref(int fmt, long N, long K, @Cast("const float*") long src, long lds, @Cast("void*") long dst);
    public static native int itera_dequantize(int fmt, long N, long K, @Cast("const void*") long src, @Cast("float*") long dst, long ldd);
    public static native int itera_dequantize_ref(int fmt, long N, long K, @Cast("const void*") long src, @Cast("float*") long dst, long ldd);
    public static native int itera_quant_check(int fmt, long N, long K, @Cast("const void*") long W);
    public static native int itera_quant_layout(int fmt);
    public static native int itera_quant_relayout(int src_fmt, int dst_fmt, long N, long K, @Cast("const void*") long src, @Cast("void*") long dst);
    public static native int itera_dequantize_row(int fmt, long N, long K, @Cast("const void*") long W, long row, @Cast("float*") long dst);
    public static native int itera_qgemv(int fmt, long N, long K, @Cast("const void*") long W, @Cast("const float*") long x, @Cast("float*") long y);
    public static native int itera_qgemv_ref(int fmt, long N, long K, @Cast("const void*") long W, @Cast("const float*") long x, @Cast("float*") long y);
    public static native int itera_qgemm(int fmt, long M, long N, long K, @Cast("const float*") long X, long ldx, @Cast("const void*") long W, @Cast("float*") long Y, long ldy);
    public static native int itera_qgemm_ref(int fmt, long M, long N, long K, @Cast("const float*") long X, long ldx, @Cast("const void*") long W, @Cast("float*") long Y, long ldy);
}
