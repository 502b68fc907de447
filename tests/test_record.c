// test_record.c: the run record matches its schema from its first write to
// its last, the writes are atomic, and the validator catches what it must.
#include <cjson/cJSON.h>
#include <unistd.h>

#include "lib/common.h"
#include "../src/runner/config.h"
#include "../src/runner/environment.h"
#include "../src/runner/eval_budget.h"
#include "../src/runner/record.h"
#include "../src/runner/schema.h"
#include "test.h"

static cJSON *schema;

static int valid(const cJSON *doc) {
    tb_clear_error();
    return schema_validate(schema, doc) == 0;
}

// Validates a copy of doc after `edit` changed it; returns 1 if it was rejected
// with an error that names `where`.
static int rejected(const cJSON *doc, void (*edit)(cJSON *), const char *where) {
    cJSON *copy = cJSON_Duplicate(doc, 1);
    edit(copy);
    int ok = valid(copy);
    cJSON_Delete(copy);
    if (ok) return 0;
    if (!strstr(tb_last_error(), where)) {
        fprintf(stderr, "error '%s' does not name %s\n", tb_last_error(), where);
        return 0;
    }
    return 1;
}

static cJSON *obj(cJSON *doc, const char *k) { return cJSON_GetObjectItemCaseSensitive(doc, k); }
static void drop_timing(cJSON *d) { cJSON_DeleteItemFromObject(d, "timing"); }
static void bad_status(cJSON *d) {
    cJSON_ReplaceItemInObject(obj(d, "identity"), "status", cJSON_CreateString("finished"));
}
static void string_step(cJSON *d) {
    cJSON *row = cJSON_GetArrayItem(obj(d, "curve"), 1);
    cJSON_ReplaceItemInObject(row, "step", cJSON_CreateString("2"));
}
static void fractional_params(cJSON *d) {
    cJSON_ReplaceItemInObject(obj(d, "model"), "num_params", cJSON_CreateNumber(12.5));
}
static void extra_key(cJSON *d) { cJSON_AddNumberToObject(obj(d, "memory"), "peak_vram", 1); }
static void negative_bpb(cJSON *d) {
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(obj(d, "validation"), 0), "bpb", cJSON_CreateNumber(-1));
}
static void wrong_version(cJSON *d) { cJSON_ReplaceItemInObject(d, "schema_version", cJSON_CreateNumber(2)); }
static void negative_epochs(cJSON *d) {
    cJSON_ReplaceItemInObject(obj(d, "training"), "epochs", cJSON_CreateNumber(-0.5));
}
static void share_above_one(cJSON *d) {
    cJSON_ReplaceItemInObject(obj(obj(d, "training"), "validation_plan"), "estimated_share", cJSON_CreateNumber(1.5));
}
static void plan_extra_key(cJSON *d) { cJSON_AddNumberToObject(obj(obj(d, "training"), "validation_plan"), "x", 1); }

int cmd_check_record(int argc, char **argv);  // src/runner/check_record.c

// tunebench check-record --completed on a file; its exit status.
static int check_completed_file(const char *path) {
    char *argv[] = {"check-record", "--completed", (char *)path, NULL};
    tb_clear_error();
    return cmd_check_record(3, argv);
}

