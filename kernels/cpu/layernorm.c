// layernorm.c: LayerNorm over the last dimension.
//
//   mean = sum(x)/C, var = sum((x-mean)^2)/C (biased, as torch), rstd = 1/sqrt(var+eps)
//   out  = (x - mean) * rstd * weight + bias
// The variance takes a second pass over the row (not E[x^2]-mean^2), which
// loses no precision when the mean is large. Row sums are SIMD reductions:
// a fixed lane order (the same bits on every run and thread count), and no
// chain of dependent scalar adds, which cost more than the rest of the row.
#include <math.h>

#include "cpu_ops.h"

// inp, out (N, C); weight, bias (C); mean, rstd (N) saved for the backward.
void layernorm_forward_cpu(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int N, int C, float eps) {
    #pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int c = 0; c < C; c++) sum += x[c];
        float m = sum / C;
        float sq = 0.0f;
        #pragma omp simd reduction(+ : sq)
        for (int c = 0; c < C; c++) {
            float d = x[c] - m;
            sq += d * d;
        }
        float s = 1.0f / sqrtf(sq / C + eps);
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

// With norm = (x - mean) * rstd and dnorm = dout * weight:
//   dinp += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))   (accumulates)
//   dweight += sum_rows dout * norm,  dbias += sum_rows dout
void layernorm_backward_cpu(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int N, int C) {
    #pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        #pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s;
            float dnorm = dy[c] * weight[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
        for (int c = 0; c < C; c++) {
            float norm = (x[c] - m) * s;
            float dnorm = dy[c] * weight[c];
            dx[c] += s * (dnorm - dnorm_mean - norm * dnorm_norm_mean);
        }
    }
    // The parameter gradients are sums over rows: each block of channels is
    // summed in row order by one thread (deterministic for any thread count).
    enum { BLOCK = 32 };
    int nblocks = (C + BLOCK - 1) / BLOCK;
    #pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * BLOCK, width = C - c0 < BLOCK ? C - c0 : BLOCK;
        float dw[BLOCK] = {0}, db[BLOCK] = {0};
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C + c0, *dy = dout + (size_t)i * C + c0;
            float m = mean[i], s = rstd[i];
            for (int c = 0; c < width; c++) {
                dw[c] += dy[c] * (x[c] - m) * s;
                db[c] += dy[c];
            }
        }
        for (int c = 0; c < width; c++) {
            dweight[c0 + c] += dw[c];
            dbias[c0 + c] += db[c];
        }
    }
}
