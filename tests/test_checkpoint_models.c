// test_checkpoint_models.c: checkpoints of real models.
//  - A directory in Hugging Face's save_pretrained layout (written by
//    tests/make_hf_checkpoint_fixture.py, with GPT2LMHeadModel's logits)
//    loads, and the loaded model computes the same logits.
//  - Our save of that model holds the same names, shapes and values.
//  - Save, load and continue gives bit-identical losses to an uninterrupted run.
#include <cjson/cJSON.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/safetensors.h"
#include "test.h"

static char root[256];

static void test_hf_fixture(void) {
    const Backend *be = backend_cpu();
    Model *m = checkpoint_load("tests/fixtures/hf-gpt2", be, NULL);
    CHECK(m != NULL, "HF-format fixture does not load: %s", tb_last_error());
    if (!m) return;
    CHECK(tb_streq(m->spec.arch, "gpt2") && m->spec.d_model == 32 && m->spec.n_layer == 2 &&
              m->spec.n_head == 4 && m->spec.max_seq_len == 16 && m->spec.vocab_size == 64,
          "spec read from the HF config.json is wrong");
    SafeTensors *ex = st_open("tests/fixtures/hf-gpt2-expected.safetensors");
    CHECK(ex != NULL, "expected logits: %s", tb_last_error());
    if (!ex) return;
    const StTensor *in = st_find(ex, "inputs"), *ref = st_find(ex, "logits");
    int T = (int)in->shape[1], V = m->spec.vocab_size;
    int32_t tokens[64];
    for (int t = 0; t < T; t++) tokens[t] = (int32_t)in->data[t];
    m->vt->alloc_activations(m, 1, T);
    m->vt->forward(m, tokens, NULL, 1, T);
    float *logits = tb_malloc((size_t)T * V * sizeof(float));
    be->to_host(logits, m->acts->logits, (size_t)T * V * sizeof(float));
    check_close("logits of the loaded HF checkpoint vs GPT2LMHeadModel", logits, ref->data,
                (size_t)T * V, 1e-5f, 1e-5f);
    free(logits);
    st_close(ex);

    // Our save: the same tensors (names, shapes, bits), plus lm_head.weight.
    char dir[512];
    snprintf(dir, sizeof dir, "%s/resaved", root);
    CHECK(checkpoint_save(dir, m, NULL, NULL) == 0, "save: %s", tb_last_error());
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors *ours = st_open(path);
    SafeTensors *theirs = st_open("tests/fixtures/hf-gpt2/model.safetensors");
    CHECK(ours && theirs, "cannot reopen: %s", tb_last_error());
    if (ours && theirs) {
        CHECK(ours->num_tensors == theirs->num_tensors + 1, "%d tensors saved, HF has %d (+ lm_head)",
              ours->num_tensors, theirs->num_tensors);
        int mismatched = 0;
        for (int i = 0; i < theirs->num_tensors; i++) {
            const StTensor *a = &theirs->tensors[i], *b = st_find(ours, a->name);
            if (!b || b->ndim != a->ndim || memcmp(b->shape, a->shape, sizeof a->shape) != 0 ||
                memcmp(b->data, a->data, a->numel * sizeof(float)) != 0) {
                fprintf(stderr, "tensor %s differs between the HF fixture and our save\n", a->name);
                mismatched++;
            }
        }
        CHECK(mismatched == 0, "%d tensors differ", mismatched);
    }
    st_close(ours);
    st_close(theirs);

    // config.json: GPT2Config's fields are there for from_pretrained.
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = tb_read_file(path, NULL);
    cJSON *cfg = text ? cJSON_Parse(text) : NULL;
    const char *ints[] = {"vocab_size", "n_positions", "n_embd", "n_layer", "n_head"};
    const int want[] = {64, 16, 32, 2, 4};
    for (int i = 0; i < 5; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(cfg, ints[i]);
        CHECK(cJSON_IsNumber(f) && f->valuedouble == want[i], "config.json: %s is not %d", ints[i], want[i]);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "activation_function");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_epsilon");
    CHECK(cJSON_IsString(type) && tb_streq(type->valuestring, "gpt2"), "config.json: model_type");
    CHECK(cJSON_IsString(act) && tb_streq(act->valuestring, "gelu_new"), "config.json: activation_function");
    CHECK(cJSON_IsNumber(eps) && eps->valuedouble == 1e-5, "config.json: layer_norm_epsilon");
    cJSON_Delete(cfg);
    free(text);

    // A checkpoint of another shape is refused when a model is expected.
    ModelSpec other;
    model_spec_by_name(&other, "tiny-gpt2", 64);
    other.n_layer = 3;
    Model *m3 = model_create(&other, be);
    CHECK(checkpoint_load_into(m3, dir, NULL) != 0 && strstr(tb_last_error(), "config.json") &&
              strstr(tb_last_error(), "n_layer 2"),
          "loading a 2-layer checkpoint into a 3-layer model: %s", tb_last_error());
    model_destroy(m3);
    model_destroy(m);
}

