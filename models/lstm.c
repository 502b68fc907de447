// lstm.c: a stacked-LSTM language model, as PyTorch builds it from
// torch.nn.Embedding, torch.nn.LSTM and a tied output layer:
//
//   x       = embedding[tokens]                                    (B, T, H)
//   h       = nn.LSTM(H, H, num_layers=L, batch_first=True)(x)      zero initial state
//   logits  = h @ embedding^T                                      (the LM head is tied)
//
// Each layer: a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh, gates in
// nn.LSTM's order (i, f, g, o), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).
//
// The choices, and why:
// - Width: the embedding, every layer's hidden state and the LM head share
//   one width H = d_model, so the head can be tied to the embedding (as
//   GPT-2's and Mamba's are, and as Press & Wolf 2017 do for LSTMs). ModelSpec
//   has one width, so an untied head (hidden != d_model) is not offered.
// - No final norm. Transformers and Mamba normalise a residual stream whose
//   scale grows with depth; an LSTM's output h = o * tanh(c) is already
//   bounded in (-1, 1) per unit, so the head sees a controlled scale without
//   one, and the model stays exactly Embedding + nn.LSTM + tied Linear
//   (nothing to add when rebuilding it in PyTorch). folk-rnn has none either.
// - No dropout (neither do the other two models here).
// - Training runs on independent sequences of T tokens from a zero state, as
//   the other two models do: back-propagation through time is truncated at T.
// - Initialisation (init_weights): nn.LSTM's own, U(+-1/sqrt(H)) for every
//   weight and bias, except that the forget gate's slice of bias_ih gets +1
//   (Gers et al. 2000; Jozefowicz et al. 2015: cells remember by default, the
//   usual fix for slow starts on long dependencies); the embedding N(0, 0.02)
//   like the other two models, which with the tied head keeps the first
//   logits near zero (initial loss ln V).
// - Weight decay on the three kinds of matrix (embedding, W_ih, W_hh), none
//   on the biases.
//
// Checkpoint names are nn.LSTM's under the prefix "lstm." (lstm.weight_ih_l0,
// lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0, ...), plus
// "embedding.weight"; config.json says how to rebuild the model in PyTorch.
//
// Parameters: V*H + L*(8*H^2 + 8*H), the head tied: W_ih and W_hh (4H, H)
// each, bias_ih and bias_hh (4H) each. Three layers, as folk-rnn; H a
// multiple of 32, chosen to match GPT-2's counts:
//   lstm-6m   hidden 480,  3 layers   6,032,640 at V = 1024 (+3.0% against gpt2-6m)
//   lstm-60m  hidden 1536, 3 layers  58,232,832             (-2.8% against gpt2-60m)
//
// All math goes through the Backend ops: per layer one GEMM for the input
// gates of every step (linear_forward) and one lstm_forward for the T steps
// of the recurrence, so a training step makes O(layers) backend calls
// whatever B and T are. Decode is O(1) per token from the (h, c) state.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/common.h"
#include "model.h"

#define LSTM_EMBED_STD 0.02f
#define LSTM_FORGET_BIAS 1.0f

// ================================================================ parameters

// One layer's tensors, into params or into grads, in nn.LSTM's order.
typedef struct {
    float *w_ih;  // (4H, H)
    float *w_hh;  // (4H, H)
    float *b_ih;  // (4H)
    float *b_hh;  // (4H)
} LstmLayer;

typedef struct {
    float *embedding;  // (V, H), also the LM head
    LstmLayer *layers; // (L)
} LstmWeights;

// The LSTM's width and its parameters by name (m->param_views): the weights
// and, in the same layout, their gradients.
typedef struct {
    int H;
    LstmWeights w, g;
} Lstm;

static Lstm *lstm_of(const Model *m) { return (Lstm *)m->param_views; }

static const char *layer_tensor_names[] = {"weight_ih_l%d", "weight_hh_l%d", "bias_ih_l%d",
                                           "bias_hh_l%d"};
enum { LAYER_TENSORS = 4 };
#define LSTM_PREFIX "lstm."
#define LSTM_EMBEDDING "embedding.weight"

// ================================================================ activations

