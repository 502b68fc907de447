// config.c: the experiment config table, its reader, overrides and resolution.
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "lib/common.h"
#include "lib/json_in.h"

typedef enum { KEY_STRING, KEY_INT, KEY_INT64, KEY_FLOAT } KeyType;

typedef struct {
    const char *key;       // dotted path in the file: "optimizer.lr"
    KeyType type;
    size_t offset;         // into ExperimentConfig
    size_t capacity;       // strings: buffer size
    double min, max;       // numbers: inclusive range ...
    int min_exclusive;     // ... or (min, max] when set
    const char *choices;   // strings: "cpu|cuda", or NULL for any non-empty text
    const char *meaning;
} ConfigKey;

#define STR(field) KEY_STRING, offsetof(ExperimentConfig, field), sizeof(((ExperimentConfig *)0)->field)
#define NUM(kind, field) kind, offsetof(ExperimentConfig, field), 0

// "|fp32|tf32|bf16" from kernels/precisions.def; the key's choices skip the first bar.
#define PRECISION(id, name, meaning) "|" name
static const char precision_bar_list[] = ""
#include "kernels/precisions.def"
    ;
#undef PRECISION

// 2^53: the largest integer a JSON number (a double) carries exactly.
#define MAX_EXACT_INT 9007199254740992.0

