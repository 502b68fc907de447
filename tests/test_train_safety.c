// test_train_safety.c: `tunebench train` never loses work or trusts a
// corrupt file, end to end on a tiny model and a synthetic corpus,
// with checkpoints every 50 steps and validations every 100 (1000 steps: the
// intervals stay as set):
//   - kill -9 right after the checkpoint of step 150: the record was written
//     with it, so the resumed run's curve equals an uninterrupted one's and
//     `check-record --completed` finds every row;
//   - an older record beside a newer checkpoint (rows would be lost), a
//     train_state.bin of another run, a whole checkpoint of another run, a
//     flipped byte in the weights and a NaN weight are each refused by
//     --resume with a line that says why;
//   - a second process resuming a run that is in use is refused (flock);
//   - bad input: --run-id outside [A-Za-z0-9._-] or with a leading dot, an
//     unknown option, a --set that breaks a limit (blamed on --set), a config
//     with a repeated key, and a batch too large for the memory.
#include <sys/file.h>

#include "../models/checkpoint.h"
#include "train_cli.h"

static char run_path[600];

static const char *run_dir_of(const char *run_id) {
    snprintf(run_path, sizeof run_path, "%s/%s/%s", results, experiment, run_id);
    return run_path;
}

static int shell(const char *fmt, const char *a, const char *b) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

// dst becomes a copy of the folder src.
static void copy_dir(const char *src, const char *dst) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dst, src, dst);
    if (system(cmd) != 0) fprintf(stderr, "failed: %s\n", cmd);
}

// tunebench check-record [--completed] on a run's record; 0 when valid.
static int check_record(const char *run_id, int completed) {
    char path[700];
    snprintf(path, sizeof path, "%s.json", run_dir_of(run_id));
    char *args[] = {"tunebench", "check-record", completed ? "--completed" : path, completed ? path : NULL, NULL};
    return run_train("check.log", NULL, args);
}

static int resume(const char *log, const char *run_id) {
    char d[600];
    snprintf(d, sizeof d, "%s", run_dir_of(run_id));
    char *args[] = {"tunebench", "train", "--resume", d, NULL};
    return run_train(log, NULL, args);
}

// A run with TUNEBENCH_FAULT_KILL_STEP: SIGKILL right after that step's checkpoint.
static int run_killed_after(const char *run_id, const char *step, int resuming) {
    setenv("TUNEBENCH_FAULT_KILL_STEP", step, 1);
    char log[128];
    snprintf(log, sizeof log, "%s-kill%s.log", run_id, step);
    char *fresh[] = {"tunebench", "train", "--config", config_path, "--run-id", (char *)run_id, NULL};
    int rc = resuming ? resume(log, run_id) : run_train(log, NULL, fresh);
    unsetenv("TUNEBENCH_FAULT_KILL_STEP");
    return rc;
}

static const char *const curve_fields[] = {"step", "train_loss", "lr", "grad_norm"};
static const char *const val_fields[] = {"step", "loss", "bpb"};

static void test_crash_consistency(const cJSON *full) {
    // kill -9 just after the checkpoint of step 150 (eval at 100, 200, ...).
    int rc = run_killed_after("crash", "150", 0);
    CHECK(rc == 128 + SIGKILL, "the run killed after step 150 exited %d", rc);
    cJSON *r = load_record("crash");
    CHECK(r && num(cJSON_GetObjectItemCaseSensitive(r, "identity"), "checkpoint_step") == 150 &&
              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "curve")) == 150,
          "the record at the kill does not reach the checkpoint of step 150 (%d curve rows)",
          r ? cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "curve")) : -1);
    cJSON_Delete(r);
    CHECK(check_record("crash", 0) == 0, "the record at the kill is not schema-valid");
    rc = resume("crash-resumed.log", "crash");
    CHECK(rc == 0, "resuming after kill -9 exited %d", rc);
    r = load_record("crash");
    CHECK(r && same_rows(full, r, "curve", curve_fields, 4), "after kill -9 and resume the curve differs");
    CHECK(r && same_rows(full, r, "validation", val_fields, 3), "after kill -9 and resume the validation differs");
    CHECK(check_record("crash", 1) == 0, "check-record --completed rejects the resumed run");
    cJSON_Delete(r);

    // check-record --completed sees a gap and a duplicate.
    char path[700];
    snprintf(path, sizeof path, "%s.json", run_dir_of("crash"));
    for (int dup = 0; dup < 2; dup++) {
        r = load_record("crash");
        cJSON *curve = cJSON_GetObjectItemCaseSensitive(r, "curve");
        // Row 120 is step 121: drop it, or make it a second row for step 120.
        if (dup) cJSON_ReplaceItemInArray(curve, 120, cJSON_Duplicate(cJSON_GetArrayItem(curve, 119), 1));
        else cJSON_DeleteItemFromArray(curve, 120);
        char *text = cJSON_Print(r);
        tb_write_file_atomic(path, text, strlen(text));
        free(text);
        cJSON_Delete(r);
        CHECK(check_record("crash", 1) != 0 &&
                  log_contains("check.log", dup ? "step 120 follows step 120 (a duplicate" : "no row for step 121"),
              "check-record --completed accepts a curve with %s", dup ? "a duplicate row" : "a gap");
    }
}

