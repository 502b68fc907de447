// optimizer.cu: AdamW and the sum of squares behind the global grad norm.
#include "ops_cuda.cuh"

#include "../adamw.h"

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
// One launch over the whole parameter buffer (the formula and the host-side
// scalars are kernels/adamw.h's, as on the CPU). Each thread finds its
// element's decay by a binary search of the span table: one span per run of
// decayed tensors (two or three a layer), read by every block, so it stays
// in cache.
enum { ADAMW_THREADS = 256 };

__global__ void adamw_kernel(float *param, const float *grad, float *m, float *v, size_t n,
                             const size_t *decay_spans, int num_spans, AdamwScalars s) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int k = adamw_span_after(decay_spans, num_spans, i);
    float decay = k < num_spans && decay_spans[2 * k] <= i ? s.decay : 1.0f;
    adamw_element(param, grad, m, v, i, decay, s);
}

void adamw_update_cuda(float *param, const float *grad, float *m, float *v, size_t n,
                       const size_t *decay_spans, int num_spans, float lr, float beta1, float beta2,
                       float eps, float weight_decay, float grad_scale, int t) {
    if (n == 0) return;
    AdamwScalars s = adamw_scalars(lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    LAUNCH(adamw_kernel, ceil_div((long)n, ADAMW_THREADS), ADAMW_THREADS, 0)(
        param, grad, m, v, n, decay_spans, num_spans, s);
    LAUNCH_CHECK();
}
