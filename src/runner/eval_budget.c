// eval_budget.c: see eval_budget.h.
#include "eval_budget.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/common.h"
#include "progress.h"

// Until a checkpoint is measured, one is assumed to write at this rate: a
// guess on the safe side of a local disk; checkpoints are a small part of any
// run (20 in the protocol), so the guess hardly moves an ETA.
#define CKPT_ASSUMED_BYTES_PER_S 200e6

int eval_count(int steps, int interval) {
    if (steps <= 0) return 1;
    if (interval < 1) interval = 1;
    return 1 + steps / interval + (steps % interval ? 1 : 0);
}

// Checkpoints a run writes after `step`: every interval-th step and the last.
static int checkpoints_after(int steps, int interval, int step) {
    if (interval < 1) interval = 1;
    if (step >= steps) return 0;
    int n = steps / interval - step / interval;
    if (steps % interval) n++;
    return n;
}

static int evals_after(int steps, int interval, int step) { return checkpoints_after(steps, interval, step); }

static uint64_t split_windows(uint64_t val_tokens, int T) {
    return val_tokens < 2 ? 0 : (val_tokens - 1 + (uint64_t)T - 1) / (uint64_t)T;
}

static uint64_t configured_windows(const ExperimentConfig *cfg, uint64_t split) {
    uint64_t w = (uint64_t)cfg->eval_batches * (uint64_t)cfg->batch_size;
    return cfg->eval_batches == 0 || w > split ? split : w;
}

static double share_of(double val_windows, const ExperimentConfig *cfg) {
    double train = EVAL_WINDOWS_PER_TRAIN_SEQUENCE * cfg->batch_size * (double)cfg->steps;
    return val_windows + train > 0 ? val_windows / (val_windows + train) : 0;
}

static void eval_plan_describe(EvalPlan *plan, const ExperimentConfig *cfg, uint64_t val_tokens) {
    plan->max_share = cfg->eval_max_share;
    plan->split_windows = split_windows(val_tokens, cfg->seq_len);
    plan->windows = configured_windows(cfg, plan->split_windows);
    plan->validations = eval_count(cfg->steps, cfg->eval_interval);
    plan->estimated_share = share_of((double)plan->validations * (double)plan->windows, cfg);
    plan->protocol_validations = eval_count(PROTOCOL_STEPS, plan->protocol_eval_interval);
}

// Notes "KEY before -> after (why)", replacing config_resolve's note on the
// same key, so that the record says in one line where the value came from.
static void note_change(cJSON *notes, const char *key, int before, int after, double share) {
    if (!notes || before == after) return;
    size_t n = strlen(key);
    for (int i = 0; i < cJSON_GetArraySize(notes); i++) {
        const cJSON *item = cJSON_GetArrayItem(notes, i);
        int earlier;
        if (cJSON_IsString(item) && strncmp(item->valuestring, key, n) == 0 && item->valuestring[n] == ' ' &&
            sscanf(item->valuestring + n, " %d ->", &earlier) == 1) {
            before = earlier;
            cJSON_DeleteItemFromArray(notes, i);
            break;
        }
    }
    char line[256];
    snprintf(line, sizeof line, "%s %d -> %d (validation at most %.0f%% of a short run's compute: eval.max_share)",
             key, before, after, 100 * share);
    cJSON_AddItemToArray(notes, cJSON_CreateString(line));
}

