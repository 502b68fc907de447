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
// the inner loops run across channels in SIMD lanes (vec16.h), and the
// forward needs no horizontal sums. softplus, the D skip and the z gate are
// fused into the same pass, but kept off the sequential path: per tile of
// SCAN_TILE steps, a first pass computes them for every step (independent
// steps, so their long exp/log/divide chains overlap), the recurrence pass
// carries only h, and a last pass applies the gate.
//
// Memory: the (B, L, dim, N) tensor of states is never stored.
//   Stored by the forward:  chunk_states (B, ceil(L/chunk), dim, N), the state
//                           entering each chunk (dim*N/chunk floats per token).
//   Recomputed backward:    inside one chunk, delta, a_t and h_t, into a small
//                           per-task buffer ((chunk+1) * N * CB floats), from
//                           the saved state; then y_t for the z gate.
//   The backward's dB_t and dC_t are sums over channels (horizontal sums of
//   the lanes); with N = 16 the 16 sums of one step are done together by a
//   shuffle tree (vsum16).
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
#include <string.h>

#include "cpu_ops.h"
#include "vec16.h"
#include "vec_math.h"

#define SCAN_CB VEC16_LANES  // channels per block: one vec16

#define SCAN_GROUP_BLOCKS 4  // blocks per backward task (dB/dC partials per group)
#define SCAN_TILE 32         // forward steps per pass (see the top)
// Rows of u, delta and z are d_inner (or 2 d_inner) floats apart, so a block
// walking time reads one cache line per row, each from a new page; prefetch
// that many steps ahead.
#define SCAN_PREFETCH 8

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

size_t selective_scan_scratch_floats_cpu(const SelectiveScanParams *p) {
    return scan_scratch_layout(p).total;
}

// The CPU forward saves the chunk states alone.
size_t selective_scan_saved_floats_cpu(const SelectiveScanParams *p) {
    return (size_t)p->batch * scan_nchunks(p) * p->dim * p->dstate;
}

// A block's per-channel constants; lanes past the last channel get values
// that keep them inert (u = 0 makes every contribution zero).
typedef struct {
    vec16 A[SCAN_MAX_DSTATE];  // -exp(A_log), [n] over channels
    vec16 Dskip, bias;
} BlockConstants;

static void load_block_constants(const SelectiveScanParams *p, int d0, int w, BlockConstants *k) {
    float x[SCAN_CB];
    for (int n = 0; n < p->dstate; n++) {
        for (int j = 0; j < SCAN_CB; j++)
            x[j] = j < w ? -vec_expf(p->A_log[(size_t)(d0 + j) * p->dstate + n]) : -1.0f;
        k->A[n] = vload(x);
    }
    for (int j = 0; j < SCAN_CB; j++) x[j] = j < w ? p->D[d0 + j] : 0.0f;
    k->Dskip = vload(x);
    for (int j = 0; j < SCAN_CB; j++) x[j] = j < w ? p->delta_bias[d0 + j] : 0.0f;
    k->bias = vload(x);
}

// Row r of a (rows, stride) view at channel d0, w channels; zeros past w.
static inline vec16 load_row(const float *base, size_t r, int stride, int d0, int w) {
    const float *src = base + r * stride + d0;
    if (w == SCAN_CB) return vload(src);
    float x[SCAN_CB];
    for (int j = 0; j < SCAN_CB; j++) x[j] = j < w ? src[j] : 0.0f;
    return vload(x);
}
static inline void store_row(float *base, size_t r, int stride, int d0, int w, vec16 v) {
    float *dst = base + r * stride + d0;
    if (w == SCAN_CB) {
        vstore(dst, v);
        return;
    }
    float x[SCAN_CB];
    vstore(x, v);
    for (int j = 0; j < w; j++) dst[j] = x[j];
}
static inline void prefetch_row(const float *base, size_t r, int stride, int d0) {
    if (base) __builtin_prefetch(base + r * stride + d0);
}

// The recurrence step, shared by the forward and the backward's recompute so
// that both round identically (the chunked backward relies on it).
static inline vec16 scan_state_update(vec16 a, vec16 h, vec16 du, float bn) {
    return a * h + du * bn;
}

// The state h ([n] over the block's channels) <-> (w, N) rows of a state tensor.
static void save_state(float *dst, const vec16 *h, int w, int N) {
    for (int n = 0; n < N; n++) {
        float x[SCAN_CB];
        vstore(x, h[n]);
        for (int j = 0; j < w; j++) dst[(size_t)j * N + n] = x[j];
    }
}
static void load_state(vec16_u *h, const float *src, int w, int N) {
    for (int n = 0; n < N; n++) {
        float x[SCAN_CB];
        for (int j = 0; j < SCAN_CB; j++) x[j] = j < w ? src[(size_t)j * N + n] : 0.0f;
        h[n] = vload(x);
    }
}

