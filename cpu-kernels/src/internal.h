// Small helpers shared by the reference and the fast kernels (not part of the ABI).
#ifndef ITERA_INTERNAL_H
#define ITERA_INTERNAL_H

#include <cstdint>

// Effective block of rows of the fused LM head + cross-entropy, used identically by
// itera_fused_xent_workspace, the reference and the fast path. The default, 64 rows, amortises
// the dW update (one pass over V x C per block) and keeps the logits block (64 x V floats) a few
// MB even for a 50k vocabulary. Always in [1, max(T, 1)].
inline int64_t itera_fused_xent_block_rows(int64_t T, int64_t block_rows) {
  int64_t rows = block_rows > 0 ? block_rows : 64;
  if (rows > T) rows = T;
  if (rows < 1) rows = 1;
  return rows;
}

// Token ids / targets must lie in [0, V) (targets may also equal ignore_index). Checked for all
// rows before anything is written.
inline bool itera_ids_valid(int64_t n, int64_t V, const int32_t* ids) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || int64_t(ids[i]) >= V) return false;
  return true;
}
inline bool itera_targets_valid(int64_t n, int64_t V, const int32_t* targets,
                                int32_t ignore_index) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t t = targets[i];
    if (t != ignore_index && (t < 0 || int64_t(t) >= V)) return false;
  }
  return true;
}

#endif