static const ConfigKey config_keys[] = {
    {"experiment", STR(experiment), 0, 0, 0, NULL, "experiment name; records go to <results>/<experiment>/"},
    {"description", STR(description), 0, 0, 0, "", "one line for humans"},
    {"model", STR(model), 0, 0, 0, NULL, "a named model config (gpt2-6m, mamba-60m, lstm-6m, ...; an unknown name lists them all)"},
    {"data", STR(data_dir), 0, 0, 0, NULL, "corpus folder with train.bin, val.bin and the vocabulary"},
    {"results", STR(results_dir), 0, 0, 0, NULL, "folder for run records and checkpoints"},
    {"backend", STR(backend), 0, 0, 0, "cpu|cuda", "compute backend"},
    {"precision", STR(precision), 0, 0, 0, precision_bar_list + 1,
     "the linear layers' GEMMs: fp32 (the reference), tf32 (CUDA only), bf16 (operands rounded to bf16, fp32 sums; "
     "weights, AdamW moments, norms, softmax, loss and scan state stay fp32)"},
    {"threads", NUM(KEY_INT, threads), 0, 4096, 0, NULL, "CPU threads (OpenMP and OpenBLAS); 0 = all cores"},
    {"ranks", NUM(KEY_INT, ranks), 1, 4096, 0, NULL, "data-parallel MPI ranks, each training batch_size / ranks rows (mpirun -np N build/tunebench-mpi, or build/tunebench-nccl on GPUs)"},
    {"seed", NUM(KEY_INT64, seed), 0, MAX_EXACT_INT, 0, NULL, "seed of the initialisation, the data order and the samples"},
    {"steps", NUM(KEY_INT, steps), 1, 1e9, 0, NULL, "optimizer steps (the protocol is 100000)"},
    {"batch_size", NUM(KEY_INT, batch_size), 1, 65536, 0, NULL, "sequences per step"},
    {"seq_len", NUM(KEY_INT, seq_len), 2, 1 << 20, 0, NULL, "tokens per sequence (at most the model's context)"},
    {"log_interval", NUM(KEY_INT, log_interval), 1, 1e9, 0, NULL, "steps between curve rows and plain progress lines"},
    {"optimizer.lr", NUM(KEY_FLOAT, lr), 0, 1, 1, NULL, "peak learning rate"},
    {"optimizer.min_lr_ratio", NUM(KEY_FLOAT, min_lr_ratio), 0, 1, 0, NULL, "cosine floor as a fraction of the peak"},
    {"optimizer.warmup_steps", NUM(KEY_INT, warmup_steps), 0, 1e9, 0, NULL, "linear warmup steps"},
    {"optimizer.beta1", NUM(KEY_FLOAT, beta1), 0, 0.999999, 0, NULL, "AdamW beta1"},
    {"optimizer.beta2", NUM(KEY_FLOAT, beta2), 0, 0.999999999, 0, NULL, "AdamW beta2"},
    {"optimizer.eps", NUM(KEY_FLOAT, eps), 0, 1, 1, NULL, "AdamW epsilon"},
    {"optimizer.weight_decay", NUM(KEY_FLOAT, weight_decay), 0, 10, 0, NULL, "decoupled weight decay on 2-D weights"},
    {"optimizer.grad_clip", NUM(KEY_FLOAT, grad_clip), 0, 1e6, 0, NULL, "max global gradient norm; 0 = no clipping"},
    {"eval.interval", NUM(KEY_INT, eval_interval), 1, 1e9, 0, NULL, "steps between validations (and one at the end)"},
    {"eval.batches", NUM(KEY_INT, eval_batches), 0, 1e9, 0, NULL, "validation batches; 0 = the whole validation split"},
    {"eval.max_share", NUM(KEY_FLOAT, eval_max_share), 0, 1, 1, NULL, "most of a run's compute validation may take (fewer validations or windows on short runs); 1 = no limit"},
    {"eval.patience", NUM(KEY_INT, eval_patience), 0, 1e9, 0, NULL, "stop after N validations without a new best validation loss; 0 = off"},
    {"checkpoint.interval", NUM(KEY_INT, checkpoint_interval), 1, 1e9, 0, NULL, "steps between checkpoints (and one at the end)"},
    {"inference.repeats", NUM(KEY_INT, inference_repeats), 0, 1000, 0, NULL, "repeats per prefill length and decode position; 0 = skip"},
    {"samples.count", NUM(KEY_INT, sample_count), 0, 1000, 0, NULL, "tunes generated into the record at the end"},
    {"samples.max_tokens", NUM(KEY_INT, sample_max_tokens), 1, 1 << 20, 0, NULL, "length cap of a generated tune"},
    {"samples.temperature", NUM(KEY_FLOAT, sample_temperature), 0, 100, 0, NULL, "sampling temperature; 0 = greedy"},
    {"samples.top_k", NUM(KEY_INT, sample_top_k), 0, 1 << 20, 0, NULL, "top-k sampling; 0 = off"},
    {"samples.top_p", NUM(KEY_FLOAT, sample_top_p), 0, 1, 1, NULL, "nucleus sampling; 1 = off"},
    {"samples.prompt", STR(sample_prompt), 0, 0, 0, "", "ABC text the samples start from"},
};
#define NUM_CONFIG_KEYS ((int)(sizeof config_keys / sizeof config_keys[0]))
_Static_assert(NUM_CONFIG_KEYS <= (int)(sizeof(((ExperimentConfig *)0)->key_origin) /
                                        sizeof(((ExperimentConfig *)0)->key_origin[0])),
               "ExperimentConfig.key_origin needs a slot per config key");

