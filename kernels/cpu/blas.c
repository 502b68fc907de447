// blas.c: how the CPU backend drives OpenBLAS.
//
// One thread pool. OpenBLAS (Debian's pthread build) has its own worker
// threads; next to OpenMP's they would be two pools spinning on the same
// cores, and a tiny OpenMP region right after an sgemm would wait for a core
// that an idle OpenBLAS worker is busy-waiting on. So OpenBLAS runs
// single-threaded and cpu_sgemm splits each product over the OpenMP threads
// itself: by rows of C when there are enough, by columns otherwise. Every
// element of C is still one sgemm's dot product over all of K, so the split
// changes no result.
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_ops.h"

void cpu_blas_single_threaded(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// Row-major C (M, N) = alpha * op(A) (M, K) @ op(B) (K, N) + beta * C.
void cpu_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    enum CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
    if (!omp_in_parallel()) cpu_blas_single_threaded();  // in case something changed it
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    double flops = 2.0 * M * N * K;
    if (threads <= 1 || flops < 4e6) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int by_rows = M >= 32 * threads;  // else split the columns
    #pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int total = by_rows ? M : N;
        // Chunk edges on multiples of 16 (whole vectors), the last takes the rest.
        int per = ((total + nt - 1) / nt + 15) / 16 * 16;
        int lo = t * per, hi = lo + per < total ? lo + per : total;
        if (lo < hi) {
            if (by_rows) {
                const float *a = transA ? A + lo : A + (size_t)lo * lda;
                cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                            C + (size_t)lo * ldc, ldc);
            } else {
                const float *b = transB ? B + (size_t)lo * ldb : B + lo;
                cblas_sgemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, b, ldb, beta,
                            C + lo, ldc);
            }
        }
    }
}

// y (M) = alpha * A (M, N) @ x + beta * y, or A^T @ x (N) with transA: the
// batch-1 decode products, bound by streaming A once. Split over the output
// elements so that each thread streams its own part of A.
void cpu_sgemv(int transA, int M, int N, float alpha, const float *A, int lda, const float *x,
               float beta, float *y) {
    if (!omp_in_parallel()) cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    int out = transA ? N : M;
    if (threads <= 1 || (double)M * N < 65536.0) {
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, M, N, alpha, A, lda, x, 1,
                    beta, y, 1);
        return;
    }
    #pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int per = ((out + nt - 1) / nt + 15) / 16 * 16;
        int lo = t * per, hi = lo + per < out ? lo + per : out;
        if (lo < hi) {
            if (transA)  // y[lo:hi] = A[:, lo:hi]^T x
                cblas_sgemv(CblasRowMajor, CblasTrans, M, hi - lo, alpha, A + lo, lda, x, 1, beta,
                            y + lo, 1);
            else         // y[lo:hi] = A[lo:hi, :] x
                cblas_sgemv(CblasRowMajor, CblasNoTrans, hi - lo, N, alpha, A + (size_t)lo * lda,
                            lda, x, 1, beta, y + lo, 1);
        }
    }
}

// Settings that the OpenMP runtime and OpenBLAS read once, when they load, so
// the only way to change them from inside the program is to set them and
// start again. Returns only if nothing needed to change or the exec failed
// (then the run is correct, just slower). Two settings, each only if unset:
//
// OPENBLAS_CORETYPE: OpenBLAS 0.3.21 (Debian 12) does not recognise recent
//   Xeon model numbers and falls back to its generic "Prescott" SSE3 kernels,
//   about 8x slower than its AVX-512 ones on this machine.
// GOMP_SPINCOUNT=CPU_DEFAULT_SPINCOUNT, unless it or OMP_WAIT_POLICY is set:
//   idle OpenMP threads spin that many iterations before they sleep. A Mamba
//   step runs hundreds of short parallel regions, and waking sleeping threads
//   for each cost 10-20% of a mamba-6m step on a quiet machine; but threads
//   that always spin (OMP_WAIT_POLICY=ACTIVE) take the cores from other work
//   and, on a shared machine, from each other: mamba-6m took 36.6 s a step
//   under ACTIVE against 9.8 s under PASSIVE at a load of 20 on 2 cores. A
//   bounded spin covers the gaps between regions and then yields.
void cpu_runtime_reexec(char **argv) {
    if (getenv("TB_RUNTIME_REEXEC")) return;
    int set_core = 0, set_wait = 0;
    const char *core = openblas_get_corename();
    if (!getenv("OPENBLAS_CORETYPE") && core && strcmp(core, "Prescott") == 0) {
        __builtin_cpu_init();
        const char *want = NULL;
        if (__builtin_cpu_supports("avx512bf16")) want = "COOPERLAKE";
        else if (__builtin_cpu_supports("avx512f")) want = "SKYLAKEX";
        else if (__builtin_cpu_supports("avx2")) want = "HASWELL";
        if (want) setenv("OPENBLAS_CORETYPE", want, 1), set_core = 1;
    }
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        setenv("GOMP_SPINCOUNT", CPU_DEFAULT_SPINCOUNT, 1), set_wait = 1;
    if (!set_core && !set_wait) return;
    setenv("TB_RUNTIME_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    // The exec failed: the libraries keep what they loaded with, so the
    // environment (which records and the bench's peer read) must say so too.
    if (set_core) unsetenv("OPENBLAS_CORETYPE");
    if (set_wait) unsetenv("GOMP_SPINCOUNT");
    unsetenv("TB_RUNTIME_REEXEC");
}
