// optimizer.h: the CPU optimizer ops of kernels/backend.h (optimizer.c).
//
// kernels/cpu/cpu_ops.h declares the same two functions in its optimizer
// section; this header lets the optimizer be used and tested on its own.
#ifndef TB_CPU_OPTIMIZER_H
#define TB_CPU_OPTIMIZER_H

#include <stddef.h>

// sum(g[i]^2) over n floats, accumulated in double in a fixed order that does
// not depend on the thread count: the same bits on 1 thread or 16.
double sum_squares(const float *g, size_t n);

// One PyTorch AdamW step (torch.optim.AdamW, amsgrad off) on n floats at step t >= 1:
//   g      = grad * grad_scale
//   param *= 1 - lr * weight_decay                     (decoupled decay)
//   m      = beta1 * m + (1 - beta1) * g
//   v      = beta2 * v + (1 - beta2) * g * g
//   param -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
void adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                  int t);

#endif
