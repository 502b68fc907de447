// mamba.c: Mamba-1 exactly as mamba_ssm's MambaLMHeadModel computes it.
//
//   x = embedding[tokens]
//   for each layer:  x = x + mixer(rmsnorm(x))          (pre-norm residual, eps 1e-5)
//   logits = rmsnorm_f(x) @ embedding^T                  (the LM head is tied)
//
// The mixer (mamba_simple.Mamba, its reference path), d_inner = expand * d_model:
//   xz        = in_proj(h)                  (N, 2 d_inner), no bias; x = xz[:, :di], z = xz[:, di:]
//   u         = silu(conv1d(x))             causal depthwise, kernel d_conv, with bias
//   x_dbl     = x_proj(u)                   (N, dt_rank + 2 d_state) = [dt_r | B | C]
//   delta_raw = dt_r @ dt_proj.weight^T     the bias is added inside the scan, with softplus
//   y         = selective_scan(u, delta_raw, A = -exp(A_log), B, C, D, z, dt_proj.bias)
//   out       = out_proj(y)                 (N, d_model), no bias
//
// All math goes through the Backend ops, so this file runs on the CPU and on
// CUDA unchanged. Activations are allocated once for the largest (B, T); the
// training step allocates nothing. The selective scan keeps only the state
// entering each chunk of spec.scan_chunk steps (see kernels/cpu/selective_scan.c).
// The configs, the checkpoint formats (config.json both ways) and the
// registry entry are in mamba_formats.c.
//
// Parameters: V*d + d + L*(6*d^2 + 4*d*R + 111*d) with d_inner = 2d, d_state
// 16, d_conv 4, R = dt_rank: in_proj 4d^2, conv1d 2d*4 + 2d, x_proj
// 2d*(R + 32), dt_proj 2d*R + 2d, A_log 2d*16, D 2d, out_proj 2d^2, norm d.
// Mamba has two blocks per Transformer block, each with half the parameters,
// hence 13 and 23 layers against GPT-2's 7 and 12:
//   mamba-6m   d_model 256, 13 layers, dt_rank 16   5,956,608 at V = 1024 (+1.7%)
//   mamba-60m  d_model 640, 23 layers, dt_rank 40  61,169,920             (+2.1%)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/common.h"
#include "mamba.h"
#include "model.h"


// ================================================================ parameters

// One layer's tensors, into params or into grads, in mamba_ssm's state_dict order.
typedef struct {
    float *in_proj;           // (2di, d)
    float *conv_w, *conv_b;   // (di, 1, K), (di)
    float *x_proj;            // (R + 2S, di)
    float *dt_w, *dt_b;       // (di, R), (di)
    float *A_log;             // (di, S)
    float *D;                 // (di)
    float *out_proj;          // (d, di)
    float *norm;              // (d)
} MambaLayer;

typedef struct {
    float *embedding;  // (V, d)
    MambaLayer *layers;
    float *norm_f;     // (d)
} MambaWeights;

// Mamba's dimensions and its parameters by name (m->param_views): the
// weights and, in the same layout, their gradients.
typedef struct {
    int d, di, R, S, K;  // d_model, d_inner, dt_rank, d_state, d_conv
    MambaWeights w, g;
} Mamba;

static Mamba *mamba_of(const Model *m) { return (Mamba *)m->param_views; }


static const char *layer_tensor_names[] = {
    "mixer.in_proj.weight", "mixer.conv1d.weight", "mixer.conv1d.bias", "mixer.x_proj.weight",
    "mixer.dt_proj.weight", "mixer.dt_proj.bias",  "mixer.A_log",       "mixer.D",
    "mixer.out_proj.weight", "norm.weight",
};
enum { LAYER_TENSORS = 10 };

// ================================================================ activations

