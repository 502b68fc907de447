// cmd_judge.c: `tunebench judge`, the study's LLM judge pointed at any
// OpenAI-compatible endpoint, and `--validate`, which measures whether its
// scores mean anything (real tunes against corrupted ones, two judges
// against each other).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "judge_corrupt.h"
#include "lib/command.h"
#include "lib/common.h"
#include "music_eval.h"
#include "music_stats.h"

#define JUDGE_MAX_SETS 8

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench judge --endpoint URL --model NAME (--dir DIR | --file ABC) --out JSON [options]\n"
            "       tunebench judge --validate --endpoint URL --model NAME --real ABC [--generated DIR]... --out JSON\n"
            "\n"
            "Sends each tune to an OpenAI-compatible chat-completions endpoint (llama-server, vLLM,\n"
            "ollama, OpenAI) twice: with the study's prompt, verbatim, then the tune (a free-text\n"
            "answer), and with a rubric asking for 1-10 scores of musicality, harmony and coherence\n"
            "as JSON. Each tune's record holds both answers, the parsed scores, the judge's model id\n"
            "(from the response), the prompts' and the tune's hashes and a status: ok, refused,\n"
            "malformed_scores, malformed_response, timeout, rate_limited, server_error, http_error\n"
            "or connection_error. A failed tune never stops the run.\n"
            "\n"
            "  --endpoint URL     base URL (http://127.0.0.1:8080/v1) or the full .../chat/completions\n"
            "  --model NAME       the model name the endpoint serves\n"
            "  --key-env VAR      environment variable holding the API key, sent as a Bearer token and\n"
            "                     never written anywhere (default TUNEBENCH_JUDGE_KEY; unset: no key)\n"
            "  --dir DIR | --file ABC   the tunes (every *.abc of DIR, or the tunes of one file)\n"
            "  --max-tunes N      only the first N tunes (default 0: all)\n"
            "  --out JSON         the record (schema tunebench.judge.v1)\n"
            "  --cache DIR        answers by (model, prompt, tune), so that a rerun asks nothing again\n"
            "                     (default results/judge/cache; 'none' to ask every time)\n"
            "  --timeout S        seconds per request (default 120)\n"
            "  --retries N        retries of a 429 or 5xx answer (default 4), waiting --backoff S (default 2)\n"
            "                     doubling each time, or the server's Retry-After, at most --max-wait S (60)\n"
            "  --temperature T    (default 0)   --max-tokens N   answer length cap (default 0: the server's)\n"
            "\n"
            "--validate: scores (rubric only) the first --n N tunes of --real (default 32), the same\n"
            "tunes corrupted three ways (bars shuffled, pitches randomised, truncated at the middle\n"
            "bar line; --seed S, default 1) and the first N of each --generated DIR (up to 8), then\n"
            "reports the AUC of real against corrupted (all, and each corruption) and against each\n"
            "generated set, with bootstrap 95%% intervals of the mean scores. With a second judge\n"
            "(--model2 NAME, and --endpoint2 URL if it is served elsewhere) it adds Spearman's rho\n"
            "and Krippendorff's alpha (interval) between the two judges' mean scores.\n");
}

typedef struct {
    const char *endpoint, *model, *endpoint2, *model2, *key_env, *dir, *file, *out, *cache, *real;
    const char *generated[JUDGE_MAX_SETS];
    int num_generated, max_tunes, validate, n;
    uint64_t seed;
    double timeout_s, backoff_s, max_wait_s, temperature;
    int retries, max_tokens;
} JudgeArgs;

