// gpt2.c: GPT-2 exactly as Hugging Face's GPT2LMHeadModel computes it.
//
//   x = wte[tokens] + wpe[positions]
//   for each layer:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
//     attn: qkv = c_attn(x) (fused, (C, 3C)), causal multi-head softmax
//           attention, then c_proj (C, C)
//     mlp:  c_proj(gelu_new(c_fc(x))), c_fc (C, 4C), c_proj (4C, C)
//   logits = ln_f(x) @ wte^T   (the LM head is tied to the token embedding)
// LayerNorm eps 1e-5, no dropout. The weights have Hugging Face's names and
// layouts: c_attn, c_proj and c_fc are Conv1D, stored (in, out).
//
// All math goes through the Backend ops, so this file runs unchanged on the
// CPU and on CUDA. The weights are read through GPT2 (named views into
// m->params, made once by create); activations through GPT2Activations
// (named views into a ModelActivations arena), allocated once, in
// alloc_activations, for the largest (B, T): the training step allocates
// nothing.
//
// Parameters: V*C + T*C + L*(12*C^2 + 13*C) + 2*C (the head tied); the named
// configs use head dim 32 and 64, the sizes GPT-2 itself uses:
//   gpt2-6m   d_model 256,  7 layers,  8 heads, context 256   5,856,512 at V = 1024
//   gpt2-60m  d_model 640, 12 layers, 10 heads, context 256  59,902,720
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/common.h"
#include "model.h"

#define GPT2_LN_EPS 1e-5f
#define GPT2_INIT_STD 0.02f

// ================================================================ parameters

// Pointers to one layer's tensors, into params or into grads.
typedef struct {
    float *ln1_w, *ln1_b;          // (C)
    float *qkv_w, *qkv_b;          // (C, 3C), (3C)   attn.c_attn
    float *attproj_w, *attproj_b;  // (C, C), (C)     attn.c_proj
    float *ln2_w, *ln2_b;          // (C)
    float *fc_w, *fc_b;            // (C, 4C), (4C)   mlp.c_fc
    float *fcproj_w, *fcproj_b;    // (4C, C), (C)    mlp.c_proj
} GPT2Layer;

typedef struct {
    float *wte;            // (V, C)
    float *wpe;            // (maxT, C)
    GPT2Layer *layers;     // (L)
    float *lnf_w, *lnf_b;  // (C)
} GPT2Weights;

// GPT-2's parameters by name (m->param_views): the weights and, in the same
// layout, their gradients.
typedef struct {
    GPT2Weights w, g;
} GPT2;

static GPT2 *gpt2_of(const Model *m) { return (GPT2 *)m->param_views; }

// ================================================================ activations

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd;  // (B,T,C), (B,T), (B,T)
    float *qkv;                        // (B,T,3C)
    float *atty;                       // (B,T,C)   attention output before c_proj
    float *att;                        // (B,NH,T,T) softmax probabilities
    float *res2;                       // (B,T,C)   x + attn(ln_1(x))
    float *ln2, *ln2_mean, *ln2_rstd;  // (B,T,C), (B,T), (B,T)
    float *fch, *fch_gelu;             // (B,T,4C)
    float *res3;                       // (B,T,C)   the layer's output
} GPT2LayerActs;

// One set of training activations (ModelActivations.views), for its
// capacity (B, T).
typedef struct {
    int32_t *tokens, *targets;         // (B,T) backend copies
    float *encoded;                    // (B,T,C)
    float *lnf, *lnf_mean, *lnf_rstd;  // (B,T,C), (B,T), (B,T)
    float *dlogits;                    // (B,T,V)
    float *losses;                     // (B,T)
    float *proj_out;                   // (B,T,C) c_proj outputs before the residual add
    // Activation gradients (written by the backward, reused by every layer).
    float *dres;                       // (B,T,C) the residual stream's gradient
    float *dln;                        // (B,T,C)
    float *dqkv;                       // (B,T,3C)
    float *datty;                      // (B,T,C)
    float *dfch, *dfch_gelu;           // (B,T,4C)
    float *att_scratch;                // (B,NH,T,T)
    int cur_B, cur_T;                  // shape of the last forward
    int have_targets;
    GPT2LayerActs layers[];            // (L)
} GPT2Activations;

