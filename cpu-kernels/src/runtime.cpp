// Runtime services behind the ABI: CPU feature detection, ISA selection, the worker pool,
// counted aligned allocation, and the no-op used to measure call overhead.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "itera_kernels.h"
#include "openblas_abi.h"
#include "parallel.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define ITERA_PAUSE() _mm_pause()
#else
#define ITERA_PAUSE() ((void)0)
#endif

namespace {

int detect_features() {
  int f = 0;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) f |= ITERA_CPU_AVX2;
  if (__builtin_cpu_supports("fma")) f |= ITERA_CPU_FMA;
  if (__builtin_cpu_supports("f16c")) f |= ITERA_CPU_F16C;
  if (__builtin_cpu_supports("avx512f")) f |= ITERA_CPU_AVX512F;
  if (__builtin_cpu_supports("avx512bw")) f |= ITERA_CPU_AVX512BW;
  if (__builtin_cpu_supports("avx512dq")) f |= ITERA_CPU_AVX512DQ;
  if (__builtin_cpu_supports("avx512vl")) f |= ITERA_CPU_AVX512VL;
  if (__builtin_cpu_supports("avx512vnni")) f |= ITERA_CPU_AVX512VNNI;
  if (__builtin_cpu_supports("avx512bf16")) f |= ITERA_CPU_AVX512BF16;
#if __GNUC__ >= 11
  if (__builtin_cpu_supports("avxvnni")) f |= ITERA_CPU_AVXVNNI;
#endif
#endif
  return f;
}

int max_isa_for(int f) {
  const int avx2 = ITERA_CPU_AVX2 | ITERA_CPU_FMA | ITERA_CPU_F16C;
  const int avx512 = avx2 | ITERA_CPU_AVX512F | ITERA_CPU_AVX512BW | ITERA_CPU_AVX512DQ |
                     ITERA_CPU_AVX512VL;
  if ((f & avx512) == avx512) return ITERA_ISA_AVX512;
  if ((f & avx2) == avx2) return ITERA_ISA_AVX2;
  return ITERA_ISA_SCALAR;
}

const int g_features = detect_features();
const int g_max_isa = [] {
  // ITERA_ISA caps the level for the whole process (e.g. to reproduce an AVX2-only machine).
  int isa = max_isa_for(g_features);
  if (const char* env = std::getenv("ITERA_ISA")) {
    int want = isa;
    if (!std::strcmp(env, "scalar")) want = ITERA_ISA_SCALAR;
    else if (!std::strcmp(env, "avx2")) want = ITERA_ISA_AVX2;
    else if (!std::strcmp(env, "avx512")) want = ITERA_ISA_AVX512;
    if (want < isa) isa = want;
  }
  return isa;
}();
std::atomic<int> g_isa{g_max_isa};
// OpenBLAS is driven one thread per panel by the pool (gemm.cpp), from the first call on.
const bool g_blas_single_threaded = [] {
  openblas_set_num_threads(1);
  return true;
}();

std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_live_blocks{0};

// ------------------------------------------------------------------ worker pool
class Pool {
 public:
  Pool() { resize(hardware_threads()); }
  ~Pool() { stop_workers(); }