static int parse_args(int argc, char **argv, JudgeArgs *a) {
    memset(a, 0, sizeof *a);
    a->key_env = "TUNEBENCH_JUDGE_KEY", a->cache = "results/judge/cache";
    a->timeout_s = 120, a->retries = 4, a->backoff_s = 2, a->max_wait_s = 60, a->n = 32, a->seed = 1;
    const TbOption opts[] = {
        TB_OPT("--endpoint", TB_OPT_STRING, &a->endpoint), TB_OPT("--model", TB_OPT_STRING, &a->model),
        TB_OPT("--endpoint2", TB_OPT_STRING, &a->endpoint2), TB_OPT("--model2", TB_OPT_STRING, &a->model2),
        TB_OPT("--key-env", TB_OPT_STRING, &a->key_env), TB_OPT("--dir", TB_OPT_STRING, &a->dir),
        TB_OPT("--file", TB_OPT_STRING, &a->file), TB_OPT("--out", TB_OPT_STRING, &a->out),
        TB_OPT("--cache", TB_OPT_STRING, &a->cache), TB_OPT("--real", TB_OPT_STRING, &a->real),
        TB_OPT("--validate", TB_OPT_TRUE, &a->validate), TB_OPT("--seed", TB_OPT_U64, &a->seed),
        TB_OPT_IN("--max-tunes", TB_OPT_INT, &a->max_tunes, 0, 1e9), TB_OPT_IN("--n", TB_OPT_INT, &a->n, 1, 100000),
        TB_OPT("--timeout", TB_OPT_DOUBLE, &a->timeout_s), TB_OPT_IN("--retries", TB_OPT_INT, &a->retries, 0, 20),
        TB_OPT_IN("--backoff", TB_OPT_DOUBLE, &a->backoff_s, 0, 600),
        TB_OPT_IN("--max-wait", TB_OPT_DOUBLE, &a->max_wait_s, 0, 3600),
        TB_OPT_IN("--temperature", TB_OPT_DOUBLE, &a->temperature, 0, 2),
        TB_OPT_IN("--max-tokens", TB_OPT_INT, &a->max_tokens, 0, 1e9),
        {.name = "--generated", .kind = TB_OPT_LIST, .dest = a->generated, .seen = &a->num_generated,
         .max = JUDGE_MAX_SETS}};
    int rc = tb_parse_options("judge", argc, argv, opts, TB_OPTIONS(opts));
    if (rc) return rc;
    if (!a->endpoint || !a->model || !a->out)
        return tb_error("judge: --endpoint, --model and --out are required (see tunebench judge --help)");
    if (a->validate) {
        if (!a->real) return tb_error("judge --validate: --real ABC (the validation tunes) is required");
        if (a->dir || a->file) return tb_error("judge --validate takes --real and --generated, not --dir or --file");
    } else {
        if ((!a->dir) == (!a->file)) return tb_error("judge: give one of --dir DIR or --file ABC");
        if (a->real || a->num_generated || a->model2 || a->endpoint2)
            return tb_error("judge: --real, --generated, --model2 and --endpoint2 go with --validate");
    }
    if (a->endpoint2 && !a->model2) return tb_error("judge: --endpoint2 needs --model2");
    if (!(a->timeout_s > 0 && a->timeout_s <= 3600))
        return tb_error("judge: --timeout must be above 0, at most 3600 seconds");
    return 0;
}

// ---------------------------------------------------------------- tunes
typedef struct {
    char *text;
    char source[256];
    int index;
} Tune;

typedef struct {
    Tune *tunes;
    int count, cap, limit;
} TuneList;

static void collect(const char *text, size_t len, const char *source, int index, void *ctx) {
    TuneList *l = ctx;
    if (l->limit && l->count >= l->limit) return;
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->tunes = realloc(l->tunes, (size_t)l->cap * sizeof *l->tunes);
        if (!l->tunes) tb_die("out of memory reading tunes");
    }
    Tune *t = &l->tunes[l->count++];
    t->text = tb_malloc(len + 1);
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    snprintf(t->source, sizeof t->source, "%s", source);
    t->index = index;
}

static void tunes_free(TuneList *l) {
    for (int i = 0; i < l->count; i++) free(l->tunes[i].text);
    free(l->tunes);
    memset(l, 0, sizeof *l);
}

static int read_tunes(const char *path, int limit, TuneList *l) {
    memset(l, 0, sizeof *l);
    l->limit = limit;
    return music_for_each_tune(path, collect, l) < 0 ? -1 : 0;
}

