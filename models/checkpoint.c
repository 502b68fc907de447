// checkpoint.c: checkpoint directories (see checkpoint.h).
//
// train_state.bin, version 2, all fields little-endian:
//
//   offset  bytes  field
//        0      8  magic "TBSTATE\0"
//        8      4  version (2)
//       12      4  flags: bit 0 = AdamW moments follow
//       16      8  step (int64)
//       24     32  Rng state, 4 x uint64
//       56     32  data loader state, 4 x uint64
//       88     36  OptimConfig: lr, min_lr (f32), warmup_steps, total_steps
//                  (i32), beta1, beta2, eps, weight_decay, grad_clip (f32)
//      124      4  zero
//      128      8  num_params
//      136      8  FNV-1a of the tensor table (names and shapes): a state
//                  saved from another model is refused
//      144      8  FNV-1a of the parameters saved with it (in table order, as
//                  config.json's tunebench.weights_checksum): a state paired
//                  with other weights is refused
//      152     96  the run id, NUL-padded
//      248      8  zero
//      256    4*P  AdamW first moments m (P = num_params), in table order
//   256+4P    4*P  AdamW second moments v
//      end      8  FNV-1a of every byte before it: catches truncation and
//                  corruption anywhere in the file
//
// Version 1 (before the run id and the weights checksum) had a 144-byte
// header; it is recognised and refused with a message saying why.
#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/json_in.h"
#include "safetensors.h"

#define STATE_MAGIC "TBSTATE"
#define STATE_VERSION 2u
#define STATE_HEADER_BYTES 256
#define STATE_FLAG_MOMENTS 1u

const char *checkpoint_tied_embedding_name(const Model *m) { return m->arch->embedding_tensor; }

static void join_path(char *out, size_t cap, const char *dir, const char *file) {
    snprintf(out, cap, "%s/%s", dir, file);
}

// ---------------------------------------------------------------- little-endian bytes

static void put_u32(unsigned char *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t x) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static void put_f32(unsigned char *p, float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    put_u32(p, x);
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t x = 0;
    for (int i = 3; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}
static float get_f32(const unsigned char *p) {
    uint32_t x = get_u32(p);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

// The identity of a set of weights: FNV-1a of the parameters in table order,
// recorded in config.json and train_state.bin so that neither can be paired
// with other weights (independent of the file layout, e.g. lm_head.weight).
static uint64_t params_checksum(const float *host_params, size_t num_params) {
    return tb_hash64(host_params, num_params * sizeof(float), TB_HASH64_SEED);
}

// The names of the tensors in a file: the model's own, or those of its
// architecture's other format (older checkpoints used them).
typedef enum { NAMES_OWN, NAMES_OTHER } TensorNames;

static const char *file_name(const Model *m, const ParamTensor *t, TensorNames names) {
    return names == NAMES_OTHER ? model_arch_other_name(m->arch, t->name) : t->name;
}

static uint64_t table_hash(const Model *m, TensorNames names) {
    uint64_t h = TB_HASH64_SEED;
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        const char *name = file_name(m, t, names);
        h = tb_hash64(name, strlen(name) + 1, h);
        unsigned char dims[4 + 8 * 4] = {0};
        put_u32(dims, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) put_u64(dims + 4 + 8 * d, (uint64_t)t->shape[d]);
        h = tb_hash64(dims, sizeof dims, h);
    }
    return h;
}

// ---------------------------------------------------------------- directories

// An existing directory may be replaced only if it is empty or is a checkpoint.
static int safe_to_replace(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int entries = 0, looks_like_checkpoint = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (tb_streq(e->d_name, ".") || tb_streq(e->d_name, "..")) continue;
        entries++;
        if (tb_streq(e->d_name, "model.safetensors") || tb_streq(e->d_name, "config.json"))
            looks_like_checkpoint = 1;
    }
    closedir(d);
    return entries == 0 || looks_like_checkpoint;
}

// ---------------------------------------------------------------- saving