// What one layer keeps for its backward. N = B*T rows.
typedef struct {
    float *norm, *rstd;   // (N, d), (N)   rmsnorm(x_in)
    float *xz;            // (N, 2di)      in_proj output
    float *conv;          // (N, di)       conv1d output, before SiLU
    float *u;             // (N, di)       silu(conv): the scan input
    float *x_dbl;         // (N, R+2S)     [dt_r | B | C]; dt_proj reads dt_r in place
    float *delta_raw;     // (N, di)
    float *y;             // (N, di)       gated scan output
    float *chunk_states;  // (B, nchunks, di, S), then what the backend saves besides
    float *res_out;       // (N, d)        x_in + mixer(...): the next layer's input
} MambaLayerActs;

// One set of training activations (ModelActivations.views), for its
// capacity (B, T).
typedef struct {
    int32_t *tokens, *targets;  // (B,T)
    float *encoded;             // (B,T,d)
    float *normf, *normf_rstd;  // (N, d), (N)
    float *dlogits, *losses;    // (N, V), (N)
    float *mix_out;             // (N, d)
    // Activation gradients, reused by every layer.
    float *dres;                // (N, d) the residual stream's gradient
    float *dnorm;               // (N, d)
    float *dxz;                 // (N, 2di)
    float *dy, *du, *du2, *dconv, *ddelta;  // (N, di)
    float *dx_dbl;              // (N, R+2S) [ddt_r | dB | dC], each written in place
    float *scan_scratch;
    int cur_B, cur_T, have_targets;
    MambaLayerActs layers[];    // (L)
} MambaActivations;

// A DecodeState's views (models/decode.c), for S = capacity sequences and
// R = S * chunk rows, one call's tokens row-major by sequence.
typedef struct {
    float *conv_state;    // (L, S, di, K) each sequence's last d_conv inputs, oldest first
    float *ssm_state;     // (L, S, di, N)
    int32_t *tokens;      // (R)
    float *x;             // (R, d) the residual stream
    MambaLayerActs acts;  // one layer's buffers for R rows; chunk_states for (S, chunk)
    float *mix;           // (R, d)
} MambaDecode;

// ================================================================ tensor table

static void mamba_point_weights(Model *m, MambaWeights *w, float *base) {
    char name[96];
#define AT(nm) (base + model_find_tensor(m, nm)->offset)
    w->embedding = AT(MAMBA_EMBEDDING);
    w->norm_f = AT("backbone.norm_f.weight");
    for (int l = 0; l < m->spec.n_layer; l++) {
        float *p[LAYER_TENSORS];
        for (int k = 0; k < LAYER_TENSORS; k++) {
            snprintf(name, sizeof name, "backbone.layers.%d.%s", l, layer_tensor_names[k]);
            p[k] = AT(name);
        }
        w->layers[l] = (MambaLayer){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]};
    }
#undef AT
}

