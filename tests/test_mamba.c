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

#include <cjson/cJSON.h>

#include "../kernels/backend.h"
#include "../models/checkpoint.h"
#include "../models/model.h"
#include "../models/safetensors.h"
#include "lib/common.h"
#include "test.h"
#include "model_checks.h"

#define FIXTURE "tests/fixtures/mamba/tiny.safetensors"
enum { V = 50, B = FIXTURE_B, T = FIXTURE_T };

static Model *tiny_model_chunk(int chunk) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-mamba", V)) tb_die("%s", tb_last_error());
    spec.scan_chunk = chunk;
    return model_for_fixture(&spec);
}

// ---------------------------------------------------------------- vs PyTorch and itself

// The shared checks (model_checks.h); decoding with a prefill of 2 < d_conv,
// where the conv state is partly the reset's zeros, and of 7.
static void test_shared_checks(void) {
    const int prefill_lens[] = {2, 7};
    Model *c = run_model_checks("tiny-mamba", V, 5, prefill_lens, 2);
    if (c) {
        ModelSpec spec;
        if (model_spec_by_name(&spec, "tiny-mamba", V)) tb_die("%s", tb_last_error());
        CHECK(strcmp(c->spec.arch, "mamba") == 0 && c->spec.scan_chunk == spec.scan_chunk &&
                  strcmp(c->spec.a_init, "s4d_real") == 0,
              "checkpoint spec did not round-trip");
        model_destroy(c);
    }
}

// ---------------------------------------------------------------- chunking

// The scan's chunk size only trades memory for recomputation: losses and
// every gradient are bit-identical for chunks that do and do not divide T.
static void test_chunk_sizes(void) {
    int32_t inputs[B * T], targets[B * T];
    fixture_batch(inputs, targets);
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
        CHECK(m->acts->loss == ref->acts->loss &&
                  memcmp(m->params.grads, ref->params.grads, m->params.num_params * sizeof(float)) == 0,
              "scan chunk %d: loss or gradients differ from the unchunked scan", chunks[i]);
        model_destroy(m);
    }
    model_destroy(ref);
}

// ---------------------------------------------------------------- init, counts, config