// ================================================================ decode state

// A DecodeState's views (models/decode.c), for S = capacity sequences and
// R = S * chunk rows, one call's tokens row-major by sequence.
typedef struct {
    float *k_cache, *v_cache;  // (L, S, maxT, C) each: k and v rows as qkv holds them
    // (3R) the call's tokens (B*n) at 0, their positions (B*n) at R, and
    // each sequence's first position (B) at 2R, so that the ops read fixed
    // addresses whatever B and n are.
    int32_t *io;
    int32_t *host_io;          // (3R) host staging for io, in the same allocation as this struct
    float *x, *ln, *mean, *rstd, *qkv, *atty, *proj;  // (R, C), (R), (R), (R, 3C), ...
    float *fch, *fch_gelu, *pos_emb;                  // (R, 4C), (R, 4C), (R, C)
} GPT2Decode;

// ================================================================ tensor table

static const char *layer_tensor_names[] = {
    "ln_1.weight",        "ln_1.bias",        "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",        "ln_2.bias",
    "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias",
};
enum { LAYER_TENSORS = 12 };

static void layer_tensor_shape(const ModelSpec *s, int idx, int *ndim, int64_t shape[2]) {
    int64_t C = s->d_model;
    static const int64_t rows[LAYER_TENSORS] = {0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 0};
    static const int64_t cols[LAYER_TENSORS] = {1, 1, 3, 3, 1, 1, 1, 1, 4, 4, 1, 1};
    if (rows[idx]) {
        *ndim = 2, shape[0] = rows[idx] * C, shape[1] = cols[idx] * C;
    } else {
        *ndim = 1, shape[0] = cols[idx] * C;
    }
}

// Points w at the tensors inside base (params or grads), by the table's offsets.
static void gpt2_point_weights(Model *m, GPT2Weights *w, float *base) {
    char name[96];
#define AT(nm) (base + model_find_tensor(m, nm)->offset)
    w->wte = AT("transformer.wte.weight");
    w->wpe = AT("transformer.wpe.weight");
    w->lnf_w = AT("transformer.ln_f.weight");
    w->lnf_b = AT("transformer.ln_f.bias");
    for (int l = 0; l < m->spec.n_layer; l++) {
        float *p[LAYER_TENSORS];
        for (int k = 0; k < LAYER_TENSORS; k++) {
            snprintf(name, sizeof name, "transformer.h.%d.%s", l, layer_tensor_names[k]);
            p[k] = AT(name);
        }
        w->layers[l] = (GPT2Layer){p[0], p[1], p[2], p[3], p[4], p[5],
                                   p[6], p[7], p[8], p[9], p[10], p[11]};
    }
#undef AT
}