// ---------------------------------------------------------------- one tune
// The rubric answer of one tune: its record and its mean score (NaN unless ok).
static cJSON *rubric_record(const Judge *j, const char *tune, double *mean, JudgeStatus *status) {
    JudgeAnswer a;
    int cached = 0;
    *mean = NAN;
    if (judge_ask_cached(j, judge_rubric_prompt, tune, &a, &cached)) return NULL;
    double scores[JUDGE_NUM_ASPECTS];
    if (a.status == JUDGE_OK && judge_parse_scores(a.content, scores) != 0) {
        a.status = JUDGE_MALFORMED_SCORES;
        snprintf(a.error, sizeof a.error, "the answer holds no JSON object with the three scores 1-10");
    }
    cJSON *o = judge_answer_json(&a, cached);
    if (a.status == JUDGE_OK) {
        cJSON *s = cJSON_AddObjectToObject(o, "scores");
        double sum = 0;
        for (int k = 0; k < JUDGE_NUM_ASPECTS; k++) {
            cJSON_AddNumberToObject(s, judge_aspects[k], scores[k]);
            sum += scores[k];
        }
        *mean = sum / JUDGE_NUM_ASPECTS;
        cJSON_AddNumberToObject(o, "mean_score", *mean);
    }
    *status = a.status;
    judge_answer_free(&a);
    return o;
}

static void add_tune_identity(cJSON *o, const Tune *t) {
    char hash[17];
    judge_hash_hex(t->text, strlen(t->text), hash);
    cJSON_AddStringToObject(o, "source", t->source);
    cJSON_AddNumberToObject(o, "index", t->index);
    cJSON_AddStringToObject(o, "tune_hash", hash);
}

static cJSON *judge_settings(const JudgeArgs *a, const Judge *j) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "endpoint", j->client.endpoint);
    cJSON_AddStringToObject(o, "model", j->client.model);
    cJSON_AddStringToObject(o, "key_env", a->key_env);
    cJSON_AddBoolToObject(o, "key_set", j->client.api_key != NULL);
    const struct {
        const char *key;
        double value;
    } numbers[] = {{"temperature", a->temperature}, {"max_tokens", a->max_tokens}, {"timeout_s", a->timeout_s},
                   {"retries", a->retries},         {"backoff_s", a->backoff_s},   {"max_wait_s", a->max_wait_s}};
    for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++)
        cJSON_AddNumberToObject(o, numbers[k].key, numbers[k].value);
    cJSON_AddStringToObject(o, "cache", j->cache_dir ? j->cache_dir : "none");
    return o;
}

static cJSON *prompts_json(void) {
    cJSON *o = cJSON_CreateObject();
    const char *texts[2] = {judge_study_prompt, judge_rubric_prompt}, *names[2] = {"study", "rubric"};
    for (int i = 0; i < 2; i++) {
        char hash[17];
        judge_hash_hex(texts[i], strlen(texts[i]), hash);
        cJSON *p = cJSON_AddObjectToObject(o, names[i]);
        cJSON_AddStringToObject(p, "text", texts[i]);
        cJSON_AddStringToObject(p, "hash", hash);
    }
    return o;
}

static void add_interval(cJSON *o, const char *name, Interval v) {
    cJSON *i = cJSON_AddObjectToObject(o, name);
    if (isfinite(v.estimate)) {
        cJSON_AddNumberToObject(i, "mean", v.estimate);
        cJSON_AddNumberToObject(i, "lo", v.lo);
        cJSON_AddNumberToObject(i, "hi", v.hi);
    } else {
        cJSON_AddNullToObject(i, "mean");
    }
}

static void count_status(cJSON *counts, JudgeStatus s) {
    const char *name = judge_status_name(s);
    cJSON *c = cJSON_GetObjectItem(counts, name);
    if (c) cJSON_SetNumberValue(c, c->valuedouble + 1);
    else cJSON_AddNumberToObject(counts, name, 1);
}

