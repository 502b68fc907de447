// test_lstm.c: the LSTM on the CPU against torch.nn.LSTM
// (tests/make_lstm_fixtures.py), against finite differences, and against
// itself (decode and prefill vs the full forward, determinism, checkpoint
// resume), plus the sizes, the init and config.json.
//
// The fixture is the tiny config (hidden 24: one 16-wide vector and a scalar
// tail; 2 layers; vocabulary 50) with PyTorch's parameters, logits, losses,
// every parameter gradient, and 10 AdamW steps.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "../kernels/backend.h"
#include "../models/checkpoint.h"
#include "../models/model.h"
#include "../models/safetensors.h"
#include "lib/common.h"
#include "test.h"
#include "model_checks.h"

#define FIXTURE "tests/fixtures/lstm/tiny.safetensors"
enum { V = 50, B = 2, T = 16, H = 24, ADAM_STEPS = 10 };

static Model *tiny_model_on(const Backend *be) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-lstm", V)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, be);
    if (!m) tb_die("%s", tb_last_error());
    if (m->vt->alloc_activations(m, B, T)) tb_die("%s", tb_last_error());
    return m;
}
static Model *tiny_model(void) { return tiny_model_on(backend_cpu()); }

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
    // A second backward accumulates: every parameter gradient doubles.
    float *once = tb_malloc(m->num_params * sizeof(float));
    memcpy(once, m->grads, m->num_params * sizeof(float));
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    int doubled = 1;
    for (size_t i = 0; i < m->num_params; i++)
        doubled &= fabsf(m->grads[i] - 2.0f * once[i]) <= 1e-6f + 1e-5f * fabsf(once[i]);
    CHECK(doubled, "parameter gradients do not accumulate over two backwards");
    free(once);
    model_destroy(m);
}

static void adam_config(OptimConfig *oc) {
    optim_config_default(oc);  // the numbers of tests/fixture_common.py
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
    check_finite_differences(m, inputs, targets, B, T, 6);
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
    float logits[V], logits2[V];
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

    // A batched prefill, then steps; a prefill that continues from a state.
    int lens[] = {1, 7};
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
    CHECK(m->decode_pos == T, "decode_pos %d after prefills to %d", m->decode_pos, T);
    // The second row after a reset: no state leaks from the first.
    m->vt->decode_reset(m);
    m->vt->prefill(m, inputs + T, T, logits);
    check_close("prefill(16) of row 1 after a reset", logits, full + ((size_t)T + T - 1) * V, V,
                1e-5f, 1e-5f);

    // No context limit: 40 tokens (2.5 x max_seq_len) as one prefill (three
    // chunks inside) equal 40 decode steps, bit for bit up to the GEMM shapes.
    enum { LONG = 40 };
    int32_t toks[LONG];
    for (int i = 0; i < LONG; i++) toks[i] = inputs[i % (B * T)];
    m->vt->decode_reset(m);
    for (int i = 0; i < LONG; i++) m->vt->decode_step(m, toks[i], logits);
    m->vt->decode_reset(m);
    m->vt->prefill(m, toks, LONG, logits2);
    check_close("prefill(40) past max_seq_len vs 40 decode steps", logits2, logits, V, 1e-5f, 1e-5f);
    CHECK(m->decode_pos == LONG, "decode_pos %d after a prefill of %d", m->decode_pos, LONG);
    model_destroy(m);
}

// ---------------------------------------------------------------- the op's thread splits

