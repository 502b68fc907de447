// test_checkpoint_formats.c: a Mamba checkpoint in both ecosystems' layouts.
//   - tunebench saves transformers' names (backbone.embeddings.weight) and
//     MambaConfig fields;
//   - a checkpoint with mamba_ssm's names and config.json, as tunebench saved
//     them before (tests/fixtures/mamba/ssm-names, written by that tunebench),
//     loads and resumes: its two further steps match the old build's own
//     steps, and bit for bit a resume from the same state saved in the new
//     layout;
//   - `tunebench export --format mamba_ssm` writes mamba_ssm's config.json
//     (its dataclass's fields only) and names, which load back to the same
//     weights; other formats and architectures are refused.
#include <cjson/cJSON.h>
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/safetensors.h"
#include "test.h"
#include "tests/tools/mamba_steps.h"

#define OLD "tests/fixtures/mamba/ssm-names"

static char root[256];

static float *params_of(const Model *m) {
    float *p = tb_malloc(m->params.num_params * sizeof(float));
    m->be->to_host(p, m->params.values, m->params.num_params * sizeof(float));
    return p;
}

static cJSON *read_json(const char *dir, const char *file) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = tb_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

// 1 if dir/model.safetensors has a tensor called name.
static int has_tensor(const char *dir, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SafeTensors *st = st_open(path);
    int has = st && st_find(st, name) != NULL;
    if (st) st_close(st);
    return has;
}

// Loads dir with its training state, checks the state, trains to STEPS_LAST
// and returns the parameters (NULL on failure).
static float *resume_to_last(const char *dir) {
    TrainState ts;
    Model *m = checkpoint_load(dir, backend_cpu(), &ts);
    CHECK(m != NULL, "resume %s: %s", dir, tb_last_error());
    if (!m) return NULL;
    CHECK(ts.step == STEPS_SAVED && tb_streq(ts.run_id, "ssm-names"), "%s: step %lld, run '%s'", dir,
          (long long)ts.step, ts.run_id);
    if (m->vt->alloc_activations(m, STEPS_B, STEPS_T)) tb_die("%s", tb_last_error());
    steps_train(m, &ts.optim, STEPS_SAVED + 1, STEPS_LAST);
    float *p = params_of(m);
    model_destroy(m);
    return p;
}

static void test_old_layout_resumes(void) {
    char now[300];
    snprintf(now, sizeof now, "%s/now", root);
    TrainState ts;
    Model *m = checkpoint_load(OLD "/step3", backend_cpu(), &ts);
    CHECK(m != NULL, "the mamba_ssm-named checkpoint does not load: %s", tb_last_error());
    if (!m) return;
    CHECK(model_find_tensor(m, "backbone.embeddings.weight") != NULL, "the model's embedding is not transformers'");
    CHECK(checkpoint_save(now, m, &ts, NULL) == 0, "save in the new layout: %s", tb_last_error());
    model_destroy(m);
    CHECK(has_tensor(now, "backbone.embeddings.weight") && !has_tensor(now, "backbone.embedding.weight") &&
              has_tensor(now, "lm_head.weight") && has_tensor(now, "backbone.layers.1.mixer.A_log"),
          "the saved tensors do not have transformers' names");
    cJSON *cfg = read_json(now, "config.json");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    const cJSON *hidden = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_size");
    CHECK(cJSON_IsString(type) && tb_streq(type->valuestring, "mamba") && cJSON_IsNumber(hidden) &&
              hidden->valueint == 32 && !cJSON_GetObjectItemCaseSensitive(cfg, "d_model"),
          "the saved config.json is not transformers' MambaConfig");
    cJSON_Delete(cfg);

    // The old build's steps 4 and 5 from the same state, within rounding (the
    // fixture came from another build; 1e-4 as in check_params_after_adamw: a
    // gradient near 0 that rounds the other way moves a weight by up to lr);
    // both layouts resume bit for bit alike.
    float *from_old = resume_to_last(OLD "/step3"), *from_new = resume_to_last(now);
    Model *last = checkpoint_load(OLD "/step5", backend_cpu(), NULL);
    CHECK(last != NULL, "step5: %s", tb_last_error());
    if (from_old && from_new && last) {
        float *want = params_of(last);
        check_close("resumed from the mamba_ssm-named checkpoint vs the old build's steps", from_old, want,
                    last->params.num_params, 1e-4f, 1e-4f);
        CHECK(memcmp(from_old, from_new, last->params.num_params * sizeof(float)) == 0,
              "resuming the same state from the two layouts differs");
        free(want);
    }
    if (last) model_destroy(last);
    free(from_old);
    free(from_new);
}

static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >%s/out.txt 2>%s/err.txt", test_tunebench(), args, root, root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int err_has(const char *needle) {
    char path[300];
    snprintf(path, sizeof path, "%s/err.txt", root);
    char *e = tb_read_file(path, NULL);
    int ok = e && strstr(e, needle) && strchr(e, '\n') == e + strlen(e) - 1;
    if (!ok) fprintf(stderr, "stderr: %s", e ? e : "(none)");
    free(e);
    return ok;
}