// The sections a run fills in, with plausible values.
static void fill_record(RunRecord *rec) {
    record_set_section(rec, "environment", environment_json("cpu"));
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "dir", "data/corpus/music21/control");
    cJSON_AddItemToObject(data, "manifest_hash", record_hash_string(0x1234abcdULL));
    cJSON_AddItemToObject(data, "tokenizer_hash", record_hash_string(0xfeedULL));
    cJSON_AddNumberToObject(data, "vocab_size", 1024);
    cJSON_AddNumberToObject(data, "train_tokens", 2000000);
    cJSON_AddNumberToObject(data, "val_tokens", 100000);
    cJSON_AddNumberToObject(data, "bytes_per_token", 2.25);
    record_set_section(rec, "data", data);
    cJSON *model = cJSON_CreateObject();
    cJSON_AddStringToObject(model, "name", "gpt2-6m");
    cJSON_AddStringToObject(model, "arch", "gpt2");
    cJSON_AddNumberToObject(model, "num_params", 6012345);
    cJSON_AddItemToObject(model, "config", cJSON_CreateObject());
    record_set_section(rec, "model", model);
    ExperimentConfig cfg;
    config_defaults(&cfg);
    snprintf(cfg.experiment, sizeof cfg.experiment, "gpt2-6m");
    snprintf(cfg.model, sizeof cfg.model, "gpt2-6m");
    cfg.log_interval = 1;  // the test adds a curve row every step, up to step 20
    cfg.steps = 20;
    cJSON *training = cJSON_CreateObject();
    cJSON_AddItemToObject(training, "config", config_to_json(&cfg));
    cJSON_AddItemToObject(training, "overrides", cJSON_CreateArray());
    cJSON_AddItemToObject(training, "resolution_notes", cJSON_CreateArray());
    cJSON_AddNumberToObject(training, "tokens_per_step", cfg.batch_size * cfg.seq_len);
    cJSON_AddNumberToObject(training, "protocol_steps", PROTOCOL_STEPS);
    // As the runner writes them: the epochs of the 2,000,000 training tokens
    // and the validation plan of the 100,000 validation tokens.
    cJSON_AddNumberToObject(training, "epochs", (double)cfg.steps * cfg.batch_size * cfg.seq_len / 2000000);
    cJSON_AddNumberToObject(training, "protocol_epochs", (double)PROTOCOL_STEPS * cfg.batch_size * cfg.seq_len / 2000000);
    EvalPlan plan;
    eval_budget_apply(&plan, &cfg, 100000, cfg.eval_interval, NULL);
    cJSON_AddItemToObject(training, "validation_plan", eval_plan_json(&plan));
    record_set_section(rec, "training", training);
    cJSON *timing = cJSON_CreateObject();
    cJSON_AddNumberToObject(timing, "steps_done", 0);
    cJSON_AddNumberToObject(timing, "train_seconds", 0);
    cJSON_AddNumberToObject(timing, "wall_seconds", 0);
    cJSON_AddNullToObject(timing, "median_step_ms");
    cJSON_AddNumberToObject(timing, "warmup_steps_excluded", 0);
    cJSON_AddNullToObject(timing, "time_100k_steps_s");
    cJSON_AddNullToObject(timing, "time_100k_with_eval_s");
    cJSON_AddBoolToObject(timing, "projected", 1);
    record_set_section(rec, "timing", timing);
    cJSON *memory = cJSON_CreateObject();
    cJSON_AddNumberToObject(memory, "peak_rss_bytes", (double)environment_peak_rss_bytes());
    cJSON_AddNumberToObject(memory, "param_bytes", 4.0 * 6012345);
    cJSON_AddNumberToObject(memory, "grad_bytes", 4.0 * 6012345);
    cJSON_AddNumberToObject(memory, "optimizer_bytes", 8.0 * 6012345);
    cJSON_AddNumberToObject(memory, "activation_bytes", 1e8);
    record_set_section(rec, "memory", memory);
}

