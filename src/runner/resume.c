// resume.c: what a resumed run takes from its record and its checkpoint
// (see run.h).
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "intro.h"
#include "run.h"

// obj[key] as an integer, 0 when absent.
static long long section_int(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

// --resume accepts the checkpoint directory or the record beside it.
int run_locate_resume(Run *run, const char *arg) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", arg);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
    if (n > 5 && strcmp(dir + n - 5, ".json") == 0) dir[n - 5] = '\0';
    snprintf(run->run_dir, sizeof run->run_dir, "%s", dir);
    snprintf(run->record_path, sizeof run->record_path, "%s.json", dir);
    if (!tb_dir_exists(run->run_dir))
        return tb_error("--resume %s: no checkpoint directory %s (a run writes its first checkpoint after "
                        "checkpoint.interval steps or when interrupted)", arg, run->run_dir);
    if (record_load(&run->rec, run->record_path)) return -1;
    cJSON *training = record_section(&run->rec, "training");
    cJSON *cfg_json = cJSON_GetObjectItemCaseSensitive(training, "config");
    int threads_override = run->cfg.threads;
    config_defaults(&run->cfg);
    if (config_from_json(&run->cfg, cfg_json, run->record_path)) return -1;
    // The run continues with its recorded thread count unless --threads says
    // otherwise; the bits match an uninterrupted run only with the same count.
    if (run->threads_given && threads_override != run->cfg.threads) {
        fprintf(stderr, "tunebench: note: resuming with %d threads instead of the run's %d; the losses will not "
                        "be bit-identical to an uninterrupted run\n", threads_override, run->cfg.threads);
        run->cfg.threads = threads_override;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(record_section(&run->rec, "identity"), "run_id");
    snprintf(run->run_id, sizeof run->run_id, "%s", cJSON_IsString(id) ? id->valuestring : "resumed");
    const cJSON *timing = record_section(&run->rec, "timing");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(timing, "train_seconds");
    const cJSON *wa = cJSON_GetObjectItemCaseSensitive(timing, "wall_seconds");
    run->train_s_before = cJSON_IsNumber(tr) ? tr->valuedouble : 0;
    // A run killed outright (no checkpoint on the way out) recorded steps that
    // the resume will redo: count only the time of the steps it keeps.
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(timing, "steps_done");
    const cJSON *ckpt = cJSON_GetObjectItemCaseSensitive(record_section(&run->rec, "identity"), "checkpoint_step");
    if (cJSON_IsNumber(done) && cJSON_IsNumber(ckpt) && done->valuedouble > ckpt->valuedouble && done->valuedouble > 0)
        run->train_s_before *= ckpt->valuedouble / done->valuedouble;
    run->wall_s_before = cJSON_IsNumber(wa) ? wa->valuedouble : 0;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(timing, "eval_seconds");
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(timing, "checkpoint_seconds");
    const cJSON *med = cJSON_GetObjectItemCaseSensitive(timing, "median_step_ms");
    run->eval_s_before = cJSON_IsNumber(ev) ? ev->valuedouble : 0;
    run->ckpt_s_before = cJSON_IsNumber(ck) ? ck->valuedouble : 0;
    run->median_before = cJSON_IsNumber(med) ? med->valuedouble : NAN;
    run->skip_before = (int)section_int(timing, "warmup_steps_excluded");
    run->timed_before = (int)section_int(timing, "timed_steps");
    return 0;
}

// A resumed run continues with its record's config. It must be the config
// the checkpoint was trained with (run_config.json beside it) and the
// optimizer settings of its train_state.bin, or the resumed run would be
// another run under the same name. Differences are refused, naming each key,
// unless --allow-config-change, and then the new segment lists them.
static const struct {
    const char *key;
    size_t offset;
} optim_keys[] = {
    {"optimizer.lr", offsetof(OptimConfig, lr)},
    {"optimizer.beta1", offsetof(OptimConfig, beta1)},
    {"optimizer.beta2", offsetof(OptimConfig, beta2)},
    {"optimizer.eps", offsetof(OptimConfig, eps)},
    {"optimizer.weight_decay", offsetof(OptimConfig, weight_decay)},
    {"optimizer.grad_clip", offsetof(OptimConfig, grad_clip)},
};

static int listed(const cJSON *changes, const char *key) {
    size_t n = strlen(key);
    for (const cJSON *c = changes->child; c; c = c->next)
        if (strncmp(c->valuestring, key, n) == 0 && c->valuestring[n] == ':') return 1;
    return 0;
}

int run_check_resume_config(Run *run, const TrainState *ts, int allow_change) {
    cJSON *changes = cJSON_CreateArray();
    char *text = checkpoint_read_run_config(run->run_dir);
    if (text) {
        char origin[1100];
        snprintf(origin, sizeof origin, "%s/run_config.json", run->run_dir);
        cJSON *json = cJSON_Parse(text);
        free(text);
        ExperimentConfig *trained = tb_malloc(sizeof *trained);
        config_defaults(trained);
        int bad = !json ? tb_error("%s: invalid JSON", origin) : config_from_json(trained, json, origin);
        cJSON_Delete(json);
        if (!bad) config_diff(trained, &run->cfg, changes);
        free(trained);
        if (bad) {
            cJSON_Delete(changes);
            return -1;
        }
    }
    // The optimizer as train_state.bin holds it (the 32-bit values the steps used).
    const OptimConfig *was = &ts->optim, *now = &run->optim;
    char line[300];
    for (size_t i = 0; i < sizeof optim_keys / sizeof optim_keys[0]; i++) {
        float a, b;
        memcpy(&a, (const char *)was + optim_keys[i].offset, sizeof a);
        memcpy(&b, (const char *)now + optim_keys[i].offset, sizeof b);
        if (a == b || listed(changes, optim_keys[i].key)) continue;
        snprintf(line, sizeof line, "%s: %.9g -> %.9g", optim_keys[i].key, (double)a, (double)b);
        cJSON_AddItemToArray(changes, cJSON_CreateString(line));
    }
    if (was->min_lr != now->min_lr && !listed(changes, "optimizer.min_lr_ratio") && !listed(changes, "optimizer.lr")) {
        snprintf(line, sizeof line, "optimizer.min_lr_ratio: floor %.9g -> %.9g", (double)was->min_lr, (double)now->min_lr);
        cJSON_AddItemToArray(changes, cJSON_CreateString(line));
    }
    if (was->warmup_steps != now->warmup_steps && !listed(changes, "optimizer.warmup_steps")) {
        snprintf(line, sizeof line, "optimizer.warmup_steps: %d -> %d", was->warmup_steps, now->warmup_steps);
        cJSON_AddItemToArray(changes, cJSON_CreateString(line));
    }
    if (was->total_steps != now->total_steps && !listed(changes, "steps")) {
        snprintf(line, sizeof line, "steps: %d -> %d", was->total_steps, now->total_steps);
        cJSON_AddItemToArray(changes, cJSON_CreateString(line));
    }
    int n = cJSON_GetArraySize(changes);
    if (n == 0) {
        cJSON_Delete(changes);
        return 0;
    }
    char list[1500] = "";
    size_t used = 0;
    for (const cJSON *c = changes->child; c && used < sizeof list; c = c->next)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", c == changes->child ? "" : "; ", c->valuestring);
    if (!allow_change) {
        cJSON_Delete(changes);
        return tb_error("--resume %s: the record's training.config differs from the config its checkpoint was trained "
                        "with (%s); restore the record's values, or pass --allow-config-change to continue with "
                        "them (the record then lists the change)", run->run_dir, list);
    }
    progress_note(&run->progress, "resuming with a changed config (--allow-config-change): %s", list);
    record_segment_set(&run->rec, "config_changes", changes);
    // What the record derives from the config follows it.
    cJSON *training = record_section(&run->rec, "training");
    double tokens_per_step = (double)run->cfg.batch_size * run->cfg.seq_len;
    cJSON_ReplaceItemInObjectCaseSensitive(training, "tokens_per_step", cJSON_CreateNumber(tokens_per_step));
    if (cJSON_GetObjectItemCaseSensitive(training, "epochs"))
        cJSON_ReplaceItemInObjectCaseSensitive(
            training, "epochs",
            cJSON_CreateNumber(intro_epochs(run->cfg.steps, tokens_per_step, loader_num_tokens(&run->train))));
    return 0;
}