// ---------------------------------------------------------------- forward
static void scan_forward_block(const SelectiveScanParams *p, int b, int d0) {
    const int L = p->seqlen, N = p->dstate, chunk = p->chunk, nchunks = scan_nchunks(p);
    const int w = p->dim - d0 < SCAN_CB ? p->dim - d0 : SCAN_CB;
    BlockConstants k;
    load_block_constants(p, d0, w, &k);
    vec16 h[SCAN_MAX_DSTATE];
    if (p->initial_state)
        load_state((vec16_u *)h, p->initial_state + ((size_t)b * p->dim + d0) * N, w, N);
    else
        for (int n = 0; n < N; n++) h[n] = vsplat(0.0f);
    vec16 delta[SCAN_TILE], du[SCAN_TILE], gate[SCAN_TILE], skip[SCAN_TILE], y[SCAN_TILE];
    for (int t0 = 0; t0 < L; t0 += SCAN_TILE) {
        const int len = L - t0 < SCAN_TILE ? L - t0 : SCAN_TILE;
        const size_t row0 = (size_t)b * L + t0;
        for (int i = 0; i < len; i++) {  // 1. per step: softplus, delta u, D u, gate
            const size_t row = row0 + i;
            if (t0 + i + SCAN_PREFETCH < L) {
                prefetch_row(p->u, row + SCAN_PREFETCH, p->u_stride, d0);
                prefetch_row(p->delta_raw, row + SCAN_PREFETCH, p->delta_stride, d0);
                prefetch_row(p->z, row + SCAN_PREFETCH, p->z_stride, d0);
            }
            vec16 u = load_row(p->u, row, p->u_stride, d0, w);
            vec16 z = load_row(p->z, row, p->z_stride, d0, w);
            delta[i] = vsoftplus(load_row(p->delta_raw, row, p->delta_stride, d0, w) + k.bias);
            du[i] = delta[i] * u;
            skip[i] = k.Dskip * u;
            gate[i] = z * vsigmoid(z);
        }
        for (int i = 0; i < len; i++) {  // 2. the recurrence
            const int t = t0 + i;
            if (t % chunk == 0)  // save the state entering this chunk
                save_state(p->chunk_states + (((size_t)b * nchunks + t / chunk) * p->dim + d0) * N,
                           h, w, N);
            const float *Bt = p->Bmat + (row0 + i) * p->B_stride;
            const float *Ct = p->Cmat + (row0 + i) * p->C_stride;
            vec16 acc = vsplat(0.0f);
            for (int n = 0; n < N; n++) {
                h[n] = scan_state_update(vexp(delta[i] * k.A[n]), h[n], du[i], Bt[n]);
                acc += h[n] * Ct[n];
            }
            y[i] = acc;
        }
        for (int i = 0; i < len; i++)  // 3. out = (y + D u) * silu(z)
            store_row(p->out, row0 + i, p->out_stride, d0, w, (y[i] + skip[i]) * gate[i]);
    }
    if (p->final_state) save_state(p->final_state + ((size_t)b * p->dim + d0) * N, h, w, N);
}

void selective_scan_forward_cpu(const SelectiveScanParams *p) {
    const int nblocks = (p->dim + SCAN_CB - 1) / SCAN_CB;
#pragma omp parallel for schedule(static)
    for (int task = 0; task < p->batch * nblocks; task++)
        scan_forward_block(p, task / nblocks, (task % nblocks) * SCAN_CB);
}

// ---------------------------------------------------------------- backward
// dBt[n] += the lanes of PB[n] summed, dCt[n] likewise, n < N.
static inline void add_lane_sums(float *dBt, float *dCt, const vec16 *PB, const vec16 *PC,
                                 int N) {
#if VEC16_HAVE_SUM16
    if (N == 16) {
        vstore(dBt, vload(dBt) + vsum16(PB));
        vstore(dCt, vload(dCt) + vsum16(PC));
        return;
    }
#endif
    for (int n = 0; n < N; n++) {
        dBt[n] += vsum(PB[n]);
        dCt[n] += vsum(PC[n]);
    }
}

