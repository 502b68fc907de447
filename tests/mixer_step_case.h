// mixer_step_case.h: one problem for mamba_mixer_step (MambaMixerStepParams)
// in a backend's memory, drawn from a seed so that every backend gets the
// same values, and the unfused sequence of ops the fused op stands for:
// each sequence's conv1d_silu_step, x_proj and dt_proj as linear_forward
// over the B rows, each sequence's selective_scan_step.
#ifndef TB_TEST_MIXER_STEP_CASE_H
#define TB_TEST_MIXER_STEP_CASE_H

#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "lib/common.h"

typedef struct {
    const Backend *be;
    int B, D, S, R, K;
    float *xz;  // (B, 2D + 3): x, z and a few floats of padding per row (a strided view)
    float *conv_w, *conv_b, *x_proj, *dt_w, *dt_b, *A_log, *Dskip;
    float *conv_state, *ssm_state;  // (B, D, K), (B, D, S)
    float *u, *x_dbl, *delta_raw;   // (B, D), (B, R + 2S), (B, D)
    float *out;                     // (B, D + 1): out's rows a stride of D + 1 apart
    MambaMixerStepParams p;
} MixerCase;

enum { MIXER_XZ_PAD = 3 };

static inline float *mixer_upload(const Backend *be, Rng *rng, size_t n, float lo, float hi) {
    float *h = tb_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = lo + (hi - lo) * rng_uniform(rng);
    float *d = be->alloc(n * sizeof(float));
    be->to_device(d, h, n * sizeof(float));
    free(h);
    return d;
}

static inline void mixer_case_create(MixerCase *c, const Backend *be, int B, int D, int S, int R, int K,
                                     uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    const size_t xd = (size_t)R + 2 * S, ld = 2 * (size_t)D + MIXER_XZ_PAD;
    *c = (MixerCase){.be = be, .B = B, .D = D, .S = S, .R = R, .K = K};
    c->xz = mixer_upload(be, &rng, (size_t)B * ld, -1, 1);
    c->conv_w = mixer_upload(be, &rng, (size_t)D * K, -0.6f, 0.6f);
    c->conv_b = mixer_upload(be, &rng, (size_t)D, -0.3f, 0.3f);
    c->x_proj = mixer_upload(be, &rng, xd * D, -0.3f, 0.3f);
    c->dt_w = mixer_upload(be, &rng, (size_t)D * R, -0.5f, 0.5f);
    c->dt_b = mixer_upload(be, &rng, (size_t)D, -4, -1);
    c->A_log = mixer_upload(be, &rng, (size_t)D * S, 0, 2.5f);
    c->Dskip = mixer_upload(be, &rng, (size_t)D, 0.5f, 1.5f);
    c->conv_state = mixer_upload(be, &rng, (size_t)B * D * K, -1, 1);
    c->ssm_state = mixer_upload(be, &rng, (size_t)B * D * S, -1, 1);
    c->u = be->alloc((size_t)B * D * sizeof(float));
    c->x_dbl = be->alloc((size_t)B * xd * sizeof(float));
    c->delta_raw = be->alloc((size_t)B * D * sizeof(float));
    c->out = be->alloc((size_t)B * (D + 1) * sizeof(float));
    c->p = (MambaMixerStepParams){
        .batch = B, .dim = D, .dstate = S, .dt_rank = R, .d_conv = K,
        .x = c->xz, .x_stride = (int)ld, .z = c->xz + D, .z_stride = (int)ld,
        .conv_w = c->conv_w, .conv_b = c->conv_b, .x_proj = c->x_proj, .dt_w = c->dt_w,
        .delta_bias = c->dt_b, .A_log = c->A_log, .D = c->Dskip,
        .conv_state = c->conv_state, .ssm_state = c->ssm_state,
        .u = c->u, .x_dbl = c->x_dbl, .delta_raw = c->delta_raw, .out = c->out, .out_stride = D + 1};
}

static inline void mixer_case_free(MixerCase *c) {
    float *all[] = {c->xz, c->conv_w, c->conv_b, c->x_proj, c->dt_w, c->dt_b, c->A_log, c->Dskip,
                    c->conv_state, c->ssm_state, c->u, c->x_dbl, c->delta_raw, c->out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) c->be->free(all[i]);
}

// The op's work as the separate ops do it, on the case's buffers.
static inline void mixer_unfused(const MixerCase *c) {
    const Backend *be = c->be;
    const MambaMixerStepParams *p = &c->p;
    const int B = p->batch, D = p->dim, S = p->dstate, R = p->dt_rank, K = p->d_conv, xd = R + 2 * S;
    for (int b = 0; b < B; b++)
        be->conv1d_silu_step(p->u + (size_t)b * D, p->conv_state + (size_t)b * D * K,
                             p->x + (size_t)b * p->x_stride, p->conv_w, p->conv_b, D, K);
    be->linear_forward(p->x_dbl, xd, p->u, D, p->x_proj, NULL, B, D, xd, 0);
    be->linear_forward(p->delta_raw, D, p->x_dbl, xd, p->dt_w, NULL, B, R, D, 0);
    for (int b = 0; b < B; b++) {
        const float *xb = p->x_dbl + (size_t)b * xd;
        be->selective_scan_step(p->out + (size_t)b * p->out_stride, p->ssm_state + (size_t)b * D * S,
                                p->u + (size_t)b * D, p->delta_raw + (size_t)b * D,
                                p->z + (size_t)b * p->z_stride, xb + R, xb + R + S, p->A_log, p->D,
                                p->delta_bias, D, S);
    }
}

// The tensors an op writes, in order: name, pointer, floats.
enum { MIXER_OUTPUTS = 6 };
static inline void mixer_outputs(const MixerCase *c, const char *names[MIXER_OUTPUTS],
                                 float *ptrs[MIXER_OUTPUTS], size_t sizes[MIXER_OUTPUTS]) {
    const size_t B = c->B, D = c->D, xd = (size_t)c->R + 2 * c->S;
    const char *n[MIXER_OUTPUTS] = {"u", "x_dbl", "delta_raw", "out", "conv_state", "ssm_state"};
    float *p[MIXER_OUTPUTS] = {c->u, c->x_dbl, c->delta_raw, c->out, c->conv_state, c->ssm_state};
    size_t s[MIXER_OUTPUTS] = {B * D, B * xd, B * D, B * (D + 1), B * D * c->K, B * D * c->S};
    for (int i = 0; i < MIXER_OUTPUTS; i++) names[i] = n[i], ptrs[i] = p[i], sizes[i] = s[i];
}

// A tensor of the case, on the host (the caller frees it).
static inline float *mixer_download(const MixerCase *c, const float *t, size_t n) {
    float *h = tb_malloc(n * sizeof(float));
    c->be->to_host(h, t, n * sizeof(float));
    return h;
}

#endif