static void test_init_and_config(void) {
    ModelSpec spec;
    const size_t want_params[2] = {5956608, 61169920};
    const char *names[2] = {"mamba-6m", "mamba-60m"};
    for (int k = 0; k < 2; k++) {
        model_spec_by_name(&spec, names[k], 1024);
        Model *m = model_create(&spec, backend_cpu());
        CHECK(m && m->params.num_params == want_params[k], "%s has %zu parameters, expected %zu",
              names[k], m ? m->params.num_params : 0, want_params[k]);
        if (m) printf("  %s: %zu parameters\n", names[k], m->params.num_params);
        model_destroy(m);
    }
    if (model_spec_by_name(&spec, "mamba-6m", 1024)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 1);
    const int L = spec.n_layer, d = 256, di = 512, R = 16, S = 16;
    // embedding N(0, 0.02)
    TensorStats st = param_stats(m, "backbone.embeddings.weight");
    CHECK(fabs(st.mean) < 3e-4 && fabs(st.sd - 0.02) < 0.0006, "embedding mean %g std %g", st.mean, st.sd);
    CHECK(model_find_tensor(m, "backbone.embeddings.weight")->weight_decay, "the embedding decays");
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
    st = param_stats(m, "backbone.layers.5.mixer.dt_proj.weight");
    float b = 1.0f / sqrtf((float)R);
    CHECK(st.lo >= -b && st.hi <= b && st.hi > 0.95f * b && fabs(st.sd - b / sqrt(3.0)) < 0.03 * b,
          "dt_proj.weight in [%g, %g] std %g, want U(+-%g)", st.lo, st.hi, st.sd, b);
    // in_proj U(+-1/sqrt(d)); out_proj U(+-1/sqrt(di)) / sqrt(n_layer)
    st = param_stats(m, "backbone.layers.0.mixer.in_proj.weight");
    b = 1.0f / sqrtf((float)d);
    CHECK(st.lo >= -b && st.hi <= b && fabs(st.sd - b / sqrt(3.0)) < 0.01 * b, "in_proj std %g want %g",
          st.sd, b / sqrt(3.0));
    st = param_stats(m, "backbone.layers.0.mixer.out_proj.weight");
    b = 1.0f / sqrtf((float)di) / sqrtf((float)L);
    CHECK(st.lo >= -b && st.hi <= b && fabs(st.sd - b / sqrt(3.0)) < 0.01 * b,
          "out_proj std %g want %g (prenorm-residual rescale by 1/sqrt(n_layer))", st.sd, b / sqrt(3.0));
    // weight decay flags: matrices yes; A_log, D, biases, norms no
    const char *nd[] = {"backbone.layers.0.mixer.A_log", "backbone.layers.0.mixer.D",
                        "backbone.layers.0.mixer.dt_proj.bias", "backbone.layers.0.mixer.conv1d.bias",
                        "backbone.layers.0.norm.weight", "backbone.norm_f.weight"};
    for (int i = 0; i < 6; i++) CHECK(!model_find_tensor(m, nd[i])->weight_decay, "%s decays", nd[i]);
    CHECK(model_find_tensor(m, "backbone.layers.0.mixer.x_proj.weight")->weight_decay, "x_proj decays");

    // config.json: transformers' MambaConfig fields that read back into the same spec
    cJSON *cfg = m->vt->config_json(m);
    const cJSON *type = cJSON_GetObjectItem(cfg, "model_type");
    CHECK(cJSON_IsString(type) && strcmp(type->valuestring, "mamba") == 0 && json_int_is(cfg, "hidden_size", 256) &&
              json_int_is(cfg, "num_hidden_layers", 13) && json_int_is(cfg, "vocab_size", 1024) &&
              json_int_is(cfg, "state_size", 16) && json_int_is(cfg, "conv_kernel", 4) &&
              json_int_is(cfg, "expand", 2) && json_int_is(cfg, "intermediate_size", 512) &&
              json_int_is(cfg, "time_step_rank", 16) && cJSON_IsFalse(cJSON_GetObjectItem(cfg, "use_bias")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "use_conv_bias")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "residual_in_fp32")) && !cJSON_GetObjectItem(cfg, "d_model"),
          "config.json fields");
    ModelSpec back;
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") == 0 && back.d_model == 256 &&
              back.n_layer == 13 && back.d_state == 16 && back.d_conv == 4 && back.expand == 2 &&
              back.dt_rank == 16 && back.vocab_size == 1024 && strcmp(back.arch, "mamba") == 0,
          "config.json does not read back: %s", tb_last_error());
    // A contradiction is refused, naming the field.
    cJSON_ReplaceItemInObject(cfg, "intermediate_size", cJSON_CreateNumber(500));
    tb_clear_error();
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") != 0 && strstr(tb_last_error(), "intermediate_size"),
          "intermediate_size 500 accepted: %s", tb_last_error());
    cJSON_ReplaceItemInObject(cfg, "intermediate_size", cJSON_CreateNumber(512));
    cJSON_ReplaceItemInObject(cfg, "use_bias", cJSON_CreateTrue());
    tb_clear_error();
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") != 0 && strstr(tb_last_error(), "use_bias"),
          "use_bias true accepted: %s", tb_last_error());
    cJSON_Delete(cfg);
    // mamba_ssm's MambaConfig (the export format, and older checkpoints) reads back too.
    cfg = m->arch->other_config_json(&m->spec);
    const cJSON *ssm = cJSON_GetObjectItem(cfg, "ssm_cfg");
    CHECK(json_int_is(cfg, "d_model", 256) && json_int_is(cfg, "n_layer", 13) &&
              json_int_is(cfg, "vocab_size", 1024) && cJSON_IsTrue(cJSON_GetObjectItem(cfg, "rms_norm")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_embeddings")) &&
              json_int_is(cfg, "pad_vocab_size_multiple", 8) && json_int_is(ssm, "d_state", 16) &&
              json_int_is(ssm, "dt_rank", 16) && !cJSON_GetObjectItem(cfg, "tunebench"),
          "mamba_ssm config.json fields");
    CHECK(model_spec_from_config_json(&back, cfg, "config.json") == 0 && back.d_model == 256 &&
              back.n_layer == 13 && back.d_state == 16 && back.dt_rank == 16 && strcmp(back.arch, "mamba") == 0,
          "mamba_ssm's config.json does not read back: %s", tb_last_error());
    cJSON_Delete(cfg);
    model_destroy(m);

    // The non-HiPPO baseline: A = -1/2 everywhere.
    if (model_spec_by_name(&spec, "tiny-mamba", V)) tb_die("%s", tb_last_error());
    snprintf(spec.a_init, sizeof spec.a_init, "constant");
    m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
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
    if (!model_test_open(FIXTURE, "test_mamba")) return test_summary("test_mamba");
    test_shared_checks();
    test_chunk_sizes();
    test_init_and_config();
    model_test_close();
    return test_summary("test_mamba");
}