// One block of channels for one batch row. dBC (seqlen, 2N) accumulates this
// group's dB, dC partials; dA (w, N), dD, dbias (w) are written.
static void scan_backward_block(const SelectiveScanParams *p, int b, int d0, float *buf,
                                float *dBC, float *dA_out, float *dD_out, float *dbias_out) {
    const int L = p->seqlen, N = p->dstate, chunk = p->chunk, nchunks = scan_nchunks(p);
    const int w = p->dim - d0 < SCAN_CB ? p->dim - d0 : SCAN_CB;
    BlockConstants k;
    load_block_constants(p, d0, w, &k);
    vec16 gnext[SCAN_MAX_DSTATE], dA[SCAN_MAX_DSTATE], PB[SCAN_MAX_DSTATE], PC[SCAN_MAX_DSTATE];
    for (int n = 0; n < N; n++) gnext[n] = dA[n] = vsplat(0.0f);
    vec16 dD = vsplat(0.0f), dbias = vsplat(0.0f);
    // Per-chunk buffers: hs[i*N + n] is the state before step t0+i (hs[0..N) = saved).
    vec16_u *hs = (vec16_u *)buf;                          // (chunk+1) * N
    vec16_u *as = hs + (size_t)(chunk + 1) * N;               // chunk * N
    vec16_u *deltas = as + (size_t)chunk * N;                 // chunk

    for (int c = nchunks - 1; c >= 0; c--) {
        const int t0 = c * chunk, t1 = t0 + chunk < L ? t0 + chunk : L;
        load_state(hs, p->chunk_states + (((size_t)b * nchunks + c) * p->dim + d0) * N, w, N);
        // Recompute delta, a_t and h_t across the chunk.
        for (int t = t0; t < t1; t++) {
            const size_t row = (size_t)b * L + t;
            const int i = t - t0;
            if (t + SCAN_PREFETCH < t1) {
                prefetch_row(p->u, row + SCAN_PREFETCH, p->u_stride, d0);
                prefetch_row(p->delta_raw, row + SCAN_PREFETCH, p->delta_stride, d0);
            }
            const float *Bt = p->Bmat + row * p->B_stride;
            vec16 delta = vsoftplus(load_row(p->delta_raw, row, p->delta_stride, d0, w) + k.bias);
            vec16 du = delta * load_row(p->u, row, p->u_stride, d0, w);
            deltas[i] = delta;
            const vec16_u *hprev = hs + (size_t)i * N;
            vec16_u *hcur = hs + (size_t)(i + 1) * N, *acur = as + (size_t)i * N;
            for (int n = 0; n < N; n++) {
                acur[n] = vexp(delta * k.A[n]);
                hcur[n] = scan_state_update(acur[n], hprev[n], du, Bt[n]);
            }
        }
        // Walk the chunk backward.
        for (int t = t1 - 1; t >= t0; t--) {
            const size_t row = (size_t)b * L + t;
            const int i = t - t0;
            if (t - SCAN_PREFETCH >= t0) {  // walking backward: prefetch behind
                const size_t ahead = row - SCAN_PREFETCH;
                prefetch_row(p->z, ahead, p->z_stride, d0);
                prefetch_row(p->dout, ahead, p->dout_stride, d0);
                prefetch_row(p->du, ahead, p->du_stride, d0);
                prefetch_row(p->ddelta_raw, ahead, p->ddelta_stride, d0);
                prefetch_row(p->dz, ahead, p->dz_stride, d0);
            }
            const float *Bt = p->Bmat + row * p->B_stride, *Ct = p->Cmat + row * p->C_stride;
            const vec16_u *hprev = hs + (size_t)i * N, *hcur = hs + (size_t)(i + 1) * N;
            const vec16_u *acur = as + (size_t)i * N;
            const vec16 delta = deltas[i];
            vec16 u = load_row(p->u, row, p->u_stride, d0, w);
            vec16 dr = load_row(p->delta_raw, row, p->delta_stride, d0, w);
            vec16 z = load_row(p->z, row, p->z_stride, d0, w);
            vec16 dout = load_row(p->dout, row, p->dout_stride, d0, w);
            vec16 y = k.Dskip * u;
            for (int n = 0; n < N; n++) y += hcur[n] * Ct[n];
            vec16 s = vsigmoid(z);
            vec16 dy = dout * z * s;
            store_row(p->dz, row, p->dz_stride, d0, w, dout * y * s * (1.0f + z * (1.0f - s)));
            dD += dy * u;
            vec16 ddelta = vsplat(0.0f), du_acc = vsplat(0.0f), du_coef = delta * u;
            for (int n = 0; n < N; n++) {
                const float bn = Bt[n];
                vec16 g = Ct[n] * dy + gnext[n];  // g_t
                vec16 ha = hprev[n] * acur[n];    // a_t * h_{t-1}
                PC[n] = hcur[n] * dy;
                PB[n] = g * du_coef;
                ddelta += g * (ha * k.A[n] + bn * u);
                du_acc += g * bn;
                dA[n] += g * ha * delta;
                gnext[n] = acur[n] * g;  // a_t * g_t, for step t-1
            }
            add_lane_sums(dBC + (size_t)t * 2 * N, dBC + (size_t)t * 2 * N + N, PB, PC, N);
            vec16 dpre = ddelta * vsigmoid(dr + k.bias);  // softplus'
            dbias += dpre;
            store_row(p->du, row, p->du_stride, d0, w, du_acc * delta + k.Dskip * dy);
            store_row(p->ddelta_raw, row, p->ddelta_stride, d0, w, dpre);
        }
    }
    float x[SCAN_CB];
    for (int n = 0; n < N; n++) {
        vstore(x, dA[n] * k.A[n]);  // d/dA_log
        for (int j = 0; j < w; j++) dA_out[(size_t)j * N + n] = x[j];
    }
    vstore(x, dD);
    for (int j = 0; j < w; j++) dD_out[j] = x[j];
    vstore(x, dbias);
    for (int j = 0; j < w; j++) dbias_out[j] = x[j];
}

