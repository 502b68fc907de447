// selective_scan.c: the Mamba-1 selective scan on the CPU, fused and chunked.
//
// The math (mamba_ssm's selective_scan_fn with delta_softplus, D and z):
//   delta_t = softplus(delta_raw_t + delta_bias)            per channel d
//   a_t     = exp(delta_t * A),  A = -exp(A_log)            (d, n)
//   h_t     = a_t * h_{t-1} + delta_t * B_t * u_t           (d, n), h_{-1} = 0
//   y_t     = C_t . h_t + D * u_t
//   out_t   = y_t * silu(z_t)
//
// Design. One task owns one batch row and a block of SCAN_CB adjacent
// channels, so each time step loads u[b,t,d0:d0+CB] (and delta, z) as one
// contiguous run, and B_t, C_t (shared by all channels) once for the block.
// The block's state h (N x CB) lives on the stack, laid out [n][channel] so
// the inner loops run across channels in SIMD lanes with no horizontal sums.
// softplus, the D skip and the z gate are fused into the same pass.
//
// Memory: the (B, L, dim, N) tensor of states is never stored.
//   Stored by the forward:  chunk_states (B, ceil(L/chunk), dim, N), the state
//                           entering each chunk (dim*N/chunk floats per token).
//   Recomputed backward:    inside one chunk, delta, a_t and h_t, into a small
//                           per-task buffer ((chunk+1) * N * CB floats), from
//                           the saved state; then y_t for the z gate.
//   The backward walks chunks last to first, carrying the adjoint
//     g_t = C_t * dy_t + a_{t+1} * g_{t+1}          (dL/dh_t, (n, d))
//   from one chunk into the previous one, so the result does not depend on
//   the chunk size beyond rounding.
//
// Determinism. dB_t and dC_t are sums over all channels; dA_log, dD and
// ddelta_bias are sums over batch and time. Channel blocks are grouped into
// fixed groups of SCAN_GROUP_BLOCKS; a task (batch row, group) writes its own
// partial sums into scratch, and a final pass adds the partials in a fixed
// order. Nothing depends on the thread count or the schedule.
#include <math.h>
#include <string.h>

#include "cpu_ops.h"
#include "vec_math.h"

#define SCAN_CB 16           // channels per block (SIMD lanes across channels)
#define SCAN_GROUP_BLOCKS 4  // blocks per backward task (dB/dC partials per group)

static inline float softplus_f(float x) { return vec_softplusf(x); }

static int scan_nchunks(const SelectiveScanParams *p) {
    return (p->seqlen + p->chunk - 1) / p->chunk;
}
static int scan_ngroups(const SelectiveScanParams *p) {
    int nblocks = (p->dim + SCAN_CB - 1) / SCAN_CB;
    return (nblocks + SCAN_GROUP_BLOCKS - 1) / SCAN_GROUP_BLOCKS;
}
static size_t scan_task_buffer_floats(const SelectiveScanParams *p) {
    // h_{t0-1..t1-1} (chunk+1 states), a_t (chunk), delta (chunk)
    return ((size_t)(p->chunk + 1) * p->dstate + (size_t)p->chunk * p->dstate + p->chunk) *
           SCAN_CB;
}

// Layout of the backward's scratch, in floats.
typedef struct {
    size_t dBC;       // (batch, ngroups, seqlen, 2*dstate): per-group dB, dC partials
    size_t dA;        // (batch, dim, dstate): per-row dA_log partials
    size_t dD;        // (batch, dim)
    size_t dbias;     // (batch, dim)
    size_t buffers;   // (batch * ngroups) task buffers for the chunk recompute
    size_t total;
} ScanScratch;

static ScanScratch scan_scratch_layout(const SelectiveScanParams *p) {
    ScanScratch s;
    size_t B = p->batch, G = scan_ngroups(p), L = p->seqlen, N = p->dstate, Dm = p->dim;
    s.dBC = 0;
    s.dA = s.dBC + B * G * L * 2 * N;
    s.dD = s.dA + B * Dm * N;
    s.dbias = s.dD + B * Dm;
    s.buffers = s.dbias + B * Dm;
    s.total = s.buffers + B * G * scan_task_buffer_floats(p);
    return s;
}