void eval_budget_apply(EvalPlan *plan, ExperimentConfig *cfg, uint64_t val_tokens, int protocol_eval_interval,
                       cJSON *notes) {
    plan->limited = 0;
    uint64_t split = split_windows(val_tokens, cfg->seq_len);
    uint64_t full = configured_windows(cfg, split);
    double s = cfg->eval_max_share;
    // The most forward windows all validations may take: V x W <= s / (1 - s) x R x B x steps.
    double budget = s >= 1 ? INFINITY : s / (1 - s) * EVAL_WINDOWS_PER_TRAIN_SEQUENCE * cfg->batch_size * cfg->steps;
    int v = eval_count(cfg->steps, cfg->eval_interval);
    int interval = cfg->eval_interval, batches = cfg->eval_batches;
    if (full > 0 && (double)v * (double)full > budget) {
        // Fewer validations, each on every configured window ...
        int fit = (int)fmin(budget / (double)full, 1e9);
        int fewest = eval_count(cfg->steps, cfg->steps > 1 ? (cfg->steps + 1) / 2 : 1);  // 3, or 2 for 1 step
        if (fewest > EVAL_MIN_VALIDATIONS) fewest = EVAL_MIN_VALIDATIONS;
        int n = fit > fewest ? fit : fewest;
        // n validations: step 0 and n-1 more, the last at the last step.
        interval = (cfg->steps + (n - 1) - 1) / (n - 1);
        if (interval < 1) interval = 1;
        while (eval_count(cfg->steps, interval) > n) interval++;
        v = eval_count(cfg->steps, interval);
        // ... and when even the fewest are too many, fewer windows (whole batches).
        if ((double)v * (double)full > budget) {
            uint64_t w = (uint64_t)(budget / v);
            batches = (int)(w / (uint64_t)cfg->batch_size);
            if (batches < 1) batches = 1;
        }
    }
    if (interval != cfg->eval_interval || batches != cfg->eval_batches) {
        plan->limited = 1;
        note_change(notes, "eval.interval", cfg->eval_interval, interval, s);
        note_change(notes, "eval.batches", cfg->eval_batches, batches, s);
        cfg->eval_interval = interval;
        cfg->eval_batches = batches;
    }
    plan->configured_windows = full;
    plan->protocol_eval_interval = protocol_eval_interval;
    eval_plan_describe(plan, cfg, val_tokens);
}

void eval_plan_rule(const EvalPlan *p, const ExperimentConfig *c, char *out, size_t cap) {
    int n = snprintf(out, cap,
                     "validation: %d times (step 0, every %d steps, the last step) on %llu of the split's %llu "
                     "windows of %d tokens, about %.0f%% of the run's compute",
                     p->validations, c->eval_interval, (unsigned long long)p->windows,
                     (unsigned long long)p->split_windows, c->seq_len, 100 * p->estimated_share);
    if (n < 0 || (size_t)n >= cap) return;
    if (p->limited)
        snprintf(out + n, cap - (size_t)n,
                 " (a short run's cap: eval.max_share=%g; --set eval.max_share=1 validates on %llu windows every "
                 "eval.interval)", p->max_share, (unsigned long long)p->configured_windows);
}

cJSON *eval_plan_json(const EvalPlan *p) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "validations", p->validations);
    cJSON_AddNumberToObject(j, "windows", (double)p->windows);
    cJSON_AddNumberToObject(j, "configured_windows", (double)p->configured_windows);
    cJSON_AddNumberToObject(j, "split_windows", (double)p->split_windows);
    cJSON_AddNumberToObject(j, "estimated_share", p->estimated_share);
    cJSON_AddNumberToObject(j, "max_share", p->max_share);
    cJSON_AddBoolToObject(j, "limited", p->limited);
    cJSON_AddNumberToObject(j, "protocol_eval_interval", p->protocol_eval_interval);
    return j;
}

void eval_plan_load(EvalPlan *plan, const cJSON *training, const ExperimentConfig *cfg, uint64_t val_tokens) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(training, "validation_plan");
    const cJSON *interval = cJSON_GetObjectItemCaseSensitive(j, "protocol_eval_interval");
    const cJSON *configured = cJSON_GetObjectItemCaseSensitive(j, "configured_windows");
    ExperimentConfig defaults;
    config_defaults(&defaults);
    plan->limited = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "limited"));
    plan->protocol_eval_interval = cJSON_IsNumber(interval) && interval->valuedouble >= 1
                                       ? (int)interval->valuedouble
                                       : defaults.eval_interval;
    eval_plan_describe(plan, cfg, val_tokens);
    plan->configured_windows = cJSON_IsNumber(configured) && configured->valuedouble >= 1
                                   ? (uint64_t)configured->valuedouble
                                   : plan->windows;
}

// ---------------------------------------------------------------- the ETA

double eta_seconds_per_window(const RunCosts *k) {
    return k->eval_windows ? k->eval_s / (double)k->eval_windows : NAN;
}

static double seconds_per_checkpoint(const RunCosts *k) {
    return k->ckpts ? k->ckpt_s / k->ckpts : k->ckpt_bytes / CKPT_ASSUMED_BYTES_PER_S;
}

