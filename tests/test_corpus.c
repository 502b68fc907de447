// test_corpus.c: splitting files into tunes, skip reasons, the control style,
// the IrishMAN fixture (published split, overlap), the source and style
// tables, duplicate-aware splitting, prepare's
// all-or-nothing corpus (a failed rebuild leaves the old one, a damaged one is
// rebuilt), and the manifests of the default corpus (which make test builds).
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../data/corpus.h"
#include "lib/common.h"
#include "test.h"

int cmd_prepare(int argc, char **argv);

static void split_file(TuneSet *set, const char *path) {
    size_t len;
    char *text = tb_read_file(path, &len);
    CHECK(text != NULL, "%s", tb_last_error());
    if (text) corpus_split_text(set, text, len, 0);
    free(text);
}

static double manifest_number(const cJSON *m, const char *a, const char *b) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, a);
    if (b) o = cJSON_GetObjectItemCaseSensitive(o, b);
    return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

static const char *manifest_string(const cJSON *m, const char *key) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(o) ? o->valuestring : NULL;
}

static cJSON *load_json(const char *path) {
    size_t len;
    char *text = tb_read_file(path, &len);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static const char *const style_files[] = {"manifest.json", "vocab.tok", "train.bin", "val.bin", "train.abc", "val.abc"};

// Concatenation of a style folder's files (with their names and lengths), to
// compare two states; the total length goes first.
typedef struct {
    char *bytes;
    size_t len;
} Snapshot;

static Snapshot snapshot(const char *dir) {
    size_t cap = 1 << 16, used = 0;
    char *out = tb_malloc(cap);
    for (int i = 0; i < 6; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, style_files[i]);
        size_t len = 0;
        char *data = tb_read_file(path, &len);
        if (used + len + 64 > cap) {
            cap = 2 * (used + len + 64);
            out = realloc(out, cap);
        }
        used += (size_t)snprintf(out + used, 64, "%s:%zu:", style_files[i], data ? len : (size_t)-1);
        if (data) memcpy(out + used, data, len), used += len;
        free(data);
    }
    return (Snapshot){out, used};
}

static int same_snapshot(Snapshot a, Snapshot b) { return a.len == b.len && memcmp(a.bytes, b.bytes, a.len) == 0; }