// ---------------------------------------------------------------- judge
static int run_judge(const JudgeArgs *a, const Judge *j, cJSON *root) {
    TuneList l;
    if (read_tunes(a->dir ? a->dir : a->file, a->max_tunes, &l)) return -1;
    cJSON_AddStringToObject(root, "input", a->dir ? a->dir : a->file);
    cJSON *tunes = cJSON_AddArrayToObject(root, "tunes");
    cJSON *counts = cJSON_CreateObject();
    double *scores = tb_malloc((size_t)l.count * JUDGE_NUM_ASPECTS * sizeof *scores);
    int rc = 0, ok = 0, asked = 0;
    for (int i = 0; i < l.count && !rc; i++) {
        const Tune *t = &l.tunes[i];
        cJSON *o = cJSON_CreateObject();
        add_tune_identity(o, t);
        JudgeAnswer study;
        int cached = 0;
        if (judge_ask_cached(j, judge_study_prompt, t->text, &study, &cached)) {
            cJSON_Delete(o);
            rc = -1;
            break;
        }
        asked += !cached;
        double mean;
        JudgeStatus rs;
        cJSON *rubric = rubric_record(j, t->text, &mean, &rs);
        if (!rubric) {
            judge_answer_free(&study);
            cJSON_Delete(o);
            rc = -1;
            break;
        }
        asked += !cJSON_IsTrue(cJSON_GetObjectItem(rubric, "cached"));
        JudgeStatus status = study.status != JUDGE_OK ? study.status : rs;
        cJSON_AddStringToObject(o, "status", judge_status_name(status));
        const char *id = study.model_id ? study.model_id : cJSON_GetStringValue(cJSON_GetObjectItem(rubric, "model_id"));
        if (id) cJSON_AddStringToObject(o, "judge_model_id", id);
        else cJSON_AddNullToObject(o, "judge_model_id");
        cJSON_AddItemToObject(o, "study", judge_answer_json(&study, cached));
        cJSON_AddItemToObject(o, "rubric", rubric);
        const cJSON *s = cJSON_GetObjectItem(rubric, "scores");
        for (int k = 0; k < JUDGE_NUM_ASPECTS; k++) {
            const cJSON *v = cJSON_GetObjectItem(s, judge_aspects[k]);
            scores[(size_t)k * l.count + i] = v ? v->valuedouble : NAN;
        }
        ok += status == JUDGE_OK;
        count_status(counts, status);
        if (status != JUDGE_OK)
            fprintf(stderr, "judge: tune %d (%s #%d): %s: %s\n", i + 1, t->source, t->index, judge_status_name(status),
                    study.status != JUDGE_OK ? study.error
                                             : cJSON_GetStringValue(cJSON_GetObjectItem(rubric, "error")));
        judge_answer_free(&study);
        cJSON_AddItemToArray(tunes, o);
    }
    cJSON *summary = cJSON_CreateObject();
    cJSON_AddNumberToObject(summary, "tunes", l.count);
    cJSON_AddNumberToObject(summary, "ok", ok);
    cJSON_AddNumberToObject(summary, "questions_asked", asked);
    cJSON_AddItemToObject(summary, "statuses", counts);
    cJSON_AddNumberToObject(summary, "bootstrap_resamples", STATS_BOOTSTRAP_RESAMPLES);
    cJSON_AddNumberToObject(summary, "bootstrap_seed", STATS_SEED);
    for (int k = 0; k < JUDGE_NUM_ASPECTS; k++)
        add_interval(summary, judge_aspects[k],
                     stats_bootstrap_mean(scores + (size_t)k * l.count, l.count, STATS_BOOTSTRAP_RESAMPLES, STATS_SEED));
    cJSON_AddItemToObject(root, "summary", summary);
    if (!rc)
        printf("judge: %d tunes, %d ok, %d questions asked (the rest from the cache) -> %s\n", l.count, ok, asked,
               a->out);
    free(scores);
    tunes_free(&l);
    return rc;
}

// ---------------------------------------------------------------- validate
// The items a validation scores: each has a group (real, a corruption, or a
// generated set) and one mean score per judge.
enum { ITEM_REAL, ITEM_CORRUPTED, ITEM_GENERATED };
typedef struct {
    char *text;
    const char *group;
    int kind;  // ITEM_*
    const Tune *origin;
} Item;

