// silu.cu: SiLU(x) = x * sigmoid(x) over (possibly strided) rows.
//   d silu / dx = sigmoid(x) (1 + x (1 - sigmoid(x)))
#include "ops_cuda.cuh"

__global__ void silu_forward_kernel(float *out, int out_stride, const float *inp, int inp_stride,
                                    int n_rows, int cols) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)n_rows * cols) return;
    size_t r = i / cols, c = i % cols;
    float x = inp[r * inp_stride + c];
    out[r * out_stride + c] = x * sigmoidf_(x);
}

__global__ void silu_backward_kernel(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                                     const float *dout, int n_rows, int cols) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)n_rows * cols) return;
    size_t r = i / cols, c = i % cols;
    float x = inp[r * inp_stride + c];
    float s = sigmoidf_(x);
    dinp[r * dinp_stride + c] = dout[i] * s * (1.0f + x * (1.0f - s));
}

void silu_forward_cuda(float *out, int out_stride, const float *inp, int inp_stride, int n_rows,
                       int cols) {
    if ((size_t)n_rows * cols == 0) return;
    LAUNCH(silu_forward_kernel, ceil_div((long)n_rows * cols, 256), 256, 0)(out, out_stride, inp, inp_stride, n_rows, cols);
    LAUNCH_CHECK();
}
void silu_backward_cuda(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                        const float *dout, int n_rows, int cols) {
    if ((size_t)n_rows * cols == 0) return;
    LAUNCH(silu_backward_kernel, ceil_div((long)n_rows * cols, 256), 256, 0)(dinp, dinp_stride, inp, inp_stride, dout, n_rows, cols);
    LAUNCH_CHECK();
}
