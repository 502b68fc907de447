// cpu_ops.h: the CPU implementations of the ops in kernels/backend.h.
#ifndef TB_CPU_OPS_H
#define TB_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "../backend.h"

// ---------------------------------------------------------------- Mamba ops
// rmsnorm.c: out (N, C) = inp * rstd * weight; rstd (N) saved.
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                     int C, float eps);
// dinp accumulates (the residual stream); dweight accumulates.
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C);

// silu.c: x * sigmoid(x) over n_rows strided rows of cols floats.
void silu_forward(float *out, int out_stride, const float *inp, int inp_stride, int n_rows,
                  int cols);
void silu_backward(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                   const float *dout, int n_rows, int cols);

// conv1d.c: causal depthwise conv1d over time (see backend.h).
void conv1d_forward(float *out, const float *x, int x_stride, const float *weight,
                    const float *bias, int B, int L, int D, int K);
void conv1d_backward(float *dx, int dx_stride, float *dweight, float *dbias, const float *dout,
                     const float *x, int x_stride, const float *weight, int B, int L, int D,
                     int K);
void conv1d_step(float *out, float *conv_state, const float *x, const float *weight,
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

#endif
