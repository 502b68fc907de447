// test_checkpoint.c: checkpoint directories with a synthetic model (a table
// shaped like tiny GPT-2's, driven by synthetic gradients), so that saving,
// loading, exact resume and every refusal are tested without a forward pass.
// The tests with real models live in test_checkpoint_models.c.
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/safetensors.h"
#include "test.h"
#include "host_backend.h"

static char root[256];
static int config_should_fail;

static cJSON *fake_config_json(const Model *m) {
    if (config_should_fail) return NULL;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "model_type", "gpt2");
    cJSON_AddNumberToObject(c, "vocab_size", m->spec.vocab_size);
    cJSON_AddNumberToObject(c, "n_positions", m->spec.max_seq_len);
    cJSON_AddNumberToObject(c, "n_embd", m->spec.d_model);
    cJSON_AddNumberToObject(c, "n_layer", m->spec.n_layer);
    cJSON_AddNumberToObject(c, "n_head", m->spec.n_head);
    cJSON_AddNumberToObject(c, "layer_norm_epsilon", 1e-5);
    cJSON_AddStringToObject(c, "activation_function", "gelu_new");
    return c;
}

static void fake_destroy(Model *m) { (void)m; }
static const ModelVtbl fake_vtbl = {.config_json = fake_config_json, .destroy = fake_destroy};

// A model with tiny GPT-2's table (one layer) but no forward pass.
static Model *fake_model(void) {
    Model *m = tb_calloc(1, sizeof *m);
    model_spec_by_name(&m->spec, "tiny-gpt2", 48);
    m->spec.n_layer = 1;
    m->arch = model_arch_find("gpt2");  // its tensor names are GPT-2's
    m->vt = &fake_vtbl;
    m->be = &host_backend;
    int C = m->spec.d_model, V = m->spec.vocab_size, T = m->spec.max_seq_len;
    model_add_tensor(m, "transformer.wte.weight", 2, (int64_t[]){V, C}, 1);
    model_add_tensor(m, "transformer.wpe.weight", 2, (int64_t[]){T, C}, 1);
    model_add_tensor(m, "transformer.h.0.ln_1.weight", 1, (int64_t[]){C}, 0);
    model_add_tensor(m, "transformer.h.0.attn.c_attn.weight", 2, (int64_t[]){C, 3 * C}, 1);
    model_add_tensor(m, "transformer.h.0.attn.c_attn.bias", 1, (int64_t[]){3 * C}, 0);
    model_add_tensor(m, "transformer.ln_f.weight", 1, (int64_t[]){C}, 0);
    model_alloc_params(m);
    Rng r;
    rng_seed(&r, 99);
    for (size_t i = 0; i < m->params.num_params; i++) m->params.values[i] = 0.02f * rng_normal(&r);
    return m;
}

// One synthetic training step: gradients drawn from the run's RNG (so the RNG
// state must be restored exactly for a resume to match), then AdamW.
static void fake_step(Model *m, TrainState *ts) {
    for (size_t i = 0; i < m->params.num_params; i++) m->params.grads[i] = rng_normal(&ts->rng) + 0.1f * m->params.values[i];
    ts->step++;
    model_adamw_step(m, &ts->optim, (int)ts->step, optim_lr_at(&ts->optim, (int)ts->step));
    ts->data_state[0] += 8 * 16;  // a data loader would advance its position
}

static void init_state(TrainState *ts) {
    memset(ts, 0, sizeof *ts);
    rng_seed(&ts->rng, 1234);
    optim_config_default(&ts->optim);
    ts->optim.warmup_steps = 2;
    ts->optim.total_steps = 10;
    ts->data_state[1] = 77;
}

static void dir_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", root, name); }

static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