static void test_refused_pairs(const cJSON *full) {
    char rec[700], copy[700], ck[700], backup[700];
    // The older record: the run stops after the checkpoint of step 100, its
    // record is kept; it then runs on to the checkpoint of step 150, and the
    // kept record is put back.
    CHECK(run_killed_after("stale", "100", 0) == 128 + SIGKILL, "stale: the first kill");
    snprintf(rec, sizeof rec, "%s.json", run_dir_of("stale"));
    snprintf(copy, sizeof copy, "%s/stale-100.json", dir);
    shell("cp '%s' '%s'", rec, copy);
    CHECK(run_killed_after("stale", "150", 1) == 128 + SIGKILL, "stale: the second kill");
    snprintf(backup, sizeof backup, "%s/stale-150.json", dir);
    shell("cp '%s' '%s'", rec, backup);
    shell("cp '%s' '%s'", copy, rec);
    int rc = resume("stale.log", "stale");
    CHECK(rc != 0 && log_contains("stale.log", "would lose the curve rows 101-150"),
          "a record older than its checkpoint: resume exited %d", rc);

    // A train_state.bin of another run (the finished one), then its whole checkpoint.
    shell("cp '%s' '%s'", backup, rec);
    snprintf(ck, sizeof ck, "%s", run_dir_of("stale"));
    snprintf(backup, sizeof backup, "%s/stale-ck", dir);
    copy_dir(ck, backup);
    char full_ck[600];
    snprintf(full_ck, sizeof full_ck, "%s", run_dir_of("full"));
    shell("cp '%s/train_state.bin' '%s/train_state.bin'", full_ck, ck);
    rc = resume("swapped.log", "stale");
    CHECK(rc != 0 && log_contains("swapped.log", "saved with other weights") &&
              log_contains("swapped.log", "train_state.bin"),
          "a train_state.bin of another run: resume exited %d", rc);
    copy_dir(full_ck, ck);
    rc = resume("other-run.log", "stale");
    CHECK(rc != 0 && log_contains("other-run.log", "belongs to run 'full'"),
          "a checkpoint of another run: resume exited %d", rc);

    // One flipped byte in the middle of the weights.
    copy_dir(backup, ck);
    char weights[800];
    snprintf(weights, sizeof weights, "%s/model.safetensors", ck);
    size_t len;
    char *raw = tb_read_file(weights, &len);
    if (raw) {
        raw[len / 2] ^= 0x20;
        tb_write_file_atomic(weights, raw, len);
        free(raw);
    }
    rc = resume("flipped.log", "stale");
    CHECK(rc != 0 && log_contains("flipped.log", "model.safetensors: the tensor data does not match the checksum"),
          "a flipped byte in model.safetensors: resume exited %d", rc);

    // A NaN in one weight, saved with consistent checksums (as a diverging
    // run could): refused as well.
    copy_dir(backup, ck);
    TrainState ts;
    Model *m = checkpoint_load(ck, backend_cpu(), &ts);
    CHECK(m != NULL, "load the checkpoint to poison it: %s", tb_last_error());
    if (m) {
        float nan = NAN;
        m->be->to_device((char *)m->params.values + 4 * 40, &nan, sizeof nan);
        CHECK(checkpoint_save(ck, m, &ts, NULL) == 0, "save the poisoned checkpoint: %s", tb_last_error());
        model_destroy(m);
    }
    rc = resume("nan.log", "stale");
    CHECK(rc != 0 && log_contains("nan.log", "non-finite"), "a NaN weight: resume exited %d", rc);

    // The intact checkpoint and record resume, to the same curve as a run never interrupted.
    copy_dir(backup, ck);
    rc = resume("stale-resumed.log", "stale");
    CHECK(rc == 0, "the intact checkpoint and record: resume exited %d", rc);
    cJSON *r = load_record("stale");
    CHECK(r && same_rows(full, r, "curve", curve_fields, 4), "stale: the resumed curve differs");
    cJSON_Delete(r);
}

static void test_lock(void) {
    // A run is in use while a process holds its lock: the test holds it, as
    // a running `tunebench train` would.
    CHECK(run_killed_after("locked", "50", 0) == 128 + SIGKILL, "locked: the kill");
    char lock[700];
    snprintf(lock, sizeof lock, "%s.lock", run_dir_of("locked"));
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "cannot take %s", lock);
    char pid[32], named[64];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());  // as a running train writes it
    CHECK(fd >= 0 && ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) == len, "write the PID");
    snprintf(named, sizeof named, "in use by tunebench process %ld", (long)getpid());
    int rc = resume("locked.log", "locked");
    CHECK(rc != 0 && log_contains("locked.log", named) && log_contains("locked.log", "kill "),
          "resuming a run in use: exit %d", rc);
    if (fd >= 0) close(fd);
    rc = resume("unlocked.log", "locked");
    CHECK(rc == 0, "resuming once the lock is free: exit %d", rc);
}