static int mamba_create(Model *m) {
    const ModelSpec *s = &m->spec;
    if (s->vocab_size <= 0 || s->d_model <= 0 || s->n_layer <= 0 || s->d_state <= 0 ||
        s->d_conv <= 0 || s->expand <= 0 || s->dt_rank <= 0 || s->max_seq_len <= 0 ||
        s->scan_chunk <= 0)
        return tb_error("mamba config '%s': d_model, n_layer, vocab_size, d_state, d_conv, "
                        "expand, dt_rank, max_seq_len and scan_chunk must all be positive",
                        s->name);
    if (s->d_state > m->be->selective_scan_max_dstate)
        return tb_error("mamba config '%s': d_state %d is above the %s backend's selective-scan "
                        "limit of %d; use a smaller d_state or another backend",
                        s->name, s->d_state, m->be->name, m->be->selective_scan_max_dstate);
    if (s->d_conv > m->be->conv1d_max_kernel)
        return tb_error("mamba config '%s': d_conv %d is above the %s backend's conv1d limit of "
                        "%d; use a smaller d_conv or another backend",
                        s->name, s->d_conv, m->be->name, m->be->conv1d_max_kernel);
    if (!tb_streq(s->a_init, "s4d_real") && !tb_streq(s->a_init, "constant"))
        return tb_error("mamba config '%s': a_init '%s' is unknown (use s4d_real or constant)",
                        s->name, s->a_init);
    const int64_t d = s->d_model, di = (int64_t)s->expand * d, R = s->dt_rank, S = s->d_state,
                  K = s->d_conv;
    const int64_t shapes[LAYER_TENSORS][3] = {
        {2 * di, d, 0}, {di, 1, K}, {di, 0, 0}, {R + 2 * S, di, 0}, {di, R, 0},
        {di, 0, 0},     {di, S, 0}, {di, 0, 0}, {d, di, 0},         {d, 0, 0},
    };
    const int ndims[LAYER_TENSORS] = {2, 3, 1, 2, 2, 1, 2, 1, 2, 1};
    int64_t shape[2] = {s->vocab_size, d};
    char name[96];
    model_add_tensor(m, MAMBA_EMBEDDING, 2, shape, 1);
    for (int l = 0; l < s->n_layer; l++)
        for (int k = 0; k < LAYER_TENSORS; k++) {
            snprintf(name, sizeof name, "backbone.layers.%d.%s", l, layer_tensor_names[k]);
            // Matrices decay; A_log (_no_weight_decay in mamba_ssm), D, biases, norms do not.
            int decay = ndims[k] >= 2 && k != 6;
            model_add_tensor(m, name, ndims[k], shapes[k], decay);
        }
    shape[0] = d;
    model_add_tensor(m, "backbone.norm_f.weight", 1, shape, 0);
    if (model_alloc_params(m)) return -1;

    Mamba *mb = tb_calloc(1, sizeof *mb);
    mb->d = (int)d, mb->di = (int)di, mb->R = (int)R, mb->S = (int)S, mb->K = (int)K;
    mb->w.layers = tb_calloc((size_t)s->n_layer, sizeof(MambaLayer));
    mb->g.layers = tb_calloc((size_t)s->n_layer, sizeof(MambaLayer));
    m->param_views = mb;
    mamba_point_weights(m, &mb->w, m->params.values);
    mamba_point_weights(m, &mb->g, m->params.grads);
    return 0;
}

// mamba_ssm's initialisation (Mamba.__init__ then _init_weights with
// rescale_prenorm_residual and n_residuals_per_layer = 1):
//   embedding       N(0, 0.02)
//   Linear weights  PyTorch's default kaiming_uniform(a = sqrt 5): U(+-1/sqrt(fan_in))
//   out_proj        the same, then divided by sqrt(n_layer)
//   conv1d          PyTorch's Conv1d default: weight and bias U(+-1/sqrt(d_conv))
//   dt_proj.weight  U(+-dt_rank^-0.5)
//   dt_proj.bias    softplus^-1(dt), dt log-uniform in [1e-3, 0.1], floored at 1e-4
//   A_log           log(n + 1) (S4D-Real), or log(1/2) for the "constant" baseline
//   D, norms        1
// Tensors are drawn in table order from one generator.
static void mamba_init_weights(Model *m, uint64_t seed) {
    const Mamba *mb = mamba_of(m);
    Rng rng;
    rng_seed(&rng, seed);
    const ModelParams *params = &m->params;
    float *host = tb_malloc(params->num_params * sizeof(float));
    const int constant_A = tb_streq(m->spec.a_init, "constant");
    for (int i = 0; i < params->num_tensors; i++) {
        const ParamTensor *t = &params->tensors[i];
        float *p = host + t->offset;
        size_t n = t->numel;
        if (tb_streq(t->name, MAMBA_EMBEDDING)) {
            for (size_t j = 0; j < n; j++) p[j] = MAMBA_EMBED_STD * rng_normal(&rng);
        } else if (tb_ends_with(t->name, "conv1d.weight") || tb_ends_with(t->name, "conv1d.bias")) {
            float bound = 1.0f / sqrtf((float)mb->K);
            for (size_t j = 0; j < n; j++) p[j] = bound * (2.0f * rng_uniform(&rng) - 1.0f);
        } else if (tb_ends_with(t->name, "dt_proj.bias")) {
            for (size_t j = 0; j < n; j++) {
                double dt = exp(rng_uniform(&rng) * (log(MAMBA_DT_MAX) - log(MAMBA_DT_MIN)) +
                                log(MAMBA_DT_MIN));
                if (dt < MAMBA_DT_FLOOR) dt = MAMBA_DT_FLOOR;
                p[j] = (float)(dt + log(-expm1(-dt)));  // softplus^-1(dt)
            }
        } else if (tb_ends_with(t->name, "A_log")) {
            for (size_t j = 0; j < n; j++)
                p[j] = constant_A ? logf(0.5f) : logf((float)(j % (size_t)mb->S + 1));
        } else if (tb_ends_with(t->name, ".D") || tb_ends_with(t->name, "norm.weight") ||
                   tb_ends_with(t->name, "norm_f.weight")) {
            for (size_t j = 0; j < n; j++) p[j] = 1.0f;
        } else {  // the Linear weights: fan_in is the second dimension
            float bound = 1.0f / sqrtf((float)t->shape[1]);
            if (tb_ends_with(t->name, "out_proj.weight")) bound /= sqrtf((float)m->spec.n_layer);
            for (size_t j = 0; j < n; j++) p[j] = bound * (2.0f * rng_uniform(&rng) - 1.0f);
        }
    }
    m->be->to_device(params->values, host, params->num_params * sizeof(float));
    free(host);
}

