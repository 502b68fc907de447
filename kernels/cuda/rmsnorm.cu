// rmsnorm.cu: RMSNorm (Mamba's norm), one warp per row.
//   out = x * rstd * weight,  rstd = 1 / sqrt(mean(x^2) + eps)
// The backward, with y = x * rstd and g = dout * weight:
//   dx += rstd * (g - y * mean(g * y)),  dweight += sum over rows of dout * y
#include "ops_cuda.cuh"

enum { RMS_WARPS_PER_BLOCK = 4 };

__global__ void rmsnorm_forward_kernel(float *out, float *rstd_out, const float *inp,
                                       const float *weight, int N, int C, float eps) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * RMS_WARPS_PER_BLOCK + threadIdx.x / 32;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C;
    float sq = 0.0f;
    for (int c = lane; c < C; c += 32) sq += x[c] * x[c];
    float rstd = 1.0f / sqrtf(warp_sum(sq) / C + eps);
    float *o = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32) o[c] = x[c] * rstd * weight[c];
    if (lane == 0) rstd_out[row] = rstd;
}

void rmsnorm_forward_cuda(float *out, float *rstd, const float *inp, const float *weight, int N,
                          int C, float eps) {
    if (N == 0) return;
    LAUNCH(rmsnorm_forward_kernel, ceil_div(N, RMS_WARPS_PER_BLOCK), 32 * RMS_WARPS_PER_BLOCK, 0)(
        out, rstd, inp, weight, N, C, eps);
    LAUNCH_CHECK();
}

// The residual add, then the norm of the sum, one warp per row.
__global__ void add_rmsnorm_forward_kernel(float *sum, float *out, float *rstd_out,
                                           const float *a, const float *b, const float *weight,
                                           int N, int C, float eps) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * RMS_WARPS_PER_BLOCK + threadIdx.x / 32;
    if (row >= N) return;
    float *x = sum + (size_t)row * C;
    const float *ar = a + (size_t)row * C, *br = b + (size_t)row * C;
    float sq = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float v = ar[c] + br[c];
        x[c] = v;
        sq += v * v;
    }
    float rstd = 1.0f / sqrtf(warp_sum(sq) / C + eps);
    float *o = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32) o[c] = x[c] * rstd * weight[c];  // its own lane's writes
    if (lane == 0) rstd_out[row] = rstd;
}

void add_rmsnorm_forward_cuda(float *sum, float *out, float *rstd, const float *a, const float *b,
                              const float *weight, int N, int C, float eps) {
    if (N == 0) return;
    LAUNCH(add_rmsnorm_forward_kernel, ceil_div(N, RMS_WARPS_PER_BLOCK),
           32 * RMS_WARPS_PER_BLOCK, 0)(sum, out, rstd, a, b, weight, N, C, eps);
    LAUNCH_CHECK();
}

__global__ void rmsnorm_backward_input_kernel(float *dinp, const float *dout, const float *inp,
                                              const float *weight, const float *rstd, int N, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * RMS_WARPS_PER_BLOCK + threadIdx.x / 32;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C, *dy = dout + (size_t)row * C;
    float r = rstd[row];
    float gy_sum = 0.0f;
    for (int c = lane; c < C; c += 32) gy_sum += dy[c] * weight[c] * x[c] * r;
    float gy_mean = warp_sum(gy_sum) / C;
    float *dx = dinp + (size_t)row * C;
    for (int c = lane; c < C; c += 32) dx[c] += r * (dy[c] * weight[c] - x[c] * r * gy_mean);
}

__global__ void rmsnorm_backward_weight_partial_kernel(float *partials, const float *dout,
                                                       const float *inp, const float *rstd, int N,
                                                       int C) {
    SHARED(float, lanes, [8][32]);
    int c = blockIdx.x * 32 + threadIdx.x;
    int row0 = blockIdx.y * COLSUM_ROWS_PER_SLICE;
    int row_end = min(row0 + COLSUM_ROWS_PER_SLICE, N);
    float dw = 0.0f;
    if (c < C)
        for (int r = row0 + threadIdx.y; r < row_end; r += 8)
            dw += dout[(size_t)r * C + c] * inp[(size_t)r * C + c] * rstd[r];
    lanes[threadIdx.y][threadIdx.x] = dw;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float total = 0.0f;
        for (int y = 0; y < 8; y++) total += lanes[y][threadIdx.x];
        partials[(size_t)blockIdx.y * C + c] = total;
    }
}

void rmsnorm_backward_cuda(float *dinp, float *dweight, const float *dout, const float *inp,
                           const float *weight, const float *rstd, int N, int C) {
    if (N == 0) return;
    LAUNCH(rmsnorm_backward_input_kernel, ceil_div(N, RMS_WARPS_PER_BLOCK), 32 * RMS_WARPS_PER_BLOCK, 0)(
        dinp, dout, inp, weight, rstd, N, C);
    LAUNCH_CHECK();
    int slices = colsum_slices(N);
    float *partials = (float *)cuda_scratch(SCRATCH_PARTIALS, (size_t)slices * C * sizeof(float),
                                                 "rmsnorm_backward");
    LAUNCH(rmsnorm_backward_weight_partial_kernel, dim3(ceil_div(C, 32), slices), dim3(32, 8), 0)(
        partials, dout, inp, rstd, N, C);
    LAUNCH_CHECK();
    colsum_finish(dweight, partials, slices, C);
}
