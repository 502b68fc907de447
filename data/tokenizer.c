// tokenizer.c: the shared ABC tokenizer: vocabulary files, encode, decode.
//
// Encoding, in three steps, all without allocation:
//   1. the ABC lexer (abc_lexer.c) splits the text into lexemes;
//   2. each lexeme becomes its lexeme token if the vocabulary has one, or
//      else its bytes (byte fallback: this is what makes every input
//      encodable and the round trip lossless);
//   3. the ids are grouped into merge segments (a segment ends after a bar
//      line, a newline, or at a size cap) and the learned merges are
//      applied inside each segment, lowest merge id first, every occurrence
//      left to right, exactly as they were learned (tokenizer_train.c).
// A merge id is always larger than the ids it joins, so "lowest id first"
// is the order in which the merges were learned.
//
// Vocabulary file, little-endian:
//   "TBTOKEN1" | u32 version | u32 mode | u32 vocab size | u32 eot id
//   | u32 lexemes | u32 merges
//   | per lexeme: u8 length, bytes | per merge: u16 left, u16 right
//   | u64 FNV-1a of everything before it (also the tokenizer hash)
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

#include "abc_lexer.h"
#include "lib/common.h"

#define TOK_FILE_MAGIC "TBTOKEN1"
#define TOK_FILE_VERSION 1u

// ---------------------------------------------------------------- building

static void pool_append(Tokenizer *tok, int id, const char *bytes, int len) {
    if (tok->pool_len + (size_t)len > tok->pool_cap) {
        tok->pool_cap = (tok->pool_cap + (size_t)len) * 2;
        tok->pool = realloc(tok->pool, tok->pool_cap);
        if (!tok->pool) tb_die("out of memory growing the tokenizer");
    }
    memcpy(tok->pool + tok->pool_len, bytes, (size_t)len);
    tok->offset[id] = (uint32_t)tok->pool_len;
    tok->length[id] = (uint16_t)len;
    tok->pool_len += (size_t)len;
}

Tokenizer *tok_alloc(TokMode mode) {
    Tokenizer *tok = tb_calloc(1, sizeof *tok);
    tok->mode = mode;
    tok->pool_cap = 1 << 14;
    tok->pool = tb_malloc(tok->pool_cap);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        pool_append(tok, b, &c, 1);
    }
    pool_append(tok, TOK_EOT_ID, "\n", 1);
    tok->vocab_size = TOK_EOT_ID + 1;
    if (mode == TOK_MODE_ABC)
        tok->pair_merge = tb_calloc((size_t)TOK_VOCAB_ABC * TOK_VOCAB_ABC, sizeof(uint16_t));
    return tok;
}

static uint32_t lexeme_hash(const char *bytes, int len) {
    return (uint32_t)tb_hash64(bytes, (size_t)len, TB_HASH64_SEED);
}

static int lexeme_lookup(const Tokenizer *tok, const char *bytes, int len) {
    uint32_t slot = lexeme_hash(bytes, len) & (TOK_LEXEME_TABLE - 1);
    for (;;) {
        int id = tok->lexeme_slot[slot];
        if (id == 0) return -1;
        if (tok->length[id] == len && memcmp(tok->pool + tok->offset[id], bytes, (size_t)len) == 0)
            return id;
        slot = (slot + 1) & (TOK_LEXEME_TABLE - 1);
    }
}

int tok_add_lexeme(Tokenizer *tok, const char *bytes, int len) {
    if (tok->mode != TOK_MODE_ABC || tok->num_merges > 0)
        return tb_error("tokenizer: lexemes must come before merges");
    if (tok->vocab_size >= TOK_VOCAB_ABC) return tb_error("tokenizer: vocabulary is full");
    if (len < 2 || len > ABC_LEXEME_MAX)
        return tb_error("tokenizer: lexeme of %d bytes (must be 2..%d)", len, ABC_LEXEME_MAX);
    if (lexeme_lookup(tok, bytes, len) >= 0) return tb_error("tokenizer: duplicate lexeme");
    int id = tok->vocab_size++;
    pool_append(tok, id, bytes, len);
    uint32_t slot = lexeme_hash(bytes, len) & (TOK_LEXEME_TABLE - 1);
    while (tok->lexeme_slot[slot]) slot = (slot + 1) & (TOK_LEXEME_TABLE - 1);
    tok->lexeme_slot[slot] = (uint16_t)id;
    tok->num_lexemes++;
    return id;
}

