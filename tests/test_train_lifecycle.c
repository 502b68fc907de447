// test_train_lifecycle.c: how a `tunebench train` run ends and resumes, end
// to end on a tiny model and a synthetic corpus:
//   - a run killed (kill -9) or stopped (SIGTERM) in its final phase, the
//     inference timings or the samples, after all its steps: the SIGTERM is
//     taken between two timing passes, the record says "interrupted", and
//     --resume does only the final phase; the record ends "completed", passes
//     `check-record --completed`, and its samples are those of a run never
//     interrupted;
//   - settings used only at the end (samples.top_p that is 0 as a float, a
//     prompt longer than the context) are refused before the first step.
#include "train_cli.h"

static char run_path[600];

static const char *run_dir_of(const char *run_id) {
    snprintf(run_path, sizeof run_path, "%s/%s/%s", results, experiment, run_id);
    return run_path;
}

// tunebench check-record --completed on a run's record; 0 when valid.
static int check_completed(const char *run_id) {
    char path[700];
    snprintf(path, sizeof path, "%s.json", run_dir_of(run_id));
    char *args[] = {"tunebench", "check-record", "--completed", path, NULL};
    return run_train("check.log", NULL, args);
}

static int train(const char *log, const char *run_id, const char *env, const char *value, char *extra1,
                 char *extra2) {
    if (env) setenv(env, value, 1);
    char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", (char *)run_id, extra1, extra2, NULL};
    int rc = run_train(log, NULL, args);
    if (env) unsetenv(env);
    return rc;
}

static int resume(const char *log, const char *run_id) {
    char d[600];
    snprintf(d, sizeof d, "%s", run_dir_of(run_id));
    char *args[] = {"tunebench", "train", "--resume", d, NULL};
    return run_train(log, NULL, args);
}

static const char *identity_string(const cJSON *rec, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "identity"), key);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

// The sample texts of two records are the same.
static int same_samples(const cJSON *a, const cJSON *b) {
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(a, "samples"), *sb = cJSON_GetObjectItemCaseSensitive(b, "samples");
    if (cJSON_GetArraySize(sa) == 0 || cJSON_GetArraySize(sa) != cJSON_GetArraySize(sb)) return 0;
    for (int i = 0; i < cJSON_GetArraySize(sa); i++) {
        const cJSON *ta = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sa, i), "text");
        const cJSON *tb = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sb, i), "text");
        if (!cJSON_IsString(ta) || !cJSON_IsString(tb) || strcmp(ta->valuestring, tb->valuestring) != 0) return 0;
    }
    return 1;
}

static void test_final_phase(const cJSON *full) {
    // kill -9 at the first pass of the inference timings.
    int rc = train("killfinal.log", "killfinal", "TUNEBENCH_FAULT_KILL_FINAL", "1", NULL, NULL);
    CHECK(rc == 128 + SIGKILL, "the run killed in its final phase exited %d", rc);
    cJSON *r = load_record("killfinal");
    CHECK(r && strcmp(status_of(r), "running") == 0 &&
              num(cJSON_GetObjectItemCaseSensitive(r, "identity"), "checkpoint_step") == 40,
          "killed in the final phase: status %s, not running at the checkpoint of step 40", r ? status_of(r) : "-");
    cJSON_Delete(r);
    rc = resume("killfinal-resumed.log", "killfinal");
    CHECK(rc == 0, "resuming a run killed in its final phase exited %d", rc);
    r = load_record("killfinal");
    CHECK(r && strcmp(status_of(r), "completed") == 0, "the resumed final phase: status %s", r ? status_of(r) : "-");
    CHECK(r && strcmp(identity_string(r, "stop_reason"), "steps_done") == 0, "stop_reason %s, not steps_done",
          r ? identity_string(r, "stop_reason") : "-");
    CHECK(check_completed("killfinal") == 0, "check-record --completed rejects the run finished by a resume");
    CHECK(r && same_samples(full, r), "the samples of the resumed final phase differ from an uninterrupted run's");
    CHECK(log_contains("killfinal-resumed.log", "measuring inference"), "the resume did not redo the timings");
    cJSON_Delete(r);

    // One SIGTERM at the second timing pass: taken before the third.
    rc = train("termfinal.log", "termfinal", "TUNEBENCH_FAULT_STOP_FINAL", "2", NULL, NULL);
    CHECK(rc == 128 + SIGTERM, "the run stopped in its final phase exited %d", rc);
    r = load_record("termfinal");
    CHECK(r && strcmp(status_of(r), "interrupted") == 0, "stopped in the final phase: status %s",
          r ? status_of(r) : "-");
    CHECK(r && strstr(identity_string(r, "message"), "during the inference timings") &&
              strstr(identity_string(r, "message"), "--resume"),
          "the message does not say where it stopped and how to finish: %s", r ? identity_string(r, "message") : "-");
    CHECK(r && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "inference")),
          "the stopped timings were not abandoned at the signal");
    CHECK(record_valid("termfinal"), "the record stopped in its final phase does not match the schema");
    cJSON_Delete(r);
    rc = resume("termfinal-resumed.log", "termfinal");
    CHECK(rc == 0, "resuming a run stopped in its final phase exited %d", rc);
    CHECK(check_completed("termfinal") == 0, "check-record --completed rejects the run finished by a resume");

    // SIGTERM after the first tune (the timings take 4 passes here: one prefill
    // length and the decode sweep, each once untimed and once timed).
    rc = train("termsample.log", "termsample", "TUNEBENCH_FAULT_STOP_FINAL", "5", NULL, NULL);
    r = load_record("termsample");
    CHECK(rc == 128 + SIGTERM && r && strstr(identity_string(r, "message"), "during the samples"),
          "stopped while sampling: exit %d, message %s", rc, r ? identity_string(r, "message") : "-");
    cJSON_Delete(r);
    rc = resume("termsample-resumed.log", "termsample");
    r = load_record("termsample");
    CHECK(rc == 0 && r && same_samples(full, r), "resuming a run stopped while sampling: exit %d", rc);
    cJSON_Delete(r);

    rc = resume("again.log", "termsample");
    CHECK(rc != 0 && log_contains("again.log", "nothing to resume"), "a completed run resumed: exit %d", rc);
}

