// shards.h: token shards on disk and the DataLoader that serves them.
//
// A shard is one file: a 64-byte little-endian header, then num_tokens
// uint16 tokens. Tunes are stored one after another, each followed by the
// end-of-tune token.
//
//   offset  size  field
//        0     8  magic "TBSHARD1"
//        8     4  version (SHARD_VERSION)
//       12     4  vocab size
//       16     8  number of tokens
//       24     8  tokenizer hash (tok_hash of the vocabulary that made it)
//       32     4  end-of-tune id
//       36     4  number of tunes
//       40    24  reserved, zero
//
// The loader reads the whole shard, validates the header, the file size
// and every token against the vocabulary size, and serves
//   - training batches: B random windows of T+1 tokens, drawn from its own
//     xoshiro256** generator seeded once, so the batch sequence depends only
//     on the seed; the generator's four words are the loader state, saved in
//     checkpoints for bit-identical resume;
//   - evaluation batches: sequential windows that start T tokens apart, so
//     every token after the first is a target exactly once; a final stretch
//     shorter than T+1 tokens is not served.
#ifndef TB_SHARDS_H
#define TB_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/common.h"

#define SHARD_MAGIC "TBSHARD1"
#define SHARD_VERSION 1u
#define SHARD_HEADER_BYTES 64

typedef struct {
    uint32_t version;
    uint32_t vocab_size;
    uint64_t num_tokens;
    uint64_t tokenizer_hash;
    uint32_t eot_id;
    uint32_t num_tunes;
} ShardHeader;

// Writes a shard atomically (temporary file, then rename).
int shard_write(const char *path, const ShardHeader *header, const uint16_t *tokens);
// Reads and validates only the header (and that the file size matches it).
int shard_read_header(const char *path, ShardHeader *header);
// Reads a whole shard: validates header, size and token range. *tokens is
// malloc'ed (free it). Errors name the file and say what is wrong.
int shard_read(const char *path, ShardHeader *header, uint16_t **tokens);

// ---------------------------------------------------------------- the manifest

// What corpus_verify_file found.
typedef enum {
    CORPUS_VERIFIED,     // size and hash match the manifest
    CORPUS_NO_MANIFEST,  // no manifest.json beside the file, or it does not list the file
} CorpusVerify;

// Checks a corpus file (train.bin, val.bin, vocab.tok) against the
// manifest.json that `make data` wrote beside it: the file's size and FNV-1a
// hash must be those of the manifest's "outputs" entry. Returns
// CORPUS_VERIFIED or CORPUS_NO_MANIFEST, or -1 with an error naming the file,
// both hashes and the fix when the file changed since (or the manifest is
// unreadable). Costs one read of the file.
int corpus_verify_file(const char *path);

// ---------------------------------------------------------------- the loader

typedef struct {
    char path[1024];
    ShardHeader header;
    uint16_t *tokens;     // (num_tokens,)
    int B, T;
    Rng rng;              // training windows; its state is the loader state
    uint64_t eval_pos;    // start of the next evaluation window
} DataLoader;

// Opens a shard for (B, T+1) windows. Fails (tb_error) when the shard is
// invalid or holds fewer than T+1 tokens.
int loader_open(DataLoader *L, const char *shard_path, int B, int T, uint64_t seed);
// Also checks that the shard was made by the tokenizer with this hash and
// that its header's vocabulary size is the tokenizer's.
int loader_check_tokenizer(const DataLoader *L, uint64_t tokenizer_hash, int vocab_size);
// inputs and targets are (B, T). Row b is the window tokens[s .. s+T] for a
// random start s: inputs[b][t] = tokens[s+t], targets[b][t] = tokens[s+t+1].
void loader_next_batch(DataLoader *L, int32_t *inputs, int32_t *targets);
// Sequential evaluation windows. loader_eval_next fills up to B windows
// (rows of inputs/targets, (B, T)) and returns how many it filled; 0 when
// the shard is exhausted. Rows past the returned count are left untouched.
void loader_eval_reset(DataLoader *L);
int loader_eval_next(DataLoader *L, int32_t *inputs, int32_t *targets);
// How many evaluation windows the shard holds in all.
uint64_t loader_eval_windows(const DataLoader *L);
// The training generator state, for checkpoints.
void loader_get_state(const DataLoader *L, uint64_t state[4]);
void loader_set_state(DataLoader *L, const uint64_t state[4]);
uint64_t loader_num_tokens(const DataLoader *L);
uint64_t loader_tokenizer_hash(const DataLoader *L);
int loader_vocab_size(const DataLoader *L);
void loader_close(DataLoader *L);

#endif
