// rmsnorm.c: RMSNorm as in mamba_ssm (weight, no bias).
//
//   rstd = 1 / sqrt(mean(x^2) + eps),  out = x * rstd * weight
//
// Backward, with g = dout * weight and r = rstd:
//   dx_k = r * (g_k - x_k * r^2 * mean(g * x))
//   dweight_k += sum over rows of dout_k * x_k * r
#include <math.h>

#include "cpu_ops.h"

// Below this many elements (a decode step's single row) a parallel region
// costs more than it saves.
#define RMSNORM_PARALLEL_MIN 16384

// inp, out (N, C); weight (C); rstd (N)
void rmsnorm_forward_cpu(float *out, float *rstd, const float *inp, const float *weight, int N,
                     int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= RMSNORM_PARALLEL_MIN)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float ss = 0.0f;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
        rstd[i] = r;
    }
}

// sum = a + b (may alias a), then out = rmsnorm(sum): the same arithmetic as
// add_cpu then rmsnorm_forward_cpu, row by row.
void add_rmsnorm_forward_cpu(float *sum, float *out, float *rstd, const float *a, const float *b,
                         const float *weight, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= RMSNORM_PARALLEL_MIN)
    for (int i = 0; i < N; i++) {
        float *x = sum + (size_t)i * C;
        const float *ar = a + (size_t)i * C, *br = b + (size_t)i * C;
        float *o = out + (size_t)i * C;
        for (int c = 0; c < C; c++) x[c] = ar[c] + br[c];
        float ss = 0.0f;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
        rstd[i] = r;
    }
}

// dinp (N, C) accumulates; dweight (C) accumulates.
void rmsnorm_backward_cpu(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= RMSNORM_PARALLEL_MIN)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *g = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float r = rstd[i], gx = 0.0f;
        for (int c = 0; c < C; c++) gx += g[c] * weight[c] * x[c];
        float k = r * r * gx / C;
        for (int c = 0; c < C; c++) dx[c] += r * (g[c] * weight[c] - x[c] * k);
    }
    // dweight: each column summed over rows in row order, so the result does
    // not depend on how the columns are split among threads.
    const int cb = 64;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= RMSNORM_PARALLEL_MIN)
    for (int c0 = 0; c0 < C; c0 += cb) {
        int c1 = c0 + cb < C ? c0 + cb : C;
        float acc[64] = {0};
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C, *g = dout + (size_t)i * C;
            float r = rstd[i];
            for (int c = c0; c < c1; c++) acc[c - c0] += g[c] * x[c] * r;
        }
        for (int c = c0; c < c1; c++) dweight[c] += acc[c - c0];
    }
}