static void test_end_settings(void) {
    char *top_p[] = {"--set", "samples.top_p=1e-50"};
    int rc = train("topp.log", "topp", NULL, NULL, top_p[0], top_p[1]);
    CHECK(rc != 0 && log_contains("topp.log", "samples.top_p") && !log_contains_quiet("topp.log", "step 1/"),
          "samples.top_p=1e-50 is not refused before step 1: exit %d", rc);
    char *prompt[] = {"--set", "samples.prompt=X:1\nT:A title far too long\nK:D\n"};
    rc = train("prompt.log", "prompt", NULL, NULL, prompt[0], prompt[1]);
    CHECK(rc != 0 && log_contains("prompt.log", "samples.prompt") && log_contains("prompt.log", "context") &&
              !log_contains_quiet("prompt.log", "step 1/"),
          "a prompt longer than the context is not refused before step 1: exit %d", rc);
    char rec[700];
    snprintf(rec, sizeof rec, "%s.json", run_dir_of("prompt"));
    CHECK(!tb_file_exists(rec), "a refused run left a record %s", rec);
}

int main(int argc, char **argv) {
    (void)argc;
    const char *tests = strstr(argv[0], "/tests/");
    if (tests) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests - argv[0]), argv[0]);
    snprintf(experiment, sizeof experiment, "life");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(write_corpus() == 0, "corpus: %s", tb_last_error());
    snprintf(results, sizeof results, "%s/results", dir);
    snprintf(config_path, sizeof config_path, "%s/life.json", dir);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"experiment\": \"life\", \"model\": \"tiny-gpt2\", \"data\": \"%s\", \"results\": \"%s\",\n"
             " \"threads\": 1, \"seed\": 11, \"steps\": 40, \"batch_size\": 8, \"seq_len\": 16, \"log_interval\": 1,\n"
             " \"optimizer\": {\"lr\": 0.003, \"warmup_steps\": 4},\n"
             " \"eval\": {\"interval\": 10, \"batches\": 1}, \"checkpoint\": {\"interval\": 20},\n"
             " \"inference\": {\"repeats\": 1}, \"samples\": {\"count\": 2, \"max_tokens\": 8}}\n",
             corpus, results);
    CHECK(tb_write_file_atomic(config_path, cfg, strlen(cfg)) == 0, "config: %s", tb_last_error());

    int rc = train("full.log", "full", NULL, NULL, NULL, NULL);
    CHECK(rc == 0, "the uninterrupted run exited %d", rc);
    cJSON *full = load_record("full");
    CHECK(full && check_completed("full") == 0, "the uninterrupted run is not complete and valid");
    if (full) test_final_phase(full);
    test_end_settings();
    cJSON_Delete(full);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (test_failed == 0 && !getenv("KEEP")) CHECK(system(cmd) == 0, "cleanup");
    else fprintf(stderr, "kept %s for inspection\n", dir);
    return test_summary("test_train_lifecycle");
}
