// test_train_lifecycle.c: how a `tunebench train` run ends and resumes, end
// to end on a tiny model and a synthetic corpus:
//   - a run killed (kill -9) or stopped (SIGTERM) in its final phase, the
//     inference timings or the samples, after all its steps: the SIGTERM is
//     taken between two timing passes, the record says "interrupted", and
//     --resume does only the final phase; the record ends "completed", passes
//     `check-record --completed`, and its samples are those of a run never
//     interrupted;
//   - settings used only at the end (samples.top_p that is 0 as a float, a
//     prompt longer than the context) are refused before the first step;
//   - a corpus file that no longer matches its manifest (tokens overwritten
//     with other valid ids, same size) is refused by train, resume and eval,
//     unless --no-verify-corpus, which the record then states; a shard whose
//     header vocabulary is not the tokenizer's is refused at the start;
//   - a record whose config was edited (optimizer.lr, batch_size) is refused
//     by --resume with the keys named, from the checkpoint's run_config.json
//     and from the optimizer in train_state.bin; --allow-config-change
//     continues and the record lists the change;
//   - the best checkpoint (<run>.best/) is the step with the lowest
//     validation loss, a run's record resolves to it, and a run killed right
//     after saving it resumes to the same best weights; eval.patience stops
//     at the first validation past the allowed number without a new best,
//     and the record says why it stopped.
#include "../models/checkpoint.h"
#include "../src/runner/best.h"
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
    snprintf(rec, sizeof rec, "%s.lock", run_dir_of("prompt"));
    CHECK(!tb_file_exists(rec), "a refused start left a lock file %s", rec);

    // An unknown model is named before the corpus is read (this corpus does not exist).
    char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", "nomodel", "--set", "model=mamba-7m",
                    "--data", "/nonexistent/corpus", NULL};
    rc = run_train("nomodel.log", NULL, args);
    CHECK(rc != 0 && log_contains("nomodel.log", "unknown model config 'mamba-7m'") &&
              !log_contains_quiet("nomodel.log", "/nonexistent/corpus"),
          "an unknown model is not refused before the corpus: exit %d", rc);
    // A key given by its last part gets the full name suggested.
    char *lr[] = {"--set", "lr=0.01"};
    rc = train("lr.log", "lr", NULL, NULL, lr[0], lr[1]);
    CHECK(rc != 0 && log_contains("lr.log", "unknown key 'lr'; did you mean 'optimizer.lr'?"), "--set lr=: exit %d", rc);
}

// Writes DIR/manifest.json as `make data` does: each file's size and FNV-1a hash.
static int write_manifest(const char *d) {
    static const char *files[] = {"train.bin", "val.bin", "vocab.tok"};
    cJSON *m = cJSON_CreateObject(), *outputs = cJSON_AddObjectToObject(m, "outputs");
    for (int i = 0; i < 3; i++) {
        char path[600], hex[17];
        snprintf(path, sizeof path, "%s/%s", d, files[i]);
        size_t len;
        char *data = tb_read_file(path, &len);
        if (!data) return -1;
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)tb_hash64(data, len, TB_HASH64_SEED));
        free(data);
        cJSON *o = cJSON_AddObjectToObject(outputs, files[i]);
        cJSON_AddNumberToObject(o, "bytes", (double)len);
        cJSON_AddStringToObject(o, "fnv1a64", hex);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/manifest.json", d);
    int rc = tb_json_write(path, m);
    cJSON_Delete(m);
    return rc;
}