// Deterministic batches from a seed: (B, T) inputs and next-token targets.
static void batch(Rng *r, int32_t *in, int32_t *tg, int n, int V) {
    for (int i = 0; i < n; i++) in[i] = (int32_t)rng_below(r, (uint32_t)V);
    for (int i = 0; i < n; i++) tg[i] = (int32_t)rng_below(r, (uint32_t)V);
}

static float train_step(Model *m, TrainState *ts, int B, int T) {
    int32_t in[256], tg[256];
    batch(&ts->rng, in, tg, B * T, m->spec.vocab_size);
    m->vt->forward(m, in, tg, B, T);
    model_zero_grad(m);
    m->vt->backward(m);
    ts->step++;
    model_adamw_step(m, &ts->optim, (int)ts->step, optim_lr_at(&ts->optim, (int)ts->step));
    return m->acts->loss;
}

static void test_exact_resume(void) {
    const Backend *be = backend_cpu();
    const int B = 2, T = 16, STEPS = 8, SPLIT = 3;
    ModelSpec spec;
    model_spec_by_name(&spec, "tiny-gpt2", 50);
    TrainState s0;
    memset(&s0, 0, sizeof s0);
    rng_seed(&s0.rng, 7);
    optim_config_default(&s0.optim);
    s0.optim.lr = 1e-2f, s0.optim.warmup_steps = 2, s0.optim.total_steps = STEPS;

    Model *full = model_create(&spec, be);
    full->vt->init_weights(full, 11);
    full->vt->alloc_activations(full, B, T);
    TrainState fs = s0;
    float losses_full[16];
    for (int i = 0; i < STEPS; i++) losses_full[i] = train_step(full, &fs, B, T);

    Model *a = model_create(&spec, be);
    a->vt->init_weights(a, 11);
    a->vt->alloc_activations(a, B, T);
    TrainState as = s0;
    float losses_resumed[16];
    for (int i = 0; i < SPLIT; i++) losses_resumed[i] = train_step(a, &as, B, T);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/resume", root);
    CHECK(checkpoint_save(dir, a, &as, NULL) == 0, "save: %s", tb_last_error());
    model_destroy(a);

    TrainState bs;
    memset(&bs, 0, sizeof bs);
    Model *b = checkpoint_load(dir, be, &bs);
    CHECK(b != NULL, "load: %s", tb_last_error());
    if (!b) return;
    CHECK(bs.step == SPLIT, "resumed at step %lld", (long long)bs.step);
    b->vt->alloc_activations(b, B, T);
    for (int i = SPLIT; i < STEPS; i++) losses_resumed[i] = train_step(b, &bs, B, T);
    CHECK(memcmp(losses_full, losses_resumed, STEPS * sizeof(float)) == 0,
          "resumed losses are not bit-identical (step %d: %.9g vs %.9g)", STEPS,
          (double)losses_resumed[STEPS - 1], (double)losses_full[STEPS - 1]);
    check_close("losses: save, load, continue vs uninterrupted (bit-exact)", losses_resumed,
                losses_full, STEPS, 0, 0);
    model_destroy(b);
    model_destroy(full);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/tb_test_ckmodels.%d", (int)getpid());
    tb_mkdirs(root);
    test_hf_fixture();
    test_exact_resume();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_checkpoint_models");
}
