// tokenizer_train.c: learning the music-aware vocabulary.
//
// 1. Lexemes. Lex every training text and count each distinct lexeme of two
//    or more bytes. The most frequent ones (seen at least min_lexeme_count
//    times, at most max_lexemes of them) become tokens, in order of
//    frequency. Rarer lexemes stay as bytes.
// 2. Segments. Cut every text into merge segments (tokenizer.c, never across
//    a bar line or a newline) and keep each distinct segment once, with its
//    count: bars repeat a lot, so this shrinks the work several times.
// 3. Merges. Repeatedly join the most frequent adjacent pair of tokens
//    (ties: the smallest pair (a, b)), every occurrence left to right, until
//    the vocabulary holds TOK_VOCAB_ABC tokens. Pair counts are kept in a
//    dense (V, V) table and updated incrementally: only the segments that
//    hold the chosen pair are recounted.
#include <stdlib.h>
#include <string.h>

#include "abc_lexer.h"
#include "lib/common.h"
#include "tokenizer_internal.h"

// ---------------------------------------------------------------- lexeme counts

typedef struct {
    uint64_t hash;
    uint32_t offset;  // in the key arena
    uint16_t len;
    uint64_t count;
} CountEntry;

typedef struct {
    CountEntry *slots;
    size_t cap, used;
    char *arena;
    size_t arena_len, arena_cap;
} CountMap;

static void countmap_init(CountMap *m, size_t cap) {
    m->cap = cap;
    m->used = 0;
    m->slots = tb_calloc(cap, sizeof *m->slots);
    m->arena_cap = 1 << 16;
    m->arena_len = 0;
    m->arena = tb_malloc(m->arena_cap);
}

static void countmap_free(CountMap *m) {
    free(m->slots);
    free(m->arena);
}

static void countmap_grow(CountMap *m);

static void countmap_add(CountMap *m, const void *key, size_t len, uint64_t count) {
    if (2 * (m->used + 1) > m->cap) countmap_grow(m);
    uint64_t h = tb_hash64(key, len, TB_HASH64_SEED) | 1;  // 0 marks an empty slot
    size_t slot = h & (m->cap - 1);
    for (;;) {
        CountEntry *e = &m->slots[slot];
        if (e->hash == 0) {
            if (m->arena_len + len > m->arena_cap) {
                while (m->arena_len + len > m->arena_cap) m->arena_cap *= 2;
                m->arena = realloc(m->arena, m->arena_cap);
                if (!m->arena) tb_die("out of memory counting lexemes");
            }
            memcpy(m->arena + m->arena_len, key, len);
            e->hash = h;
            e->offset = (uint32_t)m->arena_len;
            e->len = (uint16_t)len;
            e->count = count;
            m->arena_len += len;
            m->used++;
            return;
        }
        if (e->hash == h && e->len == len && memcmp(m->arena + e->offset, key, len) == 0) {
            e->count += count;
            return;
        }
        slot = (slot + 1) & (m->cap - 1);
    }
}

static void countmap_grow(CountMap *m) {
    CountEntry *old = m->slots;
    size_t old_cap = m->cap;
    m->cap *= 2;
    m->slots = tb_calloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].hash) continue;
        size_t slot = old[i].hash & (m->cap - 1);
        while (m->slots[slot].hash) slot = (slot + 1) & (m->cap - 1);
        m->slots[slot] = old[i];
    }
    free(old);
}

static const CountMap *sort_map;  // qsort has no context argument