int tok_add_merge(Tokenizer *tok, int a, int b) {
    if (tok->mode != TOK_MODE_ABC) return tb_error("tokenizer: merges need the abc mode");
    if (tok->vocab_size >= TOK_VOCAB_ABC) return tb_error("tokenizer: vocabulary is full");
    if (a < 0 || b < 0 || a >= tok->vocab_size || b >= tok->vocab_size || a == TOK_EOT_ID ||
        b == TOK_EOT_ID)
        return tb_error("tokenizer: merge of invalid ids %d and %d", a, b);
    size_t pair = (size_t)a * TOK_VOCAB_ABC + (size_t)b;
    if (tok->pair_merge[pair]) return tb_error("tokenizer: duplicate merge %d %d", a, b);
    if ((size_t)tok->length[a] + tok->length[b] > 0xffff) return tb_error("tokenizer: merge too long");
    int id = tok->vocab_size++;
    int len = tok->length[a] + tok->length[b];
    char buf[0x10000];
    memcpy(buf, tok->pool + tok->offset[a], tok->length[a]);
    memcpy(buf + tok->length[a], tok->pool + tok->offset[b], tok->length[b]);
    pool_append(tok, id, buf, len);
    tok->left[id] = (uint16_t)a;
    tok->right[id] = (uint16_t)b;
    tok->pair_merge[pair] = (uint16_t)id;
    tok->num_merges++;
    return id;
}

// Serialises the vocabulary (without the trailing checksum) into buf, or
// returns the size needed when buf is NULL.
static size_t tok_serialize(const Tokenizer *tok, unsigned char *buf) {
    size_t n = 0;
#define PUT(ptr, size)                            \
    do {                                          \
        if (buf) memcpy(buf + n, (ptr), (size));  \
        n += (size);                              \
    } while (0)
    uint32_t header[6] = {TOK_FILE_VERSION, (uint32_t)tok->mode, (uint32_t)tok->vocab_size,
                          TOK_EOT_ID, (uint32_t)tok->num_lexemes, (uint32_t)tok->num_merges};
    PUT(TOK_FILE_MAGIC, 8);
    PUT(header, sizeof header);
    for (int i = 0; i < tok->num_lexemes; i++) {
        int id = TOK_EOT_ID + 1 + i;
        uint8_t len = (uint8_t)tok->length[id];
        PUT(&len, 1);
        PUT(tok->pool + tok->offset[id], len);
    }
    for (int i = 0; i < tok->num_merges; i++) {
        int id = TOK_EOT_ID + 1 + tok->num_lexemes + i;
        uint16_t pair[2] = {tok->left[id], tok->right[id]};
        PUT(pair, sizeof pair);
    }
#undef PUT
    return n;
}

void tok_finish(Tokenizer *tok) {
    size_t n = tok_serialize(tok, NULL);
    unsigned char *buf = tb_malloc(n);
    tok_serialize(tok, buf);
    tok->hash = tb_hash64(buf, n, TB_HASH64_SEED);
    free(buf);
}

Tokenizer *tok_new_bytes(void) {
    Tokenizer *tok = tok_alloc(TOK_MODE_BYTES);
    tok_finish(tok);
    return tok;
}

void tok_free(Tokenizer *tok) {
    if (!tok) return;
    free(tok->pool);
    free(tok->pair_merge);
    free(tok);
}

// ---------------------------------------------------------------- files

int tok_save(const Tokenizer *tok, const char *path) {
    size_t n = tok_serialize(tok, NULL);
    unsigned char *buf = tb_malloc(n + 8);
    tok_serialize(tok, buf);
    uint64_t hash = tb_hash64(buf, n, TB_HASH64_SEED);
    memcpy(buf + n, &hash, 8);
    int rc = tb_write_file_atomic(path, buf, n + 8);
    free(buf);
    return rc;
}

static uint32_t read_u32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

