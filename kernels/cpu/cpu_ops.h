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

// linear.c
void linear_forward(float *out, int ld_out, const float *inp, int ld_inp, const float *weight,
                    const float *bias, int N, int C, int OC, int w_in_out);
void linear_backward(float *dinp, int ld_dinp, float *dweight, float *dbias, const float *dout,
                     int ld_dout, const float *inp, int ld_inp, const float *weight, int N, int C,
                     int OC, int w_in_out);

// embedding.c
void embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                       int B, int T, int C);
void embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                        int B, int T, int C);

// layernorm.c
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C, float eps);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C);

// gelu.c
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

// elementwise.c
void add_forward(float *out, const float *a, const float *b, size_t n);
void accumulate(float *dst, const float *src, size_t n);
void scale_inplace(float *x, float s, size_t n);

// attention.c
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH);
void attention_decode(float *out, float *k_cache, float *v_cache, const float *qkv,
                      const int32_t *pos, int n, int max_T, int C, int NH);

// crossentropy.c
void crossentropy_forward_backward(float *losses, float *dlogits, const float *logits,
                                   const int32_t *targets, int N, int V, float dloss);

// optimizer.c: sum_squares, adamw_update (declared in optimizer.h)
#include "optimizer.h"

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

// ---------------------------------------------------------------- Mamba ops
// rmsnorm.c: out (N, C) = inp * rstd * weight; rstd (N) saved.
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                     int C, float eps);
void add_rmsnorm_forward(float *sum, float *out, float *rstd, const float *a, const float *b,
                         const float *weight, int N, int C, float eps);
// dinp accumulates (the residual stream); dweight accumulates.
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C);

// silu.c: x * sigmoid(x) over n_rows strided rows of cols floats.
void silu_forward(float *out, int out_stride, const float *inp, int inp_stride, int n_rows,
                  int cols);
void silu_backward(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                   const float *dout, int n_rows, int cols);

// conv1d.c: causal depthwise conv1d over time (see backend.h), kernels up to 16.
#define CONV1D_MAX_KERNEL_CPU 16
void conv1d_forward(float *out, const float *x, int x_stride, const float *x_prev,
                    const float *weight, const float *bias, int B, int L, int D, int K);
void conv1d_backward(float *dx, int dx_stride, float *dweight, float *dbias, const float *dout,
                     const float *x, int x_stride, const float *weight, int B, int L, int D,
                     int K);
void conv1d_silu_step(float *out, float *conv_state, const float *x, const float *weight,
                      const float *bias, int D, int K);
void conv1d_state_from_sequence(float *conv_state, const float *x, int x_stride, int B, int L,
                                int D, int K);

// selective_scan.c: the fused Mamba-1 selective scan (see the top of that file).
void selective_scan_forward(const SelectiveScanParams *p);
void selective_scan_backward(const SelectiveScanParams *p);
size_t selective_scan_scratch_floats(const SelectiveScanParams *p);
void selective_scan_step(float *out, float *ssm_state, const float *u, const float *delta_raw,
                         const float *z, const float *Bt, const float *Ct, const float *A_log,
                         const float *D, const float *delta_bias, int dim, int dstate);
// The largest d_state the fused scan supports (its state lives on the stack).
#define SCAN_MAX_DSTATE 64

// ---------------------------------------------------------------- LSTM ops
// lstm.c: one nn.LSTM layer's recurrence over T steps (see LstmParams).
void lstm_forward(const LstmParams *p);
void lstm_backward(const LstmParams *p);
size_t lstm_scratch_floats(const LstmParams *p);

#endif
