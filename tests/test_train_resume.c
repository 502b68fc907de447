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
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../data/shards.h"
#include "../data/tokenizer.h"
#include "../src/common.h"
#include "../src/runner/schema.h"
#include "test.h"

static char dir[] = "/tmp/tb_test_resume_XXXXXX";
static char config_path[256], results[256], corpus[256];
// The tunebench binary of the build this test belongs to: <build>/tunebench
// for <build>/tests/test_train_resume (build/ or build-sanitize/).
static char tunebench[512] = "build/tunebench";

// ---------------------------------------------------------------- helpers

// Writes a corpus of synthetic ABC tunes with the byte-level tokenizer.
static int write_corpus(void) {
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    if (tb_mkdirs(corpus)) return -1;
    Tokenizer *tok = tok_new_bytes();
    char path[512];
    snprintf(path, sizeof path, "%s/vocab.tok", corpus);
    if (tok_save(tok, path)) return -1;
    const char *notes = "CDEFGABcdefgab";
    Rng rng;
    rng_seed(&rng, 7);
    for (int split = 0; split < 2; split++) {
        int tunes = split == 0 ? 300 : 30;
        size_t cap = (size_t)tunes * 400, n = 0;
        uint16_t *tokens = tb_malloc(cap * sizeof(uint16_t));
        char text[512];
        for (int t = 0; t < tunes; t++) {
            int len = snprintf(text, sizeof text, "X:%d\nM:6/8\nL:1/8\nK:D\n", t + 1);
            for (int bar = 0; bar < 8; bar++) {
                for (int i = 0; i < 6; i++) text[len++] = notes[rng_below(&rng, 14)];
                text[len++] = '|';
            }
            text[len++] = '\n';
            n += tok_encode(tok, text, (size_t)len, tokens + n, cap - n);
            tokens[n++] = (uint16_t)tok_eot_id(tok);
        }
        ShardHeader h = {SHARD_VERSION, (uint32_t)tok_vocab_size(tok), n, tok_hash(tok), (uint32_t)tok_eot_id(tok),
                         (uint32_t)tunes};
        snprintf(path, sizeof path, "%s/%s", corpus, split == 0 ? "train.bin" : "val.bin");
        int rc = shard_write(path, &h, tokens);
        free(tokens);
        if (rc) return -1;
    }
    tok_free(tok);
    return 0;
}

// When set, children may write no file larger than this (RLIMIT_FSIZE): a
// write past it fails as it would on a full disk.
static long child_file_limit;

// Starts build/tunebench with args; stdout and stderr go to <dir>/<log>.
static pid_t spawn(const char *log, const char *fault_env, char *const args[]) {
    pid_t pid = fork();
    if (pid == 0) {
        if (child_file_limit > 0) {
            struct rlimit rl = {(rlim_t)child_file_limit, (rlim_t)child_file_limit};
            signal(SIGXFSZ, SIG_IGN);  // fail the write with EFBIG instead of killing the process
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, log);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1), dup2(fd, 2);
        if (fault_env) setenv("TUNEBENCH_FAULT_NAN_STEP", fault_env, 1);
        execv(tunebench, args);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_train(const char *log, const char *fault_env, char *const args[]) {
    return wait_status(spawn(log, fault_env, args));
}

static int log_contains(const char *log, const char *needle) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    char *text = tb_read_file(path, NULL);
    int found = text && strstr(text, needle);
    if (!found) fprintf(stderr, "%s lacks '%s':\n%s\n", log, needle, text ? text : "(none)");
    free(text);
    return found;
}

static cJSON *load_record(const char *run_id) {
    char path[512];
    snprintf(path, sizeof path, "%s/resume/%s.json", results, run_id);
    char *text = tb_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static int record_valid(const char *run_id) {
    char path[512];
    snprintf(path, sizeof path, "%s/resume/%s.json", results, run_id);
    int ok = schema_validate_file(path, RECORD_SCHEMA_PATH) == 0;
    if (!ok) fprintf(stderr, "%s\n", tb_last_error());
    return ok;
}

static const char *status_of(const cJSON *rec) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "identity"), "status");
    return cJSON_IsString(s) ? s->valuestring : "(none)";
}

static double num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Rows of two records agree bit for bit in the given fields.
static int same_rows(const cJSON *a, const cJSON *b, const char *section, const char *const *fields, int nf) {
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(a, section), *rb = cJSON_GetObjectItemCaseSensitive(b, section);
    int n = cJSON_GetArraySize(ra);
    if (n == 0 || n != cJSON_GetArraySize(rb)) {
        fprintf(stderr, "%s: %d rows against %d\n", section, n, cJSON_GetArraySize(rb));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(ra, i), *y = cJSON_GetArrayItem(rb, i);
        for (int f = 0; f < nf; f++) {
            double u = num(x, fields[f]), v = num(y, fields[f]);
            if (memcmp(&u, &v, sizeof u) != 0) {
                fprintf(stderr, "%s row %d (step %.0f): %s %.17g against %.17g\n", section, i, num(x, "step"),
                        fields[f], u, v);
                return 0;
            }
        }
    }
    return 1;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = tb_read_file(a, &la), *y = tb_read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x), free(y);
    return same;
}

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
    CHECK(same_file(wa, wb), "the final AdamW state differs between the resumed and the uninterrupted run");
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
