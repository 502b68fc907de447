// model_checks.h: the checks that every architecture's test runs the same way
// through the Model interface (include after test.h): against its PyTorch
// fixture, against finite differences, decoding against the full forward,
// determinism and checkpoint resume. The tests hold only what is particular
// to an architecture.
#ifndef TB_MODEL_CHECKS_H
#define TB_MODEL_CHECKS_H

#include <cjson/cJSON.h>

#include "../models/checkpoint.h"
#include "../models/model.h"
#include "../models/safetensors.h"
#include "lib/common.h"

// ---------------------------------------------------------------- fixtures
// A test's PyTorch fixture: one safetensors file of named float tensors
// (parameters, inputs, expected logits and gradients), opened once. Every
// fixture is written by tests/fixture_common.py: batches of (B, T) = (2, 16)
// and 10 AdamW steps.
enum { FIXTURE_B = 2, FIXTURE_T = 16, FIXTURE_ADAM_STEPS = 10 };
static SafeTensors *fx;
static const char *fx_path = "(no fixture)";
static char test_tmpdir[64];

// Opens the fixture (a failure counts, and the caller stops) and makes the
// test's temporary folder.
static int model_test_open(const char *fixture_path, const char *test_name) {
    fx_path = fixture_path;
    fx = st_open(fixture_path);
    CHECK(fx != NULL, "%s", tb_last_error());
    if (!fx) return 0;
    snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/tb_%s_XXXXXX", test_name);
    if (!mkdtemp(test_tmpdir)) tb_die("mkdtemp %s failed", test_tmpdir);
    return 1;
}

static void model_test_close(void) {
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", test_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", test_tmpdir);
    st_close(fx);
}

static const float *fixture(const char *name, size_t numel) {
    const StTensor *t = st_find(fx, name);
    if (!t || t->numel != numel) tb_die("%s: tensor %s missing or not %zu floats", fx_path, name, numel);
    return t->data;
}

// The fixture's "<prefix><name>" of parameter t: under its own name, or
// under the name of the architecture's other format where the fixture uses
// that (the Mamba fixture has mamba_ssm's names).
static const StTensor *fixture_param(const Model *m, const char *prefix, const ParamTensor *t) {
    char name[192];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    const StTensor *s = st_find(fx, name);
    if (s) return s;
    snprintf(name, sizeof name, "%s%s", prefix, model_arch_other_name(m->arch, t->name));
    s = st_find(fx, name);
    if (!s || s->numel != t->numel)
        tb_die("%s: tensor %s%s missing or not %zu floats", fx_path, prefix, t->name, t->numel);
    return s;
}

static void fixture_tokens(int32_t *out, const char *name, size_t offset, size_t n) {
    const StTensor *t = st_find(fx, name);
    if (!t || t->numel < offset + n) tb_die("%s: tensor %s missing or too small", fx_path, name);
    for (size_t i = 0; i < n; i++) out[i] = (int32_t)t->data[offset + i];
}

// A model of spec with activations for the fixture's batch; dies on failure.
static Model *model_for_fixture(const ModelSpec *spec) {
    Model *m = model_create(spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    if (m->vt->alloc_activations(m, FIXTURE_B, FIXTURE_T)) tb_die("%s", tb_last_error());
    return m;
}

// The same for a named config (the fixture's: "tiny-gpt2", ...).
static Model *fixture_model(const char *config, int vocab) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, config, vocab)) tb_die("%s", tb_last_error());
    return model_for_fixture(&spec);
}

// The fixture's one batch: "inputs" and "targets", (B, T) each.
static void fixture_batch(int32_t *inputs, int32_t *targets) {
    fixture_tokens(inputs, "inputs", 0, FIXTURE_B * FIXTURE_T);
    if (targets) fixture_tokens(targets, "targets", 0, FIXTURE_B * FIXTURE_T);
}

// The AdamW settings of tests/fixture_common.py.
static void fixture_adam_config(OptimConfig *oc) {
    optim_config_default(oc);
    oc->lr = 1e-2f, oc->min_lr = 1e-3f, oc->warmup_steps = 3, oc->total_steps = 10;
    oc->beta1 = 0.9f, oc->beta2 = 0.95f, oc->eps = 1e-8f, oc->weight_decay = 0.1f;
    oc->grad_clip = 1.0f;
}