static const char *data_string(const cJSON *rec, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "data"), key);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_corpus_checks(void) {
    char verified[600], cmd[1400];
    snprintf(verified, sizeof verified, "%s/verified", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", corpus, verified);
    CHECK(system(cmd) == 0 && write_manifest(verified) == 0, "a corpus with a manifest: %s", tb_last_error());
    char *data[] = {"--data", verified};
    int rc = train("verified.log", "verified", NULL, NULL, data[0], data[1]);
    cJSON *r = load_record("verified");
    CHECK(rc == 0 && r && strcmp(data_string(r, "verification"), "manifest") == 0,
          "a corpus that matches its manifest: exit %d, data.verification %s", rc, r ? data_string(r, "verification") : "-");
    cJSON_Delete(r);
    // A run stopped at step 10, to resume after the corruption.
    rc = train("tobecorrupt.log", "tobecorrupt", "TUNEBENCH_FAULT_STOP_STEP", "10", data[0], data[1]);
    CHECK(rc == 128 + SIGTERM, "the run to resume on a corrupted corpus exited %d", rc);

    // 200 tokens of train.bin overwritten with other valid ids: same size, same header.
    char path[700];
    snprintf(path, sizeof path, "%s/train.bin", verified);
    size_t len;
    char *bytes = tb_read_file(path, &len);
    CHECK(bytes && len > SHARD_HEADER_BYTES + 2000, "read %s", path);
    if (bytes) {
        uint16_t *tokens = (uint16_t *)(bytes + SHARD_HEADER_BYTES);
        for (int i = 500; i < 700; i++) tokens[i] = (uint16_t)('A' + i % 7);
        tb_write_file_atomic(path, bytes, len);
        free(bytes);
    }
    rc = train("corrupt.log", "corrupt", NULL, NULL, data[0], data[1]);
    CHECK(rc != 0 && log_contains("corrupt.log", "train.bin does not match") &&
              log_contains("corrupt.log", "make data") && log_contains("corrupt.log", "--no-verify-corpus"),
          "train on a corrupted train.bin: exit %d", rc);
    rc = resume("corrupt-resume.log", "tobecorrupt");
    CHECK(rc != 0 && log_contains("corrupt-resume.log", "train.bin does not match"),
          "resume on a corrupted train.bin: exit %d", rc);
    char eval_ckpt[600];
    snprintf(eval_ckpt, sizeof eval_ckpt, "%s", run_dir_of("verified"));
    char *eval[] = {"tunebench", "eval", "--ckpt", eval_ckpt, "--data", path, NULL};
    rc = run_train("corrupt-eval.log", NULL, eval);
    CHECK(rc != 0 && log_contains("corrupt-eval.log", "train.bin does not match"), "eval on a corrupted shard: exit %d",
          rc);

    // --no-verify-corpus uses it as it is, and the record says so (also after a resume that checks).
    char *skip[] = {"--no-verify-corpus", NULL};
    char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", "unverified", "--data", verified,
                    skip[0], NULL};
    setenv("TUNEBENCH_FAULT_STOP_STEP", "10", 1);
    rc = run_train("unverified.log", NULL, args);
    unsetenv("TUNEBENCH_FAULT_STOP_STEP");
    r = load_record("unverified");
    CHECK(rc == 128 + SIGTERM && r && strcmp(data_string(r, "verification"), "skipped (--no-verify-corpus)") == 0,
          "--no-verify-corpus: exit %d, data.verification %s", rc, r ? data_string(r, "verification") : "-");
    cJSON_Delete(r);
    CHECK(write_manifest(verified) == 0, "rewrite the manifest");
    rc = resume("unverified-resume.log", "unverified");
    r = load_record("unverified");
    CHECK(rc == 0 && r && strcmp(data_string(r, "verification"), "skipped (--no-verify-corpus)") == 0,
          "a resume of a run that skipped the check: exit %d, data.verification %s", rc,
          r ? data_string(r, "verification") : "-");
    cJSON_Delete(r);

    // A shard whose header gives another vocabulary size than the tokenizer's (and its tokens fit).
    char other[600];
    snprintf(other, sizeof other, "%s/othervocab", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", corpus, other);
    CHECK(system(cmd) == 0, "copy the corpus");
    snprintf(path, sizeof path, "%s/val.bin", other);
    ShardHeader h;
    uint16_t *tokens = NULL;
    CHECK(shard_read(path, &h, &tokens) == 0, "read %s: %s", path, tb_last_error());
    h.vocab_size += 40;
    CHECK(tokens && shard_write(path, &h, tokens) == 0, "rewrite %s", path);
    free(tokens);
    char *odata[] = {"--data", other};
    rc = train("othervocab.log", "othervocab", NULL, NULL, odata[0], odata[1]);
    CHECK(rc != 0 && log_contains("othervocab.log", "val.bin: its header gives a vocabulary of"),
          "a shard of another vocabulary size: exit %d", rc);
}

// The record of run_id with its training.config's optimizer.lr and batch_size set.
static void edit_record_config(const char *run_id, double lr, int batch) {
    cJSON *r = load_record(run_id);
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "training"), "config");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(cfg, "optimizer"), "lr", cJSON_CreateNumber(lr));
    cJSON_ReplaceItemInObject(cfg, "batch_size", cJSON_CreateNumber(batch));
    char path[700];
    snprintf(path, sizeof path, "%s.json", run_dir_of(run_id));
    CHECK(r && tb_json_write(path, r) == 0, "rewrite %s", path);
    cJSON_Delete(r);
}