// The CPU op splits a step's work by batch rows (no barrier) or by hidden
// units (a barrier per step), depending on the rows per thread. Every output
// element is the same sum in the same order either way: the activations and
// dgates are bit-identical at 1, 2 (rows) and 3 (units, B = 2) threads; dW_hh
// and db_hh come from a GEMM split by thread count and are compared closely.
static void test_op_thread_splits(void) {
    enum { OB = 2, OT = 12, OH = 150, OG = 4 * OH };  // panels of 64, 64 and 22 units
    const Backend *be = backend_cpu();
    Rng rng;
    rng_seed(&rng, 31);
    float *w_hh = tb_malloc(sizeof(float) * OG * OH), *b_hh = tb_malloc(sizeof(float) * OG);
    float *x = tb_malloc(sizeof(float) * OB * OT * OG), *dh = tb_malloc(sizeof(float) * OB * OT * OH);
    for (int i = 0; i < OG * OH; i++) w_hh[i] = 0.3f * (2 * rng_uniform(&rng) - 1);
    for (int i = 0; i < OG; i++) b_hh[i] = 0.5f * (2 * rng_uniform(&rng) - 1);
    for (int i = 0; i < OB * OT * OG; i++) x[i] = 2 * rng_uniform(&rng) - 1;
    for (int i = 0; i < OB * OT * OH; i++) dh[i] = 2 * rng_uniform(&rng) - 1;
    const size_t NA = (size_t)OB * OT * OG, NH = (size_t)OB * OT * OH;
    float *ref = NULL, *out = tb_malloc(sizeof(float) * (2 * NA + 3 * NH + OG * OH + OG));
    int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        LstmParams p = {.batch = OB, .seqlen = OT, .hidden = OH, .w_hh = w_hh, .b_hh = b_hh, .dh = dh};
        float *o = out;
        p.gates = o, o += NA;
        p.dgates = o, o += NA;
        p.h = o, o += NH;
        p.h_prev = o, o += NH;
        p.c = o, o += NH;
        p.dw_hh = o, o += OG * OH;
        p.db_hh = o;
        memset(out, 0, sizeof(float) * (2 * NA + 3 * NH + OG * OH + OG));
        memcpy(p.gates, x, sizeof(float) * NA);
        p.scratch = tb_malloc(sizeof(float) * be->lstm_scratch_floats(&p));
        be->lstm_forward(&p);
        be->lstm_backward(&p);
        free(p.scratch);
        if (!ref) {
            ref = tb_malloc(sizeof(float) * (2 * NA + 3 * NH + OG * OH + OG));
            memcpy(ref, out, sizeof(float) * (2 * NA + 3 * NH + OG * OH + OG));
            continue;
        }
        CHECK(memcmp(out, ref, sizeof(float) * (2 * NA + 3 * NH)) == 0,
              "lstm op at %d threads: gates, dgates, h or c differ from 1 thread", threads);
        char what[96];
        snprintf(what, sizeof what, "lstm op dW_hh, db_hh at %d threads vs 1", threads);
        check_close(what, out + 2 * NA + 3 * NH, ref + 2 * NA + 3 * NH, OG * OH + OG, 1e-6f, 1e-5f);
    }
    omp_set_num_threads(saved);
    free(ref), free(out), free(w_hh), free(b_hh), free(x), free(dh);
}

// ---------------------------------------------------------------- determinism, resume

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
        CHECK(strcmp(c->spec.arch, "lstm") == 0 && strcmp(c->spec.name, "tiny-lstm") == 0 &&
                  c->spec.d_model == H && c->spec.n_layer == 2 && c->spec.max_seq_len == T &&
                  back.step == 4,
              "checkpoint spec or step did not round-trip");
        if (c->vt->alloc_activations(c, B, T)) tb_die("%s", tb_last_error());
        train_steps(c, &oc, 5, ADAM_STEPS, lb, NULL);
        CHECK(memcmp(la, lb, sizeof la) == 0, "resumed losses differ from the uninterrupted run");
        CHECK(memcmp(a->params, c->params, a->num_params * sizeof(float)) == 0,
              "resumed parameters differ from the uninterrupted run");
        model_destroy(c);
    }
    // The safetensors file holds nn.LSTM's names, and lm_head.weight as the
    // tied embedding's copy.
    char path[160];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors *st = st_open(path);
    CHECK(st != NULL, "%s: %s", path, tb_last_error());
    if (st) {
        const char *names[] = {"embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0",
                               "lstm.bias_ih_l0", "lstm.bias_hh_l0", "lstm.weight_ih_l1",
                               "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
                               "lm_head.weight"};
        const int64_t rows[] = {V, 4 * H, 4 * H, 4 * H, 4 * H, 4 * H, 4 * H, 4 * H, 4 * H, V};
        int found = 0;
        for (int i = 0; i < 10; i++) {
            const StTensor *t = st_find(st, names[i]);
            found += t && t->shape[0] == rows[i];
        }
        CHECK(found == 10 && st->num_tensors == 10, "checkpoint tensors: %d of 10 named and "
              "shaped as nn.LSTM's, %d in the file", found, st->num_tensors);
        st_close(st);
    }
    // Another architecture's checkpoint is refused with the reason.
    Model *g = NULL;
    {
        ModelSpec spec;
        model_spec_by_name(&spec, "tiny-gpt2", V);
        g = model_create(&spec, backend_cpu());
    }
    CHECK(g && checkpoint_load_into(g, dir, NULL) != 0 && strstr(tb_last_error(), "lstm"),
          "a GPT-2 accepted an LSTM checkpoint: %s", tb_last_error());
    model_destroy(g);
    b->vt->init_weights(b, 1235);
    CHECK(memcmp(a->params, b->params, a->num_params * sizeof(float)) != 0, "the seed is ignored");
    model_destroy(a);
    model_destroy(b);
}

// ---------------------------------------------------------------- sizes, init, config

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

