// elementwise.cu: the residual stream's add, accumulate and scale.
#include "ops_cuda.cuh"

__global__ void add_kernel(float *out, const float *a, const float *b, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}
__global__ void accumulate_kernel(float *dst, const float *src, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] += src[i];
}
__global__ void scale_kernel(float *x, float s, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}

void add_cuda(float *out, const float *a, const float *b, size_t n) {
    if (n == 0) return;
    LAUNCH(add_kernel, ceil_div((long)n, 256), 256, 0)(out, a, b, n);
    LAUNCH_CHECK();
}
void accumulate_cuda(float *dst, const float *src, size_t n) {
    if (n == 0) return;
    LAUNCH(accumulate_kernel, ceil_div((long)n, 256), 256, 0)(dst, src, n);
    LAUNCH_CHECK();
}
void scale_cuda(float *x, float s, size_t n) {
    if (n == 0) return;
    LAUNCH(scale_kernel, ceil_div((long)n, 256), 256, 0)(x, s, n);
    LAUNCH_CHECK();
}
