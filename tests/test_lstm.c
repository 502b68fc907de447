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
enum { V = 50, B = FIXTURE_B, T = FIXTURE_T, H = 24 };

// ---------------------------------------------------------------- vs PyTorch and itself

// The shared checks (model_checks.h); decoding with a prefill of 1 and of 7.
static void test_shared_checks(void) {
    const int prefill_lens[] = {1, 7};
    Model *c = run_model_checks("tiny-lstm", V, 6, prefill_lens, 2);
    if (c) {
        CHECK(strcmp(c->spec.arch, "lstm") == 0 && strcmp(c->spec.name, "tiny-lstm") == 0 &&
                  c->spec.d_model == H && c->spec.n_layer == 2 && c->spec.max_seq_len == T,
              "checkpoint spec did not round-trip");
        model_destroy(c);
    }
}

// ---------------------------------------------------------------- no context limit

// 40 tokens (2.5 x max_seq_len) as one prefill (three chunks inside) equal 40
// decode steps, bit for bit up to the GEMM shapes.
static void test_long_prefill(void) {
    Model *m = fixture_model("tiny-lstm", V);
    load_params(m);
    if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());
    enum { LONG = 40 };
    int32_t inputs[B * T], toks[LONG];
    float logits[V], logits2[V];
    fixture_batch(inputs, NULL);
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

// ---------------------------------------------------------------- checkpoint

// The checkpoint that run_model_checks saved.
static void test_checkpoint_files(void) {
    // The safetensors file holds nn.LSTM's names, and lm_head.weight as the
    // tied embedding's copy.
    const char *dir = resume_checkpoint_dir();
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
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-gpt2", V)) tb_die("%s", tb_last_error());
    Model *g = model_create(&spec, backend_cpu());
    CHECK(g && checkpoint_load_into(g, dir, NULL) != 0 && strstr(tb_last_error(), "lstm"),
          "a GPT-2 accepted an LSTM checkpoint: %s", tb_last_error());
    model_destroy(g);
}

// ---------------------------------------------------------------- sizes, init, config

// The parameters of a named config at the study's vocabulary of 1024; 0 with
// a failed check if it cannot be built.
static size_t params_of(const char *name) {
    ModelSpec spec;
    Model *m = model_spec_by_name(&spec, name, 1024) ? NULL : model_create(&spec, backend_cpu());
    CHECK(m != NULL, "%s: %s", name, tb_last_error());
    size_t n = m ? m->params.num_params : 0;
    model_destroy(m);
    return n;
}

static void test_sizes_init_and_config(void) {
    // The exact counts of the README's table, each within 5% of the GPT-2 of
    // its size as the registry builds it.
    const char *names[2] = {"lstm-6m", "lstm-60m"}, *gpt2_names[2] = {"gpt2-6m", "gpt2-60m"};
    const size_t want[2] = {6032640, 58232832};
    for (int k = 0; k < 2; k++) {
        size_t n = params_of(names[k]), gpt2 = params_of(gpt2_names[k]);
        CHECK(n == want[k], "%s has %zu parameters, expected %zu", names[k], n, want[k]);
        double ratio = gpt2 ? (double)n / gpt2 : 0;
        CHECK(fabs(ratio - 1) <= 0.05, "%s is %.3fx %s (%zu parameters)", names[k], ratio,
              gpt2_names[k], gpt2);
        printf("  %s: %zu parameters (%+.1f%% vs %s)\n", names[k], n, 100 * (ratio - 1), gpt2_names[k]);
    }
    ModelSpec spec;
    if (model_spec_by_name(&spec, "lstm-6m", 1024)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 1);
    const int Hm = 480;
    TensorStats st = param_stats(m, "embedding.weight");
    CHECK(fabs(st.mean) < 3e-4 && fabs(st.sd - 0.02) < 0.0006 &&
              model_find_tensor(m, "embedding.weight")->weight_decay,
          "embedding mean %g std %g (want N(0, 0.02), decayed)", st.mean, st.sd);
    const float bound = 1.0f / sqrtf((float)Hm);
    const char *mats[] = {"lstm.weight_ih_l0", "lstm.weight_hh_l2"};
    for (int i = 0; i < 2; i++) {
        st = param_stats(m, mats[i]);
        CHECK(model_find_tensor(m, mats[i])->weight_decay && st.lo >= -bound && st.hi <= bound &&
                  st.hi > 0.99f * bound && fabs(st.sd - bound / sqrt(3.0)) < 0.01 * bound,
              "%s in [%g, %g] std %g, want U(+-%g), decayed", mats[i], st.lo, st.hi, st.sd, bound);
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
    CHECK(json_string_is(cfg, "model_type", "lstm") && json_int_is(cfg, "hidden_size", Hm) &&
              json_int_is(cfg, "num_layers", 3) && json_int_is(cfg, "vocab_size", 1024) &&
              cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings")) &&
              json_int_is(kw, "input_size", Hm) && cJSON_IsTrue(cJSON_GetObjectItem(kw, "batch_first")) &&
              cJSON_IsTrue(cJSON_GetObjectItem(kw, "bias")) &&
              json_string_is(cfg, "lstm_tensor_prefix", "lstm."),
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
    if (!model_test_open(FIXTURE, "test_lstm")) return test_summary("test_lstm");
    test_shared_checks();
    test_long_prefill();
    test_op_thread_splits();
    test_checkpoint_files();
    test_sizes_init_and_config();
    model_test_close();
    return test_summary("test_lstm");
}