static void test_resume_config(void) {
    int rc = train("edited.log", "edited", "TUNEBENCH_FAULT_STOP_STEP", "10", NULL, NULL);
    CHECK(rc == 128 + SIGTERM, "the run to edit exited %d", rc);
    edit_record_config("edited", 0.001, 4);
    rc = resume("edited-resume.log", "edited");
    CHECK(rc != 0 && log_contains("edited-resume.log", "optimizer.lr: 0.003 -> 0.001") &&
              log_contains("edited-resume.log", "batch_size: 8 -> 4") &&
              log_contains("edited-resume.log", "--allow-config-change"),
          "an edited record config on resume: exit %d", rc);
    // A checkpoint without run_config.json: the optimizer in train_state.bin still tells.
    char path[700];
    snprintf(path, sizeof path, "%s/run_config.json", run_dir_of("edited"));
    CHECK(tb_file_exists(path) && remove(path) == 0, "the checkpoint has no %s", path);
    rc = resume("edited-resume2.log", "edited");
    CHECK(rc != 0 && log_contains("edited-resume2.log", "optimizer.lr: 0.003") &&
              !log_contains_quiet("edited-resume2.log", "batch_size"),
          "an edited optimizer.lr against train_state.bin: exit %d", rc);
    // Allowed explicitly: the record lists the change and follows it.
    char d[600];
    snprintf(d, sizeof d, "%s", run_dir_of("edited"));
    char *args[] = {"tunebench", "train", "--resume", d, "--allow-config-change", NULL};
    rc = run_train("edited-allowed.log", NULL, args);
    cJSON *r = load_record("edited");
    const cJSON *segs = r ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "identity"), "segments")
                          : NULL;
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(segs, 1), "config_changes");
    CHECK(rc == 0 && cJSON_GetArraySize(changes) == 1 &&
              strstr(cJSON_GetArrayItem(changes, 0)->valuestring, "optimizer.lr"),
          "--allow-config-change: exit %d, the segment does not list the change", rc);
    CHECK(r && num(cJSON_GetObjectItemCaseSensitive(r, "training"), "tokens_per_step") == 4 * 16,
          "--allow-config-change: training.tokens_per_step does not follow the new batch");
    CHECK(check_completed("edited") == 0, "the run resumed with a changed config is not valid and complete");
    cJSON_Delete(r);
}

// The validation row with the lowest loss after step 0: its step, or -1.
static int lowest_validation(const cJSON *rec) {
    int best = -1;
    double lowest = INFINITY;
    for (const cJSON *row = cJSON_GetObjectItemCaseSensitive(rec, "validation")->child; row; row = row->next)
        if (num(row, "step") > 0 && num(row, "loss") < lowest) lowest = num(row, "loss"), best = (int)num(row, "step");
    return best;
}

static const cJSON *best_of(const cJSON *rec) {
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "identity"), "best");
}