// AdamW steps first..last (from 1) on the fixture's adam.inputs/adam.targets
// batches; records each step's loss, pre-clip grad norm and lr where asked.
static void train_fixture_steps(Model *m, const OptimConfig *oc, int first, int last,
                                float *losses, float *norms, float *lrs) {
    enum { N = FIXTURE_B * FIXTURE_T };
    int32_t inputs[N], targets[N];
    for (int step = first; step <= last; step++) {
        fixture_tokens(inputs, "adam.inputs", (size_t)(step - 1) * N, N);
        fixture_tokens(targets, "adam.targets", (size_t)(step - 1) * N, N);
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, FIXTURE_B, FIXTURE_T);
        m->vt->backward(m);
        float lr = optim_lr_at(oc, step);
        float norm = model_adamw_step(m, oc, step, lr);
        if (losses) losses[step - 1] = m->acts->loss;
        if (norms) norms[step - 1] = norm;
        if (lrs) lrs[step - 1] = lr;
    }
}

// Copies the fixture's parameters, by their ecosystem names, into the model.
static void load_params(Model *m) {
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        const StTensor *s = fixture_param(m, "", t);
        int same = s->ndim == t->ndim && s->numel == t->numel;
        for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
        if (!same) tb_die("%s: tensor %s has the wrong shape", fx_path, t->name);
        memcpy(m->params.values + t->offset, s->data, t->numel * sizeof(float));
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

// Mean, standard deviation and range of a parameter tensor (init checks).
typedef struct {
    double mean, sd;
    float lo, hi;
} TensorStats;

static inline TensorStats param_stats(Model *m, const char *name) {
    const ParamTensor *t = model_find_tensor(m, name);
    if (!t) tb_die("%s has no tensor %s", m->spec.name, name);
    const float *x = m->params.values + t->offset;
    TensorStats s = {0, 0, INFINITY, -INFINITY};
    for (size_t i = 0; i < t->numel; i++) {
        s.mean += x[i];
        s.lo = fminf(s.lo, x[i]), s.hi = fmaxf(s.hi, x[i]);
    }
    s.mean /= (double)t->numel;
    for (size_t i = 0; i < t->numel; i++) s.sd += (x[i] - s.mean) * (x[i] - s.mean);
    s.sd = sqrt(s.sd / (double)t->numel);
    return s;
}

// config.json fields: a missing or mistyped field is a failed check, not a crash.
static inline int json_int_is(const cJSON *obj, const char *key, int want) {
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    return cJSON_IsNumber(v) && v->valuedouble == want;
}
static inline int json_string_is(const cJSON *obj, const char *key, const char *want) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(obj, key));
    return v && strcmp(v, want) == 0;
}

// ---------------------------------------------------------------- vs PyTorch

// Every parameter gradient against the fixture's "grad.<name>": per tensor,
// 1e-5 of the tensor's largest gradient plus 1e-5 relative.
static void check_grads_against_fixture(const Model *m) {
    double worst = 0.0;
    const char *worst_name = "";
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        char what[160];
        const float *ref = fixture_param(m, "grad.", t)->data;
        snprintf(what, sizeof what, "gradient of %s vs torch", t->name);
        check_close(what, m->params.grads + t->offset, ref, t->numel, 1e-5f * max_abs(ref, t->numel), 1e-5f);
        double e = rel_err(m->params.grads + t->offset, ref, t->numel);
        if (e > worst) worst = e, worst_name = t->name;
    }
    printf("  gradients: worst max|err|/max|ref| %.2e (%s) over %d tensors\n", worst, worst_name,
           m->params.num_tensors);
}

