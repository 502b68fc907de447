// tokenizer_internal.h: what tokenizer.c shares with tokenizer_train.c.
// Not part of the public API.
#ifndef TB_TOKENIZER_INTERNAL_H
#define TB_TOKENIZER_INTERNAL_H

#include "tokenizer.h"

// A merge segment holds at most this many tokens before merging: it ends
// after a bar line or a newline, or once it reaches TOK_SEGMENT_SOFT_MAX
// tokens. The cap keeps encoding linear on pathological input (a 200 KB line
// without bar lines) and is applied identically when learning merges.
#define TOK_SEGMENT_SOFT_MAX 64
#define TOK_SEGMENT_MAX (TOK_SEGMENT_SOFT_MAX + 48)
#define TOK_LEXEME_TABLE 4096  // open-addressing slots for lexeme lookup

struct Tokenizer {
    TokMode mode;
    int vocab_size;
    int num_lexemes;  // ids 257 .. 257+num_lexemes-1
    int num_merges;   // the ids after the lexemes
    uint32_t offset[TOK_VOCAB_ABC];  // token bytes: pool[offset[id] .. +length[id]]
    uint16_t length[TOK_VOCAB_ABC];
    uint16_t left[TOK_VOCAB_ABC], right[TOK_VOCAB_ABC];  // a merge's two parts
    char *pool;
    size_t pool_len, pool_cap;
    uint16_t lexeme_slot[TOK_LEXEME_TABLE];  // lexeme id or 0 (empty)
    uint16_t *pair_merge;  // (V, V): id of the merge of (a, b), or 0 if none
    uint64_t hash;
};

// Building blocks used by both the encoder and the trainer.
Tokenizer *tok_alloc(TokMode mode);
int tok_add_lexeme(Tokenizer *tok, const char *bytes, int len);
int tok_add_merge(Tokenizer *tok, int a, int b);
void tok_finish(Tokenizer *tok);  // computes the hash

// Calls emit(segment, n, ctx) for each merge segment of text, the segment
// holding the lexeme ids and byte fallbacks before any merge.
typedef void (*TokSegmentFn)(uint16_t *segment, int n, void *ctx);
void tok_segments(const Tokenizer *tok, const char *text, size_t len, TokSegmentFn emit, void *ctx);
// Applies the tokenizer's merges to one segment in place; returns the new length.
int tok_merge_segment(const Tokenizer *tok, uint16_t *segment, int n);

#endif
