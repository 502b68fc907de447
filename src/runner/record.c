// record.c: building, loading and atomically writing the run record.
#include "record.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/common.h"

void record_utc_now(char out[32]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cJSON *record_hash_string(unsigned long long hash) {
    char hex[24];
    snprintf(hex, sizeof hex, "%016llx", hash);
    return cJSON_CreateString(hex);
}

// NaN and infinities are not JSON; a diverged step's loss is written as null.
static cJSON *number_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

void record_init(RunRecord *rec, const char *path, const char *experiment, const char *run_id,
                 const char *command) {
    memset(rec, 0, sizeof *rec);
    snprintf(rec->path, sizeof rec->path, "%s", path);
    char now[32];
    record_utc_now(now);
    cJSON *root = rec->root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "schema_version", RECORD_SCHEMA_VERSION);
    cJSON *id = cJSON_AddObjectToObject(root, "identity");
    cJSON_AddStringToObject(id, "experiment", experiment);
    cJSON_AddStringToObject(id, "run_id", run_id);
    cJSON_AddStringToObject(id, "status", "running");
    cJSON_AddStringToObject(id, "started_at", now);
    cJSON_AddNullToObject(id, "ended_at");
    cJSON_AddStringToObject(id, "updated_at", now);
    cJSON_AddStringToObject(id, "command", command);
    cJSON_AddNullToObject(id, "checkpoint_step");
    cJSON_AddNullToObject(id, "stop_reason");
    cJSON_AddArrayToObject(id, "segments");
    // The sections filled later start out present, so that the record is
    // schema-valid from its first write.
    cJSON_AddObjectToObject(root, "environment");
    cJSON_AddObjectToObject(root, "data");
    cJSON_AddObjectToObject(root, "model");
    cJSON_AddObjectToObject(root, "training");
    cJSON_AddArrayToObject(root, "curve");
    cJSON_AddArrayToObject(root, "validation");
    cJSON_AddObjectToObject(root, "timing");
    cJSON_AddNullToObject(root, "inference");
    cJSON_AddObjectToObject(root, "memory");
    cJSON_AddArrayToObject(root, "samples");
    record_add_segment(rec, 0, command);
}

int record_load(RunRecord *rec, const char *path) {
    memset(rec, 0, sizeof *rec);
    char *text = tb_read_file(path, NULL);
    if (!text) return tb_error("cannot read the run record %s (is this a run directory?)", path);
    rec->root = cJSON_Parse(text);
    free(text);
    if (!rec->root) return tb_error("run record %s is not valid JSON", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec->root, "schema_version");
    if (!cJSON_IsNumber(v) || v->valueint != RECORD_SCHEMA_VERSION) {
        record_free(rec);
        return tb_error("run record %s has schema version %s; this tunebench reads version %d", path,
                        cJSON_IsNumber(v) ? "other than 1" : "(none)", RECORD_SCHEMA_VERSION);
    }
    snprintf(rec->path, sizeof rec->path, "%s", path);
    return 0;
}

void record_free(RunRecord *rec) {
    cJSON_Delete(rec->root);
    rec->root = NULL;
}

cJSON *record_section(const RunRecord *rec, const char *name) {
    return cJSON_GetObjectItemCaseSensitive(rec->root, name);
}

void record_set_section(RunRecord *rec, const char *name, cJSON *section) {
    if (cJSON_GetObjectItemCaseSensitive(rec->root, name))
        cJSON_ReplaceItemInObjectCaseSensitive(rec->root, name, section);
    else
        cJSON_AddItemToObject(rec->root, name, section);
}

static void set_field(cJSON *obj, const char *key, cJSON *value) {
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else cJSON_AddItemToObject(obj, key, value);
}

void record_set_status(RunRecord *rec, const char *status, const char *message) {
    cJSON *id = record_section(rec, "identity");
    set_field(id, "status", cJSON_CreateString(status));
    if (strcmp(status, "running") == 0) {
        set_field(id, "ended_at", cJSON_CreateNull());
    } else {
        char now[32];
        record_utc_now(now);
        set_field(id, "ended_at", cJSON_CreateString(now));
    }
    if (message) set_field(id, "message", cJSON_CreateString(message));
    else cJSON_DeleteItemFromObjectCaseSensitive(id, "message");
}

