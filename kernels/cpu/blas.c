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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bf16.h"
#include "cpu_ops.h"
#include "lib/common.h"

void cpu_blas_single_threaded(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// One thread's part of a product (cblas_sgemm or cblas_sbgemm, row-major),
// on operands of either element type.
typedef void (*GemmSlice)(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                          float alpha, const void *A, int lda, const void *B, int ldb, float beta,
                          float *C, int ldc);

static void sgemm_slice(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                        float alpha, const void *A, int lda, const void *B, int ldb, float beta,
                        float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, (const float *)A, lda, (const float *)B, ldb,
                beta, C, ldc);
}

// Row-major C (M, N) = alpha * op(A) (M, K) @ op(B) (K, N) + beta * C, split
// over the OpenMP threads; elem is the operands' element size in bytes.
static void gemm_split(GemmSlice slice, size_t elem, int transA, int transB, int M, int N, int K,
                       float alpha, const void *A, int lda, const void *B, int ldb, float beta,
                       float *C, int ldc) {
    enum CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
    if (!omp_in_parallel()) cpu_blas_single_threaded();  // in case something changed it
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    double flops = 2.0 * M * N * K;
    if (threads <= 1 || flops < 4e6) {
        slice(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
                size_t a = transA ? (size_t)lo : (size_t)lo * lda;
                slice(ta, tb, hi - lo, N, K, alpha, (const char *)A + a * elem, lda, B, ldb, beta,
                      C + (size_t)lo * ldc, ldc);
            } else {
                size_t b = transB ? (size_t)lo * ldb : (size_t)lo;
                slice(ta, tb, M, hi - lo, K, alpha, A, lda, (const char *)B + b * elem, ldb, beta,
                      C + lo, ldc);
            }
        }
    }
}

void cpu_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_split(sgemm_slice, sizeof(float), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta,
               C, ldc);
}

// ---------------------------------------------------------------- precision
// The linear layers' GEMMs in fp32 or bf16 (kernels/precisions.def; tf32 is
// a GPU tensor-core mode, refused here). In bf16 both operands are rounded
// to bf16 (nearest even, kernels/bf16.h) into the two operand buffers and
// multiplied with fp32 sums, as cublasGemmEx does with CUDA_R_16BF inputs
// and CUBLAS_COMPUTE_32F, so this is the CUDA path's reference:
//   - on AMX tiles (gemm_amx.c) where the processor and the kernel allow
//     them, for products of at least 32 rows, columns and depth (unless
//     TUNEBENCH_NO_AMX is set, which the tests use to take the paths below);
//   - with OpenBLAS's cblas_sbgemm (a build with BUILD_BFLOAT16=1), on the
//     bf16 values themselves: its AVX512-BF16 kernels do twice the fp32
//     multiply-adds per instruction;
//   - without it (Debian's 0.3.21 has the declaration but not the function),
//     cblas_sgemm on the rounded values held as floats. A product of two bf16
//     values is exact in fp32, so the result is the same up to the order of
//     the sums; the speed is fp32's plus the rounding.
// Both operands of a product are converted whole before it is split over the
// threads, each row by one thread: the same bits for any thread count.
#pragma weak cblas_sbgemm

static Precision gemm_precision = PRECISION_FP32;
static int gemm_amx;               // bf16 products go to AMX tiles (set with the precision)
static float *operand_buf[2];      // the rounded A and B of a bf16 GEMM
static size_t operand_cap;         // floats in each, as allocated
static size_t operand_reserved;    // floats each must hold, from reserve_workspace

int cpu_have_sbgemm(void) { return cblas_sbgemm != NULL; }

static void sbgemm_slice(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K,
                         float alpha, const void *A, int lda, const void *B, int ldb, float beta,
                         float *C, int ldc) {
    cblas_sbgemm(CblasRowMajor, ta, tb, M, N, K, alpha, (const bfloat16 *)A, lda,
                 (const bfloat16 *)B, ldb, beta, C, ldc);
}

static void grow_operands(void) {
    if (operand_reserved <= operand_cap) return;
    for (int i = 0; i < 2; i++) {
        free(operand_buf[i]);
        operand_buf[i] = aligned_alloc(64, (operand_reserved * sizeof(float) + 63) / 64 * 64);
        if (!operand_buf[i])
            tb_die("out of memory allocating the bf16 GEMM operands (%zu floats each)", operand_reserved);
    }
    operand_cap = operand_reserved;
}

