// test_shards.c: shard files and the DataLoader: round trip, validation with
// clear errors, deterministic batches, resume, and evaluation windows.
#include "../data/shards.h"
#include "lib/common.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/tb_test_shards_XXXXXX";

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static void expect_open_fails(const char *path, const char *what, const char *needle) {
    DataLoader L;
    tb_clear_error();
    CHECK(loader_open(&L, path, 2, 8, 1) != 0, "opening a %s shard succeeded", what);
    CHECK(strstr(tb_last_error(), path) != NULL, "%s shard: error does not name the file: %s", what,
          tb_last_error());
    CHECK(needle == NULL || strstr(tb_last_error(), needle) != NULL, "%s shard: error '%s' lacks '%s'",
          what, tb_last_error(), needle);
}

int main(void) {
    (void)check_close;
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    enum { N = 1000, V = 300 };
    uint16_t tokens[N];
    for (int i = 0; i < N; i++) tokens[i] = (uint16_t)(i % 50 == 49 ? 256 : (i * 7) % V);
    ShardHeader h = {SHARD_VERSION, V, N, 0x1234abcdULL, 256, 20};
    char path[512];
    path_in(path, sizeof path, "ok.bin");
    CHECK(shard_write(path, &h, tokens) == 0, "write: %s", tb_last_error());

    ShardHeader back;
    uint16_t *read = NULL;
    CHECK(shard_read(path, &back, &read) == 0, "read: %s", tb_last_error());
    CHECK(read && back.num_tokens == N && back.vocab_size == V && back.tokenizer_hash == 0x1234abcdULL &&
              back.eot_id == 256 && back.num_tunes == 20 && memcmp(read, tokens, sizeof tokens) == 0,
          "shard round trip");
    free(read);

    // Training batches: deterministic from the seed, windows from the shard.
    enum { B = 4, T = 16 };
    int32_t in1[B * T], tg1[B * T], in2[B * T], tg2[B * T];
    DataLoader a, b;
    CHECK(loader_open(&a, path, B, T, 42) == 0 && loader_open(&b, path, B, T, 42) == 0, "%s", tb_last_error());
    CHECK(loader_num_tokens(&a) == N && loader_tokenizer_hash(&a) == 0x1234abcdULL &&
              loader_vocab_size(&a) == V, "loader accessors");
    CHECK(loader_check_tokenizer(&a, 0x1234abcdULL, V) == 0 && loader_check_tokenizer(&a, 99, V) != 0,
          "tokenizer hash check");
    CHECK(loader_check_tokenizer(&a, 0x1234abcdULL, V + 1) != 0 && strstr(tb_last_error(), "vocabulary of"),
          "a shard whose header vocabulary differs from the tokenizer's is accepted");
    int same = 1, windows_ok = 1;
    for (int step = 0; step < 20; step++) {
        loader_next_batch(&a, in1, tg1);
        loader_next_batch(&b, in2, tg2);
        same &= memcmp(in1, in2, sizeof in1) == 0 && memcmp(tg1, tg2, sizeof tg1) == 0;
        for (int r = 0; r < B; r++) {
            // Find the window's start from its first token's position pattern.
            int found = 0;
            for (int s = 0; s + T < N && !found; s++) {
                int match = 1;
                for (int t = 0; t < T && match; t++)
                    match = in1[r * T + t] == tokens[s + t] && tg1[r * T + t] == tokens[s + t + 1];
                found = match;
            }
            windows_ok &= found;
        }
    }
    CHECK(same, "two loaders with one seed served different batches");
    CHECK(windows_ok, "a batch row is not a window of the shard with targets shifted by one");

    // Resume: saving the state and restoring it into a fresh loader continues identically.
    uint64_t state[4];
    loader_get_state(&a, state);
    loader_next_batch(&a, in1, tg1);
    DataLoader c;
    CHECK(loader_open(&c, path, B, T, 7) == 0, "%s", tb_last_error());
    loader_set_state(&c, state);
    loader_next_batch(&c, in2, tg2);
    CHECK(memcmp(in1, in2, sizeof in1) == 0 && memcmp(tg1, tg2, sizeof tg1) == 0, "resumed batch differs");
    loader_next_batch(&b, in2, tg2);
    loader_next_batch(&b, in2, tg2);  // b is one step behind a before this pair
    DataLoader d;
    loader_open(&d, path, B, T, 43);
    loader_next_batch(&d, in2, tg2);
    CHECK(memcmp(in1, in2, sizeof in1) != 0, "seeds 42 and 43 gave the same batch");
    loader_close(&b), loader_close(&c), loader_close(&d);

    // Evaluation windows: sequential, each token after the first a target once.
    loader_eval_reset(&a);
    uint64_t windows = loader_eval_windows(&a), served = 0;
    int covered_ok = 1, got;
    int64_t next_target = 1;
    while ((got = loader_eval_next(&a, in1, tg1)) > 0) {
        for (int r = 0; r < got; r++, served++)
            for (int t = 0; t < T; t++, next_target++)
                covered_ok &= tg1[r * T + t] == tokens[next_target] && in1[r * T + t] == tokens[next_target - 1];
    }
    CHECK(covered_ok, "evaluation windows are not consecutive");
    CHECK(served == windows && served == (N - 1) / T, "served %llu windows, expected %d",
          (unsigned long long)served, (N - 1) / T);
    loader_eval_reset(&a);
    CHECK(loader_eval_next(&a, in2, tg2) == B && in2[0] == tokens[0], "eval reset");
    loader_close(&a);

    // Bad shards: each a clear error naming the file.
    char bad[512];
    size_t len;
    char *bytes = tb_read_file(path, &len);
    path_in(bad, sizeof bad, "truncated.bin");
    tb_write_file_atomic(bad, bytes, len - 3);
    expect_open_fails(bad, "truncated", "truncated");
    path_in(bad, sizeof bad, "foreign.bin");
    tb_write_file_atomic(bad, "GIF89a and then some more bytes that are not a shard at all, really....", 72);
    expect_open_fails(bad, "foreign", "not a tunebench token shard");
    path_in(bad, sizeof bad, "tiny.bin");
    tb_write_file_atomic(bad, bytes, 10);
    expect_open_fails(bad, "10-byte", NULL);
    uint16_t over = V + 5;
    memcpy(bytes + SHARD_HEADER_BYTES + 2 * 10, &over, 2);
    path_in(bad, sizeof bad, "range.bin");
    tb_write_file_atomic(bad, bytes, len);
    expect_open_fails(bad, "out-of-range", "outside its vocabulary");
    // Headers that claim absurd token counts (the byte count would overflow a
    // signed 64-bit product: UBSan in make test-sanitize sees it if it is computed).
    static const uint64_t claims[] = {1ULL << 62, UINT64_MAX, (1ULL << 40) + 1};
    unsigned char saved_count[8];
    memcpy(saved_count, bytes + 16, 8);
    for (int i = 0; i < 3; i++) {
        memcpy(bytes + 16, &claims[i], 8);
        path_in(bad, sizeof bad, "claims.bin");
        tb_write_file_atomic(bad, bytes, len);
        expect_open_fails(bad, "absurd token count", "more than any shard holds");
    }
    memcpy(bytes + 16, saved_count, 8);
    memcpy(bytes + 8, "\x07\x00\x00\x00", 4);
    path_in(bad, sizeof bad, "version.bin");
    tb_write_file_atomic(bad, bytes, len);
    expect_open_fails(bad, "future-version", "version");
    free(bytes);
    path_in(bad, sizeof bad, "missing.bin");
    expect_open_fails(bad, "missing", "make data");
    DataLoader e;
    CHECK(loader_open(&e, path, 1, N, 1) != 0 && strstr(tb_last_error(), "fewer than one window"),
          "a shard shorter than T+1: %s", tb_last_error());
    CHECK(loader_open(&e, path, 1, N - 1, 1) == 0 && loader_eval_windows(&e) == 1,
          "a shard of exactly T+1 tokens: %s", tb_last_error());
    loader_close(&e);

    const char *names[] = {"ok.bin", "truncated.bin", "foreign.bin", "tiny.bin", "range.bin", "version.bin",
                           "claims.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_in(bad, sizeof bad, names[i]);
        unlink(bad);
    }
    rmdir(dir);
    return test_summary("test_shards");
}