size_t selective_scan_scratch_floats(const SelectiveScanParams *p) {
    return scan_scratch_layout(p).total;
}

// Loads the block's per-channel constants; lanes past the last channel get
// values that keep them inert (u = 0 makes every contribution zero).
static void load_block_constants(const SelectiveScanParams *p, int d0, int w,
                                 float A[][SCAN_CB], float *Dskip, float *bias) {
    for (int n = 0; n < p->dstate; n++)
        for (int j = 0; j < SCAN_CB; j++)
            A[n][j] = j < w ? -vec_expf(p->A_log[(size_t)(d0 + j) * p->dstate + n]) : -1.0f;
    for (int j = 0; j < SCAN_CB; j++) {
        Dskip[j] = j < w ? p->D[d0 + j] : 0.0f;
        bias[j] = j < w ? p->delta_bias[d0 + j] : 0.0f;
    }
}

static inline void load_row(float *dst, const float *src, int w) {
    if (w == SCAN_CB) {  // the common case: one fixed-width vector load
        for (int j = 0; j < SCAN_CB; j++) dst[j] = src[j];
        return;
    }
    for (int j = 0; j < SCAN_CB; j++) dst[j] = j < w ? src[j] : 0.0f;
}
static inline void store_row(float *dst, const float *src, int w) {
    if (w == SCAN_CB) {
        for (int j = 0; j < SCAN_CB; j++) dst[j] = src[j];
        return;
    }
    for (int j = 0; j < w; j++) dst[j] = src[j];
}

// ---------------------------------------------------------------- forward
static void scan_forward_block(const SelectiveScanParams *p, int b, int d0) {
    const int L = p->seqlen, N = p->dstate, chunk = p->chunk;
    const int w = p->dim - d0 < SCAN_CB ? p->dim - d0 : SCAN_CB;
    float A[SCAN_MAX_DSTATE][SCAN_CB], h[SCAN_MAX_DSTATE][SCAN_CB];
    float Dskip[SCAN_CB], bias[SCAN_CB];
    load_block_constants(p, d0, w, A, Dskip, bias);
    memset(h, 0, sizeof h);
    const int nchunks = scan_nchunks(p);
    for (int t = 0; t < L; t++) {
        if (t % chunk == 0) {  // save the state entering this chunk
            float *cs = p->chunk_states + (((size_t)b * nchunks + t / chunk) * p->dim + d0) * N;
            for (int j = 0; j < w; j++)
                for (int n = 0; n < N; n++) cs[(size_t)j * N + n] = h[n][j];
        }
        const size_t row = (size_t)b * L + t;
        const float *Bt = p->Bmat + row * p->B_stride, *Ct = p->Cmat + row * p->C_stride;
        float u[SCAN_CB], delta[SCAN_CB], z[SCAN_CB], du[SCAN_CB], y[SCAN_CB];
        load_row(u, p->u + row * p->u_stride + d0, w);
        load_row(delta, p->delta_raw + row * p->delta_stride + d0, w);
        load_row(z, p->z + row * p->z_stride + d0, w);
#pragma omp simd
        for (int j = 0; j < SCAN_CB; j++) {
            delta[j] = softplus_f(delta[j] + bias[j]);
            du[j] = delta[j] * u[j];
            y[j] = 0.0f;
        }
        // The decays first (independent, so the exps pipeline), then the
        // recurrence itself.
        float a[SCAN_MAX_DSTATE][SCAN_CB];
        for (int n = 0; n < N; n++)
#pragma omp simd
            for (int j = 0; j < SCAN_CB; j++) a[n][j] = vec_expf(delta[j] * A[n][j]);
        for (int n = 0; n < N; n++) {
            const float bn = Bt[n], cn = Ct[n];
#pragma omp simd
            for (int j = 0; j < SCAN_CB; j++) {
                h[n][j] = a[n][j] * h[n][j] + du[j] * bn;
                y[j] += cn * h[n][j];
            }
        }
        float o[SCAN_CB];
#pragma omp simd
        for (int j = 0; j < SCAN_CB; j++) o[j] = (y[j] + Dskip[j] * u[j]) * z[j] * vec_sigmoidf(z[j]);
        store_row(p->out + row * p->out_stride + d0, o, w);
    }
    if (p->final_state) {
        float *fs = p->final_state + ((size_t)b * p->dim + d0) * N;
        for (int j = 0; j < w; j++)
            for (int n = 0; n < N; n++) fs[(size_t)j * N + n] = h[n][j];
    }
}

