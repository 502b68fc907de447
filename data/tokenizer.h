// tokenizer.h: the shared ABC tokenizer (every model uses it).
//
// Two modes, one file format:
//   - "abc" (the default, music-aware): 1024 tokens. Ids 0..255 are the raw
//     bytes (the fallback that makes every input encodable), 256 is the
//     end-of-tune token, then the frequent ABC lexemes (a note with its
//     accidental, octave marks and length, a bar line, a chord bracket, a
//     header field...), then merges of two adjacent tokens learned on the
//     training split. Merges never cross a bar line or a newline, so a token
//     is a note, a group of notes or a bar pattern.
//   - "bytes" (the baseline): 257 tokens, the 256 bytes and end-of-tune.
//
// Lossless: tok_decode(tok_encode(x)) == x byte for byte, for every input,
// valid ABC or not. The end-of-tune token is never produced by tok_encode; it
// separates tunes in the shards, and decodes to "\n" (so a decoded shard
// reads as ABC tunes separated by blank lines). Its byte length is 1, which
// is what bits-per-byte counts for it.
//
// The vocabulary is a versioned binary file (see tokenizer.c for the layout)
// with a checksum; tok_hash() identifies it and is stored in every shard
// header, so a shard and a vocabulary that do not belong together are caught.
#ifndef TB_TOKENIZER_H
#define TB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define TOK_VOCAB_ABC 1024   // size of the music-aware vocabulary
#define TOK_VOCAB_BYTES 257  // size of the byte-level vocabulary
#define TOK_EOT_ID 256       // end-of-tune, in both modes

typedef struct Tokenizer Tokenizer;

typedef enum { TOK_MODE_BYTES = 0, TOK_MODE_ABC = 1 } TokMode;

// ---------------------------------------------------------------- loading
// Loads a vocabulary file. NULL + tb_error (naming the file and the problem)
// when it is missing, truncated, foreign, of another version, or corrupt.
Tokenizer *tok_load(const char *path);
// The byte-level tokenizer needs no file.
Tokenizer *tok_new_bytes(void);
int tok_save(const Tokenizer *tok, const char *path);  // atomic write
void tok_free(Tokenizer *tok);

int tok_vocab_size(const Tokenizer *tok);
int tok_eot_id(const Tokenizer *tok);
TokMode tok_mode(const Tokenizer *tok);
// Identity of the vocabulary (FNV-1a over its canonical content).
uint64_t tok_hash(const Tokenizer *tok);

// ---------------------------------------------------------------- tokens
// Byte length of token `id` when decoded; the end-of-tune token counts as 1.
// Returns 0 for an id outside the vocabulary.
int tok_token_bytes(const Tokenizer *tok, int id);
// The bytes of token `id` (not NUL-terminated; *len receives the length).
// NULL for an id outside the vocabulary.
const char *tok_token_text(const Tokenizer *tok, int id, int *len);

// ---------------------------------------------------------------- encode
// Encodes text[0..len) (any bytes, NULs included). Writes at most `cap`
// tokens to `out` and returns the total number of tokens the text needs, so
// a caller can size the buffer (the count never exceeds len: cap = len is
// always enough). Never allocates per byte; thread-safe on a shared
// Tokenizer.
size_t tok_encode(const Tokenizer *tok, const char *text, size_t len, uint16_t *out, size_t cap);

// ---------------------------------------------------------------- decode
// Decodes ids into out (at most cap bytes, not NUL-terminated) and returns
// the total number of bytes the ids decode to. Returns (size_t)-1 and sets
// the error when an id is outside [0, vocab size).
size_t tok_decode(const Tokenizer *tok, const int32_t *ids, size_t n, char *out, size_t cap);
size_t tok_decode_u16(const Tokenizer *tok, const uint16_t *ids, size_t n, char *out, size_t cap);

// ---------------------------------------------------------------- training
// Learns a music-aware vocabulary of exactly TOK_VOCAB_ABC tokens from the
// given texts (the training split; tunes are separate texts so nothing
// is learned across them). Deterministic. Returns NULL + tb_error when the
// texts are too small to fill the vocabulary.
typedef struct {
    const char *const *texts;
    const size_t *lens;
    size_t count;
    int min_lexeme_count;  // a lexeme seen fewer times stays bytes (0: default 8)
    int max_lexemes;       // cap on lexeme tokens; the rest are merges (0: default)
} TokTrainArgs;
Tokenizer *tok_train(const TokTrainArgs *args);

// How many of the tokens are lexemes and merges (0 and 0 for bytes mode).
void tok_counts(const Tokenizer *tok, int *lexemes, int *merges);

#endif
