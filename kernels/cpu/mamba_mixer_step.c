// mamba_mixer_step.c: one decode step of a Mamba mixer's middle for B
// sequences (see MambaMixerStepParams in backend.h): the conv step, x_proj,
// dt_proj and the scan step, in that order, with the unfused ops'
// arithmetic: each sequence's conv step, the two projections as GEMMs of B
// rows, then the scan step. The scan step dominates (an exp per state and
// sequence). With d_state 16 it runs by blocks of 16 channels, the blocks
// split over the threads: a block's A = -exp(A_log) is computed once for all
// B sequences instead of once per sequence, and the 16 channels' sums
// C . h (over the states) are done together by a shuffle tree (vsum16)
// instead of one by one. So u, x_dbl, delta_raw and both states have the
// unfused ops' bits, and out differs from selective_scan_step_cpu's only in
// the order of those 16-term sums.
#include "cpu_ops.h"
#include "vec16.h"

// B sequences' steps run in parallel from this many state floats (B x D x
// S); below it one thread does them all, where a parallel region would cost
// more than it saves.
#define MIXER_STEP_PARALLEL_MIN 8192

// (y[0] .. y[15]) = each vector's lanes summed.
static inline vec16 sum_lanes16(const vec16 v[VEC16_LANES]) {
#if VEC16_HAVE_SUM16
    return vsum16(v);
#else
    float y[VEC16_LANES];
    for (int j = 0; j < VEC16_LANES; j++) y[j] = vsum(v[j]);
    return vload(y);
#endif
}

// Channels d0 .. d0 + 15 of every sequence, d_state 16: one channel's states
// are one vec16.
static void scan_step_block16(const MambaMixerStepParams *p, int d0) {
    const int D = p->dim, S = VEC16_LANES, R = p->dt_rank, xd = R + 2 * S;
    vec16 A[VEC16_LANES];
    for (int j = 0; j < VEC16_LANES; j++) A[j] = -vexp(vload(p->A_log + (size_t)(d0 + j) * S));
    const vec16 Dskip = vload(p->D + d0), bias = vload(p->delta_bias + d0);
    for (int b = 0; b < p->batch; b++) {
        const float *xb = p->x_dbl + (size_t)b * xd;
        const vec16 Bv = vload(xb + R), Cv = vload(xb + R + S);
        const vec16 uv = vload(p->u + (size_t)b * D + d0);
        const vec16 dv = vsoftplus(vload(p->delta_raw + (size_t)b * D + d0) + bias);
        float delta[VEC16_LANES], du[VEC16_LANES];
        vec16 cy[VEC16_LANES];
        vstore(delta, dv);
        vstore(du, dv * uv);
        for (int j = 0; j < VEC16_LANES; j++) {
            float *h = p->ssm_state + ((size_t)b * D + d0 + j) * S;
            vec16 hv = vexp(vsplat(delta[j]) * A[j]) * vload(h) + vsplat(du[j]) * Bv;
            vstore(h, hv);
            cy[j] = Cv * hv;
        }
        const vec16 zv = vload(p->z + (size_t)b * p->z_stride + d0);
        const vec16 yv = sum_lanes16(cy) + Dskip * uv;
        vstore(p->out + (size_t)b * p->out_stride + d0, yv * zv * vsigmoid(zv));
    }
}

void mamba_mixer_step_cpu(const MambaMixerStepParams *p) {
    const int B = p->batch, D = p->dim, S = p->dstate, R = p->dt_rank, K = p->d_conv;
    const int xd = R + 2 * S;
    const int parallel = (size_t)B * D * S >= MIXER_STEP_PARALLEL_MIN;
    // u (B, D) = silu(conv step), each sequence's conv state advanced
#pragma omp parallel for schedule(static) if (parallel && B > 1)
    for (int b = 0; b < B; b++)
        conv1d_silu_step_cpu(p->u + (size_t)b * D, p->conv_state + (size_t)b * D * K,
                             p->x + (size_t)b * p->x_stride, p->conv_w, p->conv_b, D, K);
    // x_dbl (B, R + 2S) = u @ x_proj^T; delta_raw (B, D) = dt_r @ dt_w^T, dt_r its first R columns
    linear_forward_cpu(p->x_dbl, xd, p->u, D, p->x_proj, NULL, B, D, xd, 0);
    linear_forward_cpu(p->delta_raw, D, p->x_dbl, xd, p->dt_w, NULL, B, R, D, 0);
    if (S == VEC16_LANES && D % VEC16_LANES == 0) {
#pragma omp parallel for schedule(static) if (parallel)
        for (int d0 = 0; d0 < D; d0 += VEC16_LANES) scan_step_block16(p, d0);
        return;
    }
    // Any other shape: each sequence's selective_scan_step (one sequence
    // alone splits its channels over the threads inside it; here it runs
    // nested, on its task's thread).
#pragma omp parallel for schedule(static) if (parallel && B > 1)
    for (int b = 0; b < B; b++) {
        const float *xb = p->x_dbl + (size_t)b * xd;
        selective_scan_step_cpu(p->out + (size_t)b * p->out_stride, p->ssm_state + (size_t)b * D * S,
                                p->u + (size_t)b * D, p->delta_raw + (size_t)b * D,
                                p->z + (size_t)b * p->z_stride, xb + R, xb + R + S, p->A_log, p->D,
                                p->delta_bias, D, S);
    }
}