static int gpt2_create(Model *m) {
    const ModelSpec *s = &m->spec;
    if (s->vocab_size <= 0 || s->d_model <= 0 || s->n_layer <= 0 || s->n_head <= 0 ||
        s->max_seq_len <= 0)
        return tb_error("gpt2 config '%s': vocab_size, n_embd, n_layer, n_head and n_positions "
                        "must all be positive", s->name);
    if (s->d_model % s->n_head != 0)
        return tb_error("gpt2 config '%s': n_embd %d is not divisible by n_head %d", s->name,
                        s->d_model, s->n_head);
    int64_t C = s->d_model;
    int64_t shape[2];
    int ndim;
    char name[96];
    shape[0] = s->vocab_size, shape[1] = C;
    model_add_tensor(m, "transformer.wte.weight", 2, shape, 1);
    shape[0] = s->max_seq_len;
    model_add_tensor(m, "transformer.wpe.weight", 2, shape, 1);
    for (int l = 0; l < s->n_layer; l++) {
        for (int k = 0; k < LAYER_TENSORS; k++) {
            snprintf(name, sizeof name, "transformer.h.%d.%s", l, layer_tensor_names[k]);
            layer_tensor_shape(s, k, &ndim, shape);
            model_add_tensor(m, name, ndim, shape, ndim == 2);  // decay 2-D weights only
        }
    }
    shape[0] = C;
    model_add_tensor(m, "transformer.ln_f.weight", 1, shape, 0);
    model_add_tensor(m, "transformer.ln_f.bias", 1, shape, 0);
    if (model_alloc_params(m)) return -1;

    GPT2 *g = tb_calloc(1, sizeof *g);
    g->w.layers = tb_calloc((size_t)s->n_layer, sizeof(GPT2Layer));
    g->g.layers = tb_calloc((size_t)s->n_layer, sizeof(GPT2Layer));
    m->param_views = g;
    gpt2_point_weights(m, &g->w, m->params.values);
    gpt2_point_weights(m, &g->g, m->params.grads);
    return 0;
}

// GPT-2's initialisation, as HF's GPT2PreTrainedModel._init_weights: weights
// and embeddings N(0, 0.02), the residual projections (attn.c_proj and
// mlp.c_proj) N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm weight 1.
// Tensors are drawn in table order from one generator.
static void gpt2_init_weights(Model *m, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    const ModelParams *params = &m->params;
    float *host = tb_malloc(params->num_params * sizeof(float));
    float proj_std = GPT2_INIT_STD / sqrtf(2.0f * (float)m->spec.n_layer);
    for (int i = 0; i < params->num_tensors; i++) {
        const ParamTensor *t = &params->tensors[i];
        float *p = host + t->offset;
        if (t->ndim == 2) {
            float std = tb_ends_with(t->name, "c_proj.weight") ? proj_std : GPT2_INIT_STD;
            for (size_t j = 0; j < t->numel; j++) p[j] = std * rng_normal(&rng);
        } else {
            float value = strstr(t->name, "ln_") && tb_ends_with(t->name, ".weight") ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) p[j] = value;
        }
    }
    m->be->to_device(params->values, host, params->num_params * sizeof(float));
    free(host);
}

// ================================================================ training buffers

static void gpt2_layout_activations(const Model *m, ModelActivations *set, Arena *a) {
    GPT2Activations *acts = set->views;
    size_t C = m->spec.d_model, V = m->spec.vocab_size, NH = m->spec.n_head;
    size_t BT = (size_t)set->B * set->T, att = (size_t)set->B * NH * set->T * set->T;
    acts->tokens = (int32_t *)arena_take(a, BT);
    acts->targets = (int32_t *)arena_take(a, BT);
    acts->encoded = arena_take(a, BT * C);
    for (int l = 0; l < m->spec.n_layer; l++) {
        GPT2LayerActs *x = &acts->layers[l];
        x->ln1 = arena_take(a, BT * C);
        x->ln1_mean = arena_take(a, BT);
        x->ln1_rstd = arena_take(a, BT);
        x->qkv = arena_take(a, BT * 3 * C);
        x->atty = arena_take(a, BT * C);
        x->att = arena_take(a, att);
        x->res2 = arena_take(a, BT * C);
        x->ln2 = arena_take(a, BT * C);
        x->ln2_mean = arena_take(a, BT);
        x->ln2_rstd = arena_take(a, BT);
        x->fch = arena_take(a, BT * 4 * C);
        x->fch_gelu = arena_take(a, BT * 4 * C);
        x->res3 = arena_take(a, BT * C);
    }
    acts->lnf = arena_take(a, BT * C);
    acts->lnf_mean = arena_take(a, BT);
    acts->lnf_rstd = arena_take(a, BT);
    set->logits = arena_take(a, BT * V);
    acts->dlogits = arena_take(a, BT * V);
    acts->losses = arena_take(a, BT);
    acts->proj_out = arena_take(a, BT * C);
    acts->dres = arena_take(a, BT * C);
    acts->dln = arena_take(a, BT * C);
    acts->dqkv = arena_take(a, BT * 3 * C);
    acts->datty = arena_take(a, BT * C);
    acts->dfch = arena_take(a, BT * 4 * C);
    acts->dfch_gelu = arena_take(a, BT * 4 * C);
    acts->att_scratch = arena_take(a, att);
}

