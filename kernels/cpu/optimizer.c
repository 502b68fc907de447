// optimizer.c: AdamW and the gradient norm's sum of squares on the CPU.
#include "cpu_ops.h"

#include <math.h>

// The sum of squares is split into at most SUMSQ_MAX_BLOCKS blocks of at least
// SUMSQ_MIN_BLOCK floats. The block boundaries depend only on n, each block is
// summed in one fixed order, and the block sums are added in index order, so
// the result is the same whatever the thread count. Eight double lanes per
// block let the compiler vectorise without reassociating anything.
#define SUMSQ_MAX_BLOCKS 256
#define SUMSQ_MIN_BLOCK 8192

static double sum_squares_block(const float *g, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < n; i++) lane[i % 8] += (double)g[i] * (double)g[i];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// sum(g[i]^2) over n floats, accumulated in double in a fixed order that does
// not depend on the thread count: the same bits on 1 thread or 16.
double sum_squares_cpu(const float *g, size_t n) {
    size_t block = (n + SUMSQ_MAX_BLOCKS - 1) / SUMSQ_MAX_BLOCKS;
    if (block < SUMSQ_MIN_BLOCK) block = SUMSQ_MIN_BLOCK;
    int nblocks = (int)((n + block - 1) / block);
    double partial[SUMSQ_MAX_BLOCKS];
#pragma omp parallel for schedule(static) if (nblocks > 1)
    for (int b = 0; b < nblocks; b++) {
        size_t start = (size_t)b * block;
        size_t len = n - start < block ? n - start : block;
        partial[b] = sum_squares_block(g + start, len);
    }
    double total = 0.0;
    for (int b = 0; b < nblocks; b++) total += partial[b];
    return total;
}

// One PyTorch AdamW step (torch.optim.AdamW, amsgrad off) on n floats at step t >= 1:
//   g      = grad * grad_scale
//   param *= 1 - lr * weight_decay                     (decoupled decay)
//   m      = beta1 * m + (1 - beta1) * g
//   v      = beta2 * v + (1 - beta2) * g * g
//   param -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The arithmetic follows torch.optim.AdamW's single-tensor path (torch 1.13):
// the bias corrections and the step size are computed in double as Python
// floats are, then used as fp32 scalars, and the update is applied in the
// same order (decay, moments, denominator, addcdiv).
void adamw_update_cpu(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                  int t) {
    double bias_correction1 = 1.0 - pow((double)beta1, (double)t);
    double bias_correction2 = 1.0 - pow((double)beta2, (double)t);
    float decay = (float)(1.0 - (double)lr * (double)weight_decay);
    float one_minus_beta1 = (float)(1.0 - (double)beta1);
    float one_minus_beta2 = (float)(1.0 - (double)beta2);
    float neg_step_size = (float)(-(double)lr / bias_correction1);
    float bias_correction2_sqrt = (float)sqrt(bias_correction2);
    long long count = (long long)n;
#pragma omp parallel for schedule(static) if (count > 65536)
    for (long long i = 0; i < count; i++) {
        float g = grad[i] * grad_scale;
        float p = param[i] * decay;
        float mi = m[i] * beta1 + one_minus_beta1 * g;
        float vi = v[i] * beta2 + one_minus_beta2 * g * g;
        float denom = sqrtf(vi) / bias_correction2_sqrt + eps;
        param[i] = p + neg_step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}