void config_defaults(ExperimentConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->source, sizeof cfg->source, "(defaults)");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "data/corpus/music21/control");
    snprintf(cfg->results_dir, sizeof cfg->results_dir, "results");
    snprintf(cfg->backend, sizeof cfg->backend, BACKEND_DEFAULT_NAME);
    snprintf(cfg->precision, sizeof cfg->precision, PRECISION_DEFAULT_NAME);
    cfg->ranks = 1;
    cfg->seed = 1337;
    cfg->steps = PROTOCOL_STEPS;
    cfg->batch_size = 8;
    cfg->seq_len = 256;
    cfg->lr = OPTIM_DEFAULT_LR;
    cfg->min_lr_ratio = OPTIM_DEFAULT_MIN_LR_RATIO;
    cfg->warmup_steps = OPTIM_DEFAULT_WARMUP_STEPS;
    cfg->beta1 = OPTIM_DEFAULT_BETA1;
    cfg->beta2 = OPTIM_DEFAULT_BETA2;
    cfg->eps = OPTIM_DEFAULT_EPS;
    cfg->weight_decay = OPTIM_DEFAULT_WEIGHT_DECAY;
    cfg->grad_clip = OPTIM_DEFAULT_GRAD_CLIP;
    cfg->log_interval = 10;
    cfg->eval_interval = 1000;
    cfg->eval_batches = 64;
    cfg->eval_max_share = 0.2;
    cfg->checkpoint_interval = 5000;
    cfg->inference_repeats = 5;
    cfg->sample_count = 3;
    cfg->sample_max_tokens = 256;
    cfg->sample_temperature = 1.0;
    cfg->sample_top_k = 0;
    cfg->sample_top_p = 0.95;
    snprintf(cfg->sample_prompt, sizeof cfg->sample_prompt, "X:1\n");
}

void config_optim(const ExperimentConfig *cfg, OptimConfig *oc) {
    memset(oc, 0, sizeof *oc);
    oc->lr = (float)cfg->lr;
    oc->min_lr = (float)(cfg->lr * cfg->min_lr_ratio);
    oc->warmup_steps = cfg->warmup_steps;
    oc->total_steps = cfg->steps;
    oc->beta1 = (float)cfg->beta1, oc->beta2 = (float)cfg->beta2, oc->eps = (float)cfg->eps;
    oc->weight_decay = (float)cfg->weight_decay;
    oc->grad_clip = (float)cfg->grad_clip;
}

static const ConfigKey *find_key(const char *key) {
    for (int i = 0; i < NUM_CONFIG_KEYS; i++)
        if (strcmp(config_keys[i].key, key) == 0) return &config_keys[i];
    return NULL;
}

static int choice_allowed(const char *choices, const char *value) {
    size_t n = strlen(value);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, value, n) == 0) return 1;
        if (!bar) break;
        c = bar + 1;
    }
    return 0;
}

static int set_string(ExperimentConfig *cfg, const ConfigKey *k, const char *value, const char *origin) {
    // A config's strings reach the record, the prompts and the file names
    // as they are: bytes that are not UTF-8 are refused, never cleaned.
    size_t bad = tb_utf8_invalid_at(value, strlen(value));
    if (value[bad])
        return tb_error("%s: key '%s': byte %zu of its value (0x%02x) is not UTF-8 text; give it as UTF-8", origin,
                        k->key, bad, (unsigned char)value[bad]);
    if (k->choices && k->choices[0] && !choice_allowed(k->choices, value))
        return tb_error("%s: key '%s': '%s' is not one of %s", origin, k->key, value, k->choices);
    if (!k->choices && value[0] == '\0')
        return tb_error("%s: key '%s': must not be empty", origin, k->key);
    if (strlen(value) >= k->capacity)
        return tb_error("%s: key '%s': longer than %zu characters", origin, k->key, k->capacity - 1);
    memcpy((char *)cfg + k->offset, value, strlen(value) + 1);
    return 0;
}

static int set_number(ExperimentConfig *cfg, const ConfigKey *k, double x, const char *origin) {
    if (!isfinite(x)) return tb_error("%s: key '%s': must be a finite number", origin, k->key);
    if (k->type != KEY_FLOAT && x != floor(x))
        return tb_error("%s: key '%s': expected an integer, got %g", origin, k->key, x);
    int below = k->min_exclusive ? x <= k->min : x < k->min;
    if (below || x > k->max)
        return tb_error("%s: key '%s': %.16g is out of range %s%.16g, %.16g] (%s)", origin, k->key, x,
                        k->min_exclusive ? "(" : "[", k->min, k->max, k->meaning);
    void *field = (char *)cfg + k->offset;
    if (k->type == KEY_INT) *(int *)field = (int)x;
    else if (k->type == KEY_INT64) *(int64_t *)field = (int64_t)x;
    else *(double *)field = x;
    return 0;
}

