// model_checks.h: the checks that every architecture's test runs the same way
// through the Model interface (include after test.h).
#ifndef TB_MODEL_CHECKS_H
#define TB_MODEL_CHECKS_H

#include "../models/model.h"
#include "../models/safetensors.h"
#include "lib/common.h"

// ---------------------------------------------------------------- fixtures
// A test's PyTorch fixture: one safetensors file of named float tensors
// (parameters, inputs, expected logits and gradients), opened once.
static SafeTensors *fx;
static const char *fx_path = "(no fixture)";

// NULL on failure, with the error set (the test checks it).
static SafeTensors *fixture_open(const char *path) {
    fx_path = path;
    return fx = st_open(path);
}

static const float *fixture(const char *name, size_t numel) {
    const StTensor *t = st_find(fx, name);
    if (!t || t->numel != numel) tb_die("%s: tensor %s missing or not %zu floats", fx_path, name, numel);
    return t->data;
}

static void fixture_tokens(int32_t *out, const char *name, size_t offset, size_t n) {
    const StTensor *t = st_find(fx, name);
    if (!t || t->numel < offset + n) tb_die("%s: tensor %s missing or too small", fx_path, name);
    for (size_t i = 0; i < n; i++) out[i] = (int32_t)t->data[offset + i];
}

// Copies the fixture's parameters, by their ecosystem names, into the model.
static void load_params(Model *m) {
    for (int i = 0; i < m->num_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        const StTensor *s = st_find(fx, t->name);
        if (!s) tb_die("%s: no tensor %s", fx_path, t->name);
        int same = s->ndim == t->ndim && s->numel == t->numel;
        for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
        if (!same) tb_die("%s: tensor %s has the wrong shape", fx_path, t->name);
        memcpy(m->params + t->offset, s->data, t->numel * sizeof(float));
    }
}

static float max_abs(const float *x, size_t n) {
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++) mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
    return mx;
}

// Largest |got - ref| / max|ref| over a tensor: the figure the reports quote.
static double rel_err(const float *got, const float *ref, size_t n) {
    double worst = 0.0, scale = max_abs(ref, n);
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - ref[i]));
    return scale > 0 ? worst / scale : worst;
}

// Every parameter gradient against the fixture's "grad.<name>": per tensor,
// 1e-5 of the tensor's largest gradient plus 1e-5 relative.
static void check_grads_against_fixture(const Model *m) {
    double worst = 0.0;
    const char *worst_name = "";
    for (int i = 0; i < m->num_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        char name[128], what[160];
        snprintf(name, sizeof name, "grad.%s", t->name);
        const float *ref = fixture(name, t->numel);
        snprintf(what, sizeof what, "gradient of %s vs torch", t->name);
        check_close(what, m->grads + t->offset, ref, t->numel, 1e-5f * max_abs(ref, t->numel), 1e-5f);
        double e = rel_err(m->grads + t->offset, ref, t->numel);
        if (e > worst) worst = e, worst_name = t->name;
    }
    printf("  gradients: worst max|err|/max|ref| %.2e (%s) over %d tensors\n", worst, worst_name,
           m->num_tensors);
}

// Central differences of the fp32 loss on coords_per_tensor coordinates of
// every tensor (the first, the last and random ones), against the gradient
// that a forward + backward on (inputs, targets) has left in m->grads. Step
// 1e-2: the quotient carries ~5e-5 of rounding noise on a loss of ~6 and
// ~1e-5 of truncation error; the tolerance 2e-4 + 1% covers both and still
// catches any wrong or missing term.
static void check_finite_differences(Model *m, const int32_t *inputs, const int32_t *targets,
                                     int B, int T, int coords_per_tensor) {
    Rng rng;
    rng_seed(&rng, 7);
    int checked = 0, bad = 0;
    double worst = 0;
    for (int i = 0; i < m->num_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        for (int k = 0; k < coords_per_tensor; k++) {
            size_t idx = k == 0 ? 0 : k == 1 ? t->numel - 1 : rng_below(&rng, (uint32_t)t->numel);
            float *p = m->params + t->offset + idx;
            float orig = *p, h = 1e-2f;
            *p = orig + h;
            m->vt->forward(m, inputs, targets, B, T);
            double up = m->loss, d_up = (double)*p - orig;
            *p = orig - h;
            m->vt->forward(m, inputs, targets, B, T);
            double down = m->loss, d_down = (double)orig - *p;
            *p = orig;
            double fd = (up - down) / (d_up + d_down);
            double an = m->grads[t->offset + idx];
            double err = fabs(fd - an), allowed = 2e-4 + 1e-2 * fabs(an);
            checked++;
            worst = fmax(worst, err / (2e-4 + fabs(an)));
            if (!(err <= allowed)) {
                bad++;
                fprintf(stderr, "FAIL finite difference %s[%zu]: analytic %.7g, numeric %.7g\n",
                        t->name, idx, an, fd);
            }
        }
    }
    CHECK(bad == 0, "%d of %d finite-difference checks off", bad, checked);
    printf("  finite differences: %d coordinates over %d tensors, worst err/(2e-4+|g|) %.3f\n",
           checked, m->num_tensors, worst);
}

// Every parameter tensor against the fixture's "<prefix><name>" after some
// AdamW steps. A step moves each weight by about lr whatever its gradient's
// size, so fp32 rounding in a gradient near 0 can move a weight by up to lr
// in either direction: 1e-4 absolute is 1% of the tests' peak lr.
static void check_params_after_adamw(const Model *m, const float *(*fixture)(const char *, size_t),
                                     const char *prefix, int steps) {
    for (int i = 0; i < m->num_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        char name[160], what[192];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        snprintf(what, sizeof what, "%s after %d AdamW steps vs torch", t->name, steps);
        check_close(what, m->params + t->offset, fixture(name, t->numel), t->numel, 1e-4f, 1e-4f);
    }
}

// The losses and pre-clip gradient norms of `steps` AdamW steps, and the
// parameters after them, against the fixture's adam.* tensors.
static void check_adamw_against_fixture(const Model *m, const float *losses, const float *norms,
                                        int steps) {
    const float *ref_losses = fixture("adam.losses", (size_t)steps);
    check_close("AdamW step losses vs torch", losses, ref_losses, (size_t)steps, 0.0f, 1e-5f);
    check_close("AdamW pre-clip grad norms vs torch", norms, fixture("adam.grad_norms", (size_t)steps),
                (size_t)steps, 0.0f, 1e-5f);
    double worst = 0;
    for (int i = 0; i < steps; i++) worst = fmax(worst, fabs(losses[i] - ref_losses[i]) / ref_losses[i]);
    printf("  %d AdamW steps: losses %.4f -> %.4f, worst rel err %.2e\n", steps, losses[0],
           losses[steps - 1], worst);
    check_params_after_adamw(m, fixture, "adam.final.", steps);
}

#endif
