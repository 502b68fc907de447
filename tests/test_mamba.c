// test_mamba.c: Mamba on the CPU against PyTorch (tests/make_mamba_fixtures.py),
// against finite differences, and against itself (recurrent decode, chunk
// sizes, determinism, checkpoint resume), plus the init statistics.
//
// The fixture is the tiny config (d_model 32, 2 layers, d_state 4, d_conv 4,
// expand 2, dt_rank 2, vocabulary 50, scan chunk 5, which does not divide
// T = 16) with PyTorch's parameters, logits, losses, every parameter
// gradient, and 10 AdamW steps.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../kernels/backend.h"
#include "../models/checkpoint.h"
#include "../models/model.h"
#include "../models/safetensors.h"
#include "lib/common.h"
#include "test.h"
#include "model_checks.h"

#define FIXTURE "tests/fixtures/mamba/tiny.safetensors"
enum { V = 50, B = 2, T = 16, ADAM_STEPS = 10 };

static Model *tiny_model_chunk(int chunk) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-mamba", V)) tb_die("%s", tb_last_error());
    if (chunk > 0) spec.scan_chunk = chunk;
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    if (m->vt->alloc_activations(m, B, T)) tb_die("%s", tb_last_error());
    return m;
}
static Model *tiny_model(void) { return tiny_model_chunk(0); }

// ---------------------------------------------------------------- vs PyTorch

static void test_forward_backward(void) {
    Model *m = tiny_model();
    load_params(m);
    int32_t inputs[B * T], targets[B * T];
    fixture_tokens(inputs, "inputs", 0, B * T);
    fixture_tokens(targets, "targets", 0, B * T);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    const float *ref_logits = fixture("logits", (size_t)B * T * V);
    float lmax = max_abs(ref_logits, (size_t)B * T * V);
    check_close("logits vs torch", m->logits, ref_logits, (size_t)B * T * V, 1e-5f * lmax, 1e-5f);
    check_close("per-position losses vs torch", m->losses_host, fixture("losses", B * T), B * T,
                1e-6f, 1e-5f);
    check_close("mean loss vs torch", &m->loss, fixture("loss", 1), 1, 0.0f, 2e-6f);
    printf("  logits max rel err %.2e, loss %.7f (torch %.7f)\n",
           rel_err(m->logits, ref_logits, (size_t)B * T * V), m->loss, fixture("loss", 1)[0]);

    m->vt->backward(m);
    check_grads_against_fixture(m);
    model_destroy(m);
}

static void adam_config(OptimConfig *oc) {
    optim_config_default(oc);  // the numbers of make_mamba_fixtures.py
    oc->lr = 1e-2f, oc->min_lr = 1e-3f, oc->warmup_steps = 3, oc->total_steps = 10;
    oc->beta1 = 0.9f, oc->beta2 = 0.95f, oc->eps = 1e-8f, oc->weight_decay = 0.1f;
    oc->grad_clip = 1.0f;
}

static void train_steps(Model *m, const OptimConfig *oc, int first, int last, float *losses,
                        float *norms) {
    int32_t inputs[B * T], targets[B * T];
    for (int step = first; step <= last; step++) {
        fixture_tokens(inputs, "adam.inputs", (size_t)(step - 1) * B * T, B * T);
        fixture_tokens(targets, "adam.targets", (size_t)(step - 1) * B * T, B * T);
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, B, T);
        m->vt->backward(m);
        float norm = model_adamw_step(m, oc, step, optim_lr_at(oc, step));
        if (losses) losses[step - 1] = m->loss;
        if (norms) norms[step - 1] = norm;
    }
}

static void test_adamw_steps(void) {
    Model *m = tiny_model();
    load_params(m);
    OptimConfig oc;
    adam_config(&oc);
    float losses[ADAM_STEPS], norms[ADAM_STEPS];
    train_steps(m, &oc, 1, ADAM_STEPS, losses, norms);
    check_adamw_against_fixture(m, losses, norms, ADAM_STEPS);
    model_destroy(m);
}

// ---------------------------------------------------------------- finite differences

static void test_finite_differences(void) {
    Model *m = tiny_model();
    load_params(m);
    int32_t inputs[B * T], targets[B * T];
    fixture_tokens(inputs, "inputs", 0, B * T);
    fixture_tokens(targets, "targets", 0, B * T);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    check_finite_differences(m, inputs, targets, B, T, 5);
    model_destroy(m);
}

// ---------------------------------------------------------------- inference

