// crossentropy.c: fused softmax + cross-entropy, one pass per row pair.
//
//   loss_i = logsumexp(logits_i) - logits_i[target_i]
//   dlogits_i = dloss * (softmax(logits_i) - onehot(target_i))
// The softmax is never stored: dlogits is written directly (and may alias
// logits). Rows with a negative target are ignored: loss 0, gradient 0.
#include <math.h>
#include <string.h>

#include "cpu_ops.h"
#include "vec_math.h"

// logits, dlogits (N, V); losses (N); targets (N)
void crossentropy_forward_backward_cpu(float *losses, float *dlogits, const float *logits,
                                   const int32_t *targets, int N, int V, float dloss) {
    #pragma omp parallel for schedule(static) if ((size_t)N * V > 32768)
    for (int i = 0; i < N; i++) {
        const float *x = logits + (size_t)i * V;
        int target = targets[i];
        if (target < 0) {
            losses[i] = 0.0f;
            if (dlogits) memset(dlogits + (size_t)i * V, 0, (size_t)V * sizeof(float));
            continue;
        }
        float maxv = -INFINITY;
        #pragma omp simd reduction(max : maxv)
        for (int v = 0; v < V; v++) maxv = x[v] > maxv ? x[v] : maxv;
        float sum = 0.0f;
        if (dlogits) {
            // Keep the exponentials in dlogits, then scale them in place.
            float *dx = dlogits + (size_t)i * V;
            float target_logit = x[target];  // before dx (maybe aliasing x) is written
            #pragma omp simd reduction(+ : sum)
            for (int v = 0; v < V; v++) {
                dx[v] = vec_expf(x[v] - maxv);
                sum += dx[v];
            }
            losses[i] = logf(sum) + maxv - target_logit;
            float s = dloss / sum;
            #pragma omp simd
            for (int v = 0; v < V; v++) dx[v] *= s;
            dx[target] -= dloss;
        } else {
            #pragma omp simd reduction(+ : sum)
            for (int v = 0; v < V; v++) sum += vec_expf(x[v] - maxv);
            losses[i] = logf(sum) + maxv - x[target];
        }
    }
}
