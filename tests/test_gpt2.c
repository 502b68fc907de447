// test_gpt2.c: GPT-2 on the CPU against PyTorch (tests/make_gpt2_fixtures.py),
// against finite differences, and against itself (KV cache, determinism).
//
// The fixture is the tiny config (n_embd 32, 2 layers, 4 heads, 16 positions,
// vocabulary 50) with PyTorch's parameters, logits, losses, every parameter
// gradient, and 10 AdamW steps.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../kernels/backend.h"
#include "../models/model.h"
#include "../models/safetensors.h"
#include "lib/common.h"
#include "test.h"
#include "model_checks.h"

#define FIXTURE "tests/fixtures/gpt2/tiny.safetensors"
enum { V = 50, B = 2, T = 16, ADAM_STEPS = 10 };

static Model *tiny_model(void) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-gpt2", V)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    if (m->vt->alloc_activations(m, B, T)) tb_die("%s", tb_last_error());
    return m;
}

// ---------------------------------------------------------------- vs PyTorch

static void test_forward_backward(void) {
    Model *m = tiny_model();
    load_params(m);
    int32_t inputs[B * T], targets[B * T];
    fixture_tokens(inputs, "inputs", 0, B * T);
    fixture_tokens(targets, "targets", 0, B * T);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    // Logits are O(10) here; 1e-5 relative to the largest, per element.
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

    // A second backward accumulates: the gradients double.
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    const ParamTensor *t0 = model_find_tensor(m, "transformer.h.1.attn.c_attn.weight");
    float *twice = malloc(t0->numel * sizeof(float));
    const float *g1 = fixture("grad.transformer.h.1.attn.c_attn.weight", t0->numel);
    for (size_t i = 0; i < t0->numel; i++) twice[i] = 2.0f * g1[i];
    check_close("gradients accumulate over two backwards", m->grads + t0->offset, twice, t0->numel,
                2e-5f * max_abs(twice, t0->numel), 1e-5f);
    free(twice);
    model_destroy(m);
}

static void adam_config(OptimConfig *oc) {
    optim_config_default(oc);  // the numbers of make_gpt2_fixtures.py
    oc->lr = 1e-2f, oc->min_lr = 1e-3f, oc->warmup_steps = 3, oc->total_steps = 10;
    oc->beta1 = 0.9f, oc->beta2 = 0.95f, oc->eps = 1e-8f, oc->weight_decay = 0.1f;
    oc->grad_clip = 1.0f;
}

static void train_steps(Model *m, const OptimConfig *oc, int first, int last, float *losses,
                        float *norms, float *lrs) {
    int32_t inputs[B * T], targets[B * T];
    for (int step = first; step <= last; step++) {
        fixture_tokens(inputs, "adam.inputs", (size_t)(step - 1) * B * T, B * T);
        fixture_tokens(targets, "adam.targets", (size_t)(step - 1) * B * T, B * T);
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, B, T);
        m->vt->backward(m);
        float lr = optim_lr_at(oc, step);
        float norm = model_adamw_step(m, oc, step, lr);
        if (losses) losses[step - 1] = m->loss;
        if (norms) norms[step - 1] = norm;
        if (lrs) lrs[step - 1] = lr;
    }
}

static void test_adamw_steps(void) {
    Model *m = tiny_model();
    load_params(m);
    OptimConfig oc;
    adam_config(&oc);
    float losses[ADAM_STEPS], norms[ADAM_STEPS], lrs[ADAM_STEPS];
    train_steps(m, &oc, 1, ADAM_STEPS, losses, norms, lrs);
    check_close("AdamW learning rates vs torch", lrs, fixture("adam.lrs", ADAM_STEPS), ADAM_STEPS, 0, 1e-7f);
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
    check_finite_differences(m, inputs, targets, B, T, 4);
    model_destroy(m);
}

// ---------------------------------------------------------------- inference

static void test_kv_cache(void) {
    Model *m = tiny_model();
    load_params(m);
    int32_t inputs[B * T];
    fixture_tokens(inputs, "inputs", 0, B * T);
    m->vt->forward(m, inputs, NULL, B, T);
    const float *full = m->logits;  // row b = 0 is inputs[0..T)
    float logits[V];
    if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());

    // Token by token from position 0.
    m->vt->decode_reset(m);
    int ok = 1;
    for (int t = 0; t < T; t++) {
        m->vt->decode_step(m, inputs[t], logits);
        char what[64];
        snprintf(what, sizeof what, "decode_step logits at position %d", t);
        ok &= check_close(what, logits, full + (size_t)t * V, V, 1e-5f, 1e-5f);
    }
    CHECK(m->decode_pos == T, "decode_pos %d after %d steps", m->decode_pos, T);

    // A batched prefill of 7, then single steps; and a prefill that
    // continues an earlier one.
    m->vt->decode_reset(m);
    m->vt->prefill(m, inputs, 7, logits);
    check_close("prefill(7) logits", logits, full + 6 * V, V, 1e-5f, 1e-5f);
    for (int t = 7; t < 12; t++) {
        m->vt->decode_step(m, inputs[t], logits);
        check_close("decode_step after prefill", logits, full + (size_t)t * V, V, 1e-5f, 1e-5f);
    }
    m->vt->prefill(m, inputs + 12, T - 12, logits);
    check_close("prefill continuing at position 12", logits, full + (size_t)(T - 1) * V, V, 1e-5f, 1e-5f);
    // The second batch row, prefilled whole after a reset: stale cache
    // entries from the first must not leak in.
    m->vt->forward(m, inputs, NULL, B, T);
    m->vt->decode_reset(m);
    m->vt->prefill(m, inputs + T, T, logits);
    check_close("prefill(16) of row 1", logits, m->logits + ((size_t)T + T - 1) * V, V, 1e-5f, 1e-5f);
    model_destroy(m);
}

