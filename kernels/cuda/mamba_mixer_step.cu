// mamba_mixer_step.cu: one decode step of a Mamba mixer's middle for B
// sequences in one launch (see MambaMixerStepParams in backend.h), where the
// unfused path launches four kernels and two GEMMs.
//
// One block per sequence, so every dependency is inside a block: its threads
// first advance the conv state of their channels and write u (D); after a
// barrier, a warp per output computes x_dbl = u @ x_proj^T (R + 2S dot
// products of length D, lanes over channels, a fixed xor-shuffle tree); after
// a second barrier, a thread per channel forms dt_proj's row (R products),
// softplus, the d_state recurrences (as selective_scan_step_kernel does) and
// the gate. u and x_dbl go through global memory, which the barrier makes
// visible to the whole block, so the op has no shared-memory limit on D.
// The projections are plain fp32 dot products (more exact than TF32); in
// bf16 their operands are rounded to bf16 first, as linear.cu's GEMMs do.
// Every sum has a fixed order: the same bits every run.
#include "ops_cuda.cuh"

enum { MIXER_STEP_THREADS = 256 };

static __device__ __forceinline__ float gemm_operand(float x, int bf16) {
    return bf16 ? __bfloat162float(__float2bfloat16(x)) : x;
}

__global__ void __launch_bounds__(MIXER_STEP_THREADS)
mamba_mixer_step_kernel(MambaMixerStepParams p, int bf16) {
    const int b = blockIdx.x, D = p.dim, S = p.dstate, R = p.dt_rank, K = p.d_conv;
    const int xd = R + 2 * S;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    float *u = p.u + (size_t)b * D;
    float *xb = p.x_dbl + (size_t)b * xd;

    // 1. The conv step and its SiLU, a thread per channel.
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float *s = p.conv_state + ((size_t)b * D + d) * K;
        for (int k = 0; k < K - 1; k++) s[k] = s[k + 1];
        s[K - 1] = p.x[(size_t)b * p.x_stride + d];
        float acc = p.conv_b ? p.conv_b[d] : 0.0f;
        for (int k = 0; k < K; k++) acc += p.conv_w[(size_t)d * K + k] * s[k];
        u[d] = acc * sigmoidf_(acc);
    }
    __syncthreads();

    // 2. x_dbl = u @ x_proj^T, a warp per output.
    for (int j = warp; j < xd; j += nwarps) {
        const float *w = p.x_proj + (size_t)j * D;
        float acc = 0.0f;
        for (int c = lane; c < D; c += 32) acc += gemm_operand(u[c], bf16) * gemm_operand(w[c], bf16);
        acc = warp_sum(acc);
        if (lane == 0) xb[j] = acc;
    }
    __syncthreads();

    // 3. dt_proj, softplus, the recurrence and the gate, a thread per channel.
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float dr = 0.0f;
        for (int r = 0; r < R; r++)
            dr += gemm_operand(xb[r], bf16) * gemm_operand(p.dt_w[(size_t)d * R + r], bf16);
        p.delta_raw[(size_t)b * D + d] = dr;
        const float delta = softplusf_(dr + p.delta_bias[d]), ud = u[d];
        float *h = p.ssm_state + ((size_t)b * D + d) * S;
        float y = p.D[d] * ud;
        for (int n = 0; n < S; n++) {
            float a = expf(delta * -expf(p.A_log[(size_t)d * S + n]));
            float hn = a * h[n] + delta * xb[R + n] * ud;
            h[n] = hn;
            y += xb[R + S + n] * hn;
        }
        const float z = p.z[(size_t)b * p.z_stride + d];
        p.out[(size_t)b * p.out_stride + d] = y * z * sigmoidf_(z);
    }
}

void mamba_mixer_step_cuda(const MambaMixerStepParams *p) {
    if (p->dstate < 1 || p->dstate > SELECTIVE_SCAN_MAX_DSTATE_CUDA || p->d_conv < 1 ||
        p->d_conv > CONV1D_MAX_KERNEL_CUDA || p->dt_rank < 1)
        tb_die("mamba_mixer_step (cuda): d_state %d, d_conv %d, dt_rank %d: the CUDA backend "
               "takes d_state 1..%d, d_conv 1..%d and dt_rank >= 1 (set them in the model config)",
               p->dstate, p->d_conv, p->dt_rank, SELECTIVE_SCAN_MAX_DSTATE_CUDA,
               CONV1D_MAX_KERNEL_CUDA);
    if (p->batch == 0 || p->dim == 0) return;
    LAUNCH(mamba_mixer_step_kernel, p->batch, MIXER_STEP_THREADS, 0)(
        *p, cuda_precision() == PRECISION_BF16);
    LAUNCH_CHECK();
}