static int save_weights(const char *path, const Model *m, const float *host_params, TensorNames names) {
    int n = m->params.num_tensors;
    StWriteTensor *ts = tb_calloc((size_t)n + 1, sizeof *ts);
    const ParamTensor *tied = model_find_tensor(m, checkpoint_tied_embedding_name(m));
    for (int i = 0; i < n; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        ts[i].name = file_name(m, t, names);
        ts[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
        ts[i].data = host_params + t->offset;
    }
    int count = n;
    if (tied && !model_find_tensor(m, "lm_head.weight")) {
        // The tied head, written out so that strict loaders find every weight.
        ts[count].name = "lm_head.weight";
        ts[count].ndim = tied->ndim;
        for (int d = 0; d < tied->ndim; d++) ts[count].shape[d] = tied->shape[d];
        ts[count].data = host_params + tied->offset;
        count++;
    }
    int rc = st_write(path, ts, count, NULL);
    free(ts);
    return rc;
}

static cJSON *tunebench_extras(const Model *m, uint64_t weights_checksum, cJSON *tokenizer) {
    cJSON *tb = cJSON_CreateObject();
    cJSON_AddStringToObject(tb, "name", m->spec.name);
    cJSON_AddNumberToObject(tb, "max_seq_len", m->spec.max_seq_len);
    cJSON_AddNumberToObject(tb, "num_params", (double)m->params.num_params);
    if (m->arch->write_extras) m->arch->write_extras(&m->spec, tb);
    cJSON_AddStringToObject(tb, "version", TB_VERSION);
    char sum[32];
    st_format_checksum(sum, weights_checksum);
    cJSON_AddStringToObject(tb, "weights_checksum", sum);
    cJSON_AddItemToObject(tb, "tokenizer", tokenizer ? tokenizer : cJSON_CreateNull());
    return tb;
}

// tokenizer: config.json's description of the tokenizer (owned by the caller).
static int save_config(const char *path, const Model *m, uint64_t weights_checksum, cJSON *tokenizer) {
    if (!m->vt || !m->vt->config_json)
        return tb_error("model '%s' cannot describe its config (no config_json)", m->spec.name);
    cJSON *cfg = m->vt->config_json(m);
    if (!cfg) return tb_error("model '%s': config_json failed", m->spec.name);
    cJSON_AddItemToObject(cfg, "tunebench",
                          tunebench_extras(m, weights_checksum, tokenizer ? cJSON_Duplicate(tokenizer, 1) : NULL));
    int rc = tb_json_write(path, cfg);
    cJSON_Delete(cfg);
    return rc;
}

static int write_hashed(FILE *fp, const void *data, size_t len, uint64_t *hash) {
    *hash = tb_hash64(data, len, *hash);
    return len == 0 || fwrite(data, 1, len, fp) == len;
}

static int save_train_state(const char *path, const Model *m, const TrainState *ts, uint64_t weights_checksum) {
    int has_moments = m->params.adam_m != NULL;
    unsigned char h[STATE_HEADER_BYTES] = {0};
    memcpy(h, STATE_MAGIC, 8);
    put_u32(h + 8, STATE_VERSION);
    put_u32(h + 12, has_moments ? STATE_FLAG_MOMENTS : 0);
    put_u64(h + 16, (uint64_t)ts->step);
    for (int i = 0; i < 4; i++) put_u64(h + 24 + 8 * i, ts->rng.s[i]);
    for (int i = 0; i < 4; i++) put_u64(h + 56 + 8 * i, ts->data_state[i]);
    const OptimConfig *oc = &ts->optim;
    put_f32(h + 88, oc->lr);
    put_f32(h + 92, oc->min_lr);
    put_u32(h + 96, (uint32_t)oc->warmup_steps);
    put_u32(h + 100, (uint32_t)oc->total_steps);
    put_f32(h + 104, oc->beta1);
    put_f32(h + 108, oc->beta2);
    put_f32(h + 112, oc->eps);
    put_f32(h + 116, oc->weight_decay);
    put_f32(h + 120, oc->grad_clip);
    put_u64(h + 128, (uint64_t)m->params.num_params);
    put_u64(h + 136, table_hash(m, NAMES_OWN));
    put_u64(h + 144, weights_checksum);
    size_t id_len = strnlen(ts->run_id, CHECKPOINT_RUN_ID_BYTES - 1);
    memcpy(h + 152, ts->run_id, id_len);

    AtomicFile af;
    FILE *fp = atomic_open(&af, path);
    if (!fp) return -1;
    uint64_t hash = TB_HASH64_SEED;
    int ok = write_hashed(fp, h, sizeof h, &hash);
    if (ok && has_moments) {
        // The moments are floats in host byte order, which is little-endian on
        // every machine tunebench runs on (x86-64, aarch64).
        size_t bytes = m->params.num_params * sizeof(float);
        float *host = tb_malloc(bytes);
        m->be->to_host(host, m->params.adam_m, bytes);
        ok = write_hashed(fp, host, bytes, &hash);
        m->be->to_host(host, m->params.adam_v, bytes);
        ok = ok && write_hashed(fp, host, bytes, &hash);
        free(host);
    }
    unsigned char tail[8];
    put_u64(tail, hash);
    ok = ok && fwrite(tail, 1, 8, fp) == 8;
    if (!ok) {
        int e = errno;
        atomic_abort(&af);
        return tb_error("cannot write %s: %s (is the disk full?)", path, strerror(e));
    }
    return atomic_commit(&af);
}

// The exact bytes of the caller's tokenizer file, as dir/vocab.tok, and their
// description for config.json: {"file", "bytes", "fnv1a64"}, or "bytes" for
// the byte-level tokenizer (no file), or NULL (none given).
static int save_tokenizer(const char *dir, const char *tokenizer, cJSON **desc) {
    *desc = NULL;
    if (!tokenizer) return 0;
    if (tb_streq(tokenizer, CHECKPOINT_TOKENIZER_BYTES)) {
        *desc = cJSON_CreateString(CHECKPOINT_TOKENIZER_BYTES);
        return 0;
    }
    size_t len;
    char *bytes = tb_read_file(tokenizer, &len);
    if (!bytes) return -1;
    char path[4096 + 32], hex[32];
    join_path(path, sizeof path, dir, CHECKPOINT_TOKENIZER_FILE);
    int rc = tb_write_file_atomic(path, bytes, len);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)tb_hash64(bytes, len, TB_HASH64_SEED));
    free(bytes);
    if (rc) return -1;
    *desc = cJSON_CreateObject();
    cJSON_AddStringToObject(*desc, "file", CHECKPOINT_TOKENIZER_FILE);
    cJSON_AddNumberToObject(*desc, "bytes", (double)len);
    cJSON_AddStringToObject(*desc, "fnv1a64", hex);
    return 0;
}

