// conv1d.c: causal depthwise conv1d over time, as mamba_ssm's conv1d with
// padding d_conv - 1 and the output cut to the first L steps:
//
//   out[b,t,d] = bias[d] + sum_k weight[d,k] * x[b, t-K+1+k, d]   (x = 0 before t = 0)
//
// x rows are strided views (x is the first half of in_proj's output xz).
#include <string.h>

#include "cpu_ops.h"
#include "vec_math.h"

// out (B, L, D) contiguous; x (B, L, D) with row stride x_stride; weight (D, K); bias (D)
// x_prev (B, D, K) or NULL: the inputs before t = 0 (see backend.h).
void conv1d_forward_cpu(float *out, const float *x, int x_stride, const float *x_prev,
                    const float *weight, const float *bias, int B, int L, int D, int K) {
#pragma omp parallel for schedule(static) if ((size_t)B * L * D >= 16384)
    for (int bt = 0; bt < B * L; bt++) {
        int t = bt % L, b = bt / L;
        float *o = out + (size_t)bt * D;
        for (int d = 0; d < D; d++) o[d] = bias ? bias[d] : 0.0f;
        for (int k = 0; k < K; k++) {
            int s = t - K + 1 + k;
            if (s < 0) {
                if (!x_prev) continue;
                const float *prev = x_prev + (size_t)b * D * K + K + s;  // [d * K]
                for (int d = 0; d < D; d++) o[d] += weight[d * K + k] * prev[(size_t)d * K];
                continue;
            }
            const float *xr = x + (size_t)(bt - t + s) * x_stride;
            for (int d = 0; d < D; d++) o[d] += weight[d * K + k] * xr[d];
        }
    }
}

// dx (B, L, D) written with row stride dx_stride; dweight (D, K), dbias (D) accumulate.
//   dx[b,s,d]      = sum_k weight[d,k] * dout[b, s+K-1-k, d]   (t < L)
//   dweight[d,k]  += sum_{b,t} dout[b,t,d] * x[b, t-K+1+k, d]
void conv1d_backward_cpu(float *dx, int dx_stride, float *dweight, float *dbias, const float *dout,
                     const float *x, int x_stride, const float *weight, int B, int L, int D,
                     int K) {
#pragma omp parallel for schedule(static)
    for (int bs = 0; bs < B * L; bs++) {
        int s = bs % L;
        float *g = dx + (size_t)bs * dx_stride;
        for (int d = 0; d < D; d++) g[d] = 0.0f;
        for (int k = 0; k < K; k++) {
            int t = s + K - 1 - k;
            if (t >= L) continue;
            const float *dr = dout + (size_t)(bs - s + t) * D;
            for (int d = 0; d < D; d++) g[d] += weight[d * K + k] * dr[d];
        }
    }
    // Parameter gradients: each channel block sums over (b, t) in order, so the
    // result does not depend on the thread count.
    enum { CB = 64, KMAX = CONV1D_MAX_KERNEL_CPU };
#pragma omp parallel for schedule(static)
    for (int d0 = 0; d0 < D; d0 += CB) {
        int d1 = d0 + CB < D ? d0 + CB : D;
        float accw[KMAX][CB], accb[CB];
        memset(accw, 0, sizeof accw);
        memset(accb, 0, sizeof accb);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < L; t++) {
                const float *dr = dout + ((size_t)b * L + t) * D;
                for (int d = d0; d < d1; d++) accb[d - d0] += dr[d];
                for (int k = 0; k < K && k < KMAX; k++) {
                    int s = t - K + 1 + k;
                    if (s < 0) continue;
                    const float *xr = x + ((size_t)b * L + s) * x_stride;
                    for (int d = d0; d < d1; d++) accw[k][d - d0] += dr[d] * xr[d];
                }
            }
        for (int d = d0; d < d1; d++) {
            if (dbias) dbias[d] += accb[d - d0];
            for (int k = 0; k < K && k < KMAX; k++) dweight[d * K + k] += accw[k][d - d0];
        }
    }
}

// conv_state (D, K), oldest input first; x (D); out (D).
void conv1d_silu_step_cpu(float *out, float *conv_state, const float *x, const float *weight,
                 const float *bias, int D, int K) {
    for (int d = 0; d < D; d++) {
        float *s = conv_state + (size_t)d * K;
        for (int k = 0; k + 1 < K; k++) s[k] = s[k + 1];  // a loop, not memmove: K is 4
        s[K - 1] = x[d];
        float acc = bias ? bias[d] : 0.0f;
        for (int k = 0; k < K; k++) acc += weight[d * K + k] * s[k];
        out[d] = acc * vec_sigmoidf(acc);  // SiLU, as silu_forward's scalar path
    }
}

// conv_state (B, D, K) = the last K rows of x (B, L, D), zeros before t = 0.
void conv1d_state_from_sequence_cpu(float *conv_state, const float *x, int x_stride, int B, int L,
                                int D, int K) {
    // In place: entry k takes the input at t = L - K + k; for t < 0 that is
    // the state's own entry K + t = L + k > k, not yet overwritten.
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            float *state = conv_state + ((size_t)b * D + d) * K;
            for (int k = 0; k < K; k++) {
                int t = L - K + k;
                state[k] = t >= 0 ? x[((size_t)b * L + t) * x_stride + d] : state[L + k];
            }
        }
}