void selective_scan_backward_cpu(const SelectiveScanParams *p) {
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
// from the forward's by a few ulp). With dstate == 16 one channel's state is
// one vec16: the two exps of a_t run on whole vectors, and softplus, the skip
// and the gate on 16 channels at once. Channel blocks are independent, so
// splitting them over threads changes no result; small layers stay on one
// thread, where a parallel region would cost more than it saves.
#define SCAN_STEP_PARALLEL_MIN 8192  // dim * dstate at which threads pay off

static void scan_step_channel(float *out, float *h, float u, float delta, float z, const float *Bt,
                              const float *Ct, const float *al, float D, int dstate) {
    const float du = delta * u;
    float y = 0.0f;
#pragma omp simd reduction(+ : y)
    for (int n = 0; n < dstate; n++) {
        h[n] = vec_expf(delta * -vec_expf(al[n])) * h[n] + du * Bt[n];
        y += Ct[n] * h[n];
    }
    y += D * u;
    *out = y * z * vec_sigmoidf(z);
}

void selective_scan_step_cpu(float *out, float *ssm_state, const float *u, const float *delta_raw,
                         const float *z, const float *Bt, const float *Ct, const float *A_log,
                         const float *D, const float *delta_bias, int dim, int dstate) {
    const int nblocks = (dim + SCAN_CB - 1) / SCAN_CB;
#pragma omp parallel for schedule(static) if (dim * dstate >= SCAN_STEP_PARALLEL_MIN)
    for (int blk = 0; blk < nblocks; blk++) {
        const int d0 = blk * SCAN_CB;
        if (dstate != VEC16_LANES || d0 + SCAN_CB > dim) {  // generic shape, or the last block
            for (int d = d0; d < dim && d < d0 + SCAN_CB; d++)
                scan_step_channel(out + d, ssm_state + (size_t)d * dstate, u[d],
                                  vec_softplusf(delta_raw[d] + delta_bias[d]), z[d], Bt, Ct,
                                  A_log + (size_t)d * dstate, D[d], dstate);
            continue;
        }
        float delta[SCAN_CB], du[SCAN_CB], y[SCAN_CB];
        vec16 uv = vload(u + d0);
        vec16 dv = vsoftplus(vload(delta_raw + d0) + vload(delta_bias + d0));
        vstore(delta, dv);
        vstore(du, dv * uv);
        const vec16 Bv = vload(Bt), Cv = vload(Ct);
        for (int j = 0; j < SCAN_CB; j++) {
            float *h = ssm_state + (size_t)(d0 + j) * VEC16_LANES;
            vec16 a = vexp(vsplat(delta[j]) * -vexp(vload(A_log + (size_t)(d0 + j) * VEC16_LANES)));
            vec16 hv = a * vload(h) + vsplat(du[j]) * Bv;
            vstore(h, hv);
            y[j] = vsum(Cv * hv);
        }
        vec16 zv = vload(z + d0);
        vec16 yv = vload(y) + vload(D + d0) * uv;
        vstore(out + d0, yv * zv * vsigmoid(zv));
    }
}