static void test_recurrent_decode(void) {
    Model *m = tiny_model();
    load_params(m);
    int32_t inputs[B * T];
    fixture_tokens(inputs, "inputs", 0, B * T);
    m->vt->forward(m, inputs, NULL, B, T);
    const float *full = m->logits;
    float logits[V];
    if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());

    // Token by token from a reset state: every position equals the full forward.
    m->vt->decode_reset(m);
    int ok = 1;
    for (int t = 0; t < T; t++) {
        m->vt->decode_step(m, inputs[t], logits);
        char what[64];
        snprintf(what, sizeof what, "decode_step logits at position %d", t);
        ok &= check_close(what, logits, full + (size_t)t * V, V, 1e-5f, 1e-5f);
    }
    CHECK(m->decode_pos == T, "decode_pos %d after %d steps", m->decode_pos, T);

    // A batched prefill (2 < d_conv, then 7), then steps; a prefill that continues.
    int lens[] = {2, 7};
    for (int k = 0; k < 2; k++) {
        int n = lens[k];
        m->vt->decode_reset(m);
        m->vt->prefill(m, inputs, n, logits);
        check_close("prefill logits", logits, full + (size_t)(n - 1) * V, V, 1e-5f, 1e-5f);
        for (int t = n; t < 12; t++) {
            m->vt->decode_step(m, inputs[t], logits);
            char what[64];
            snprintf(what, sizeof what, "decode_step at %d after prefill(%d)", t, n);
            check_close(what, logits, full + (size_t)t * V, V, 1e-5f, 1e-5f);
        }
    }
    m->vt->prefill(m, inputs + 12, T - 12, logits);
    check_close("prefill continuing at position 12", logits, full + (size_t)(T - 1) * V, V, 1e-5f, 1e-5f);
    // The second row after a reset: no state leaks from the first.
    m->vt->decode_reset(m);
    m->vt->prefill(m, inputs + T, T, logits);
    check_close("prefill(16) of row 1 after a reset", logits, full + ((size_t)T + T - 1) * V, V,
                1e-5f, 1e-5f);
    model_destroy(m);
}

// ---------------------------------------------------------------- chunking, determinism, resume

// The scan's chunk size only trades memory for recomputation: losses and
// every gradient are bit-identical for chunks that do and do not divide T.
static void test_chunk_sizes(void) {
    int32_t inputs[B * T], targets[B * T];
    fixture_tokens(inputs, "inputs", 0, B * T);
    fixture_tokens(targets, "targets", 0, B * T);
    Model *ref = tiny_model_chunk(T);  // one chunk: nothing recomputed from a saved state
    load_params(ref);
    model_zero_grad(ref);
    ref->vt->forward(ref, inputs, targets, B, T);
    ref->vt->backward(ref);
    int chunks[] = {1, 3, 4, 5, 8, 100};
    for (int i = 0; i < 6; i++) {
        Model *m = tiny_model_chunk(chunks[i]);
        load_params(m);
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, B, T);
        m->vt->backward(m);
        CHECK(m->loss == ref->loss &&
                  memcmp(m->grads, ref->grads, m->num_params * sizeof(float)) == 0,
              "scan chunk %d: loss or gradients differ from the unchunked scan", chunks[i]);
        model_destroy(m);
    }
    model_destroy(ref);
}

static char tmpdir[64];

static void test_determinism_and_resume(void) {
    OptimConfig oc;
    adam_config(&oc);
    float la[ADAM_STEPS], lb[ADAM_STEPS];
    Model *a = tiny_model(), *b = tiny_model();
    a->vt->init_weights(a, 1234);
    b->vt->init_weights(b, 1234);
    CHECK(memcmp(a->params, b->params, a->num_params * sizeof(float)) == 0, "init is not reproducible");
    train_steps(a, &oc, 1, ADAM_STEPS, la, NULL);
    train_steps(b, &oc, 1, 4, lb, NULL);
    CHECK(memcmp(la, lb, 4 * sizeof(float)) == 0, "two runs with one seed give different losses");

    // Save b after 4 steps, load into a fresh model, continue to 10: the
    // losses and final parameters equal the uninterrupted run bit for bit.
    char dir[128];
    snprintf(dir, sizeof dir, "%s/ck", tmpdir);
    TrainState ts = {0};
    ts.step = 4;
    rng_seed(&ts.rng, 99);
    ts.optim = oc;
    CHECK(checkpoint_save(dir, b, &ts) == 0, "checkpoint_save: %s", tb_last_error());
    TrainState back = {0};
    Model *c = checkpoint_load(dir, backend_cpu(), &back);
    CHECK(c != NULL, "checkpoint_load: %s", tb_last_error());
    if (c) {
        CHECK(strcmp(c->spec.arch, "mamba") == 0 && c->spec.scan_chunk == a->spec.scan_chunk &&
                  strcmp(c->spec.a_init, "s4d_real") == 0 && back.step == 4,
              "checkpoint spec or step did not round-trip");
        if (c->vt->alloc_activations(c, B, T)) tb_die("%s", tb_last_error());
        train_steps(c, &oc, 5, ADAM_STEPS, lb, NULL);
        CHECK(memcmp(la, lb, sizeof la) == 0, "resumed losses differ from the uninterrupted run");
        CHECK(memcmp(a->params, c->params, a->num_params * sizeof(float)) == 0,
              "resumed parameters differ from the uninterrupted run");
        model_destroy(c);
    }
    b->vt->init_weights(b, 1235);
    CHECK(memcmp(a->params, b->params, a->num_params * sizeof(float)) != 0, "the seed is ignored");
    model_destroy(a);
    model_destroy(b);
}

