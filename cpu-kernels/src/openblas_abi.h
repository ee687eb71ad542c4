// The few OpenBLAS entry points the kernels use, declared here so the build needs no cblas.h:
// the symbols come from the JavaCPP OpenBLAS preset's libopenblas.so.0 at link and load time.
#ifndef ITERA_OPENBLAS_ABI_H
#define ITERA_OPENBLAS_ABI_H

extern "C" {
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
// blasint is 32-bit in the preset's build (no INTERFACE64).
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE transA, enum CBLAS_TRANSPOSE transB,
                 int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

#endif