// ================================================================ activation buffers

static void layout_layer(const Model *m, Arena *a, MambaLayerActs *x, int B, int T) {
    const Mamba *mb = mamba_of(m);
    size_t N = (size_t)B * T, d = mb->d, di = mb->di, R = mb->R, S = mb->S;
    x->norm = arena_take(a, N * d);
    x->rstd = arena_take(a, N);
    x->xz = arena_take(a, N * 2 * di);
    x->conv = arena_take(a, N * di);
    x->u = arena_take(a, N * di);
    x->x_dbl = arena_take(a, N * (R + 2 * S));
    x->delta_raw = arena_take(a, N * di);
    x->y = arena_take(a, N * di);
    SelectiveScanParams shape = {.batch = B, .seqlen = T, .dim = (int)di, .dstate = (int)S,
                                 .chunk = m->spec.scan_chunk};
    x->chunk_states = arena_take(a, m->be->selective_scan_saved_floats(&shape));
    x->res_out = arena_take(a, N * d);
}

static SelectiveScanParams scan_params(const Model *m, const MambaLayer *w, MambaLayerActs *x,
                                       int B, int T);

static void layout_activations(const Model *m, ModelActivations *set, Arena *a) {
    const Mamba *mb = mamba_of(m);
    MambaActivations *acts = set->views;
    const int B = set->B, T = set->T;
    size_t N = (size_t)B * T, d = mb->d, di = mb->di, R = mb->R, S = mb->S;
    size_t V = m->spec.vocab_size;
    acts->tokens = (int32_t *)arena_take(a, N);
    acts->targets = (int32_t *)arena_take(a, N);
    acts->encoded = arena_take(a, N * d);
    for (int l = 0; l < m->spec.n_layer; l++) layout_layer(m, a, &acts->layers[l], B, T);
    acts->normf = arena_take(a, N * d);
    acts->normf_rstd = arena_take(a, N);
    set->logits = arena_take(a, N * V);
    acts->dlogits = arena_take(a, N * V);
    acts->losses = arena_take(a, N);
    acts->mix_out = arena_take(a, N * d);
    acts->dres = arena_take(a, N * d);
    acts->dnorm = arena_take(a, N * d);
    acts->dxz = arena_take(a, N * 2 * di);
    acts->dy = arena_take(a, N * di);
    acts->du = arena_take(a, N * di);
    acts->du2 = arena_take(a, N * di);
    acts->dconv = arena_take(a, N * di);
    acts->ddelta = arena_take(a, N * di);
    acts->dx_dbl = arena_take(a, N * (R + 2 * S));
    SelectiveScanParams p = scan_params(m, &mb->w.layers[0], &acts->layers[0], B, T);
    acts->scan_scratch = arena_take(a, m->be->selective_scan_scratch_floats(&p));
}