static void test_inputs(void) {
    static const char *bad_ids[] = {"../../escaped", "a/b", ".hidden", "x y"};
    for (int i = 0; i < 4; i++) {
        char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", (char *)bad_ids[i], NULL};
        int rc = run_train("runid.log", NULL, args);
        CHECK(rc != 0 && log_contains("runid.log", "--run-id"), "--run-id '%s': exit %d", bad_ids[i], rc);
    }
    char escaped[600];
    snprintf(escaped, sizeof escaped, "%s/escaped.json", dir);
    CHECK(!tb_file_exists(escaped), "--run-id ../../escaped wrote %s", escaped);
    snprintf(escaped, sizeof escaped, "%s/%s/a", results, experiment);
    CHECK(!tb_dir_exists(escaped), "--run-id a/b made the folder %s", escaped);

    char *bogus[] = {"tunebench", "train", "--config", config_path, "--bogus", NULL};
    int rc = run_train("bogus.log", NULL, bogus);
    CHECK(rc != 0 && log_contains("bogus.log", "unknown option '--bogus'"), "--bogus: exit %d", rc);

    char *seq[] = {"tunebench", "train", "--config", config_path, "--set", "seq_len=512", "--run-id", "seq", NULL};
    rc = run_train("seq.log", NULL, seq);
    CHECK(rc != 0 && log_contains("seq.log", "error: --set: key 'seq_len': 512 is longer"),
          "--set seq_len=512 is not blamed on --set: exit %d", rc);

    char dup_path[600];
    snprintf(dup_path, sizeof dup_path, "%s/dup.json", dir);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"experiment\": \"dup\", \"model\": \"tiny-gpt2\", \"data\": \"%s\", \"results\": \"%s\",\n"
             " \"steps\": 20, \"eval\": {\"interval\": 5, \"batches\": 1, \"interval\": 10}}\n", corpus, results);
    tb_write_file_atomic(dup_path, text, strlen(text));
    char *dup[] = {"tunebench", "train", "--config", dup_path, NULL};
    rc = run_train("dup.log", NULL, dup);
    CHECK(rc != 0 && log_contains("dup.log", "key 'eval.interval' appears twice"), "a repeated key: exit %d", rc);

    // A batch whose activations cannot be allocated: tiny-gpt2's arena for
    // 65536 x 16 tokens is about 4 GB, the child gets 1 GB.
    child_memory_mb = 1024;
    char *oom[] = {"tunebench", "train", "--config", config_path, "--batch", "65536", "--run-id", "oom", NULL};
    rc = run_train("oom.log", NULL, oom);
    child_memory_mb = 0;
    CHECK(rc != 0 && log_contains("oom.log", "out of memory") && log_contains("oom.log", "smaller --batch"),
          "out of memory does not suggest a smaller --batch: exit %d", rc);
}

int main(int argc, char **argv) {
    (void)argc;
    const char *tests = strstr(argv[0], "/tests/");
    if (tests) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests - argv[0]), argv[0]);
    snprintf(experiment, sizeof experiment, "safety");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(write_corpus() == 0, "corpus: %s", tb_last_error());
    snprintf(results, sizeof results, "%s/results", dir);
    snprintf(config_path, sizeof config_path, "%s/safety.json", dir);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"experiment\": \"safety\", \"model\": \"tiny-gpt2\", \"data\": \"%s\", \"results\": \"%s\",\n"
             " \"threads\": 1, \"seed\": 9, \"steps\": 1000, \"batch_size\": 8, \"seq_len\": 16, \"log_interval\": 1,\n"
             " \"optimizer\": {\"lr\": 0.003, \"warmup_steps\": 20},\n"
             " \"eval\": {\"interval\": 100, \"batches\": 2}, \"checkpoint\": {\"interval\": 50},\n"
             " \"inference\": {\"repeats\": 1}, \"samples\": {\"count\": 1, \"max_tokens\": 8}}\n",
             corpus, results);
    CHECK(tb_write_file_atomic(config_path, cfg, strlen(cfg)) == 0, "config: %s", tb_last_error());

    char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", "full", NULL};
    int rc = run_train("full.log", NULL, args);
    CHECK(rc == 0, "the uninterrupted run exited %d", rc);
    cJSON *full = load_record("full");
    CHECK(full && check_record("full", 1) == 0, "the uninterrupted run is not complete and valid");
    if (full) {
        test_crash_consistency(full);
        test_refused_pairs(full);
    }
    cJSON_Delete(full);
    test_lock();
    test_inputs();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (test_failed == 0 && !getenv("KEEP")) CHECK(system(cmd) == 0, "cleanup");
    else fprintf(stderr, "kept %s for inspection\n", dir);
    return test_summary("test_train_safety");
}
