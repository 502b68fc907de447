// cpu_ops.h: the CPU implementations of the ops in kernels/backend.h.
//
// Each op's forward and backward live together in one small file; shapes and
// gradient conventions are those of backend.h (parameter gradients +=,
// activation gradients =, norms accumulate into the residual stream).
// Every op is deterministic for a given thread count: reductions run in a
// fixed order, never depending on how OpenMP splits the work.
#ifndef TB_CPU_OPS_H
#define TB_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "../backend.h"

// The ops of kernels/ops.def, each <name>_cpu, in the file of its family
// (linear.c, attention.c, selective_scan.c, ...).
#define OP(kind, ret, name, params, args) OP_CPU_##kind(ret, name, params)
#define OP_CPU_MEMORY(ret, name, params)
#define OP_CPU_GRAPH(ret, name, params)
#define OP_CPU_COMPUTE(ret, name, params) BACKEND_RET_##ret name##_cpu params;
#define OP_CPU_QUERY OP_CPU_COMPUTE
#include "../ops.def"
#undef OP

// blas.c: OpenBLAS runs single-threaded (cpu_blas_single_threaded, called
// when the backend is first taken) and these split each product over the
// OpenMP threads: one thread pool, no two pools fighting for the cores.
// Row-major, transX = 0 or 1.
void cpu_blas_single_threaded(void);
void cpu_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
void cpu_sgemv(int transA, int M, int N, float alpha, const float *A, int lda, const float *x,
               float beta, float *y);
// The linear layers' GEMM (linear.c), same arguments as cpu_sgemm, in the
// precision cpu_set_gemm_precision set: fp32 is cpu_sgemm; bf16 rounds both
// operands to bf16 into buffers sized by cpu_gemm_reserve (operand_floats
// each: the largest operand, rows x widest or a weight) and sums in fp32.
void cpu_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void cpu_gemm_reserve(size_t operand_floats);
// 0, or -1 with the error set: tf32 always (a GPU mode), bf16 on a processor
// without AVX512-BF16 (or with TUNEBENCH_HIDE_AVX512BF16 set, for tests).
int cpu_set_gemm_precision(Precision precision);
Precision cpu_gemm_precision(void);
// 1 when the OpenBLAS loaded has cblas_sbgemm (bf16 GEMMs run on it), 0 when
// they run as cblas_sgemm on the rounded values.
int cpu_have_sbgemm(void);
// How the bf16 GEMMs run here, in words (for the backend's description).
const char *cpu_bf16_gemm_path(void);
// gemm_amx.c: 1 when AMX-BF16 tiles are usable (the CPU has them and Linux
// granted their state to this process). cpu_amx_gemm is cpu_sgemm's
// product with operands rounded to bf16 and fp32 sums, packed into a_pack
// and b_pack of at least cpu_amx_pack_elems(M, N, K, 0) and (.., 1) bf16.
int cpu_amx_available(void);
size_t cpu_amx_pack_elems(int M, int N, int K, int which);
void cpu_amx_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc, uint16_t *a_pack, uint16_t *b_pack);
// Re-executes the program with OPENBLAS_CORETYPE set when OpenBLAS fell back
// to its generic kernels on a CPU it did not recognise, and with a bounded
// spin of idle OpenMP threads (GOMP_SPINCOUNT=CPU_DEFAULT_SPINCOUNT) unless
// GOMP_SPINCOUNT or OMP_WAIT_POLICY is set. Call first in main().
#define CPU_DEFAULT_SPINCOUNT "10000"
void cpu_runtime_reexec(char **argv);

// The limits the Backend states (selective_scan_max_dstate, conv1d_max_kernel).
// conv1d.c holds the kernel's taps in registers; the fused scan keeps its
// state on the stack.
#define CONV1D_MAX_KERNEL_CPU 16
#define SCAN_MAX_DSTATE 64

#endif