// What one layer keeps for its backward. N = B*T rows.
typedef struct {
    float *gates;   // (N, 4H) input gates, then the activated [i | f | g | o]
    float *h;       // (N, H)  h_t: the layer's output, the next layer's input
    float *h_prev;  // (N, H)  h_{t-1}
    float *c;       // (N, H)  c_t
    float *scratch; // the op's (lstm_scratch_floats), shared by the layers
} LstmLayerActs;

// One set of training activations (ModelActivations.views), for its
// capacity (B, T).
typedef struct {
    int32_t *tokens, *targets;  // (B, T)
    float *encoded;             // (N, H)
    float *dlogits, *losses;    // (N, V), (N)
    float *dh, *dx;             // (N, H) a layer's output gradient and its input gradient
    float *dgates;              // (N, 4H)
    float *scratch;             // lstm_scratch_floats(B, T)
    int cur_B, cur_T, have_targets;
    LstmLayerActs layers[];     // (L)
} LstmActivations;

// A DecodeState's views (models/decode.c), for S = capacity sequences and
// R = S * chunk rows, one call's tokens row-major by sequence.
typedef struct {
    float *h_state, *c_state;  // (L, S, H) each
    int32_t *tokens;           // (R)
    float *x[2];               // (R, H) a layer's input and output, alternating
    LstmLayerActs acts;        // one layer's buffers for R rows (its h is x[])
} LstmDecode;

// ================================================================ tensor table

static void layer_tensor_name(char *out, size_t cap, int k, int l) {
    char part[64];
    snprintf(part, sizeof part, layer_tensor_names[k], l);
    snprintf(out, cap, LSTM_PREFIX "%s", part);
}

static void lstm_point_weights(Model *m, LstmWeights *w, float *base) {
    char name[96];
#define AT(nm) (base + model_find_tensor(m, nm)->offset)
    w->embedding = AT(LSTM_EMBEDDING);
    for (int l = 0; l < m->spec.n_layer; l++) {
        float *p[LAYER_TENSORS];
        for (int k = 0; k < LAYER_TENSORS; k++) {
            layer_tensor_name(name, sizeof name, k, l);
            p[k] = AT(name);
        }
        w->layers[l] = (LstmLayer){p[0], p[1], p[2], p[3]};
    }
#undef AT
}

static int lstm_create(Model *m) {
    const ModelSpec *s = &m->spec;
    if (s->vocab_size <= 0 || s->d_model <= 0 || s->n_layer <= 0 || s->max_seq_len <= 0)
        return tb_error("lstm config '%s': vocab_size, hidden_size, num_layers and max_seq_len "
                        "must all be positive", s->name);
    const int64_t H = s->d_model;
    int64_t shape[2] = {s->vocab_size, H};
    char name[96];
    model_add_tensor(m, LSTM_EMBEDDING, 2, shape, 1);
    for (int l = 0; l < s->n_layer; l++)
        for (int k = 0; k < LAYER_TENSORS; k++) {
            layer_tensor_name(name, sizeof name, k, l);
            int matrix = k < 2;  // weights decay, biases do not
            int64_t sh[2] = {4 * H, H};
            model_add_tensor(m, name, matrix ? 2 : 1, sh, matrix);
        }
    if (model_alloc_params(m)) return -1;

    Lstm *ls = tb_calloc(1, sizeof *ls);
    ls->H = (int)H;
    ls->w.layers = tb_calloc((size_t)s->n_layer, sizeof(LstmLayer));
    ls->g.layers = tb_calloc((size_t)s->n_layer, sizeof(LstmLayer));
    m->param_views = ls;
    lstm_point_weights(m, &ls->w, m->params.values);
    lstm_point_weights(m, &ls->g, m->params.grads);
    return 0;
}