void record_set_stop_reason(RunRecord *rec, const char *reason) {
    set_field(record_section(rec, "identity"), "stop_reason", reason ? cJSON_CreateString(reason) : cJSON_CreateNull());
}

const char *record_stop_reason(const RunRecord *rec) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(record_section(rec, "identity"), "stop_reason");
    return cJSON_IsString(r) ? r->valuestring : NULL;
}

void record_segment_set(RunRecord *rec, const char *key, cJSON *value) {
    cJSON *segments = cJSON_GetObjectItemCaseSensitive(record_section(rec, "identity"), "segments");
    cJSON *last = cJSON_GetArrayItem(segments, cJSON_GetArraySize(segments) - 1);
    if (last) set_field(last, key, value);
    else cJSON_Delete(value);
}

void record_add_segment(RunRecord *rec, int start_step, const char *command) {
    cJSON *segments = cJSON_GetObjectItemCaseSensitive(record_section(rec, "identity"), "segments");
    cJSON *seg = cJSON_CreateObject();
    char now[32];
    record_utc_now(now);
    cJSON_AddStringToObject(seg, "started_at", now);
    cJSON_AddNumberToObject(seg, "start_step", start_step);
    cJSON_AddStringToObject(seg, "command", command);
    cJSON_AddItemToArray(segments, seg);
}

void record_set_checkpoint(RunRecord *rec, const char *dir, int step) {
    cJSON *id = record_section(rec, "identity");
    if (step < 0) {
        set_field(id, "checkpoint_step", cJSON_CreateNull());
        cJSON_DeleteItemFromObjectCaseSensitive(id, "checkpoint_dir");
        return;
    }
    set_field(id, "checkpoint_dir", cJSON_CreateString(dir));
    set_field(id, "checkpoint_step", cJSON_CreateNumber(step));
}

int record_checkpoint_step(const RunRecord *rec) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(record_section(rec, "identity"), "checkpoint_step");
    return cJSON_IsNumber(s) ? (int)s->valuedouble : -1;
}

void record_add_curve_row(RunRecord *rec, int step, double train_loss, double lr, double grad_norm,
                          double step_ms, double tokens_per_s) {
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "step", step);
    cJSON_AddItemToObject(row, "train_loss", number_or_null(train_loss));
    cJSON_AddNumberToObject(row, "lr", lr);
    cJSON_AddItemToObject(row, "grad_norm", number_or_null(grad_norm));
    cJSON_AddNumberToObject(row, "step_ms", step_ms);
    cJSON_AddNumberToObject(row, "tokens_per_s", tokens_per_s);
    cJSON_AddItemToArray(record_section(rec, "curve"), row);
}

void record_add_validation_row(RunRecord *rec, int step, double loss, double bpb, double elapsed_s,
                               double train_s, long long tokens) {
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "step", step);
    cJSON_AddItemToObject(row, "loss", number_or_null(loss));
    cJSON_AddItemToObject(row, "bpb", number_or_null(bpb));
    cJSON_AddNumberToObject(row, "elapsed_s", elapsed_s);
    cJSON_AddNumberToObject(row, "train_s", train_s);
    cJSON_AddNumberToObject(row, "tokens", (double)tokens);
    cJSON_AddItemToArray(record_section(rec, "validation"), row);
}

static void truncate_rows(cJSON *rows, int step) {
    for (int i = cJSON_GetArraySize(rows) - 1; i >= 0; i--) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, i), "step");
        if (cJSON_IsNumber(s) && s->valuedouble > step) cJSON_DeleteItemFromArray(rows, i);
    }
}

void record_truncate_after(RunRecord *rec, int step) {
    truncate_rows(record_section(rec, "curve"), step);
    truncate_rows(record_section(rec, "validation"), step);
}

int record_write(RunRecord *rec) {
    char now[32];
    record_utc_now(now);
    set_field(record_section(rec, "identity"), "updated_at", cJSON_CreateString(now));
    return tb_json_write(rec->path, rec->root);
}