static void test_save_load_resume(void) {
    char ck[512];
    dir_path(ck, sizeof ck, "ck");
    // The uninterrupted run: 8 steps.
    Model *full = fake_model();
    TrainState fs;
    init_state(&fs);
    for (int i = 0; i < 8; i++) fake_step(full, &fs);

    // The interrupted run: 3 steps, save, load into a fresh model, 5 more.
    Model *a = fake_model();
    TrainState as;
    init_state(&as);
    for (int i = 0; i < 3; i++) fake_step(a, &as);
    CHECK(checkpoint_save(ck, a, &as, NULL) == 0, "save: %s", tb_last_error());
    Model *b = fake_model();
    TrainState bs;
    memset(&bs, 0, sizeof bs);
    CHECK(checkpoint_load_into(b, ck, &bs) == 0, "load: %s", tb_last_error());
    check_close("params after load (bit-exact)", b->params.values, a->params.values, a->params.num_params, 0, 0);
    CHECK(b->params.adam_m && same_floats(a->params.adam_m, b->params.adam_m, a->params.num_params) &&
              same_floats(a->params.adam_v, b->params.adam_v, a->params.num_params),
          "AdamW moments differ after load");
    CHECK(bs.step == 3 && memcmp(&bs.rng, &as.rng, sizeof bs.rng) == 0 &&
              memcmp(bs.data_state, as.data_state, sizeof bs.data_state) == 0 &&
              memcmp(&bs.optim, &as.optim, sizeof bs.optim) == 0,
          "train state differs after load (step %lld)", (long long)bs.step);
    for (int i = 0; i < 5; i++) fake_step(b, &bs);
    CHECK(same_floats(full->params.values, b->params.values, full->params.num_params),
          "resumed run is not bit-identical to the uninterrupted one");

    // The files are those promised, and lm_head.weight equals the embedding.
    char path[600];
    snprintf(path, sizeof path, "%s/train_state.bin", ck);
    CHECK(tb_file_exists(path), "no train_state.bin");
    snprintf(path, sizeof path, "%s/model.safetensors", ck);
    SafeTensors *st = st_open(path);
    CHECK(st != NULL, "cannot reopen model.safetensors: %s", tb_last_error());
    if (st) {
        const StTensor *head = st_find(st, "lm_head.weight"), *wte = st_find(st, "transformer.wte.weight");
        CHECK(head && wte && head->numel == wte->numel && same_floats(head->data, wte->data, wte->numel),
              "lm_head.weight is not a copy of the embedding");
        CHECK(st->num_tensors == a->params.num_tensors + 1, "%d tensors in the file", st->num_tensors);
        st_close(st);
    }
    snprintf(path, sizeof path, "%s/config.json", ck);
    char *text = tb_read_file(path, NULL);
    cJSON *cfg = text ? cJSON_Parse(text) : NULL;
    const cJSON *tbx = cJSON_GetObjectItemCaseSensitive(cfg, "tunebench");
    CHECK(cfg && cJSON_GetObjectItemCaseSensitive(cfg, "n_embd") && tbx &&
              cJSON_GetObjectItemCaseSensitive(tbx, "name"),
          "config.json lacks the GPT2Config fields or the tunebench extras");
    cJSON_Delete(cfg);
    free(text);

    // Saving again replaces the checkpoint in place and leaves no temporary directory.
    fake_step(a, &as);
    CHECK(checkpoint_save(ck, a, &as, NULL) == 0, "second save: %s", tb_last_error());
    CHECK(checkpoint_load_into(b, ck, &bs) == 0 && bs.step == 4 &&
              same_floats(a->params.values, b->params.values, a->params.num_params),
          "second save did not replace the first");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", ck, (long)getpid());
    CHECK(!tb_dir_exists(tmp), "temporary directory left behind");

    // A failed save leaves the previous checkpoint untouched.
    fake_step(a, &as);
    config_should_fail = 1;
    CHECK(checkpoint_save(ck, a, &as, NULL) != 0, "save with a failing config_json succeeded");
    config_should_fail = 0;
    CHECK(!tb_dir_exists(tmp), "temporary directory left behind by a failed save");
    CHECK(checkpoint_load_into(b, ck, &bs) == 0 && bs.step == 4,
          "failed save damaged the previous checkpoint: %s", tb_last_error());

    // Weights only: no train_state.bin, and loading with a TrainState says so.
    char wo[512];
    dir_path(wo, sizeof wo, "weights-only");
    CHECK(checkpoint_save(wo, a, NULL, NULL) == 0, "weights-only save: %s", tb_last_error());
    CHECK(checkpoint_load_into(b, wo, NULL) == 0, "weights-only load: %s", tb_last_error());
    CHECK(checkpoint_load_into(b, wo, &bs) != 0 && strstr(tb_last_error(), "train_state.bin"),
          "resume from a weights-only checkpoint: %s", tb_last_error());

    // A directory that is not a checkpoint is never replaced.
    char other[512];
    dir_path(other, sizeof other, "not-a-checkpoint");
    tb_mkdirs(other);
    snprintf(path, sizeof path, "%s/notes.txt", other);
    tb_write_file_atomic(path, "keep me", 7);
    CHECK(checkpoint_save(other, a, NULL, NULL) != 0 && tb_file_exists(path),
          "save replaced a directory that is not a checkpoint");

    model_destroy(full), model_destroy(a), model_destroy(b);
}

