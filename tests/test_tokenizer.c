// test_tokenizer.c: the shared ABC tokenizer: lossless on everything (the whole
// default corpus, bad input, random bytes), the vocabulary file's checks, and
// the compression the spec asks for. Needs the default corpus (make test
// builds it).
#include "../data/shards.h"
#include "../data/tokenizer.h"
#include "lib/common.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

static int roundtrip(const Tokenizer *tok, const char *text, size_t len, size_t *ntokens) {
    uint16_t *ids = malloc((len + 1) * sizeof *ids);
    char *back = malloc(len + 1);
    size_t n = tok_encode(tok, text, len, ids, len);
    size_t m = tok_decode_u16(tok, ids, n, back, len);
    long bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += tok_token_bytes(tok, ids[i]);
    int ok = n <= len && m == len && (size_t)bytes == len && memcmp(back, text, len) == 0;
    if (ntokens) *ntokens = n;
    free(ids);
    free(back);
    return ok;
}

static int roundtrip_file(const Tokenizer *tok, const char *path) {
    size_t len;
    char *text = tb_read_file(path, &len);
    if (!text) return 0;
    int ok = roundtrip(tok, text, len, NULL);
    free(text);
    return ok;
}

// Every .abc file below dir round-trips; returns the number of files.
static int roundtrip_tree(const Tokenizer *tok, const char *dir, int *failures) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (tb_dir_exists(path)) {
            files += roundtrip_tree(tok, path, failures);
        } else if (strstr(e->d_name, ".abc")) {
            files++;
            if (!roundtrip_file(tok, path)) {
                (*failures)++;
                fprintf(stderr, "round trip failed: %s\n", path);
            }
        }
    }
    closedir(d);
    return files;
}

// Decoding a shard gives back the prepared text file exactly.
static void check_shard_matches_text(const Tokenizer *tok, const char *style, const char *split) {
    char bin[300], abc[300];
    snprintf(bin, sizeof bin, "data/corpus/%s/%s.bin", style, split);
    snprintf(abc, sizeof abc, "data/corpus/%s/%s.abc", style, split);
    ShardHeader h;
    uint16_t *tokens;
    CHECK(shard_read(bin, &h, &tokens) == 0, "%s", tb_last_error());
    size_t len;
    char *text = tb_read_file(abc, &len);
    CHECK(text != NULL, "%s", tb_last_error());
    if (!text || !tokens) return;
    CHECK(h.tokenizer_hash == tok_hash(tok), "%s: tokenizer hash differs from vocab.tok", bin);
    char *back = malloc(len + 1);
    size_t m = tok_decode_u16(tok, tokens, h.num_tokens, back, len);
    CHECK(m == len && memcmp(back, text, len) == 0, "%s decodes to %zu bytes, %s has %zu", bin, m, abc, len);
    uint64_t eots = 0;
    for (uint64_t i = 0; i < h.num_tokens; i++) eots += tokens[i] == TOK_EOT_ID;
    CHECK(eots == h.num_tunes && tokens[h.num_tokens - 1] == TOK_EOT_ID,
          "%s: %llu end-of-tune tokens for %u tunes", bin, (unsigned long long)eots, h.num_tunes);
    // Held-out compression: the spec asks for at least 1.7 bytes per token.
    if (strcmp(split, "val") == 0) {
        double bpt = (double)(len - h.num_tunes) / (double)(h.num_tokens - h.num_tunes);
        CHECK(bpt >= 1.7, "%s: %.3f bytes per token on validation, below 1.7", style, bpt);
    }
    free(back);
    free(text);
    free(tokens);
}

static void check_load_fails(const char *path, const void *data, size_t len, const char *what) {
    CHECK(tb_write_file_atomic(path, data, len) == 0, "write %s", path);
    tb_clear_error();
    Tokenizer *t = tok_load(path);
    CHECK(t == NULL, "loading a %s vocabulary succeeded", what);
    CHECK(strstr(tb_last_error(), path) != NULL, "error for a %s vocabulary does not name the file: %s",
          what, tb_last_error());
    tok_free(t);
}

