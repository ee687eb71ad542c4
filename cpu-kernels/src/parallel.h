// Persistent worker pool for the fast kernels.
//
// Kernels call itera::parallel_for(n, grain, fn): [0, n) is cut into at most num_threads()
// contiguous ranges of at least `grain` items and fn(begin, end) runs once per range, the calling
// thread taking the first. Workers spin briefly before sleeping, so back-to-back small kernels
// (a decode step's GEMVs) do not pay a futex wake-up each. A call made while the pool is busy
// (another Java thread, or a nested call) runs serially on the caller: always correct, never
// deadlocks.
#ifndef ITERA_PARALLEL_H
#define ITERA_PARALLEL_H

#include <cstdint>

namespace itera {

int num_threads();
void set_num_threads(int n);  // n <= 0: all available cores

using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
void parallel_for_raw(int64_t n, int64_t grain, RangeFn fn, void* ctx);

template <typename F>
inline void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain || num_threads() == 1) {
    f(int64_t(0), n);
    return;
  }
  parallel_for_raw(
      n, grain,
      [](void* ctx, int64_t b, int64_t e) { (*static_cast<const F*>(ctx))(b, e); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace itera

#endif