// The fixture's batch through a model with the fixture's parameters: the
// logits (O(10) here: 1e-5 of the largest, per element), the per-position
// and mean losses, and every parameter gradient against torch; then a second
// forward + backward, which accumulates: every gradient doubles.
static void check_forward_backward_against_fixture(Model *m) {
    enum { B = FIXTURE_B, T = FIXTURE_T };
    const size_t V = (size_t)m->spec.vocab_size, NL = (size_t)B * T * V;
    load_params(m);
    int32_t inputs[B * T], targets[B * T];
    fixture_batch(inputs, targets);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    const float *ref_logits = fixture("logits", NL);
    check_close("logits vs torch", m->acts->logits, ref_logits, NL, 1e-5f * max_abs(ref_logits, NL), 1e-5f);
    check_close("per-position losses vs torch", m->acts->losses_host, fixture("losses", B * T), B * T,
                1e-6f, 1e-5f);
    check_close("mean loss vs torch", &m->acts->loss, fixture("loss", 1), 1, 0.0f, 2e-6f);
    printf("  logits max rel err %.2e, loss %.7f (torch %.7f)\n", rel_err(m->acts->logits, ref_logits, NL),
           m->acts->loss, fixture("loss", 1)[0]);

    m->vt->backward(m);
    check_grads_against_fixture(m);
    float *twice = tb_malloc(m->params.num_params * sizeof(float));
    for (size_t i = 0; i < m->params.num_params; i++) twice[i] = 2.0f * m->params.grads[i];
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    check_close("gradients accumulate over two backwards", m->params.grads, twice, m->params.num_params, 1e-6f,
                1e-5f);
    free(twice);
}

// Every parameter tensor against the fixture's "<prefix><name>" after some
// AdamW steps. A step moves each weight by about lr whatever its gradient's
// size, so fp32 rounding in a gradient near 0 can move a weight by up to lr
// in either direction: 1e-4 absolute is 1% of the tests' peak lr.
static void check_params_after_adamw(const Model *m, const char *prefix, int steps) {
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        char what[192];
        snprintf(what, sizeof what, "%s after %d AdamW steps vs torch", t->name, steps);
        check_close(what, m->params.values + t->offset, fixture_param(m, prefix, t)->data, t->numel, 1e-4f, 1e-4f);
    }
}

// The fixture's AdamW steps from its parameters: the learning rates, the
// losses and pre-clip gradient norms of every step, and the parameters after
// them, against the fixture's adam.* tensors.
static void check_adamw_steps_against_fixture(Model *m) {
    enum { STEPS = FIXTURE_ADAM_STEPS };
    load_params(m);
    OptimConfig oc;
    fixture_adam_config(&oc);
    float losses[STEPS], norms[STEPS], lrs[STEPS];
    train_fixture_steps(m, &oc, 1, STEPS, losses, norms, lrs);
    check_close("AdamW learning rates vs torch", lrs, fixture("adam.lrs", STEPS), STEPS, 0, 1e-7f);
    const float *ref_losses = fixture("adam.losses", STEPS);
    check_close("AdamW step losses vs torch", losses, ref_losses, STEPS, 0.0f, 1e-5f);
    check_close("AdamW pre-clip grad norms vs torch", norms, fixture("adam.grad_norms", STEPS), STEPS,
                0.0f, 1e-5f);
    double worst = 0;
    for (int i = 0; i < STEPS; i++) worst = fmax(worst, fabs(losses[i] - ref_losses[i]) / ref_losses[i]);
    printf("  %d AdamW steps: losses %.4f -> %.4f, worst rel err %.2e\n", STEPS, losses[0],
           losses[STEPS - 1], worst);
    check_params_after_adamw(m, "adam.final.", STEPS);
}

// ---------------------------------------------------------------- finite differences

// Central differences of the fp32 loss on coords_per_tensor coordinates of
// every tensor (the first, the last and random ones), against the gradient
// that a forward + backward on (inputs, targets) has left in
// m->params.grads. Step 1e-2: the quotient carries ~5e-5 of rounding noise on
// a loss of ~6 and ~1e-5 of truncation error; the tolerance 2e-4 + 1% covers
// both and still catches any wrong or missing term.
static void check_finite_differences(Model *m, const int32_t *inputs, const int32_t *targets,
                                     int B, int T, int coords_per_tensor) {
    Rng rng;
    rng_seed(&rng, 7);
    int checked = 0, bad = 0;
    double worst = 0;
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        for (int k = 0; k < coords_per_tensor; k++) {
            size_t idx = k == 0 ? 0 : k == 1 ? t->numel - 1 : rng_below(&rng, (uint32_t)t->numel);
            float *p = m->params.values + t->offset + idx;
            float orig = *p, h = 1e-2f;
            *p = orig + h;
            m->vt->forward(m, inputs, targets, B, T);
            double up = m->acts->loss, d_up = (double)*p - orig;
            *p = orig - h;
            m->vt->forward(m, inputs, targets, B, T);
            double down = m->acts->loss, d_down = (double)orig - *p;
            *p = orig;
            double fd = (up - down) / (d_up + d_down);
            double an = m->params.grads[t->offset + idx];
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
           checked, m->params.num_tensors, worst);
}

