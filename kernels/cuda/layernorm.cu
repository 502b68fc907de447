// layernorm.cu: LayerNorm over the last dimension, one warp per row.
//   out = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var(x) + eps)
// The backward, with norm = (x - mean) * rstd and g = dout * weight:
//   dx += rstd * (g - mean(g) - norm * mean(g * norm))
//   dweight += sum over rows of dout * norm,  dbias += sum over rows of dout
// The parameter sums are the deterministic two-pass column sums.
#include "ops_cuda.cuh"

enum { NORM_WARPS_PER_BLOCK = 4 };

__global__ void layernorm_forward_kernel(float *out, float *mean_out, float *rstd_out,
                                         const float *inp, const float *weight, const float *bias,
                                         int N, int C, float eps) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * NORM_WARPS_PER_BLOCK + threadIdx.x / 32;
    if (row >= N) return;  // the whole warp leaves together
    const float *x = inp + (size_t)row * C;
    float sum = 0.0f;
    for (int c = lane; c < C; c += 32) sum += x[c];
    float mean = warp_sum(sum) / C;
    float sq = 0.0f;
    for (int c = lane; c < C; c += 32) sq += (x[c] - mean) * (x[c] - mean);
    float rstd = 1.0f / sqrtf(warp_sum(sq) / C + eps);
    float *o = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32) o[c] = (x[c] - mean) * rstd * weight[c] + (bias ? bias[c] : 0.0f);
    if (lane == 0) {
        mean_out[row] = mean;
        rstd_out[row] = rstd;
    }
}

void layernorm_forward_cuda(float *out, float *mean, float *rstd, const float *inp,
                            const float *weight, const float *bias, int N, int C, float eps) {
    if (N == 0) return;
    LAUNCH(layernorm_forward_kernel, ceil_div(N, NORM_WARPS_PER_BLOCK), 32 * NORM_WARPS_PER_BLOCK, 0)(
        out, mean, rstd, inp, weight, bias, N, C, eps);
    LAUNCH_CHECK();
}

__global__ void layernorm_backward_input_kernel(float *dinp, const float *dout, const float *inp,
                                                const float *weight, const float *mean,
                                                const float *rstd, int N, int C) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * NORM_WARPS_PER_BLOCK + threadIdx.x / 32;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C, *dy = dout + (size_t)row * C;
    float mu = mean[row], r = rstd[row];
    float g_sum = 0.0f, gn_sum = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float g = dy[c] * weight[c];
        g_sum += g;
        gn_sum += g * (x[c] - mu) * r;
    }
    float g_mean = warp_sum(g_sum) / C, gn_mean = warp_sum(gn_sum) / C;
    float *dx = dinp + (size_t)row * C;
    for (int c = lane; c < C; c += 32) {
        float norm = (x[c] - mu) * r;
        dx[c] += r * (dy[c] * weight[c] - g_mean - norm * gn_mean);
    }
}

// Pass 1 of dweight and dbias: (32 columns x 8 row lanes) per slice of rows.
__global__ void layernorm_backward_param_partial_kernel(float *dw_partials, float *db_partials,
                                                        const float *dout, const float *inp,
                                                        const float *mean, const float *rstd,
                                                        int N, int C) {
    SHARED(float, dw_lanes, [8][32]);
    SHARED(float, db_lanes, [8][32]);
    int c = blockIdx.x * 32 + threadIdx.x;
    int row0 = blockIdx.y * COLSUM_ROWS_PER_SLICE;
    int row_end = min(row0 + COLSUM_ROWS_PER_SLICE, N);
    float dw = 0.0f, db = 0.0f;
    if (c < C)
        for (int r = row0 + threadIdx.y; r < row_end; r += 8) {
            float dy = dout[(size_t)r * C + c];
            dw += dy * (inp[(size_t)r * C + c] - mean[r]) * rstd[r];
            db += dy;
        }
    dw_lanes[threadIdx.y][threadIdx.x] = dw;
    db_lanes[threadIdx.y][threadIdx.x] = db;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float dw_total = 0.0f, db_total = 0.0f;
        for (int y = 0; y < 8; y++) {
            dw_total += dw_lanes[y][threadIdx.x];
            db_total += db_lanes[y][threadIdx.x];
        }
        dw_partials[(size_t)blockIdx.y * C + c] = dw_total;
        db_partials[(size_t)blockIdx.y * C + c] = db_total;
    }
}

void layernorm_backward_cuda(float *dinp, float *dweight, float *dbias, const float *dout,
                             const float *inp, const float *weight, const float *mean,
                             const float *rstd, int N, int C) {
    if (N == 0) return;
    LAUNCH(layernorm_backward_input_kernel, ceil_div(N, NORM_WARPS_PER_BLOCK), 32 * NORM_WARPS_PER_BLOCK, 0)(
        dinp, dout, inp, weight, mean, rstd, N, C);
    LAUNCH_CHECK();
    int slices = colsum_slices(N);
    float *partials = (float *)cuda_scratch(SCRATCH_PARTIALS, 2 * (size_t)slices * C * sizeof(float),
                                                 "layernorm_backward");
    float *dw_partials = partials, *db_partials = partials + (size_t)slices * C;
    LAUNCH(layernorm_backward_param_partial_kernel, dim3(ceil_div(C, 32), slices), dim3(32, 8), 0)(
        dw_partials, db_partials, dout, inp, mean, rstd, N, C);
    LAUNCH_CHECK();
    colsum_finish(dweight, dw_partials, slices, C);
    if (dbias) colsum_finish(dbias, db_partials, slices, C);
}