// A save builds dir under a temporary name (*tmp) and then renames it into
// place (finish_save), so the whole directory appears at once: a reader (or a
// resume after a crash) sees the previous checkpoint or this one, never a mix.
static int begin_save(const char *dir, char *tmp, size_t cap) {
    if (tb_refuse_symlink(dir, "the checkpoint folder")) return -1;
    if (tb_file_exists(dir)) return tb_error("cannot save checkpoint: %s is a file", dir);
    if (tb_dir_exists(dir) && !safe_to_replace(dir))
        return tb_error("cannot save checkpoint: %s exists and is not a tunebench checkpoint "
                        "(refusing to replace it; choose another directory)", dir);
    snprintf(tmp, cap, "%s.tmp.%ld", dir, (long)getpid());
    return tb_remove_flat_dir(tmp) != 0 || tb_mkdirs(tmp) != 0 ? -1 : 0;
}

static int finish_save(const char *tmp, const char *dir, int rc) {
    if (rc != 0) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", tb_last_error());
        tb_remove_flat_dir(tmp);
        return tb_error("%s", saved);
    }
    return tb_replace_dir(tmp, dir);
}

// The parameters on the host (the caller frees them).
static float *host_params(const Model *m) {
    size_t bytes = m->params.num_params * sizeof(float);
    float *host = tb_malloc(bytes);
    m->be->to_host(host, m->params.values, bytes);
    return host;
}

