// shards.c: token shard files and the DataLoader (layout in shards.h).
#include "shards.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int shard_write(const char *path, const ShardHeader *h, const uint16_t *tokens) {
    unsigned char head[SHARD_HEADER_BYTES] = {0};
    memcpy(head, SHARD_MAGIC, 8);
    put_u32(head + 8, SHARD_VERSION);
    put_u32(head + 12, h->vocab_size);
    put_u64(head + 16, h->num_tokens);
    put_u64(head + 24, h->tokenizer_hash);
    put_u32(head + 32, h->eot_id);
    put_u32(head + 36, h->num_tunes);
    AtomicFile af;
    FILE *fp = atomic_open(&af, path);
    if (!fp) return -1;
    if (fwrite(head, 1, sizeof head, fp) != sizeof head ||
        (h->num_tokens && fwrite(tokens, sizeof(uint16_t), h->num_tokens, fp) != h->num_tokens)) {
        int e = errno;
        atomic_abort(&af);
        return tb_error("cannot write shard %s: %s (is the disk full?)", path, strerror(e));
    }
    return atomic_commit(&af);
}

// Parses and checks a header against the file size.
static int parse_header(const char *path, const unsigned char *head, size_t got, long long file_size,
                        ShardHeader *h) {
    if (got < SHARD_HEADER_BYTES || memcmp(head, SHARD_MAGIC, 8) != 0)
        return tb_error("%s is not a tunebench token shard (bad magic); rebuild it with 'make data'",
                        path);
    h->version = get_u32(head + 8);
    h->vocab_size = get_u32(head + 12);
    h->num_tokens = get_u64(head + 16);
    h->tokenizer_hash = get_u64(head + 24);
    h->eot_id = get_u32(head + 32);
    h->num_tunes = get_u32(head + 36);
    if (h->version != SHARD_VERSION)
        return tb_error("shard %s has version %u, this build reads version %u; rebuild it with "
                        "'make data'",
                        path, h->version, SHARD_VERSION);
    if (h->vocab_size < 2 || h->vocab_size > 65536 || h->eot_id >= h->vocab_size)
        return tb_error("shard %s has an invalid header (vocab size %u, end-of-tune id %u)", path,
                        h->vocab_size, h->eot_id);
    // Checked before any arithmetic on it: a corrupt header may claim up to
    // 2^64 - 1 tokens, whose byte count overflows.
    if (h->num_tokens > (1ULL << 40))
        return tb_error("shard %s: its header promises %llu tokens, more than any shard holds (2^40): the "
                        "file is corrupt; rebuild it with 'make data'", path, (unsigned long long)h->num_tokens);
    long long expect = SHARD_HEADER_BYTES + 2LL * (long long)h->num_tokens;
    if (file_size != expect)
        return tb_error("shard %s is %lld bytes but its header promises %llu tokens (%lld bytes): "
                        "truncated or corrupt; rebuild it with 'make data'",
                        path, file_size, (unsigned long long)h->num_tokens, expect);
    return 0;
}

static FILE *open_sized(const char *path, long long *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tb_error("cannot open shard %s: %s (run 'make data' to build it)", path, strerror(errno));
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (*size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        tb_error("cannot read shard %s: not a regular file", path);
        fclose(fp);
        return NULL;
    }
    return fp;
}

int shard_read_header(const char *path, ShardHeader *h) {
    long long size;
    FILE *fp = open_sized(path, &size);
    if (!fp) return -1;
    unsigned char head[SHARD_HEADER_BYTES];
    size_t got = fread(head, 1, sizeof head, fp);
    fclose(fp);
    return parse_header(path, head, got, size, h);
}

int shard_read(const char *path, ShardHeader *h, uint16_t **tokens_out) {
    *tokens_out = NULL;
    long long size;
    FILE *fp = open_sized(path, &size);
    if (!fp) return -1;
    unsigned char head[SHARD_HEADER_BYTES];
    size_t got = fread(head, 1, sizeof head, fp);
    if (parse_header(path, head, got, size, h) != 0) {
        fclose(fp);
        return -1;
    }
    uint16_t *tokens = tb_malloc(h->num_tokens * sizeof(uint16_t));
    size_t read = fread(tokens, sizeof(uint16_t), h->num_tokens, fp);
    fclose(fp);
    if (read != h->num_tokens) {
        free(tokens);
        return tb_error("cannot read shard %s: short read (%zu of %llu tokens)", path, read,
                        (unsigned long long)h->num_tokens);
    }
    for (uint64_t i = 0; i < h->num_tokens; i++)
        if (tokens[i] >= h->vocab_size) {
            unsigned bad = tokens[i];
            free(tokens);
            return tb_error("shard %s: token %u at position %llu is outside its vocabulary of %u; "
                            "the file is corrupt, rebuild it with 'make data'",
                            path, bad, (unsigned long long)i, h->vocab_size);
        }
    *tokens_out = tokens;
    return 0;
}

// ---------------------------------------------------------------- the manifest

