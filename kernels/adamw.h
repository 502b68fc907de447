// adamw.h: one AdamW step's arithmetic, shared by the CPU op
// (kernels/cpu/optimizer.c) and the CUDA kernel (kernels/cuda/optimizer.cu),
// so that both compute the same scalars the same way. Plain C, also compiled
// as C++ and as CUDA (host and device).
//
// PyTorch's AdamW (torch.optim.AdamW, amsgrad off) on one element at step t >= 1:
//   g      = grad * grad_scale
//   param *= 1 - lr * weight_decay                     (decoupled decay)
//   m      = beta1 * m + (1 - beta1) * g
//   v      = beta2 * v + (1 - beta2) * g * g
//   param -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The arithmetic follows torch.optim.AdamW's single-tensor path (torch 1.13):
// the bias corrections and the step size are computed in double as Python
// floats are, then used as fp32 scalars, and the update is applied in the
// same order (decay, moments, denominator, addcdiv).
//
// Which elements decay is a list of spans over the parameter buffer,
// [spans[2k], spans[2k + 1]), increasing and disjoint (see ops.def).
#ifndef TB_ADAMW_H
#define TB_ADAMW_H

#include <math.h>
#include <stddef.h>

#ifdef __CUDACC__
#define ADAMW_FN static inline __host__ __device__
#else
#define ADAMW_FN static inline
#endif

typedef struct {
    float decay;  // 1 - lr * weight_decay: an element in a decay span is multiplied by it
    float beta1, beta2, one_minus_beta1, one_minus_beta2;
    float neg_step_size;          // -lr / (1 - beta1^t)
    float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
    float eps, grad_scale;
} AdamwScalars;

static inline AdamwScalars adamw_scalars(float lr, float beta1, float beta2, float eps,
                                         float weight_decay, float grad_scale, int t) {
    double bias_correction1 = 1.0 - pow((double)beta1, (double)t);
    double bias_correction2 = 1.0 - pow((double)beta2, (double)t);
    AdamwScalars s;
    s.decay = (float)(1.0 - (double)lr * (double)weight_decay);
    s.beta1 = beta1, s.beta2 = beta2;
    s.one_minus_beta1 = (float)(1.0 - (double)beta1);
    s.one_minus_beta2 = (float)(1.0 - (double)beta2);
    s.neg_step_size = (float)(-(double)lr / bias_correction1);
    s.bias_correction2_sqrt = (float)sqrt(bias_correction2);
    s.eps = eps, s.grad_scale = grad_scale;
    return s;
}

// Element i; decay is s.decay inside a decay span and 1 outside.
ADAMW_FN void adamw_element(float *param, const float *grad, float *m, float *v, size_t i,
                            float decay, AdamwScalars s) {
    float g = grad[i] * s.grad_scale;
    float p = param[i] * decay;
    float mi = m[i] * s.beta1 + s.one_minus_beta1 * g;
    float vi = v[i] * s.beta2 + s.one_minus_beta2 * g * g;
    float denom = sqrtf(vi) / s.bias_correction2_sqrt + s.eps;
    param[i] = p + s.neg_step_size * mi / denom;
    m[i] = mi;
    v[i] = vi;
}

// The first span that ends after element i (num_spans if none does): i is
// decayed exactly when that span exists and starts at or before i.
ADAMW_FN int adamw_span_after(const size_t *spans, int num_spans, size_t i) {
    int lo = 0, hi = num_spans;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (spans[2 * mid + 1] <= i) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#endif