// An unknown key: the error suggests the keys whose last part it is
// ("lr" -> "optimizer.lr"), else points to the list.
static int unknown_key(const char *origin, const char *key) {
    char found[256] = "";
    size_t used = 0, n = strlen(key);
    for (int i = 0; i < NUM_CONFIG_KEYS; i++) {
        const char *k = config_keys[i].key, *dot = strrchr(k, '.');
        size_t len = strlen(k);
        int tail = len > n && k[len - n - 1] == '.' && strcmp(k + len - n, key) == 0;
        int head = dot && (size_t)(dot - k) == n && strncmp(k, key, n) == 0;  // "eval" -> its keys
        if ((tail || head) && used < sizeof found)
            used += (size_t)snprintf(found + used, sizeof found - used, "%s'%s'", used ? ", " : "", k);
    }
    if (used) return tb_error("%s: unknown key '%s'; did you mean %s?", origin, key, found);
    return tb_error("%s: unknown key '%s' (run 'tunebench train --help' for the keys)", origin, key);
}

// Walks one JSON object; nested objects extend the dotted prefix.
static int read_object(ExperimentConfig *cfg, const cJSON *obj, const char *prefix, const char *origin) {
    for (const cJSON *item = obj->child; item; item = item->next) {
        char key[128];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", item->string);
        // JSON parsers disagree on a repeated key (cJSON keeps both, most keep
        // the last): which value was meant is unknowable, so it is an error.
        for (const cJSON *before = obj->child; before != item; before = before->next)
            if (strcmp(before->string, item->string) == 0)
                return tb_error("%s: key '%s' appears twice; keep one", origin, key);
        if (cJSON_IsObject(item)) {
            // Only a known section may be an object: "optimizer", "eval", ...
            size_t n = strlen(key);
            int is_section = 0;
            for (int i = 0; i < NUM_CONFIG_KEYS; i++)
                if (strncmp(config_keys[i].key, key, n) == 0 && config_keys[i].key[n] == '.')
                    is_section = 1;
            if (!is_section) {
                if (find_key(key)) return tb_error("%s: key '%s': expected a value, got an object", origin, key);
                return tb_error("%s: unknown key '%s' (run 'tunebench train --help' for the keys)", origin, key);
            }
            if (read_object(cfg, item, key, origin)) return -1;
            continue;
        }
        const ConfigKey *k = find_key(key);
        if (!k) return unknown_key(origin, key);
        if (k->type == KEY_STRING) {
            if (!cJSON_IsString(item))
                return tb_error("%s: key '%s': expected a string, got %s", origin, key, tb_json_type_name(item, 1));
            if (set_string(cfg, k, item->valuestring, origin)) return -1;
        } else {
            if (!cJSON_IsNumber(item))
                return tb_error("%s: key '%s': expected a number, got %s", origin, key, tb_json_type_name(item, 1));
            if (set_number(cfg, k, item->valuedouble, origin)) return -1;
        }
    }
    return 0;
}

int config_from_json(ExperimentConfig *cfg, const cJSON *json, const char *origin) {
    if (!cJSON_IsObject(json)) return tb_error("%s: expected a JSON object at the top level", origin);
    if (read_object(cfg, json, "", origin)) return -1;
    snprintf(cfg->source, sizeof cfg->source, "%s", origin);
    return 0;
}

int config_parse(ExperimentConfig *cfg, const char *text, size_t len, const char *origin) {
    cJSON *json = tb_json_parse(text, len, origin);
    if (!json) return -1;
    int rc = config_from_json(cfg, json, origin);
    cJSON_Delete(json);
    if (rc) return -1;
    if (!cfg->experiment[0]) return tb_error("%s: key 'experiment' is required", origin);
    if (!cfg->model[0]) return tb_error("%s: key 'model' is required", origin);
    return 0;
}

