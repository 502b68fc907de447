// augment.c: key-transposed copies of tunes by abcmidi's abc2abc (augment.h).
//
// One abc2abc run per transposition covers all the tunes: they go into one
// temporary file renumbered X:1..n, so that each tune of the output is found
// by its number whatever abc2abc does to the rest. abc2abc writes its
// complaints (%Error, %Warning) into the tune they concern; its bar and
// repeat checks (-b -r) are off, since they judge the original's rhythm, not
// the transposition. The copy then takes the original's X: line back.
#define _POSIX_C_SOURCE 200809L
#include "augment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/common.h"
#include "abc_lexer.h"
#include "corpus.h"

#define ABC2ABC "abc2abc"

const char *augment_drop_name(AugDrop reason) {
    static const char *names[AUG_DROP_COUNT] = {"abc2abc_error", "abc2abc_lost_tune", "tune_check",
                                                "note_count"};
    return (unsigned)reason < AUG_DROP_COUNT ? names[reason] : "?";
}

void augset_free(AugSet *set) {
    for (size_t i = 0; i < set->count; i++) free(set->tunes[i].text);
    free(set->tunes);
    memset(set, 0, sizeof *set);
}

// Runs abc2abc with args (args[0] = "abc2abc") and returns its stdout
// (malloc'ed, NUL-terminated), or NULL + tb_error.
static char *run_abc2abc(char *const args[], size_t *out_len) {
    int fds[2];
    if (pipe(fds) != 0) {
        tb_error("cannot run %s: pipe: %s", ABC2ABC, strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]), close(fds[1]);
        tb_error("cannot run %s: fork: %s", ABC2ABC, strerror(errno));
        return NULL;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0), dup2(fds[1], 1), dup2(devnull, 2);
        close(fds[0]), close(fds[1]);
        execvp(args[0], args);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = tb_malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) tb_die("out of memory reading %s's output", ABC2ABC);
        }
        ssize_t got = read(fds[0], buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fds[0]);
    buf[len] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
        free(buf);
        tb_error("cannot run %s (abcmidi): install it with 'make deps-build' (apt-get install abcmidi)", ABC2ABC);
        return NULL;
    }
    *out_len = len;
    return buf;
}

int augment_tool_version(char *out, size_t cap) {
    char *args[] = {ABC2ABC, "-ver", NULL};
    size_t len;
    char *text = run_abc2abc(args, &len);
    if (!text) return -1;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
    snprintf(out, cap, "%.*s", (int)len, text);
    free(text);
    return 0;
}

static size_t count_notes(const char *text, size_t len) {
    AbcLexer lx;
    AbcLexeme lex;
    size_t notes = 0;
    abc_lexer_init(&lx, text, len);
    while (abc_lex_next(&lx, &lex)) notes += lex.kind == ABC_LEX_NOTE;
    return notes;
}

static size_t line_length(const char *s, size_t len) {
    const char *nl = memchr(s, '\n', len);
    return nl ? (size_t)(nl - s) : len;
}

// Checks one transposed tune (its text as abc2abc wrote it, from its X:
// line) against the original, and appends it to out or counts the drop.
static void keep_copy(const char *block, size_t block_len, const char *orig, size_t orig_len, size_t source,
                      int semitones, AugSet *out) {
    for (size_t pos = 0; pos < block_len;) {
        size_t n = line_length(block + pos, block_len - pos);
        if ((n >= 6 && strncmp(block + pos, "%Error", 6) == 0) ||
            (n >= 8 && strncmp(block + pos, "%Warning", 8) == 0)) {
            out->dropped[AUG_DROP_TOOL_ERROR]++;
            return;
        }
        pos += n + 1;
    }
    // The original's X: line, then the transposed tune after its own.
    size_t orig_x = line_length(orig, orig_len), block_x = line_length(block, block_len);
    size_t rest = block_x < block_len ? block_len - block_x : 0;
    char *joined = tb_malloc(orig_x + rest + 2);
    memcpy(joined, orig, orig_x);
    memcpy(joined + orig_x, block + block_x, rest);
    size_t len;
    char *tune = corpus_normalize(joined, orig_x + rest, &len);
    free(joined);
    if (corpus_check_tune(tune, len) != SKIP_REASON_COUNT) {
        out->dropped[AUG_DROP_TUNE_CHECK]++;
        free(tune);
        return;
    }
    if (count_notes(tune, len) != count_notes(orig, orig_len)) {
        out->dropped[AUG_DROP_NOTE_COUNT]++;
        free(tune);
        return;
    }
    if (out->count == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 1024;
        out->tunes = realloc(out->tunes, out->cap * sizeof *out->tunes);
        if (!out->tunes) tb_die("out of memory collecting transposed tunes");
    }
    out->tunes[out->count++] = (AugTune){tune, len, source, semitones};
}

