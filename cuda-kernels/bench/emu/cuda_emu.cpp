// Scheduler and runtime stubs of the CPU emulator (cuda_emu.h).
#include <ucontext.h>

#include "cuda_emu.h"

namespace itera_emu {

uint3 threadIdx_, blockIdx_;
dim3 blockDim_, gridDim_;

namespace {

enum Wait { kRun = 0, kBlock = 1, kWarp = 2, kDone = 3 };

struct Thread {
  ucontext_t ctx;
  std::vector<char> stack;
  Wait wait = kRun;
  uint64_t epoch = 0;  // barrier generation this thread waits on
};

ucontext_t g_sched;
std::vector<Thread> g_threads;
int g_cur = -1;
const std::function<void()>* g_body = nullptr;
std::vector<unsigned> g_xbuf;   // warp exchange buffer, one slot per thread
std::vector<char> g_smem;
uint64_t g_block_epoch = 0;
std::vector<uint64_t> g_warp_epoch;

void trampoline() {
  (*g_body)();
  g_threads[g_cur].wait = kDone;
  swapcontext(&g_threads[g_cur].ctx, &g_sched);
}

void block_here(Wait w) {
  Thread& t = g_threads[g_cur];
  t.wait = w;
  t.epoch = w == kBlock ? g_block_epoch : g_warp_epoch[g_cur / 32];
  swapcontext(&t.ctx, &g_sched);
}

}  // namespace

void sync_block() { block_here(kBlock); }
void sync_warp() { block_here(kWarp); }

unsigned exchange(unsigned v, int src_lane) {
  g_xbuf[g_cur] = v;
  block_here(kWarp);
  const unsigned r = g_xbuf[(g_cur & ~31) + src_lane];
  block_here(kWarp);  // nobody overwrites the buffer before every lane has read it
  return r;
}

unsigned match_any(unsigned v) {
  g_xbuf[g_cur] = v;
  block_here(kWarp);
  unsigned mask = 0;
  const int base = g_cur & ~31;
  for (int l = 0; l < 32; ++l)
    if (g_xbuf[base + l] == v) mask |= 1u << l;
  block_here(kWarp);
  return mask;
}

void* dynamic_smem() { return g_smem.data(); }

void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  const int n = (int)(block.x * block.y * block.z);
  if (n % 32 != 0 || block.y != 1 || block.z != 1) {
    std::fprintf(stderr, "emu: blocks must be 1-D multiples of 32 threads\n");
    std::abort();
  }
  gridDim_ = grid;
  blockDim_ = block;
  g_body = &body;
  g_smem.assign(smem + 16, 0);
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx_ = make_uint3(bx, by, bz);
        g_threads.assign(n, Thread());
        g_xbuf.assign(n, 0);
        g_warp_epoch.assign(n / 32, 0);
        std::memset(g_smem.data(), 0xCD, g_smem.size());  // garbage, as on a GPU
        for (int i = 0; i < n; ++i) {
          Thread& t = g_threads[i];
          t.stack.resize(64 * 1024);
          getcontext(&t.ctx);
          t.ctx.uc_stack.ss_sp = t.stack.data();
          t.ctx.uc_stack.ss_size = t.stack.size();
          t.ctx.uc_link = nullptr;
          makecontext(&t.ctx, trampoline, 0);
        }
        for (;;) {
          bool ran = false;
          for (int i = 0; i < n; ++i) {
            if (g_threads[i].wait != kRun) continue;
            g_cur = i;
            threadIdx_ = make_uint3((unsigned)i, 0, 0);
            swapcontext(&g_sched, &g_threads[i].ctx);
            ran = true;
          }
          // release complete barriers
          int done = 0, at_block = 0;
          for (int i = 0; i < n; ++i) {
            done += g_threads[i].wait == kDone;
            at_block += g_threads[i].wait == kBlock;
          }
          if (done == n) break;
          bool released = false;
          if (at_block > 0 && at_block + done == n) {
            if (done > 0) {
              std::fprintf(stderr, "emu: __syncthreads with %d exited threads (block %u,%u)\n", done, bx, by);
              std::abort();
            }
            for (auto& t : g_threads) t.wait = kRun;
            ++g_block_epoch;
            released = true;
          }
          for (int w = 0; w < n / 32; ++w) {
            int at_warp = 0, wdone = 0;
            for (int l = 0; l < 32; ++l) {
              at_warp += g_threads[w * 32 + l].wait == kWarp;
              wdone += g_threads[w * 32 + l].wait == kDone;
            }
            if (at_warp > 0 && at_warp == 32) {
              for (int l = 0; l < 32; ++l) g_threads[w * 32 + l].wait = kRun;
              ++g_warp_epoch[w];
              released = true;
            } else if (at_warp > 0 && at_warp + wdone == 32) {
              std::fprintf(stderr, "emu: warp collective with exited lanes (block %u,%u warp %d)\n", bx, by, w);
              std::abort();
            }
          }
          if (!ran && !released) {
            std::fprintf(stderr, "emu: deadlock in block (%u,%u): threads wait at different barriers\n", bx, by);
            std::abort();
          }
        }
      }
  g_threads.clear();
}

}  // namespace itera_emu

// ------------------------------------------------------------------ runtime stubs the kernels use
extern "C" {
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) { *v = 4; return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) { std::memset(p, v, n); return cudaSuccess; }
cudaError_t cudaFuncSetAttribute(const void*, cudaFuncAttribute, int) { return cudaSuccess; }
}
