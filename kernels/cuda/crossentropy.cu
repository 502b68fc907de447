// crossentropy.cu: fused softmax + cross-entropy, forward and backward.
//
// One block per row of logits. Pass 1 reads the row once with an online
// softmax (running max and rescaled sum, merged by a fixed tree); pass 2
// reads it again and writes dloss * (softmax - onehot) directly, so the
// probabilities are never stored. dlogits may alias logits: each element is
// read and then written by the same thread.
//   loss = logsumexp(logits) - logits[target]
#include "ops_cuda.cuh"

enum { CE_THREADS = 256 };

// (m, s) pairs: s is a sum of exp(x - m).
static __device__ __forceinline__ void online_merge(float *m, float *s, float m2, float s2) {
    float mx = fmaxf(*m, m2);
    if (mx == -INFINITY) return;  // both empty
    *s = *s * expf(*m - mx) + s2 * expf(m2 - mx);
    *m = mx;
}

__global__ void crossentropy_kernel(float *losses, float *dlogits, const float *logits,
                                    const int32_t *targets, int V, float dloss) {
    SHARED(float, shared_m, [CE_THREADS / 32]);
    SHARED(float, shared_s, [CE_THREADS / 32]);
    int row = blockIdx.x;
    const float *x = logits + (size_t)row * V;
    int target = targets[row];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (target < 0) {  // ignored row: no loss, no gradient
        if (threadIdx.x == 0) losses[row] = 0.0f;
        if (dlogits)
            for (int i = threadIdx.x; i < V; i += blockDim.x) dlogits[(size_t)row * V + i] = 0.0f;
        return;
    }
    if (target >= V) {  // a corrupt target must not pass silently: the loss becomes NaN
        if (threadIdx.x == 0) losses[row] = NAN;
        return;
    }
    float m = -INFINITY, s = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) online_merge(&m, &s, x[i], 1.0f);
    for (int offset = 16; offset > 0; offset >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, offset);
        float s2 = __shfl_xor_sync(0xffffffffu, s, offset);
        online_merge(&m, &s, m2, s2);
    }
    if (lane == 0) {
        shared_m[warp] = m;
        shared_s[warp] = s;
    }
    __syncthreads();
    m = shared_m[0];
    s = shared_s[0];
    for (int w = 1; w < CE_THREADS / 32; w++) online_merge(&m, &s, shared_m[w], shared_s[w]);
    float logsumexp = m + logf(s);
    if (threadIdx.x == 0) losses[row] = logsumexp - x[target];
    if (!dlogits) return;
    __syncthreads();  // thread 0 has read x[target] before anyone overwrites it (aliasing)
    float *dx = dlogits + (size_t)row * V;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float p = expf(x[i] - logsumexp);
        dx[i] = dloss * (p - (i == target ? 1.0f : 0.0f));
    }
}

void crossentropy_forward_backward_cuda(float *losses, float *dlogits, const float *logits,
                                        const int32_t *targets, int N, int V, float dloss) {
    if (N == 0) return;
    LAUNCH(crossentropy_kernel, N, CE_THREADS, 0)(losses, dlogits, logits, targets, V, dloss);
    LAUNCH_CHECK();
}
