// Stand-alone timing of itera_qgemm on the calling thread's CPU time, for comparing kernel
// versions on a busy machine: wall-clock figures there measure the other processes, while the
// thread's own CPU time (CLOCK_THREAD_CPUTIME_ID) measures the kernel plus whatever cache
// pollution the time slices cause. Runs single-threaded (the pool set to 1) and reports the best
// of several batches as GFLOP/s = 2MNK / CPU seconds per call, after checking the result against
// itera_qgemm_ref (exit status 1 if the normalised error exceeds 2e-2; the activation rounding
// alone gives about 5e-3). With threads > 1 the CPU column is the whole process's CPU time (the
// pool's spinning included) and only the wall column means a 2-thread time, on a quiet machine.
// The JMH QuantGemvBenchmark is the figure of record. Build: see cpu-kernels/README.md.
//
//   ./quant_gemm_bench [batches] [threads] [M [N]]   (default 7 1: the four ggml comparison cases)
//
// ITERA_BENCH_SUSTAIN=S (seconds) first runs each case back to back for S seconds and prints the
// median wall time of every 1 s window: on a shared VM two threads can scale ~2x in short bursts
// but far less sustained, which best-of-batches hides and JMH's long iterations show.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "itera_kernels.h"

static double cpu_seconds(bool process) {
  timespec ts;
  clock_gettime(process ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
static double wall_seconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 7;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const char* sustain_env = std::getenv("ITERA_BENCH_SUSTAIN");
  const double sustain = sustain_env ? std::atof(sustain_env) : 0.0;
  itera_set_num_threads(threads);
  struct Case { int fmt; const char* name; int64_t M, N, K; };
  // Default: the decode and prefill shapes of the ggml comparison; a third argument M instead
  // runs M x 1024 x 1024 (e.g. to find where the packed GEMM starts to pay).
  // Each format in its base layout and in the row-interleaved one QuantizedMatrix keeps (_R16).
  // ITERA_BENCH_ALL=1 adds the other integer formats, INT4 and NF4 also interleaved (rows "...r").
  std::vector<Case> formats = {{ITERA_QFMT_Q8_0, "Q8_0", 0, 0, 0}, {ITERA_QFMT_Q8_0_R16, "Q8_0r", 0, 0, 0},
                               {ITERA_QFMT_Q4_0, "Q4_0", 0, 0, 0}, {ITERA_QFMT_Q4_0_R16, "Q4_0r", 0, 0, 0}};
  if (std::getenv("ITERA_BENCH_ALL"))
    formats.insert(formats.end(), {{ITERA_QFMT_INT8, "INT8", 0, 0, 0}, {ITERA_QFMT_INT4_G32, "INT4_32", 0, 0, 0},
                                   {ITERA_QFMT_INT4_G128, "INT4_128", 0, 0, 0}, {ITERA_QFMT_NF4, "NF4", 0, 0, 0},
                                   {ITERA_QFMT_NF4_DQ, "NF4_DQ", 0, 0, 0}, {ITERA_QFMT_INT4_G32_R16, "INT4_32r", 0, 0, 0},
                                   {ITERA_QFMT_INT4_G128_R16, "INT4_128r", 0, 0, 0}, {ITERA_QFMT_NF4_R16, "NF4r", 0, 0, 0},
                                   {ITERA_QFMT_NF4_DQ_R16, "NF4_DQr", 0, 0, 0}});
  // ITERA_BENCH_FLOAT=1 adds F32 (OpenBLAS), F16 (panels converted for sgemm) and BF16
  // (vdpbf16ps where the CPU has AVX512-BF16, the activations rounded to bf16).
  if (std::getenv("ITERA_BENCH_FLOAT"))
    formats.insert(formats.end(), {{ITERA_QFMT_F32, "F32", 0, 0, 0}, {ITERA_QFMT_F16, "F16", 0, 0, 0},
                                   {ITERA_QFMT_BF16, "BF16", 0, 0, 0}});
  std::vector<int64_t> ms = {1, 512};
  int64_t n_rows = 1024;
  if (argc > 3) {
    ms = {std::atoll(argv[3])};
    if (argc > 4) n_rows = std::atoll(argv[4]);
  }
  std::vector<Case> cases;
  for (int64_t m : ms)
    for (const Case& f : formats) cases.push_back({f.fmt, f.name, m, n_rows, 1024});
  std::mt19937 rng(42);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::printf("isa %d, threads %d, %s time\n", itera_get_isa(), itera_get_num_threads(),
              threads > 1 ? "process CPU" : "thread CPU");
  int status = 0;
  for (const Case& c : cases) {
    std::vector<float> w(size_t(c.N * c.K)), x(size_t(c.M * c.K)), y(size_t(c.M * c.N)), yr(y.size());
    for (float& v : w) v = g(rng);
    for (float& v : x) v = g(rng);
    std::vector<uint8_t> q(size_t(c.N * itera_quant_row_bytes(c.fmt, c.K)));
    itera_quantize(c.fmt, c.N, c.K, w.data(), c.K, q.data());
    itera_qgemm(c.fmt, c.M, c.N, c.K, x.data(), c.K, q.data(), y.data(), c.N);
    itera_qgemm_ref(c.fmt, c.M, c.N, c.K, x.data(), c.K, q.data(), yr.data(), c.N);
    double num = 0, den = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      num += double(y[i] - yr[i]) * double(y[i] - yr[i]);
      den += double(yr[i]) * double(yr[i]);
    }
    const double flop = 2.0 * double(c.M) * double(c.N) * double(c.K);
    const int reps = int(std::max(1.0, 2e8 / flop));
    if (sustain > 0) {
      std::vector<double> window;
      const double start = wall_seconds();
      double window_start = start;
      for (double now = start; now - start < sustain;) {
        itera_qgemm(c.fmt, c.M, c.N, c.K, x.data(), c.K, q.data(), y.data(), c.N);
        const double done = wall_seconds();
        window.push_back(done - now);
        now = done;
        if (now - window_start >= 1.0) {
          std::sort(window.begin(), window.end());
          std::printf("%-8s %4lldx%lldx%lld  sustained: 1 s window median %9.2f us %7.1f GFLOP/s (%zu calls)\n",
                      c.name, (long long)c.M, (long long)c.N, (long long)c.K, window[window.size() / 2] * 1e6,
                      flop / window[window.size() / 2] * 1e-9, window.size());
          window.clear();
          window_start = now;
        }
      }
    }
    double best_cpu = 1e30, best_wall = 1e30;
    for (int b = 0; b < batches; ++b) {
      const double c0 = cpu_seconds(threads > 1), w0 = wall_seconds();
      for (int r = 0; r < reps; ++r) itera_qgemm(c.fmt, c.M, c.N, c.K, x.data(), c.K, q.data(), y.data(), c.N);
      const double c1 = cpu_seconds(threads > 1), w1 = wall_seconds();
      best_cpu = std::min(best_cpu, (c1 - c0) / reps);
      best_wall = std::min(best_wall, (w1 - w0) / reps);
    }
    std::printf("%-8s %4lldx%lldx%lld  cpu %9.2f us  %7.1f GFLOP/s   (wall %9.2f us %7.1f GFLOP/s)  rel.err %.2e\n",
                c.name, (long long)c.M, (long long)c.N, (long long)c.K, best_cpu * 1e6, flop / best_cpu * 1e-9,
                best_wall * 1e6, flop / best_wall * 1e-9, std::sqrt(num / den));
    if (!(std::sqrt(num / den) <= 2e-2)) {
      std::printf("  ^ result differs from itera_qgemm_ref\n");
      status = 1;
    }
  }
  return status;
}