// See the top of the file. Tensors are drawn in table order from one generator.
static void lstm_init_weights(Model *m, uint64_t seed) {
    const int H = lstm_of(m)->H;
    Rng rng;
    rng_seed(&rng, seed);
    const ModelParams *params = &m->params;
    float *host = tb_malloc(params->num_params * sizeof(float));
    const float bound = 1.0f / sqrtf((float)H);
    for (int i = 0; i < params->num_tensors; i++) {
        const ParamTensor *t = &params->tensors[i];
        float *p = host + t->offset;
        if (tb_streq(t->name, LSTM_EMBEDDING)) {
            for (size_t j = 0; j < t->numel; j++) p[j] = LSTM_EMBED_STD * rng_normal(&rng);
            continue;
        }
        for (size_t j = 0; j < t->numel; j++) p[j] = bound * (2.0f * rng_uniform(&rng) - 1.0f);
        if (strstr(t->name, ".bias_ih_l"))
            for (int j = H; j < 2 * H; j++) p[j] += LSTM_FORGET_BIAS;  // the f slice
    }
    m->be->to_device(params->values, host, params->num_params * sizeof(float));
    free(host);
}

// ================================================================ activation buffers

static void layout_layer(Arena *a, LstmLayerActs *x, size_t N, size_t H, int with_h) {
    x->gates = arena_take(a, N * 4 * H);
    x->h = with_h ? arena_take(a, N * H) : NULL;
    x->h_prev = arena_take(a, N * H);
    x->c = arena_take(a, N * H);
}

static void layout_activations(const Model *m, ModelActivations *set, Arena *a) {
    const Lstm *ls = lstm_of(m);
    LstmActivations *acts = set->views;
    size_t N = (size_t)set->B * set->T, H = ls->H, V = m->spec.vocab_size;
    acts->tokens = (int32_t *)arena_take(a, N);
    acts->targets = (int32_t *)arena_take(a, N);
    acts->encoded = arena_take(a, N * H);
    for (int l = 0; l < m->spec.n_layer; l++) layout_layer(a, &acts->layers[l], N, H, 1);
    set->logits = arena_take(a, N * V);
    acts->dlogits = arena_take(a, N * V);
    acts->losses = arena_take(a, N);
    acts->dh = arena_take(a, N * H);
    acts->dx = arena_take(a, N * H);
    acts->dgates = arena_take(a, N * 4 * H);
    LstmParams p = {.batch = set->B, .seqlen = set->T, .hidden = (int)H};
    acts->scratch = arena_take(a, m->be->lstm_scratch_floats(&p));
    for (int l = 0; l < m->spec.n_layer; l++) acts->layers[l].scratch = acts->scratch;
}

static int lstm_activations_alloc(Model *m, ModelActivations *set) {
    const Lstm *ls = lstm_of(m);
    size_t layers = (size_t)m->spec.n_layer * sizeof(LstmLayerActs);
    set->views = tb_calloc(1, sizeof(LstmActivations) + layers);
    Arena a = {0};
    layout_activations(m, set, &a);  // count
    set->arena_bytes = a.used;
    set->arena = m->be->alloc(a.used);
    a = (Arena){.base = set->arena};
    layout_activations(m, set, &a);  // assign
    model_reserve_workspace(m, (size_t)set->B * set->T, 4 * (size_t)ls->H, 0, 0);
    return 0;
}

// ================================================================ forward

// The op's view of one layer's buffers over (B, T).
static LstmParams layer_params(const Lstm *ls, const LstmLayer *w, const LstmLayerActs *x, int B,
                               int T) {
    LstmParams p = {0};
    p.batch = B, p.seqlen = T, p.hidden = ls->H;
    p.gates = x->gates, p.w_hh = w->w_hh, p.b_hh = w->b_hh;
    p.h = x->h, p.h_prev = x->h_prev, p.c = x->c;
    p.scratch = x->scratch;
    return p;
}

// One layer over (B, T): x_in (N, H) -> x->h (N, H), from the state (h0, c0)
// (NULL: zeros), leaving the final state in (hT, cT) when given.
static void layer_forward(const Model *m, const LstmLayer *w, const LstmLayerActs *x,
                          const float *x_in, int B, int T, const float *h0, const float *c0,
                          float *hT, float *cT) {
    const Lstm *ls = lstm_of(m);
    const int H = ls->H;
    m->be->linear_forward(x->gates, 4 * H, x_in, H, w->w_ih, w->b_ih, B * T, H, 4 * H, 0);
    LstmParams p = layer_params(ls, w, x, B, T);
    p.h0 = h0, p.c0 = c0, p.hT = hT, p.cT = cT;
    m->be->lstm_forward(&p);
}