// `tunebench prepare ARGS...` in a child whose files may not exceed
// file_limit bytes (0: no limit), as on a full disk. Its exit status.
static int prepare_child(const char *tunebench, long file_limit, char *const args[]) {
    pid_t pid = fork();
    if (pid == 0) {
        if (file_limit > 0) {
            struct rlimit rl = {(rlim_t)file_limit, (rlim_t)file_limit};
            signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG, as on a full disk
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1), dup2(fd, 2);
        execv(tunebench, args);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// prepare never leaves a mixed corpus, and never calls a damaged one up to date.
static void test_all_or_nothing(const char *tunebench) {
    char dir[] = "/tmp/tb_test_prepare_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char style[600], cmd[1024];
    snprintf(style, sizeof style, "%s/local/plain-bytes", dir);
    char *seed3[] = {"tunebench", "prepare", "--out", dir, "--style", "plain", "--tokenizer", "bytes",
                     "--val-fraction", "0.5", "--seed", "3", "tests/fixtures/data", NULL};
    char *seed4[] = {"tunebench", "prepare", "--out", dir, "--style", "plain", "--tokenizer", "bytes",
                     "--val-fraction", "0.5", "--seed", "4", "tests/fixtures/data", NULL};
    CHECK(prepare_child(tunebench, 0, seed3) == 0, "prepare --seed 3");
    Snapshot before = snapshot(style);

    // A rebuild (another seed: another split) on a disk that fills up after
    // a few hundred bytes: vocab.tok and train.abc would fit, train.bin not.
    CHECK(prepare_child(tunebench, 500, seed4) != 0, "prepare on a full disk succeeded");
    Snapshot after = snapshot(style);
    CHECK(same_snapshot(before, after), "a failed prepare changed the corpus (a mixed corpus)");
    free(after.bytes);
    snprintf(cmd, sizeof cmd, "ls -d '%s'/local/plain-bytes.* 2>/dev/null | grep -q .", dir);
    CHECK(system(cmd) != 0, "a failed prepare left a temporary folder in %s", dir);

    // A damaged corpus (one byte of train.bin, or a replaced val.abc) is not up to date.
    char path[700];
    snprintf(path, sizeof path, "%s/train.bin", style);
    size_t len;
    char *raw = tb_read_file(path, &len);
    if (raw) {
        raw[len - 3] ^= 1;
        tb_write_file_atomic(path, raw, len);
        free(raw);
    }
    CHECK(prepare_child(tunebench, 0, seed3) == 0, "prepare after damage");
    after = snapshot(style);
    CHECK(same_snapshot(before, after), "prepare called a corpus with a damaged train.bin up to date");
    free(after.bytes);
    snprintf(path, sizeof path, "%s/val.abc", style);
    tb_write_file_atomic(path, "X:1\nK:C\nabc|\n", 14);
    CHECK(prepare_child(tunebench, 0, seed3) == 0, "prepare after a replaced val.abc");
    after = snapshot(style);
    CHECK(same_snapshot(before, after), "prepare called a corpus with a replaced val.abc up to date");
    free(after.bytes);
    free(before.bytes);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

// IrishMAN from the committed fixture (offline): the published split kept as
// published, the shared tune reported, the revision from --source.
static void test_irishman(const char *tunebench) {
    (void)tunebench;
    char dir[] = "/tmp/tb_test_irishman_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char source[600], path[700];
    snprintf(source, sizeof source, "%s/SOURCE", dir);
    const char *src = "{\"kind\": \"huggingface-dataset\", \"revision\": \"0123abcd\"}";
    CHECK(tb_write_file_atomic(source, src, strlen(src)) == 0, "write %s", source);
    char *args[] = {"prepare", "--corpus", "irishman", "--out", dir, "--tokenizer", "bytes", "--source", source,
                    "tests/fixtures/irishman", NULL};
    CHECK(cmd_prepare(10, args) == 0, "prepare --corpus irishman: %s", tb_last_error());
    for (int s = 0; s < corpus_num_styles; s++) {
        snprintf(path, sizeof path, "%s/irishman/%s-bytes/manifest.json", dir, corpus_styles[s].name);
        cJSON *m = load_json(path);
        CHECK(m != NULL, "no manifest at %s", path);
        if (!m) continue;
        // train.json: 3 tunes (a record without notation and an empty tune
        // skipped); validation.json: 2, the first also in train.json.
        CHECK(manifest_number(m, "tunes", "train") == 3 && manifest_number(m, "tunes", "val") == 2,
              "%s: train %g val %g, want the published 3 and 2", path, manifest_number(m, "tunes", "train"),
              manifest_number(m, "tunes", "val"));
        CHECK(manifest_number(m, "skipped", "json_record_without_abc") == 1 &&
                  manifest_number(m, "skipped", "empty_body") == 1,
              "%s: skip counts", path);
        CHECK(manifest_number(m, "overlap", "val_tunes_in_train_exact") == 1 &&
                  manifest_number(m, "overlap", "val_tunes_in_train_same_notes") == 1,
              "%s: overlap %g, want 1", path, manifest_number(m, "overlap", "val_tunes_in_train_exact"));
        const char *split = manifest_string(m, "split"), *rev = manifest_string(m, "revision");
        CHECK(split && tb_streq(split, "published") && rev && tb_streq(rev, "0123abcd") &&
                  tb_streq(manifest_string(m, "corpus") ? manifest_string(m, "corpus") : "", "irishman"),
              "%s: split %s, revision %s", path, split ? split : "none", rev ? rev : "none");
        cJSON_Delete(m);
    }
    // The validation side is validation.json's tunes, whatever the seed.
    snprintf(path, sizeof path, "%s/irishman/plain-bytes/val.abc", dir);
    size_t len;
    char *val = tb_read_file(path, &len);
    CHECK(val && strstr(val, "E2 GA B2|") && strstr(val, "DFAd fdAF|") && !strstr(val, "GAB cBA|"),
          "val.abc is not validation.json's tunes: %s", val ? val : tb_last_error());
    free(val);
    // A folder without the published files: one line naming the file.
    char *missing[] = {"prepare", "--corpus", "irishman", "--out", dir, "tests/fixtures/data", NULL};
    tb_clear_error();
    CHECK(cmd_prepare(6, missing) != 0 && strstr(tb_last_error(), "tests/fixtures/data/train.json") &&
              strstr(tb_last_error(), "fetch_corpus.sh irishman"),
          "a folder without train.json: %s", tb_last_error());
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

// The two tables, and names that are not in them.
static void test_names(const char *tunebench) {
    CHECK(corpus_find_source("music21") && corpus_find_source("irishman") && !corpus_find_source("raw"),
          "sources table");
    CHECK(corpus_find_source("irishman")->train_file && !corpus_find_source("music21")->train_file,
          "irishman publishes its split, music21 does not");
    CHECK(corpus_find_style("plain") && corpus_find_style("control") && !corpus_find_style("irishman"),
          "styles table");
    char names[256];
    corpus_style_names(names, sizeof names);
    CHECK(tb_streq(names, "plain or control"), "style names: %s", names);
    char *bad_corpus[] = {"tunebench", "prepare", "--corpus", "raw", "tests/fixtures/data", NULL};
    char *bad_style[] = {"tunebench", "prepare", "--style", "irishman", "tests/fixtures/data", NULL};
    CHECK(prepare_child(tunebench, 0, bad_corpus) != 0, "prepare --corpus raw succeeded");
    CHECK(prepare_child(tunebench, 0, bad_style) != 0, "prepare --style irishman succeeded");
}

int main(int argc, char **argv) {
    (void)argc;
    char tunebench[512] = "build/tunebench";  // <build>/tunebench for <build>/tests/test_corpus
    const char *tests_dir = strstr(argv[0], "/tests/");
    if (tests_dir) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests_dir - argv[0]), argv[0]);
    (void)check_close;
    // tunes.abc: a comment preamble (not counted), two versions of one tune,
    // one without K:, one whose body is only a comment.
    TuneSet set = {0};
    split_file(&set, "tests/fixtures/data/tunes.abc");
    CHECK(set.count == 2, "tunes.abc gave %zu tunes, want 2", set.count);
    CHECK(set.skipped[SKIP_NO_KEY] == 1 && set.skipped[SKIP_EMPTY_BODY] == 1 &&
              set.skipped[SKIP_TEXT_OUTSIDE_TUNES] == 0,
          "tunes.abc skips: no_key %llu empty %llu outside %llu", (unsigned long long)set.skipped[SKIP_NO_KEY],
          (unsigned long long)set.skipped[SKIP_EMPTY_BODY], (unsigned long long)set.skipped[SKIP_TEXT_OUTSIDE_TUNES]);
    if (set.count == 2) {
        CHECK(set.tunes[0].music_key == set.tunes[1].music_key,
              "same notes with other spacing, chord symbols and title have different keys");
        CHECK(corpus_is_val(set.tunes[0].music_key, 9, 0.5) == corpus_is_val(set.tunes[1].music_key, 9, 0.5),
              "duplicates split apart");
        CHECK(set.tunes[0].text[set.tunes[0].len - 1] == '\n' && set.tunes[0].text[set.tunes[0].len - 2] != '\n',
              "a tune ends with exactly one newline");
    }
    tuneset_free(&set);

    // Bad inputs: each skipped with its reason, or kept normalised.
    struct { const char *file; SkipReason reason; size_t tunes; } cases[] = {
        {"empty", SKIP_REASON_COUNT, 0},         {"headers_only", SKIP_EMPTY_BODY, 0},
        {"binary_junk", SKIP_TEXT_OUTSIDE_TUNES, 0}, {"nul", SKIP_BINARY, 0},
        {"invalid_utf8", SKIP_INVALID_UTF8, 0},  {"long_line", SKIP_TOO_LONG, 0},
        {"crlf", SKIP_REASON_COUNT, 1},          {"tabs", SKIP_REASON_COUNT, 1},
        {"multivoice", SKIP_REASON_COUNT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/data/%s.abc", cases[i].file);
        TuneSet s = {0};
        split_file(&s, path);
        uint64_t skipped = 0;
        for (int r = 0; r < SKIP_REASON_COUNT; r++) skipped += s.skipped[r];
        CHECK(s.count == cases[i].tunes, "%s: %zu tunes, want %zu", cases[i].file, s.count, cases[i].tunes);
        if (cases[i].reason != SKIP_REASON_COUNT)
            CHECK(s.skipped[cases[i].reason] == 1 && skipped == 1, "%s: not skipped as %s", cases[i].file,
                  corpus_skip_name(cases[i].reason));
        else
            CHECK(skipped == 0, "%s: skipped", cases[i].file);
        if (tb_streq(cases[i].file, "crlf") && s.count == 1)
            CHECK(strchr(s.tunes[0].text, '\r') == NULL && strstr(s.tunes[0].text, "K:G\nGABc"),
                  "CRLF not normalised: %s", s.tunes[0].text);
        if (tb_streq(cases[i].file, "multivoice") && s.count == 1) {
            size_t out_len, dropped;
            SkipReason why;
            char *irish = corpus_control_style(s.tunes[0].text, s.tunes[0].len, &out_len, &why, &dropped);
            CHECK(irish == NULL && why == SKIP_MULTI_VOICE, "multi-voice tune kept in control style");
            free(irish);
        }
        tuneset_free(&s);
    }
    CHECK(corpus_valid_utf8("caf\xc3\xa9", 5) && !corpus_valid_utf8("\xc3", 1) &&
              !corpus_valid_utf8("\xed\xa0\x80", 3) && !corpus_valid_utf8("\xc0\x80", 2),
          "UTF-8 validation");

    // The control style: X:1, codes, L/M/K, the body without titles or comments.
    // The sections follow TunesFormer's rule to the letter: "GAB cBA|BAG E3:|",
    // then " \n|:" (the text between ":|" and "|:" pairs with "|:"), then
    // "def gfe|dBG G3:|"; bars 2, 1, 2. E: the short section shares only
    // ' ', '|', ':' in order with a 16-character one: 1 - 13/16 -> 1.875 -> 2;
    // the two long ones differ in 9 aligned places: 1 - 9/16 -> 4.375 -> 4.
    const char *src = "X:7\nT:Title\nC:Someone\nM:6/8\nL:1/8\nQ:3/8=120\nK:G\n"
                      "GAB cBA|BAG E3:| % a comment\n%%MIDI program 1\nT:Second part\n"
                      "|:def gfe|dBG G3:|\nw: words\n";
    size_t out_len, dropped;
    SkipReason why;
    char *irish = corpus_control_style(src, strlen(src), &out_len, &why, &dropped);
    const char *want = "X:1\nS:3\nB:2\nE:2\nB:1\nE:4\nE:2\nB:2\nL:1/8\nM:6/8\nK:G\n"
                       "GAB cBA|BAG E3:| \n|:def gfe|dBG G3:|\n";
    CHECK(irish && strcmp(irish, want) == 0, "control style:\n%s\nwant:\n%s", irish ? irish : "(null)", want);
    free(irish);

    // The IrishMAN JSON fixture: 5 records, one without notation, one empty tune.
    TuneSet js = {0};
    long records = irishman_load_json("tests/fixtures/irishman/train.json", &js, 0);
    CHECK(records == 5, "irishman json: %ld records", records);
    CHECK(js.count == 3 && js.skipped[SKIP_JSON_RECORD] == 1 && js.skipped[SKIP_EMPTY_BODY] == 1,
          "irishman json: %zu tunes", js.count);
    if (js.count == 3) {
        char *t = corpus_control_style(js.tunes[1].text, js.tunes[1].len, &out_len, &why, &dropped);
        CHECK(t && strncmp(t, "X:1\nS:1\nB:4\nL:1/8\nM:4/4\nK:D\n", 28) == 0, "irishman record 2: %s", t ? t : "(null)");
        free(t);
    }
    tuneset_free(&js);
    CHECK(irishman_load_json("tests/fixtures/data/tunes.abc", &js, 0) < 0 &&
              strstr(tb_last_error(), "tunes.abc"), "non-JSON accepted: %s", tb_last_error());
    tuneset_free(&js);

    // prepare end to end on the fixtures (byte tokenizer: too little text to
    // learn merges), then again as a no-op.
    char dir[] = "/tmp/tb_test_corpus_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char *prep_argv[] = {"prepare", "--out", dir, "--tokenizer", "bytes", "--val-fraction", "0.5", "--seed", "3",
                    "tests/fixtures/data", NULL};
    CHECK(cmd_prepare(10, prep_argv) == 0, "prepare on fixtures: %s", tb_last_error());
    char path[512];
    snprintf(path, sizeof path, "%s/local/plain-bytes/manifest.json", dir);
    cJSON *m = load_json(path);
    CHECK(m != NULL, "no manifest at %s", path);
    CHECK(manifest_number(m, "tunes", "kept") == 5, "fixture tunes kept %g", manifest_number(m, "tunes", "kept"));
    CHECK(manifest_number(m, "skipped", "invalid_utf8") == 1 && manifest_number(m, "skipped", "binary") == 1,
          "fixture skip counts");
    CHECK(manifest_string(m, "corpus") && tb_streq(manifest_string(m, "corpus"), "local") &&
              manifest_string(m, "style") && tb_streq(manifest_string(m, "style"), "plain"),
          "the manifest names its corpus (local) and style (plain)");
    cJSON_Delete(m);
    CHECK(cmd_prepare(10, prep_argv) == 0, "second prepare: %s", tb_last_error());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");

    test_all_or_nothing(tunebench);

    test_irishman(tunebench);
    test_names(tunebench);

    // The default corpus: every style, counts and compression in the manifest.
    for (int s = 0; s < corpus_num_styles; s++) {
        const char *style = corpus_styles[s].name;
        snprintf(path, sizeof path, "data/corpus/music21/%s/manifest.json", style);
        m = load_json(path);
        CHECK(m != NULL, "cannot read %s (run make data)", path);
        if (!m) continue;
        double kept = manifest_number(m, "tunes", "kept"), train = manifest_number(m, "tunes", "train"),
               val = manifest_number(m, "tunes", "val");
        CHECK(kept > 12000 && train + val == kept && val > 0.03 * kept && val < 0.07 * kept,
              "%s: kept %g train %g val %g", style, kept, train, val);
        CHECK(manifest_number(m, "bytes_per_token", NULL) >= 1.7 && manifest_number(m, "val", "bytes_per_token") >= 1.7,
              "%s: bytes per token %g", style, manifest_number(m, "bytes_per_token", NULL));
        CHECK(manifest_number(m, "tokenizer", "vocab_size") == 1024, "%s: vocab size", style);
        const cJSON *colls = cJSON_GetObjectItemCaseSensitive(m, "collections");
        CHECK(cJSON_GetArraySize(colls) == 5, "%s: %d collections", style, cJSON_GetArraySize(colls));
        const char *rev = manifest_string(m, "revision");
        CHECK(tb_streq(manifest_string(m, "corpus") ? manifest_string(m, "corpus") : "", "music21") &&
                  tb_streq(manifest_string(m, "style") ? manifest_string(m, "style") : "", style) && rev &&
                  strncmp(rev, "music21 ", 8) == 0,
              "%s: the manifest names corpus music21, style %s and a revision (%s)", path, style, rev ? rev : "none");
        cJSON_Delete(m);
    }
    return test_summary("test_corpus");
}