static int mamba_activations_alloc(Model *m, ModelActivations *set) {
    const Mamba *mb = mamba_of(m);
    size_t layers = (size_t)m->spec.n_layer * sizeof(MambaLayerActs);
    set->views = tb_calloc(1, sizeof(MambaActivations) + layers);
    Arena a = {0};
    layout_activations(m, set, &a);  // count
    set->arena_bytes = a.used;
    set->arena = m->be->alloc(a.used);
    a = (Arena){.base = set->arena};
    layout_activations(m, set, &a);  // assign
    model_reserve_workspace(m, (size_t)set->B * set->T, 2 * (size_t)mb->di, mb->K, 0);
    return 0;
}

// ================================================================ forward

// The scan's view of one layer's buffers: z, B and C are strided views into
// xz and x_dbl. The backward fields are filled in by the caller.
static SelectiveScanParams scan_params(const Model *m, const MambaLayer *w, MambaLayerActs *x,
                                       int B, int T) {
    const Mamba *mb = mamba_of(m);
    const int di = mb->di, R = mb->R, S = mb->S, xd = R + 2 * S;
    SelectiveScanParams p = {0};
    p.batch = B, p.seqlen = T, p.dim = di, p.dstate = S, p.chunk = m->spec.scan_chunk;
    p.u = x->u, p.u_stride = di;
    p.delta_raw = x->delta_raw, p.delta_stride = di;
    p.z = x->xz ? x->xz + di : NULL, p.z_stride = 2 * di;
    p.Bmat = x->x_dbl ? x->x_dbl + R : NULL, p.B_stride = xd;
    p.Cmat = x->x_dbl ? x->x_dbl + R + S : NULL, p.C_stride = xd;
    p.A_log = w->A_log, p.D = w->D, p.delta_bias = w->dt_b;
    p.out = x->y, p.out_stride = di;
    p.chunk_states = x->chunk_states;
    return p;
}

// One layer over (B, T): x_in (N, d) -> x->res_out = x_in + mixer(rmsnorm(x_in)).
// conv_state (B, di, K) and ssm_state (B, di, S), or NULL for a sequence that
// starts here: the decode states that the sequence continues; the scan
// leaves its final state in ssm_state (prefill).
static void layer_forward(const Model *m, const MambaLayer *w, MambaLayerActs *x,
                          const float *x_in, float *mix_out, int B, int T,
                          const float *conv_state, float *ssm_state) {
    const Mamba *mb = mamba_of(m);
    const Backend *be = m->be;
    const int N = B * T, d = mb->d, di = mb->di, R = mb->R, S = mb->S, xd = R + 2 * S;
    be->rmsnorm_forward(x->norm, x->rstd, x_in, w->norm, N, d, MAMBA_NORM_EPS);
    be->linear_forward(x->xz, 2 * di, x->norm, d, w->in_proj, NULL, N, d, 2 * di, 0);
    be->conv1d_forward(x->conv, x->xz, 2 * di, conv_state, w->conv_w, w->conv_b, B, T, di, mb->K);
    be->silu_forward(x->u, di, x->conv, di, N, di);
    be->linear_forward(x->x_dbl, xd, x->u, di, w->x_proj, NULL, N, di, xd, 0);
    // dt_r is the first R columns of x_dbl: a strided view, row stride xd.
    be->linear_forward(x->delta_raw, di, x->x_dbl, xd, w->dt_w, NULL, N, R, di, 0);
    SelectiveScanParams p = scan_params(m, w, x, B, T);
    p.initial_state = ssm_state;
    p.final_state = ssm_state;
    be->selective_scan_forward(&p);
    be->linear_forward(mix_out, d, x->y, di, w->out_proj, NULL, N, di, d, 0);
    be->add(x->res_out, x_in, mix_out, (size_t)N * d);
}

