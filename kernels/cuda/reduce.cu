// reduce.cu: pass 2 of the deterministic column sums (see cuda_common.cuh).
#include "ops_cuda.cuh"

// dst (cols) += sum over s of partials (slices, cols), s in increasing order.
__global__ void colsum_finish_kernel(float *dst, const float *partials, int slices, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float sum = 0.0f;
    for (int s = 0; s < slices; s++) sum += partials[(size_t)s * cols + c];
    dst[c] += sum;
}

void colsum_finish(float *dst, const float *partials, int slices, int cols) {
    LAUNCH(colsum_finish_kernel, ceil_div(cols, 256), 256, 0)(dst, partials, slices, cols);
    LAUNCH_CHECK();
}
