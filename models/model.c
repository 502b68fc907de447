// model.c: the parts of a model that do not depend on its architecture: the
// parameter table, the parameter and gradient buffers, the gradient norm,
// clipping, AdamW and the learning-rate schedule (see model.h).
//
// Every parameter of a model lives in one buffer in table order, and the
// gradients and AdamW moments use the same layout, so these are loops over
// one array (or over the table, where each tensor needs its own decay flag).
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

// ---------------------------------------------------------------- architectures

// Each architecture's vtable is defined in its own file (models/gpt2.c,
// models/mamba.c). TRANSITIONAL: until both branches are merged here the
// references are weak so that this branch links without them; each weak
// attribute is removed at the merge that brings the definition (a weak
// reference alone does not pull an object out of a static library).
extern const ModelVtbl gpt2_vtbl;
extern const ModelVtbl mamba_vtbl;

static const ModelVtbl *vtbl_for_arch(const char *arch) {
    if (tb_streq(arch, "gpt2")) return &gpt2_vtbl;
    if (tb_streq(arch, "mamba")) return &mamba_vtbl;
    return NULL;
}

// ---------------------------------------------------------------- lifetime

Model *model_create(const ModelSpec *spec, const Backend *be) {
    if (!be) {
        tb_error("model_create: no backend given");
        return NULL;
    }
    if (!tb_streq(spec->arch, "gpt2") && !tb_streq(spec->arch, "mamba")) {
        tb_error("model '%s': unknown architecture '%s' (expected gpt2 or mamba)", spec->name,
                 spec->arch);
        return NULL;
    }
    const ModelVtbl *vt = vtbl_for_arch(spec->arch);
    if (!vt) {
        tb_error("model '%s': this build has no %s implementation (models/%s.c is missing)",
                 spec->name, spec->arch, spec->arch);
        return NULL;
    }
    Model *m = tb_calloc(1, sizeof *m);
    m->spec = *spec;
    m->vt = vt;
    m->be = be;
    if (vt->create(m) != 0) {
        model_destroy(m);
        return NULL;
    }
    if (!m->params) {
        model_destroy(m);
        tb_error("model '%s': the architecture did not allocate its parameters", spec->name);
        return NULL;
    }
    return m;
}

void model_destroy(Model *m) {
    if (!m) return;
    // The architecture frees what it allocated (impl, activations, logits,
    // losses_host, decode state); the shared buffers are freed here.
    if (m->vt && m->vt->destroy) m->vt->destroy(m);
    const Backend *be = m->be;
    if (be) {
        if (m->params) be->free(m->params);
        if (m->grads) be->free(m->grads);
        if (m->adam_m) be->free(m->adam_m);
        if (m->adam_v) be->free(m->adam_v);
    }
    free(m->tensors);
    free(m);
}

void model_add_tensor(Model *m, const char *name, int ndim, const int64_t *shape,
                      int weight_decay) {
    // These are programming errors in an architecture's create(), not bad input.
    if (m->params) tb_die("model_add_tensor(%s) after model_alloc_params", name);
    if (strlen(name) >= sizeof m->tensors[0].name) tb_die("tensor name too long: %s", name);
    if (ndim < 0 || ndim > 4) tb_die("tensor %s: %d dimensions (at most 4)", name, ndim);
    if (model_find_tensor(m, name)) tb_die("tensor %s registered twice", name);
    m->tensors = realloc(m->tensors, (size_t)(m->num_tensors + 1) * sizeof *m->tensors);
    if (!m->tensors) tb_die("out of memory in model_add_tensor");
    ParamTensor *t = &m->tensors[m->num_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0) tb_die("tensor %s: dimension %d is %lld", name, d, (long long)shape[d]);
        t->shape[d] = shape[d];
        t->numel *= (size_t)shape[d];
    }
    t->offset = m->num_params;
    t->weight_decay = weight_decay;
    m->num_params += t->numel;
}

int model_alloc_params(Model *m) {
    if (m->num_tensors == 0) return tb_error("model '%s' registered no tensors", m->spec.name);
    size_t bytes = m->num_params * sizeof(float);
    m->params = m->be->alloc(bytes);
    m->grads = m->be->alloc(bytes);
    return 0;
}

const ParamTensor *model_find_tensor(const Model *m, const char *name) {
    for (int i = 0; i < m->num_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

float *model_param(Model *m, const char *name) {
    const ParamTensor *t = model_find_tensor(m, name);
    if (!t) tb_die("model '%s' has no tensor %s", m->spec.name, name);
    return m->params + t->offset;
}

float *model_grad(Model *m, const char *name) {
    const ParamTensor *t = model_find_tensor(m, name);
    if (!t) tb_die("model '%s' has no tensor %s", m->spec.name, name);
    return m->grads + t->offset;
}

// ---------------------------------------------------------------- training

void optim_config_default(OptimConfig *oc) {
    memset(oc, 0, sizeof *oc);
    oc->lr = 1e-3f;
    oc->min_lr = 1e-4f;
    oc->warmup_steps = 100;
    oc->total_steps = 5000;
    oc->beta1 = 0.9f;
    oc->beta2 = 0.95f;
    oc->eps = 1e-8f;
    oc->weight_decay = 0.1f;
    oc->grad_clip = 1.0f;
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

void model_zero_grad(Model *m) { m->be->zero(m->grads, m->num_params * sizeof(float)); }

// One sum over the whole gradient buffer: its order is fixed by the buffer
// layout and by sum_squares, so the norm is the same bits on every run.
float model_grad_norm(Model *m) {
    return (float)sqrt(m->be->sum_squares(m->grads, m->num_params));
}

float model_adamw_step(Model *m, const OptimConfig *oc, int step, float lr) {
    const Backend *be = m->be;
    if (!m->adam_m) {
        // First step: the moments start at zero (as torch.optim.AdamW's state).
        m->adam_m = be->alloc(m->num_params * sizeof(float));
        m->adam_v = be->alloc(m->num_params * sizeof(float));
    }
    float norm = model_grad_norm(m);
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when below 1.
    float grad_scale = 1.0f;
    if (oc->grad_clip > 0.0f) {
        float coef = oc->grad_clip / (norm + 1e-6f);
        if (coef < 1.0f) grad_scale = coef;
    }
    for (int i = 0; i < m->num_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        float wd = t->weight_decay ? oc->weight_decay : 0.0f;
        be->adamw_update(m->params + t->offset, m->grads + t->offset, m->adam_m + t->offset,
                         m->adam_v + t->offset, t->numel, lr, oc->beta1, oc->beta2, oc->eps, wd,
                         grad_scale, step);
    }
    return norm;
}