static void mamba_forward(Model *m, const int32_t *inputs, const int32_t *targets, int B, int T) {
    const Mamba *mb = mamba_of(m);
    MambaActivations *acts = model_require_activations(m, B, T);
    const Backend *be = m->be;
    const int d = mb->d, V = m->spec.vocab_size, N = B * T, L = m->spec.n_layer;
    model_check_tokens(m, inputs, (size_t)N, 0, "inputs");
    be->to_device(acts->tokens, inputs, (size_t)N * sizeof(int32_t));
    acts->cur_B = B, acts->cur_T = T;

    be->embedding_forward(acts->encoded, acts->tokens, mb->w.embedding, NULL, B, T, d);
    const float *x = acts->encoded;
    for (int l = 0; l < L; l++) {
        layer_forward(m, &mb->w.layers[l], &acts->layers[l], x, acts->mix_out, B, T, NULL, NULL);
        x = acts->layers[l].res_out;
    }
    be->rmsnorm_forward(acts->normf, acts->normf_rstd, x, mb->w.norm_f, N, d, MAMBA_NORM_EPS);
    be->linear_forward(m->acts->logits, V, acts->normf, d, mb->w.embedding, NULL, N, d, V, 0);  // tied head

    acts->have_targets = targets != NULL;
    if (targets) model_cross_entropy(m, targets, acts->targets, acts->losses, acts->dlogits, N);
}

// ================================================================ backward

// Accumulates d(mean loss)/d(params). dres carries the residual stream's
// gradient; since x_out = x_in + mixer(...), it is also the mixer's output gradient.
static void mamba_backward(Model *m) {
    const Mamba *mb = mamba_of(m);
    MambaActivations *acts = model_activation_views(m);
    const Backend *be = m->be;
    const int d = mb->d, di = mb->di, R = mb->R, S = mb->S, xd = R + 2 * S;
    const int V = m->spec.vocab_size, L = m->spec.n_layer;
    if (!acts || !acts->have_targets)
        tb_die("mamba '%s': backward called without a forward with targets", m->spec.name);
    const int B = acts->cur_B, T = acts->cur_T, N = B * T;

    be->zero(acts->dres, (size_t)N * d * sizeof(float));
    be->linear_backward(acts->dnorm, d, mb->g.embedding, NULL, acts->dlogits, V, acts->normf, d, mb->w.embedding, N, d, V, 0);
    const float *x_last = L > 0 ? acts->layers[L - 1].res_out : acts->encoded;
    be->rmsnorm_backward(acts->dres, mb->g.norm_f, acts->dnorm, x_last, mb->w.norm_f,
                         acts->normf_rstd, N, d);
    for (int l = L - 1; l >= 0; l--) {
        const MambaLayer *w = &mb->w.layers[l];
        MambaLayer *gw = &mb->g.layers[l];
        MambaLayerActs *x = &acts->layers[l];
        const float *x_in = l > 0 ? acts->layers[l - 1].res_out : acts->encoded;
        // out_proj: mix = y @ W^T
        be->linear_backward(acts->dy, di, gw->out_proj, NULL, acts->dres, d, x->y, di, w->out_proj, N, di, d, 0);
        // the scan: du, ddelta_raw, dz (into xz's second half), dB and dC (into dx_dbl)
        SelectiveScanParams p = scan_params(m, w, x, B, T);
        p.dout = acts->dy, p.dout_stride = di;
        p.du = acts->du, p.du_stride = di;
        p.ddelta_raw = acts->ddelta, p.ddelta_stride = di;
        p.dz = acts->dxz + di, p.dz_stride = 2 * di;
        p.dB = acts->dx_dbl + R, p.dB_stride = xd;
        p.dC = acts->dx_dbl + R + S, p.dC_stride = xd;
        p.dA_log = gw->A_log, p.dD = gw->D, p.ddelta_bias = gw->dt_b;
        p.scratch = acts->scan_scratch;
        be->selective_scan_backward(&p);
        // dt_proj: delta_raw = dt_r @ W_dt^T; ddt_r goes into dx_dbl's first R columns
        be->linear_backward(acts->dx_dbl, xd, gw->dt_w, NULL, acts->ddelta, di, x->x_dbl, xd, w->dt_w,
                            N, R, di, 0);
        // x_proj: x_dbl = u @ W_x^T; u feeds both x_proj and the scan
        be->linear_backward(acts->du2, di, gw->x_proj, NULL, acts->dx_dbl, xd, x->u, di, w->x_proj, N, di, xd, 0);
        be->accumulate(acts->du, acts->du2, (size_t)N * di);
        // SiLU, then the conv into xz's first half
        be->silu_backward(acts->dconv, di, x->conv, di, acts->du, N, di);
        be->conv1d_backward(acts->dxz, 2 * di, gw->conv_w, gw->conv_b, acts->dconv, x->xz, 2 * di,
                            w->conv_w, B, T, di, mb->K);
        // in_proj, then the norm (accumulating into the residual gradient)
        be->linear_backward(acts->dnorm, d, gw->in_proj, NULL, acts->dxz, 2 * di, x->norm, d, w->in_proj, N, d, 2 * di, 0);
        be->rmsnorm_backward(acts->dres, gw->norm, acts->dnorm, x_in, w->norm, x->rstd, N, d);
        model_grads_final(m, 1 + l * LAYER_TENSORS);  // layer l onwards (after the embedding)
    }
    be->embedding_backward(mb->g.embedding, NULL, acts->dres, acts->tokens, B, T, d);
}