static int run_validate(const JudgeArgs *a, const Judge *judges, int num_judges, cJSON *root) {
    TuneList real, gen[JUDGE_MAX_SETS];
    if (read_tunes(a->real, a->n, &real)) return -1;
    int ng = 0, rc = 0;
    for (; ng < a->num_generated; ng++)
        if (read_tunes(a->generated[ng], a->n, &gen[ng])) {
            tunes_free(&gen[ng]);
            rc = -1;
            break;
        }
    int total = real.count * (1 + CORRUPT_COUNT);
    for (int g = 0; g < ng; g++) total += gen[g].count;
    Item *items = tb_calloc((size_t)(total ? total : 1), sizeof *items);
    int n = 0;
    for (int i = 0; i < real.count && !rc; i++) {
        items[n++] = (Item){tb_strdup(real.tunes[i].text), "real", ITEM_REAL, &real.tunes[i]};
        for (int c = 0; c < CORRUPT_COUNT; c++)
            items[n++] = (Item){corrupt_tune(real.tunes[i].text, strlen(real.tunes[i].text), (Corruption)c,
                                             a->seed * 7919 + (uint64_t)i),
                                corruption_name((Corruption)c), ITEM_CORRUPTED, &real.tunes[i]};
    }
    for (int g = 0; g < ng && !rc; g++)
        for (int i = 0; i < gen[g].count; i++)
            items[n++] = (Item){tb_strdup(gen[g].tunes[i].text), a->generated[g], ITEM_GENERATED, &gen[g].tunes[i]};

    double *score = tb_malloc((size_t)(num_judges * (n ? n : 1)) * sizeof *score);
    cJSON *arr = cJSON_AddArrayToObject(root, "tunes");
    for (int i = 0; i < n && !rc; i++) {
        cJSON *o = cJSON_CreateObject();
        add_tune_identity(o, items[i].origin);
        char hash[17];
        judge_hash_hex(items[i].text, strlen(items[i].text), hash);
        cJSON_AddStringToObject(o, "group", items[i].group);
        cJSON_AddStringToObject(o, "scored_hash", hash);
        cJSON *per = cJSON_AddArrayToObject(o, "judges");
        for (int k = 0; k < num_judges && !rc; k++) {
            JudgeStatus st;
            cJSON *r = rubric_record(&judges[k], items[i].text, &score[(size_t)k * n + i], &st);
            if (!r) rc = -1;
            else cJSON_AddItemToArray(per, r);
        }
        cJSON_AddItemToArray(arr, o);
    }
    // Groups in order: real, the corruptions, the generated sets.
    const char *groups[1 + CORRUPT_COUNT + JUDGE_MAX_SETS];
    int num_groups = 0;
    groups[num_groups++] = "real";
    for (int c = 0; c < CORRUPT_COUNT; c++) groups[num_groups++] = corruption_name((Corruption)c);
    for (int g = 0; g < ng; g++) groups[num_groups++] = a->generated[g];
    cJSON *report = cJSON_AddArrayToObject(root, "validation");
    double *pos = tb_malloc((size_t)(n ? n : 1) * sizeof *pos), *neg = tb_malloc((size_t)(n ? n : 1) * sizeof *neg);
    for (int k = 0; k < num_judges && !rc; k++) {
        const double *s = score + (size_t)k * n;
        cJSON *jr = cJSON_CreateObject();
        cJSON_AddStringToObject(jr, "model", judges[k].client.model);
        cJSON *gs = cJSON_AddObjectToObject(jr, "groups");
        int npos = 0;
        for (int i = 0; i < n; i++)
            if (items[i].kind == ITEM_REAL && isfinite(s[i])) pos[npos++] = s[i];
        for (int g = 0; g < num_groups; g++) {
            int m = 0, all = 0;
            for (int i = 0; i < n; i++)
                if (tb_streq(items[i].group, groups[g])) {
                    all++;
                    if (isfinite(s[i])) neg[m++] = s[i];
                }
            cJSON *go = cJSON_AddObjectToObject(gs, groups[g]);
            cJSON_AddNumberToObject(go, "tunes", all);
            cJSON_AddNumberToObject(go, "scored", m);
            add_interval(go, "score", stats_bootstrap_mean(neg, m, STATS_BOOTSTRAP_RESAMPLES, STATS_SEED));
            if (g > 0) {
                double auc = stats_auc(pos, npos, neg, m);
                if (isfinite(auc)) cJSON_AddNumberToObject(go, "auc_real_vs_this", auc);
                else cJSON_AddNullToObject(go, "auc_real_vs_this");
            }
        }
        int m = 0;
        for (int i = 0; i < n; i++)
            if (items[i].kind == ITEM_CORRUPTED && isfinite(s[i])) neg[m++] = s[i];
        double auc = stats_auc(pos, npos, neg, m);
        if (isfinite(auc)) cJSON_AddNumberToObject(jr, "auc_real_vs_corrupted", auc);
        else cJSON_AddNullToObject(jr, "auc_real_vs_corrupted");
        cJSON_AddItemToArray(report, jr);
        printf("judge --validate: %s: AUC real vs corrupted %.3f (%d real, %d corrupted scored)\n",
               judges[k].client.model, auc, npos, m);
    }
    if (num_judges == 2 && !rc) {
        cJSON *agree = cJSON_AddObjectToObject(root, "agreement");
        double rho = stats_spearman(score, score + n, n);
        double alpha = stats_krippendorff_interval(score, 2, n);
        int both = 0;
        for (int i = 0; i < n; i++) both += isfinite(score[i]) && isfinite(score[n + i]);
        cJSON_AddNumberToObject(agree, "tunes_scored_by_both", both);
        if (isfinite(rho)) cJSON_AddNumberToObject(agree, "spearman", rho);
        else cJSON_AddNullToObject(agree, "spearman");
        if (isfinite(alpha)) cJSON_AddNumberToObject(agree, "krippendorff_alpha_interval", alpha);
        else cJSON_AddNullToObject(agree, "krippendorff_alpha_interval");
        printf("judge --validate: agreement over %d tunes: Spearman %.3f, Krippendorff's alpha %.3f\n", both, rho,
               alpha);
    }
    cJSON_AddNumberToObject(root, "bootstrap_resamples", STATS_BOOTSTRAP_RESAMPLES);
    cJSON_AddNumberToObject(root, "bootstrap_seed", STATS_SEED);
    cJSON_AddNumberToObject(root, "corruption_seed", (double)a->seed);
    free(pos), free(neg), free(score);
    for (int i = 0; i < n; i++) free(items[i].text);
    free(items);
    for (int g = 0; g < ng; g++) tunes_free(&gen[g]);
    tunes_free(&real);
    return rc;
}