// The same on the fixture's batch and parameters.
static void check_finite_differences_on_fixture(Model *m, int coords_per_tensor) {
    enum { B = FIXTURE_B, T = FIXTURE_T };
    load_params(m);
    int32_t inputs[B * T], targets[B * T];
    fixture_batch(inputs, targets);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    check_finite_differences(m, inputs, targets, B, T, coords_per_tensor);
}

// ---------------------------------------------------------------- inference

// Decoding against the full forward of the fixture's batch, with the
// fixture's parameters: token by token from a reset state, every position;
// for each length in prefill_lens, a batched prefill then single steps to
// position 12; a prefill that continues a sequence (12 -> 16); and row 1's
// whole prefill after a reset, which nothing of row 0 may leak into.
static void check_decode_against_forward(Model *m, const int *prefill_lens, int num_lens) {
    enum { B = FIXTURE_B, T = FIXTURE_T, CONTINUE_AT = 12 };
    const size_t V = (size_t)m->spec.vocab_size;
    load_params(m);
    int32_t inputs[B * T];
    fixture_batch(inputs, NULL);
    m->vt->forward(m, inputs, NULL, B, T);
    // A copy: the model's logits buffer is its own to reuse.
    float *full = tb_malloc((size_t)B * T * V * sizeof(float)), *logits = tb_malloc(V * sizeof(float));
    memcpy(full, m->acts->logits, (size_t)B * T * V * sizeof(float));
    if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());
    char what[80];

    m->vt->decode_reset(m);
    for (int t = 0; t < T; t++) {
        m->vt->decode_step(m, inputs[t], logits);
        snprintf(what, sizeof what, "decode_step logits at position %d", t);
        check_close(what, logits, full + (size_t)t * V, V, 1e-5f, 1e-5f);
    }
    CHECK(m->decode_pos == T, "decode_pos %d after %d steps", m->decode_pos, T);

    for (int k = 0; k < num_lens; k++) {
        int n = prefill_lens[k];
        m->vt->decode_reset(m);
        m->vt->prefill(m, inputs, n, logits);
        snprintf(what, sizeof what, "prefill(%d) logits", n);
        check_close(what, logits, full + (size_t)(n - 1) * V, V, 1e-5f, 1e-5f);
        for (int t = n; t < CONTINUE_AT; t++) {
            m->vt->decode_step(m, inputs[t], logits);
            snprintf(what, sizeof what, "decode_step at %d after prefill(%d)", t, n);
            check_close(what, logits, full + (size_t)t * V, V, 1e-5f, 1e-5f);
        }
    }
    m->vt->prefill(m, inputs + CONTINUE_AT, T - CONTINUE_AT, logits);
    check_close("prefill continuing at position 12", logits, full + (size_t)(T - 1) * V, V, 1e-5f,
                1e-5f);
    CHECK(m->decode_pos == T, "decode_pos %d after prefills to %d", m->decode_pos, T);

    m->vt->decode_reset(m);
    m->vt->prefill(m, inputs + T, T, logits);
    check_close("prefill(16) of row 1 after a reset", logits, full + ((size_t)T + T - 1) * V, V,
                1e-5f, 1e-5f);
    free(full), free(logits);
}

// ---------------------------------------------------------------- activations apart

// Host copies of the parameters, gradients and AdamW moments, one after another.
static float *params_snapshot(const Model *m) {
    const ModelParams *p = &m->params;
    size_t n = p->num_params;
    float *out = tb_malloc(4 * n * sizeof(float));
    const float *parts[4] = {p->values, p->grads, p->adam_m, p->adam_v};
    for (int k = 0; k < 4; k++) {
        if (!parts[k]) tb_die("params_snapshot: part %d not allocated", k);
        m->be->to_host(out + k * n, parts[k], n * sizeof(float));
    }
    return out;
}

static int params_unchanged(const Model *m, const float *snapshot) {
    float *now = params_snapshot(m);
    int same = memcmp(now, snapshot, 4 * m->params.num_params * sizeof(float)) == 0;
    free(now);
    return same;
}