void selective_scan_forward(const SelectiveScanParams *p) {
    const int nblocks = (p->dim + SCAN_CB - 1) / SCAN_CB;
#pragma omp parallel for schedule(static)
    for (int task = 0; task < p->batch * nblocks; task++)
        scan_forward_block(p, task / nblocks, (task % nblocks) * SCAN_CB);
}

// ---------------------------------------------------------------- backward
// One block of channels for one batch row. dBC (seqlen, 2N) accumulates this
// group's dB, dC partials; dA (w, N), dD, dbias (w) are written.
static void scan_backward_block(const SelectiveScanParams *p, int b, int d0, float *buf,
                                float *dBC, float *dA_out, float *dD_out, float *dbias_out) {
    const int L = p->seqlen, N = p->dstate, chunk = p->chunk, nchunks = scan_nchunks(p);
    const int w = p->dim - d0 < SCAN_CB ? p->dim - d0 : SCAN_CB;
    float A[SCAN_MAX_DSTATE][SCAN_CB], gnext[SCAN_MAX_DSTATE][SCAN_CB];
    float dA[SCAN_MAX_DSTATE][SCAN_CB];
    float Dskip[SCAN_CB], bias[SCAN_CB], dD[SCAN_CB], dbias[SCAN_CB];
    load_block_constants(p, d0, w, A, Dskip, bias);
    memset(gnext, 0, sizeof gnext);
    memset(dA, 0, sizeof dA);
    memset(dD, 0, sizeof dD);
    memset(dbias, 0, sizeof dbias);
    // Per-chunk buffers: hs[i] is the state before step t0+i (hs[0] = saved).
    float (*hs)[SCAN_CB] = (float (*)[SCAN_CB])buf;                          // (chunk+1)*N
    float (*as)[SCAN_CB] = (float (*)[SCAN_CB])(buf + (size_t)(chunk + 1) * N * SCAN_CB);
    float (*deltas)[SCAN_CB] = (float (*)[SCAN_CB])(buf + (size_t)(2 * chunk + 1) * N * SCAN_CB);

    for (int c = nchunks - 1; c >= 0; c--) {
        const int t0 = c * chunk, t1 = t0 + chunk < L ? t0 + chunk : L;
        const float *cs = p->chunk_states + (((size_t)b * nchunks + c) * p->dim + d0) * N;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < SCAN_CB; j++) hs[n][j] = j < w ? cs[(size_t)j * N + n] : 0.0f;
        // Recompute delta, a_t and h_t across the chunk.
        for (int t = t0; t < t1; t++) {
            const size_t row = (size_t)b * L + t;
            const int i = t - t0;
            const float *Bt = p->Bmat + row * p->B_stride;
            float u[SCAN_CB], delta[SCAN_CB], du[SCAN_CB];
            load_row(u, p->u + row * p->u_stride + d0, w);
            load_row(delta, p->delta_raw + row * p->delta_stride + d0, w);
#pragma omp simd
            for (int j = 0; j < SCAN_CB; j++) {
                delta[j] = softplus_f(delta[j] + bias[j]);
                du[j] = delta[j] * u[j];
                deltas[i][j] = delta[j];
            }
            float (*hprev)[SCAN_CB] = hs + (size_t)i * N, (*hcur)[SCAN_CB] = hs + (size_t)(i + 1) * N;
            float (*acur)[SCAN_CB] = as + (size_t)i * N;
            for (int n = 0; n < N; n++) {
                const float bn = Bt[n];
#pragma omp simd
                for (int j = 0; j < SCAN_CB; j++) {
                    float a = vec_expf(delta[j] * A[n][j]);
                    acur[n][j] = a;
                    hcur[n][j] = a * hprev[n][j] + du[j] * bn;
                }
            }
        }
        // Walk the chunk backward.
        for (int t = t1 - 1; t >= t0; t--) {
            const size_t row = (size_t)b * L + t;
            const int i = t - t0;
            const float *Bt = p->Bmat + row * p->B_stride, *Ct = p->Cmat + row * p->C_stride;
            float (*hprev)[SCAN_CB] = hs + (size_t)i * N, (*hcur)[SCAN_CB] = hs + (size_t)(i + 1) * N;
            float (*acur)[SCAN_CB] = as + (size_t)i * N;
            const float *delta = deltas[i];
            float u[SCAN_CB], dr[SCAN_CB], z[SCAN_CB], dout[SCAN_CB], y[SCAN_CB], dy[SCAN_CB];
            load_row(u, p->u + row * p->u_stride + d0, w);
            load_row(dr, p->delta_raw + row * p->delta_stride + d0, w);
            load_row(z, p->z + row * p->z_stride + d0, w);
            load_row(dout, p->dout + row * p->dout_stride + d0, w);
            for (int j = 0; j < SCAN_CB; j++) y[j] = Dskip[j] * u[j];
            for (int n = 0; n < N; n++) {
                const float cn = Ct[n];
#pragma omp simd
                for (int j = 0; j < SCAN_CB; j++) y[j] += cn * hcur[n][j];
            }
            float dz[SCAN_CB];
#pragma omp simd
            for (int j = 0; j < SCAN_CB; j++) {
                float s = vec_sigmoidf(z[j]);
                dy[j] = dout[j] * z[j] * s;
                dz[j] = dout[j] * y[j] * s * (1.0f + z[j] * (1.0f - s));
                dD[j] += dy[j] * u[j];
            }
            store_row(p->dz + row * p->dz_stride + d0, dz, w);
            float ddelta[SCAN_CB], du_acc[SCAN_CB], du_coef[SCAN_CB];
            for (int j = 0; j < SCAN_CB; j++) {
                ddelta[j] = 0.0f;
                du_acc[j] = 0.0f;
                du_coef[j] = delta[j] * u[j];
            }
            float *dBt = dBC + (size_t)t * 2 * N, *dCt = dBt + N;
            for (int n = 0; n < N; n++) {
                const float bn = Bt[n], cn = Ct[n];
                float sum_dB = 0.0f, sum_dC = 0.0f;
#pragma omp simd reduction(+ : sum_dB, sum_dC)
                for (int j = 0; j < SCAN_CB; j++) {
                    float g = cn * dy[j] + gnext[n][j];         // g_t
                    float ha = hprev[n][j] * acur[n][j];        // a_t * h_{t-1}
                    sum_dC += hcur[n][j] * dy[j];
                    sum_dB += g * du_coef[j];
                    ddelta[j] += g * (ha * A[n][j] + bn * u[j]);
                    du_acc[j] += g * bn;
                    dA[n][j] += g * ha * delta[j];
                    gnext[n][j] = acur[n][j] * g;               // a_t * g_t, for step t-1
                }
                dBt[n] += sum_dB;
                dCt[n] += sum_dC;
            }
            float du[SCAN_CB], dpre[SCAN_CB];
#pragma omp simd
            for (int j = 0; j < SCAN_CB; j++) {
                dpre[j] = ddelta[j] * vec_sigmoidf(dr[j] + bias[j]);  // softplus'
                dbias[j] += dpre[j];
                du[j] = du_acc[j] * delta[j] + Dskip[j] * dy[j];
            }
            store_row(p->du + row * p->du_stride + d0, du, w);
            store_row(p->ddelta_raw + row * p->ddelta_stride + d0, dpre, w);
        }
    }
    for (int j = 0; j < w; j++) {
        for (int n = 0; n < N; n++) dA_out[(size_t)j * N + n] = dA[n][j] * A[n][j];  // d/dA_log
        dD_out[j] = dD[j];
        dbias_out[j] = dbias[j];
    }
}