static void lstm_forward(Model *m, const int32_t *inputs, const int32_t *targets, int B, int T) {
    const Lstm *ls = lstm_of(m);
    LstmActivations *acts = model_require_activations(m, B, T);
    const Backend *be = m->be;
    const int H = ls->H, V = m->spec.vocab_size, N = B * T, L = m->spec.n_layer;
    model_check_tokens(m, inputs, (size_t)N, 0, "inputs");
    be->to_device(acts->tokens, inputs, (size_t)N * sizeof(int32_t));
    acts->cur_B = B, acts->cur_T = T;

    be->embedding_forward(acts->encoded, acts->tokens, ls->w.embedding, NULL, B, T, H);
    const float *x = acts->encoded;
    for (int l = 0; l < L; l++) {
        layer_forward(m, &ls->w.layers[l], &acts->layers[l], x, B, T, NULL, NULL, NULL, NULL);
        x = acts->layers[l].h;
    }
    be->linear_forward(m->acts->logits, V, x, H, ls->w.embedding, NULL, N, H, V, 0);  // tied head

    acts->have_targets = targets != NULL;
    if (targets) model_cross_entropy(m, targets, acts->targets, acts->losses, acts->dlogits, N);
}

// ================================================================ backward

// Accumulates d(mean loss)/d(params). dh holds the gradient of the current
// layer's output; the layer's input gradient goes to dx, and the two swap.
static void lstm_backward(Model *m) {
    const Lstm *ls = lstm_of(m);
    const LstmActivations *acts = model_activation_views(m);
    const Backend *be = m->be;
    const int H = ls->H, V = m->spec.vocab_size, L = m->spec.n_layer;
    if (!acts || !acts->have_targets)
        tb_die("lstm '%s': backward called without a forward with targets", m->spec.name);
    const int B = acts->cur_B, T = acts->cur_T, N = B * T;

    float *dh = acts->dh, *dx = acts->dx;
    be->linear_backward(dh, H, ls->g.embedding, NULL, acts->dlogits, V, acts->layers[L - 1].h, H,
                        ls->w.embedding, N, H, V, 0);
    for (int l = L - 1; l >= 0; l--) {
        const LstmLayer *w = &ls->w.layers[l];
        LstmLayer *gw = &ls->g.layers[l];
        LstmParams p = layer_params(ls, w, &acts->layers[l], B, T);
        p.dh = dh, p.dgates = acts->dgates, p.dw_hh = gw->w_hh, p.db_hh = gw->b_hh;
        be->lstm_backward(&p);
        // gates = x_in @ W_ih^T + b_ih
        const float *x_in = l > 0 ? acts->layers[l - 1].h : acts->encoded;
        be->linear_backward(dx, H, gw->w_ih, gw->b_ih, acts->dgates, 4 * H, x_in, H, w->w_ih, N, H,
                            4 * H, 0);
        float *swap = dh;
        dh = dx, dx = swap;
        model_grads_final(m, 1 + l * LAYER_TENSORS);  // layer l onwards (after the embedding)
    }
    be->embedding_backward(ls->g.embedding, NULL, dh, acts->tokens, B, T, H);
}

// ================================================================ inference

static void layout_decode(Model *m, DecodeState *ds, LstmDecode *dec, Arena *a) {
    Lstm *ls = lstm_of(m);
    size_t L = m->spec.n_layer, S = ds->capacity, R = S * ds->chunk, H = ls->H;
    dec->h_state = arena_take(a, L * S * H);
    dec->c_state = arena_take(a, L * S * H);
    dec->tokens = (int32_t *)arena_take(a, R);
    dec->x[0] = arena_take(a, R * H);
    dec->x[1] = arena_take(a, R * H);
    layout_layer(a, &dec->acts, R, H, 0);
    LstmParams p = {.batch = (int)S, .seqlen = ds->chunk, .hidden = (int)H};
    dec->acts.scratch = arena_take(a, m->be->lstm_scratch_floats(&p));
    ds->logits = arena_take(a, S * m->spec.vocab_size);
}

