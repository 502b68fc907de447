// model.c: the parts of a model that do not depend on its architecture: the
// parameter table, the parameter and gradient buffers, the sets of
// activations, the gradient norm, clipping, AdamW and the learning-rate
// schedule (see model.h).
//
// Every parameter of a model lives in one buffer in table order, and the
// gradients and AdamW moments use the same layout, so these are loops over
// one array (AdamW's decay flags become spans of it).
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

// ---------------------------------------------------------------- lifetime

Model *model_create(const ModelSpec *spec, const Backend *be) {
    if (!be) {
        tb_error("model_create: no backend given");
        return NULL;
    }
    const ModelArch *arch = model_arch_find(spec->arch);
    if (!arch) {
        char msg[320];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        tb_error("model '%s': %s", spec->name, msg);
        return NULL;
    }
    char origin[64];
    snprintf(origin, sizeof origin, "model '%s'", spec->name);
    if (model_spec_check(spec, origin)) return NULL;
    Model *m = tb_calloc(1, sizeof *m);
    m->spec = *spec;
    m->arch = arch;
    m->vt = arch->vtbl;
    m->be = be;
    if (m->vt->create(m) != 0) {
        model_destroy(m);
        return NULL;
    }
    if (!m->params.values) {
        model_destroy(m);
        tb_error("model '%s': the architecture did not allocate its parameters", spec->name);
        return NULL;
    }
    return m;
}

void model_destroy(Model *m) {
    if (!m) return;
    // The architecture frees its views into params; the decoder, the
    // activations and the parameter buffers are freed here.
    decode_state_destroy(m, m->decoder);
    m->decoder = NULL;
    model_activations_destroy(m, m->acts);
    m->acts = NULL;
    if (m->vt && m->vt->destroy) m->vt->destroy(m);
    ModelParams *p = &m->params;
    const Backend *be = m->be;
    if (be) {
        if (p->values) be->free(p->values);
        if (p->grads) be->free(p->grads);
        if (p->adam_m) be->free(p->adam_m);
        if (p->adam_v) be->free(p->adam_v);
        if (p->decay_spans) be->free(p->decay_spans);
    }
    free(p->tensors);
    free(p->tensor_slots);
    free(m);
}

// The table's names are found through an open-addressing hash table, and the
// table grows by doubling, so that registering n tensors (and each
// architecture's lookups by name when it binds them) costs O(n), not O(n^2):
// a config with 1,000 layers builds as fast per layer as one with 10.
static size_t name_slot(const char *name, int num_slots) {
    return (size_t)(tb_hash64(name, strlen(name), TB_HASH64_SEED) & (uint64_t)(num_slots - 1));
}

static void index_insert(ModelParams *p, int i) {
    size_t s = name_slot(p->tensors[i].name, p->num_slots);
    while (p->tensor_slots[s]) s = (s + 1) & (size_t)(p->num_slots - 1);
    p->tensor_slots[s] = i + 1;
}

static void index_grow(ModelParams *p) {
    free(p->tensor_slots);
    p->num_slots = p->num_slots ? 2 * p->num_slots : 64;
    p->tensor_slots = tb_calloc((size_t)p->num_slots, sizeof *p->tensor_slots);
    for (int i = 0; i < p->num_tensors; i++) index_insert(p, i);
}

void model_add_tensor(Model *m, const char *name, int ndim, const int64_t *shape,
                      int weight_decay) {
    ModelParams *p = &m->params;
    // These are programming errors in an architecture's create(), not bad input.
    if (p->values) tb_die("model_add_tensor(%s) after model_alloc_params", name);
    if (strlen(name) >= sizeof p->tensors[0].name) tb_die("tensor name too long: %s", name);
    if (ndim < 0 || ndim > 4) tb_die("tensor %s: %d dimensions (at most 4)", name, ndim);
    if (model_find_tensor(m, name)) tb_die("tensor %s registered twice", name);
    if (p->num_tensors == p->tensors_cap) {
        p->tensors_cap = p->tensors_cap ? 2 * p->tensors_cap : 64;
        p->tensors = realloc(p->tensors, (size_t)p->tensors_cap * sizeof *p->tensors);
        if (!p->tensors) tb_die("out of memory in model_add_tensor");
    }
    ParamTensor *t = &p->tensors[p->num_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0) tb_die("tensor %s: dimension %d is %lld", name, d, (long long)shape[d]);
        t->shape[d] = shape[d];
        t->numel *= (size_t)shape[d];
    }
    t->offset = p->num_params;
    t->weight_decay = weight_decay;
    p->num_params += t->numel;
    if (2 * p->num_tensors > p->num_slots) index_grow(p);  // rebuilds, this tensor included
    else index_insert(p, p->num_tensors - 1);
}