static int compare_by_count(const void *pa, const void *pb) {
    const CountEntry *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    int n = a->len < b->len ? a->len : b->len;
    int c = memcmp(sort_map->arena + a->offset, sort_map->arena + b->offset, (size_t)n);
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int compare_by_offset(const void *pa, const void *pb) {
    const CountEntry *a = pa, *b = pb;
    return (a->offset > b->offset) - (a->offset < b->offset);
}

// ---------------------------------------------------------------- segments

typedef struct {
    CountMap map;  // distinct segments (as uint16 byte strings) and counts
} SegmentCollector;

static void collect_segment(uint16_t *seg, int n, void *ctx) {
    SegmentCollector *sc = ctx;
    countmap_add(&sc->map, seg, (size_t)n * sizeof(uint16_t), 1);
}

typedef struct {
    uint16_t *ids;      // all distinct segments, back to back
    uint32_t *start;    // (num,)
    uint16_t *len;      // (num,), shrinks as merges apply
    uint64_t *count;    // (num,)
    size_t num;
} Segments;

static void add_pairs(int64_t *pairs, const uint16_t *seg, int n, int64_t weight) {
    for (int i = 0; i + 1 < n; i++) pairs[(size_t)seg[i] * TOK_VOCAB_ABC + seg[i + 1]] += weight;
}

// ---------------------------------------------------------------- training

Tokenizer *tok_train(const TokTrainArgs *args) {
    int min_count = args->min_lexeme_count > 0 ? args->min_lexeme_count : 8;
    int max_lexemes = args->max_lexemes > 0 ? args->max_lexemes : 256;
    int room = TOK_VOCAB_ABC - (TOK_EOT_ID + 1);
    if (max_lexemes > room) max_lexemes = room;

    // 1. Lexeme counts.
    CountMap lexemes;
    countmap_init(&lexemes, 1 << 14);
    for (size_t t = 0; t < args->count; t++) {
        AbcLexer lx;
        AbcLexeme lex;
        abc_lexer_init(&lx, args->texts[t], args->lens[t]);
        while (abc_lex_next(&lx, &lex))
            if (lex.len >= 2) countmap_add(&lexemes, args->texts[t] + lex.start, (size_t)lex.len, 1);
    }
    CountEntry *sorted = tb_malloc((lexemes.used + 1) * sizeof *sorted);
    size_t num_sorted = 0;
    for (size_t i = 0; i < lexemes.cap; i++)
        if (lexemes.slots[i].hash) sorted[num_sorted++] = lexemes.slots[i];
    sort_map = &lexemes;
    qsort(sorted, num_sorted, sizeof *sorted, compare_by_count);
    sort_map = NULL;

    Tokenizer *tok = tok_alloc(TOK_MODE_ABC);
    for (size_t i = 0; i < num_sorted && tok->num_lexemes < max_lexemes; i++) {
        if (sorted[i].count < (uint64_t)min_count) break;
        tok_add_lexeme(tok, lexemes.arena + sorted[i].offset, sorted[i].len);
    }
    free(sorted);
    countmap_free(&lexemes);

    // 2. Distinct segments.
    SegmentCollector sc;
    countmap_init(&sc.map, 1 << 16);
    for (size_t t = 0; t < args->count; t++)
        tok_segments(tok, args->texts[t], args->lens[t], collect_segment, &sc);
    Segments segs;
    segs.num = sc.map.used;
    segs.ids = tb_malloc(sc.map.arena_len + 2);
    segs.start = tb_malloc((segs.num + 1) * sizeof *segs.start);
    segs.len = tb_malloc((segs.num + 1) * sizeof *segs.len);
    segs.count = tb_malloc((segs.num + 1) * sizeof *segs.count);
    // Keep the segments in order of first appearance (their arena offsets),
    // which does not depend on the hash table's layout.
    memcpy(segs.ids, sc.map.arena, sc.map.arena_len);
    CountEntry *by_offset = tb_malloc((segs.num + 1) * sizeof *by_offset);
    size_t k = 0;
    for (size_t i = 0; i < sc.map.cap; i++)
        if (sc.map.slots[i].hash) by_offset[k++] = sc.map.slots[i];
    qsort(by_offset, k, sizeof *by_offset, compare_by_offset);
    for (size_t i = 0; i < k; i++) {
        segs.start[i] = by_offset[i].offset / (uint32_t)sizeof(uint16_t);
        segs.len[i] = (uint16_t)(by_offset[i].len / sizeof(uint16_t));
        segs.count[i] = by_offset[i].count;
    }
    free(by_offset);
    countmap_free(&sc.map);

    // 3. Merges.
    int64_t *pairs = tb_calloc((size_t)TOK_VOCAB_ABC * TOK_VOCAB_ABC, sizeof *pairs);
    for (size_t s = 0; s < segs.num; s++)
        add_pairs(pairs, segs.ids + segs.start[s], segs.len[s], (int64_t)segs.count[s]);
    while (tok->vocab_size < TOK_VOCAB_ABC) {
        int64_t best = 0;
        size_t best_pair = 0;
        size_t limit = (size_t)tok->vocab_size * TOK_VOCAB_ABC;
        for (size_t p = 0; p < limit; p++)
            if (pairs[p] > best) best = pairs[p], best_pair = p;
        if (best < 1) {
            tb_error("tokenizer training: the training texts have too few distinct pairs to fill "
                     "%d tokens (reached %d); give it more text",
                     TOK_VOCAB_ABC, tok->vocab_size);
            tok_free(tok);
            tok = NULL;
            break;
        }
        int a = (int)(best_pair / TOK_VOCAB_ABC), b = (int)(best_pair % TOK_VOCAB_ABC);
        int merged = tok_add_merge(tok, a, b);
        for (size_t s = 0; s < segs.num; s++) {
            uint16_t *seg = segs.ids + segs.start[s];
            int n = segs.len[s];
            int found = 0;
            for (int i = 0; i + 1 < n; i++)
                if (seg[i] == a && seg[i + 1] == b) {
                    found = 1;
                    break;
                }
            if (!found) continue;
            int64_t w = (int64_t)segs.count[s];
            add_pairs(pairs, seg, n, -w);
            int j = 0;
            for (int i = 0; i < n;) {
                if (i + 1 < n && seg[i] == a && seg[i + 1] == b) {
                    seg[j++] = (uint16_t)merged;
                    i += 2;
                } else {
                    seg[j++] = seg[i++];
                }
            }
            segs.len[s] = (uint16_t)j;
            add_pairs(pairs, seg, j, w);
        }
    }
    free(pairs);
    free(segs.ids);
    free(segs.start);
    free(segs.len);
    free(segs.count);
    if (tok) tok_finish(tok);
    return tok;
}