static int gpt2_activations_alloc(Model *m, ModelActivations *set) {
    size_t layers = (size_t)m->spec.n_layer * sizeof(GPT2LayerActs);
    set->views = tb_calloc(1, sizeof(GPT2Activations) + layers);
    Arena a = {0};
    gpt2_layout_activations(m, set, &a);  // count
    set->arena_bytes = a.used;
    set->arena = m->be->alloc(a.used);
    a = (Arena){.base = set->arena};
    gpt2_layout_activations(m, set, &a);  // assign
    const size_t BT = (size_t)set->B * set->T, C = m->spec.d_model;
    model_reserve_workspace(m, BT, 4 * C, 0, BT * C);
    return 0;
}

// ================================================================ forward

// inputs, targets (B, T) host. Leaves logits (B,T,V) in m->acts->logits; with
// targets also the per-position losses, their mean, and dlogits for the
// backward (the fused cross-entropy computes both in one pass).
static void gpt2_forward(Model *m, const int32_t *inputs, const int32_t *targets, int B, int T) {
    const GPT2 *g = gpt2_of(m);
    GPT2Activations *acts = model_require_activations(m, B, T);
    const Backend *be = m->be;
    const int C = m->spec.d_model, V = m->spec.vocab_size, NH = m->spec.n_head;
    const int N = B * T;
    model_check_tokens(m, inputs, (size_t)N, 0, "inputs");
    be->to_device(acts->tokens, inputs, (size_t)N * sizeof(int32_t));
    acts->cur_B = B, acts->cur_T = T;

    be->embedding_forward(acts->encoded, acts->tokens, g->w.wte, g->w.wpe, B, T, C);
    const float *x = acts->encoded;  // (B,T,C) the residual stream entering the layer
    for (int l = 0; l < m->spec.n_layer; l++) {
        const GPT2Layer *w = &g->w.layers[l];
        GPT2LayerActs *a = &acts->layers[l];
        be->layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, w->ln1_w, w->ln1_b, N, C,
                              GPT2_LN_EPS);
        be->linear_forward(a->qkv, 3 * C, a->ln1, C, w->qkv_w, w->qkv_b, N, C, 3 * C, 1);
        be->attention_forward(a->atty, a->att, a->qkv, B, T, C, NH);
        be->linear_forward(acts->proj_out, C, a->atty, C, w->attproj_w, w->attproj_b, N, C, C, 1);
        be->add(a->res2, x, acts->proj_out, (size_t)N * C);
        be->layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, w->ln2_w, w->ln2_b, N,
                              C, GPT2_LN_EPS);
        be->linear_forward(a->fch, 4 * C, a->ln2, C, w->fc_w, w->fc_b, N, C, 4 * C, 1);
        be->gelu_forward(a->fch_gelu, a->fch, (size_t)N * 4 * C);
        be->linear_forward(acts->proj_out, C, a->fch_gelu, 4 * C, w->fcproj_w, w->fcproj_b, N, 4 * C, C, 1);
        be->add(a->res3, a->res2, acts->proj_out, (size_t)N * C);
        x = a->res3;
    }
    be->layernorm_forward(acts->lnf, acts->lnf_mean, acts->lnf_rstd, x, g->w.lnf_w, g->w.lnf_b, N, C,
                          GPT2_LN_EPS);
    be->linear_forward(m->acts->logits, V, acts->lnf, C, g->w.wte, NULL, N, C, V, 0);  // tied head

    acts->have_targets = targets != NULL;
    if (targets) model_cross_entropy(m, targets, acts->targets, acts->losses, acts->dlogits, N);
}