int main(void) {
    char *text = tb_read_file(RECORD_SCHEMA_PATH, NULL);
    CHECK(text != NULL, "cannot read %s", RECORD_SCHEMA_PATH);
    schema = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(schema != NULL, "the schema is not valid JSON");
    if (!schema) return test_summary("test_record");

    char dir[] = "/tmp/tb_test_record_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/run.json", dir);

    // A fresh record is already valid: a run killed right after starting
    // leaves a record a reader can trust.
    RunRecord rec;
    record_init(&rec, path, "gpt2-6m", "20250101-000000-s1337", "tunebench train --config experiments/gpt2-6m.json");
    fill_record(&rec);
    CHECK(record_write(&rec) == 0, "first write: %s", tb_last_error());
    CHECK(schema_validate_file(path, RECORD_SCHEMA_PATH) == 0, "the first write: %s", tb_last_error());
    cJSON *env = record_section(&rec, "environment");
    CHECK(cJSON_IsString(obj(env, "cpu_model")) && strlen(obj(env, "cpu_model")->valuestring) > 0,
          "no CPU model in the environment");
    CHECK(cJSON_IsNumber(obj(env, "threads")) && obj(env, "threads")->valueint >= 1, "no thread count");
    CHECK(strstr(obj(env, "blas")->valuestring, "OpenBLAS") != NULL, "BLAS not named: %s",
          obj(env, "blas")->valuestring);
    CHECK(cJSON_IsNull(obj(env, "gpu")), "a CPU run names a GPU");

    // Rows as a run adds them; a NaN loss becomes null, which stays valid.
    for (int s = 1; s <= 30; s++)
        record_add_curve_row(&rec, s, 5.0 - 0.1 * s, 1e-3, 0.5, 12.0, 2048 / 0.012);
    record_add_curve_row(&rec, 31, NAN, 1e-3, INFINITY, 12.0, 1000);
    record_add_validation_row(&rec, 10, 4.0, 2.5, 1.5, 1.0, 65536);
    record_add_validation_row(&rec, 20, 3.5, 2.2, 3.0, 2.0, 65536);
    record_add_validation_row(&rec, 30, 3.2, 2.0, 4.5, 3.0, 65536);
    record_set_checkpoint(&rec, "results/gpt2-6m/x", 20);
    CHECK(valid(rec.root), "with rows: %s", tb_last_error());
    cJSON *row20 = cJSON_GetArrayItem(record_section(&rec, "validation"), 1);
    CHECK(cJSON_IsNumber(obj(row20, "train_s")) && obj(row20, "train_s")->valuedouble == 2.0 &&
              obj(row20, "elapsed_s")->valuedouble == 3.0,
          "a validation row keeps its training seconds apart from its wall clock");

    // A resumed run drops the rows after its checkpoint and adds a segment.
    record_truncate_after(&rec, 20);
    CHECK(cJSON_GetArraySize(record_section(&rec, "curve")) == 20, "curve rows after truncation: %d",
          cJSON_GetArraySize(record_section(&rec, "curve")));
    CHECK(cJSON_GetArraySize(record_section(&rec, "validation")) == 2, "validation rows after truncation");
    record_add_segment(&rec, 20, "tunebench train --resume results/gpt2-6m/x");
    record_set_status(&rec, "interrupted", "SIGINT at step 20");
    CHECK(cJSON_IsString(obj(record_section(&rec, "identity"), "ended_at")), "ended_at not set");
    CHECK(valid(rec.root), "interrupted: %s", tb_last_error());

    // The completed record, with inference and samples.
    cJSON *inf = cJSON_CreateObject();
    cJSON_AddNumberToObject(inf, "repeats", 5);
    cJSON *prefill = cJSON_AddArrayToObject(inf, "prefill");
    int lens[3] = {16, 64, 256};
    for (int i = 0; i < 3; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "tokens", lens[i]);
        cJSON_AddNumberToObject(row, "ms", 0.1 * lens[i]);
        cJSON_AddItemToArray(prefill, row);
    }
    cJSON *decode = cJSON_AddArrayToObject(inf, "decode");
    for (int p = 1; p <= 256; p *= 2) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "position", p);
        cJSON_AddNumberToObject(row, "ms", 1.0 + p * 0.01);
        cJSON_AddItemToArray(decode, row);
    }
    cJSON_AddNumberToObject(inf, "decode_tokens_per_s", 800);
    record_set_section(&rec, "inference", inf);
    cJSON *sample = cJSON_CreateObject();
    cJSON_AddNumberToObject(sample, "seed", 1337);
    cJSON_AddStringToObject(sample, "prompt", "X:1\n");
    cJSON_AddNumberToObject(sample, "tokens", 40);
    cJSON_AddStringToObject(sample, "text", "X:1\nL:1/8\nM:6/8\nK:D\n|:ABA d2e|\n");
    cJSON_AddItemToArray(record_section(&rec, "samples"), sample);
    record_set_status(&rec, "completed", NULL);
    cJSON *timing = record_section(&rec, "timing");
    cJSON_ReplaceItemInObject(timing, "median_step_ms", cJSON_CreateNumber(550));
    cJSON_ReplaceItemInObject(timing, "time_100k_steps_s", cJSON_CreateNumber(55000));
    cJSON_ReplaceItemInObject(timing, "time_100k_with_eval_s", cJSON_CreateNumber(57000));
    CHECK(record_write(&rec) == 0, "final write: %s", tb_last_error());
    CHECK(schema_validate_file(path, RECORD_SCHEMA_PATH) == 0, "the final write: %s", tb_last_error());
    CHECK(check_completed_file(path) == 0, "check-record --completed refused the final record: %s", tb_last_error());

    // It reads back whole, and no temporary file is left behind.
    RunRecord back;
    CHECK(record_load(&back, path) == 0, "reload: %s", tb_last_error());
    CHECK(back.root && cJSON_Compare(back.root, rec.root, 1), "the record changed through the file");
    char listing[512];
    snprintf(listing, sizeof listing, "test $(ls %s | wc -l) = 1", dir);
    CHECK(system(listing) == 0, "the atomic write left files beside the record in %s", dir);
    record_free(&back);

    // The validator is not a rubber stamp: each of these must be rejected,
    // with the error naming the place.
    CHECK(rejected(rec.root, drop_timing, "timing"), "a record without timing passed");
    CHECK(rejected(rec.root, bad_status, "$.identity.status"), "status 'finished' passed");
    CHECK(rejected(rec.root, string_step, "$.curve[1].step"), "a string step passed");
    CHECK(rejected(rec.root, fractional_params, "$.model.num_params"), "a fractional parameter count passed");
    CHECK(rejected(rec.root, extra_key, "$.memory.peak_vram"), "an undocumented key passed");
    CHECK(rejected(rec.root, negative_bpb, "$.validation[0].bpb"), "a negative bpb passed");
    CHECK(rejected(rec.root, wrong_version, "schema_version"), "schema version 2 passed");
    CHECK(rejected(rec.root, negative_epochs, "$.training.epochs"), "negative epochs passed");
    CHECK(rejected(rec.root, share_above_one, "$.training.validation_plan.estimated_share"), "a share of 1.5 passed");
    CHECK(rejected(rec.root, plan_extra_key, "$.training.validation_plan.x"), "an undocumented plan key passed");

    // check-record --completed: the epochs must follow from the steps and the corpus.
    snprintf(path, sizeof path, "%s/epochs.json", dir);
    cJSON_ReplaceItemInObject(record_section(&rec, "training"), "epochs", cJSON_CreateNumber(3.0));
    snprintf(rec.path, sizeof rec.path, "%s", path);
    CHECK(record_write(&rec) == 0, "write epochs.json");
    CHECK(check_completed_file(path) == 1 && strstr(tb_last_error(), "training.epochs"),
          "check-record --completed took epochs that do not match the steps: %s", tb_last_error());

    // A record of another schema version is refused on load.
    snprintf(path, sizeof path, "%s/v2.json", dir);
    CHECK(tb_write_file_atomic(path, "{\"schema_version\": 2}", 21) == 0, "write v2");
    CHECK(record_load(&back, path) == -1 && strstr(tb_last_error(), "schema version"), "a v2 record loaded: %s",
          tb_last_error());
    // A truncated record (what a non-atomic writer would leave) is reported.
    snprintf(path, sizeof path, "%s/cut.json", dir);
    CHECK(tb_write_file_atomic(path, "{\"schema_version\": 1, \"iden", 27) == 0, "write cut");
    CHECK(schema_validate_file(path, RECORD_SCHEMA_PATH) == -1 && strstr(tb_last_error(), "cut.json"),
          "a truncated record passed: %s", tb_last_error());

    record_free(&rec);
    cJSON_Delete(schema);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary("test_record");
}