int checkpoint_save(const char *dir, const Model *m, const TrainState *ts, const char *tokenizer) {
    if (ts && ts->step > 0 && !m->params.adam_m)
        return tb_error("checkpoint %s: the training state is at step %lld but the model has no "
                        "AdamW moments", dir, (long long)ts->step);
    char tmp[4096], path[4096 + 32];
    if (begin_save(dir, tmp, sizeof tmp)) return -1;
    float *host = host_params(m);
    join_path(path, sizeof path, tmp, "model.safetensors");
    uint64_t checksum = params_checksum(host, m->params.num_params);
    int rc = save_weights(path, m, host, NAMES_OWN);
    free(host);
    cJSON *tok_desc = NULL;
    if (rc == 0) rc = save_tokenizer(tmp, tokenizer, &tok_desc);
    join_path(path, sizeof path, tmp, "config.json");
    if (rc == 0) rc = save_config(path, m, checksum, tok_desc);
    cJSON_Delete(tok_desc);
    join_path(path, sizeof path, tmp, "train_state.bin");
    if (rc == 0 && ts) rc = save_train_state(path, m, ts, checksum);
    join_path(path, sizeof path, tmp, "run_config.json");
    if (rc == 0 && ts && ts->run_config) rc = tb_write_file_atomic(path, ts->run_config, strlen(ts->run_config));
    return finish_save(tmp, dir, rc);
}

int checkpoint_export(const char *dir, const Model *m, const char *format) {
    const ModelArch *a = m->arch;
    if (!a->other_format || !tb_streq(a->other_format, format))
        return tb_error("a %s checkpoint has no export format '%s' (%s%s)", a->title, format,
                        a->other_format ? "it has " : "its own format is the only one",
                        a->other_format ? a->other_format : "");
    char tmp[4096], path[4096 + 32];
    if (begin_save(dir, tmp, sizeof tmp)) return -1;
    float *host = host_params(m);
    join_path(path, sizeof path, tmp, "model.safetensors");
    int rc = save_weights(path, m, host, NAMES_OTHER);
    free(host);
    if (rc == 0) {
        cJSON *cfg = a->other_config_json(&m->spec);
        join_path(path, sizeof path, tmp, "config.json");
        rc = tb_json_write(path, cfg);
        cJSON_Delete(cfg);
    }
    return finish_save(tmp, dir, rc);
}

// ---------------------------------------------------------------- loading

int checkpoint_read_step(const char *dir, int64_t *step) {
    char path[4096 + 32];
    join_path(path, sizeof path, dir, "train_state.bin");
    FILE *fp = fopen(path, "rb");
    if (!fp) return tb_error("cannot open %s: %s", path, strerror(errno));
    unsigned char h[24];
    size_t got = fread(h, 1, sizeof h, fp);
    fclose(fp);
    if (got != sizeof h || memcmp(h, STATE_MAGIC, 8) != 0 || get_u32(h + 8) != STATE_VERSION)
        return tb_error("%s: not a tunebench training state of version %u", path, STATE_VERSION);
    *step = (int64_t)get_u64(h + 16);
    return 0;
}

char *checkpoint_read_run_config(const char *dir) {
    char path[4096 + 32];
    join_path(path, sizeof path, dir, "run_config.json");
    return tb_file_exists(path) ? tb_read_file(path, NULL) : NULL;
}

// Reads config.json into spec; weights_checksum receives its
// tunebench.weights_checksum ("" when it has none).
static int read_spec(const char *dir, ModelSpec *spec, char weights_checksum[32]) {
    weights_checksum[0] = '\0';
    char path[4096 + 32];
    join_path(path, sizeof path, dir, "config.json");
    if (!tb_dir_exists(dir)) return tb_error("checkpoint %s: no such directory", dir);
    if (!tb_file_exists(path))
        return tb_error("%s is missing: %s is not a checkpoint directory", path, dir);
    cJSON *cfg = tb_json_load(path);
    if (!cfg) return -1;
    int rc = model_spec_from_config_json(spec, cfg, path);
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "tunebench"),
                                                        "weights_checksum");
    if (cJSON_IsString(sum)) snprintf(weights_checksum, 32, "%s", sum->valuestring);
    cJSON_Delete(cfg);
    return rc;
}

static void format_shape(char *out, size_t cap, int ndim, const int64_t *shape) {
    size_t len = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(out + len, cap - len, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (len < cap) snprintf(out + len, cap - len, "]");
}

// Buffers the checkpoint may hold that are not parameters (older
// transformers wrote the attention mask buffers into checkpoints).
static int ignorable_buffer(const char *name) {
    size_t n = strlen(name);
    const char *suffixes[] = {".attn.bias", ".attn.masked_bias"};
    for (int i = 0; i < 2; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0 && strncmp(name, "transformer.h.", 14) == 0)
            return 1;
    }
    return 0;
}

