// test_train_resume.c: `tunebench train` as a user runs it, end to end, on a
// tiny model and a small synthetic corpus:
//   - a run killed with SIGTERM in the middle checkpoints, records
//     "interrupted" and exits non-zero; --resume then finishes it, and every
//     logged loss, gradient norm and validation loss, and the final weights,
//     are bit-identical to a run that was never interrupted;
//   - a non-finite loss stops the run as "diverged" and keeps the last good
//     checkpoint;
//   - a missing corpus, a bad override and a checkpoint of another
//     architecture are clear errors;
//   - every record these runs write matches the schema.
#include "train_cli.h"

// ---------------------------------------------------------------- the test

int main(int argc, char **argv) {
    (void)argc;
    const char *tests = strstr(argv[0], "/tests/");
    if (tests) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests - argv[0]), argv[0]);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(write_corpus() == 0, "corpus: %s", tb_last_error());
    snprintf(results, sizeof results, "%s/results", dir);
    snprintf(config_path, sizeof config_path, "%s/resume.json", dir);
    char cfg[2048];
    // Enough steps that a kill lands mid-run; validation and checkpoints often
    // enough that the interrupted run's record has visible progress to wait for.
    snprintf(cfg, sizeof cfg,
             "{\"experiment\": \"resume\", \"model\": \"tiny-gpt2\", \"data\": \"%s\", \"results\": \"%s\",\n"
             " \"threads\": 1, \"seed\": 5, \"steps\": 800, \"batch_size\": 8, \"seq_len\": 16, \"log_interval\": 1,\n"
             " \"optimizer\": {\"lr\": 0.003, \"warmup_steps\": 50},\n"
             " \"eval\": {\"interval\": 50, \"batches\": 2}, \"checkpoint\": {\"interval\": 200},\n"
             " \"inference\": {\"repeats\": 1}, \"samples\": {\"count\": 1, \"max_tokens\": 8}}\n",
             corpus, results);
    CHECK(tb_write_file_atomic(config_path, cfg, strlen(cfg)) == 0, "config: %s", tb_last_error());

    // 1. The uninterrupted run.
    char *full[] = {"tunebench", "train", "--config", config_path, "--run-id", "full", NULL};
    int rc = run_train("full.log", NULL, full);
    CHECK(rc == 0, "the uninterrupted run exited %d", rc);
    cJSON *a = load_record("full");
    CHECK(a && strcmp(status_of(a), "completed") == 0, "full run status %s", a ? status_of(a) : "(no record)");
    CHECK(record_valid("full"), "the full run's record does not match the schema");
    CHECK(a && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "curve")) == 800, "full run: curve rows");
    CHECK(a && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a, "inference")), "full run: no inference timings");
    CHECK(a && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "samples")) == 1, "full run: no sample");

    // 2. The same run, killed with SIGTERM once its record shows progress.
    char *killed[] = {"tunebench", "train", "--config", config_path, "--run-id", "killed", NULL};
    pid_t pid = spawn("killed.log", NULL, killed);
    int progressed = 0, exited = 0, status = 0;
    for (int i = 0; i < 12000 && !progressed && !exited; i++) {
        cJSON *r = load_record("killed");
        const cJSON *val = r ? cJSON_GetObjectItemCaseSensitive(r, "validation") : NULL;
        progressed = cJSON_GetArraySize(val) >= 3;  // validated at steps 0, 50 and 100
        cJSON_Delete(r);
        if (!progressed) {
            if (waitpid(pid, &status, WNOHANG) == pid) exited = 1;
            else usleep(5000);
        }
    }
    CHECK(progressed && !exited, "the run %s before it could be killed", exited ? "ended" : "made no progress");
    if (!exited) {
        kill(pid, SIGTERM);
        rc = wait_status(pid);
        CHECK(rc != 0, "the interrupted run exited 0");
    }
    cJSON *b = load_record("killed");
    CHECK(b && strcmp(status_of(b), "interrupted") == 0, "killed run status %s", b ? status_of(b) : "(no record)");
    CHECK(record_valid("killed"), "the interrupted run's record does not match the schema");
    double ckpt_step = b ? num(cJSON_GetObjectItemCaseSensitive(b, "identity"), "checkpoint_step") : NAN;
    CHECK(ckpt_step >= 100 && ckpt_step < 800, "interrupted at step %.0f, expected mid-run", ckpt_step);
    CHECK(log_contains("killed.log", "--resume"), "the interrupted run does not say how to resume");
    cJSON_Delete(b);

    // 3. Resume it to the end.
    char resume_dir[512];
    snprintf(resume_dir, sizeof resume_dir, "%s/resume/killed", results);
    char *resume[] = {"tunebench", "train", "--resume", resume_dir, NULL};
    rc = run_train("resumed.log", NULL, resume);
    CHECK(rc == 0, "the resumed run exited %d", rc);
    b = load_record("killed");
    CHECK(b && strcmp(status_of(b), "completed") == 0, "resumed run status %s", b ? status_of(b) : "(no record)");
    CHECK(record_valid("killed"), "the resumed run's record does not match the schema");
    CHECK(b && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "identity"),
                                                                   "segments")) == 2,
          "the resumed record does not hold two segments");

    // Bit-identical: every logged loss, lr and grad norm, every validation, the weights.
    static const char *curve_fields[] = {"step", "train_loss", "lr", "grad_norm"};
    static const char *val_fields[] = {"step", "loss", "bpb"};
    CHECK(a && b && same_rows(a, b, "curve", curve_fields, 4), "the resumed curve differs from the uninterrupted one");
    CHECK(a && b && same_rows(a, b, "validation", val_fields, 3), "the resumed validation differs");
    char wa[512], wb[512];
    snprintf(wa, sizeof wa, "%s/resume/full/model.safetensors", results);
    snprintf(wb, sizeof wb, "%s/resume/killed/model.safetensors", results);
    CHECK(same_file(wa, wb), "the final weights differ between the resumed and the uninterrupted run");
    snprintf(wa, sizeof wa, "%s/resume/full/train_state.bin", results);
    snprintf(wb, sizeof wb, "%s/resume/killed/train_state.bin", results);
    CHECK(same_train_state(wa, wb), "the final AdamW state differs between the resumed and the uninterrupted run");
    // Both carry the corpus's tokenizer byte for byte, and the same config.json.
    char corpus_vocab[512];
    snprintf(corpus_vocab, sizeof corpus_vocab, "%s/vocab.tok", corpus);
    snprintf(wa, sizeof wa, "%s/resume/full/vocab.tok", results);
    snprintf(wb, sizeof wb, "%s/resume/killed/vocab.tok", results);
    CHECK(same_file(corpus_vocab, wa) && same_file(corpus_vocab, wb), "a checkpoint's vocab.tok is not the corpus's");
    snprintf(wa, sizeof wa, "%s/resume/full/config.json", results);
    snprintf(wb, sizeof wb, "%s/resume/killed/config.json", results);
    CHECK(same_file(wa, wb), "the resumed run's config.json differs from the uninterrupted one's");
    // So a run's checkpoint generates with no tokenizer given.
    char gen[2048];
    snprintf(gen, sizeof gen, "%s generate --ckpt %s/resume/full --n 1 --max-tokens 8 --prompt 'X:1\\n' --out %s/gen "
             ">%s/gen.log 2>&1", tunebench, results, dir, dir);
    CHECK(system(gen) == 0, "generate from the run's checkpoint with no --tokenizer failed (%s/gen.log)", dir);
    cJSON_Delete(b);

    // The same at a step chosen to fall between validations and checkpoints
    // (the hook acts as if SIGTERM arrived during step 137).
    char *stopped[] = {"tunebench", "train", "--config", config_path, "--run-id", "stopped", NULL};
    setenv("TUNEBENCH_FAULT_STOP_STEP", "137", 1);
    rc = run_train("stopped.log", NULL, stopped);
    unsetenv("TUNEBENCH_FAULT_STOP_STEP");
    CHECK(rc == 128 + SIGTERM, "the run stopped at step 137 exited %d", rc);
    snprintf(resume_dir, sizeof resume_dir, "%s/resume/stopped", results);
    char *resume137[] = {"tunebench", "train", "--resume", resume_dir, NULL};
    rc = run_train("stopped_resumed.log", NULL, resume137);
    CHECK(rc == 0, "resuming after step 137 exited %d", rc);
    cJSON *c = load_record("stopped");
    CHECK(c && num(cJSON_GetObjectItemCaseSensitive(c, "identity"), "checkpoint_step") == 800, "step-137 run: not finished");
    CHECK(record_valid("stopped"), "the step-137 run's record does not match the schema");
    CHECK(a && c && same_rows(a, c, "curve", curve_fields, 4), "resumed after step 137: the curve differs");
    CHECK(a && c && same_rows(a, c, "validation", val_fields, 3), "resumed after step 137: the validation differs");
    cJSON_Delete(c);
    snprintf(resume_dir, sizeof resume_dir, "%s/resume/killed", results);

    // Resuming a completed run is refused.
    rc = run_train("again.log", NULL, resume);
    CHECK(rc != 0 && log_contains("again.log", "complete"), "resuming a completed run: exit %d", rc);

    // 4. Divergence: a NaN loss at step 500 stops the run; the checkpoint of step 400 stays.
    char *diverge[] = {"tunebench", "train", "--config", config_path, "--run-id", "diverged", NULL};
    rc = run_train("diverged.log", "500", diverge);
    CHECK(rc == 3, "the diverged run exited %d, expected 3", rc);
    cJSON *d = load_record("diverged");
    CHECK(d && strcmp(status_of(d), "diverged") == 0, "diverged run status %s", d ? status_of(d) : "(no record)");
    CHECK(record_valid("diverged"), "the diverged run's record does not match the schema");
    CHECK(d && num(cJSON_GetObjectItemCaseSensitive(d, "identity"), "checkpoint_step") == 400,
          "the diverged run's checkpoint is not the last good one (step 400)");
    snprintf(wa, sizeof wa, "%s/resume/full/model.safetensors", results);
    CHECK(log_contains("diverged.log", "non-finite"), "the diverged run does not say why it stopped");
    cJSON_Delete(d);

    // 5. Clear errors.
    char *no_corpus[] = {"tunebench", "train", "--config", config_path, "--data", "/nonexistent/corpus", NULL};
    rc = run_train("nocorpus.log", NULL, no_corpus);
    CHECK(rc != 0 && log_contains("nocorpus.log", "make data") && log_contains("nocorpus.log", "/nonexistent/corpus"),
          "a missing corpus: exit %d", rc);
    char *bad_override[] = {"tunebench", "train", "--config", config_path, "--batch", "0", NULL};
    rc = run_train("badbatch.log", NULL, bad_override);
    CHECK(rc != 0 && log_contains("badbatch.log", "batch_size"), "BATCH=0: exit %d", rc);
    char *bad_key[] = {"tunebench", "train", "--config", config_path, "--set", "optimizer.lrr=1", NULL};
    rc = run_train("badkey.log", NULL, bad_key);
    CHECK(rc != 0 && log_contains("badkey.log", "optimizer.lrr"), "an unknown --set key: exit %d", rc);
    char *exists[] = {"tunebench", "train", "--config", config_path, "--run-id", "full", NULL};
    rc = run_train("exists.log", NULL, exists);
    CHECK(rc != 0 && log_contains("exists.log", "exists"), "reusing a run id: exit %d", rc);

    // A full disk: the record (a few KB) fits, the checkpoint (about 140 KB)
    // does not. The run stops with an error naming the file, and its record
    // says why.
    child_file_limit = 64 * 1024;
    char *full_disk[] = {"tunebench", "train", "--config", config_path, "--run-id", "fulldisk", NULL};
    rc = run_train("fulldisk.log", NULL, full_disk);
    child_file_limit = 0;
    CHECK(rc != 0 && log_contains("fulldisk.log", "disk full") && log_contains("fulldisk.log", "fulldisk"),
          "a full disk: exit %d", rc);
    cJSON *f = load_record("fulldisk");
    CHECK(f && strcmp(status_of(f), "interrupted") == 0, "full-disk run status %s", f ? status_of(f) : "(no record)");
    CHECK(record_valid("fulldisk"), "the full-disk run's record does not match the schema");
    cJSON_Delete(f);

    // A checkpoint of another architecture: the record says tiny-mamba, the
    // checkpoint holds a GPT-2.
    if (a) {
        cJSON *cfgj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "training"), "config");
        cJSON_ReplaceItemInObject(cfgj, "model", cJSON_CreateString("tiny-mamba"));
        cJSON_ReplaceItemInObject(cfgj, "steps", cJSON_CreateNumber(4000));
        char *text = cJSON_Print(a);
        char path[512];
        snprintf(path, sizeof path, "%s/resume/full.json", results);
        CHECK(tb_write_file_atomic(path, text, strlen(text)) == 0, "rewrite the record");
        free(text);
        snprintf(resume_dir, sizeof resume_dir, "%s/resume/full", results);
        char *wrong_arch[] = {"tunebench", "train", "--resume", resume_dir, NULL};
        rc = run_train("wrongarch.log", NULL, wrong_arch);
        CHECK(rc != 0 && log_contains("wrongarch.log", "mamba"), "a GPT-2 checkpoint resumed as Mamba: exit %d", rc);
    }
    cJSON_Delete(a);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (test_failed == 0 && !getenv("KEEP")) CHECK(system(cmd) == 0, "cleanup");
    else fprintf(stderr, "kept %s for inspection\n", dir);
    return test_summary("test_train_resume");
}
