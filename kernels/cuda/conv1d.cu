// conv1d.cu: Mamba's causal depthwise convolution over time.
//   out[b,t,d] = bias[d] + sum_k weight[d,k] * x[b, t-K+1+k, d]   (x = 0 before t = 0)
// Backward:
//   dx[b,t,d] = sum_k weight[d,k] * dout[b, t+K-1-k, d]           (dout = 0 after L-1)
//   dweight[d,k] += sum_{b,t} dout[b,t,d] * x[b, t-K+1+k, d],  dbias[d] += sum dout[b,t,d]
// The parameter sums over (b, t) are the deterministic two-pass column sums,
// with K + 1 sums per channel.
#include "ops_cuda.cuh"

enum { CONV_MAX_K = CONV1D_MAX_KERNEL_CUDA };

__global__ void conv1d_forward_kernel(float *out, const float *x, int x_stride,
                                      const float *x_prev, const float *weight,
                                      const float *bias, int B, int L, int D, int K) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * L * D) return;
    int d = i % D, t = (i / D) % L, b = i / ((size_t)D * L);
    float acc = bias ? bias[d] : 0.0f;
    for (int k = 0; k < K; k++) {
        int src = t - K + 1 + k;
        if (src >= 0) acc += weight[d * K + k] * x[((size_t)b * L + src) * x_stride + d];
        else if (x_prev) acc += weight[d * K + k] * x_prev[((size_t)b * D + d) * K + K + src];
    }
    out[i] = acc;
}

__global__ void conv1d_backward_input_kernel(float *dx, int dx_stride, const float *dout,
                                             const float *weight, int B, int L, int D, int K) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * L * D) return;
    int d = i % D, t = (i / D) % L, b = i / ((size_t)D * L);
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        int dst = t + K - 1 - k;
        if (dst < L) acc += weight[d * K + k] * dout[((size_t)b * L + dst) * D + d];
    }
    dx[((size_t)b * L + t) * dx_stride + d] = acc;
}

// Pass 1: block (32 channels x 8 row lanes) owns a slice of the B*L rows.
// partials (slices, D, K + 1): K weight sums then the bias sum.
__global__ void conv1d_param_partial_kernel(float *partials, const float *dout, const float *x,
                                            int x_stride, int B, int L, int D, int K) {
    SHARED(float, lanes, [8][32][CONV_MAX_K + 1]);
    SHARED_BYTES_CHECK("conv1d_param_partial", sizeof lanes);
    int d = blockIdx.x * 32 + threadIdx.x;
    int rows = B * L;
    int row0 = blockIdx.y * COLSUM_ROWS_PER_SLICE;
    int row_end = min(row0 + COLSUM_ROWS_PER_SLICE, rows);
    float acc[CONV_MAX_K + 1];
    for (int k = 0; k <= K; k++) acc[k] = 0.0f;
    if (d < D)
        for (int r = row0 + threadIdx.y; r < row_end; r += 8) {
            int b = r / L, t = r % L;
            float g = dout[(size_t)r * D + d];
            for (int k = 0; k < K; k++) {
                int src = t - K + 1 + k;
                if (src >= 0) acc[k] += g * x[((size_t)b * L + src) * x_stride + d];
            }
            acc[K] += g;
        }
    for (int k = 0; k <= K; k++) lanes[threadIdx.y][threadIdx.x][k] = acc[k];
    __syncthreads();
    if (threadIdx.y == 0 && d < D)
        for (int k = 0; k <= K; k++) {
            float total = 0.0f;
            for (int y = 0; y < 8; y++) total += lanes[y][threadIdx.x][k];
            partials[((size_t)blockIdx.y * D + d) * (K + 1) + k] = total;
        }
}

// Pass 2: dweight (D, K) and dbias (D) += partials summed over slices in order.
__global__ void conv1d_param_finish_kernel(float *dweight, float *dbias, const float *partials,
                                           int slices, int D, int K) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;  // d * (K + 1) + k
    if (i >= D * (K + 1)) return;
    float total = 0.0f;
    for (int s = 0; s < slices; s++) total += partials[(size_t)s * D * (K + 1) + i];
    int d = i / (K + 1), k = i % (K + 1);
    if (k < K) dweight[d * K + k] += total;
    else if (dbias) dbias[d] += total;
}

