// train_cli.h: helpers for the tests that run `tunebench train` as a user
// does (test_train_resume.c, test_train_safety.c): a synthetic corpus, child
// runs with their logs, and the records they write. Include once per test.
#ifndef TB_TEST_TRAIN_CLI_H
#define TB_TEST_TRAIN_CLI_H

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../data/shards.h"
#include "../data/tokenizer.h"
#include "lib/common.h"
#include "../src/runner/schema.h"
#include "test.h"

// The test folder: mkdtemp() fills in the X.
static char dir[] = "/tmp/tb_test_train_XXXXXX";
static char config_path[256], results[256], corpus[256];
// The tunebench binary of the build this test belongs to: <build>/tunebench
// for <build>/tests/test_train_resume (build/ or build-sanitize/).
static char tunebench[512] = "build/tunebench";

// ---------------------------------------------------------------- helpers

// Writes a corpus of synthetic ABC tunes with the byte-level tokenizer.
static inline int write_corpus(void) {
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
// When set, children fail any allocation past this many MB, as on a machine
// that small: an address-space limit, or under AddressSanitizer (which
// reserves terabytes of address space) its allocator's own limit.
static long child_memory_mb;

// Starts build/tunebench with args; stdout and stderr go to <dir>/<log>.
static inline pid_t spawn(const char *log, const char *fault_env, char *const args[]) {
    pid_t pid = fork();
    if (pid == 0) {
        if (child_file_limit > 0) {
            struct rlimit rl = {(rlim_t)child_file_limit, (rlim_t)child_file_limit};
            signal(SIGXFSZ, SIG_IGN);  // fail the write with EFBIG instead of killing the process
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        if (child_memory_mb > 0) {
#ifdef __SANITIZE_ADDRESS__
            char opt[128];
            snprintf(opt, sizeof opt, "allocator_may_return_null=1:max_allocation_size_mb=%ld", child_memory_mb);
            setenv("ASAN_OPTIONS", opt, 1);
#else
            struct rlimit rl = {(rlim_t)child_memory_mb << 20, (rlim_t)child_memory_mb << 20};
            setrlimit(RLIMIT_AS, &rl);
#endif
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

static inline int wait_status(pid_t pid) {
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline int run_train(const char *log, const char *fault_env, char *const args[]) {
    return wait_status(spawn(log, fault_env, args));
}

static inline int log_contains(const char *log, const char *needle) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    char *text = tb_read_file(path, NULL);
    int found = text && strstr(text, needle);
    if (!found) fprintf(stderr, "%s lacks '%s':\n%s\n", log, needle, text ? text : "(none)");
    free(text);
    return found;
}

// The same without printing the log when the needle is missing (for checks
// that something is absent).
static inline int log_contains_quiet(const char *log, const char *needle) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    char *text = tb_read_file(path, NULL);
    int found = text && strstr(text, needle);
    free(text);
    return found;
}

// The experiment name of the test config: records go to <results>/<experiment>/.
static char experiment[64] = "resume";

static inline cJSON *load_record(const char *run_id) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s.json", results, experiment, run_id);
    char *text = tb_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static inline int record_valid(const char *run_id) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s.json", results, experiment, run_id);
    int ok = schema_validate_file(path, RECORD_SCHEMA_PATH) == 0;
    if (!ok) fprintf(stderr, "%s\n", tb_last_error());
    return ok;
}

static inline const char *status_of(const cJSON *rec) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "identity"), "status");
    return cJSON_IsString(s) ? s->valuestring : "(none)";
}

static inline double num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Rows of two records agree bit for bit in the given fields.
static inline int same_rows(const cJSON *a, const cJSON *b, const char *section, const char *const *fields, int nf) {
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

static inline int same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = tb_read_file(a, &la), *y = tb_read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x), free(y);
    return same;
}

// Two train_state.bin files agree in everything but the run id (bytes
// 152-247, see models/checkpoint.c) and the file checksum that covers it.
static inline int same_train_state(const char *a, const char *b) {
    size_t la, lb;
    char *x = tb_read_file(a, &la), *y = tb_read_file(b, &lb);
    int same = x && y && la == lb && la > 256 + 8 && memcmp(x, y, 152) == 0 &&
               memcmp(x + 248, y + 248, la - 248 - 8) == 0;
    free(x), free(y);
    return same;
}

#endif