static void test_export(void) {
    char now[300], out[300], args[1024];
    snprintf(now, sizeof now, "%s/now", root);
    snprintf(out, sizeof out, "%s/exported", root);
    snprintf(args, sizeof args, "export --ckpt %s --format mamba_ssm --out %s", now, out);
    CHECK(run(args) == 0, "export --format mamba_ssm failed");
    CHECK(has_tensor(out, "backbone.embedding.weight") && !has_tensor(out, "backbone.embeddings.weight") &&
              has_tensor(out, "lm_head.weight") && has_tensor(out, "backbone.layers.0.mixer.in_proj.weight"),
          "the export does not have mamba_ssm's names");
    // Exactly the fields of mamba_ssm's MambaConfig dataclass: it refuses any other.
    static const char *fields[] = {"d_model",  "d_intermediate", "n_layer",          "vocab_size",
                                   "ssm_cfg",  "attn_layer_idx", "attn_cfg",         "rms_norm",
                                   "residual_in_fp32", "fused_add_norm", "pad_vocab_size_multiple",
                                   "tie_embeddings"};
    cJSON *cfg = read_json(out, "config.json");
    int n = 0, known = 1;
    for (const cJSON *f = cfg ? cfg->child : NULL; f; f = f->next, n++) {
        int found = 0;
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) found |= tb_streq(f->string, fields[i]);
        if (!found) fprintf(stderr, "config.json field '%s' is not mamba_ssm's\n", f->string);
        known &= found;
    }
    CHECK(cfg && known && n == (int)(sizeof fields / sizeof *fields), "the export's config.json: %d fields", n);
    cJSON_Delete(cfg);
    Model *a = checkpoint_load(now, backend_cpu(), NULL), *b = checkpoint_load(out, backend_cpu(), NULL);
    CHECK(a && b && a->params.num_params == b->params.num_params, "the export does not load back: %s", tb_last_error());
    if (a && b) {
        float *pa = params_of(a), *pb = params_of(b);
        CHECK(memcmp(pa, pb, a->params.num_params * sizeof(float)) == 0, "the export holds other weights");
        free(pa);
        free(pb);
    }
    if (a) model_destroy(a);
    if (b) model_destroy(b);

    // Refusals, in one line each.
    snprintf(args, sizeof args, "export --ckpt %s --format gguf --out %s/x", now, root);
    CHECK(run(args) != 0 && err_has("no export format 'gguf'") && err_has("mamba_ssm"), "export --format gguf");
    char gpt2[300];
    snprintf(gpt2, sizeof gpt2, "%s/gpt2", root);
    ModelSpec spec;
    model_spec_by_name(&spec, "tiny-gpt2", 64);
    Model *g = model_create(&spec, backend_cpu());
    g->vt->init_weights(g, 1);
    CHECK(checkpoint_save(gpt2, g, NULL, NULL) == 0, "save tiny-gpt2: %s", tb_last_error());
    model_destroy(g);
    snprintf(args, sizeof args, "export --ckpt %s --format mamba_ssm --out %s/x", gpt2, root);
    CHECK(run(args) != 0 && err_has("GPT-2 checkpoint has no export format"), "export of a GPT-2 checkpoint");
    snprintf(args, sizeof args, "%s/x", root);
    CHECK(!tb_dir_exists(args), "a refused export wrote its folder");

    // A file with both names of the embedding is refused, naming the extra one.
    char both[300], path[400];
    snprintf(both, sizeof both, "%s/both", root);
    SafeTensors *src = NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", now);
    src = st_open(path);
    if (src) {
        StWriteTensor *w = tb_calloc((size_t)src->num_tensors + 1, sizeof *w);
        for (int i = 0; i < src->num_tensors; i++) {
            w[i].name = src->tensors[i].name, w[i].ndim = src->tensors[i].ndim, w[i].data = src->tensors[i].data;
            for (int d = 0; d < w[i].ndim; d++) w[i].shape[d] = src->tensors[i].shape[d];
        }
        const StTensor *e = st_find(src, "backbone.embeddings.weight");
        w[src->num_tensors] = w[e - src->tensors];
        w[src->num_tensors].name = "backbone.embedding.weight";
        snprintf(args, sizeof args, "cp -r %s %s", now, both);
        CHECK(system(args) == 0, "cp");
        snprintf(path, sizeof path, "%s/model.safetensors", both);
        CHECK(st_write(path, w, src->num_tensors + 1, NULL) == 0, "st_write: %s", tb_last_error());
        free(w);
        st_close(src);
        tb_clear_error();
        Model *m = checkpoint_load(both, backend_cpu(), NULL);
        CHECK(!m && strstr(tb_last_error(), "'backbone.embedding.weight' is not part of"),
              "both names of the embedding: '%s'", tb_last_error());
        if (m) model_destroy(m);
    }
}

int main(int argc, char **argv) {
    (void)argc;
    test_find_tunebench(argv[0]);
    omp_set_num_threads(1);  // the fixture's steps ran on one thread
    snprintf(root, sizeof root, "/tmp/tb_test_ckpt_formats.%d", (int)getpid());
    CHECK(tb_mkdirs(root) == 0, "mkdirs: %s", tb_last_error());
    test_old_layout_resumes();
    test_export();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (test_failed == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_checkpoint_formats");
}
