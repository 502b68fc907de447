// test_gpt2.c: GPT-2 on the CPU against PyTorch (tests/make_gpt2_fixtures.py),
// against finite differences, and against itself (KV cache, determinism,
// checkpoint resume), plus the init and config.json.
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
enum { V = 50, B = FIXTURE_B, T = FIXTURE_T };

// ---------------------------------------------------------------- vs PyTorch and itself

// The shared checks (model_checks.h); decoding runs on the KV cache.
static void test_shared_checks(void) {
    const int prefill_lens[] = {7};
    Model *c = run_model_checks("tiny-gpt2", V, 4, prefill_lens, 1);
    if (c) {
        CHECK(strcmp(c->spec.arch, "gpt2") == 0 && strcmp(c->spec.name, "tiny-gpt2") == 0 &&
                  c->spec.n_head == 4 && c->spec.max_seq_len == T,
              "checkpoint spec did not round-trip");
        model_destroy(c);
    }
}

// ---------------------------------------------------------------- init, config

static void test_init_and_config(void) {
    // GPT-2's init, measured on a model big enough for the statistics:
    // std 0.02, c_proj 0.02/sqrt(2L), biases 0, LayerNorm weights 1.
    ModelSpec spec;
    model_spec_by_name(&spec, "gpt2-6m", 1024);
    Model *m = model_create(&spec, backend_cpu());
    CHECK(m != NULL, "gpt2-6m: %s", tb_last_error());
    if (!m) return;
    // V*C + T*C + L*(12 C^2 + 13 C) + 2C, the formula models/configs.c documents.
    size_t C = 256, L = 7, expect = 1024 * C + 256 * C + L * (12 * C * C + 13 * C) + 2 * C;
    CHECK(m->params.num_params == expect, "gpt2-6m has %zu parameters, expected %zu", m->params.num_params, expect);
    m->vt->init_weights(m, 1);
    const char *names[] = {"transformer.wte.weight", "transformer.h.3.attn.c_attn.weight",
                           "transformer.h.3.attn.c_proj.weight", "transformer.h.6.mlp.c_proj.weight",
                           "transformer.h.0.mlp.c_fc.bias", "transformer.h.2.ln_1.weight",
                           "transformer.ln_f.bias"};
    const double stds[] = {0.02, 0.02, 0.02 / sqrt(14.0), 0.02 / sqrt(14.0), 0, 0, 0};
    const double means[] = {0, 0, 0, 0, 0, 1, 0};
    for (int i = 0; i < 7; i++) {
        const ParamTensor *t = model_find_tensor(m, names[i]);
        TensorStats st = param_stats(m, names[i]);
        CHECK(fabs(st.mean - means[i]) <= 3e-4 + 5 * stds[i] / sqrt((double)t->numel) &&
                  fabs(st.sd - stds[i]) <= 0.03 * stds[i],
              "init of %s: mean %g std %g, expected %g and %g", names[i], st.mean, st.sd, means[i],
              stds[i]);
        CHECK(t->weight_decay == (t->ndim == 2), "weight decay flag of %s", names[i]);
    }
    cJSON *cfg = m->vt->config_json(m);
    CHECK(json_string_is(cfg, "model_type", "gpt2"), "config model_type");
    const char *ints[] = {"vocab_size", "n_positions", "n_embd", "n_layer", "n_head"};
    const int want[] = {1024, 256, 256, 7, 8};
    for (int i = 0; i < 5; i++) CHECK(json_int_is(cfg, ints[i], want[i]), "config %s", ints[i]);
    CHECK(json_string_is(cfg, "activation_function", "gelu_new"), "config activation_function");
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
    if (!model_test_open(FIXTURE, "test_gpt2")) return test_summary("test_gpt2");
    test_shared_checks();
    test_init_and_config();
    model_test_close();
    return test_summary("test_gpt2");
}