// ================================================================ backward

// Accumulates d(mean loss)/d(params) into m->params.grads. Activation
// gradients are written; dres carries the residual stream's gradient down
// the layers.
static void gpt2_backward(Model *m) {
    const GPT2 *g = gpt2_of(m);
    const GPT2Activations *acts = model_activation_views(m);
    const Backend *be = m->be;
    const int C = m->spec.d_model, V = m->spec.vocab_size, NH = m->spec.n_head, L = m->spec.n_layer;
    if (!acts || !acts->have_targets)
        tb_die("gpt2 '%s': backward called without a forward with targets", m->spec.name);
    const int B = acts->cur_B, T = acts->cur_T, N = B * T;

    be->zero(acts->dres, (size_t)N * C * sizeof(float));
    be->linear_backward(acts->dln, C, g->g.wte, NULL, acts->dlogits, V, acts->lnf, C, g->w.wte, N, C, V, 0);
    const float *x_last = L > 0 ? acts->layers[L - 1].res3 : acts->encoded;
    be->layernorm_backward(acts->dres, g->g.lnf_w, g->g.lnf_b, acts->dln, x_last, g->w.lnf_w,
                           acts->lnf_mean, acts->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const GPT2Layer *w = &g->w.layers[l];
        GPT2Layer *dw = &g->g.layers[l];
        const GPT2LayerActs *a = &acts->layers[l];
        const float *x_in = l > 0 ? acts->layers[l - 1].res3 : acts->encoded;
        // mlp: res3 = res2 + c_proj(gelu(c_fc(ln_2(res2))))
        be->linear_backward(acts->dfch_gelu, 4 * C, dw->fcproj_w, dw->fcproj_b, acts->dres, C, a->fch_gelu, 4 * C, w->fcproj_w, N, 4 * C, C, 1);
        be->gelu_backward(acts->dfch, a->fch, acts->dfch_gelu, (size_t)N * 4 * C);
        be->linear_backward(acts->dln, C, dw->fc_w, dw->fc_b, acts->dfch, 4 * C, a->ln2, C, w->fc_w, N, C, 4 * C, 1);
        be->layernorm_backward(acts->dres, dw->ln2_w, dw->ln2_b, acts->dln, a->res2, w->ln2_w,
                               a->ln2_mean, a->ln2_rstd, N, C);
        // attention: res2 = x_in + c_proj(attn(c_attn(ln_1(x_in))))
        be->linear_backward(acts->datty, C, dw->attproj_w, dw->attproj_b, acts->dres, C, a->atty, C, w->attproj_w, N, C, C, 1);
        be->attention_backward(acts->dqkv, acts->att_scratch, acts->datty, a->qkv, a->att, B, T, C, NH);
        be->linear_backward(acts->dln, C, dw->qkv_w, dw->qkv_b, acts->dqkv, 3 * C, a->ln1, C, w->qkv_w, N, C, 3 * C, 1);
        be->layernorm_backward(acts->dres, dw->ln1_w, dw->ln1_b, acts->dln, x_in, w->ln1_w,
                               a->ln1_mean, a->ln1_rstd, N, C);
        model_grads_final(m, 2 + l * LAYER_TENSORS);  // layer l onwards (after wte and wpe)
    }
    be->embedding_backward(g->g.wte, g->g.wpe, acts->dres, acts->tokens, B, T, C);
}

// ================================================================ inference

static void gpt2_layout_decode(Model *m, DecodeState *ds, GPT2Decode *d, Arena *a) {
    size_t C = m->spec.d_model, L = m->spec.n_layer, maxT = m->spec.max_seq_len;
    size_t S = ds->capacity, R = S * ds->chunk;
    d->k_cache = arena_take(a, L * S * maxT * C);
    d->v_cache = arena_take(a, L * S * maxT * C);
    d->io = (int32_t *)arena_take(a, 3 * R);
    d->pos_emb = arena_take(a, R * C);
    d->x = arena_take(a, R * C);
    d->ln = arena_take(a, R * C);
    d->mean = arena_take(a, R);
    d->rstd = arena_take(a, R);
    d->qkv = arena_take(a, R * 3 * C);
    d->atty = arena_take(a, R * C);
    d->proj = arena_take(a, R * C);
    d->fch = arena_take(a, R * 4 * C);
    d->fch_gelu = arena_take(a, R * 4 * C);
    ds->logits = arena_take(a, S * m->spec.vocab_size);
}