int model_alloc_params(Model *m) {
    ModelParams *p = &m->params;
    if (p->num_tensors == 0) return tb_error("model '%s' registered no tensors", m->spec.name);
    // Within the shape bounds a model can still be absurd (d_model 65536 at
    // 1024 layers): refused by size here, before any allocation is tried.
    if (p->num_params > MODEL_MAX_PARAMS)
        return tb_error("model '%s' has %.3g billion parameters; tunebench builds at most %.3g billion (a corrupt "
                        "config?)", m->spec.name, (double)p->num_params / 1e9, (double)MODEL_MAX_PARAMS / 1e9);
    size_t bytes = p->num_params * sizeof(float);
    p->values = m->be->alloc(bytes);
    p->grads = m->be->alloc(bytes);
    return 0;
}

const ParamTensor *model_find_tensor(const Model *m, const char *name) {
    const ModelParams *p = &m->params;
    if (!p->num_slots) return NULL;
    for (size_t s = name_slot(name, p->num_slots); p->tensor_slots[s]; s = (s + 1) & (size_t)(p->num_slots - 1)) {
        const ParamTensor *t = &p->tensors[p->tensor_slots[s] - 1];
        if (strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

float *model_param(Model *m, const char *name) {
    const ParamTensor *t = model_find_tensor(m, name);
    if (!t) tb_die("model '%s' has no tensor %s", m->spec.name, name);
    return m->params.values + t->offset;
}

float *model_grad(Model *m, const char *name) {
    const ParamTensor *t = model_find_tensor(m, name);
    if (!t) tb_die("model '%s' has no tensor %s", m->spec.name, name);
    return m->params.grads + t->offset;
}

// ---------------------------------------------------------------- activations

ModelActivations *model_activations_create(Model *m, int B, int T) {
    if (model_check_batch_shape(m, B, T)) return NULL;
    ModelActivations *a = tb_calloc(1, sizeof *a);
    a->B = B, a->T = T;
    a->losses_host = tb_calloc((size_t)B * T, sizeof(float));
    if (m->vt->activations_alloc(m, a) != 0) {
        model_activations_destroy(m, a);
        return NULL;
    }
    return a;
}

void model_activations_destroy(Model *m, ModelActivations *a) {
    if (!a) return;
    if (a->arena) m->be->free(a->arena);
    free(a->views);
    free(a->losses_host);
    free(a);
}

// The old set goes first, so that the two are never held at once.
int model_alloc_activations(Model *m, int B, int T) {
    if (model_check_batch_shape(m, B, T)) return -1;
    model_activations_destroy(m, m->acts);
    m->acts = model_activations_create(m, B, T);
    return m->acts ? 0 : -1;
}

ModelActivations *model_use_activations(Model *m, ModelActivations *a) {
    ModelActivations *old = m->acts;
    m->acts = a;
    return old;
}

size_t model_activation_bytes(const Model *m) { return m->acts ? m->acts->arena_bytes : 0; }

// ---------------------------------------------------------------- training

void optim_config_default(OptimConfig *oc) {
    memset(oc, 0, sizeof *oc);
    oc->lr = (float)OPTIM_DEFAULT_LR;
    oc->min_lr = (float)(OPTIM_DEFAULT_LR * OPTIM_DEFAULT_MIN_LR_RATIO);
    oc->warmup_steps = OPTIM_DEFAULT_WARMUP_STEPS;
    oc->total_steps = OPTIM_DEFAULT_TOTAL_STEPS;
    oc->beta1 = (float)OPTIM_DEFAULT_BETA1;
    oc->beta2 = (float)OPTIM_DEFAULT_BETA2;
    oc->eps = (float)OPTIM_DEFAULT_EPS;
    oc->weight_decay = (float)OPTIM_DEFAULT_WEIGHT_DECAY;
    oc->grad_clip = (float)OPTIM_DEFAULT_GRAD_CLIP;
}

// step counts from 1, as in model_adamw_step. Warmup rises linearly to lr at
// step warmup_steps; then a half cosine falls from lr to min_lr, which it
// reaches at total_steps and keeps after.
float optim_lr_at(const OptimConfig *oc, int step) {
    if (step < 1) step = 1;
    if (step <= oc->warmup_steps) return oc->lr * (float)step / (float)oc->warmup_steps;
    if (step >= oc->total_steps) return oc->min_lr;
    double progress = (double)(step - oc->warmup_steps) / (double)(oc->total_steps - oc->warmup_steps);
    double coeff = 0.5 * (1.0 + cos(M_PI * progress));
    return (float)((double)oc->min_lr + coeff * ((double)oc->lr - (double)oc->min_lr));
}

void model_zero_grad(Model *m) { m->be->zero(m->params.grads, m->params.num_params * sizeof(float)); }

void model_grads_final(Model *m, int first_tensor) {
    if (m->grads_final && first_tensor >= 0 && first_tensor < m->params.num_tensors)
        m->grads_final(m, m->params.tensors[first_tensor].offset);
}

// One sum over the whole gradient buffer: its order is fixed by the buffer
// layout and by sum_squares, so the norm is the same bits on every run.
float model_grad_norm(Model *m) {
    return (float)sqrt(m->be->sum_squares(m->params.grads, m->params.num_params));
}

// The tensors that decay, as spans of the parameter buffer (adjacent ones
// merged), uploaded once: every step's AdamW is then one backend call.
static void model_upload_decay_spans(Model *m) {
    size_t *spans = tb_malloc(sizeof(size_t) * 2 * ((size_t)m->params.num_tensors + 1));
    int n = 0;
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        if (!t->weight_decay) continue;
        if (n > 0 && spans[2 * n - 1] == t->offset) spans[2 * n - 1] += t->numel;
        else spans[2 * n] = t->offset, spans[2 * n + 1] = t->offset + t->numel, n++;
    }
    m->params.decay_spans = m->be->alloc(sizeof(size_t) * 2 * ((size_t)n + 1));  // never of 0 bytes
    m->be->to_device(m->params.decay_spans, spans, sizeof(size_t) * 2 * (size_t)n);
    m->params.num_decay_spans = n;
    free(spans);
}

float model_adamw_step(Model *m, const OptimConfig *oc, int step, float lr) {
    return model_adamw_step_norm(m, oc, step, lr, model_grad_norm(m));
}

float model_adamw_step_norm(Model *m, const OptimConfig *oc, int step, float lr, float norm) {
    const Backend *be = m->be;
    if (!m->params.adam_m) {
        // First step: the moments start at zero (as torch.optim.AdamW's state).
        m->params.adam_m = be->alloc(m->params.num_params * sizeof(float));
        m->params.adam_v = be->alloc(m->params.num_params * sizeof(float));
    }
    if (!m->params.decay_spans) model_upload_decay_spans(m);
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when below 1.
    float grad_scale = 1.0f;
    if (oc->grad_clip > 0.0f) {
        float coef = oc->grad_clip / (norm + 1e-6f);
        if (coef < 1.0f) grad_scale = coef;
    }
    be->adamw_update(m->params.values, m->params.grads, m->params.adam_m, m->params.adam_v,
                     m->params.num_params, m->params.decay_spans, m->params.num_decay_spans, lr,
                     oc->beta1, oc->beta2, oc->eps, oc->weight_decay, grad_scale, step);
    return norm;
}

// ---------------------------------------------------------------- for architectures

float *arena_take(Arena *a, size_t floats) {
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float *p = a->base ? (float *)(a->base + a->used) : NULL;
    a->used += bytes;
    return p;
}

int model_check_batch_shape(const Model *m, int B, int T) {
    if (B <= 0 || T <= 0 || T > m->spec.max_seq_len)
        return tb_error("%s '%s': cannot allocate activations for batch %d x %d: the sequence "
                        "length must be in 1..%d (the model's context)",
                        m->spec.arch, m->spec.name, B, T, m->spec.max_seq_len);
    return 0;
}

void *model_require_activations(const Model *m, int B, int T) {
    const ModelActivations *a = m->acts;
    if (!a || B > a->B || T > a->T)
        tb_die("%s '%s': forward on batch %d x %d but activations were allocated for %d x %d; "
               "call alloc_activations first", m->spec.arch, m->spec.name, B, T, a ? a->B : 0,
               a ? a->T : 0);
    return a->views;
}

void *model_activation_views(const Model *m) { return m->acts ? m->acts->views : NULL; }

void model_check_tokens(const Model *m, const int32_t *tokens, size_t n, int allow_negative,
                        const char *what) {
    for (size_t i = 0; i < n; i++) {
        int32_t t = tokens[i];
        if (t >= m->spec.vocab_size || (t < 0 && !allow_negative))
            tb_die("%s '%s': %s[%zu] = %d is outside the vocabulary 0..%d; the data was "
                   "tokenized with a different tokenizer", m->spec.arch, m->spec.name, what, i,
                   (int)t, m->spec.vocab_size - 1);
    }
}

void model_cross_entropy(Model *m, const int32_t *targets, int32_t *targets_dev,
                         float *losses_dev, float *dlogits, int N) {
    const Backend *be = m->be;
    model_check_tokens(m, targets, (size_t)N, 1, "targets");
    int count = 0;
    for (int i = 0; i < N; i++) count += targets[i] >= 0;
    be->to_device(targets_dev, targets, (size_t)N * sizeof(int32_t));
    // The mean over predicted positions: each one's gradient is 1/count.
    float dloss = count ? 1.0f / (float)count : 0.0f;
    ModelActivations *a = m->acts;
    be->crossentropy_forward_backward(losses_dev, dlogits, a->logits, targets_dev, N,
                                      m->spec.vocab_size, dloss);
    be->to_host(a->losses_host, losses_dev, (size_t)N * sizeof(float));
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += a->losses_host[i];
    a->loss = count ? (float)(sum / count) : 0.0f;
}

int tb_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void model_reserve_workspace(Model *m, size_t rows, size_t widest, int conv_kernel,
                             size_t attention) {
    WorkspaceShapes s = {rows, widest, conv_kernel, attention, 0};
    if ((size_t)m->spec.vocab_size > s.widest) s.widest = (size_t)m->spec.vocab_size;
    const ModelParams *p = &m->params;
    for (int i = 0; i < p->num_tensors; i++)
        if (p->tensors[i].numel > s.largest_weight) s.largest_weight = p->tensors[i].numel;
    m->be->reserve_workspace(&s);
}
