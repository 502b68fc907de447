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