// ================================================================ inference

static void layout_decode(Model *m, DecodeState *ds, MambaDecode *dec, Arena *a) {
    const Mamba *mb = mamba_of(m);
    size_t L = m->spec.n_layer, S = ds->capacity, R = S * ds->chunk, di = mb->di;
    dec->conv_state = arena_take(a, L * S * di * mb->K);
    dec->ssm_state = arena_take(a, L * S * di * mb->S);
    dec->tokens = (int32_t *)arena_take(a, R);
    dec->x = arena_take(a, R * mb->d);
    layout_layer(m, a, &dec->acts, (int)S, ds->chunk);
    dec->mix = arena_take(a, R * mb->d);
    ds->logits = arena_take(a, S * m->spec.vocab_size);
}

static int mamba_decode_alloc(Model *m, DecodeState *ds) {
    const Mamba *mb = mamba_of(m);
    MambaDecode *dec = tb_calloc(1, sizeof *dec);
    ds->impl = dec;
    Arena a = {0};
    layout_decode(m, ds, dec, &a);  // count
    ds->arena = m->be->alloc(a.used);
    a = (Arena){.base = ds->arena};
    layout_decode(m, ds, dec, &a);  // assign
    ds->state[0] = (DecodeStateTensor){dec->conv_state, (size_t)mb->di * mb->K, m->spec.n_layer, 0};
    ds->state[1] = (DecodeStateTensor){dec->ssm_state, (size_t)mb->di * mb->S, m->spec.n_layer, 0};
    ds->num_state = 2;
    model_reserve_workspace(m, (size_t)ds->capacity * ds->chunk, 2 * (size_t)mb->di, mb->K, 0);
    return 0;
}

static void mamba_decode_load(Model *m, DecodeState *ds, const int32_t *tokens, int B, int n) {
    MambaDecode *dec = ds->impl;
    m->be->to_device(dec->tokens, tokens, (size_t)B * n * sizeof(int32_t));
}