// A forward with targets and a backward from zeroed gradients on the given
// rows of the fixture's batch; the loss, and the logits into logits_out.
static float fixture_forward_backward(Model *m, int B, int T, float *logits_out) {
    int32_t inputs[FIXTURE_B * FIXTURE_T], targets[FIXTURE_B * FIXTURE_T];
    fixture_batch(inputs, targets);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    size_t bytes = (size_t)B * T * m->spec.vocab_size * sizeof(float);
    if (logits_out) m->be->to_host(logits_out, m->acts->logits, bytes);
    return m->acts->loss;
}

// The activations hold no parameter: after two AdamW steps and a backward,
// replacing them by a set of another shape (and back), running forwards and
// backwards of another shape, and swapping in a second set over the same
// parameters leave the weights, gradients and moments bit for bit as they
// were, and a forward and backward in the first set give the same bits as
// before.
static void check_activations_apart(Model *m) {
    enum { B = FIXTURE_B, T = FIXTURE_T, SMALL_T = 8 };
    const size_t V = (size_t)m->spec.vocab_size;
    OptimConfig oc;
    fixture_adam_config(&oc);
    m->vt->init_weights(m, 7);
    train_fixture_steps(m, &oc, 1, 2, NULL, NULL, NULL);
    float *logits = tb_malloc(B * T * V * sizeof(float)), *again = tb_malloc(B * T * V * sizeof(float));
    float loss = fixture_forward_backward(m, B, T, logits);
    float *snapshot = params_snapshot(m);
    size_t bytes = m->vt->activation_bytes(m);

    CHECK(m->vt->alloc_activations(m, 1, m->spec.max_seq_len + 1) != 0 && m->acts &&
              m->acts->B == B && m->acts->T == T,
          "a refused batch shape dropped the activations in place");
    CHECK(m->vt->alloc_activations(m, 1, SMALL_T) == 0, "%s", tb_last_error());
    CHECK(m->acts->B == 1 && m->acts->T == SMALL_T && m->vt->activation_bytes(m) < bytes,
          "activations for 1 x %d: %d x %d, %zu bytes (%zu for %d x %d)", SMALL_T, m->acts->B,
          m->acts->T, m->vt->activation_bytes(m), bytes, B, T);
    CHECK(params_unchanged(m, snapshot), "new activations changed the parameters or moments");
    int32_t inputs[B * T], targets[B * T];
    fixture_batch(inputs, targets);
    m->vt->forward(m, inputs, targets, 1, SMALL_T);
    float small_loss = m->acts->loss;
    CHECK(params_unchanged(m, snapshot), "a forward changed the parameters, gradients or moments");

    CHECK(m->vt->alloc_activations(m, B, T) == 0, "%s", tb_last_error());
    CHECK(params_unchanged(m, snapshot), "reallocated activations changed the parameters");
    float loss2 = fixture_forward_backward(m, B, T, again);
    CHECK(loss2 == loss && memcmp(logits, again, B * T * V * sizeof(float)) == 0 &&
              params_unchanged(m, snapshot),
          "after reallocating the activations, forward and backward give other bits "
          "(loss %.9g, was %.9g)", loss2, loss);

    // A second set over the same parameters, used between this set's forward
    // and its backward.
    ModelActivations *eval = model_activations_create(m, 1, SMALL_T);
    CHECK(eval && eval != m->acts, "a second set of activations: %s", tb_last_error());
    if (eval) {
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, B, T);
        ModelActivations *train = model_use_activations(m, eval);
        m->vt->forward(m, inputs, targets, 1, SMALL_T);
        float eval_loss = m->acts->loss;
        CHECK(model_use_activations(m, train) == eval, "model_use_activations returned another set");
        m->vt->backward(m);
        m->be->to_host(again, m->acts->logits, B * T * V * sizeof(float));
        CHECK(eval_loss == small_loss && m->acts->loss == loss &&
                  memcmp(logits, again, B * T * V * sizeof(float)) == 0 &&
                  params_unchanged(m, snapshot),
              "two sets of activations over one set of parameters disturb each other (loss %.9g "
              "and %.9g, alone %.9g and %.9g)", m->acts->loss, eval_loss, loss, small_loss);
        model_activations_destroy(m, eval);
    }
    printf("  activations apart: %d x %d (%zu bytes) -> 1 x %d -> back, and a second set: "
           "parameters, gradients and moments bit-identical\n", B, T, bytes, SMALL_T);
    free(snapshot), free(logits), free(again);
}

// ---------------------------------------------------------------- determinism, resume