// Copies directory src's three files into dst (fresh).
static void copy_checkpoint(const char *src, const char *dst) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dst, src, dst);
    if (system(cmd) != 0) fprintf(stderr, "copy failed: %s\n", cmd);
}

static void expect_load_error(const char *what, const char *dir, TrainState *ts,
                              const char *needle1, const char *needle2) {
    Model *m = fake_model();
    tb_clear_error();
    int rc = checkpoint_load_into(m, dir, ts);
    const char *err = tb_last_error();
    CHECK(rc != 0, "%s: load succeeded", what);
    if (rc != 0) {
        CHECK(strstr(err, needle1) != NULL, "%s: error lacks '%s': %s", what, needle1, err);
        if (needle2) CHECK(strstr(err, needle2) != NULL, "%s: error lacks '%s': %s", what, needle2, err);
    }
    model_destroy(m);
}

// Rewrites dir/model.safetensors through fn(tensors) to make a broken variant.
static void rewrite_weights(const char *dir, const char *drop, const char *reshape, int corrupt_head) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors *st = st_open(path);
    StWriteTensor ts[16];
    float *copies[16] = {0};
    int n = 0;
    for (int i = 0; i < st->num_tensors; i++) {
        const StTensor *t = &st->tensors[i];
        if (drop && tb_streq(t->name, drop)) continue;
        ts[n].name = t->name;
        ts[n].ndim = t->ndim;
        memcpy(ts[n].shape, t->shape, sizeof t->shape);
        copies[n] = tb_malloc(t->numel * sizeof(float));
        memcpy(copies[n], t->data, t->numel * sizeof(float));
        ts[n].data = copies[n];
        if (reshape && tb_streq(t->name, reshape)) ts[n].shape[0] /= 2, ts[n].shape[1] *= 2;
        if (corrupt_head && tb_streq(t->name, "lm_head.weight")) copies[n][5] += 1.0f;
        n++;
    }
    char out[600];
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    if (st_write(out, ts, n, NULL) != 0) fprintf(stderr, "rewrite failed: %s\n", tb_last_error());
    for (int i = 0; i < n; i++) free(copies[i]);
    st_close(st);
}

static void truncate_file(const char *path, long keep) {
    if (truncate(path, keep) != 0) fprintf(stderr, "truncate %s failed\n", path);
}