// One token of each of B sequences, on fixed buffers. Each layer updates its
// conv state (di, K) and SSM state (di, S) per sequence as
// mamba_simple.Mamba.step does: O(1) per token. A decode step is
// launch-bound, so the conv, x_proj, dt_proj and the scan step are one op
// (mamba_mixer_step), and each residual add is one op with the norm that
// reads its sum: 4 ops a layer, whatever B is.
static void decode_one_token(Model *m, DecodeState *ds, int B) {
    Mamba *mb = mamba_of(m);
    MambaDecode *dec = ds->impl;
    const Backend *be = m->be;
    const int d = mb->d, di = mb->di, R = mb->R, S = mb->S, K = mb->K;
    const int L = m->spec.n_layer, V = m->spec.vocab_size;
    MambaLayerActs *x = &dec->acts;
    be->embedding_forward(dec->x, dec->tokens, mb->w.embedding, NULL, B, 1, d);
    const float *first_norm = L > 0 ? mb->w.layers[0].norm : mb->w.norm_f;
    be->rmsnorm_forward(x->norm, x->rstd, dec->x, first_norm, B, d, MAMBA_NORM_EPS);
    for (int l = 0; l < L; l++) {
        const MambaLayer *w = &mb->w.layers[l];
        be->linear_forward(x->xz, 2 * di, x->norm, d, w->in_proj, NULL, B, d, 2 * di, 0);
        MambaMixerStepParams p = {
            .batch = B, .dim = di, .dstate = S, .dt_rank = R, .d_conv = K,
            .x = x->xz, .x_stride = 2 * di, .z = x->xz + di, .z_stride = 2 * di,
            .conv_w = w->conv_w, .conv_b = w->conv_b, .x_proj = w->x_proj, .dt_w = w->dt_w,
            .delta_bias = w->dt_b, .A_log = w->A_log, .D = w->D,
            .conv_state = dec->conv_state + (size_t)l * ds->capacity * di * K,
            .ssm_state = dec->ssm_state + (size_t)l * ds->capacity * di * S,
            .u = x->u, .x_dbl = x->x_dbl, .delta_raw = x->delta_raw, .out = x->y, .out_stride = di};
        be->mamba_mixer_step(&p);
        be->linear_forward(dec->mix, d, x->y, di, w->out_proj, NULL, B, di, d, 0);
        // x += mixer; then the next layer's norm, or the final one, of x.
        const float *next_norm = l + 1 < L ? mb->w.layers[l + 1].norm : mb->w.norm_f;
        be->add_rmsnorm_forward(dec->x, x->norm, x->rstd, dec->x, dec->mix, next_norm, B, d,
                                MAMBA_NORM_EPS);
    }
    be->linear_forward(ds->logits, V, x->norm, d, mb->w.embedding, NULL, B, d, V, 0);
}

// B sequences of n tokens as one forward of (B, n) (the chunked scan), from
// each sequence's states, which the call advances: each layer's SSM state
// becomes the scan's final state, and its conv state the last d_conv inputs
// of x. A single token per sequence takes the step ops instead.
static void mamba_decode_ops(Model *m, DecodeState *ds, int B, int n) {
    if (n == 1) {
        decode_one_token(m, ds, B);
        return;
    }
    Mamba *mb = mamba_of(m);
    MambaDecode *dec = ds->impl;
    const Backend *be = m->be;
    const int d = mb->d, di = mb->di, V = m->spec.vocab_size, N = B * n;
    be->embedding_forward(dec->x, dec->tokens, mb->w.embedding, NULL, B, n, d);
    MambaLayerActs x = dec->acts;
    x.res_out = dec->x;  // each layer adds its mixer to the stream in place
    for (int l = 0; l < m->spec.n_layer; l++) {
        float *conv_state = dec->conv_state + (size_t)l * ds->capacity * di * mb->K;
        float *ssm_state = dec->ssm_state + (size_t)l * ds->capacity * di * mb->S;
        layer_forward(m, &mb->w.layers[l], &x, dec->x, dec->mix, B, n, conv_state, ssm_state);
        be->conv1d_state_from_sequence(conv_state, x.xz, 2 * di, B, n, di, mb->K);
    }
    be->rmsnorm_forward(x.norm, x.rstd, dec->x, mb->w.norm_f, N, d, MAMBA_NORM_EPS);
    be->linear_forward(ds->logits, V, x.norm + (size_t)(n - 1) * d, n * d, mb->w.embedding, NULL,
                       B, d, V, 0);  // tied head
}

// ================================================================ lifetime

static void mamba_destroy(Model *m) {
    Mamba *mb = mamba_of(m);
    if (!mb) return;
    free(mb->w.layers);
    free(mb->g.layers);
    free(mb);
    m->param_views = NULL;
}

const ModelVtbl mamba_vtbl = MODEL_VTBL(mamba);