static void test_sizes_init_and_config(void) {
    // Within 5% of the GPT-2 of each size (models/configs.c).
    const char *names[2] = {"lstm-6m", "lstm-60m"};
    const size_t want[2] = {6032640, 58232832}, gpt2[2] = {5856512, 59902720};
    ModelSpec spec;
    for (int k = 0; k < 2; k++) {
        model_spec_by_name(&spec, names[k], 1024);
        Model *m = model_create(&spec, backend_cpu());
        CHECK(m && m->num_params == want[k], "%s has %zu parameters, expected %zu", names[k],
              m ? m->num_params : 0, want[k]);
        double ratio = m ? (double)m->num_params / gpt2[k] : 0;
        CHECK(fabs(ratio - 1) <= 0.05, "%s is %.3fx its GPT-2", names[k], ratio);
        if (m) printf("  %s: %zu parameters (%+.1f%% vs GPT-2)\n", names[k], m->num_params, 100 * (ratio - 1));
        model_destroy(m);
    }
    model_spec_by_name(&spec, "lstm-6m", 1024);
    Model *m = model_create(&spec, backend_cpu());
    if (!m) return;
    m->vt->init_weights(m, 1);
    const int Hm = 480;
    double mean, sd;
    float lo, hi;
    const ParamTensor *t = model_find_tensor(m, "embedding.weight");
    stats(m->params + t->offset, t->numel, &mean, &sd, &lo, &hi);
    CHECK(fabs(mean) < 3e-4 && fabs(sd - 0.02) < 0.0006 && t->weight_decay,
          "embedding mean %g std %g (want N(0, 0.02), decayed)", mean, sd);
    const float bound = 1.0f / sqrtf((float)Hm);
    const char *mats[] = {"lstm.weight_ih_l0", "lstm.weight_hh_l2"};
    for (int i = 0; i < 2; i++) {
        t = model_find_tensor(m, mats[i]);
        stats(m->params + t->offset, t->numel, &mean, &sd, &lo, &hi);
        CHECK(t->weight_decay && lo >= -bound && hi <= bound && hi > 0.99f * bound &&
                  fabs(sd - bound / sqrt(3.0)) < 0.01 * bound,
              "%s in [%g, %g] std %g, want U(+-%g), decayed", mats[i], lo, hi, sd, bound);
    }
    // bias_ih: U(+-1/sqrt(H)), the forget slice shifted by +1; bias_hh plain.
    const float *bih = model_param(m, "lstm.bias_ih_l1"), *bhh = model_param(m, "lstm.bias_hh_l1");
    int bias_ok = !model_find_tensor(m, "lstm.bias_ih_l1")->weight_decay &&
                  !model_find_tensor(m, "lstm.bias_hh_l1")->weight_decay;
    double fsum = 0;
    for (int j = 0; j < 4 * Hm; j++) {
        float shift = j >= Hm && j < 2 * Hm ? 1.0f : 0.0f;
        bias_ok &= fabsf(bih[j] - shift) <= bound && fabsf(bhh[j]) <= bound;
        if (shift) fsum += bih[j];
    }
    CHECK(bias_ok && fabs(fsum / Hm - 1.0) < 0.01, "biases: forget slice of bias_ih mean %g (want 1)",
          fsum / Hm);

    // config.json: what rebuilds the model in PyTorch, and what reads back.
    cJSON *cfg = m->vt->config_json(m);
    const cJSON *kw = cJSON_GetObjectItem(cfg, "lstm");
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "model_type")), "lstm") == 0 &&
              cJSON_GetObjectItem(cfg, "hidden_size")->valueint == Hm &&
              cJSON_GetObjectItem(cfg, "num_layers")->valueint == 3 &&
              cJSON_GetObjectItem(cfg, "vocab_size")->valueint == 1024 &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings")) &&
              cJSON_GetObjectItem(kw, "input_size")->valueint == Hm &&
              cJSON_IsTrue(cJSON_GetObjectItem(kw, "batch_first")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(kw, "bias")) &&
              strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "lstm_tensor_prefix")), "lstm.") == 0,
          "config.json fields");
    ModelSpec back;
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") == 0 && back.d_model == Hm &&
              back.n_layer == 3 && back.vocab_size == 1024 && strcmp(back.arch, "lstm") == 0,
          "config.json does not read back: %s", tb_last_error());
    // What tunebench cannot compute is refused, with the field named.
    cJSON_ReplaceItemInObject(cfg, "embedding_dim", cJSON_CreateNumber(256));
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") != 0 &&
              strstr(tb_last_error(), "embedding_dim"), "an untied width is accepted: %s", tb_last_error());
    cJSON_ReplaceItemInObject(cfg, "embedding_dim", cJSON_CreateNumber(Hm));
    cJSON_ReplaceItemInObject(cfg, "tie_word_embeddings", cJSON_CreateFalse());
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") != 0 &&
              strstr(tb_last_error(), "tie_word_embeddings"), "an untied head is accepted");
    cJSON_Delete(cfg);
    model_destroy(m);
}

int main(void) {
    fixture_open(FIXTURE);
    CHECK(fx != NULL, "%s", tb_last_error());
    if (!fx) return test_summary("test_lstm");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tb_test_lstm_XXXXXX");
    if (!mkdtemp(tmpdir)) tb_die("mkdtemp failed");
    test_forward_backward();
    test_adamw_steps();
    test_finite_differences();
    test_recurrent_decode();
    test_op_thread_splits();
    test_determinism_and_resume();
    test_sizes_init_and_config();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    st_close(fx);
    return test_summary("test_lstm");
}