// Where check_determinism_and_resume saves its checkpoint.
static const char *resume_checkpoint_dir(void) {
    static char dir[96];
    snprintf(dir, sizeof dir, "%s/ck", test_tmpdir);
    return dir;
}

// Two models (a, b: created alike, with activations for the fixture's batch)
// from one seed start alike and train alike (losses and parameters, bit for
// bit) for save_at of the fixture's AdamW steps; b, saved then and loaded
// into a fresh model, goes on to the same losses and parameters as a's
// uninterrupted run, bit for bit; another seed draws other weights. Returns the resumed model for the caller's
// checks of its spec (the caller destroys it), or NULL.
static Model *check_determinism_and_resume(Model *a, Model *b, int save_at) {
    enum { STEPS = FIXTURE_ADAM_STEPS };
    OptimConfig oc;
    fixture_adam_config(&oc);
    float la[STEPS], lb[STEPS];
    a->vt->init_weights(a, 1234);
    b->vt->init_weights(b, 1234);
    CHECK(memcmp(a->params.values, b->params.values, a->params.num_params * sizeof(float)) == 0, "init is not reproducible");
    train_fixture_steps(a, &oc, 1, save_at, la, NULL, NULL);
    train_fixture_steps(b, &oc, 1, save_at, lb, NULL, NULL);
    CHECK(memcmp(la, lb, (size_t)save_at * sizeof(float)) == 0,
          "two runs with one seed give different losses");
    CHECK(memcmp(a->params.values, b->params.values, a->params.num_params * sizeof(float)) == 0,
          "two runs with one seed give different parameters");
    train_fixture_steps(a, &oc, save_at + 1, STEPS, la, NULL, NULL);

    const char *dir = resume_checkpoint_dir();
    TrainState ts = {0};
    ts.step = save_at;
    rng_seed(&ts.rng, 99);
    ts.optim = oc;
    CHECK(checkpoint_save(dir, b, &ts, NULL) == 0, "checkpoint_save: %s", tb_last_error());
    TrainState back = {0};
    Model *c = checkpoint_load(dir, backend_cpu(), &back);
    CHECK(c != NULL, "checkpoint_load: %s", tb_last_error());
    if (c) {
        CHECK(back.step == save_at, "the train state's step %lld, saved at %d", (long long)back.step,
              save_at);
        if (c->vt->alloc_activations(c, FIXTURE_B, FIXTURE_T)) tb_die("%s", tb_last_error());
        train_fixture_steps(c, &oc, save_at + 1, STEPS, lb, NULL, NULL);
        CHECK(memcmp(la, lb, sizeof la) == 0, "resumed losses differ from the uninterrupted run");
        CHECK(memcmp(a->params.values, c->params.values, a->params.num_params * sizeof(float)) == 0,
              "resumed parameters differ from the uninterrupted run");
    }
    b->vt->init_weights(b, 1235);
    CHECK(memcmp(a->params.values, b->params.values, a->params.num_params * sizeof(float)) != 0, "the seed is ignored");
    return c;
}

// ---------------------------------------------------------------- all of the above

// Every check above, each on fresh models of the named tiny config: against
// the fixture (forward, backward, AdamW), finite differences on
// fd_coords_per_tensor coordinates of every tensor, decoding with the given
// prefill lengths, activations apart from parameters, determinism and resume. Returns the resumed model for the
// caller's checks of its spec (the caller destroys it), or NULL.
static Model *run_model_checks(const char *config, int vocab, int fd_coords_per_tensor,
                               const int *prefill_lens, int num_lens) {
    Model *m = fixture_model(config, vocab);
    check_forward_backward_against_fixture(m);
    model_destroy(m);
    m = fixture_model(config, vocab);
    check_adamw_steps_against_fixture(m);
    model_destroy(m);
    m = fixture_model(config, vocab);
    check_finite_differences_on_fixture(m, fd_coords_per_tensor);
    model_destroy(m);
    m = fixture_model(config, vocab);
    check_decode_against_forward(m, prefill_lens, num_lens);
    model_destroy(m);
    m = fixture_model(config, vocab);
    check_activations_apart(m);
    model_destroy(m);
    Model *a = fixture_model(config, vocab), *b = fixture_model(config, vocab);
    Model *resumed = check_determinism_and_resume(a, b, 4);
    model_destroy(a);
    model_destroy(b);
    return resumed;
}

#endif