int cmd_judge(int argc, char **argv) {
    JudgeArgs a;
    int rc = tb_command_start(parse_args(argc, argv, &a), usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    const char *key = getenv(a.key_env);
    Judge judges[2];
    int num_judges = a.model2 ? 2 : 1;
    for (int k = 0; k < num_judges; k++) {
        judges[k] = (Judge){
            .client = {.endpoint = k && a.endpoint2 ? a.endpoint2 : a.endpoint,
                       .model = k ? a.model2 : a.model,
                       .api_key = key && *key ? key : NULL,
                       .timeout_s = a.timeout_s,
                       .max_retries = a.retries,
                       .backoff_s = a.backoff_s,
                       .max_wait_s = a.max_wait_s,
                       .temperature = a.temperature,
                       .max_tokens = a.max_tokens},
            .cache_dir = tb_streq(a.cache, "none") ? NULL : a.cache,
        };
    }
    if (judges[0].cache_dir && tb_mkdirs(judges[0].cache_dir)) {
        tb_report();
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "tunebench.judge.v1");
    cJSON_AddStringToObject(root, "mode", a.validate ? "validate" : "judge");
    cJSON *js = cJSON_AddArrayToObject(root, "judges");
    for (int k = 0; k < num_judges; k++) cJSON_AddItemToArray(js, judge_settings(&a, &judges[k]));
    cJSON_AddItemToObject(root, "prompts", prompts_json());
    rc = a.validate ? run_validate(&a, judges, num_judges, root) : run_judge(&a, &judges[0], root);
    if (!rc) rc = tb_json_write(a.out, root);
    cJSON_Delete(root);
    if (rc) {
        tb_report();
        return 1;
    }
    return 0;
}
