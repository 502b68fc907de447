// mamba_mixer_step.c: one decode step of a Mamba mixer's middle for B
// sequences (see MambaMixerStepParams in backend.h): the conv step, x_proj,
// dt_proj and the scan step. On the CPU a call costs no launch, so the op is
// the unfused ops themselves, in order, and gives their bits: each
// sequence's conv and scan step (one sequence per task, the sequences split
// over the threads), with the two projections as GEMMs of B rows between.
#include "cpu_ops.h"

// B sequences' independent steps run in parallel from this many state
// floats (B x D x S); below it one thread does them all.
#define MIXER_STEP_PARALLEL_MIN 16384

void mamba_mixer_step_cpu(const MambaMixerStepParams *p) {
    const int B = p->batch, D = p->dim, S = p->dstate, R = p->dt_rank, K = p->d_conv;
    const int xd = R + 2 * S;
    const int parallel = B > 1 && (size_t)B * D * S >= MIXER_STEP_PARALLEL_MIN;
    // u (B, D) = silu(conv step), each sequence's conv state advanced
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 0; b < B; b++)
        conv1d_silu_step_cpu(p->u + (size_t)b * D, p->conv_state + (size_t)b * D * K,
                             p->x + (size_t)b * p->x_stride, p->conv_w, p->conv_b, D, K);
    // x_dbl (B, R + 2S) = u @ x_proj^T; delta_raw (B, D) = dt_r @ dt_w^T, dt_r its first R columns
    linear_forward_cpu(p->x_dbl, xd, p->u, D, p->x_proj, NULL, B, D, xd, 0);
    linear_forward_cpu(p->delta_raw, D, p->x_dbl, xd, p->dt_w, NULL, B, R, D, 0);
    // The scan step of each sequence (one sequence alone splits its channels
    // over the threads inside selective_scan_step_cpu; here it runs nested,
    // on its task's thread).
#pragma omp parallel for schedule(static) if (parallel)
    for (int b = 0; b < B; b++) {
        const float *xb = p->x_dbl + (size_t)b * xd;
        selective_scan_step_cpu(p->out + (size_t)b * p->out_stride, p->ssm_state + (size_t)b * D * S,
                                p->u + (size_t)b * D, p->delta_raw + (size_t)b * D,
                                p->z + (size_t)b * p->z_stride, xb + R, xb + R + S, p->A_log, p->D,
                                p->delta_bias, D, S);
    }
}