static int lstm_decode_alloc(Model *m, DecodeState *ds) {
    Lstm *ls = lstm_of(m);
    LstmDecode *dec = tb_calloc(1, sizeof *dec);
    ds->impl = dec;
    Arena a = {0};
    layout_decode(m, ds, dec, &a);  // count
    ds->arena = m->be->alloc(a.used);
    a = (Arena){.base = ds->arena};
    layout_decode(m, ds, dec, &a);  // assign
    ds->state[0] = (DecodeStateTensor){dec->h_state, (size_t)ls->H, m->spec.n_layer, 0};
    ds->state[1] = (DecodeStateTensor){dec->c_state, (size_t)ls->H, m->spec.n_layer, 0};
    ds->num_state = 2;
    model_reserve_workspace(m, (size_t)ds->capacity * ds->chunk, 4 * (size_t)ls->H, 0, 0);
    return 0;
}

static void lstm_decode_load(Model *m, DecodeState *ds, const int32_t *tokens, int B, int n) {
    LstmDecode *dec = ds->impl;
    m->be->to_device(dec->tokens, tokens, (size_t)B * n * sizeof(int32_t));
}

// B sequences of n tokens from their (h, c) states: every layer's input GEMM
// over the B*n rows at once and one lstm_forward for its n steps over the
// batch, leaving each sequence's new state in place; then the LM head on
// each sequence's last row (row stride n*H). O(1) per token.
static void lstm_decode_ops(Model *m, DecodeState *ds, int B, int n) {
    Lstm *ls = lstm_of(m);
    LstmDecode *dec = ds->impl;
    const Backend *be = m->be;
    const int H = ls->H, L = m->spec.n_layer, V = m->spec.vocab_size;
    be->embedding_forward(dec->x[0], dec->tokens, ls->w.embedding, NULL, B, n, H);
    for (int l = 0; l < L; l++) {
        LstmLayerActs x = dec->acts;
        x.h = dec->x[(l + 1) % 2];
        float *h = dec->h_state + (size_t)l * ds->capacity * H;
        float *c = dec->c_state + (size_t)l * ds->capacity * H;
        layer_forward(m, &ls->w.layers[l], &x, dec->x[l % 2], B, n, h, c, h, c);
    }
    const float *last = dec->x[L % 2] + (size_t)(n - 1) * H;
    be->linear_forward(ds->logits, V, last, n * H, ls->w.embedding, NULL, B, H, V, 0);
}

// ================================================================ config and lifetime

// There is no ecosystem config for an LSTM language model, so config.json
// says how to rebuild this one from torch.nn modules (tests/check_torch_lstm.py
// does exactly this):
//   embedding = nn.Embedding(vocab_size, embedding_dim)        <- embedding.weight
//   lstm      = nn.LSTM(**lstm)                                 <- lstm.*
//   logits    = F.linear(lstm(embedding(ids))[0], embedding.weight)
static cJSON *lstm_config_json(const Model *m) {
    const ModelSpec *s = &m->spec;
    cJSON *c = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("LSTMLanguageModel"));
    cJSON_AddStringToObject(c, "model_type", "lstm");
    cJSON_AddNumberToObject(c, "vocab_size", s->vocab_size);
    cJSON_AddNumberToObject(c, "embedding_dim", s->d_model);
    cJSON_AddNumberToObject(c, "hidden_size", s->d_model);
    cJSON_AddNumberToObject(c, "num_layers", s->n_layer);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", 1);
    cJSON_AddNullToObject(c, "final_norm");
    cJSON_AddStringToObject(c, "gate_order", "i,f,g,o");
    cJSON_AddStringToObject(c, "lstm_tensor_prefix", LSTM_PREFIX);
    cJSON_AddStringToObject(c, "embedding_tensor", LSTM_EMBEDDING);
    cJSON *kw = cJSON_AddObjectToObject(c, "lstm");  // torch.nn.LSTM's keyword arguments
    cJSON_AddNumberToObject(kw, "input_size", s->d_model);
    cJSON_AddNumberToObject(kw, "hidden_size", s->d_model);
    cJSON_AddNumberToObject(kw, "num_layers", s->n_layer);
    cJSON_AddBoolToObject(kw, "bias", 1);
    cJSON_AddBoolToObject(kw, "batch_first", 1);
    cJSON_AddNumberToObject(kw, "dropout", 0.0);
    cJSON_AddBoolToObject(kw, "bidirectional", 0);
    cJSON_AddNumberToObject(kw, "proj_size", 0);
    cJSON_AddStringToObject(c, "pytorch",
                            "embedding = nn.Embedding(vocab_size, embedding_dim); "
                            "lstm = nn.LSTM(**config['lstm']); load embedding.weight into "
                            "embedding and the lstm.* tensors (prefix removed) into lstm; "
                            "logits = F.linear(lstm(embedding(ids))[0], embedding.weight)");
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    return c;
}