  static int hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(n);
  }

  int size() const { return size_.load(std::memory_order_relaxed); }

  void resize(int n) {
    if (n <= 0) n = hardware_threads();
    std::lock_guard<std::mutex> call_guard(call_mutex_);
    stop_workers();
    size_.store(n);
    stopping_ = false;
    claimed_.reset(new std::atomic<int>[size_t(n)]);
    for (int i = 0; i < n; ++i) claimed_[size_t(i)].store(1);  // 1: no unclaimed work
    // Each worker starts from the generation current NOW, not whatever it reads once the OS
    // gets round to running it: otherwise a job published in between (set_num_threads followed
    // at once by a kernel) is skipped by the new worker and the caller waits forever.
    const uint64_t gen0 = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, gen0] { worker_loop(i, gen0); });
  }

  void run(int64_t n, int64_t grain, itera::RangeFn fn, void* ctx) {
    std::unique_lock<std::mutex> call_guard(call_mutex_, std::try_to_lock);
    int threads = size();
    int64_t max_parts = (n + grain - 1) / grain;
    int parts = int(max_parts < threads ? max_parts : threads);
    if (!call_guard.owns_lock() || parts <= 1 || in_worker_) {
      fn(ctx, 0, n);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    parts_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    // Publishes fn_..parts_ to whoever claims a part (release here, acquire in the exchange).
    for (int p = 1; p < parts; ++p) claimed_[size_t(p)].store(0, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    run_part(0);
    // Parts whose worker has not started yet (descheduled: another process, or OpenBLAS's
    // spinning threads on a machine with few cores) run here instead of being waited for.
    for (int p = 1; p < parts; ++p) {
      if (claimed_[size_t(p)].exchange(1, std::memory_order_acq_rel) == 0) {
        run_part(p);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
    // Wait for the helpers; they finish within the same short kernel, so spinning is right.
    while (pending_.load(std::memory_order_acquire) != 0) ITERA_PAUSE();
  }

 private:
  void run_part(int part) {
    if (part >= parts_) return;
    int64_t begin = n_ * part / parts_;
    int64_t end = n_ * (part + 1) / parts_;
    if (begin < end) fn_(ctx_, begin, end);
  }

  void worker_loop(int index, uint64_t seen) {
    in_worker_ = true;
    for (;;) {
      // Spin about 0.2 ms for the next job before sleeping.
      auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      uint64_t gen;
      int spins = 0;
      while ((gen = generation_.load(std::memory_order_acquire)) == seen && !stopping_) {
        ITERA_PAUSE();
        if (++spins == 256) {
          spins = 0;
          if (std::chrono::steady_clock::now() > spin_until) {
            std::unique_lock<std::mutex> lk(wake_mutex_);
            wake_cv_.wait(lk, [&] {
              return generation_.load(std::memory_order_acquire) != seen || stopping_;
            });
          }
        }
      }
      if (stopping_) return;
      seen = gen;
      // Part `index` is this worker's unless the caller already took it over.
      if (claimed_[size_t(index)].exchange(1, std::memory_order_acq_rel) == 0) {
        run_part(index);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(wake_mutex_);
      stopping_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::atomic<int> size_{1};
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::unique_ptr<std::atomic<int>[]> claimed_;  // per part: 0 = waiting for its worker
  std::atomic<bool> stopping_{false};
  itera::RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0;
  static thread_local bool in_worker_;
};
thread_local bool Pool::in_worker_ = false;

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction order
  return *p;
}

}  // namespace

namespace itera {
int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n); }
void parallel_for_raw(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
  pool().run(n, grain, fn, ctx);
}
}  // namespace itera

extern "C" {

int itera_cpu_features(void) { return g_features; }
int itera_max_isa(void) { return g_max_isa; }
int itera_get_isa(void) { return g_isa.load(std::memory_order_relaxed); }
int itera_set_isa(int isa) {
  if (isa < ITERA_ISA_SCALAR) isa = ITERA_ISA_SCALAR;
  if (isa > g_max_isa) isa = g_max_isa;
  g_isa.store(isa);
  return isa;
}

void itera_set_num_threads(int n) {
  itera::set_num_threads(n);
  // GEMMs are threaded by the pool, panel by panel (gemm.cpp); OpenBLAS stays on one thread.
  openblas_set_num_threads(1);
}
int itera_get_num_threads(void) { return itera::num_threads(); }

const char* itera_blas_config(void) {
  static std::string config = [] {
    std::string s = openblas_get_config();
    s += " | core: ";
    s += openblas_get_corename();
    return s;
  }();
  return config.c_str();
}

void itera_noop(void) {}

void* itera_alloc(int64_t bytes) {
  if (bytes <= 0) return nullptr;
  // Round up to the alignment so aligned_alloc's contract holds and SIMD tails never fault.
  size_t size = (size_t(bytes) + 63) & ~size_t(63);
  void* p = std::aligned_alloc(64, size);
  if (p) {
    g_live_bytes.fetch_add(bytes, std::memory_order_relaxed);
    g_live_blocks.fetch_add(1, std::memory_order_relaxed);
  }
  return p;
}

void itera_free(void* ptr, int64_t bytes) {
  if (!ptr) return;
  std::free(ptr);
  g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
}

int64_t itera_live_bytes(void) { return g_live_bytes.load(); }
int64_t itera_live_allocations(void) { return g_live_blocks.load(); }

void itera_copy_bytes(int64_t n, const void* src, void* dst) {
  if (n <= 0) return;
  // One core cannot saturate the memory bus: large copies are split into 64 KiB blocks.
  constexpr int64_t kBlock = 1 << 16;
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  itera::parallel_for((n + kBlock - 1) / kBlock, 16, [&](int64_t b0, int64_t b1) {
    const int64_t begin = b0 * kBlock;
    const int64_t end = std::min(n, b1 * kBlock);
    std::memcpy(d + begin, s + begin, size_t(end - begin));
  });
}

}  // extern "C"
