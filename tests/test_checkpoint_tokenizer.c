// test_checkpoint_tokenizer.c: a checkpoint carries its tokenizer.
//   - checkpoint_save copies the tokenizer file byte for byte to vocab.tok and
//     records its size and hash in config.json ("bytes" for the byte-level
//     one, null for none); checkpoint_tokenizer reads it back and refuses a
//     vocab.tok changed after the save;
//   - `tunebench generate`, `eval` and `score --text` use it with no
//     --tokenizer or --vocab, accept the same vocabulary given explicitly, and refuse another
//     one with one line; a checkpoint without a tokenizer needs one given.
// The vocabularies are the test corpus's (data/corpus/{irishman,raw}): two
// different 1024-token vocabularies.
#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/tokenizer.h"
#include "lib/common.h"
#include "models/checkpoint.h"
#include "test.h"

#define VOCAB_A "data/corpus/music21/control/vocab.tok"
#define VOCAB_B "data/corpus/music21/plain/vocab.tok"
#define SHARD_A "data/corpus/music21/control/val.bin"

static char root[256];

// Runs `build/tunebench ARGS`, stderr to root/err.txt; returns the exit status.
static int run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s/out.txt 2>%s/err.txt", test_tunebench(), args, root, root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The contents of root/name ("" when absent); the caller frees.
static char *output(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    char *s = tb_file_exists(path) ? tb_read_file(path, NULL) : NULL;
    return s ? s : strdup("");
}

static int err_has(const char *needle) {
    char *e = output("err.txt");
    int lines = 0;
    for (const char *p = e; *p; p++) lines += *p == '\n';
    int ok = strstr(e, needle) != NULL;
    if (!ok || lines != 1) fprintf(stderr, "stderr (%d lines): %s", lines, e);
    free(e);
    return ok && lines == 1;
}

static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    char *x = tb_read_file(a, &na), *y = tb_read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static cJSON *tokenizer_json(const char *ckpt) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", ckpt);
    char *text = tb_read_file(path, NULL);
    cJSON *cfg = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *tok = cJSON_DetachItemFromObject(cJSON_GetObjectItemCaseSensitive(cfg, "tunebench"), "tokenizer");
    cJSON_Delete(cfg);
    return tok;
}

static void test_save_and_read(Model *m) {
    char ck[512], copy[600];
    snprintf(ck, sizeof ck, "%s/ck_file", root);
    CHECK(checkpoint_save(ck, m, NULL, VOCAB_A) == 0, "save with a tokenizer: %s", tb_last_error());
    snprintf(copy, sizeof copy, "%s/vocab.tok", ck);
    CHECK(same_bytes(VOCAB_A, copy), "vocab.tok is not a byte-for-byte copy of %s", VOCAB_A);
    size_t len;
    char *bytes = tb_read_file(VOCAB_A, &len);
    char want[32];
    snprintf(want, sizeof want, "%016llx", bytes ? (unsigned long long)tb_hash64(bytes, len, TB_HASH64_SEED) : 0ULL);
    free(bytes);
    cJSON *desc = tokenizer_json(ck);
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(desc, "fnv1a64");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(desc, "file");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(desc, "bytes");
    CHECK(cJSON_IsString(hash) && tb_streq(hash->valuestring, want), "config.json's tokenizer hash is not %s", want);
    CHECK(cJSON_IsString(file) && tb_streq(file->valuestring, "vocab.tok"), "config.json's tokenizer file");
    CHECK(cJSON_IsNumber(size) && size->valuedouble == (double)len, "config.json's tokenizer size");
    cJSON_Delete(desc);
    CheckpointTokenizer ct;
    CHECK(checkpoint_tokenizer(ck, &ct) == 0 && ct.kind == CHECKPOINT_TOKENIZER_IN_FILE && tb_streq(ct.path, copy),
          "checkpoint_tokenizer: %s", tb_last_error());

    // Byte-level: recorded as "bytes", no file. None: null.
    char ckb[512], ckn[512];
    snprintf(ckb, sizeof ckb, "%s/ck_bytes", root);
    snprintf(ckn, sizeof ckn, "%s/ck_none", root);
    CHECK(checkpoint_save(ckb, m, NULL, "bytes") == 0, "save byte-level: %s", tb_last_error());
    desc = tokenizer_json(ckb);
    CHECK(cJSON_IsString(desc) && tb_streq(desc->valuestring, "bytes"), "the byte-level tokenizer is not \"bytes\"");
    cJSON_Delete(desc);
    snprintf(copy, sizeof copy, "%s/vocab.tok", ckb);
    CHECK(!tb_file_exists(copy) && checkpoint_tokenizer(ckb, &ct) == 0 && ct.kind == CHECKPOINT_TOKENIZER_BYTE_LEVEL,
          "byte-level checkpoint_tokenizer");
    CHECK(checkpoint_save(ckn, m, NULL, NULL) == 0, "save without: %s", tb_last_error());
    desc = tokenizer_json(ckn);
    CHECK(cJSON_IsNull(desc), "a checkpoint without a tokenizer records null");
    cJSON_Delete(desc);
    CHECK(checkpoint_tokenizer(ckn, &ct) == 0 && ct.kind == CHECKPOINT_TOKENIZER_NONE, "none: checkpoint_tokenizer");

    // A missing tokenizer file fails the save and keeps the checkpoint there.
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such.tok", root);
    tb_clear_error();
    CHECK(checkpoint_save(ck, m, NULL, missing) != 0 && strstr(tb_last_error(), "no-such.tok"),
          "a save with a missing tokenizer: '%s'", tb_last_error());
    CHECK(checkpoint_tokenizer(ck, &ct) == 0 && ct.kind == CHECKPOINT_TOKENIZER_IN_FILE,
          "the failed save damaged the previous checkpoint: %s", tb_last_error());

    // A vocab.tok changed after the save is refused, naming the file.
    char ckc[512];
    snprintf(ckc, sizeof ckc, "%s/ck_changed", root);
    CHECK(checkpoint_save(ckc, m, NULL, VOCAB_A) == 0, "save: %s", tb_last_error());
    snprintf(copy, sizeof copy, "%s/vocab.tok", ckc);
    char *b = tb_read_file(VOCAB_B, &len);
    if (b) tb_write_file_atomic(copy, b, len);
    free(b);
    tb_clear_error();
    CHECK(checkpoint_tokenizer(ckc, &ct) != 0 && strstr(tb_last_error(), "does not hold the tokenizer") &&
              strstr(tb_last_error(), copy),
          "a replaced vocab.tok: '%s'", tb_last_error());
    unlink(copy);
    tb_clear_error();
    CHECK(checkpoint_tokenizer(ckc, &ct) != 0 && strstr(tb_last_error(), "missing"),
          "a deleted vocab.tok: '%s'", tb_last_error());
}