// The first non-finite value of n floats, or -1.
static long first_non_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

// Loads the tensors into the model. expect_checksum: config.json's record of
// the parameters' checksum ("" for none); *checksum receives theirs.
static int load_weights(Model *m, const char *path, const char *expect_checksum, uint64_t *checksum) {
    SafeTensors *st = st_open(path);  // verifies the data against the header's checksum
    if (!st) return -1;
    int rc = 0;
    float *host = tb_malloc(m->params.num_params * sizeof(float));
    char *read = tb_calloc((size_t)st->num_tensors + 1, 1);  // which of the file's tensors were read
    for (int i = 0; i < m->params.num_tensors && !rc; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        const StTensor *s = st_find(st, t->name);
        if (!s) s = st_find(st, file_name(m, t, NAMES_OTHER));
        if (!s) {
            rc = tb_error("%s: tensor '%s' is missing (a checkpoint of another model?)", path,
                          t->name);
            break;
        }
        int same = s->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
        if (!same) {
            char got[128], want[128];
            format_shape(got, sizeof got, s->ndim, s->shape);
            format_shape(want, sizeof want, t->ndim, t->shape);
            rc = tb_error("%s: tensor '%s' has shape %s, but config.json's model needs %s", path,
                          t->name, got, want);
            break;
        }
        long bad = first_non_finite(s->data, t->numel);
        if (bad >= 0) {
            rc = tb_error("%s: tensor '%s' holds a non-finite value (%g at element %ld): the weights are "
                          "unusable (a diverged run? resume from an earlier checkpoint)", path, t->name,
                          (double)s->data[bad], bad);
            break;
        }
        memcpy(host + t->offset, s->data, t->numel * sizeof(float));
        read[s - st->tensors] = 1;
    }
    for (int i = 0; i < st->num_tensors && !rc; i++) {
        const StTensor *s = &st->tensors[i];
        if (read[i] || ignorable_buffer(s->name)) continue;
        if (tb_streq(s->name, "lm_head.weight")) {
            // Optional; if present it must be the tied embedding itself.
            const ParamTensor *tied = model_find_tensor(m, checkpoint_tied_embedding_name(m));
            if (!tied || s->numel != tied->numel ||
                memcmp(s->data, host + tied->offset, s->numel * sizeof(float)) != 0)
                rc = tb_error("%s: tensor 'lm_head.weight' differs from '%s'; tunebench models "
                              "tie the LM head to the embedding", path,
                              checkpoint_tied_embedding_name(m));
            continue;
        }
        rc = tb_error("%s: tensor '%s' is not part of a %s model (a checkpoint of another "
                      "architecture?)", path, s->name, m->spec.arch);
    }
    if (!rc) *checksum = params_checksum(host, m->params.num_params);
    if (!rc && expect_checksum[0]) {
        // config.json and model.safetensors were saved together: these must
        // be the parameters config.json describes.
        char got[32];
        st_format_checksum(got, *checksum);
        if (strcmp(got, expect_checksum) != 0)
            rc = tb_error("%s does not hold the weights that the config.json beside it was saved with "
                          "(checksum %s, config.json records %s): a model.safetensors from another "
                          "checkpoint? (After changing the weights on purpose, delete "
                          "tunebench.weights_checksum from config.json.)", path, got, expect_checksum);
    }
    if (!rc) m->be->to_device(m->params.values, host, m->params.num_params * sizeof(float));
    free(read);
    free(host);
    st_close(st);
    return rc;
}