Tokenizer *tok_load(const char *path) {
    size_t n = 0;
    unsigned char *buf = (unsigned char *)tb_read_file(path, &n);
    if (!buf) return NULL;
    Tokenizer *tok = NULL;
    const char *why = NULL;
    if (n < 8 + 24 + 8 || memcmp(buf, TOK_FILE_MAGIC, 8) != 0) {
        why = "not a tunebench vocabulary file (bad magic or too short)";
        goto fail;
    }
    uint32_t version = read_u32(buf + 8), mode = read_u32(buf + 12), vocab = read_u32(buf + 16);
    uint32_t eot = read_u32(buf + 20), lexemes = read_u32(buf + 24), merges = read_u32(buf + 28);
    if (version != TOK_FILE_VERSION) {
        tb_error("vocabulary %s has version %u, this build reads version %u: rebuild it with "
                 "'make data'",
                 path, version, TOK_FILE_VERSION);
        free(buf);
        return NULL;
    }
    uint64_t stored;
    memcpy(&stored, buf + n - 8, 8);
    if (tb_hash64(buf, n - 8, TB_HASH64_SEED) != stored) {
        why = "checksum mismatch (truncated or corrupt)";
        goto fail;
    }
    if (eot != TOK_EOT_ID || (mode != TOK_MODE_BYTES && mode != TOK_MODE_ABC) ||
        vocab != TOK_EOT_ID + 1 + lexemes + merges ||
        (mode == TOK_MODE_BYTES && vocab != TOK_VOCAB_BYTES) ||
        (mode == TOK_MODE_ABC && vocab > TOK_VOCAB_ABC)) {
        why = "inconsistent header";
        goto fail;
    }
    tok = tok_alloc((TokMode)mode);
    size_t pos = 32;
    for (uint32_t i = 0; i < lexemes; i++) {
        if (pos + 1 > n - 8 || pos + 1 + buf[pos] > n - 8) {
            why = "truncated lexeme table";
            goto fail;
        }
        int len = buf[pos];
        if (tok_add_lexeme(tok, (const char *)buf + pos + 1, len) < 0) {
            why = "invalid lexeme table";
            goto fail;
        }
        pos += 1 + (size_t)len;
    }
    for (uint32_t i = 0; i < merges; i++) {
        if (pos + 4 > n - 8) {
            why = "truncated merge table";
            goto fail;
        }
        uint16_t pair[2];
        memcpy(pair, buf + pos, 4);
        // A merge may only join earlier tokens: that is what makes the merge
        // order (lowest id first) well defined.
        if (tok_add_merge(tok, pair[0], pair[1]) < 0) {
            why = "invalid merge table";
            goto fail;
        }
        pos += 4;
    }
    if (pos != n - 8) {
        why = "trailing bytes after the merge table";
        goto fail;
    }
    free(buf);
    tok_finish(tok);
    return tok;
fail:
    tb_error("cannot load vocabulary %s: %s; rebuild it with 'make data'", path, why);
    tok_free(tok);
    free(buf);
    return NULL;
}

// ---------------------------------------------------------------- queries

int tok_vocab_size(const Tokenizer *tok) { return tok->vocab_size; }
int tok_eot_id(const Tokenizer *tok) { (void)tok; return TOK_EOT_ID; }
TokMode tok_mode(const Tokenizer *tok) { return tok->mode; }
uint64_t tok_hash(const Tokenizer *tok) { return tok->hash; }

void tok_counts(const Tokenizer *tok, int *lexemes, int *merges) {
    if (lexemes) *lexemes = tok->num_lexemes;
    if (merges) *merges = tok->num_merges;
}

int tok_token_bytes(const Tokenizer *tok, int id) {
    if (id < 0 || id >= tok->vocab_size) return 0;
    return tok->length[id];
}

const char *tok_token_text(const Tokenizer *tok, int id, int *len) {
    if (id < 0 || id >= tok->vocab_size) return NULL;
    if (len) *len = tok->length[id];
    return tok->pool + tok->offset[id];
}

// ---------------------------------------------------------------- encode