static void test_commands(void) {
    char args[2048], ck[512], ckn[512], ckc[512];
    snprintf(ck, sizeof ck, "%s/ck_file", root);
    snprintf(ckn, sizeof ckn, "%s/ck_none", root);
    snprintf(ckc, sizeof ckc, "%s/ck_changed", root);
    const char *gen = "--n 2 --seed 3 --max-tokens 12 --prompt 'X:1\\nK:D\\n'";

    // generate: the checkpoint's own tokenizer, with none given.
    snprintf(args, sizeof args, "generate --ckpt %s %s --out %s/g1", ck, gen, root);
    CHECK(run(args) == 0, "generate without --tokenizer failed");
    char *tune1 = output("g1/tune_001.abc"), *index = output("g1/index.json");
    cJSON *ix = cJSON_Parse(index);
    const cJSON *used = cJSON_GetObjectItemCaseSensitive(ix, "tokenizer");
    char want[600];
    snprintf(want, sizeof want, "%s/vocab.tok", ck);
    CHECK(cJSON_IsString(used) && tb_streq(used->valuestring, want), "generate's index.json names %s, not %s",
          cJSON_IsString(used) ? used->valuestring : "nothing", want);
    CHECK(strncmp(tune1, "X:1\nK:D\n", 8) == 0 && strlen(tune1) > 8, "the generated tune: '%s'", tune1);
    cJSON_Delete(ix);
    free(index);

    // The same vocabulary given explicitly (another path): the same tunes.
    snprintf(args, sizeof args, "generate --ckpt %s --tokenizer %s %s --out %s/g2", ck, VOCAB_A, gen, root);
    CHECK(run(args) == 0, "generate with the checkpoint's own vocabulary given failed");
    char *tune2 = output("g2/tune_001.abc");
    CHECK(tb_streq(tune1, tune2), "an explicit copy of the same vocabulary changed the tune");
    free(tune1);
    free(tune2);

    // Another vocabulary (same size): refused in one line, nothing written.
    snprintf(args, sizeof args, "generate --ckpt %s --tokenizer %s %s --out %s/g3", ck, VOCAB_B, gen, root);
    CHECK(run(args) != 0 && err_has("is not the tokenizer checkpoint"), "generate with another tokenizer");
    snprintf(want, sizeof want, "%s/g3", root);
    CHECK(!tb_dir_exists(want), "a refused generate wrote %s", want);
    snprintf(args, sizeof args, "generate --ckpt %s --tokenizer bytes %s --out %s/g3", ck, gen, root);
    CHECK(run(args) != 0 && err_has("leave out --tokenizer"), "generate with the byte-level tokenizer");

    // A checkpoint that carries none: one must be given, and is then used.
    snprintf(args, sizeof args, "generate --ckpt %s %s --out %s/g4", ckn, gen, root);
    CHECK(run(args) != 0 && err_has("carries no tokenizer") && err_has("--tokenizer data/corpus/"),
          "generate from a checkpoint without a tokenizer");
    snprintf(args, sizeof args, "generate --ckpt %s --tokenizer %s %s --out %s/g4", ckn, VOCAB_A, gen, root);
    CHECK(run(args) == 0, "generate from a checkpoint without a tokenizer, one given, failed");
    tune1 = output("g4/tune_002.abc"), tune2 = output("g1/tune_002.abc");
    CHECK(*tune1 && tb_streq(tune1, tune2), "the same weights and vocabulary gave another tune");
    free(tune1);
    free(tune2);

    // A vocab.tok that is not the one saved: refused.
    snprintf(args, sizeof args, "generate --ckpt %s %s --out %s/g5", ckc, gen, root);
    CHECK(run(args) != 0 && err_has("is missing"), "generate from a checkpoint whose vocab.tok was deleted");

    // eval: the checkpoint's tokenizer by default, so a shard of another
    // vocabulary is refused even though a vocab.tok lies beside it.
    const char *ev = "--seq 16 --batch 2 --max-windows 2";
    snprintf(args, sizeof args, "eval --ckpt %s --data %s %s", ck, SHARD_A, ev);
    CHECK(run(args) == 0, "eval without --vocab failed");
    snprintf(args, sizeof args, "eval --ckpt %s --data data/corpus/music21/plain/val.bin %s", ck, ev);
    CHECK(run(args) != 0 && err_has("made by another tokenizer"), "eval of another vocabulary's shard");
    snprintf(args, sizeof args, "eval --ckpt %s --data %s --vocab %s %s", ck, SHARD_A, VOCAB_A, ev);
    CHECK(run(args) == 0, "eval with the checkpoint's own vocabulary given failed");
    snprintf(args, sizeof args, "eval --ckpt %s --data %s --vocab %s %s", ck, SHARD_A, VOCAB_B, ev);
    CHECK(run(args) != 0 && err_has("leave out --vocab"), "eval with another --vocab");
    // Without a tokenizer in the checkpoint, eval takes vocab.tok beside the shard.
    snprintf(args, sizeof args, "eval --ckpt %s --data %s %s", ckn, SHARD_A, ev);
    CHECK(run(args) == 0, "eval of a checkpoint without a tokenizer failed");

    // score --text: the checkpoint's tokenizer, after end-of-tune; the same
    // as scoring those ids.
    const char *abc = "X:1\nM:6/8\nK:D\n|:dAF DFA|dAF d2e|\n";
    char text[300], ids[300];
    snprintf(text, sizeof text, "%s/tune.abc", root);
    snprintf(ids, sizeof ids, "%s/tune.ids", root);
    tb_write_file_atomic(text, abc, strlen(abc));
    Tokenizer *tok = tok_load(VOCAB_A);
    uint16_t t[64];
    size_t n = tok ? tok_encode(tok, abc, strlen(abc), t, 64) : 0;
    FILE *f = fopen(ids, "w");
    fprintf(f, "%d", TOK_EOT_ID);
    for (size_t i = 0; i < n; i++) fprintf(f, " %d", t[i]);
    fclose(f);
    tok_free(tok);
    snprintf(args, sizeof args, "score --ckpt %s --text %s", ck, text);
    CHECK(run(args) == 0, "score --text failed");
    char *out = output("out.txt");
    cJSON *by_text = cJSON_Parse(out);
    free(out);
    snprintf(args, sizeof args, "score --ckpt %s --ids %s", ck, ids);
    CHECK(run(args) == 0, "score --ids failed");
    out = output("out.txt");
    cJSON *by_ids = cJSON_Parse(out);
    free(out);
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(by_text, "logprobs");
    const cJSON *li = cJSON_GetObjectItemCaseSensitive(by_ids, "logprobs");
    const cJSON *bpb = cJSON_GetObjectItemCaseSensitive(by_text, "bpb");
    CHECK(n > 4 && cJSON_GetArraySize(lt) == (int)n && cJSON_Compare(lt, li, 1), "score --text: %d log-probabilities "
          "for %zu tokens, or not those of its ids", cJSON_GetArraySize(lt), n);
    CHECK(cJSON_IsNumber(bpb) && bpb->valuedouble > 0, "score --text has no bits per byte");
    cJSON_Delete(by_text);
    cJSON_Delete(by_ids);
    snprintf(args, sizeof args, "score --ckpt %s --text %s --vocab %s", ck, text, VOCAB_B);
    CHECK(run(args) != 0 && err_has("leave out --vocab"), "score --text with another --vocab");
    snprintf(args, sizeof args, "score --ckpt %s --text %s", ckn, text);
    CHECK(run(args) != 0 && err_has("carries no tokenizer"), "score --text of a checkpoint without a tokenizer");
}

int main(int argc, char **argv) {
    (void)argc;
    test_find_tunebench(argv[0]);
    snprintf(root, sizeof root, "/tmp/tb_test_ckpt_tok.%d", (int)getpid());
    CHECK(tb_mkdirs(root) == 0, "mkdirs: %s", tb_last_error());
    CHECK(tb_file_exists(VOCAB_A) && tb_file_exists(VOCAB_B) && tb_file_exists(SHARD_A),
          "the test corpus is missing (make corpus-for-tests)");
    ModelSpec spec;
    CHECK(model_spec_by_name(&spec, "tiny-mamba", 1024) == 0, "tiny-mamba: %s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 7);
    test_save_and_read(m);
    test_commands();
    model_destroy(m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (test_failed == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_checkpoint_tokenizer");
}