static int gpt2_decode_alloc(Model *m, DecodeState *ds) {
    size_t C = m->spec.d_model, R = (size_t)ds->capacity * ds->chunk;
    GPT2Decode *d = tb_calloc(1, sizeof *d + 3 * R * sizeof(int32_t));
    d->host_io = (int32_t *)(d + 1);
    ds->impl = d;
    Arena a = {0};
    gpt2_layout_decode(m, ds, d, &a);  // count
    ds->arena = m->be->alloc(a.used);
    a = (Arena){.base = ds->arena};
    gpt2_layout_decode(m, ds, d, &a);  // assign
    // The caches hold a sequence's rows up to its position: a reset leaves
    // them, a move copies the rows in use.
    for (int k = 0; k < 2; k++)
        ds->state[k] = (DecodeStateTensor){k ? d->v_cache : d->k_cache,
                                           (size_t)m->spec.max_seq_len * C, m->spec.n_layer, C};
    ds->num_state = 2;
    model_reserve_workspace(m, R, 4 * C, 0, 0);
    return 0;
}

// Sequence b's n tokens sit at positions pos[b] .. pos[b] + n - 1.
static void gpt2_decode_load(Model *m, DecodeState *ds, const int32_t *tokens, int B, int n) {
    GPT2Decode *d = ds->impl;
    const size_t R = (size_t)ds->capacity * ds->chunk, N = (size_t)B * n;
    int32_t *h = d->host_io;
    memcpy(h, tokens, N * sizeof *h);
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < n; i++) h[R + (size_t)b * n + i] = ds->pos[b] + i;
        h[2 * R + b] = ds->pos[b];
    }
    // The three parts in one copy (the gaps go along unused).
    m->be->to_device(d->io, h, (2 * R + (size_t)B) * sizeof *h);
}

// B sequences of n tokens: every layer's GEMMs over the B*n rows at once;
// attention_decode puts each sequence's new k and v into its cache and
// attends over what is there, so a call may start sequences or continue
// them. The LM head reads each sequence's last row (row stride n*C).
static void gpt2_decode_ops(Model *m, DecodeState *ds, int B, int n) {
    GPT2 *g = gpt2_of(m);
    GPT2Decode *d = ds->impl;
    const Backend *be = m->be;
    const int C = m->spec.d_model, NH = m->spec.n_head, maxT = m->spec.max_seq_len;
    const int V = m->spec.vocab_size, N = B * n;
    const size_t R = (size_t)ds->capacity * ds->chunk;
    const size_t layer_cache = (size_t)ds->capacity * maxT * C;
    // x = wte[token] + wpe[position]: the positions are looked up like tokens.
    be->embedding_forward(d->x, d->io, g->w.wte, NULL, 1, N, C);
    be->embedding_forward(d->pos_emb, d->io + R, g->w.wpe, NULL, 1, N, C);
    be->add(d->x, d->x, d->pos_emb, (size_t)N * C);
    for (int l = 0; l < m->spec.n_layer; l++) {
        const GPT2Layer *w = &g->w.layers[l];
        be->layernorm_forward(d->ln, d->mean, d->rstd, d->x, w->ln1_w, w->ln1_b, N, C,
                              GPT2_LN_EPS);
        be->linear_forward(d->qkv, 3 * C, d->ln, C, w->qkv_w, w->qkv_b, N, C, 3 * C, 1);
        be->attention_decode(d->atty, d->k_cache + l * layer_cache, d->v_cache + l * layer_cache,
                             d->qkv, d->io + 2 * R, B, n, maxT, C, NH);
        be->linear_forward(d->proj, C, d->atty, C, w->attproj_w, w->attproj_b, N, C, C, 1);
        be->add(d->x, d->x, d->proj, (size_t)N * C);
        be->layernorm_forward(d->ln, d->mean, d->rstd, d->x, w->ln2_w, w->ln2_b, N, C,
                              GPT2_LN_EPS);
        be->linear_forward(d->fch, 4 * C, d->ln, C, w->fc_w, w->fc_b, N, C, 4 * C, 1);
        be->gelu_forward(d->fch_gelu, d->fch, (size_t)N * 4 * C);
        be->linear_forward(d->proj, C, d->fch_gelu, 4 * C, w->fcproj_w, w->fcproj_b, N, 4 * C, C,
                           1);
        be->add(d->x, d->x, d->proj, (size_t)N * C);
    }
    be->layernorm_forward(d->ln, d->mean, d->rstd, d->x, g->w.lnf_w, g->w.lnf_b, N, C,
                          GPT2_LN_EPS);
    be->linear_forward(ds->logits, V, d->ln + (size_t)(n - 1) * C, n * C, g->w.wte, NULL, B, C,
                       V, 0);  // tied head
}