static void test_best_checkpoint(const cJSON *full) {
    // The best is the validation with the lowest loss, and its folder holds that step.
    int want = lowest_validation(full);
    const cJSON *best = best_of(full);
    char best_dir[700], record[700], resolved[800];
    snprintf(best_dir, sizeof best_dir, "%s.best", run_dir_of("full"));
    int64_t on_disk = -1;
    CHECK(want > 0 && num(best, "step") == want && checkpoint_read_step(best_dir, &on_disk) == 0 && on_disk == want,
          "the best checkpoint is step %.0f (folder: %lld), the lowest validation loss is at step %d",
          num(best, "step"), (long long)on_disk, want);
    // A run's record resolves to its best checkpoint (generate --ckpt RUN.json).
    snprintf(record, sizeof record, "%s.json", run_dir_of("full"));
    CHECK(strcmp(run_checkpoint_for(record, resolved, sizeof resolved), best_dir) == 0,
          "run_checkpoint_for(%s) is %s, not the best checkpoint", record, resolved);
    CHECK(strcmp(run_checkpoint_for(run_dir_of("full"), resolved, sizeof resolved), run_dir_of("full")) == 0,
          "a checkpoint folder does not resolve to itself");

    // kill -9 right after the best checkpoint of step 28, before the record
    // names it (the latest checkpoint is step 20): the resumed run's best
    // folder and record are those of the run never interrupted.
    int rc = train("killbest.log", "killbest", "TUNEBENCH_FAULT_KILL_BEST", "28", NULL, NULL);
    CHECK(rc == 128 + SIGKILL, "the run killed after a best checkpoint exited %d", rc);
    // Resumed from step 20 and stopped at step 21, before step 28 again: the
    // record names no best folder that holds another step.
    setenv("TUNEBENCH_FAULT_STOP_STEP", "21", 1);
    rc = resume("killbest-stopped.log", "killbest");
    unsetenv("TUNEBENCH_FAULT_STOP_STEP");
    cJSON *r = load_record("killbest");
    char killbest_dir[700];
    snprintf(killbest_dir, sizeof killbest_dir, "%s.best", run_dir_of("killbest"));
    on_disk = -1;
    const cJSON *named = r ? best_of(r) : NULL;
    CHECK(rc == 128 + SIGTERM && named &&
              (cJSON_IsNull(named) || (checkpoint_read_step(killbest_dir, &on_disk) == 0 && on_disk == num(named, "step"))),
          "after kill -9 past the record: exit %d, the record's best (step %.0f) and the folder (step %lld) disagree",
          rc, named && !cJSON_IsNull(named) ? num(named, "step") : -1, (long long)on_disk);
    cJSON_Delete(r);
    rc = resume("killbest-resumed.log", "killbest");
    r = load_record("killbest");
    CHECK(rc == 0 && r && num(best_of(r), "step") == want && num(best_of(r), "loss") == num(best, "loss"),
          "resumed after kill -9: exit %d, best step %.0f (want %d)", rc, r ? num(best_of(r), "step") : -1, want);
    char a[800], b[800];
    snprintf(a, sizeof a, "%s/model.safetensors", best_dir);
    snprintf(b, sizeof b, "%s.best/model.safetensors", run_dir_of("killbest"));
    CHECK(same_file(a, b), "the resumed run's best weights differ from the uninterrupted run's");
    cJSON_Delete(r);
}

// eval.patience 1 at a learning rate too small to move an fp32 weight
// (1e-12 against weights of about 1e-2, whose spacing is about 1e-9): the
// validation loss stays where it was, so the second validation after step 0
// is the first without a new best, whatever the build's rounding. (A rate
// whose loss merely wobbles stopped in one build and not in another.)
static void test_patience(void) {
    char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", "patience", "--steps", "200",
                    "--set", "eval.interval=10", "--set", "eval.patience=1", "--set", "optimizer.lr=1e-12",
                    "--set", "optimizer.weight_decay=0", NULL};
    int rc = run_train("patience.log", NULL, args);
    cJSON *r = load_record("patience");
    // The first validation (after step 0) that is not a new best.
    int expect = -1;
    double lowest = INFINITY;
    for (const cJSON *row = r ? cJSON_GetObjectItemCaseSensitive(r, "validation")->child : NULL; row && expect < 0;
         row = row->next) {
        if (num(row, "step") == 0) continue;
        if (num(row, "loss") < lowest) lowest = num(row, "loss");
        else expect = (int)num(row, "step");
    }
    CHECK(rc == 0 && r && expect > 0 && expect < 200, "patience: exit %d, no validation without improvement", rc);
    CHECK(r && num(cJSON_GetObjectItemCaseSensitive(r, "timing"), "steps_done") == expect &&
              num(cJSON_GetObjectItemCaseSensitive(r, "identity"), "checkpoint_step") == expect &&
              strcmp(identity_string(r, "stop_reason"), "patience") == 0 && strcmp(status_of(r), "completed") == 0,
          "patience 1 did not stop at step %d, the first validation without a new best", expect);
    CHECK(check_completed("patience") == 0, "check-record --completed rejects the run patience stopped");
    CHECK(log_contains("patience.log", "validations without a new best"), "the log does not say why the run stopped");
    cJSON_Delete(r);
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
    CHECK(log_contains("full.log", "completed 40 steps in ") && log_contains("full.log", "validation loss ") &&
              log_contains("full.log", "next: tunebench check-record"),
          "the closing lines do not give the losses, the time and the next commands");
    if (full) test_final_phase(full);
    if (full) test_best_checkpoint(full);
    test_patience();
    test_end_settings();
    test_corpus_checks();
    test_resume_config();
    cJSON_Delete(full);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (test_failed == 0 && !getenv("KEEP")) CHECK(system(cmd) == 0, "cleanup");
    else fprintf(stderr, "kept %s for inspection\n", dir);
    return test_summary("test_train_lifecycle");
}