static void test_refusals(void) {
    char good[512], bad[512], path[700];
    dir_path(good, sizeof good, "good");
    Model *m = fake_model();
    TrainState ts;
    init_state(&ts);
    fake_step(m, &ts);
    checkpoint_save(good, m, &ts, NULL);
    TrainState out;

    dir_path(bad, sizeof bad, "bad");
    copy_checkpoint(good, bad);
    rewrite_weights(bad, "lm_head.weight", NULL, 0);
    Model *b = fake_model();
    CHECK(checkpoint_load_into(b, bad, &out) == 0 && same_floats(b->params.values, m->params.values, m->params.num_params),
          "a checkpoint without lm_head.weight must load: %s", tb_last_error());
    model_destroy(b);

    copy_checkpoint(good, bad);
    rewrite_weights(bad, "transformer.h.0.attn.c_attn.bias", NULL, 0);
    expect_load_error("missing tensor", bad, NULL, "model.safetensors", "'transformer.h.0.attn.c_attn.bias' is missing");

    copy_checkpoint(good, bad);
    rewrite_weights(bad, NULL, "transformer.h.0.attn.c_attn.weight", 0);
    expect_load_error("wrong shape", bad, NULL, "model.safetensors", "'transformer.h.0.attn.c_attn.weight' has shape [16, 192]");

    copy_checkpoint(good, bad);
    rewrite_weights(bad, NULL, NULL, 1);
    expect_load_error("untied lm_head", bad, NULL, "model.safetensors", "'lm_head.weight' differs");

    copy_checkpoint(good, bad);
    snprintf(path, sizeof path, "%s/model.safetensors", bad);
    struct stat sb;
    stat(path, &sb);
    truncate_file(path, (long)sb.st_size - 100);
    expect_load_error("truncated weights", bad, NULL, "model.safetensors", "truncated");

    copy_checkpoint(good, bad);
    tb_write_file_atomic(path, "\x08\0\0\0\0\0\0\0{\"a\":1} ", 16);
    expect_load_error("bad header", bad, NULL, "model.safetensors", "bad header");

    copy_checkpoint(good, bad);
    unlink(path);
    expect_load_error("no weights file", bad, NULL, "model.safetensors", "missing");

    copy_checkpoint(good, bad);
    snprintf(path, sizeof path, "%s/config.json", bad);
    unlink(path);
    expect_load_error("no config.json", bad, NULL, "config.json", "not a checkpoint");

    copy_checkpoint(good, bad);
    tb_write_file_atomic(path, "{\"model_type\": \"gpt2\", ", 23);
    expect_load_error("bad config.json", bad, NULL, "config.json", "invalid JSON");

    copy_checkpoint(good, bad);
    const char *mamba_cfg = "{\"d_model\": 32, \"n_layer\": 2, \"vocab_size\": 48, \"ssm_cfg\": {},"
                            " \"rms_norm\": true, \"tie_embeddings\": true, \"pad_vocab_size_multiple\": 8}";
    tb_write_file_atomic(path, mamba_cfg, strlen(mamba_cfg));
    expect_load_error("another architecture", bad, NULL, "config.json", "holds mamba");

    copy_checkpoint(good, bad);
    snprintf(path, sizeof path, "%s/train_state.bin", bad);
    stat(path, &sb);
    truncate_file(path, (long)sb.st_size - 12);
    expect_load_error("truncated train state", bad, &out, "train_state.bin", "truncated");

    copy_checkpoint(good, bad);
    size_t len;
    char *raw = tb_read_file(path, &len);
    raw[len / 2] ^= 0x10;
    tb_write_file_atomic(path, raw, len);
    free(raw);
    expect_load_error("corrupt train state", bad, &out, "train_state.bin", "checksum");

    copy_checkpoint(good, bad);
    tb_write_file_atomic(path, "hello", 5);
    expect_load_error("garbage train state", bad, &out, "train_state.bin", "not a tunebench");

    expect_load_error("no such directory", "/nonexistent/ck", NULL, "/nonexistent/ck", "no such directory");
    model_destroy(m);
}