// ================================================================ config and lifetime

// GPT2Config fields, so that transformers' GPT2LMHeadModel.from_pretrained
// builds the same model: no dropout, tied head, gelu_new, eps 1e-5.
static cJSON *gpt2_config_json(const Model *m) {
    const ModelSpec *s = &m->spec;
    cJSON *c = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(c, "model_type", "gpt2");
    cJSON_AddNumberToObject(c, "vocab_size", s->vocab_size);
    cJSON_AddNumberToObject(c, "n_positions", s->max_seq_len);
    cJSON_AddNumberToObject(c, "n_ctx", s->max_seq_len);
    cJSON_AddNumberToObject(c, "n_embd", s->d_model);
    cJSON_AddNumberToObject(c, "n_layer", s->n_layer);
    cJSON_AddNumberToObject(c, "n_head", s->n_head);
    cJSON_AddNullToObject(c, "n_inner");  // 4 * n_embd
    cJSON_AddStringToObject(c, "activation_function", "gelu_new");
    cJSON_AddNumberToObject(c, "layer_norm_epsilon", 1e-5);
    cJSON_AddNumberToObject(c, "initializer_range", 0.02);
    cJSON_AddNumberToObject(c, "resid_pdrop", 0.0);
    cJSON_AddNumberToObject(c, "embd_pdrop", 0.0);
    cJSON_AddNumberToObject(c, "attn_pdrop", 0.0);
    cJSON_AddBoolToObject(c, "scale_attn_weights", 1);
    cJSON_AddBoolToObject(c, "scale_attn_by_inverse_layer_idx", 0);
    cJSON_AddBoolToObject(c, "reorder_and_upcast_attn", 0);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", 1);
    cJSON_AddBoolToObject(c, "use_cache", 1);
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    return c;
}

static void gpt2_destroy(Model *m) {
    GPT2 *g = gpt2_of(m);
    if (!g) return;
    free(g->w.layers);
    free(g->g.layers);
    free(g);
    m->param_views = NULL;
}

const ModelVtbl gpt2_vtbl = MODEL_VTBL(gpt2);

// ================================================================ the registry entry

static const ModelSpec gpt2_configs[] = {
    {.name = "gpt2-6m", .d_model = 256, .n_layer = 7, .n_head = 8, .max_seq_len = 256},
    {.name = "gpt2-60m", .d_model = 640, .n_layer = 12, .n_head = 10, .max_seq_len = 256},
    {.name = "tiny-gpt2", .d_model = 32, .n_layer = 2, .n_head = 4, .max_seq_len = 16},
};

static int gpt2_claims_config(const cJSON *c) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    return cJSON_IsString(type) && tb_streq(type->valuestring, "gpt2");
}