static void lstm_destroy(Model *m) {
    Lstm *ls = lstm_of(m);
    if (!ls) return;
    free(ls->w.layers);
    free(ls->g.layers);
    free(ls);
    m->param_views = NULL;
}

const ModelVtbl lstm_vtbl = MODEL_VTBL(lstm);

// ================================================================ the registry entry

// max_seq_len is the training length (where back-propagation is truncated)
// and the prefill batch; a recurrence has no positional limit. tiny-lstm's
// 24 units are one whole vector and a scalar tail.
static const ModelSpec lstm_configs[] = {
    {.name = "lstm-6m", .d_model = 480, .n_layer = 3, .max_seq_len = 256},
    {.name = "lstm-60m", .d_model = 1536, .n_layer = 3, .max_seq_len = 256},
    {.name = "tiny-lstm", .d_model = 24, .n_layer = 2, .max_seq_len = 16},
};

static int lstm_claims_config(const cJSON *c) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "model_type");
    return cJSON_IsString(type) && tb_streq(type->valuestring, "lstm");
}

// The config lstm_config_json writes: one width for the embedding and every
// layer, the head tied, no final norm.
static int lstm_spec_from_config(ModelSpec *s, const cJSON *c, const char *path) {
    int emb = 0;
    if (model_config_int(c, "vocab_size", &s->vocab_size, 0, 0, path) ||
        model_config_int(c, "hidden_size", &s->d_model, 0, 0, path) ||
        model_config_int(c, "num_layers", &s->n_layer, 0, 0, path) ||
        model_config_int(c, "embedding_dim", &emb, 1, s->d_model, path))
        return -1;
    if (emb != s->d_model)
        return tb_error("%s: embedding_dim %d differs from hidden_size %d; tunebench's LSTM "
                        "ties its head to the embedding, so the two must be equal", path, emb,
                        s->d_model);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings");
    if (tie && !cJSON_IsTrue(tie))
        return tb_error("%s: tie_word_embeddings must be true (the LM head is the embedding)",
                        path);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(c, "final_norm");
    if (norm && !cJSON_IsNull(norm))
        return tb_error("%s: final_norm must be null (tunebench's LSTM has none)", path);
    s->max_seq_len = 256;  // no positional limit; "tunebench" may override it
    return 0;
}

// Every weight is a matrix product's (the input and recurrent GEMMs, the
// head): 6 per parameter. The cell's pointwise work is left out, as usual.
static double lstm_flops_per_token(const ModelSpec *s, size_t num_params, int T, char *formula,
                                   size_t cap) {
    (void)s, (void)T;
    snprintf(formula, cap, "6*N (N = %zu all parameters)", num_params);
    return 6.0 * (double)num_params;
}

static void lstm_describe(const ModelSpec *s, char *out, size_t cap) {
    snprintf(out, cap, "hidden %d", s->d_model);
}

const ModelArch lstm_arch = {
    .name = "lstm",
    .title = "LSTM",
    .vtbl = &lstm_vtbl,
    .configs = lstm_configs,
    .num_configs = (int)(sizeof lstm_configs / sizeof lstm_configs[0]),
    .context_bounded = 0,
    .embedding_tensor = LSTM_EMBEDDING,
    .claims_config = lstm_claims_config,
    .config_kind = "model_type \"lstm\"",
    .spec_from_config = lstm_spec_from_config,
    .flops_per_token = lstm_flops_per_token,
    .describe = lstm_describe,
};
