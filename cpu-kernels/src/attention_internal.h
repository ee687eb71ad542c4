// Internal declarations of the training attention kernels (not part of the ABI): the RoPE angle
// shared by the reference and the fast path, and the per-ISA table of single-threaded blocks
// generated from simd_attention.inc (see the end of simd_kernels.inc) and driven by
// attention_train.cpp.
#ifndef ITERA_ATTENTION_INTERNAL_H
#define ITERA_ATTENTION_INTERNAL_H

#include <cmath>
#include <cstdint>

#include "itera_kernels.h"

// cos / sin of position t, pair j of a head of hs elements, computed like llama2.c and
// model/Transformer.java: the frequency and the angle are floats, cos / sin are taken in double.
inline void itera_rope_angle(int64_t t, int64_t j, int64_t hs, double* c, double* s) {
  const float freq = float(1.0 / std::pow(10000.0, double(float(2 * j) / float(hs))));
  const float angle = float(t) * freq;
  *c = std::cos(double(angle));
  *s = std::sin(double(angle));
}

namespace itera {

// Arguments of one training attention call (pointers at element 0; see itera_kernels.h).
struct AttnArgs {
  int64_t Bt, L, H, KV, hs;
  float scale;
  const float* q; int64_t ldq;
  const float* k; int64_t ldk;
  const float* v; int64_t ldv;
  const float* lse;
};

// Floats of scratch one task of the forward / backward needs (Lp = L rounded up to 32, two
// vectors of the widest ISA; blocks of 4 query rows).
inline int64_t attn_padded_len(int64_t L) { return (L + 31) / 32 * 32; }
inline int64_t attn_fwd_scratch(int64_t L, int64_t hs) { return attn_padded_len(L) * (hs + 4); }
inline int64_t attn_bwd_scratch(int64_t L, int64_t hs) { return attn_padded_len(L) * (2 * hs + 12); }

struct AttnKernels {
  // Sequence b, query head h: writes out rows and lse[(b*H + h)*L + i].
  void (*fwd)(const AttnArgs& a, int64_t b, int64_t h, float* out, int64_t ldo, float* lse,
              float* scratch);
  // Sequence b, kv head g (all query heads of its group): dq, dk, dv +=.
  void (*bwd)(const AttnArgs& a, int64_t b, int64_t g, const float* dout, int64_t lddo,
              float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
              float* scratch);
};

extern const AttnKernels kScalarAttn;
extern const AttnKernels kAvx2Attn;
extern const AttnKernels kAvx512Attn;

inline const AttnKernels& attn_kernels() {
  switch (itera_get_isa()) {
    case ITERA_ISA_AVX512: return kAvx512Attn;
    case ITERA_ISA_AVX2: return kAvx2Attn;
    default: return kScalarAttn;
  }
}

}  // namespace itera

#endif