int config_load(ExperimentConfig *cfg, const char *path) {
    size_t len = 0;
    char *text = tb_read_file(path, &len);
    if (!text) return tb_error("cannot read experiment config %s (list them with 'ls experiments/')", path);
    int rc = config_parse(cfg, text, len, path);
    free(text);
    return rc;
}

int config_set(ExperimentConfig *cfg, const char *key, const char *value, const char *origin) {
    const ConfigKey *k = find_key(key);
    if (!k) return unknown_key(origin, key);
    int rc;
    if (k->type == KEY_STRING) {
        rc = set_string(cfg, k, value, origin);
    } else {
        char *end = NULL;
        errno = 0;
        double x = strtod(value, &end);
        if (end == value || *end != '\0' || errno == ERANGE)
            return tb_error("%s: key '%s': expected a number, got '%s'", origin, key, value);
        rc = set_number(cfg, k, x, origin);
    }
    if (rc == 0) snprintf(cfg->key_origin[k - config_keys], sizeof cfg->key_origin[0], "%s", origin);
    return rc;
}

const char *config_origin(const ExperimentConfig *cfg, const char *key) {
    const ConfigKey *k = find_key(key);
    if (k && cfg->key_origin[k - config_keys][0]) return cfg->key_origin[k - config_keys];
    return cfg->source;
}

int config_check(const ExperimentConfig *cfg) {
    if (!cfg->experiment[0]) return tb_error("%s: key 'experiment' is required", cfg->source);
    if (!cfg->model[0]) return tb_error("%s: key 'model' is required", cfg->source);
    for (const char *c = cfg->experiment; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('0' <= *c && *c <= '9') || *c == '-' || *c == '_'))
            return tb_error("%s: key 'experiment': '%s' may hold only a-z, 0-9, '-' and '_' (it names a folder)",
                            cfg->source, cfg->experiment);
    if (cfg->ranks > 1 && !tb_streq(cfg->precision, PRECISION_DEFAULT_NAME))
        return tb_error("%s: key 'precision': %s with %d ranks: data-parallel runs train in %s so far (the other "
                        "ranks are not told the precision); use precision %s or ranks 1",
                        config_origin(cfg, "precision"), cfg->precision, cfg->ranks, PRECISION_DEFAULT_NAME,
                        PRECISION_DEFAULT_NAME);
    if (cfg->warmup_steps > cfg->steps)
        return tb_error("%s: key 'optimizer.warmup_steps': %d is longer than the run (%d steps)",
                        config_origin(cfg, "optimizer.warmup_steps"), cfg->warmup_steps, cfg->steps);
    return 0;
}

static int min_int(int a, int b) { return a < b ? a : b; }

static void note(cJSON *notes, const char *fmt, int before, int after) {
    if (!notes || before == after) return;
    char line[256];
    snprintf(line, sizeof line, fmt, before, after);
    cJSON_AddItemToArray(notes, cJSON_CreateString(line));
}

void config_resolve(ExperimentConfig *cfg, cJSON *notes) {
    // A run shorter than the protocol is still a complete run: its schedule
    // warms up, decays to the floor at its last step, and it is evaluated,
    // logged and checkpointed about ten times.
    int tenth = cfg->steps / 10 > 0 ? cfg->steps / 10 : 1;
    int v;
    v = cfg->warmup_steps, cfg->warmup_steps = min_int(cfg->warmup_steps, cfg->steps / 10);
    note(notes, "optimizer.warmup_steps %d -> %d (at most a tenth of the run)", v, cfg->warmup_steps);
    v = cfg->eval_interval, cfg->eval_interval = min_int(cfg->eval_interval, tenth);
    note(notes, "eval.interval %d -> %d (at least ten validations per run)", v, cfg->eval_interval);
    v = cfg->checkpoint_interval, cfg->checkpoint_interval = min_int(cfg->checkpoint_interval, cfg->steps);
    note(notes, "checkpoint.interval %d -> %d (at most the run's length)", v, cfg->checkpoint_interval);
    v = cfg->log_interval, cfg->log_interval = min_int(cfg->log_interval, tenth);
    note(notes, "log_interval %d -> %d (at least ten curve rows per run)", v, cfg->log_interval);
}

