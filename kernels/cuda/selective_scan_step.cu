// selective_scan_step.cu: one step of Mamba's selective scan for decoding
// (batch 1), the recurrence of selective_scan.cuh for a single time step:
//   h = exp(delta A) h + delta B u,   out = (C . h + D u) silu(z)
// One thread per channel; the d_state states of a channel (any count up to
// the forward's limit) stay in its thread, read and written in place.
#include "selective_scan.cuh"

__global__ void selective_scan_step_kernel(float *out, float *ssm_state, const float *u,
                                           const float *delta_raw, const float *z,
                                           const float *Bt, const float *Ct, const float *A_log,
                                           const float *D, const float *delta_bias, int dim,
                                           int N) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= dim) return;
    float delta = softplusf_(delta_raw[d] + delta_bias[d]);
    float y = D[d] * u[d];
    for (int n = 0; n < N; n++) {
        float a = expf(delta * -expf(A_log[d * N + n]));
        float h = a * ssm_state[d * N + n] + delta * Bt[n] * u[d];
        ssm_state[d * N + n] = h;
        y += Ct[n] * h;
    }
    out[d] = y * z[d] * sigmoidf_(z[d]);
}

void selective_scan_step_cuda(float *out, float *ssm_state, const float *u, const float *delta_raw,
                              const float *z, const float *Bt, const float *Ct,
                              const float *A_log, const float *D, const float *delta_bias,
                              int dim, int dstate) {
    if (dstate < 1 || dstate > SCAN_MAX_DSTATE)
        tb_die("selective scan step (cuda): d_state %d is outside 1..%d (set a smaller d_state "
               "in the model config)", dstate, SCAN_MAX_DSTATE);
    if (dim == 0) return;
    LAUNCH(selective_scan_step_kernel, ceil_div(dim, 128), 128, 0)(out, ssm_state, u, delta_raw, z,
                                                                   Bt, Ct, A_log, D, delta_bias,
                                                                   dim, dstate);
    LAUNCH_CHECK();
}