static void eta_fill(Eta *e, double step_s, int steps_left, int evals, double windows, int ckpts, const RunCosts *k) {
    double per_window = eta_seconds_per_window(k);
    e->evals_left = evals;
    e->ckpts_left = ckpts;
    e->train_s = step_s * steps_left;
    e->eval_s = isfinite(per_window) ? evals * windows * per_window : 0;
    e->ckpt_s = ckpts * seconds_per_checkpoint(k);
    e->final_s = 0;
    e->total_s = e->train_s + e->eval_s + e->ckpt_s;
}

double eta_final_seconds(const ExperimentConfig *c, const RunCosts *k) {
    double per_token = eta_seconds_per_window(k) / c->seq_len;
    if (!isfinite(per_token) || k->context <= 0) return 0;
    double tokens = 0;
    if (c->inference_repeats > 0) {
        static const int prefill[3] = {16, 64, 256};
        double prefill_tokens = 0;
        for (int i = 0; i < 3; i++) prefill_tokens += prefill[i] <= k->context ? prefill[i] : 0;
        tokens += (c->inference_repeats + 1) *
                  (ETA_PREFILL_TOKEN_COST * prefill_tokens + ETA_DECODE_TOKEN_COST * k->context);
    }
    int per_tune = c->sample_max_tokens < k->context ? c->sample_max_tokens : k->context;
    tokens += ETA_DECODE_TOKEN_COST * (double)c->sample_count * per_tune;
    return tokens * per_token;
}

void eta_remaining(Eta *e, const ExperimentConfig *c, const EvalPlan *p, const RunCosts *k, int step, double step_s) {
    // step - 1: the validation and checkpoint of `step` itself are still to come.
    eta_fill(e, step_s, c->steps - step, evals_after(c->steps, c->eval_interval, step - 1), (double)p->windows,
             checkpoints_after(c->steps, c->checkpoint_interval, step - 1), k);
    e->final_s = eta_final_seconds(c, k);
    e->total_s += e->final_s;
}

void eta_protocol(Eta *e, const ExperimentConfig *c, const EvalPlan *p, const RunCosts *k, double step_s) {
    // A protocol run checkpoints at the config file's interval; a resolved
    // short run's interval is its length, so take the protocol's default.
    ExperimentConfig defaults;
    config_defaults(&defaults);
    int ckpt_interval = c->steps >= PROTOCOL_STEPS ? c->checkpoint_interval : defaults.checkpoint_interval;
    eta_fill(e, step_s, PROTOCOL_STEPS, p->protocol_validations, (double)p->configured_windows,
             checkpoints_after(PROTOCOL_STEPS, ckpt_interval, 0), k);
}

void eta_describe(char *out, size_t cap, const ExperimentConfig *c, const EvalPlan *p, const RunCosts *k, int step,
                  double step_s) {
    Eta left, proto;
    eta_remaining(&left, c, p, k, step, step_s);
    eta_protocol(&proto, c, p, k, step_s);
    char total[32], train[32], eval[32], ckpt[32], final[32], ptotal[32], ptrain[32], prest[32];
    progress_format_duration(left.final_s, final, sizeof final);
    progress_format_duration(left.total_s, total, sizeof total);
    progress_format_duration(left.train_s, train, sizeof train);
    progress_format_duration(left.eval_s, eval, sizeof eval);
    progress_format_duration(left.ckpt_s, ckpt, sizeof ckpt);
    progress_format_duration(proto.total_s, ptotal, sizeof ptotal);
    progress_format_duration(proto.train_s, ptrain, sizeof ptrain);
    progress_format_duration(proto.eval_s + proto.ckpt_s, prest, sizeof prest);
    snprintf(out, cap,
             "%.0f ms/step: the rest of this run takes about %s (%s training, %s for %d validation%s of %llu "
             "windows, %s for %d checkpoint%s, %s for the inference timings and samples); the protocol's %d "
             "steps would take %s here (%s training, %s for %d validations of %llu windows and %d checkpoints)%s",
             step_s * 1e3, total, train, eval, left.evals_left, left.evals_left == 1 ? "" : "s",
             (unsigned long long)p->windows, ckpt, left.ckpts_left, left.ckpts_left == 1 ? "" : "s", final,
             PROTOCOL_STEPS,
             ptotal, ptrain, prest, proto.evals_left, (unsigned long long)p->configured_windows, proto.ckpts_left,
             c->steps > 2000 ? ". STEPS=N shortens a run." : ".");
}