void selective_scan_backward(const SelectiveScanParams *p) {
    const ScanScratch s = scan_scratch_layout(p);
    const int G = scan_ngroups(p), nblocks = (p->dim + SCAN_CB - 1) / SCAN_CB;
    const int L = p->seqlen, N = p->dstate, Dm = p->dim;
    float *sc = p->scratch;
    memset(sc + s.dBC, 0, (size_t)p->batch * G * L * 2 * N * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
    for (int task = 0; task < p->batch * G; task++) {
        const int b = task / G, g = task % G;
        float *buf = sc + s.buffers + (size_t)task * scan_task_buffer_floats(p);
        float *dBC = sc + s.dBC + (size_t)task * L * 2 * N;
        for (int blk = g * SCAN_GROUP_BLOCKS; blk < (g + 1) * SCAN_GROUP_BLOCKS && blk < nblocks;
             blk++) {
            const int d0 = blk * SCAN_CB;
            scan_backward_block(p, b, d0, buf, dBC, sc + s.dA + ((size_t)b * Dm + d0) * N,
                                sc + s.dD + (size_t)b * Dm + d0, sc + s.dbias + (size_t)b * Dm + d0);
        }
    }
    // dB, dC (activation gradients, written): the group partials in group order.
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < p->batch * L; bt++) {
        const int b = bt / L, t = bt % L;
        float *dB = p->dB + (size_t)bt * p->dB_stride, *dC = p->dC + (size_t)bt * p->dC_stride;
        for (int n = 0; n < N; n++) dB[n] = dC[n] = 0.0f;
        for (int g = 0; g < G; g++) {
            const float *part = sc + s.dBC + (((size_t)b * G + g) * L + t) * 2 * N;
            for (int n = 0; n < N; n++) {
                dB[n] += part[n];
                dC[n] += part[N + n];
            }
        }
    }
    // Parameter gradients accumulate: the per-row partials in batch order.
#pragma omp parallel for schedule(static)
    for (int d = 0; d < Dm; d++) {
        for (int b = 0; b < p->batch; b++) {
            for (int n = 0; n < N; n++)
                p->dA_log[(size_t)d * N + n] += sc[s.dA + ((size_t)b * Dm + d) * N + n];
            p->dD[d] += sc[s.dD + (size_t)b * Dm + d];
            p->ddelta_bias[d] += sc[s.dbias + (size_t)b * Dm + d];
        }
    }
}

// ---------------------------------------------------------------- decode
// One recurrent step for batch 1: the forward's arithmetic per channel, with
// the sum over the state dimension vectorized (so its rounding order differs
// from the forward's by a few ulp).
void selective_scan_step(float *out, float *ssm_state, const float *u, const float *delta_raw,
                         const float *z, const float *Bt, const float *Ct, const float *A_log,
                         const float *D, const float *delta_bias, int dim, int dstate) {
    for (int d = 0; d < dim; d++) {
        const float delta = softplus_f(delta_raw[d] + delta_bias[d]);
        const float du = delta * u[d];
        float *h = ssm_state + (size_t)d * dstate;
        const float *al = A_log + (size_t)d * dstate;
        float y = 0.0f;
#pragma omp simd reduction(+ : y)
        for (int n = 0; n < dstate; n++) {
            h[n] = vec_expf(delta * -vec_expf(al[n])) * h[n] + du * Bt[n];
            y += Ct[n] * h[n];
        }
        y += D[d] * u[d];
        out[d] = y * z[d] * vec_sigmoidf(z[d]);
    }
}