static int load_train_state(Model *m, const char *path, TrainState *ts, uint64_t weights_checksum) {
    memset(ts, 0, sizeof *ts);  // run_config (a saving-only field) among them: a loaded state saves as it is
    if (!tb_file_exists(path))
        return tb_error("%s is missing: this checkpoint holds weights only and cannot resume "
                        "training", path);
    size_t len;
    unsigned char *buf = (unsigned char *)tb_read_file(path, &len);
    if (!buf) return -1;
    int rc = 0;
    if (len >= 16 && memcmp(buf, STATE_MAGIC, 8) == 0 && get_u32(buf + 8) == 1) {
        rc = tb_error("%s: a training state of version 1, from a tunebench before checksums: it records "
                      "neither its run nor the weights it was saved with, so it cannot be checked and "
                      "is not resumed (start a new run; eval, score and generate still read the weights)",
                      path);
        goto done;
    }
    if (len < STATE_HEADER_BYTES + 8 || memcmp(buf, STATE_MAGIC, 8) != 0) {
        rc = tb_error("%s: not a tunebench training state (bad magic or truncated to %zu bytes)",
                      path, len);
        goto done;
    }
    uint32_t version = get_u32(buf + 8), flags = get_u32(buf + 12);
    if (version != STATE_VERSION) {
        rc = tb_error("%s: training state version %u; this build reads version %u", path,
                      version, STATE_VERSION);
        goto done;
    }
    uint64_t num_params = get_u64(buf + 128);
    int has_moments = (flags & STATE_FLAG_MOMENTS) != 0;
    uint64_t expect = STATE_HEADER_BYTES + 8 + (has_moments ? 8 * num_params : 0);
    if (num_params > ((uint64_t)1 << 40) || len != expect) {
        rc = tb_error("%s: %zu bytes, expected %llu for %llu parameters (truncated or corrupt "
                      "file)", path, len, (unsigned long long)expect,
                      (unsigned long long)num_params);
        goto done;
    }
    if (tb_hash64(buf, len - 8, TB_HASH64_SEED) != get_u64(buf + len - 8)) {
        rc = tb_error("%s: checksum mismatch (the file is corrupt)", path);
        goto done;
    }
    uint64_t table = get_u64(buf + 136);
    if (num_params != m->params.num_params || (table != table_hash(m, NAMES_OWN) && table != table_hash(m, NAMES_OTHER))) {
        rc = tb_error("%s: the training state belongs to another model (%llu parameters, this "
                      "model has %zu)", path, (unsigned long long)num_params, m->params.num_params);
        goto done;
    }
    ts->weights_checksum = get_u64(buf + 144);
    if (ts->weights_checksum != weights_checksum) {
        rc = tb_error("%s was saved with other weights than the model.safetensors beside it (weights "
                      "checksum %016llx, the file's is %016llx): a train_state.bin copied from another run "
                      "or step? Resume from a complete checkpoint", path,
                      (unsigned long long)ts->weights_checksum, (unsigned long long)weights_checksum);
        goto done;
    }
    memcpy(ts->run_id, buf + 152, CHECKPOINT_RUN_ID_BYTES);
    ts->run_id[CHECKPOINT_RUN_ID_BYTES - 1] = '\0';
    ts->step = (int64_t)get_u64(buf + 16);
    for (int i = 0; i < 4; i++) ts->rng.s[i] = get_u64(buf + 24 + 8 * i);
    for (int i = 0; i < 4; i++) ts->data_state[i] = get_u64(buf + 56 + 8 * i);
    OptimConfig *oc = &ts->optim;
    oc->lr = get_f32(buf + 88);
    oc->min_lr = get_f32(buf + 92);
    oc->warmup_steps = (int)get_u32(buf + 96);
    oc->total_steps = (int)get_u32(buf + 100);
    oc->beta1 = get_f32(buf + 104);
    oc->beta2 = get_f32(buf + 108);
    oc->eps = get_f32(buf + 112);
    oc->weight_decay = get_f32(buf + 116);
    oc->grad_clip = get_f32(buf + 120);
    size_t bytes = m->params.num_params * sizeof(float);
    if (has_moments) {
        if (!m->params.adam_m) {
            m->params.adam_m = m->be->alloc(bytes);
            m->params.adam_v = m->be->alloc(bytes);
        }
        m->be->to_device(m->params.adam_m, buf + STATE_HEADER_BYTES, bytes);
        m->be->to_device(m->params.adam_v, buf + STATE_HEADER_BYTES + bytes, bytes);
    } else if (m->params.adam_m) {
        m->be->zero(m->params.adam_m, bytes);
        m->be->zero(m->params.adam_v, bytes);
    }
done:
    free(buf);
    return rc;
}

