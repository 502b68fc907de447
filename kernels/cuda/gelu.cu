// gelu.cu: GELU with the tanh approximation (Hugging Face "gelu_new"):
//   gelu(x) = 0.5 x (1 + tanh(s (x + 0.044715 x^3))),  s = sqrt(2 / pi)
#include "ops_cuda.cuh"

#define GELU_SCALE 0.7978845608028654f  // sqrt(2 / pi)

__global__ void gelu_forward_kernel(float *out, const float *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
}

// d gelu / dx = 0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) s (1 + 3 * 0.044715 x^2)
__global__ void gelu_backward_kernel(float *dinp, const float *inp, const float *dout, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    float th = tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
    float sech2 = 1.0f - th * th;
    float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] = grad * dout[i];
}

void gelu_forward_cuda(float *out, const float *inp, size_t n) {
    if (n == 0) return;
    LAUNCH(gelu_forward_kernel, ceil_div((long)n, 256), 256, 0)(out, inp, n);
    LAUNCH_CHECK();
}
void gelu_backward_cuda(float *dinp, const float *inp, const float *dout, size_t n) {
    if (n == 0) return;
    LAUNCH(gelu_backward_kernel, ceil_div((long)n, 256), 256, 0)(dinp, inp, dout, n);
    LAUNCH_CHECK();
}
