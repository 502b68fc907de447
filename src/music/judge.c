// judge.c: the judge's two prompts, the score parser and the answer cache.
#include "judge.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

// The study's prompt, verbatim.
const char judge_study_prompt[] =
    "I have some music in ABC notation that I generated. Could you analyze it and tell me if it sounds natural? "
    "Specifically, I would like your feedback on the overall musicality, the sense of harmony, and whether the "
    "melody and chord progressions are coherent and pleasing. Here is the ABC notation of the music:";

const char judge_rubric_prompt[] =
    "Rate the following music in ABC notation on three aspects, each an integer from 1 (very poor) to 10 "
    "(excellent): musicality (the overall musicality), harmony (the sense of harmony), and coherence (whether the "
    "melody and chord progressions are coherent and pleasing). Answer with only a JSON object, exactly of the form "
    "{\"musicality\": N, \"harmony\": N, \"coherence\": N}, and nothing else. Here is the ABC notation of the music:";

const char *const judge_aspects[JUDGE_NUM_ASPECTS] = {
#define X(name) #name,
    JUDGE_ASPECTS(X)
#undef X
};

int judge_parse_scores(const char *answer, double scores[JUDGE_NUM_ASPECTS]) {
    if (!answer) return -1;
    // Each '{' in turn, with the shortest balanced object after it (answers
    // often wrap the JSON in prose or a ``` block).
    for (const char *open = strchr(answer, '{'); open; open = strchr(open + 1, '{')) {
        int depth = 0;
        const char *close = NULL;
        for (const char *p = open; *p && !close; p++) {
            if (*p == '{') depth++;
            else if (*p == '}' && --depth == 0) close = p;
        }
        if (!close) return -1;
        cJSON *o = cJSON_ParseWithLength(open, (size_t)(close - open + 1));
        int ok = o != NULL;
        for (int k = 0; ok && k < JUDGE_NUM_ASPECTS; k++) {
            const cJSON *v = cJSON_GetObjectItem(o, judge_aspects[k]);
            ok = cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 10;
            if (ok) scores[k] = v->valuedouble;
        }
        cJSON_Delete(o);
        if (ok) return 0;
    }
    return -1;
}

void judge_hash_hex(const char *text, size_t len, char out[17]) {
    snprintf(out, 17, "%016llx", (unsigned long long)tb_hash64(text, len, TB_HASH64_SEED));
}

// ---------------------------------------------------------------- cache
static void cache_path(const Judge *j, const char *model, const char *question, char *out, size_t cap) {
    size_t lm = strlen(model), lq = strlen(question);
    uint64_t h1 = tb_hash64(model, lm + 1, TB_HASH64_SEED);  // the NUL separates model from question
    h1 = tb_hash64(question, lq, h1);
    uint64_t h2 = tb_hash64(question, lq, tb_hash64(model, lm + 1, 0x9e3779b97f4a7c15ULL));
    snprintf(out, cap, "%s/%016llx%016llx.json", j->cache_dir, (unsigned long long)h1, (unsigned long long)h2);
}

static int cache_read(const char *path, const char *model, const char *question, JudgeAnswer *a) {
    if (!tb_file_exists(path)) return 0;
    char *text = tb_read_file(path, NULL);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(o, "model"));
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(o, "question"));
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(o, "status"));
    int hit = m && q && status && tb_streq(m, model) && tb_streq(q, question);
    if (hit) {
        memset(a, 0, sizeof *a);
        a->status = tb_streq(status, "refused") ? JUDGE_REFUSED : JUDGE_OK;
        // The strings cache_write keeps, each where it was.
        const struct {
            const char *key;
            char **field;
        } kept[] = {{"content", &a->content}, {"model_id", &a->model_id}, {"finish_reason", &a->finish_reason}};
        for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, kept[k].key));
            if (v) *kept[k].field = tb_strdup(v);
        }
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItem(o, "error"));
        if (error) snprintf(a->error, sizeof a->error, "%s", error);
        a->http_status = 200;
    }
    cJSON_Delete(o);
    return hit;
}

static int cache_write(const char *path, const char *model, const char *question, const JudgeAnswer *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "question", question);
    cJSON_AddStringToObject(o, "status", judge_status_name(a->status));
    if (a->content) cJSON_AddStringToObject(o, "content", a->content);
    if (a->model_id) cJSON_AddStringToObject(o, "model_id", a->model_id);
    if (a->finish_reason) cJSON_AddStringToObject(o, "finish_reason", a->finish_reason);
    if (a->error[0]) cJSON_AddStringToObject(o, "error", a->error);
    int rc = tb_json_write(path, o);
    cJSON_Delete(o);
    return rc;
}

int judge_ask_cached(const Judge *j, const char *prompt, const char *tune, JudgeAnswer *a, int *cached) {
    size_t n = strlen(prompt) + strlen(tune) + 3;
    char *question = tb_malloc(n);
    snprintf(question, n, "%s\n\n%s", prompt, tune);
    char path[4400];
    *cached = 0;
    int rc = 0;
    if (j->cache_dir) {
        cache_path(j, j->client.model, question, path, sizeof path);
        *cached = cache_read(path, j->client.model, question, a);
    }
    if (!*cached) {
        rc = judge_ask(&j->client, question, a);
        if (!rc && j->cache_dir && (a->status == JUDGE_OK || a->status == JUDGE_REFUSED))
            rc = cache_write(path, j->client.model, question, a);
    }
    free(question);
    return rc;
}

cJSON *judge_answer_json(const JudgeAnswer *a, int cached) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", judge_status_name(a->status));
    if (a->content) cJSON_AddStringToObject(o, "content", a->content);
    else cJSON_AddNullToObject(o, "content");
    if (a->model_id) cJSON_AddStringToObject(o, "model_id", a->model_id);
    else cJSON_AddNullToObject(o, "model_id");
    if (a->finish_reason) cJSON_AddStringToObject(o, "finish_reason", a->finish_reason);
    cJSON_AddNumberToObject(o, "attempts", a->attempts);
    cJSON_AddNumberToObject(o, "http_status", a->http_status);
    cJSON_AddBoolToObject(o, "cached", cached);
    if (a->error[0]) cJSON_AddStringToObject(o, "error", a->error);
    return o;
}