// The merge ranks of adjacent pairs are looked up once and then only around
// each merge, so a segment of n tokens costs n + 2 * merges table lookups.
// Merging the leftmost occurrence of the lowest-ranked pair, one at a time,
// gives the same result as merging every occurrence left to right (a new
// pair that contains the merged token always ranks higher than it).
int tok_merge_segment(const Tokenizer *tok, uint16_t *seg, int n) {
    const uint16_t *pair_merge = tok->pair_merge;
    uint16_t rank[TOK_SEGMENT_MAX];  // rank[i]: merge id of (seg[i], seg[i+1]), 0xffff if none
    if (n > TOK_SEGMENT_MAX) n = TOK_SEGMENT_MAX;  // never: segments are capped when built
    for (int i = 0; i + 1 < n; i++) {
        uint16_t m = pair_merge[(size_t)seg[i] * TOK_VOCAB_ABC + seg[i + 1]];
        rank[i] = m ? m : 0xffff;
    }
    while (n >= 2) {
        int at = 0;
        for (int i = 1; i + 1 < n; i++)
            if (rank[i] < rank[at]) at = i;
        if (rank[at] == 0xffff) break;
        seg[at] = rank[at];
        memmove(seg + at + 1, seg + at + 2, (size_t)(n - at - 2) * sizeof *seg);
        memmove(rank + at + 1, rank + at + 2, (size_t)(n > at + 3 ? n - at - 3 : 0) * sizeof *rank);
        n--;
        if (at > 0) {
            uint16_t m = pair_merge[(size_t)seg[at - 1] * TOK_VOCAB_ABC + seg[at]];
            rank[at - 1] = m ? m : 0xffff;
        }
        if (at + 1 < n) {
            uint16_t m = pair_merge[(size_t)seg[at] * TOK_VOCAB_ABC + seg[at + 1]];
            rank[at] = m ? m : 0xffff;
        }
    }
    return n;
}

void tok_segments(const Tokenizer *tok, const char *text, size_t len, TokSegmentFn emit, void *ctx) {
    uint16_t seg[TOK_SEGMENT_MAX];
    int n = 0;
    AbcLexer lx;
    AbcLexeme lex;
    abc_lexer_init(&lx, text, len);
    while (abc_lex_next(&lx, &lex)) {
        const char *bytes = text + lex.start;
        int id = lex.len >= 2 ? lexeme_lookup(tok, bytes, lex.len) : -1;
        if (id >= 0) {
            seg[n++] = (uint16_t)id;
        } else {
            for (int i = 0; i < lex.len; i++) seg[n++] = (unsigned char)bytes[i];
        }
        if (abc_lex_ends_segment(lex.kind) || n >= TOK_SEGMENT_SOFT_MAX) {
            emit(seg, n, ctx);
            n = 0;
        }
    }
    if (n > 0) emit(seg, n, ctx);
}

typedef struct {
    const Tokenizer *tok;
    uint16_t *out;
    size_t cap, count;
} EncodeState;

static void encode_segment(uint16_t *seg, int n, void *ctx) {
    EncodeState *st = ctx;
    n = tok_merge_segment(st->tok, seg, n);
    for (int i = 0; i < n; i++, st->count++)
        if (st->count < st->cap) st->out[st->count] = seg[i];
}

size_t tok_encode(const Tokenizer *tok, const char *text, size_t len, uint16_t *out, size_t cap) {
    if (tok->mode == TOK_MODE_BYTES) {
        size_t m = len < cap ? len : cap;
        for (size_t i = 0; i < m; i++) out[i] = (unsigned char)text[i];
        return len;
    }
    EncodeState st = {tok, out, cap, 0};
    tok_segments(tok, text, len, encode_segment, &st);
    return st.count;
}

// ---------------------------------------------------------------- decode

#define DEFINE_DECODE(name, id_type)                                                          \
    size_t name(const Tokenizer *tok, const id_type *ids, size_t n, char *out, size_t cap) { \
        size_t total = 0;                                                                     \
        for (size_t i = 0; i < n; i++) {                                                      \
            long id = (long)ids[i];                                                           \
            if (id < 0 || id >= tok->vocab_size) {                                            \
                tb_error("token id %ld at position %zu is outside the vocabulary [0, %d)", id, \
                         i, tok->vocab_size);                                                 \
                return (size_t)-1;                                                            \
            }                                                                                 \
            size_t len = tok->length[id];                                                     \
            if (total < cap) {                                                                \
                size_t fit = cap - total < len ? cap - total : len;                           \
                memcpy(out + total, tok->pool + tok->offset[id], fit);                        \
            }                                                                                 \
            total += len;                                                                     \
        }                                                                                     \
        return total;                                                                         \
    }
DEFINE_DECODE(tok_decode, int32_t)
DEFINE_DECODE(tok_decode_u16, uint16_t)