// ---------------------------------------------------------------- determinism, init, config

static void test_determinism_and_init(void) {
    OptimConfig oc;
    adam_config(&oc);
    float la[4], lb[4];
    Model *a = tiny_model(), *b = tiny_model();
    a->vt->init_weights(a, 1234);
    b->vt->init_weights(b, 1234);
    CHECK(memcmp(a->params, b->params, a->num_params * sizeof(float)) == 0, "init is not reproducible");
    train_steps(a, &oc, 1, 4, la, NULL, NULL);
    train_steps(b, &oc, 1, 4, lb, NULL, NULL);
    CHECK(memcmp(la, lb, sizeof la) == 0, "two runs with one seed give different losses");
    CHECK(memcmp(a->params, b->params, a->num_params * sizeof(float)) == 0,
          "two runs with one seed give different parameters");
    b->vt->init_weights(b, 1235);
    CHECK(memcmp(a->params, b->params, a->num_params * sizeof(float)) != 0, "the seed is ignored");
    model_destroy(a);
    model_destroy(b);

    // GPT-2's init, measured on a model big enough for the statistics:
    // std 0.02, c_proj 0.02/sqrt(2L), biases 0, LayerNorm weights 1.
    ModelSpec spec;
    model_spec_by_name(&spec, "gpt2-6m", 1024);
    Model *m = model_create(&spec, backend_cpu());
    CHECK(m != NULL, "gpt2-6m: %s", tb_last_error());
    if (!m) return;
    // V*C + T*C + L*(12 C^2 + 13 C) + 2C, the formula models/configs.c documents.
    size_t C = 256, L = 7, expect = 1024 * C + 256 * C + L * (12 * C * C + 13 * C) + 2 * C;
    CHECK(m->num_params == expect, "gpt2-6m has %zu parameters, expected %zu", m->num_params, expect);
    m->vt->init_weights(m, 1);
    const char *names[] = {"transformer.wte.weight", "transformer.h.3.attn.c_attn.weight",
                           "transformer.h.3.attn.c_proj.weight", "transformer.h.6.mlp.c_proj.weight",
                           "transformer.h.0.mlp.c_fc.bias", "transformer.h.2.ln_1.weight",
                           "transformer.ln_f.bias"};
    const double stds[] = {0.02, 0.02, 0.02 / sqrt(14.0), 0.02 / sqrt(14.0), 0, 0, 0};
    const double means[] = {0, 0, 0, 0, 0, 1, 0};
    for (int i = 0; i < 7; i++) {
        const ParamTensor *t = model_find_tensor(m, names[i]);
        double s = 0, s2 = 0;
        for (size_t j = 0; j < t->numel; j++) s += m->params[t->offset + j];
        double mean = s / t->numel;
        for (size_t j = 0; j < t->numel; j++) s2 += pow(m->params[t->offset + j] - mean, 2);
        double sd = sqrt(s2 / t->numel);
        CHECK(fabs(mean - means[i]) <= 3e-4 + 5 * stds[i] / sqrt((double)t->numel) &&
                  fabs(sd - stds[i]) <= 0.03 * stds[i],
              "init of %s: mean %g std %g, expected %g and %g", names[i], mean, sd, means[i], stds[i]);
        CHECK(t->weight_decay == (t->ndim == 2), "weight decay flag of %s", names[i]);
    }
    cJSON *cfg = m->vt->config_json(m);
    const cJSON *mt = cJSON_GetObjectItem(cfg, "model_type");
    CHECK(cJSON_IsString(mt) && strcmp(mt->valuestring, "gpt2") == 0, "config model_type");
    const char *ints[] = {"vocab_size", "n_positions", "n_embd", "n_layer", "n_head"};
    const int want[] = {1024, 256, 256, 7, 8};
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItem(cfg, ints[i]);
        CHECK(cJSON_IsNumber(v) && v->valueint == want[i], "config %s", ints[i]);
    }
    const cJSON *act = cJSON_GetObjectItem(cfg, "activation_function");
    CHECK(cJSON_IsString(act) && strcmp(act->valuestring, "gelu_new") == 0, "config activation_function");
    const cJSON *eps = cJSON_GetObjectItem(cfg, "layer_norm_epsilon");
    CHECK(cJSON_IsNumber(eps) && eps->valuedouble == 1e-5, "config layer_norm_epsilon");
    ModelSpec back;
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") == 0 && back.d_model == 256 &&
              back.n_layer == 7 && back.n_head == 8 && back.vocab_size == 1024 &&
              back.max_seq_len == 256 && strcmp(back.arch, "gpt2") == 0,
          "config.json does not read back: %s", tb_last_error());
    cJSON_Delete(cfg);
    model_destroy(m);
}

int main(void) {
    fixture_open(FIXTURE);
    CHECK(fx != NULL, "%s", tb_last_error());
    if (!fx) return test_summary("test_gpt2");
    test_forward_backward();
    test_adamw_steps();
    test_finite_differences();
    test_kv_cache();
    test_determinism_and_init();
    st_close(fx);
    return test_summary("test_gpt2");
}