// Checksums and the pairing of the files: a flipped byte, a train_state.bin
// of another run, a model.safetensors of another checkpoint, a NaN weight,
// an old train state that cannot be checked.
static void test_integrity(void) {
    char good[512], bad[512], other[512], path[700], from[700];
    dir_path(good, sizeof good, "sum-good");
    dir_path(bad, sizeof bad, "sum-bad");
    dir_path(other, sizeof other, "sum-other");
    Model *m = fake_model();
    TrainState ts, out;
    init_state(&ts);
    snprintf(ts.run_id, sizeof ts.run_id, "run-a");
    fake_step(m, &ts);
    CHECK(checkpoint_save(good, m, &ts, NULL) == 0, "save: %s", tb_last_error());
    // Another run of the same model, one step further.
    fake_step(m, &ts);
    snprintf(ts.run_id, sizeof ts.run_id, "run-b");
    CHECK(checkpoint_save(other, m, &ts, NULL) == 0, "save: %s", tb_last_error());

    // The header carries the checksum as a string (what transformers requires).
    snprintf(path, sizeof path, "%s/model.safetensors", good);
    SafeTensors *st = st_open(path);
    const char *sum = st ? st_metadata(st, ST_CHECKSUM_KEY) : NULL;
    CHECK(sum && strncmp(sum, "fnv1a64:", 8) == 0 && strlen(sum) == 24 && st->checksum_verified,
          "model.safetensors lacks its checksum: %s", sum ? sum : "(none)");
    CHECK(st && st_metadata(st, "format") && tb_streq(st_metadata(st, "format"), "pt"), "format: pt is gone");
    st_close(st);
    Model *b = fake_model();
    memset(&out, 0, sizeof out);
    CHECK(checkpoint_load_into(b, good, &out) == 0 && tb_streq(out.run_id, "run-a") && out.step == 1,
          "the run id and step do not come back: '%s' step %lld (%s)", out.run_id, (long long)out.step,
          tb_last_error());
    model_destroy(b);

    // One flipped bit in the middle of the tensor data.
    copy_checkpoint(good, bad);
    snprintf(path, sizeof path, "%s/model.safetensors", bad);
    size_t len;
    char *raw = tb_read_file(path, &len);
    raw[len / 2] ^= 0x04;
    tb_write_file_atomic(path, raw, len);
    free(raw);
    expect_load_error("a flipped byte in the weights", bad, NULL, path, "does not match the checksum");

    // train_state.bin from the other run: other weights, other run id.
    copy_checkpoint(good, bad);
    snprintf(from, sizeof from, "%s/train_state.bin", other);
    snprintf(path, sizeof path, "%s/train_state.bin", bad);
    raw = tb_read_file(from, &len);
    tb_write_file_atomic(path, raw, len);
    free(raw);
    expect_load_error("a train_state.bin of another run", bad, &out, path, "saved with other weights");

    // model.safetensors from the other checkpoint (intact, but not what config.json describes).
    copy_checkpoint(good, bad);
    snprintf(from, sizeof from, "%s/model.safetensors", other);
    snprintf(path, sizeof path, "%s/model.safetensors", bad);
    raw = tb_read_file(from, &len);
    tb_write_file_atomic(path, raw, len);
    free(raw);
    expect_load_error("a model.safetensors of another checkpoint", bad, NULL, path, "config.json beside it");

    // A NaN in one weight, saved with consistent checksums: refused all the same.
    m->params.values[7] = NAN;
    dir_path(bad, sizeof bad, "sum-nan");
    CHECK(checkpoint_save(bad, m, NULL, NULL) == 0, "save with a NaN: %s", tb_last_error());
    expect_load_error("a NaN weight", bad, NULL, "transformer.wte.weight", "non-finite");
    m->params.values[7] = INFINITY;
    CHECK(checkpoint_save(bad, m, NULL, NULL) == 0, "save with an infinity: %s", tb_last_error());
    expect_load_error("an infinite weight", bad, NULL, "model.safetensors", "non-finite");

    // A version-1 train state (no run id, no weights checksum) is refused, saying why.
    copy_checkpoint(good, bad);
    snprintf(path, sizeof path, "%s/train_state.bin", bad);
    raw = tb_read_file(path, &len);
    raw[8] = 1;  // the version field
    tb_write_file_atomic(path, raw, len);
    free(raw);
    expect_load_error("a version-1 train state", bad, &out, "train_state.bin", "version 1");
    model_destroy(m);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/tb_test_checkpoint.%d", (int)getpid());
    tb_mkdirs(root);
    test_save_load_resume();
    test_refusals();
    test_integrity();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_checkpoint");
}