// Finds (creating) the object that holds a dotted key's last part.
static cJSON *section_for(cJSON *root, const char *key, const char **leaf) {
    const char *dot = strchr(key, '.');
    if (!dot) {
        *leaf = key;
        return root;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(dot - key), key);
    cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!sec) sec = cJSON_AddObjectToObject(root, name);
    *leaf = dot + 1;
    return sec;
}

cJSON *config_to_json(const ExperimentConfig *cfg) {
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < NUM_CONFIG_KEYS; i++) {
        const ConfigKey *k = &config_keys[i];
        const char *leaf;
        cJSON *sec = section_for(root, k->key, &leaf);
        const void *field = (const char *)cfg + k->offset;
        switch (k->type) {
        case KEY_STRING: cJSON_AddStringToObject(sec, leaf, (const char *)field); break;
        case KEY_INT: cJSON_AddNumberToObject(sec, leaf, *(const int *)field); break;
        case KEY_INT64: cJSON_AddNumberToObject(sec, leaf, (double)*(const int64_t *)field); break;
        case KEY_FLOAT: cJSON_AddNumberToObject(sec, leaf, *(const double *)field); break;
        }
    }
    return root;
}

// A value as text; floats with `digits` significant digits.
static void format_value(const ConfigKey *k, const ExperimentConfig *cfg, int digits, char *out, size_t cap) {
    const void *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case KEY_STRING: snprintf(out, cap, "'%s'", (const char *)field); break;
    case KEY_INT: snprintf(out, cap, "%d", *(const int *)field); break;
    case KEY_INT64: snprintf(out, cap, "%lld", (long long)*(const int64_t *)field); break;
    case KEY_FLOAT: snprintf(out, cap, "%.*g", digits, *(const double *)field); break;
    }
}

int config_diff(const ExperimentConfig *from, const ExperimentConfig *to, cJSON *changes) {
    int n = 0;
    for (int i = 0; i < NUM_CONFIG_KEYS; i++) {
        const ConfigKey *k = &config_keys[i];
        if (strcmp(k->key, "threads") == 0) continue;
        char a[300], b[300], line[700];
        // 17 digits tell every two doubles apart; 15 read better where they suffice.
        format_value(k, from, 17, a, sizeof a);
        format_value(k, to, 17, b, sizeof b);
        if (strcmp(a, b) == 0) continue;
        char a15[300], b15[300];
        format_value(k, from, 15, a15, sizeof a15);
        format_value(k, to, 15, b15, sizeof b15);
        if (strcmp(a15, b15) != 0) memcpy(a, a15, sizeof a), memcpy(b, b15, sizeof b);
        snprintf(line, sizeof line, "%s: %s -> %s", k->key, a, b);
        cJSON_AddItemToArray(changes, cJSON_CreateString(line));
        n++;
    }
    return n;
}

void config_print_keys(FILE *out) {
    static const char *type_names[] = {"string", "integer", "integer", "number"};
    for (int i = 0; i < NUM_CONFIG_KEYS; i++) {
        const ConfigKey *k = &config_keys[i];
        char range[64] = "";
        if (k->type == KEY_STRING && k->choices && k->choices[0]) snprintf(range, sizeof range, "%s", k->choices);
        else if (k->type != KEY_STRING)
            snprintf(range, sizeof range, "%s%.16g, %.16g]", k->min_exclusive ? "(" : "[", k->min, k->max);
        fprintf(out, "  %-24s %-8s %-22s %s\n", k->key, type_names[k->type], range, k->meaning);
    }
}