int main(void) {
    (void)check_close;
    const char *styles[] = {"music21/control", "music21/plain"};
    Tokenizer *tok[2];
    for (int s = 0; s < 2; s++) {
        char path[256];
        snprintf(path, sizeof path, "data/corpus/%s/vocab.tok", styles[s]);
        tok[s] = tok_load(path);
        CHECK(tok[s] != NULL, "load %s: %s (run make data)", path, tb_last_error());
        if (!tok[s]) return test_summary("test_tokenizer");
        CHECK(tok_vocab_size(tok[s]) == TOK_VOCAB_ABC, "%s: vocab %d", path, tok_vocab_size(tok[s]));
        CHECK(tok_eot_id(tok[s]) == TOK_EOT_ID && tok_token_bytes(tok[s], TOK_EOT_ID) == 1, "end-of-tune");
        CHECK(tok_token_bytes(tok[s], -1) == 0 && tok_token_bytes(tok[s], 1024) == 0, "out of range ids");
        check_shard_matches_text(tok[s], styles[s], "train");
        check_shard_matches_text(tok[s], styles[s], "val");
    }

    // The whole default corpus as found, file by file, with both vocabularies.
    for (int s = 0; s < 2; s++) {
        int failures = 0;
        int files = roundtrip_tree(tok[s], "data/corpus/music21/abc", &failures);
        CHECK(files > 1000 && failures == 0, "%s vocabulary: %d of %d corpus files failed the round trip",
              styles[s], failures, files);
    }

    // Bad input: lossless with the music-aware and the byte-level tokenizers.
    Tokenizer *bytes = tok_new_bytes();
    CHECK(tok_vocab_size(bytes) == TOK_VOCAB_BYTES, "bytes vocab %d", tok_vocab_size(bytes));
    const char *bad[] = {"empty", "headers_only", "binary_junk", "nul", "invalid_utf8", "crlf",
                         "tabs", "long_line", "multivoice", "tunes"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/data/%s.abc", bad[i]);
        CHECK(tb_file_exists(path), "missing fixture %s", path);
        CHECK(roundtrip_file(tok[0], path), "abc tokenizer round trip of %s", path);
        CHECK(roundtrip_file(bytes, path), "byte tokenizer round trip of %s", path);
    }
    Rng rng;
    rng_seed(&rng, 11);
    char junk[3000];
    int junk_ok = 1;
    for (int trial = 0; trial < 100; trial++) {
        size_t len = rng_below(&rng, sizeof junk);
        for (size_t i = 0; i < len; i++) junk[i] = (char)rng_below(&rng, trial % 2 ? 128 : 256);
        junk_ok &= roundtrip(tok[0], junk, len, NULL);
    }
    CHECK(junk_ok, "random bytes do not round-trip");
    // Music gets merged tokens: a common bar is a few tokens, not one per byte.
    size_t n;
    const char *bar = "GABc dBAG|";
    CHECK(roundtrip(tok[0], bar, strlen(bar), &n) && n <= 5, "'%s' takes %zu tokens", bar, n);

    // Encode reports the needed count and never writes past cap.
    uint16_t small[4] = {0, 0, 0, 0xbeef};
    size_t need = tok_encode(tok[0], "X:1\nT:A title\nK:C\nCDEF|", 23, small, 3);
    CHECK(need > 3 && small[3] == 0xbeef, "tok_encode wrote past cap (need %zu)", need);
    int32_t bad_ids[2] = {5, 1024};
    char out[8];
    CHECK(tok_decode(tok[0], bad_ids, 2, out, sizeof out) == (size_t)-1, "decoding id 1024 succeeded");

    // Vocabulary files: save/load keeps the hash; damaged files are refused.
    char dir[] = "/tmp/tb_test_tokenizer_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/vocab.tok", dir);
    CHECK(tok_save(tok[0], path) == 0, "save: %s", tb_last_error());
    Tokenizer *again = tok_load(path);
    CHECK(again && tok_hash(again) == tok_hash(tok[0]), "save/load changed the hash");
    tok_free(again);
    size_t flen;
    char *file = tb_read_file(path, &flen);
    check_load_fails(path, file, flen / 2, "truncated");
    file[flen / 3] ^= 0x40;
    check_load_fails(path, file, flen, "corrupt");
    check_load_fails(path, "TBSHARD1 something else entirely here", 38, "foreign");
    free(file);
    unlink(path);
    CHECK(tok_load(path) == NULL && strstr(tb_last_error(), path), "missing file: %s", tb_last_error());
    Tokenizer *b2 = NULL;
    snprintf(path, sizeof path, "%s/bytes.tok", dir);
    CHECK(tok_save(bytes, path) == 0 && (b2 = tok_load(path)) && tok_hash(b2) == tok_hash(bytes) &&
              tok_vocab_size(b2) == TOK_VOCAB_BYTES,
          "byte vocabulary save/load");
    tok_free(b2);
    unlink(path);
    rmdir(dir);

    // Training is deterministic and fills the vocabulary exactly.
    size_t vlen;
    char *val = tb_read_file("data/corpus/music21/control/val.abc", &vlen);
    CHECK(val != NULL, "%s", tb_last_error());
    if (val) {
        const char *texts[1] = {val};
        TokTrainArgs args = {texts, &vlen, 1, 0, 0};
        Tokenizer *t1 = tok_train(&args), *t2 = tok_train(&args);
        CHECK(t1 && t2 && tok_hash(t1) == tok_hash(t2), "training twice gave different vocabularies");
        CHECK(t1 && tok_vocab_size(t1) == TOK_VOCAB_ABC, "trained vocab size");
        CHECK(t1 && roundtrip(t1, val, vlen, NULL), "round trip with a freshly trained vocabulary");
        tok_free(t1);
        tok_free(t2);
        const char *tiny_text[1] = {"ABAB"};
        size_t tiny_len = 4;
        TokTrainArgs tiny = {tiny_text, &tiny_len, 1, 0, 0};
        tb_clear_error();
        Tokenizer *t3 = tok_train(&tiny);
        CHECK(t3 == NULL && strstr(tb_last_error(), "too few"), "training on 4 bytes: %s", tb_last_error());
        tok_free(t3);
        free(val);
    }
    tok_free(bytes);
    tok_free(tok[0]);
    tok_free(tok[1]);
    return test_summary("test_tokenizer");
}