// ---------------------------------------------------------------- init, counts, config

static void stats(const float *x, size_t n, double *mean, double *sd, float *lo, float *hi) {
    double s = 0, s2 = 0;
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
    *mean = s / n;
    for (size_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(s2 / n);
}

static void test_init_and_config(void) {
    ModelSpec spec;
    const size_t want_params[2] = {5956608, 61169920};
    const char *names[2] = {"mamba-6m", "mamba-60m"};
    for (int k = 0; k < 2; k++) {
        model_spec_by_name(&spec, names[k], 1024);
        Model *m = model_create(&spec, backend_cpu());
        CHECK(m && m->num_params == want_params[k], "%s has %zu parameters, expected %zu",
              names[k], m ? m->num_params : 0, want_params[k]);
        if (m) printf("  %s: %zu parameters\n", names[k], m->num_params);
        model_destroy(m);
    }
    model_spec_by_name(&spec, "mamba-6m", 1024);
    Model *m = model_create(&spec, backend_cpu());
    if (!m) return;
    m->vt->init_weights(m, 1);
    const int L = spec.n_layer, d = 256, di = 512, R = 16, S = 16;
    const float *P = m->params;
    double mean, sd;
    float lo, hi;
    // embedding N(0, 0.02)
    const ParamTensor *t = model_find_tensor(m, "backbone.embedding.weight");
    stats(P + t->offset, t->numel, &mean, &sd, &lo, &hi);
    CHECK(fabs(mean) < 3e-4 && fabs(sd - 0.02) < 0.0006, "embedding mean %g std %g", mean, sd);
    CHECK(t->weight_decay, "the embedding decays");
    // A_log = log(n + 1), exactly, every layer; D = 1; norms = 1
    int a_ok = 1, d_ok = 1;
    for (int l = 0; l < L; l++) {
        char name[96];
        snprintf(name, sizeof name, "backbone.layers.%d.mixer.A_log", l);
        const float *A = model_param(m, name);
        for (int c = 0; c < di; c++)
            for (int n = 0; n < S; n++) a_ok &= A[c * S + n] == logf((float)(n + 1));
        snprintf(name, sizeof name, "backbone.layers.%d.mixer.D", l);
        const float *D = model_param(m, name);
        for (int c = 0; c < di; c++) d_ok &= D[c] == 1.0f;
    }
    CHECK(a_ok, "A_log is not log(n+1) (S4D-Real)");
    CHECK(d_ok, "D is not 1");
    // dt bias: softplus(bias) = dt in [1e-3, 0.1], log-uniform: mean of log dt
    // is the midpoint of the log range.
    const float *dtb = model_param(m, "backbone.layers.5.mixer.dt_proj.bias");
    double lsum = 0, dmin = 1, dmax = 0;
    for (int c = 0; c < di; c++) {
        double dt = log1p(exp((double)dtb[c]));
        lsum += log(dt), dmin = fmin(dmin, dt), dmax = fmax(dmax, dt);
    }
    double lmid = 0.5 * (log(1e-3) + log(0.1)), lsd = (log(0.1) - log(1e-3)) / sqrt(12.0);
    CHECK(dmin >= 1e-3 * 0.999 && dmax <= 0.1 * 1.001 && fabs(lsum / di - lmid) < 4 * lsd / sqrt(di),
          "softplus(dt_proj.bias) range [%g, %g], mean log %g (want %g)", dmin, dmax, lsum / di, lmid);
    CHECK(dmax > 0.05 && dmin < 2e-3, "dt does not span its range: [%g, %g]", dmin, dmax);
    // dt_proj.weight U(+-R^-0.5): bounds and std bound/sqrt(3)
    t = model_find_tensor(m, "backbone.layers.5.mixer.dt_proj.weight");
    stats(P + t->offset, t->numel, &mean, &sd, &lo, &hi);
    float b = 1.0f / sqrtf((float)R);
    CHECK(lo >= -b && hi <= b && hi > 0.95f * b && fabs(sd - b / sqrt(3.0)) < 0.03 * b,
          "dt_proj.weight in [%g, %g] std %g, want U(+-%g)", lo, hi, sd, b);
    // in_proj U(+-1/sqrt(d)); out_proj U(+-1/sqrt(di)) / sqrt(n_layer)
    t = model_find_tensor(m, "backbone.layers.0.mixer.in_proj.weight");
    stats(P + t->offset, t->numel, &mean, &sd, &lo, &hi);
    b = 1.0f / sqrtf((float)d);
    CHECK(lo >= -b && hi <= b && fabs(sd - b / sqrt(3.0)) < 0.01 * b, "in_proj std %g want %g", sd, b / sqrt(3.0));
    t = model_find_tensor(m, "backbone.layers.0.mixer.out_proj.weight");
    stats(P + t->offset, t->numel, &mean, &sd, &lo, &hi);
    b = 1.0f / sqrtf((float)di) / sqrtf((float)L);
    CHECK(lo >= -b && hi <= b && fabs(sd - b / sqrt(3.0)) < 0.01 * b,
          "out_proj std %g want %g (prenorm-residual rescale by 1/sqrt(n_layer))", sd, b / sqrt(3.0));
    // weight decay flags: matrices yes; A_log, D, biases, norms no
    const char *nd[] = {"backbone.layers.0.mixer.A_log", "backbone.layers.0.mixer.D",
                        "backbone.layers.0.mixer.dt_proj.bias", "backbone.layers.0.mixer.conv1d.bias",
                        "backbone.layers.0.norm.weight", "backbone.norm_f.weight"};
    for (int i = 0; i < 6; i++) CHECK(!model_find_tensor(m, nd[i])->weight_decay, "%s decays", nd[i]);
    CHECK(model_find_tensor(m, "backbone.layers.0.mixer.x_proj.weight")->weight_decay, "x_proj decays");

    // config.json: MambaConfig fields that read back into the same spec
    cJSON *cfg = m->vt->config_json(m);
    const cJSON *ssm = cJSON_GetObjectItem(cfg, "ssm_cfg");
    CHECK(cJSON_GetObjectItem(cfg, "d_model")->valueint == 256 &&
              cJSON_GetObjectItem(cfg, "n_layer")->valueint == 13 &&
              cJSON_GetObjectItem(cfg, "vocab_size")->valueint == 1024 &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "rms_norm")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_embeddings")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "residual_in_fp32")) &&
              cJSON_GetObjectItem(cfg, "pad_vocab_size_multiple")->valueint == 8 &&
              cJSON_GetObjectItem(ssm, "d_state")->valueint == 16 &&
              cJSON_GetObjectItem(ssm, "dt_rank")->valueint == 16,
          "config.json fields");
    ModelSpec back;
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") == 0 && back.d_model == 256 &&
              back.n_layer == 13 && back.d_state == 16 && back.d_conv == 4 && back.expand == 2 &&
              back.dt_rank == 16 && back.vocab_size == 1024 && strcmp(back.arch, "mamba") == 0,
          "config.json does not read back: %s", tb_last_error());
    cJSON_Delete(cfg);
    model_destroy(m);

    // The non-HiPPO baseline: A = -1/2 everywhere.
    model_spec_by_name(&spec, "tiny-mamba", V);
    snprintf(spec.a_init, sizeof spec.a_init, "constant");
    m = model_create(&spec, backend_cpu());
    m->vt->init_weights(m, 3);
    const float *A = model_param(m, "backbone.layers.1.mixer.A_log");
    int c_ok = 1;
    for (size_t i = 0; i < model_find_tensor(m, "backbone.layers.1.mixer.A_log")->numel; i++)
        c_ok &= A[i] == logf(0.5f);
    CHECK(c_ok, "a_init constant: A_log is not log(1/2)");
    model_destroy(m);
    snprintf(spec.a_init, sizeof spec.a_init, "hippo2");
    CHECK(model_create(&spec, backend_cpu()) == NULL && strstr(tb_last_error(), "a_init"),
          "an unknown a_init is refused: %s", tb_last_error());
}

int main(void) {
    fixture_open(FIXTURE);
    CHECK(fx != NULL, "%s", tb_last_error());
    if (!fx) return test_summary("test_mamba");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tb_test_mamba_XXXXXX");
    if (!mkdtemp(tmpdir)) tb_die("mkdtemp failed");
    test_forward_backward();
    test_adamw_steps();
    test_finite_differences();
    test_recurrent_decode();
    test_chunk_sizes();
    test_determinism_and_resume();
    test_init_and_config();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    st_close(fx);
    return test_summary("test_mamba");
}