static void check_kernel_size(int K) {
    if (K < 1 || K > CONV_MAX_K)
        tb_die("conv1d: kernel size %d is outside 1..%d supported by the CUDA backend", K, CONV_MAX_K);
}

void conv1d_forward_cuda(float *out, const float *x, int x_stride, const float *x_prev,
                         const float *weight, const float *bias, int B, int L, int D, int K) {
    check_kernel_size(K);
    size_t n = (size_t)B * L * D;
    if (n == 0) return;
    LAUNCH(conv1d_forward_kernel, ceil_div((long)n, 256), 256, 0)(out, x, x_stride, x_prev, weight,
                                                                 bias, B, L, D, K);
    LAUNCH_CHECK();
}

void conv1d_backward_cuda(float *dx, int dx_stride, float *dweight, float *dbias,
                          const float *dout, const float *x, int x_stride, const float *weight,
                          int B, int L, int D, int K) {
    check_kernel_size(K);
    size_t n = (size_t)B * L * D;
    if (n == 0) return;
    LAUNCH(conv1d_backward_input_kernel, ceil_div((long)n, 256), 256, 0)(dx, dx_stride, dout, weight, B, L, D, K);
    LAUNCH_CHECK();
    int slices = colsum_slices(B * L);
    float *partials = (float *)cuda_scratch(SCRATCH_PARTIALS, (size_t)slices * D * (K + 1) * sizeof(float),
                                                 "conv1d_backward");
    LAUNCH(conv1d_param_partial_kernel, dim3(ceil_div(D, 32), slices), dim3(32, 8), 0)(
        partials, dout, x, x_stride, B, L, D, K);
    LAUNCH_CHECK();
    LAUNCH(conv1d_param_finish_kernel, ceil_div(D * (K + 1), 256), 256, 0)(dweight, dbias, partials, slices, D, K);
    LAUNCH_CHECK();
}

// Decode: conv_state (D, K), oldest first. Shift left, append x, convolve.
__global__ void conv1d_silu_step_kernel(float *out, float *conv_state, const float *x,
                                   const float *weight, const float *bias, int D, int K) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    float *s = conv_state + (size_t)d * K;
    for (int k = 0; k < K - 1; k++) s[k] = s[k + 1];
    s[K - 1] = x[d];
    float acc = bias ? bias[d] : 0.0f;
    for (int k = 0; k < K; k++) acc += weight[d * K + k] * s[k];
    out[d] = acc * sigmoidf_(acc);  // SiLU
}

void conv1d_silu_step_cuda(float *out, float *conv_state, const float *x, const float *weight,
                      const float *bias, int D, int K) {
    check_kernel_size(K);
    LAUNCH(conv1d_silu_step_kernel, ceil_div(D, 128), 128, 0)(out, conv_state, x, weight, bias, D, K);
    LAUNCH_CHECK();
}

// conv_state[b,d,k] = x[b, L-K+k, d], zero where L-K+k < 0.
__global__ void conv1d_state_kernel(float *conv_state, const float *x, int x_stride, int B, int L,
                                    int D, int K) {
    // One thread per (b, d), in place: entry k takes the input at t = L - K + k;
    // for t < 0 that is the state's own entry L + k > k, not yet overwritten.
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * D) return;
    int d = i % D, b = i / D;
    float *state = conv_state + (size_t)i * K;
    for (int k = 0; k < K; k++) {
        int t = L - K + k;
        state[k] = t >= 0 ? x[((size_t)b * L + t) * x_stride + d] : state[L + k];
    }
}

void conv1d_state_from_sequence_cuda(float *conv_state, const float *x, int x_stride, int B,
                                     int L, int D, int K) {
    check_kernel_size(K);
    if (B * D == 0) return;
    LAUNCH(conv1d_state_kernel, ceil_div(B * D, 256), 256, 0)(conv_state, x, x_stride, B, L, D, K);
    LAUNCH_CHECK();
}