// A GPT2Config; refuses one that asks for a model tunebench does not compute.
static int gpt2_spec_from_config(ModelSpec *s, const cJSON *c, const char *path) {
    if (model_config_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        model_config_int(c, "n_positions", &s->max_seq_len, 0, 0, path) ||
        model_config_int(c, "n_embd", &s->d_model, 0, 0, path) ||
        model_config_int(c, "n_layer", &s->n_layer, 0, 0, path) ||
        model_config_int(c, "n_head", &s->n_head, 0, 0, path))
        return -1;
    if (s->d_model % s->n_head != 0)
        return tb_error("%s: n_embd %d is not divisible by n_head %d", path, s->d_model, s->n_head);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "activation_function");
    if (act && (!cJSON_IsString(act) || !tb_streq(act->valuestring, "gelu_new")))
        return tb_error("%s: activation_function must be \"gelu_new\" (tanh GELU), the only one "
                        "tunebench implements", path);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(c, "layer_norm_epsilon");
    if (eps && (!cJSON_IsNumber(eps) || fabs(eps->valuedouble - 1e-5) > 1e-12))
        return tb_error("%s: layer_norm_epsilon must be 1e-05, the value tunebench implements",
                        path);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings");
    if (tie && cJSON_IsFalse(tie))
        return tb_error("%s: tie_word_embeddings is false; tunebench's GPT-2 ties the LM head "
                        "to the token embedding", path);
    return 0;
}

// The context is n_positions: the "tunebench" object may not contradict it.
static int gpt2_read_extras(ModelSpec *s, const cJSON *c, const cJSON *extras, const char *path) {
    (void)extras;
    const cJSON *np = cJSON_GetObjectItemCaseSensitive(c, "n_positions");
    if (cJSON_IsNumber(np) && (int)np->valuedouble != s->max_seq_len)
        return tb_error("%s: tunebench.max_seq_len %d differs from n_positions %d", path,
                        s->max_seq_len, (int)np->valuedouble);
    return 0;
}

// The usual accounting: 6 per parameter (2 forward, 4 backward), and for
// attention 6 * L * C * T: QK^T and PV cost 2 * 2 * T * C per token per layer
// forward at full context, causal halves it, the backward doubles the
// forward. N counts every parameter, wpe included (a gather, 0.1% of N here).
static double gpt2_flops_per_token(const ModelSpec *s, size_t num_params, int T, char *formula,
                                   size_t cap) {
    snprintf(formula, cap, "6*N + 6*L*C*T (N = %zu all parameters, L = %d, C = %d, T = %d)",
             num_params, s->n_layer, s->d_model, T);
    return 6.0 * (double)num_params + 6.0 * s->n_layer * (double)s->d_model * T;
}

static void gpt2_describe(const ModelSpec *s, char *out, size_t cap) {
    snprintf(out, cap, "%d heads", s->n_head);
}

// The softmax probabilities the backward needs: (B, NH, T, T) per layer.
static void gpt2_memory_facts(const ModelSpec *s, int B, int T, cJSON *memory) {
    double bytes = (double)s->n_layer * B * s->n_head * T * T * sizeof(float);
    cJSON_AddNumberToObject(memory, "attention_probs_bytes", bytes);
}

const ModelArch gpt2_arch = {
    .name = "gpt2",
    .title = "GPT-2",
    .vtbl = &gpt2_vtbl,
    .configs = gpt2_configs,
    .num_configs = (int)(sizeof gpt2_configs / sizeof gpt2_configs[0]),
    .context_bounded = 1,
    .embedding_tensor = "transformer.wte.weight",
    .claims_config = gpt2_claims_config,
    .config_kind = "a GPT2Config with model_type \"gpt2\"",
    .spec_from_config = gpt2_spec_from_config,
    .read_extras = gpt2_read_extras,
    .flops_per_token = gpt2_flops_per_token,
    .describe = gpt2_describe,
    .memory_facts = gpt2_memory_facts,
};