int augment_transpose(char *const *tunes, const size_t *lens, size_t n, int semitones, AugSet *out) {
    char path[] = "/tmp/tunebench_transpose_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return tb_error("cannot create a temporary file for %s: %s", ABC2ABC, strerror(errno));
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        unlink(path);
        return tb_error("cannot write %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
        size_t x = line_length(tunes[i], lens[i]);
        fprintf(fp, "X:%zu\n", i + 1);
        if (x < lens[i]) fwrite(tunes[i] + x + 1, 1, lens[i] - x - 1, fp);
        fputc('\n', fp);
    }
    int write_failed = ferror(fp);
    if (fclose(fp) != 0 || write_failed) {
        unlink(path);
        return tb_error("cannot write %s (disk full?)", path);
    }
    char shift[16];
    snprintf(shift, sizeof shift, "%d", semitones);
    char *args[] = {ABC2ABC, path, "-b", "-r", "-t", shift, NULL};
    size_t len;
    char *text = run_abc2abc(args, &len);
    unlink(path);
    if (!text) return -1;
    // Each output tune starts at a line "X:<number>".
    char **block = tb_calloc(n + 1, sizeof *block);
    size_t *block_len = tb_calloc(n + 1, sizeof *block_len);
    size_t current = 0;  // 1-based tune number of the block being read; 0: none
    for (size_t pos = 0; pos < len;) {
        size_t line = line_length(text + pos, len - pos);
        if (line >= 3 && text[pos] == 'X' && text[pos + 1] == ':') {
            char *end = NULL;
            unsigned long long k = strtoull(text + pos + 2, &end, 10);
            current = end != text + pos + 2 && k >= 1 && k <= n && !block[k - 1] ? (size_t)k : 0;
            if (current) block[current - 1] = text + pos;
        }
        if (current) block_len[current - 1] = (size_t)(text + pos + line - block[current - 1]) + (pos + line < len);
        pos += line + 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!block[i]) out->dropped[AUG_DROP_MISSING]++;
        else keep_copy(block[i], block_len[i], tunes[i], lens[i], i, semitones, out);
    }
    free(block), free(block_len), free(text);
    return 0;
}

int augment_training(const TuneSet *found, const unsigned char *found_val, AugSet *aug) {
    char **texts = tb_malloc((found->count + 1) * sizeof *texts);
    size_t *lens = tb_malloc((found->count + 1) * sizeof *lens), *index = tb_malloc((found->count + 1) * sizeof *index);
    size_t n = 0;
    for (size_t i = 0; i < found->count; i++)
        if (!found_val[i]) texts[n] = found->tunes[i].text, lens[n] = found->tunes[i].len, index[n++] = i;
    int rc = 0;
    for (int t = AUGMENT_MIN_SEMITONES; rc == 0 && t <= AUGMENT_MAX_SEMITONES; t++) {
        if (t == 0) continue;
        size_t before = aug->count;
        rc = augment_transpose(texts, lens, n, t, aug);
        for (size_t k = before; k < aug->count; k++) aug->tunes[k].source = index[aug->tunes[k].source];
    }
    free(texts), free(lens), free(index);
    return rc;
}