void cpu_gemm_reserve(size_t operand_floats) {
    if (operand_floats > operand_reserved) operand_reserved = operand_floats;
    if (gemm_precision == PRECISION_BF16) grow_operands();
}

// AVX512-BF16, unless TUNEBENCH_HIDE_AVX512BF16 is set (the tests' way to
// take the path of a CPU without it).
static int cpu_has_avx512bf16(void) {
    if (getenv("TUNEBENCH_HIDE_AVX512BF16")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

int cpu_set_gemm_precision(Precision p) {
    if (p == PRECISION_TF32)
        return tb_error("precision tf32 is a GPU tensor-core mode; the CPU backend computes fp32 or bf16 "
                        "(use --precision fp32, or --backend cuda)");
    if (p == PRECISION_BF16 && !cpu_has_avx512bf16())
        return tb_error("precision bf16 on the CPU needs AVX512-BF16, which this processor lacks "
                        "(grep avx512_bf16 /proc/cpuinfo finds nothing); use --precision fp32, or --backend cuda");
    if (p != PRECISION_FP32 && p != PRECISION_BF16) return tb_error("unknown precision %d", (int)p);
    gemm_precision = p;
    gemm_amx = p == PRECISION_BF16 && !getenv("TUNEBENCH_NO_AMX") && cpu_amx_available();
    if (p == PRECISION_BF16) grow_operands();
    return 0;
}

Precision cpu_gemm_precision(void) { return gemm_precision; }

const char *cpu_bf16_gemm_path(void) {
    if (gemm_amx)
        return cpu_have_sbgemm() ? "AMX tiles, cblas_sbgemm below 32 rows, columns or depth"
                                 : "AMX tiles, cblas_sgemm on bf16-rounded operands below 32 rows, columns or depth";
    return cpu_have_sbgemm() ? "cblas_sbgemm" : "cblas_sgemm on bf16-rounded operands (no AMX, no cblas_sbgemm)";
}

// dst (rows, cols) dense = src (rows, cols; row stride ld) rounded to bf16:
// as bf16 (2 bytes each) when as_bits, else as the floats they equal.
static void round_operand(void *dst, const float *src, int ld, int rows, int cols, int as_bits) {
    #pragma omp parallel for schedule(static) if (!omp_in_parallel() && (size_t)rows * cols > 65536)
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        if (as_bits) {
            uint16_t *d = (uint16_t *)dst + (size_t)r * cols;
            for (int c = 0; c < cols; c++) d[c] = bf16_from_float(s[c]);
        } else {
            float *d = (float *)dst + (size_t)r * cols;
            for (int c = 0; c < cols; c++) d[c] = bf16_to_float(bf16_from_float(s[c]));
        }
    }
}

void cpu_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (gemm_precision != PRECISION_BF16 || M <= 0 || N <= 0 || K <= 0) {
        cpu_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    // The stored shapes: A is (M, K), or (K, M) transposed; B (K, N) or (N, K).
    int a_rows = transA ? K : M, a_cols = transA ? M : K;
    int b_rows = transB ? N : K, b_cols = transB ? K : N;
    size_t need = (size_t)a_rows * a_cols > (size_t)b_rows * b_cols ? (size_t)a_rows * a_cols
                                                                     : (size_t)b_rows * b_cols;
    if (need > operand_cap)
        tb_die("a bf16 GEMM of %d x %d x %d needs %zu floats of operand workspace but %zu were reserved "
               "(the model must reserve its largest shapes with reserve_workspace)", M, N, K, need,
               operand_cap);
    if (gemm_amx && M >= 32 && N >= 32 && K >= 32 &&
        cpu_amx_pack_elems(M, N, K, 0) <= 2 * operand_cap && cpu_amx_pack_elems(M, N, K, 1) <= 2 * operand_cap) {
        cpu_amx_gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, (uint16_t *)operand_buf[0],
                     (uint16_t *)operand_buf[1]);
        return;
    }
    int bits = cpu_have_sbgemm();
    round_operand(operand_buf[0], A, lda, a_rows, a_cols, bits);
    round_operand(operand_buf[1], B, ldb, b_rows, b_cols, bits);
    gemm_split(bits ? sbgemm_slice : sgemm_slice, bits ? sizeof(uint16_t) : sizeof(float), transA,
               transB, M, N, K, alpha, operand_buf[0], a_cols, operand_buf[1], b_cols, beta, C, ldc);
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