int corpus_verify_file(const char *path) {
    char manifest_path[1100];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    snprintf(manifest_path, sizeof manifest_path, "%.*smanifest.json", slash ? (int)(slash - path + 1) : 0, path);
    if (!tb_file_exists(manifest_path)) return CORPUS_NO_MANIFEST;
    char *text = tb_read_file(manifest_path, NULL);
    if (!text) return -1;
    cJSON *m = cJSON_Parse(text);
    free(text);
    if (!m) return tb_error("%s is not valid JSON: rebuild the corpus with 'make data'", manifest_path);
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "outputs"), name);
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(entry, "bytes");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(entry, "fnv1a64");
    if (!entry) {
        cJSON_Delete(m);
        return CORPUS_NO_MANIFEST;
    }
    int rc = CORPUS_VERIFIED;
    size_t len = 0;
    char *data = tb_read_file(path, &len);
    if (!data) {
        rc = -1;
    } else if (!cJSON_IsNumber(bytes) || !cJSON_IsString(hash)) {
        rc = tb_error("%s: its entry for %s lacks bytes or fnv1a64: rebuild the corpus with 'make data'",
                      manifest_path, name);
    } else {
        char got[17];
        snprintf(got, sizeof got, "%016llx", (unsigned long long)tb_hash64(data, len, TB_HASH64_SEED));
        if ((double)len != bytes->valuedouble || strcmp(got, hash->valuestring) != 0)
            rc = tb_error("%s does not match %s (%zu bytes, hash %s; the manifest records %.0f bytes, hash %s): the "
                          "file changed after 'make data' wrote it; rebuild the corpus with 'make data' (or pass "
                          "--no-verify-corpus to use it as it is)",
                          path, manifest_path, len, got, bytes->valuedouble, hash->valuestring);
    }
    free(data);
    cJSON_Delete(m);
    return rc;
}

// ---------------------------------------------------------------- loader

int loader_open(DataLoader *L, const char *shard_path, int B, int T, uint64_t seed) {
    memset(L, 0, sizeof *L);
    if (B < 1 || T < 1) return tb_error("loader: batch size %d and context %d must be positive", B, T);
    snprintf(L->path, sizeof L->path, "%s", shard_path);
    if (shard_read(shard_path, &L->header, &L->tokens) != 0) return -1;
    if (L->header.num_tokens < (uint64_t)T + 1) {
        int rc = tb_error("shard %s holds %llu tokens, fewer than one window of T+1 = %d", shard_path,
                          (unsigned long long)L->header.num_tokens, T + 1);
        loader_close(L);
        return rc;
    }
    L->B = B;
    L->T = T;
    rng_seed(&L->rng, seed);
    L->eval_pos = 0;
    return 0;
}

int loader_check_tokenizer(const DataLoader *L, uint64_t tokenizer_hash, int vocab_size) {
    if (L->header.vocab_size != (uint32_t)vocab_size)
        return tb_error("shard %s: its header gives a vocabulary of %u tokens, the tokenizer has %d; "
                        "use the vocabulary next to the shard or rebuild with 'make data'",
                        L->path, L->header.vocab_size, vocab_size);
    if (L->header.tokenizer_hash != tokenizer_hash)
        return tb_error("shard %s was made by tokenizer %016llx, not by the loaded one (%016llx); "
                        "use the vocabulary next to the shard or rebuild with 'make data'",
                        L->path, (unsigned long long)L->header.tokenizer_hash,
                        (unsigned long long)tokenizer_hash);
    return 0;
}

static void copy_window(const DataLoader *L, uint64_t start, int32_t *inputs, int32_t *targets) {
    const uint16_t *w = L->tokens + start;
    for (int t = 0; t < L->T; t++) {
        inputs[t] = w[t];
        targets[t] = w[t + 1];
    }
}

void loader_next_batch(DataLoader *L, int32_t *inputs, int32_t *targets) {
    // Window starts are uniform in [0, num_tokens - T - 1]; 64-bit rejection
    // sampling keeps them unbiased for shards of any size.
    uint64_t range = L->header.num_tokens - (uint64_t)L->T;  // number of valid starts
    uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    for (int b = 0; b < L->B; b++) {
        uint64_t x;
        do x = rng_u64(&L->rng);
        while (x >= limit);
        copy_window(L, x % range, inputs + (size_t)b * L->T, targets + (size_t)b * L->T);
    }
}

void loader_eval_reset(DataLoader *L) { L->eval_pos = 0; }

uint64_t loader_eval_windows(const DataLoader *L) {
    return (L->header.num_tokens - 1) / (uint64_t)L->T;
}

int loader_eval_next(DataLoader *L, int32_t *inputs, int32_t *targets) {
    int filled = 0;
    while (filled < L->B && L->eval_pos + (uint64_t)L->T + 1 <= L->header.num_tokens) {
        copy_window(L, L->eval_pos, inputs + (size_t)filled * L->T, targets + (size_t)filled * L->T);
        L->eval_pos += (uint64_t)L->T;
        filled++;
    }
    return filled;
}

void loader_get_state(const DataLoader *L, uint64_t state[4]) { memcpy(state, L->rng.s, sizeof L->rng.s); }
void loader_set_state(DataLoader *L, const uint64_t state[4]) { memcpy(L->rng.s, state, sizeof L->rng.s); }
uint64_t loader_num_tokens(const DataLoader *L) { return L->header.num_tokens; }
uint64_t loader_tokenizer_hash(const DataLoader *L) { return L->header.tokenizer_hash; }
int loader_vocab_size(const DataLoader *L) { return (int)L->header.vocab_size; }

void loader_close(DataLoader *L) {
    free(L->tokens);
    L->tokens = NULL;
}
