// optimizer.cu: AdamW and the sum of squares behind the global grad norm.
#include "ops_cuda.cuh"

// ---------------------------------------------------------------- sum of squares
// Deterministic in two passes: a number of blocks fixed by n (never by the
// device) each sum a grid-strided share in double, reduced by a fixed tree;
// then one block adds the block partials in order.
enum { SUMSQ_BLOCKS = SUMSQ_PARTIAL_BLOCKS, SUMSQ_THREADS = 256 };

__global__ void sum_squares_partial_kernel(double *partials, const float *g, size_t n) {
    SHARED(double, warp_sums, [SUMSQ_THREADS / 32]);
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += (double)g[i] * (double)g[i];
    acc = warp_sum_double(acc);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int w = 0; w < SUMSQ_THREADS / 32; w++) total += warp_sums[w];
        partials[blockIdx.x] = total;
    }
}

__global__ void sum_squares_final_kernel(double *result, const double *partials, int count) {
    if (threadIdx.x != 0) return;
    double total = 0.0;
    for (int i = 0; i < count; i++) total += partials[i];
    *result = total;
}

double sum_squares_cuda(const float *g, size_t n) {
    // The block count depends on n only, so the summation order is fixed.
    size_t wanted = (n + SUMSQ_THREADS - 1) / SUMSQ_THREADS;
    int blocks = wanted == 0 ? 1 : wanted < SUMSQ_BLOCKS ? (int)wanted : SUMSQ_BLOCKS;
    double *partials = (double *)cuda_scratch(SCRATCH_PARTIALS, (SUMSQ_BLOCKS + 1) * sizeof(double),
                                                 "sum_squares");
    LAUNCH(sum_squares_partial_kernel, blocks, SUMSQ_THREADS, 0)(partials + 1, g, n);
    LAUNCH_CHECK();
    LAUNCH(sum_squares_final_kernel, 1, 32, 0)(partials, partials + 1, blocks);
    LAUNCH_CHECK();
    double result = 0.0;
    CUDA_CHECK(cudaMemcpyAsync(&result, partials, sizeof(double), cudaMemcpyDeviceToHost,
                               cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
    return result;
}

// ---------------------------------------------------------------- AdamW
// PyTorch's AdamW (torch.optim.AdamW, foreach=False):
//   param *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with g = grad * grad_scale (the global-norm clip factor).
__global__ void adamw_kernel(float *param, const float *grad, float *m, float *v, size_t n,
                             float lr, float beta1, float beta2, float eps, float weight_decay,
                             float grad_scale, float bias_correction1, float bias_correction2_sqrt) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grad[i] * grad_scale;
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float p = param[i] * (1.0f - lr * weight_decay);
    float denom = sqrtf(vi) / bias_correction2_sqrt + eps;
    param[i] = p - (lr / bias_correction1) * (mi / denom);
}

void adamw_update_cuda(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                       int t) {
    if (n == 0) return;
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    LAUNCH(adamw_kernel, ceil_div((long)n, 256), 256, 0)(param, grad, m, v, n, lr, beta1, beta2, eps,
                                                       weight_decay, grad_scale, bc1, bc2_sqrt);
    LAUNCH_CHECK();
}