int checkpoint_load_into(Model *m, const char *dir, TrainState *ts) {
    ModelSpec spec;
    char expect_checksum[32];
    if (read_spec(dir, &spec, expect_checksum) != 0) return -1;
    if (!model_spec_same_shapes(&spec, &m->spec)) {
        char got[256], want[256];
        model_spec_describe(&spec, got, sizeof got);
        model_spec_describe(&m->spec, want, sizeof want);
        return tb_error("%s/config.json: the checkpoint holds %s, but the run expects %s", dir,
                        got, want);
    }
    char path[4096 + 32];
    join_path(path, sizeof path, dir, "model.safetensors");
    if (!tb_file_exists(path)) return tb_error("%s is missing: %s is not a complete checkpoint", path, dir);
    uint64_t checksum;
    if (load_weights(m, path, expect_checksum, &checksum) != 0) return -1;
    if (!ts) return 0;
    join_path(path, sizeof path, dir, "train_state.bin");
    return load_train_state(m, path, ts, checksum);
}

int checkpoint_tokenizer(const char *dir, CheckpointTokenizer *out) {
    memset(out, 0, sizeof *out);
    char path[4096 + 32];
    join_path(path, sizeof path, dir, "config.json");
    if (!tb_dir_exists(dir)) return tb_error("checkpoint %s: no such directory", dir);
    if (!tb_file_exists(path))
        return tb_error("%s is missing: %s is not a checkpoint directory", path, dir);
    char *text = tb_read_file(path, NULL);
    if (!text) return -1;
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    if (!cfg) return tb_error("%s: invalid JSON", path);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "tunebench"),
                                                         "tokenizer");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(desc, "file");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(desc, "fnv1a64");
    int rc = 0;
    if (!desc || cJSON_IsNull(desc)) {
        out->kind = CHECKPOINT_TOKENIZER_NONE;
    } else if (cJSON_IsString(desc) && tb_streq(desc->valuestring, CHECKPOINT_TOKENIZER_BYTES)) {
        out->kind = CHECKPOINT_TOKENIZER_BYTE_LEVEL;
    } else if (cJSON_IsString(file) && cJSON_IsString(hash) && !strchr(file->valuestring, '/') &&
               file->valuestring[0] && strlen(hash->valuestring) == 16) {
        out->kind = CHECKPOINT_TOKENIZER_IN_FILE;
        join_path(out->path, sizeof out->path, dir, file->valuestring);
        snprintf(out->fnv1a64, sizeof out->fnv1a64, "%s", hash->valuestring);
    } else {
        rc = tb_error("%s: tunebench.tokenizer must be \"bytes\" or {\"file\": a name in the folder, "
                      "\"fnv1a64\": 16 hex digits}", path);
    }
    cJSON_Delete(cfg);
    if (rc || out->kind != CHECKPOINT_TOKENIZER_IN_FILE) return rc;
    // The copy must be the file the checkpoint was saved with.
    size_t len;
    if (!tb_file_exists(out->path))
        return tb_error("%s is missing, though %s/config.json records it as the checkpoint's tokenizer "
                        "(copy the vocabulary the run trained with there)", out->path, dir);
    char *bytes = tb_read_file(out->path, &len);
    if (!bytes) return -1;
    char got[32];
    snprintf(got, sizeof got, "%016llx", (unsigned long long)tb_hash64(bytes, len, TB_HASH64_SEED));
    free(bytes);
    if (strcmp(got, out->fnv1a64) != 0)
        return tb_error("%s does not hold the tokenizer the checkpoint was saved with (fnv1a64 %s, "
                        "config.json records %s): restore the vocabulary the run trained with",
                        out->path, got, out->fnv1a64);
    return 0;
}

Model *checkpoint_load(const char *dir, const Backend *be, TrainState *ts) {
    ModelSpec spec;
    char unused[32];
    if (read_spec(dir, &spec, unused) != 0) return NULL;
    Model *m = model_create(&spec, be);
    if (!m) return NULL;
    if (checkpoint_load_into(m, dir, ts) != 0) {
        model_destroy(m);
        return NULL;
    }
    return m;
}
